"""AUTH PLAIN/LOGIN over STARTTLS with a test CA, and the refusals around it."""

from __future__ import annotations

import asyncio
import smtplib
import ssl

import pytest
import trustme

from gateway.config import SmtpUser
from gateway.passwords import hash_password, verify_password
from gateway.smtp import auth as smtp_auth
from gateway.smtp.auth import Authenticator
from tests.support.cli import run_cli

PASSWORD = "correct horse battery staple"


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


@pytest.fixture
async def tls_gateway(upstream, gateway_factory, tls_files):
    cert, key, _ = tls_files
    return await gateway_factory(
        upstream.url,
        smtp={
            "tls_cert": str(cert),
            "tls_key": str(key),
            "require_auth": True,
            # a loopback test listener that behaves like a public one
            "auth_require_tls": True,
            "users": [
                {
                    "name": "app",
                    "password_hash": hash_password(PASSWORD, "scrypt"),
                    "allowed_senders": ["*@example.com"],
                }
            ],
        },
    )


def client_context(ca_file) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


async def test_smtplib_auth_after_starttls(tls_gateway, tls_files, upstream):
    _, _, ca_file = tls_files

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", tls_gateway.smtp_port) as client:
            client.ehlo()
            assert "auth" not in client.esmtp_features  # not offered before TLS
            client.starttls(context=client_context(ca_file))
            client.ehlo()
            assert "PLAIN" in client.esmtp_features["auth"]
            client.login("app", PASSWORD)
            client.sendmail("app@example.com", ["x@example.org"], b"Subject: t\r\n\r\nhi\r\n")

    await asyncio.to_thread(send)
    data = (await asyncio.to_thread(upstream.handler.wait_for, 1))[0].data
    assert b"with ESMTPSA id" in data


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_swaks_auth_over_starttls(tls_gateway, tls_files, upstream, mechanism):
    _, _, ca_file = tls_files
    proc = await asyncio.create_subprocess_exec(
        "swaks",
        "--server",
        "127.0.0.1",
        "--port",
        str(tls_gateway.smtp_port),
        "--tls",
        "--tls-ca-path",
        str(ca_file),
        "--tls-verify",
        "--auth",
        mechanism,
        "--auth-user",
        "app",
        "--auth-password",
        PASSWORD,
        "--from",
        "app@example.com",
        "--to",
        "y@example.org",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    assert b"235 2.7.0" in out
    await asyncio.to_thread(upstream.handler.wait_for, 1)


async def test_wrong_password_gets_535(tls_gateway, tls_files):
    _, _, ca_file = tls_files

    def login() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", tls_gateway.smtp_port) as client:
            client.starttls(context=client_context(ca_file))
            try:
                client.login("app", "wrong password")
            except smtplib.SMTPAuthenticationError as exc:
                return exc.smtp_code, exc.smtp_error
            raise AssertionError("login with a wrong password succeeded")

    code, text = await asyncio.to_thread(login)
    assert code == 535 and text.startswith(b"5.7.8")


async def test_auth_before_starttls_is_refused(tls_gateway):
    def attempt() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", tls_gateway.smtp_port) as client:
            client.ehlo()
            return client.docmd("AUTH", "PLAIN AGFwcABjb3JyZWN0")

    code, text = await asyncio.to_thread(attempt)
    assert code == 538 and text.startswith(b"5.7.11")


async def test_mail_without_auth_is_refused(tls_gateway, tls_files):
    _, _, ca_file = tls_files

    def attempt() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", tls_gateway.smtp_port) as client:
            client.starttls(context=client_context(ca_file))
            client.ehlo()
            return client.mail("app@example.com")

    assert await asyncio.to_thread(attempt) == (530, b"5.7.0 Authentication required")


async def test_sender_outside_login_allowance_is_refused(tls_gateway, tls_files):
    _, _, ca_file = tls_files

    def attempt() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", tls_gateway.smtp_port) as client:
            client.starttls(context=client_context(ca_file))
            client.login("app", PASSWORD)
            return client.mail("ceo@other.example")

    code, text = await asyncio.to_thread(attempt)
    assert code == 550 and text.startswith(b"5.7.1")


async def test_verified_password_is_remembered_but_others_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The slow hash check itself, counted: the memory is what spares a second check.
    checked: list[str] = []
    real = smtp_auth.verify_password

    def counted(password: str, encoded: str) -> bool:
        checked.append(password)
        return real(password, encoded)

    monkeypatch.setattr(smtp_auth, "verify_password", counted)
    auth = Authenticator([SmtpUser("app", hash_password(PASSWORD, "argon2"))])
    assert (await auth.verify("app", PASSWORD)) is not None
    assert (await auth.verify("app", PASSWORD)) is not None
    assert checked == [PASSWORD]  # the second login was answered from memory
    assert await auth.verify("app", PASSWORD + "x") is None
    assert checked == [PASSWORD, PASSWORD + "x"]  # another password is hashed, not remembered
    assert (await auth.verify("app", PASSWORD)) is not None
    assert len(checked) == 2  # a wrong try does not make the right one forgotten
    assert await auth.verify("nobody", PASSWORD) is None
    assert len(checked) == 3  # an unknown name is hashed too (against the decoy)


def test_user_add_prints_config_lines():
    result = run_cli("user", "add", "billing", "--password-stdin", input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "[[smtp.users]]" and lines[1] == 'name = "billing"'
    encoded = lines[2].split(" = ", 1)[1].strip('"')
    assert verify_password(PASSWORD, encoded)
    assert not verify_password("nope", encoded)
