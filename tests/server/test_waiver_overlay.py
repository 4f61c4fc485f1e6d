"""The exceptions laid over the manifest: in force from the grant, gone at the expiry to the
second without any write, re-read only when the CLI says something changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from mopsgate.governance.manifest_load import load_manifest, manifest_digest
from mopsgate.governance.policy import decide
from mopsgate.governance.reviewer_keys import new_private_key
from mopsgate.governance.waiver_statement import WaiverStatement, sign_waiver
from mopsgate.governance.waivers import Waiver
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.waiver_overlay import WaiverOverlay, touch_stamp

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
AT = "2026-12-01T09:00:00+00:00"


def waiver(what: str, expires: dt.datetime) -> Waiver:
    statement = WaiverStatement(
        action="grant", exception_id="exc_1", use_case="reporting", what=what,
        expires_at=AT, ticket="T-1", reason="audit", reviewer="mops-lead",
        manifest_digest="0" * 64, at=AT,
    )  # fmt: skip
    signed = sign_waiver(statement, new_private_key())
    return Waiver(
        "exc_1", "reporting", what, T0, expires, "mops-lead", "T-1", "audit", signed
    )  # fmt: skip


async def test_an_exception_lapses_at_its_expiry_without_any_write(tmp_path: Path) -> None:
    manifest = load_manifest(ROOT / "permissions.toml", build_catalogue())
    digest = manifest_digest(manifest)
    now = [T0]
    loads: list[int] = []
    stored = [waiver("tool:get_consent_state", T0 + dt.timedelta(hours=1))]

    async def load() -> Sequence[Waiver]:
        loads.append(1)
        return stored

    overlay = WaiverOverlay(tmp_path, load, clock=lambda: now[0])
    widened = await overlay.apply(manifest, digest)
    assert decide(widened, "analyst", "get_consent_state", "marketo", "lead").allowed
    assert not decide(manifest, "analyst", "get_consent_state", "marketo", "lead").allowed
    now[0] = T0 + dt.timedelta(minutes=59, seconds=59)
    assert await overlay.apply(manifest, digest) is widened
    now[0] = T0 + dt.timedelta(hours=1)
    lapsed = await overlay.apply(manifest, digest)
    assert not decide(lapsed, "analyst", "get_consent_state", "marketo", "lead").allowed
    assert len(loads) == 1  # expiry needed no read; only a touched stamp makes one
    touch_stamp(tmp_path)
    await overlay.apply(manifest, digest)
    assert len(loads) == 2
