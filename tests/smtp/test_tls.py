"""TLS on both SMTP listeners: STARTTLS on smtp.listen, implicit TLS on smtp.tls_listen
(RFC 8314 §3), TLS 1.2+ with Mozilla's intermediate suites, and a certificate swapped under
a running `gatekeeper serve` and reloaded on SIGHUP without dropping the open session."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import smtplib
import socket
import ssl
from pathlib import Path

import pytest
import trustme

from gateway.passwords import hash_password
from gateway.startup import INTERMEDIATE_CIPHERS
from tests.support.config import gateway_sections, write_config
from tests.support.servers import free_port
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery staple"
USERS = [
    {
        "name": "app",
        "password_hash": hash_password(PASSWORD, "scrypt"),
        "allowed_senders": ["*@example.com"],
    }
]


def issue(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return cert_file, key_file


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return authority, ca_file


@pytest.fixture
async def tls_gateway(upstream, gateway_factory, ca, tmp_path):
    cert, key = issue(ca[0], tmp_path)
    return await gateway_factory(
        upstream.url,
        smtp={
            "tls_cert": str(cert),
            "tls_key": str(key),
            "tls_listen": "127.0.0.1:0",
            "require_auth": True,
            "auth_require_tls": True,  # a loopback listener that behaves like a public one
            "users": USERS,
        },
    )


def tls_port(gateway) -> int:
    return int(gateway.tls_server.sockets[0].getsockname()[1])


async def swaks(port: int, ca_file: Path, tls_flag: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *("swaks", "--server", "127.0.0.1", "--port", str(port), tls_flag),
        *("--tls-ca-path", str(ca_file), "--tls-verify"),
        *("--auth", "PLAIN", "--auth-user", "app", "--auth-password", PASSWORD),
        *("--from", "app@example.com", "--to", "y@example.org"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    return out


async def test_swaks_auth_over_implicit_tls(tls_gateway, ca, upstream):
    out = await swaks(tls_port(tls_gateway), ca[1], "--tlsc")
    assert b"235 2.7.0" in out
    assert b"STARTTLS" not in out.split(b"EHLO", 1)[1]  # not offered inside TLS (RFC 8314)
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert b"with ESMTPSA id" in captured.data


async def test_swaks_auth_over_starttls(tls_gateway, ca, upstream):
    out = await swaks(tls_gateway.smtp_port, ca[1], "-tls")
    assert b"235 2.7.0" in out
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert b"with ESMTPSA id" in captured.data


def handshake(port: int, ca_file: Path, *, maximum: ssl.TLSVersion, ciphers: str = "") -> str:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.maximum_version = maximum
    if ciphers:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        cipher = tls.cipher()
        assert cipher is not None
        return cipher[0]


async def test_tls12_gets_an_intermediate_suite_and_legacy_suites_are_refused(tls_gateway, ca):
    port = tls_port(tls_gateway)
    name = await asyncio.to_thread(handshake, port, ca[1], maximum=ssl.TLSVersion.TLSv1_2)
    assert name in INTERMEDIATE_CIPHERS.split(":")
    # A TLS 1.2 client offering only CBC/SHA-1 and static-RSA suites finds none in common.
    with pytest.raises(ssl.SSLError):
        await asyncio.to_thread(
            handshake,
            port,
            ca[1],
            maximum=ssl.TLSVersion.TLSv1_2,
            ciphers="@SECLEVEL=0:AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA",
        )
    # A failed handshake leaves no session behind (none is made before the handshake).
    await wait_until(lambda: not tls_gateway.sessions)


def fingerprint(port: int, ca_file: Path) -> str:
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return hashlib.sha256(der).hexdigest()


def pem_fingerprint(cert_file: Path) -> str:
    first = (
        cert_file.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----"
    )
    pem = first[first.index("-----BEGIN CERTIFICATE-----") :]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


async def test_sighup_reloads_the_certificate_and_keeps_open_sessions(
    tmp_path, upstream, ca, process_factory
):
    authority, ca_file = ca
    cert, key = issue(authority, tmp_path)
    old = pem_fingerprint(cert)
    implicit = free_port()
    sections = gateway_sections(
        tmp_path,
        upstream.url,
        smtp={"tls_cert": str(cert), "tls_key": str(key), "tls_listen": f"127.0.0.1:{implicit}"},
    )
    gateway = process_factory(write_config(tmp_path, sections)).start()
    assert await asyncio.to_thread(fingerprint, implicit, ca_file) == old

    context = ssl.create_default_context(cafile=str(ca_file))
    opened = smtplib.SMTP_SSL("127.0.0.1", implicit, context=context, timeout=30)
    try:
        await asyncio.to_thread(opened.ehlo)
        issue(authority, tmp_path)  # a new certificate and key over the old files
        new = pem_fingerprint(cert)
        assert new != old
        assert gateway.proc is not None
        gateway.proc.send_signal(signal.SIGHUP)

        async def implicit_sees_new() -> bool:
            return await asyncio.to_thread(fingerprint, implicit, ca_file) == new

        await wait_until(implicit_sees_new)

        def starttls_fingerprint() -> str:
            with smtplib.SMTP("127.0.0.1", gateway.smtp_port, timeout=30) as client:
                client.starttls(context=ssl.create_default_context(cafile=str(ca_file)))
                der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
                return hashlib.sha256(der).hexdigest()

        assert await asyncio.to_thread(starttls_fingerprint) == new
        # The session opened before the reload still works, on its old certificate.
        der = opened.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        assert hashlib.sha256(der).hexdigest() == old
        message = b"From: app@example.com\r\nSubject: after reload\r\n\r\nhi\r\n"
        refused = await asyncio.to_thread(
            opened.sendmail, "app@example.com", ["z@example.org"], message
        )
        assert refused == {}
        (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
        assert b"after reload" in captured.data
    finally:
        opened.close()
