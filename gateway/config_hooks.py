"""Config of the provider webhooks in (`[hooks]`) and the events out (`[events]`,
`[[events.webhooks]]`), docs/design.md §8-§9. config.py holds them as two sections and calls
`problems()` from its validation; each provider is off until its keys are set."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from gateway.config_values import parse_duration

EVENT_TYPES: tuple[str, ...] = (
    "refused",
    "unsubscribed",
    "suppressed",
    "bounced",
    "complained",
    "delivered",
)
"""What the gateway tells the application about (docs/design.md §9)."""

SECRET_PREFIX = "whsec_"
"""Standard Webhooks: a secret is `whsec_` and the base64 of its key."""


@dataclass
class HooksConfig:
    ses_topic_arns: list[str] = field(default_factory=list)
    """SNS topics whose notifications are taken; none = /hooks/ses is off."""
    ses_auto_confirm: bool = True
    """Confirm an SNS subscription by fetching its SubscribeURL (on an SNS host only);
    false = log the URL for an operator to open."""
    sendgrid_public_key: str | None = None
    """The Event Webhook's verification key as SendGrid shows it (base64 DER or PEM)."""
    postmark_username: str | None = None
    postmark_password: str | None = None
    mailgun_signing_key: str | None = None
    max_age: str = "15m"
    """How old a signed timestamp may be (SNS, SendGrid, Mailgun); a replay inside the window
    is refused by the request's id, which is remembered."""


@dataclass
class WebhookEndpoint:
    url: str
    secret: str
    """`whsec_` + base64 of the key (Standard Webhooks); the receiver verifies with it."""
    events: list[str] = field(default_factory=lambda: list(EVENT_TYPES))

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.secret.removeprefix(SECRET_PREFIX), validate=True)


@dataclass
class EventsConfig:
    webhooks: list[WebhookEndpoint] = field(default_factory=list)
    retry_initial: float = 5.0
    """Seconds before the second attempt; each later one waits twice as long, with jitter."""
    retry_max: float = 3600.0
    give_up: str = "3d"
    """An event no endpoint answered 2xx for this long is marked failed (`events retry`
    sends it again)."""
    timeout: float = 10.0
    """Seconds an endpoint has to answer one POST."""


def problems(hooks: HooksConfig, events: EventsConfig) -> list[str]:
    """What is wrong with the two sections, each naming its key."""
    found = []
    for key, text in (("hooks.max_age", hooks.max_age), ("events.give_up", events.give_up)):
        try:
            parse_duration(text)
        except ValueError as exc:
            found.append(f"'{key}': {exc}")
    if bool(hooks.postmark_username) != bool(hooks.postmark_password):
        found.append("'hooks.postmark_username' and 'hooks.postmark_password' go together")
    for topic in hooks.ses_topic_arns:
        if len(topic.split(":")) != 6 or not topic.startswith("arn:"):
            found.append(f"'hooks.ses_topic_arns': {topic!r} is not an SNS topic ARN")
    for i, hook in enumerate(events.webhooks):
        found += _endpoint_problems(f"events.webhooks[{i}]", hook)
    return found


def _endpoint_problems(key: str, hook: WebhookEndpoint) -> list[str]:
    found = []
    if not hook.url.startswith(("http://", "https://")):
        found.append(f"'{key}.url' must be an http:// or https:// URL")
    try:
        if not hook.secret.startswith(SECRET_PREFIX) or not hook.key:
            raise ValueError
    except (ValueError, binascii.Error):
        found.append(f"'{key}.secret' must be whsec_ followed by base64 (Standard Webhooks)")
    unknown = [e for e in hook.events if e not in EVENT_TYPES]
    if unknown:
        found.append(f"'{key}.events': {', '.join(unknown)} not one of {', '.join(EVENT_TYPES)}")
    return found
