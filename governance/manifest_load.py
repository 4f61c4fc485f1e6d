"""Loading the permission manifest: bytes -> TOML -> typed model -> checked against the catalogue.

Every problem is reported with a file position, all at once, because the people editing this file
are admins fixing a policy, not programmers reading a traceback. Nothing half-valid is ever
returned: either the whole manifest loads or ``ManifestError`` lists what is wrong.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import re
import stat
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mopsgate.governance import manifest_model as mm
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.errors import Problem as Problem  # re-exported: callers load from here
from mopsgate.governance.manifest_checks import Loc, check_reviewer_capacity, run_checks
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy_core import compiled

MAX_BYTES = 1_000_000
_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_SECRET_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "client_id",
    "credential",
)
_FLOOR_WORDS = ("floor", "resubscribe", "skip_consent", "bypass")
_FLOOR_MESSAGE = "the compliance floor is built in and cannot be changed by the manifest"


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', dotted)
    return tuple(a or b or c for a, b, c in parts)


class LineIndex:
    """Maps a model location (``("rules", 2, "tools")``) back to a line of the TOML text, by
    finding the table header and then the key under it. Good enough for hand-written files."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, Loc]] = []
        self.sections: dict[Loc, int] = {}
        counts: dict[tuple[str, ...], int] = {}
        for i, line in enumerate(self.lines):
            m = _HEADER.match(line)
            if not m:
                continue
            parts = _split_key(m.group(2))
            path: Loc
            if m.group(1) == "[[":
                counts[parts] = counts.get(parts, -1) + 1
                path = (*parts, counts[parts])
            else:
                path = parts
                for k in range(len(parts), 0, -1):
                    if parts[:k] in counts:
                        path = (*parts[:k], counts[parts[:k]], *parts[k:])
                        break
            self.sections.setdefault(path, i)
            self.headers.append((i, path))

    def _end(self, start: int) -> int:
        return next((i for i, _ in self.headers if i > start), len(self.lines))

    def _find(self, pattern: str, start: int, end: int) -> tuple[int, int] | None:
        rx = re.compile(pattern)
        for i in range(max(start, 0), min(end, len(self.lines))):
            m = rx.search(self.lines[i])
            if m:
                return i, m.start(1) if m.groups() else m.start()
        return None

    def locate(self, loc: Loc, needle: str | None = None) -> tuple[int, int]:
        k = next(k for k in range(len(loc), -1, -1) if k == 0 or loc[:k] in self.sections)
        if k == 0 and loc:
            first = next((i for i, path in self.headers if path[:1] == loc[:1]), None)
            if first is not None:
                return first + 1, 1
        start = self.sections[loc[:k]] if k else -1
        end = self._end(start) if k else (self.headers[0][0] if self.headers else len(self.lines))
        line, col = (start, 0) if k else (0, 0)
        rest = [p for p in loc[k:] if isinstance(p, str)]
        if rest:
            key = re.escape(rest[0])
            hit = self._find(rf"^\s*((?:\"{key}\"|'{key}'|{key}))\s*[=.]", start + 1, end)
            if hit:
                line, col = hit
                start = line - 1
                if len(rest) > 1:
                    inner = re.escape(rest[1])
                    hit = self._find(rf"[{{,\s]((?:\"{inner}\"|{inner}))\s*=", line, line + 1)
                    col = hit[1] if hit else col
        if needle:
            q = re.escape(needle)
            hit = self._find(rf"([\"']{q}[\"']|\b{q}\b)", start + 1 if rest else line, end)
            if hit:
                line, col = hit
        return line + 1, col + 1


def _model_keys() -> set[str]:
    models: list[type[BaseModel]] = [
        mm.Manifest, mm.ConnectorConfig, mm.NotSendList, mm.Reviewer, mm.Owners, mm.UseCase,
        mm.ApprovalPolicy, mm.RateLimit, mm.Principal, mm.AllowRule, mm.DenyRule,
        mm.ReviewerKey, mm.ReviewerPasskey, mm.ChecklistItem, mm.ManifestChanges,
    ]  # fmt: skip
    return {name for m in models for name in m.model_fields}


def _suggest(name: str, options: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def dotted(loc: Loc) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out or "manifest"


class _Collector:
    def __init__(self, text: str, source: str) -> None:
        self.index = LineIndex(text)
        self.source = source
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str, needle: str | None = None) -> None:
        line, col = self.index.locate(loc, needle)
        self.problems.append(Problem(self.source, line, col, message))

    def at(self, line: int, col: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, col, message))


