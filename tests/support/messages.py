"""Messages the tests send through the gateway, byte for byte, and sending one as an app does."""

from __future__ import annotations

import smtplib

RECEIPT = (
    b"From: App <app@example.com>\r\n"
    b"To: someone@example.org\r\n"
    b"Subject: Receipt 42\r\n"
    b"Message-ID: <receipt-42@example.com>\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\r\n"
    b"\th=from:to:subject; bh=abc; b=def\r\n"
    b"\r\n"
    b"Thank you for your order.\r\n"
    b".leading dot survives\r\n"
    b"Trailing  spaces   \r\n"
)
"""Transactional mail from the transactional stream of `config.gateway_sections`; the odd
lines are there to show the bytes arrive intact."""

MARKETING = (
    b"From: Shop <news@shop.example>\r\n"
    b"To: list@shop.example\r\n"
    b"Subject: November offers\r\n"
    b"Message-ID: <offers-1@shop.example>\r\n"
    b"X-Gatekeeper-Purpose: marketing\r\n"
    b"X-Gatekeeper-Topic: newsletter\r\n"
    b"\r\n"
    b"Our offers. Unsubscribe: %unsubscribe_url%\r\n"
)
"""A newsletter that declares its purpose and topic in headers and carries the link."""


def send(
    port: int, recipients: list[str], data: bytes = RECEIPT, sender: str = "app@example.com"
) -> dict[str, tuple[int, bytes]]:
    """smtplib's sendmail to the gateway on `port`: the recipients it refused, if any."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(sender, recipients, data)
