"""An owner who leaves between the proposal and the apply is not handed the records.

Marketo accepts any sales person id, so its API would not stop it: apply re-checks that every
owner the plan writes is still active, and the change ends stale, naming the owner, with
nothing written."""

from __future__ import annotations

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.server.app import Runtime
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import approve
from tests.tools.test_owners import MAYA, NATIVE_OWNER, OWNER_REF, RUTH, WHY, owner_now
from tests.tools.test_reads_per_vendor import ok


async def test_apply_refuses_as_stale_when_the_new_owner_left(connect, runtime: Runtime, settings):
    name = "marketo"
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_reassign_owner",
            {
                "connector": name,
                "from_owner": OWNER_REF[name](RUTH),
                "to_owner": OWNER_REF[name](MAYA),
                "lifecycle_stage": "customer",
                "reason": WHY,
            },
        )
        approve(settings, plan["change_id"])
        state = runtime.connectors.emulator(name).state
        maya = next(p for p in state.sales_persons() if p["id"] == mk.owner_id(MAYA))
        state.add_sales_person({**maya, "isActive": False})  # Maya Chen leaves meanwhile
        done = await client.call_tool(
            "apply_change",
            {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
        )
        change = await ok(client, "get_change", {"change_id": plan["change_id"]})
    text = text_of(done)
    assert done.is_error and "stale" in text
    assert f"Maya Chen ({OWNER_REF[name](MAYA)}) is no longer an active owner" in text
    assert change["status"] == "stale"
    refs = [r["ref"] for r in plan["records"]]
    assert refs and {str(owner_now(runtime, name, r)) for r in refs} == {
        str(NATIVE_OWNER[name](RUTH))
    }
    rows = audit_rows(settings)
    row = [r for r in rows if r["change_id"] == plan["change_id"] and r["tool"] == "apply_change"][
        -1
    ]
    assert row["outcome"] != "ok"
    assert "Maya Chen" in (row["reason"] or "") + (row["result_summary"] or "")
