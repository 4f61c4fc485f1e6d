"""The permission manifest as typed, immutable data.

The models are strict (unknown keys are errors, values are never silently coerced into something
else) because a typo in a permission file must fail loudly rather than grant or withhold rights
nobody intended. Cross-references and catalogue checks live in ``manifest_load``; these models
only know the shape. Every list of names in the manifest has set semantics: order never matters.
"""

# No ``from __future__ import annotations``: pydantic would read each field's annotation back
# from its text (a compile per field) while the classes are made, which every serve start pays
# before its first answer. The annotations here are objects; a name used before its class is
# defined is quoted.
import datetime as dt
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, WithJsonSchema

from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.notify_model import Notifications
from mopsgate.governance.public_keys import base64url_raw, ed25519_raw, passkey_key_raw
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


# The JSON Schema (``mopsgate manifest schema``) states the same rule as a pattern, so an editor
# flags a look-alike character while the admin types.
IDENT_PATTERN = "^[A-Za-z0-9_.-]+$"
Ident = Annotated[
    str,
    AfterValidator(check_ident),
    WithJsonSchema({"type": "string", "pattern": IDENT_PATTERN}),
]
NameOrWildcard = Annotated[
    str,
    AfterValidator(check_name_or_wildcard),
    WithJsonSchema({"type": "string", "pattern": r"^([A-Za-z0-9_.-]+|\*)$"}),
]
Names = tuple[NameOrWildcard, ...]
ApprovalCount = Annotated[int, Field(ge=0, le=MAX_APPROVALS)]
Environment = Literal["sandbox", "production"]
RiskLevel = Literal["low", "medium", "high"]


class _Strict(BaseModel):
    # Attribute docstrings become the field descriptions of the JSON Schema an admin's editor
    # shows, so the text below is user documentation, kept next to the rule it documents. The
    # schema's generator reads them (manifest_schema.py), not pydantic's
    # use_attribute_docstrings: that re-reads each class's source at every import, which every
    # `mopsgate serve` start would pay for a text only the schema shows.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class NotSendList(_Strict):
    """A list the admin declares feeds no email send (``[[connectors.<name>.not_send_lists]]``).

    Only consulted where the vendor cannot show which lists feed sends (Salesforce): there the
    floor treats every list as a send list unless it is declared here. A list the vendor names
    as the audience of an active email campaign stays a send list whatever this says, so a
    declaration can narrow only what is unknown, never lower the floor."""

    ref: str = Field(min_length=1, max_length=200)
    """The list's record reference, e.g. "salesforce:Campaign:7015e0001000003"."""
    reason: str = Field(min_length=1, max_length=500)
    """Why this list never feeds an email send (shown to reviewers and auditors)."""


CountryName = Annotated[
    str,
    Field(min_length=2, max_length=60, pattern=r"^[A-Za-z][A-Za-z .'-]*[A-Za-z.]$"),
]


class ConnectorConfig(_Strict):
    """One vendor connection (``[connectors.<marketo|hubspot|salesforce>]``)."""

    environment: Environment = "sandbox"
    """"sandbox" talks to the local emulators; "production" to the real API, with stricter
    defaults (one more approval per change, halved rate limits and caps, PII masked)."""
    not_send_lists: tuple[NotSendList, ...] = ()
    """Lists declared as feeding no email send (matters on Salesforce, see above)."""
    express_consent_countries: tuple[CountryName, ...] = ()
    """Countries, besides the built-in Canada (CASL), whose people may be emailed only with
    consent evidence recorded: an ISO 3166 code or a name as the records spell it ("DE",
    "Germany"), matched without regard to case. Adds to the floor; never removes Canada."""
    consent_evidence_field: Ident | None = None
    """The field that holds the proof of consent, if not the vendor's default
    (consentEvidence / consent_evidence / Consent_Evidence__c); it must exist on every person
    object of the connector."""


def _check_ed25519(value: str) -> str:
    ed25519_raw(value)
    return value


def _check_credential_id(value: str) -> str:
    base64url_raw(value, "a passkey id")
    return value


def _check_passkey_key(value: str) -> str:
    passkey_key_raw(value)
    return value


class ReviewerKey(_Strict):
    """An Ed25519 public key the reviewer signs CLI decisions with (``mopsgate reviewer
    keygen`` prints this table; the private half stays in the reviewer's own config dir)."""

    public_key: Annotated[str, AfterValidator(_check_ed25519)]
    """"ed25519:" and the base64 of the 32-byte public key."""
    label: str = Field(default="", max_length=200)
    """Whose machine, since when: for the humans reading the manifest."""


class ReviewerPasskey(_Strict):
    """A passkey the reviewer logs in to the console and signs decisions with (the console's
    enrolment page prints this table)."""

    id: Annotated[str, Field(min_length=16, max_length=1400), AfterValidator(_check_credential_id)]
    """The credential id, base64url."""
    public_key: Annotated[str, Field(max_length=2000), AfterValidator(_check_passkey_key)]
    """The COSE public key, base64url."""
    label: str = Field(default="", max_length=200)
    """Which device, since when: for the humans reading the manifest."""


