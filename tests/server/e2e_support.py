"""Per-vendor facts the end-to-end tests need, computed from the seed independently of any
emulator or client."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import typer.main
from typer.testing import CliRunner, Result

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings


@dataclass(frozen=True)
class Vendor:
    name: str
    ref: Callable[[int], str]
    native: Callable[[int], Any]
    title_field: str
    list_idx: int
    list_ref: str
    list_native: Any

    def native_of(self, ref: str) -> Any:
        raw = ref.split(":", 2)[2]
        return int(raw) if self.name == "marketo" else raw


VENDORS = {
    "marketo": Vendor(
        "marketo", mk.lead_ref, mk.lead_id, "title", 3, mk.list_ref(3), mk.list_id(3)
    ),
    "hubspot": Vendor(
        "hubspot", hs.person_ref, hs.person_id, "jobtitle", 3, hs.list_ref(3), hs.list_id(3)
    ),
    "salesforce": Vendor(
        "salesforce", sf.person_ref, sf.person_id, "Title", 3, sf.list_ref(3), sf.list_id(3)
    ),
}


def subscribed_outside_list(list_idx: int, n: int, start: int = 0) -> list[int]:
    """Seed people who may be emailed and are not in the list: safe targets for adds."""
    data = seed_data()
    members = set(data.lists[list_idx].members)
    found = [
        p.idx
        for p in data.people[start:]
        if p.consent_status == "subscribed" and p.idx not in members and p.duplicate_of is None
    ]
    return found[:n]


@functools.cache
def _command() -> Any:
    """The full CLI as a click command, built once per process."""
    return typer.main.get_command(app)


def run_cli(args: Sequence[str]) -> Result:
    """``CliRunner().invoke(app, args)`` without its rebuilding the click command from the
    typer app on every call (~20 ms, most of what an approval costs a test): the same
    isolation, parsing and command, and the same ``Result``."""
    runner = CliRunner()
    command = _command()
    with runner.isolation() as (out, err, both):
        code: Any = 0
        exception: BaseException | None = None
        try:
            command.main(args=list(args), prog_name=runner.get_default_prog_name(command))
        except SystemExit as exit_:
            code = 0 if exit_.code is None else exit_.code
            exception = exit_ if code != 0 else None
            if not isinstance(code, int):
                sys.stdout.write(f"{code}\n")
                code = 1
        except Exception as exc:  # as CliRunner: the exit code says it, the test shows it
            code, exception = 1, exc
        sys.stdout.flush()
        sys.stderr.flush()
        outputs = (out.getvalue(), err.getvalue(), both.getvalue())
    return Result(runner, *outputs, None, code, exception)


def review(settings: Settings, *args: str) -> Result:
    where = ("--manifest", str(settings.manifest_path), "--home", str(settings.home))
    return run_cli(["review", *args, *where])


def approve(settings: Settings, change_id: str, reviewer: str = "mops-lead") -> None:
    result = review(settings, "approve", change_id, "--reviewer", reviewer)
    assert result.exit_code == 0, result.output


async def cancel_apply_once_written(client: Any, emulator: Any, args: dict[str, Any]) -> None:
    """Call ``apply_change`` with ``args`` and cancel the call once the vendor has performed
    its first write: the emulator then never answers it, as a client that gives up (or whose
    connection drops) with a batch in flight would see."""
    import anyio

    written = anyio.Event()

    async def hang_once_written() -> None:
        emulator.core.faults.after_write = None
        written.set()
        await anyio.sleep_forever()

    emulator.core.faults.after_write = hang_once_written
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.call_tool, "apply_change", args)
        await written.wait()
        tg.cancel_scope.cancel()
