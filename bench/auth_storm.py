"""Time to serve a normal DKIM-signed session while 100 clients hammer AUTH with wrong
passwords (issue 11: it was 8.6-9.7 s instead of 10 ms while password checks and DKIM
signing shared the default thread pool).

`gatekeeper serve` runs as a process of its own (outbox upstream, Ed25519 DKIM); this script
is the clients. A normal session is connect, EHLO, MAIL, RCPT, DATA (a transactional
message, signed), QUIT, timed from the client; 30 of them one after another, first with no
storm, then during the storm in two configurations: the default throttle (each storm
address is slowed and then cut off with 421 after 10 failures, so it reconnects from the
next address) and no throttle (auth_delay = 0, auth_max_failures = 1,000,000: the password
pool stays saturated for the whole run, which isolates the pools' effect).

    .venv/bin/python bench/auth_storm.py
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.passwords import hash_password

STORM_CLIENTS = 100
SESSIONS = 30
MESSAGE = (
    b"From: app@example.com\r\nTo: you@example.org\r\nSubject: Your receipt\r\n"
    b"X-Gatekeeper-Purpose: transactional\r\n\r\n" + b"Thank you for your order.\r\n" * 20
)


def write_config(folder: Path, throttle: dict[str, float]) -> Path:
    key = folder / "dkim.pem"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    smtp = "\n".join(f"{name} = {value}" for name, value in throttle.items())
    config = folder / "gatekeeper.toml"
    config.write_text(
        f"""[smtp]
listen = "127.0.0.1:0"
hostname = "gw.example.com"
{smtp}
[[smtp.users]]
name = "app"
password_hash = "{hash_password("right password")}"
[http]
listen = "127.0.0.1:0"
[store]
url = "sqlite:///{folder / "gk.db"}"
[upstream]
url = "outbox:{folder / "outbox"}"
[dkim]
domain = "example.com"
selector = "s1"
key_file = "{key}"
[logging]
level = "ERROR"
"""
    )
    return config


async def reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line or line[3:4] != b"-":
            return line


async def normal_session(port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    for command in (b"EHLO app.example.com", b"MAIL FROM:<app@example.com>"):
        writer.write(command + b"\r\n")
        await reply(reader)
    writer.write(b"RCPT TO:<you@example.org>\r\nDATA\r\n")
    await reply(reader)
    await reply(reader)
    writer.write(MESSAGE + b".\r\n")
    answer = await reply(reader)
    assert answer.startswith(b"250"), answer
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()
    return time.perf_counter() - started


async def storm_client(port: int, index: int, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Wrong passwords; a new connection (from the next address) whenever cut off."""
    address = 0
    while not stop.is_set():
        source = f"127.{1 + index}.{address // 250}.{1 + address % 250}"
        address += 1
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
        except OSError:
            continue
        try:
            await reply(reader)
            writer.write(b"EHLO storm\r\n")
            await reply(reader)
            while not stop.is_set():
                guess = base64.b64encode(f"\0app\0wrong {address}".encode()).decode()
                writer.write(f"AUTH PLAIN {guess}\r\n".encode())
                code = (await reply(reader))[:3].decode() or "eof"
                counts[code] = counts.get(code, 0) + 1
                if code in ("421", "eof"):
                    break
        finally:
            writer.close()


async def measure(port: int, storm: bool) -> tuple[list[float], dict[str, int]]:
    stop = asyncio.Event()
    counts: dict[str, int] = {}
    tasks = []
    if storm:
        tasks = [
            asyncio.create_task(storm_client(port, i, stop, counts)) for i in range(STORM_CLIENTS)
        ]
        while sum(counts.values()) < 2 * STORM_CLIENTS:  # the storm is under way
            await asyncio.sleep(0.05)
    times = [await normal_session(port) for _ in range(SESSIONS)]
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return times, counts


def run(name: str, throttle: dict[str, float], storm: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), throttle)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(config), "serve"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            port = int(dict(p.split("=") for p in line.split()[1:])["smtp"])
            times, counts = asyncio.run(measure(port, storm))
        finally:
            proc.terminate()
            proc.wait(30)
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(
        f"{name:<28} median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  "
        f"max {ms[-1]:7.1f} ms  storm replies {dict(sorted(counts.items()))}"
    )


def main() -> None:
    unthrottled = {"auth_delay": 0, "auth_max_failures": 1_000_000}
    run("no storm", {}, storm=False)
    run("storm, default throttle", {}, storm=True)
    run("storm, no throttle", unthrottled, storm=True)


if __name__ == "__main__":
    main()
