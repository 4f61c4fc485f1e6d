"""The governed HTTP server for §2, in its own process: exactly the app
``mopsgate serve --transport http`` runs (``build_http_app``: bearer tokens, Host/Origin checks,
the governed pipeline), but over emulators whose rate windows are out of the way, so the
benchmark measures mopsgate and not the vendors' per-10-second budgets.

``python -m bench.http_server PORT MANIFEST HOME``
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    import uvicorn

    from bench.common import HOST, fast_client_options, fast_emulators, quiet
    from mopsgate.server.app import build_runtime
    from mopsgate.server.http import build_http_app
    from mopsgate.server.serve_run import serving_collector
    from mopsgate.server.settings import Settings

    quiet()
    port, manifest, home = int(argv[0]), Path(argv[1]), Path(argv[2])
    url, secret = (
        os.environ.get("MOPSGATE_DATABASE_URL"),
        os.environ.get("MOPSGATE_SIGNING_SECRET_FILE"),
    )
    runtime = build_runtime(
        Settings(
            manifest,
            home,
            sandbox="memory",
            database_url=url or None,  # §7: replicas on one PostgreSQL database
            secret_file=Path(secret) if secret else None,
        ),
        env={},
        emulators=fast_emulators(),
        client_options=fast_client_options(),
    )
    app = build_http_app(runtime, HOST, port)
    serving_collector()  # as `mopsgate serve` runs the collector once it serves
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
