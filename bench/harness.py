"""What the Python probes of run_all.sh share: smtp-sink, the relay under test started from a
`--relay-cmd` (as run_bench.sh does: `{RELAY_PORT}`, `{SINK_PORT}`), process-tree memory, a
minimal SMTP client. Loopback only; every process started here is stopped by its own id.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
REPLY_TIMEOUT = 30.0
_MESG = re.compile(rb"mesg=(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """TERM to the process group it leads (started with start_new_session), KILL if needed."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def sink_and_relay(relay_cmd: str, workdir: Path, start_wait: float = 120.0) -> Iterator[Ports]:
    """smtp-sink (counting messages into workdir/sink.cnt) and the relay in front of it."""
    ports = Ports(sink=free_port(), relay=free_port(), counter=workdir / "sink.cnt")
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with ports.counter.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    ["smtp-sink", *user, "-c", f"127.0.0.1:{ports.sink}", "1024"],
                    stdout=out,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        if not wait_listening(ports.sink, 10):
            raise SystemExit("smtp-sink did not start")
        cmd = relay_cmd.replace("{SINK_PORT}", str(ports.sink))
        cmd = cmd.replace("{RELAY_PORT}", str(ports.relay))
        with (workdir / "relay.out").open("wb") as log:
            # gatekeeper_relay.sh's store under workdir: removed with it even when the relay
            # is killed before its own clean-up.
            relay = subprocess.Popen(
                ["bash", "-c", f"exec {cmd}"],
                stdout=log,
                stderr=log,
                start_new_session=True,
                env=dict(os.environ, GK_BENCH_TMP=str(workdir)),
            )
        procs.append(relay)
        ports.relay_pid = relay.pid
        if not wait_listening(ports.relay, start_wait):
            raise SystemExit(f"relay did not start: {(workdir / 'relay.out').read_text()[-500:]}")
        yield ports
    finally:
        for proc in reversed(procs):
            stop(proc)


class Ports:
    def __init__(self, sink: int, relay: int, counter: Path) -> None:
        self.sink, self.relay, self.counter = sink, relay, counter
        self.relay_pid = 0

    def delivered(self) -> int:
        """Messages smtp-sink has counted (its -c records; one per completed DATA)."""
        found = _MESG.findall(self.counter.read_bytes()[-200:])
        return int(found[-1]) if found else 0


def tree(root: int) -> list[int]:
    """root and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pids: list[int]) -> int:
    """Sum of the processes' resident pages (statm: cheaper than status)."""
    total = 0
    for pid in pids:
        with suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    return total


def pss_kb(pids: list[int]) -> int:
    """Sum of proportional set sizes: pages shared between workers counted once overall."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total


async def reply(reader: asyncio.StreamReader) -> bytes:
    """The last line of a (multi-line) SMTP reply."""
    while True:
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
        if not line:
            raise ConnectionError("connection closed")
        if line[3:4] != b"-":
            return line


async def session(
    port: int, payload: bytes, sender: str, rcpt: str, source: str = "127.0.0.1"
) -> bytes:
    """One message in a session of its own (from `source`, any 127/8 address): the reply to
    its end of data. `payload` is dot-safe, ends with CRLF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        await reply(reader)
        for command in (b"EHLO client.bench.test", f"MAIL FROM:<{sender}>".encode()):
            writer.write(command + b"\r\n")
            await reply(reader)
        for command in (f"RCPT TO:<{rcpt}>".encode(), b"DATA"):
            writer.write(command + b"\r\n")
            await reply(reader)
        writer.write(payload + b".\r\n")
        await writer.drain()
        answer = await reply(reader)
        writer.write(b"QUIT\r\n")
        await reply(reader)
        return answer
    finally:
        writer.close()


def message(size: int, sender: str, rcpt: str, subject: str = "bench") -> bytes:
    """A plain message of about `size` bytes, dot-safe (no line starts with a dot)."""
    head = (
        f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
        "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{time.time_ns()}@src.example.com>\r\n"
        "\r\n"
    ).encode()
    line = b"La de da de da, a bench message line of plain text for the relay under test.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))
