"""`mopsgate manifest history` and `mopsgate manifest diff A B`: which policy was in force
when, who put it there, what changed, and what was refused and why.

The server records every version it puts in force (at start when it differs from the last one
recorded, and at every reload) and every edit it refuses, each with its text, so both commands
read only the state directory: they work without the server and after the file has moved on.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from mopsgate.governance.manifest_diff import manifest_changes, text_diff
from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.server.cli_render import fitted, paragraphs, prose
from mopsgate.server.cli_review import HomeOpt, ManifestOpt, fail, review_settings, with_storage
from mopsgate.storage import Storage


async def manifest_history(storage: Storage) -> list[tuple[ManifestLoad, list[str]]]:
    """Every load with what changed against the version in force before it."""
    out: list[tuple[ManifestLoad, list[str]]] = []
    previous: str | None = None
    for load in await storage.manifests.versions():
        text = await storage.manifests.text(load.digest)
        if load.outcome == "refused" or text is None:
            out.append((load, []))
            continue
        before = None if previous is None else await storage.manifests.text(previous)
        out.append((load, manifest_changes(before, text) if previous != load.digest else []))
        previous = load.digest
    return out


def history_cmd(manifest: ManifestOpt = None, home: HomeOpt = None) -> None:
    """Every manifest version that came into force or was refused, oldest first."""
    settings = review_settings(manifest, home)
    loads = with_storage(settings, manifest_history, reading=True)
    if not loads:
        typer.echo("No manifest versions recorded yet: the server records them when it starts.")
        return
    rows = [_row(load, changes) for load, changes in loads]
    table = Table("when (UTC)", "digest", "outcome", "loaded by", "git")
    table.add_column("what changed / why", overflow="fold")
    for when, digest, outcome, by, git, why in rows:
        style = "red" if outcome == "refused" else ""
        table.add_row(when, digest, Text(outcome, style=style), Text(by), Text(git), Text(why))

    def stacked(width: int) -> RenderableType:
        """A version per paragraph: when, digest, outcome, who, then what changed, wrapped
        between words under it."""
        parts: list[RenderableType] = []
        for when, digest, outcome, by, git, why in rows:
            head = [when, digest, outcome, f"by {by}"] + ([f"git {git}"] if git != "-" else [])
            parts.append(paragraphs([(head, [])], width))
            parts.append(prose(why, width))
        return Group(*parts)

    console = Console(highlight=False)
    console.print(fitted(console, [table], stacked))


def _row(load: ManifestLoad, changes: list[str]) -> tuple[str, str, str, str, str, str]:
    git = "-"
    if load.git_commit:
        dirty = "+dirty" if load.git_commit.endswith("+dirty") else ""
        git = f"{load.git_commit[:12]}{dirty} {load.git_author or ''}".strip()
    why = load.reason if load.outcome == "refused" else "; ".join(changes) or "reloaded"
    outcome = "refused" if load.outcome == "refused" else "in force"
    when = f"{load.at:%Y-%m-%d %H:%M:%S}"
    return when, load.digest[:12], outcome, load.loaded_by or "-", git, why or "-"


async def _texts(storage: Storage, prefixes: tuple[str, str]) -> list[tuple[str, str]]:
    digests = {load.digest for load in await storage.manifests.versions()}
    found: list[tuple[str, str]] = []
    for prefix in prefixes:
        matches = sorted(d for d in digests if d.startswith(prefix.lower()))
        if len(matches) != 1:
            what = "no recorded version" if not matches else f"{len(matches)} versions"
            raise LookupError(f"{prefix!r} matches {what}; see `mopsgate manifest history`")
        text = await storage.manifests.text(matches[0])
        found.append((matches[0], text or ""))
    return found


def diff_cmd(
    a: Annotated[str, typer.Argument(help="A digest (or a unique prefix) from the history.")],
    b: Annotated[str, typer.Argument(help="Another digest, usually the later one.")],
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """What changed from version A to version B: use cases, principals, reviewers, rules, and
    the text diff."""
    settings = review_settings(manifest, home)

    async def both(storage: Storage) -> list[tuple[str, str]] | str:
        try:
            return await _texts(storage, (a, b))
        except LookupError as exc:
            return str(exc)

    found = with_storage(settings, both, reading=True)
    if isinstance(found, str):
        raise fail(found, 2)
    (old_digest, old), (new_digest, new) = found
    typer.echo(f"{old_digest[:12]} -> {new_digest[:12]}")
    for line in manifest_changes(old, new):
        typer.echo(f"  {line}")
    typer.echo("")
    for line in text_diff(old, new, old_digest[:12], new_digest[:12]):
        typer.echo(line)
