"""Issue 11's figures: RSS with five parallel 20 MB messages, and the time to serve a normal
session during a flood of 500 idle connections. Loopback only, bounded in count and time.

    .venv/bin/python -m bench.smtp_hostile memory [--size-mb 20] [--parallel 5]
        [--dkim] [--header "X-Gatekeeper-Purpose: transactional"]   # signed / fields stripped
    .venv/bin/python -m bench.smtp_hostile flood [--idle 500] [--sessions 50]
    .venv/bin/python -m bench.smtp_hostile ... --tree /tmp/other-checkout   # another tree

Starts `python -m gateway serve` (from `--tree`, default this one) with a fresh SQLite
store and the outbox as upstream, a transactional stream for the sender, one SMTP process
(`smtp.processes = 1`: the one measured is the one that takes the mail), and reads its
/proc/PID/status (VmRSS; VmHWM is the peak).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import reply, session, status_kb

HERE = Path(__file__).resolve().parent.parent

CONFIG = """
[smtp]
listen = "127.0.0.1:0"
hostname = "gw.bench"
max_message_size = {max_size}
[http]
listen = "127.0.0.1:0"
[store]
url = "sqlite:///{dir}/gatekeeper.db"
[upstream]
url = "outbox:{dir}/outbox"
[[streams]]
sender = "app@example.com"
purpose = "transactional"
"""


DKIM = """
[dkim]
domain = "example.com"
selector = "bench"
key_file = "{dir}/dkim.pem"
"""


def start(
    tree: Path, folder: Path, max_size: int, dkim: bool = False
) -> tuple[subprocess.Popen[str], int]:
    config = folder / "gatekeeper.toml"
    text = CONFIG.format(dir=folder, max_size=max_size)
    if dkim:  # every message signed (transform/dkim.py): the body hashed a window at a time
        write_dkim_key(folder / "dkim.pem")
        text += DKIM.format(dir=folder)
    config.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(tree))
    if "processes" in (tree / "gateway" / "config.py").read_text():  # trees that know it
        env["GATEKEEPER_SMTP__PROCESSES"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=folder,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY"):
            return proc, int(line.split()[1].partition("=")[2])
    proc.kill()
    raise SystemExit("the gateway did not start")


def write_dkim_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def reset_peak(pid: int) -> None:
    """VmHWM back to the current RSS (Linux clear_refs 5): otherwise the peak is start-up's
    (the AUTH decoy hash, argon2 with 64 MiB, made in smtp/auth.py), not the messages'."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as exc:
        print(f"cannot reset VmHWM ({exc}): the peak below may be start-up's")


async def send(port: int, message: bytes, source: str = "127.0.0.1") -> bytes:
    return await session(port, message, "app@example.com", "a@example.org", source)


def message_of(size: int, extra: bytes = b"") -> bytes:
    head = b"From: <app@example.com>\r\nTo: <a@example.org>\r\nSubject: big\r\n" + extra + b"\r\n"
    line = b"x" * 76 + b"\r\n"
    return head + line * (size // len(line))


async def memory(port: int, pid: int, size_mb: int, parallel: int, header: str) -> None:
    message = message_of(size_mb * 1024 * 1024, header.encode() + b"\r\n" if header else b"")
    await send(port, message_of(1000))  # warm: imports, first store writes
    reset_peak(pid)
    base = status_kb(pid, "VmRSS")
    answers = await asyncio.gather(*(send(port, message) for _ in range(parallel)))
    assert all(a.startswith(b"250") for a in answers), answers
    peak = status_kb(pid, "VmHWM")
    await asyncio.sleep(float(os.environ.get("GK_SETTLE", "5")))  # delivery, then idle
    after = status_kb(pid, "VmRSS")
    anon, file = status_kb(pid, "RssAnon"), status_kb(pid, "RssFile")
    total = parallel * len(message) / 1024
    print(f"messages: {parallel} x {len(message) / 1e6:.1f} MB in parallel")
    print(f"RSS before: {base / 1024:.0f} MB")
    print(f"peak (VmHWM): {peak / 1024:.0f} MB  (+{(peak - base) / total:.2f} x the bytes sent)")
    print(
        f"RSS 5 s after: {after / 1024:.0f} MB  (+{(after - base) / 1024:.0f} MB; "
        f"anonymous {anon / 1024:.0f} MB, file-backed {file / 1024:.0f} MB)"
    )


async def flood(port: int, idle: int, sessions: int) -> None:
    small = message_of(2000)

    async def timed() -> list[float]:
        times = []
        for _ in range(sessions):
            started = time.perf_counter()
            assert (await send(port, small)).startswith(b"250")
            times.append((time.perf_counter() - started) * 1000)
        return times

    quiet = await timed()
    held = []
    refused = 0
    for _ in range(idle):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.0.0.2", 0)
        )
        greeting = await reply(reader)
        refused += greeting.startswith(b"421")
        held.append(writer)
    busy = await timed()
    for writer in held:
        writer.close()
    print(f"flood: {idle} idle connections from 127.0.0.2, {refused} refused with 421")
    for name, times in (("no flood", quiet), ("during the flood", busy)):
        print(
            f"normal session ({name}): median {statistics.median(times):.1f} ms, "
            f"max {max(times):.1f} ms over {len(times)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("memory", "flood"))
    parser.add_argument("--tree", type=Path, default=HERE)
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=5)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--dkim", action="store_true", help="memory: sign every message")
    parser.add_argument("--header", default="", help="memory: a field added to the message")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gk_bench_") as folder:
        max_size = (args.size_mb + 5) * 1024 * 1024
        proc, port = start(args.tree, Path(folder), max_size, args.dkim)
        try:
            if args.what == "memory":
                asyncio.run(memory(port, proc.pid, args.size_mb, args.parallel, args.header))
            else:
                asyncio.run(flood(port, args.idle, args.sessions))
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
