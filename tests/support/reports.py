"""Reports as remote MTAs and feedback loops send them back, built around a message the
capturing upstream received: an RFC 3464 DSN and an RFC 5965 ARF complaint."""

from __future__ import annotations


def _headers(original: bytes) -> str:
    return original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


def dsn(original: bytes, recipient: str, status: str, diagnostic: str) -> bytes:
    """A failure DSN for `recipient`, the original's header returned (RFC 3464 §2)."""
    text = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>\r\n"
        "To: <bounces@gw.test>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn.1@mx.remote.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.remote.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Remote-MTA: dns; mx.remote.example\r\nDiagnostic-Code: smtp; {diagnostic}\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{_headers(original)}\r\n\r\n--B--\r\n"
    )
    return text.encode()


def arf(original: bytes, recipient: str | None, feedback_type: str = "abuse") -> bytes:
    """A feedback-loop report; `recipient` None redacts it, as most providers do."""
    rcpt = f"Original-Rcpt-To: <{recipient}>\r\n" if recipient else ""
    text = (
        "From: Feedback Loop <fbl@mailbox.example>\r\n"
        "To: <postmaster@bounces.gw.test>\r\n"
        "Subject: Abuse report\r\n"
        "Message-ID: <arf.1@mailbox.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        "\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        "\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\nUser-Agent: TestFBL/1.0\r\nVersion: 1\r\n{rcpt}"
        "Reporting-MTA: dns; fbl.mailbox.example\r\nSource-IP: 192.0.2.9\r\n"
        "\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{_headers(original)}\r\n\r\n--F--\r\n"
    )
    return text.encode()