class Reviewer(_Strict):
    """A human who approves changes with `mopsgate review` (``[reviewers.<name>]``)."""

    name: str = ""
    """Full name, shown with each approval."""
    email: str = ""
    """Where review requests go."""
    roles: tuple[Ident, ...] = ()
    """Roles this reviewer holds, e.g. "compliance"; approval policies can require a role."""
    risk_classes: tuple[RiskClass, ...] = ()
    """The risk classes this reviewer may approve; anything else is refused."""
    pii: Literal["none", "masked", "unmasked"] = "masked"
    """What the review console and `review show` show this reviewer of the people a change
    touches: "none" (references only), "masked" (j***@example.com) or "unmasked"."""
    may_freeze: bool = False
    """Whether this reviewer may freeze and unfreeze applies from the review console."""
    keys: tuple[ReviewerKey, ...] = ()
    """Ed25519 public keys this reviewer signs CLI decisions with (`mopsgate reviewer keygen`)."""
    passkeys: tuple[ReviewerPasskey, ...] = ()
    """Passkeys this reviewer logs in to the review console and signs decisions with."""


class Owners(_Strict):
    """Who answers for a use case. A medium or high risk use case must name all five."""

    business: str = ""
    """Business owner: who wants the outcome and decides whether it is worth the risk."""
    technical: str = ""
    """Technical owner: who runs the integration."""
    data: str = ""
    """Data owner: who answers for the records it reads and changes."""
    risk: str = ""
    """Risk owner: who answers for this use of AI (required for every use case)."""
    escalation: str = ""
    """Escalation contact: who is told when something goes wrong or a review is overdue."""


class UseCase(_Strict):
    """Why AI is used here, and who answers for it (``[use_cases.<name>]``)."""

    purpose: str
    """What the AI does for this use case, in one or two sentences."""
    risk_level: RiskLevel
    """"low", "medium" or "high"."""
    review_date: dt.date
    """When this use case must be reviewed again (a TOML date, e.g. 2027-05-01). Its owners
    review it, then move this date forward."""
    on_overdue: Literal["warn", "propose_only", "deny"] = "warn"
    """What an overdue review stops once grace_days have passed: "warn" nothing (it is shown
    everywhere), "propose_only" every apply (reads and proposals go on), "deny" every call."""
    grace_days: Annotated[int, Field(ge=0, le=365)] = 14
    """Days after review_date during which an overdue review only warns."""
    owners: Owners = Owners()
    """The owners and the escalation contact."""


class ChecklistItem(_Strict):
    """One thing an approver of this risk class must confirm ("tick") or write down ("text"),
    e.g. "consent basis checked" or "ticket id". Answers are part of the signed statement."""

    id: Ident
    """A short name for the item; the CLI answers it as --check ID or --check ID=TEXT."""
    label: str = Field(min_length=1, max_length=200)
    """What the approver confirms or answers."""
    answer: Literal["tick", "text"] = "tick"
    """"tick": a checkbox that must be ticked; "text": a value that must be filled in."""


class ApprovalPolicy(_Strict):
    """Manifest-wide approval settings for one risk class (``[approvals.<class>]``)."""

    count: ApprovalCount | None = None
    """Approvals every change of this class needs (never below the compliance floor)."""
    roles: tuple[Ident, ...] = ()
    """Roles that must be among the approvers (sends always need "compliance")."""
    reviewers: tuple[Ident, ...] = ()
    """If set, only these reviewers may approve this class."""
    records_over: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """Changes touching more records than this need `extra` more approvals."""
    extra: ApprovalCount = 1
    """Additional approvals above `records_over`."""
    checklist: tuple[ChecklistItem, ...] = ()
    """What every approver of this class must tick or answer; the answers are signed."""


class RateLimit(_Strict):
    """Limits shared by every connection and process of one principal."""

    calls_per_minute: Annotated[int, Field(ge=1, le=10_000)]
    """Tool calls per minute."""
    records_per_hour: Annotated[int, Field(ge=1, le=1_000_000)]
    """Records proposed per hour, across all changes."""


class Principal(_Strict):
    """Who calls mopsgate: stdio runs as one, an HTTP bearer token maps to one."""

    description: str = ""
    """What this principal is (an assistant, a team's agent)."""
    use_cases: tuple[Ident, ...] = ()
    """The use cases this principal works under; every grant names one of them."""
    rate_limit: RateLimit | None = None
    """Explicit limits; without them the defaults apply (halved for production)."""


class _RuleBase(_Strict):
    id: Ident
    """A unique id; decisions and audit rows name it."""
    principals: Names
    """Who the rule is about ("*" for every principal)."""
    tools: Names
    """Which tools ("*" never matches send or delete tools: name those)."""
    connectors: Names = (WILDCARD,)
    """Where: marketo, hubspot, salesforce or "*"."""
    objects: Names = (WILDCARD,)
    """Which objects of those connectors (e.g. Lead, Contact) or "*"."""


