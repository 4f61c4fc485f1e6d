"""Every ``mopsgate`` command: serve, tokens, manifest, audit (and, for humans only, review).

Human output goes to stdout for admin commands; ``serve`` logs to stderr only, because over
stdio the MCP protocol owns stdout. ``server/cli.py`` is the entry point that loads this.
"""

from __future__ import annotations

import inspect

import typer

from mopsgate.server.cli_audit import audit_app
from mopsgate.server.cli_console import console_cmd
from mopsgate.server.cli_db import db_app
from mopsgate.server.cli_decide import add_decision_commands
from mopsgate.server.cli_errors import add_database_url, guard_commands
from mopsgate.server.cli_exception import exception_app
from mopsgate.server.cli_manifest import manifest_app
from mopsgate.server.cli_manifest_change import approve_cmd, propose_cmd
from mopsgate.server.cli_manifest_history import diff_cmd, history_cmd
from mopsgate.server.cli_notify import notify_app
from mopsgate.server.cli_report import report_app
from mopsgate.server.cli_review import freeze_cmd, review_app, unfreeze_cmd
from mopsgate.server.cli_reviewer import reviewer_app
from mopsgate.server.cli_sandbox import sandbox_app
from mopsgate.server.cli_secret import secret_app
from mopsgate.server.cli_serve import serve
from mopsgate.server.cli_token import token_app

app = typer.Typer(
    name="mopsgate",
    no_args_is_help=True,
    add_completion=False,
    help="Governed MCP server for Marketing Operations.",
)
manifest_app.command("history")(history_cmd)
manifest_app.command("diff")(diff_cmd)
manifest_app.command("propose")(propose_cmd)
manifest_app.command("approve")(approve_cmd)
app.add_typer(manifest_app, name="manifest", help="Check and explain the permission manifest.")
app.add_typer(exception_app, name="exception")
app.add_typer(audit_app, name="audit", help="Read and verify the tamper-evident audit log.")
app.add_typer(report_app, name="report", help="The risk-review report (HTML, Markdown, JSON).")
app.add_typer(sandbox_app, name="sandbox")
add_decision_commands(review_app)
app.add_typer(
    review_app, name="review", help="Human review of proposed changes (not reachable over MCP)."
)
app.add_typer(
    reviewer_app, name="reviewer", help="Enrol reviewers: a signing key, or a console passkey."
)
app.command("console", help="Serve the review console for reviewers (passkeys, in a browser).")(
    console_cmd
)
app.command("freeze", help="Stop all applies at once (kill switch).")(freeze_cmd)
app.command("unfreeze", help="Allow applies again.")(unfreeze_cmd)
app.add_typer(token_app, name="token")
app.add_typer(secret_app, name="secret")
app.add_typer(db_app, name="db")
app.add_typer(notify_app, name="notify")
app.command()(serve)


def _flowing_short_help(apps: list[typer.Typer]) -> None:
    """A group's listing shows each command's first help paragraph with the docstring's own
    line breaks (Typer keeps them there in rich mode): give it the paragraph as one line, for
    the terminal to wrap."""
    for typer_app in apps:
        for info in typer_app.registered_commands:
            text = info.help or inspect.getdoc(info.callback) or ""
            first = text.split("\n\n", 1)[0]
            if info.short_help is None and "\n" in first:
                info.short_help = " ".join(first.split())


# Last, once every command is registered: a failure about the database is one line, never a
# traceback (serve has its own start-up checks and exit code).
_STATE_APPS = [
    app,
    manifest_app,
    audit_app,
    report_app,
    review_app,
    reviewer_app,
    token_app,
    secret_app,
    db_app,
    notify_app,
    exception_app,
]
guard_commands([*_STATE_APPS, sandbox_app], except_names={"serve"})
_flowing_short_help([*_STATE_APPS, sandbox_app])
# The sandbox's own file is not mopsgate's state: its commands take --home, never a database.
add_database_url(_STATE_APPS)
