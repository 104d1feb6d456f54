"""STARTTLS command injection (CVE-2011-0411 and its kin, aiosmtpd's CVE-2024-27305 class).

Commands pipelined behind STARTTLS in the same packet arrive in plaintext and must be thrown
away: only what is sent inside TLS counts (RFC 3207 §4.2).
"""

from __future__ import annotations

import ssl

import pytest
import trustme

from tests.hostile.wire import Wire


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file, ca_file = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    return cert_file, key_file, ca_file


@pytest.mark.parametrize(
    "injected",
    [
        b"RSET\r\n",
        b"MAIL FROM:<injected@example.com>\r\n",
        b"NOOP\r\nNOOP\r\nNOOP\r\n",
        b"EHLO injected.example\r\nMAIL FROM:<injected@example.com>\r\n",
    ],
    ids=["rset", "mail", "noops", "ehlo-mail"],
)
async def test_commands_pipelined_behind_starttls_are_discarded(
    upstream, gateway_factory, tls_files, injected
):
    cert, key, ca_file = tls_files
    gw = await gateway_factory(upstream.url, smtp={"tls_cert": str(cert), "tls_key": str(key)})
    wire = await Wire.open(gw.smtp_port)
    try:
        assert b"STARTTLS" in await wire.command(b"EHLO client.test")
        await wire.send(b"STARTTLS\r\n" + injected)
        assert (await wire.reply()).startswith(b"220 ")
        # Nothing answered in plaintext after the 220 (a reply here would also break TLS).
        assert not wire.reader._buffer  # type: ignore[attr-defined]
        context = ssl.create_default_context(cafile=str(ca_file))
        await wire.writer.start_tls(context, server_hostname="localhost")

        # The first reply inside TLS is EHLO's own, not one for an injected command.
        ehlo = await wire.command(b"EHLO client.test")
        assert ehlo.startswith(b"250-gw.test"), ehlo
        assert b"STARTTLS" not in ehlo
        # No injected MAIL opened a transaction: this MAIL is the first, and is accepted.
        assert (await wire.command(b"MAIL FROM:<app@example.com>")).startswith(b"250 ")
        assert (await wire.command(b"RCPT TO:<tls@example.org>")).startswith(b"250 ")
        assert (await wire.command(b"QUIT")).startswith(b"221 ")
    finally:
        await wire.close()
