"""Property tests: the functions that face untrusted input must hold on any input, not just on
the examples someone thought of. 200 examples each, no per-example deadline (the machine is
shared; pytest-timeout bounds the run)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mopsgate",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("mopsgate")
