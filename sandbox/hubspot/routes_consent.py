"""Communication preferences: an address's subscription status (v3) and the 2026-03 batch
unsubscribe-from-all (one version each, whatever family the client is configured for). HubSpot
keys subscription status by address."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import UNSUBSCRIBE_ALL_BATCH
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.hubspot import rules
from mopsgate.sandbox.hubspot.errors import BadInput, not_found, record_error
from mopsgate.sandbox.hubspot.state import PortalState, now_iso
from mopsgate.sandbox.hubspot.wire import batch_inputs, json_body

STATUS_V3 = "/communication-preferences/v3/status/email"


class ConsentRoutes:
    def __init__(self, state: PortalState, faults: Faults) -> None:
        self.state = state
        self.faults = faults

    async def status(self, request: Request) -> Response:
        """The one subscription the sandbox knows, "Marketing Information": not subscribed when
        any contact with the address opted out or none has a legal basis recorded."""
        address = request.path_params["email"]
        contacts = [self.state.contact(cid) for cid in self.state.ids_by_email(address)]
        found = [c for c in contacts if c is not None]
        if not found:
            return not_found(f"Recipient {address!r}")
        opted_out = any(c.props.get("hs_email_optout") == "true" for c in found)
        basis = any(c.props.get("hs_legal_basis") for c in found)
        subscribed = basis and not opted_out
        status = {
            "id": "1",
            "name": "Marketing Information",
            "description": "Marketing offers and updates.",
            "status": "SUBSCRIBED" if subscribed else "NOT_SUBSCRIBED",
            "sourceOfStatus": "SUBSCRIPTION_STATUS",
        }
        return JSONResponse({"recipient": address, "subscriptionStatuses": [status]})

    async def unsubscribe_all(self, request: Request) -> Response:
        if request.query_params.get("channel", "EMAIL") != "EMAIL":
            raise BadInput("channel must be EMAIL")
        inputs = batch_inputs(await json_body(request))
        results, failed, unknown = [], [], []
        for address in inputs:
            if not isinstance(address, str):
                raise BadInput("inputs must be email address strings")
            owners = set(self.state.ids_by_email(address))
            if owners & self.faults.fail_record_ids:
                failed.append(address)
                continue
            if not owners:
                unknown.append(address)
                continue
            rules.unsubscribe_all(self.state, address)
            results.append(_unsubscribed(address))
        errors = []
        if unknown:
            message = "No contact has these addresses"
            errors.append(record_error("OBJECT_NOT_FOUND", message, unknown))
        if failed:
            message = "Simulated record failure (emulator fault fail_record_ids)"
            errors.append(record_error("VALIDATION_ERROR", message, failed))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now_iso(),
            "completedAt": now_iso(),
        }
        if errors:
            body |= {"errors": errors, "numErrors": len(unknown) + len(failed)}
        return JSONResponse(body, status_code=207 if errors else 200)


def _unsubscribed(address: str) -> dict[str, Any]:
    status = {
        "channel": "EMAIL",
        "subscriberIdString": address,
        "subscriptionId": 1,
        "status": "UNSUBSCRIBED",
        "source": "Public API",
        "timestamp": now_iso(),
    }
    return {"subscriberIdString": address, "statuses": [status]}


def routes(gate: Gate, state: PortalState, faults: Faults) -> list[Route]:
    r = ConsentRoutes(state, faults)
    return [
        gate.route(STATUS_V3 + "/{email}", r.status),
        gate.route(UNSUBSCRIBE_ALL_BATCH, r.unsubscribe_all, ["POST"], write=True),
    ]
