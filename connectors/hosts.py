"""Which hosts a production connector may call (catalogue I-12).

Base URLs come from the admin's environment, never from the assistant; still, a typo or a
tampered ``.env`` must not send the vendor credentials (and CRM data) anywhere else, and
Salesforce names the host of every later call itself (``instance_url``). So a production
client talks only to its vendor's documented hosts, or to hosts the admin adds in
``<VENDOR>_ALLOWED_HOSTS`` (comma-separated; ``.example.com`` allows every subdomain of it). The
check sits in the one place requests are sent (``VendorHTTP``): nothing reaches a host outside
the list, whatever URL was configured or handed back. Sandbox clients talk to in-process
emulators and are not restricted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from mopsgate.crm.errors import HostNotAllowed

# The vendors' documented API hosts: Marketo's REST and identity endpoints live at
# <munchkin-id>.mktorest.com; HubSpot at api.hubapi.com (api-eu1.hubapi.com for EU accounts);
# Salesforce logs in at login/test.salesforce.com or a My Domain and answers with an instance on
# *.my.salesforce.com (sandboxes: *.sandbox.my.salesforce.com).
DOCUMENTED_HOSTS: dict[str, tuple[str, ...]] = {
    "marketo": (".mktorest.com",),
    "hubspot": ("api.hubapi.com", ".hubapi.com"),
    "salesforce": (".salesforce.com",),
}
# A host, or a suffix of at least two labels (".example.com", never ".com" or "*"); or an IP.
_ENTRY = re.compile(r"\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}|localhost")


def variable(vendor: str) -> str:
    return f"{vendor.upper()}_ALLOWED_HOSTS"


def allowed_hosts(vendor: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """The vendor's documented hosts plus the admin's; a malformed entry stops start-up."""
    added: list[str] = []
    for raw in (env.get(variable(vendor)) or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if not _is_ip(entry) and (
            not _ENTRY.fullmatch(entry) or (entry.startswith(".") and entry.count(".") < 2)
        ):
            raise HostNotAllowed(
                vendor,
                variable(vendor),
                f"{entry!r} is not a host name or a suffix like .example.com",
                host=entry,
            )
        added.append(entry)
    return (*DOCUMENTED_HOSTS.get(vendor, ()), *added)


def _is_ip(entry: str) -> bool:
    try:
        ipaddress.ip_address(entry.strip("[]"))
    except ValueError:
        return False
    return True


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".").strip("[]")
    return any(host == a.strip("[]") or (a.startswith(".") and host.endswith(a)) for a in allowed)


def check_host(vendor: str, host: str | None, allowed: tuple[str, ...]) -> None:
    if not host or not host_allowed(host, allowed):
        raise HostNotAllowed(
            vendor,
            variable(vendor),
            f"allowed: {', '.join(allowed)}",
            host=host or "",
        )
