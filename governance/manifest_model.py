"""The permission manifest as typed, immutable data.

The models are strict (unknown keys are errors, values are never silently coerced into something
else) because a typo in a permission file must fail loudly rather than grant or withhold rights
nobody intended. Cross-references and catalogue checks live in ``manifest_load``; these models
only know the shape. Every list of names in the manifest has set semantics: order never matters.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.risk import Mode, RiskClass

IDENT_RE = re.compile(r"[A-Za-z0-9_.-]+")
WILDCARD = "*"
# Sizes keep a single rule from becoming a blanket grant by accident.
MAX_RECORDS_PER_CHANGE = 10_000
MAX_APPROVALS = 10


def check_ident(value: str) -> str:
    """Reject look-alike and invisible characters: a principal called "аssistant" (Cyrillic а)
    must never be mistaken for "assistant" by a human reading the file."""
    if IDENT_RE.fullmatch(value):
        return value
    odd = [c for c in value if not IDENT_RE.fullmatch(c)]
    names = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'UNNAMED')}" for c in odd[:3])
    detail = f" (found {names})" if odd else ""
    raise ValueError(
        f"identifier {value!r} may only contain A-Z a-z 0-9 _ . -{detail}; "
        "look-alike or invisible characters are not allowed"
    )


def check_name_or_wildcard(value: str) -> str:
    return value if value == WILDCARD else check_ident(value)


Ident = Annotated[str, AfterValidator(check_ident)]
NameOrWildcard = Annotated[str, AfterValidator(check_name_or_wildcard)]
Names = tuple[NameOrWildcard, ...]
ApprovalCount = Annotated[int, Field(ge=0, le=MAX_APPROVALS)]
Environment = Literal["sandbox", "production"]
RiskLevel = Literal["low", "medium", "high"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class NotSendList(_Strict):
    """A list the admin declares feeds no email send (``[[connectors.<name>.not_send_lists]]``).

    Only consulted where the vendor cannot show which lists feed sends (Salesforce): there the
    floor treats every list as a send list unless it is declared here. A list the vendor names
    as the audience of an active email campaign stays a send list whatever this says, so a
    declaration can narrow only what is unknown, never lower the floor."""

    ref: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class ConnectorConfig(_Strict):
    environment: Environment = "sandbox"
    not_send_lists: tuple[NotSendList, ...] = ()


class Reviewer(_Strict):
    name: str = ""
    email: str = ""
    roles: tuple[Ident, ...] = ()
    risk_classes: tuple[RiskClass, ...] = ()


class Owners(_Strict):
    business: str = ""
    technical: str = ""
    data: str = ""
    risk: str = ""
    escalation: str = ""


class UseCase(_Strict):
    purpose: str
    risk_level: RiskLevel
    review_date: dt.date
    owners: Owners = Owners()


class ApprovalPolicy(_Strict):
    """Manifest-wide approval settings for one risk class (``[approvals.<class>]``)."""

    count: ApprovalCount | None = None
    roles: tuple[Ident, ...] = ()
    reviewers: tuple[Ident, ...] = ()
    records_over: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    extra: ApprovalCount = 1


class RateLimit(_Strict):
    calls_per_minute: Annotated[int, Field(ge=1, le=10_000)]
    records_per_hour: Annotated[int, Field(ge=1, le=1_000_000)]


class Principal(_Strict):
    description: str = ""
    use_cases: tuple[Ident, ...] = ()
    rate_limit: RateLimit | None = None


class _RuleBase(_Strict):
    id: Ident
    principals: Names
    tools: Names
    connectors: Names = (WILDCARD,)
    objects: Names = (WILDCARD,)


class AllowRule(_RuleBase):
    effect: Literal["allow"]
    use_case: Ident | None = None
    read_fields: Names = (WILDCARD,)
    deny_fields: Names = ()
    write_fields: Names = ()
    pii: Literal["masked", "unmasked"] = "masked"
    modes: dict[RiskClass, Mode] = Field(default_factory=dict)
    approvals: dict[RiskClass, ApprovalCount] = Field(default_factory=dict)
    max_records_per_change: Annotated[int, Field(ge=1, le=MAX_RECORDS_PER_CHANGE)] | None = None
    reason: str = ""


class DenyRule(_RuleBase):
    effect: Literal["deny"]
    fields: Names = ()
    reason: str = ""


Rule = Annotated[AllowRule | DenyRule, Field(discriminator="effect")]


class Manifest(_Strict):
    version: Literal[1]
    connectors: dict[Ident, ConnectorConfig] = Field(default_factory=dict)
    pii: dict[Ident, tuple[Ident, ...]] = Field(default_factory=dict)
    reviewers: dict[Ident, Reviewer] = Field(default_factory=dict)
    use_cases: dict[Ident, UseCase] = Field(default_factory=dict)
    approvals: dict[RiskClass, ApprovalPolicy] = Field(default_factory=dict)
    principals: dict[Ident, Principal] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    # Set by the loader: the catalogue it was validated against, and the compiled policy that
    # ``governance.policy`` builds once so per-call decisions do not rescan the rules.
    _catalogue: Catalogue | None = PrivateAttr(default=None)
    _compiled: Any = PrivateAttr(default=None)

    def environment(self, connector: str) -> Environment:
        """A connector the manifest does not mention is a sandbox: the safe default."""
        cfg = self.connectors.get(connector)
        return cfg.environment if cfg else "sandbox"

    def not_send_lists(self, connector: str) -> frozenset[str]:
        """References of the lists declared as feeding no email send on this connector."""
        cfg = self.connectors.get(connector)
        return frozenset(d.ref for d in cfg.not_send_lists) if cfg else frozenset()

    def bind(self, catalogue: Catalogue) -> Manifest:
        self._catalogue = catalogue
        self._compiled = None
        return self

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            raise RuntimeError("manifest has no catalogue; load it with load_manifest()")
        return self._catalogue

    def compiled(self) -> Any:
        return self._compiled

    def set_compiled(self, value: Any) -> None:
        self._compiled = value
