"""Transform stage: per-recipient unsubscribe fields, placeholder, footer, DKIM signature.

A recipient gets a copy of its own only where its bytes differ: the List-Unsubscribe fields
are a small per-recipient prefix, and the body is copied only when it holds the placeholder
or gets the footer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.addresses import canonical
from gateway.config import Config
from gateway.consent.tokens import issue, mailto_address
from gateway.pipeline.transform.dkim import DkimSigner
from gateway.pipeline.transform.headers import prepend, remove_fields
from gateway.pipeline.transform.unsubscribe import Template, list_unsubscribe_fields, mailto_uri
from gateway.policy.facts import Content
from gateway.reports.verp import reference
from gateway.store.records import SpoolRecipient

APP_FIELDS = ("list-unsubscribe", "list-unsubscribe-post")
REF_FIELD = "X-Gatekeeper-Ref"
"""Per-recipient reference (gateway.reports.verp): a report that hides the recipient (a
redacted ARF complaint) is matched by it, as KumoMTA's X-KumoRef serves."""


@dataclass(frozen=True)
class Personalizer:
    keys: tuple[bytes, ...]
    public_url: str
    mailto_domain: str
    footer: bool
    identity_lines: tuple[str, ...]
    signer: DkimSigner | None
    ref_key: bytes | None = None
    """Signs X-Gatekeeper-Ref; set once the store is open (its meta `report_key`)."""

    @classmethod
    def from_config(cls, config: Config, hostname: str) -> Personalizer:
        dkim = config.dkim
        signer = None
        if dkim.domain and dkim.selector and dkim.key_file:
            signer = DkimSigner(dkim.domain, dkim.selector, dkim.key_file)
        identity = config.identity
        return cls(
            keys=tuple(config.unsubscribe.keys),
            public_url=config.http.public_url.rstrip("/"),
            mailto_domain=config.unsubscribe.mailto_domain or hostname,
            footer=config.unsubscribe.footer,
            identity_lines=tuple(
                line
                for line in (identity.name, identity.registration, identity.postal_address)
                if line
            ),
            signer=signer,
        )

    @property
    def unsubscribe_enabled(self) -> bool:
        return bool(self.keys)

    @property
    def personalizes(self) -> bool:
        """Whether non-transactional mail gets per-recipient fields at all."""
        return self.unsubscribe_enabled or self.ref_key is not None

    def adds_footer(self, commercial: bool, content: Content) -> bool:
        """The footer goes on commercial mail without a link of its own, and needs a secret
        for the link it carries (docs/design.md §6). The body is looked at last, only if it
        matters."""
        return (
            self.footer
            and self.unsubscribe_enabled
            and commercial
            and not (content.has_unsubscribe_link)
        )

    def strip(self, data: bytes, commercial: bool) -> bytes:
        """Our own control fields go; an app's List-Unsubscribe is replaced by ours."""
        names = APP_FIELDS if commercial and self.unsubscribe_enabled else ()
        return remove_fields(data, names, prefixes=("x-gatekeeper-",))

    def recipients(
        self,
        template: Template,
        addresses: Sequence[str],
        scope: str,
        *,
        needs_footer: bool,
        next_attempt: float,
        queue_id: str = "",
    ) -> list[SpoolRecipient]:
        now = datetime.now(UTC)
        footer = self.identity_lines if needs_footer else None
        copies = []
        for address in addresses:
            fields, body = self._reference(queue_id, address), template.data
            if self.unsubscribe_enabled:
                url, mailto = self._links(address, scope, now)
                body = template.render(url, footer)
                fields += self._fields(url, mailto)
            copies.append(
                SpoolRecipient(
                    address,
                    prefix=prepend(fields),
                    data=None if body is template.data else body,
                    next_attempt=next_attempt,
                )
            )
        return copies

    def _reference(self, queue_id: str, address: str) -> list[tuple[str, str]]:
        if self.ref_key is None or not queue_id:
            return []
        return [(REF_FIELD, reference(self.ref_key, queue_id, canonical(address)))]

    def _links(self, address: str, scope: str, now: datetime) -> tuple[str, str]:
        token = issue(self.keys, canonical(address), scope, now)
        local, subject = mailto_address(token, self.mailto_domain)
        return f"{self.public_url}/u/{token}", mailto_uri(local, subject)

    def _fields(self, url: str, mailto: str) -> list[tuple[str, str]]:
        if url.startswith("https://"):
            return list_unsubscribe_fields(url, mailto)
        # RFC 8058 one-click needs HTTPS: without it only the RFC 2369 field is given.
        return [("List-Unsubscribe", f"<{url}>, <{mailto}>")]

    async def sign(self, prefix: bytes, head: bytes, data: bytes) -> bytes:
        """The prefix with a DKIM-Signature over prefix + head + data in front, when
        configured (no copy of the message without a signer)."""
        if self.signer is None:
            return prefix
        return await self.signer.sign(data, front=prefix + head) + prefix
