"""Whatever a client sends as a tool name and arguments, the pipeline answers or refuses — it
never raises — and writes exactly one audit row for the call."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.call_window import WindowCount
from mopsgate.governance.caller import Caller
from mopsgate.server.call_rate import CallRate
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.manifest_holder import ManifestHolder
from mopsgate.server.pipeline import Answered, Pipeline, Refused
from mopsgate.tools.registry import all_specs
from tests.properties.strategies import json_values

ROOT = Path(__file__).resolve().parents[2]
SPECS = all_specs()


class Sink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def append(self, event: AuditEvent, *, count_call: bool = False) -> Any:
        self.events.append(event)


class QuietWindows:
    async def count_calls(self, principal: str, now: float) -> WindowCount:
        return WindowCount(calls=0, oldest_second=None)

    async def count_calls_many(
        self, principals: Sequence[str], now: float
    ) -> dict[str, WindowCount]:
        return {p: WindowCount(calls=0, oldest_second=None) for p in principals}


class NoVendors:
    """Any call that gets as far as a vendor fails there, as an unreachable one would."""

    def get(self, name: str) -> Any:
        raise RuntimeError(f"no vendor {name} in this test")

    def environment(self, name: str) -> str:
        return "sandbox"


class Sinks:
    """The sink of the example running now: one pipeline (and one loaded manifest) serves every
    example, each of which gets a fresh sink to count its audit rows in."""

    def __init__(self) -> None:
        self.current = Sink()


_PIPELINES: dict[Path, tuple[Pipeline, Sinks]] = {}


def _pipeline(tmp: Path) -> tuple[Pipeline, Sinks]:
    if tmp in _PIPELINES:
        return _PIPELINES[tmp]
    manifest = tmp / "permissions.toml"
    if not manifest.exists():
        shutil.copy(ROOT / "permissions.toml", manifest)
    windows = QuietWindows()
    sinks = Sinks()
    pipeline = Pipeline(
        holder=ManifestHolder(manifest, build_catalogue()),
        specs=SPECS,
        audit=lambda: sinks.current,
        call_rate=CallRate(lambda: windows),
        connectors=NoVendors(),
        services=lambda: None,
    )
    _PIPELINES[tmp] = pipeline, sinks
    return pipeline, sinks


names = st.sampled_from(sorted(SPECS)) | st.text(max_size=40)
principals = st.sampled_from(["assistant", "analyst", "nobody"]) | st.none()
arguments = st.dictionaries(st.text(max_size=20), json_values, max_size=5) | json_values


@given(principals, names, arguments)
def test_any_call_is_answered_or_refused_with_one_audit_row(tmp_path_factory, who, name, args):
    pipeline, sinks = _pipeline(tmp_path_factory.getbasetemp())
    sink = sinks.current = Sink()
    outcome = asyncio.run(pipeline.call(Caller(who, "memory"), name, args))
    assert isinstance(outcome, Answered | Refused)
    assert len(sink.events) == 1
    event = sink.events[0]
    assert event.tool == name and event.principal == (who or "(unknown)")
    assert (event.outcome == "ok") == isinstance(outcome, Answered)
