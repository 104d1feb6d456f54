"""One hook per SMTP phase; each answers with a reply line. Decisions live in the pipeline."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope

from gateway.addresses import AddressError, canonical, check, matches_glob
from gateway.config import SmtpConfig, SmtpUser
from gateway.pipeline import replies
from gateway.pipeline.accept import Acceptor
from gateway.pipeline.receive import Incoming
from gateway.pipeline.replies import NULL_SENDER
from gateway.pipeline.transaction import Transaction
from gateway.smtp.limits import RateLimiter
from gateway.smtp.server import GatewaySession

log = logging.getLogger(__name__)


class Handler:
    def __init__(self, config: SmtpConfig, acceptor: Acceptor) -> None:
        self._config = config
        self._acceptor = acceptor
        self._networks = [ipaddress.ip_network(n, strict=False) for n in config.allow_networks]
        self._rates = RateLimiter()
        self._users = {user.name: user for user in config.users}
        self.ask_rate: Callable[[SmtpUser], Awaitable[bool]] | None = None
        """In an SMTP worker process: asks the serving process, which keeps the one count
        of every login's messages (smtp.processes)."""

    async def handle_EHLO(
        self,
        server: SMTP,
        session: GatewaySession,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """aiosmtpd's extensions plus two the listener keeps: ENHANCEDSTATUSCODES (RFC 2034;
        GatewaySMTP.push adds a code to every reply) and PIPELINING (RFC 2920; commands are
        answered in order and DATA gives back what follows its end, shown by
        tests/smtp/test_smtp_pipelining.py). No CHUNKING: there is no BDAT."""
        session.host_name = hostname  # aiosmtpd leaves this to an EHLO hook
        return [*responses[:-1], "250-PIPELINING", "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: GatewaySession,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        refusal = self._relay_refusal(session)
        if refusal and not self._acceptor.mailbox.enabled:
            return refusal
        # Anyone may write to the unsubscribe address; relaying is refused at RCPT instead.
        if address != NULL_SENDER:
            try:
                address = check(address)
            except AddressError as exc:
                typed = session.typed_path or address
                if refusal:  # an outsider writing to the unsubscribe address: no audit row
                    return replies.bad_address("sender", typed, str(exc))
                return self._acceptor.invalid_address(session, "sender", typed, str(exc), "")
        sender = envelope_sender(address)
        user = session.user
        # The null sender names nobody, so no login's allowance can be abused with it.
        if (
            sender
            and user is not None
            and user.allowed_senders
            and not matches_glob(sender, user.allowed_senders)
        ):
            return replies.sender_not_allowed(sender, user.name)
        if user is not None and user.rate_per_minute > 0 and not await self._rate_allows(user):
            return replies.rate_limited(user.name, user.rate_per_minute)
        session.transaction = self._acceptor.begin(session, sender, refusal)
        # `<>` stays in the envelope as typed: aiosmtpd takes an empty one for "no MAIL yet".
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK

    async def _rate_allows(self, user: SmtpUser) -> bool:
        if self.ask_rate is not None:
            return await self.ask_rate(user)
        return self._rates.allow(user)

    def rate_allows(self, name: str) -> bool:
        """For a worker's login `name`: True (and its message counted) within its allowance."""
        user = self._users.get(name)
        return user is not None and self._rates.allow(user)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: GatewaySession,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        transaction = session.transaction
        assert transaction is not None  # aiosmtpd answers RCPT before MAIL with a 503
        if len(envelope.rcpt_tos) >= self._config.max_recipients:
            return replies.too_many_recipients(self._config.max_recipients)
        try:
            address = check(address)
            key = canonical(address)
        except AddressError as exc:
            if transaction.relay_refusal:  # an outsider's guesses fill no audit log
                return transaction.relay_refusal
            return self._acceptor.invalid_address(
                session,
                "recipient",
                session.typed_path or address,
                str(exc),
                transaction.sender,
            )
        if key in transaction.taken:
            return replies.RECIPIENT_DUPLICATE
        if self._acceptor.mailbox.owns(address):
            _take(transaction, envelope, key, address)
            return self._acceptor.mailbox.rcpt_reply(address)
        if transaction.relay_refusal:
            return transaction.relay_refusal
        refusal = await self._acceptor.recipient(transaction, address)
        if refusal:
            return refusal
        _take(transaction, envelope, key, address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: GatewaySession, envelope: Envelope) -> str:
        transaction = session.transaction
        assert transaction is not None  # GatewaySMTP.smtp_DATA wants a recipient first
        return await self._acceptor.message(transaction, _incoming(session, envelope))

    def data_limit(self, session: GatewaySession, envelope: Envelope, limit: int) -> int:
        """A message to the gateway's own mailboxes only (unsubscribe, reports) is small: an
        outsider may write to them, so they take `smtp.mailbox_max_size` at most (552 5.3.4)."""
        mailboxes = self._acceptor.mailbox
        if envelope.rcpt_tos and all(mailboxes.owns(r) for r in envelope.rcpt_tos):
            return min(limit, self._config.mailbox_max_size)
        return limit

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session fault: %r", error, exc_info=error)
        return replies.FAULT

    def _relay_refusal(self, session: GatewaySession) -> str | None:
        """No open relay: unauthenticated clients only from the allowed networks."""
        if session.authenticated:
            return None
        if self._config.require_auth:
            return replies.AUTH_REQUIRED
        host = _peer_host(session.peer)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return replies.AUTH_REQUIRED
        allowed = any(ip in net for net in self._networks) if self._networks else ip.is_loopback
        return None if allowed else replies.AUTH_REQUIRED


def envelope_sender(mail_from: str | None) -> str:
    """The sender as the message carries it: empty for the null sender (RFC 5321 §4.5.5)."""
    return "" if not mail_from or mail_from == NULL_SENDER else mail_from


def _take(transaction: Transaction, envelope: Envelope, key: str, address: str) -> None:
    transaction.taken.add(key)
    envelope.rcpt_tos.append(address)


def _peer_host(peer: Any) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


def _incoming(session: GatewaySession, envelope: Envelope) -> Incoming:
    data = envelope.original_content or b""
    user = session.user
    return Incoming(
        session_id=session.id,
        client=session.address,
        helo=session.host_name or "",
        auth_user=user.name if user is not None else "",
        tls=session.ssl is not None,
        sender=envelope_sender(envelope.mail_from),
        recipients=list(envelope.rcpt_tos),
        data=data,
    )
