"""``mopsgate sandbox serve --tls``: the three emulators over https with a certificate made at
start, on free ports, over the persistent sandbox of the state directory — driven by clients
that insist on https (simple-salesforce) or are told to trust the certificate
(hubspot-api-client), and the write then read back from the file by another process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce.api import Salesforce
from typer.testing import CliRunner
from urllib3.util.retry import Retry

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.vendors import new_emulator, open_store
from mopsgate.server.cli import app

MOPSGATE = str(Path(sys.executable).parent / "mopsgate")
LINE = re.compile(r"^(marketo|hubspot|salesforce)\s+https://127\.0\.0\.1:(\d+)$")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, dict[str, int], Path]]:
    """(home, vendor -> port, certificate) of a running ``sandbox serve --tls``."""
    home = tmp_path / "home"
    small = ["sandbox", "reset", "--people", "60", "--home", str(home)]
    assert CliRunner().invoke(app, small).exit_code == 0  # quick to seed
    proc = subprocess.Popen(
        [MOPSGATE, "sandbox", "serve", "--tls", "--base-port", "0", "--home", str(home)],
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MOPSGATE_HOME": str(home)},
    )
    assert proc.stderr is not None
    ports: dict[str, int] = {}
    cert = None
    try:
        while len(ports) < 3:
            line = proc.stderr.readline().strip()
            assert line or proc.poll() is None, "sandbox serve exited"
            if line.startswith("certificate (trust this file): "):
                cert = Path(line.split(": ", 1)[1])
            elif found := LINE.match(line):
                ports[found.group(1)] = int(found.group(2))
        assert cert is not None and cert.exists()
        yield home, ports, cert
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
        proc.stderr.close()


def test_https_clients_write_through_sandbox_serve(served: tuple[Path, dict[str, int], Path]):
    home, ports, cert = served
    session = requests.Session()
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would beat session.verify
    session.verify = str(cert)
    lib: Any = Salesforce(
        consumer_key=sf.SANDBOX_CLIENT_ID,
        consumer_secret=sf.SANDBOX_CLIENT_SECRET,
        domain=f"127.0.0.1:{ports['salesforce']}/services/oauth2/token?x=",
        session=session,
        version="62.0",
    )
    assert lib.Lead.update(sf.person_id(3), {"Title": "Over TLS"}) == 204

    api = HubSpot(
        access_token=hs.SANDBOX_TOKEN,
        host=f"https://127.0.0.1:{ports['hubspot']}",
        ssl_ca_cert=str(cert),
        retry=Retry(total=0),
    )
    assert api.crm.contacts.basic_api.get_by_id(hs.person_id(1)).id == hs.person_id(1)

    store = open_store(home)  # this process reads what the server wrote
    assert new_emulator("salesforce", store).person_fields(sf.person_id(3))["Title"] == "Over TLS"
    store.close()