class AllowRule(_RuleBase):
    """A grant. Default deny: nothing is allowed that no allow rule grants."""

    effect: Literal["allow"]
    """"allow" or "deny"."""
    use_case: Ident | None = None
    """The use case this grant serves (required for allow rules)."""
    read_fields: Names = (WILDCARD,)
    """Fields the principal may read ("*" for all not denied)."""
    deny_fields: Names = ()
    """Fields withheld from reads."""
    write_fields: Names = ()
    """Fields proposals may change (named explicitly; never consent fields)."""
    pii: Literal["masked", "unmasked"] = "masked"
    """Whether PII fields are masked in reads."""
    modes: dict[RiskClass, Mode] = Field(default_factory=dict)
    """Mode per risk class: "deny", "read" (reads) or "propose" (writes)."""
    approvals: dict[RiskClass, ApprovalCount] = Field(default_factory=dict)
    """Approvals per risk class (only ever raises the defaults and the floor)."""
    max_records_per_change: Annotated[int, Field(ge=1, le=MAX_RECORDS_PER_CHANGE)] | None = None
    """The most records one change may touch under this rule."""
    reason: str = ""
    """Why this grant exists (shown in explanations)."""


class DenyRule(_RuleBase):
    """An explicit deny: it wins over every allow rule, whatever the order of the file."""

    effect: Literal["deny"]
    """"allow" or "deny"."""
    fields: Names = ()
    """Fields withheld; empty means the whole tool is denied."""
    reason: str = ""
    """Why (required; shown to the assistant and the user)."""


Rule = Annotated[AllowRule | DenyRule, Field(discriminator="effect")]


class ManifestChanges(_Strict):
    """How an edit of this file that widens permissions comes into force
    (``[manifest_changes]``). An edit that only narrows applies at once; one that grants
    anything more (a rule, a field, a tool, a principal, a reviewer or key, a raised limit, a
    lowered approval count ...) applies only once reviewers of the manifest in force have
    signed an approval of exactly that change (`mopsgate manifest approve`)."""

    approvals: Annotated[int, Field(ge=1, le=MAX_APPROVALS)] = 1
    """How many reviewers, each with a key declared in the manifest in force, must approve a
    widening edit; 2 asks for a second approver. Raising it applies at once; lowering it is
    itself a widening edit."""


class Manifest(_Strict):
    """The mopsgate permission manifest (permissions.toml): the policy itself."""

    version: Literal[1]
    """The manifest format version: 1."""
    connectors: dict[Ident, ConnectorConfig] = Field(default_factory=dict)
    """Vendor connections by name."""
    pii: dict[Ident, tuple[Ident, ...]] = Field(default_factory=dict)
    """Extra PII fields per connector (masked unless a rule says pii = "unmasked")."""
    reviewers: dict[Ident, Reviewer] = Field(default_factory=dict)
    """Humans who approve changes."""
    use_cases: dict[Ident, UseCase] = Field(default_factory=dict)
    """Why AI is used, and who answers for it."""
    approvals: dict[RiskClass, ApprovalPolicy] = Field(default_factory=dict)
    """Approval policies per risk class."""
    principals: dict[Ident, Principal] = Field(default_factory=dict)
    """Who calls mopsgate."""
    rules: tuple[Rule, ...] = ()
    """Allow and deny rules, as [[rules]] tables; their order never changes a decision."""
    notifications: Notifications = Notifications()
    """Webhook targets told when a change awaits review, is decided, applied or failed, on
    freezes, compliance-floor refusals and overdue reviews."""
    manifest_changes: ManifestChanges = ManifestChanges()
    """How an edit that widens permissions is approved before it takes effect."""

    # Set by the loader: the catalogue it was validated against, and the compiled policy that
    # ``governance.policy`` builds once so per-call decisions do not rescan the rules.
    _catalogue: Catalogue | None = PrivateAttr(default=None)
    _compiled: object = PrivateAttr(default=None)
    # The digest of the text it was loaded from (``manifest_load.data_digest``).
    _source_digest: str = PrivateAttr(default="")

    def environment(self, connector: str) -> Environment:
        """A connector the manifest does not mention is a sandbox: the safe default."""
        cfg = self.connectors.get(connector)
        return cfg.environment if cfg else "sandbox"

    def not_send_lists(self, connector: str) -> frozenset[str]:
        """References of the lists declared as feeding no email send on this connector."""
        cfg = self.connectors.get(connector)
        return frozenset(d.ref for d in cfg.not_send_lists) if cfg else frozenset()

    def bind(self, catalogue: Catalogue, source_digest: str | None = None) -> "Manifest":
        self._catalogue = catalogue
        self._compiled = None
        if source_digest is not None:
            self._source_digest = source_digest
        return self

    @property
    def source_digest(self) -> str:
        """The digest of the text this manifest was loaded from; "" when built in code."""
        return self._source_digest

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            raise RuntimeError("manifest has no catalogue; load it with load_manifest()")
        return self._catalogue

    def compiled(self) -> object:
        """The policy's compiled view, opaque here (``policy_core.compiled`` types it): the
        model cannot name a type that is built from it."""
        return self._compiled

    def set_compiled(self, value: object) -> None:
        self._compiled = value