def _parse(text: str, out: _Collector) -> dict[str, Any] | None:
    if text.startswith("\ufeff"):
        out.at(1, 1, "file starts with a byte order mark (BOM); save it as UTF-8 without BOM")
        return None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        out.at(1, 1, f"manifest is larger than {MAX_BYTES} bytes; split or trim it")
        return None
    if not text.strip():
        out.at(1, 1, "manifest is empty; it needs at least `version = 1`")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (len(text.splitlines()), 1)
        out.at(line, col, f"invalid TOML: {_TOML_POS.sub('', msg).strip()}")
        return None
    except RecursionError:  # arrays or tables nested thousands deep (catalogue M-13)
        out.at(1, 1, "manifest is nested too deeply to read; no manifest needs more than a few")
        return None
    if not data:
        out.at(1, 1, "manifest is empty (only comments); it needs at least `version = 1`")
        return None
    return data


def _strip_forbidden(data: dict[str, Any], loc: Loc, out: _Collector) -> None:
    """Credentials and floor overrides get their own message (and are removed so the schema
    check does not report them a second time as unknown keys)."""
    for key in list(data):
        low = key.lower()
        here = (*loc, key)
        if any(w in low for w in _SECRET_WORDS):
            out.add(
                here,
                f"{dotted(here)}: credentials do not belong in the manifest; "
                "put them in .env (the manifest is shared and reviewed)",
            )
            del data[key]
        elif any(w in low for w in _FLOOR_WORDS):
            out.add(here, f"{dotted(here)}: {_FLOOR_MESSAGE}")
            del data[key]
        elif isinstance(data[key], dict):
            _strip_forbidden(data[key], here, out)
        elif isinstance(data[key], list):
            for i, item in enumerate(data[key]):
                if isinstance(item, dict):
                    _strip_forbidden(item, (*here, i), out)


def _toml_value(value: object) -> str:
    """TOML's dates and times, which JSON lacks, as the ISO text strict JSON validation reads."""
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a TOML value")


def _validate_model(data: dict[str, Any], out: _Collector) -> Manifest | None:
    """Strictly, in JSON mode (catalogue M-06): ``"100"``, ``true`` or ``1.0`` where a count
    belongs is reported, never coerced, while arrays still fill the model's tuples."""
    try:
        return Manifest.model_validate_json(json.dumps(data, default=_toml_value), strict=True)
    except ValidationError as exc:
        known = _model_keys()
        for err in exc.errors():
            raw_loc = err["loc"]
            tag = 2 if raw_loc[:1] == ("rules",) and raw_loc[2:3] in (("allow",), ("deny",)) else -1
            loc: Loc = tuple(p for i, p in enumerate(raw_loc) if p != "[key]" and i != tag)
            kind, msg = err["type"], str(err["msg"]).removeprefix("Value error, ")
            needle = err["input"] if isinstance(err["input"], str | int) else None
            if kind == "extra_forbidden":
                key = str(loc[-1])
                message = f"{dotted(loc[:-1])}: unknown key {key!r}{_suggest(key, known)}"
                needle = None
            elif kind == "missing":
                message = f"{dotted(loc)}: required key is missing"
            elif kind.startswith("union_tag"):
                loc = (*loc, "effect")
                message = f'{dotted(loc)}: effect must be "allow" or "deny"'
            else:
                message = f"{dotted(loc)}: {msg}"
            out.add(loc, message, str(needle) if needle is not None else None)
        return None


# (text, catalogue id, model) -> (the catalogue, so the id stays its own; the manifest loaded)
_LOADED: OrderedDict[tuple[str, int, type[Manifest]], tuple[Catalogue, Manifest]] = OrderedDict()
_LOADED_KEEP = 16
_LOADED_LOCK = threading.Lock()


def load_manifest_text(text: str, source_name: str, catalogue: Catalogue) -> Manifest:
    """The manifest this text describes, checked against the catalogue.

    A valid text already loaded in this process against the same catalogue gives the manifest
    loaded then, whatever file it came from (the name only ever appears in problems): a server
    reads its file at start-up and again when storage opens, a CLI command often twice, and
    every in-memory runtime of a test run the same text, while a load costs ~10 ms of
    validation and checks. Sharing is safe because a loaded manifest is frozen and what it
    memoises (its compiled policy, its decisions) follows from its text and catalogue alone.
    A text with problems is read again each time (errors are not kept). The model class is part
    of the key: a text is only shared as the model it was validated into."""
    key = (text, id(catalogue), Manifest)
    with _LOADED_LOCK:
        hit = _LOADED.get(key)
        if hit is not None:
            _LOADED.move_to_end(key)
            return hit[1]
    manifest = _load_text(text, source_name, catalogue)
    with _LOADED_LOCK:
        _LOADED[key] = (catalogue, manifest)
        while len(_LOADED) > _LOADED_KEEP:
            _LOADED.popitem(last=False)
    return manifest


