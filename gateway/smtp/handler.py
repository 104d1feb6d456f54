"""One hook per SMTP phase; each answers with a reply line. Decisions live in gateway.accept."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope

from gateway.accept import FAULT, Acceptor
from gateway.addresses import AddressError, check, matches_glob
from gateway.config import SmtpConfig
from gateway.receive import Incoming
from gateway.smtp.server import GatewaySession

log = logging.getLogger(__name__)



class Handler:
    def __init__(self, config: SmtpConfig, acceptor: Acceptor) -> None:
        self._config = config
        self._acceptor = acceptor
        self._networks = [ipaddress.ip_network(n, strict=False) for n in config.allow_networks]

    async def handle_MAIL(
        self, server: SMTP, session: GatewaySession, envelope: Envelope, address: str,
        options: list[str],
    ) -> str:
        refusal = self._relay_refusal(session)
        if refusal and not self._acceptor.mailbox.enabled:
            return refusal
        # Anyone may write to the unsubscribe address; relaying is refused at RCPT instead.
        session.relay_refusal = refusal
        if address:
            try:
                address = check(address)
            except AddressError as exc:
                return f"553 5.1.7 Bad sender address: {exc}"
        user = session.user
        if user is not None and user.allowed_senders and not matches_glob(
            address, user.allowed_senders
        ):
            return f"550 5.7.1 Sender <{address}> is not allowed for login {user.name}"
        session.purpose, session.topic = self._acceptor.stream(user, address)
        session.rcpt_verdicts, session.rcpt_facts = {}, {}
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: GatewaySession, envelope: Envelope, address: str,
        options: list[str],
    ) -> str:
        # RFC 5321 §4.5.3.1.8 asks servers to take at least 100 recipients; past our limit
        # the client is told to send the rest in another transaction (RFC 3463 4.5.3).
        if len(envelope.rcpt_tos) >= self._config.max_recipients:
            return f"452 4.5.3 Too many recipients (at most {self._config.max_recipients})"
        try:
            address = check(address)
        except AddressError as exc:
            return f"553 5.1.3 Bad recipient address: {exc}"
        if address in envelope.rcpt_tos:
            return "250 2.1.5 Recipient OK (duplicate)"
        if self._acceptor.mailbox.owns(address):
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Unsubscribe address OK"
        if session.relay_refusal:
            return session.relay_refusal
        refusal = await self._acceptor.recipient(session, envelope.mail_from or "", address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: GatewaySession, envelope: Envelope) -> str:
        return await self._acceptor.message(session, _incoming(session, envelope))

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session fault: %r", error, exc_info=error)
        return FAULT

    def _relay_refusal(self, session: GatewaySession) -> str | None:
        """No open relay: unauthenticated clients only from the allowed networks."""
        if session.authenticated:
            return None
        if self._config.require_auth:
            return "530 5.7.0 Authentication required"
        host = _peer_host(session.peer)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return "530 5.7.0 Authentication required"
        allowed = any(ip in net for net in self._networks) if self._networks else ip.is_loopback
        return None if allowed else "530 5.7.0 Authentication required"


def _peer_host(peer: Any) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


def _incoming(session: GatewaySession, envelope: Envelope) -> Incoming:
    data = envelope.original_content or b""
    user = session.user
    return Incoming(
        session_id=session.id,
        client=session.client,
        helo=session.host_name or "",
        auth_user=user.name if user is not None else "",
        tls=session.ssl is not None,
        sender=envelope.mail_from or "",
        recipients=list(envelope.rcpt_tos),
        data=data,
    )
