"""Property tests: the functions that face untrusted input must hold on any input, not just on
the examples someone thought of. No per-example deadline (the machine is shared; pytest-timeout
bounds the run).

How many examples: ``make test`` runs 50 per property (profile ``mopsgate``), a new random draw
each run, so the suite's CPU goes to the rest of the tests; 200 each cost 9 s of a 2-core run.
For a deeper search, independent of ``make``, choose the ``thorough`` profile (1,000 each):

    HYPOTHESIS_PROFILE=thorough .venv/bin/pytest tests/properties
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mopsgate",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", settings.get_profile("mopsgate"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mopsgate"))
