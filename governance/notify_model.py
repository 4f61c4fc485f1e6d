"""``[notifications]`` in the manifest: where mopsgate tells people that something happened.

Reviewers and contacts do not poll a CLI, so events that need a human (a change awaiting review,
a decision, an apply that failed, a freeze, a compliance-floor refusal, an overdue use case) are
sent to webhook targets. A target is a Slack-compatible incoming webhook or a receiver of plain
JSON. A Slack webhook URL is itself the credential (whoever has it can post to the channel), so
it is never written here: the target names the environment variable (or ``.env`` entry) that
holds it. Messages carry references and counts only, never a person's data.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

# Every event a target can receive; "test" is what `mopsgate notify test` sends.
EventName = Literal[
    "change.awaiting_review",
    "change.approved",
    "change.rejected",
    "change.applied",
    "change.failed",
    "change.stale",
    "applies.frozen",
    "applies.unfrozen",
    "compliance_floor.refused",
    "use_case.review_overdue",
]
ENV_PATTERN = "^[A-Z_][A-Z0-9_]*$"
_ENV_RE = re.compile(ENV_PATTERN)
_IDENT_RE = re.compile(r"[A-Za-z0-9_.-]+")


def _check_env_name(value: str) -> str:
    if not _ENV_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (upper case letters, digits and _, "
            "e.g. MOPSGATE_SLACK_WEBHOOK_URL)"
        )
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ValueError("a URL with a user name or password in it holds a credential; use url_env")
    if parts.hostname.endswith("hooks.slack.com") or parts.query:
        raise ValueError(
            "this URL carries its own credential (a Slack hook path or a query string); "
            "put it in .env and name the variable with url_env"
        )
    return value


def _check_name(value: str) -> str:
    if not _IDENT_RE.fullmatch(value):
        raise ValueError(f"name {value!r} may only contain A-Z a-z 0-9 _ . -")
    return value


EnvName = Annotated[
    str,
    AfterValidator(_check_env_name),
    WithJsonSchema({"type": "string", "pattern": ENV_PATTERN}),
]
PlainUrl = Annotated[str, Field(max_length=2000), AfterValidator(_check_url)]
Name = Annotated[
    str,
    AfterValidator(_check_name),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}),
]


class _Strict(BaseModel):
    # Attribute docstrings are the schema's field descriptions, as in manifest_model.py.
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookTarget(_Strict):
    """One webhook that receives notifications (``[notifications.targets.<name>]``)."""

    format: Literal["slack", "json"]
    """"slack": a Slack-compatible incoming webhook (text and blocks); "json": mopsgate's own
    JSON body, for any other receiver."""
    url_env: EnvName | None = None
    """The environment variable (or .env entry) that holds the webhook URL. Required for
    "slack": the URL is the credential."""
    url: PlainUrl | None = None
    """The URL itself, only for a "json" receiver whose URL is not a secret (e.g. an internal
    relay); one of url and url_env."""
    events: tuple[EventName, ...] = ()
    """The events this target receives; empty means all of them."""
    reviewers: tuple[Name, ...] = ()
    """If set, this target reaches only these reviewers: it receives "change.awaiting_review"
    only for changes one of them may approve (other events are unaffected)."""

    @model_validator(mode="after")
    def _one_url(self) -> WebhookTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a target needs exactly one of url_env (the usual) and url")
        if self.format == "slack" and self.url is not None:
            raise ValueError(
                "a Slack webhook URL is a secret: put it in .env and name the variable with "
                'url_env (e.g. url_env = "MOPSGATE_SLACK_WEBHOOK_URL")'
            )
        return self


class Notifications(_Strict):
    """Webhook notifications (``[notifications]``), sent from a durable outbox at least once,
    with an Idempotency-Key header receivers can de-duplicate on."""

    targets: dict[Name, WebhookTarget] = Field(default_factory=dict)
    """Webhook targets by name."""
    give_up_after_hours: Annotated[int, Field(ge=1, le=720)] = 24
    """How long an undeliverable notification is retried (with exponential backoff) before it
    is dropped and logged."""