def _load_text(text: str, source_name: str, catalogue: Catalogue) -> Manifest:
    out = _Collector(text, source_name)
    data = _parse(text, out)
    manifest = None
    digest = ""
    if data is not None:
        digest = data_digest(data)  # before anything is stripped: what the file says
        _strip_forbidden(data, (), out)
        manifest = _validate_model(data, out)
    if manifest is not None:
        manifest.bind(catalogue, digest)
        run_checks(manifest, catalogue, out.add)
        if not out.problems:
            check_reviewer_capacity(manifest, out.add)
    if out.problems or manifest is None:
        problems = sorted(set(out.problems))
        raise ManifestError(
            f"{source_name}: the manifest has {len(problems)} problem(s)",
            hint="run `mopsgate manifest check` to see them with line numbers",
            problems=problems,
        )
    compiled(manifest)
    return manifest


def _file_problem(path: Path) -> str | None:
    """Why this file may not be trusted as the manifest, in the style of ssh's StrictModes
    (catalogue M-18, M-19): whoever can write it decides what the assistant may do. None when
    it is a regular file, or a link to one in its own directory, that only its owner (this
    user or root) can write; a missing file is left to the read that follows."""
    try:
        if path.is_symlink():
            real = path.resolve()
            if real.parent != path.parent.resolve():
                return (
                    f"manifest is a symbolic link to {real}, outside {path.parent.resolve()}; "
                    "point --manifest at the file itself"
                )
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return "manifest is not a regular file"
    if st.st_mode & 0o022:
        return (
            f"manifest is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod go-w {path}"
        )
    if st.st_uid not in (os.geteuid(), 0):
        return (
            f"manifest is owned by uid {st.st_uid}, neither the user running mopsgate "
            f"(uid {os.geteuid()}) nor root; chown it to the user who runs mopsgate"
        )
    return None


def load_manifest(path: Path, catalogue: Catalogue) -> Manifest:
    source = str(path)
    if (unsafe := _file_problem(path)) is not None:
        raise ManifestError(f"{source}: {unsafe}", problems=[Problem(source, 1, 1, unsafe)])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = Problem(source, 1, 1, f"cannot read manifest: {exc.strerror or exc}")
        raise ManifestError(f"{source}: cannot read the manifest", problems=[problem]) from exc
    if len(raw) > MAX_BYTES:
        problem = Problem(
            source, 1, 1, f"manifest is larger than {MAX_BYTES} bytes; split or trim it"
        )
        raise ManifestError(f"{source}: manifest too large", problems=[problem])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = Problem(
            source,
            line,
            col,
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
        )
        raise ManifestError(f"{source}: not UTF-8", problems=[problem]) from exc
    return load_manifest_text(text, source, catalogue)


def check_manifest(path: Path, catalogue: Catalogue) -> list[Problem]:
    """All problems, sorted by position; an empty list means the manifest is valid."""
    try:
        load_manifest(path, catalogue)
    except ManifestError as exc:
        return exc.problems
    except Exception as exc:  # a checker must report, not crash, whatever the input
        return [Problem(str(path), 1, 1, f"internal error while checking: {exc!r}")]
    return []


def _canonical(value: Any) -> Any:
    """Every list in the manifest is a set of names, and rule order never changes a decision,
    so both are sorted: reformatting or reordering the file must not change the digest."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if all(isinstance(v, str) for v in items):
            return sorted(set(items))
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=_toml_value))
    return value


def _digest_of(value: object) -> str:
    blob = json.dumps(
        _canonical(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_toml_value,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def data_digest(data: Mapping[str, object]) -> str:
    """The digest of what the file says: its parsed TOML in canonical form (keys sorted, lists
    of names as sets, rules in any order), never the validated model. A model field added in an
    upgrade has a default the file does not spell out, so it must not change the digest of an
    unchanged file: pending changes, signed decisions and manifest-change approvals name this
    digest and would all go stale on upgrade (catalogue M-17)."""
    return _digest_of(data)


def manifest_digest(manifest: Manifest) -> str:
    """The digest of the text the manifest was loaded from (``data_digest``); for a manifest
    built in code, which has no text, the digest of its model."""
    return manifest.source_digest or legacy_digest(manifest)


def legacy_digest(manifest: Manifest) -> str:
    """The digest before #13's M-17 work: over the validated model, defaults included. Kept so
    a change proposed before the upgrade, which names this digest, is still current under the
    same manifest (``digest_matches``); it changes with every new model field."""
    return _digest_of(manifest.model_dump(mode="json"))


def digest_matches(recorded: str, manifest: Manifest) -> bool:
    """Whether ``recorded`` (a change's or a token's manifest digest) names ``manifest``: its
    digest, or, for a change recorded by an older mopsgate, its model digest."""
    return recorded == manifest_digest(manifest) or recorded == legacy_digest(manifest)
