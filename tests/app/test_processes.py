"""`gatekeeper serve` with several SMTP processes (smtp.processes, gateway/app/door.py and
workers.py): sessions spread, limits and AUTH failures counted across all processes, the
metrics summed, a dead worker replaced, and the workers gone with the serving process."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import smtplib
import socket
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from gateway.app import run
from gateway.config import Config
from gateway.passwords import hash_password
from tests.support.cli import run_cli
from tests.support.config import gateway_sections, write_config
from tests.support.messages import RECEIPT, send
from tests.support.servers import GatewayProcess
from tests.support.smtp import dialogue
from tests.support.waiting import wait_until


def children(pid: int) -> list[int]:
    """The worker processes of the serving process `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid"))
        if int(ppid) == pid and b"gateway.app.worker" in cmdline:
            found.append(int(entry))
    return found


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status


def start(tmp_path: Path, process_factory: Any, upstream_url: str, **smtp: Any) -> GatewayProcess:
    smtp = {"processes": 3, **smtp}
    sections = gateway_sections(tmp_path, upstream_url, smtp=smtp)
    proc: GatewayProcess = process_factory(write_config(tmp_path, sections)).start()
    assert proc.proc is not None
    assert len(children(proc.proc.pid)) == smtp["processes"] - 1, "workers beside the door"
    return proc


def greeting(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock, sock.recv(512)


async def test_mail_through_every_process_is_decided_delivered_and_counted(
    tmp_path, process_factory, upstream
):
    proc = start(tmp_path, process_factory, upstream.url)
    # Open sessions pin their process, so these six are served by three processes.
    clients = [smtplib.SMTP("127.0.0.1", proc.smtp_port, timeout=30) for _ in range(6)]
    for n, client in enumerate(clients):
        client.sendmail("app@example.com", [f"p{n}@example.org"], RECEIPT)
        client.quit()
    captured = upstream.handler.wait_for(6)
    assert {r for m in captured for r in m.recipients} == {f"p{n}@example.org" for n in range(6)}
    metrics = f"http://127.0.0.1:{proc.http_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(metrics) as reply:
        text = await reply.text()
    assert "gatekeeper_smtp_sessions_total 6.0" in text, "sessions of all processes summed"
    assert 'gatekeeper_delivery_attempts_total{outcome="delivered"} 6.0' in text
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{proc.http_port}/readyz"
        async with http.get(url) as reply:
            instance = (await reply.json())["instance"]
    with sqlite3.connect(tmp_path / "gatekeeper.db") as db:
        named = {row[0] for row in db.execute("SELECT DISTINCT instance FROM decision")}
    # Each process is the only writer of its own chain, so its rows name it.
    assert named == {instance, f"{instance}/w1", f"{instance}/w2"}, named
    verified = run_cli("--config", str(proc.config), "log", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_sessions_per_client_counted_across_processes(tmp_path, process_factory, upstream):
    proc = start(tmp_path, process_factory, upstream.url, max_sessions_per_client=3)
    held = [greeting(proc.smtp_port) for _ in range(3)]
    assert all(g.startswith(b"220") for _, g in held)
    extra, refused = greeting(proc.smtp_port)
    assert refused.startswith(b"421 4.7.0"), refused
    extra.close()
    held[0][0].sendall(b"QUIT\r\n")
    held[0][0].recv(512)
    held[0][0].close()

    async def admitted_again() -> bool:
        sock, reply = await asyncio.to_thread(greeting, proc.smtp_port)
        sock.close()
        return reply.startswith(b"220")

    asyncio.run(wait_until(admitted_again, 20))
    for sock, _ in held[1:]:
        sock.close()


def test_clients_at_their_limit_that_reconnect_at_once_are_not_refused(
    tmp_path, process_factory, upstream
):
    """Eight clients from one address, each sending five messages a session each, with
    max_sessions_per_client = 8: a session's end reaches the door a moment after the client
    has seen it, so the door waits for that news before it would refuse."""
    proc = start(tmp_path, process_factory, upstream.url, max_sessions_per_client=8)

    def client(n: int) -> list[dict]:
        return [send(proc.smtp_port, [f"c{n}m{m}@example.org"]) for m in range(5)]

    with ThreadPoolExecutor(8) as pool:
        refused = [r for refusals in pool.map(client, range(8)) for r in refusals if r]
    assert refused == []
    assert len(upstream.handler.wait_for(40)) >= 1


def test_a_flood_from_one_address_meets_421_while_another_is_served(
    tmp_path, process_factory, upstream
):
    proc = start(tmp_path, process_factory, upstream.url, max_sessions_per_client=10)
    flood = []
    for _ in range(30):
        sock = socket.create_connection(("127.0.0.1", proc.smtp_port), timeout=30)
        flood.append(sock)
    greetings = [sock.recv(512) for sock in flood]
    assert sum(g.startswith(b"220") for g in greetings) == 10
    assert sum(g.startswith(b"421 4.7.0") for g in greetings) == 20
    with smtplib.SMTP("127.0.0.1", proc.smtp_port, source_address=("127.0.0.2", 0)) as client:
        client.sendmail("app@example.com", ["other@example.org"], RECEIPT)
    assert upstream.handler.wait_for(1)
    for sock in flood:
        sock.close()


def auth_attempt(port: int, password: str) -> bytes:
    """One AUTH PLAIN in a session of its own: its reply's code."""
    token = base64.b64encode(f"\0app\0{password}".encode())
    replies = dialogue(port, [b"EHLO client.test", b"AUTH PLAIN " + token])
    return replies[-1][:3]


def test_auth_failures_count_in_every_process(tmp_path, process_factory, upstream):
    users = [{"name": "app", "password_hash": hash_password("right one", "scrypt")}]
    proc = start(
        tmp_path,
        process_factory,
        upstream.url,
        users=users,
        auth_max_failures=4,
        auth_delay=0.2,
    )
    # A session each, so spread over the three processes; the fourth failure is the limit
    # of all of them (421), and from then on even the right password is refused.
    codes = [auth_attempt(proc.smtp_port, "wrong") for _ in range(4)]
    assert codes == [b"535", b"535", b"535", b"421"], codes
    for _ in range(3):
        assert auth_attempt(proc.smtp_port, "right one") == b"421"


def test_a_logins_rate_is_one_count_over_every_process(tmp_path, process_factory, upstream):
    users = [
        {"name": "app", "password_hash": hash_password("right one", "scrypt"), "rate_per_minute": 3}
    ]
    proc = start(tmp_path, process_factory, upstream.url, users=users)

    def one_message(n: int) -> int:
        with smtplib.SMTP("127.0.0.1", proc.smtp_port, timeout=30) as client:
            client.login("app", "right one")
            code, _ = client.mail("app@example.com")
            return code

    # A session each, so spread over the three processes; the allowance is counted once.
    assert [one_message(n) for n in range(5)] == [250, 250, 250, 451, 451]


def test_a_dead_worker_is_replaced_and_mail_goes_on(tmp_path, process_factory, upstream):
    proc = start(tmp_path, process_factory, upstream.url)
    assert proc.proc is not None
    victim = children(proc.proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    asyncio.run(
        wait_until(
            lambda: len(children(proc.proc.pid)) == 2 and victim not in children(proc.proc.pid), 30
        )
    )
    for n in range(6):
        send(proc.smtp_port, [f"after{n}@example.org"])
    captured = upstream.handler.wait_for(6)
    assert {r for m in captured for r in m.recipients} == {
        f"after{n}@example.org" for n in range(6)
    }


def test_workers_end_with_the_serving_process(tmp_path, process_factory, upstream):
    proc = start(tmp_path, process_factory, upstream.url)
    assert proc.proc is not None
    workers = children(proc.proc.pid)
    proc.kill()  # SIGKILL: the workers are told by the kernel (PR_SET_PDEATHSIG)
    asyncio.run(wait_until(lambda: all(gone(pid) for pid in workers), 30))


def test_sigterm_stops_every_process(tmp_path, process_factory, upstream):
    proc = start(tmp_path, process_factory, upstream.url)
    assert proc.proc is not None
    workers = children(proc.proc.pid)
    send(proc.smtp_port, ["bye@example.org"])
    upstream.handler.wait_for(1)
    assert proc.terminate() == 0
    assert all(gone(pid) for pid in workers)


def test_a_bad_process_count_is_one_line_at_start(tmp_path, upstream):
    sections = gateway_sections(tmp_path, upstream.url, smtp={"processes": -1})
    result = run_cli("--config", str(write_config(tmp_path, sections)), "serve")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gatekeeper: {tmp_path / 'gatekeeper.toml'}: 'smtp.processes' must be 0 (one per core)"
        " to 64"
    ]


def test_one_process_per_core_the_container_may_use(tmp_path, monkeypatch):
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(run, "CGROUP_CPU_MAX", cpu_max)
    config = Config()
    cores = len(os.sched_getaffinity(0))
    assert run.process_count(config) == min(cores, run.DEFAULT_MAX_PROCESSES)  # no cgroup file
    cpu_max.write_text("max 100000\n")
    assert run.process_count(config) == min(cores, run.DEFAULT_MAX_PROCESSES)
    cpu_max.write_text("150000 100000\n")  # docker run --cpus=1.5
    assert run.process_count(config) == 1
    config.smtp.processes = 5
    assert run.process_count(config) == 5


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return 1024 * int(next(line.split()[1] for line in status.splitlines() if "VmRSS" in line))


def test_every_process_gives_a_large_message_back(tmp_path, process_factory, upstream):
    """12 MB messages in sessions of their own, three for each of two processes: every
    process gives the memory back after, a worker as the serving process does."""
    size = 12 * 1024 * 1024
    proc = start(tmp_path, process_factory, upstream.url, processes=2)
    assert proc.proc is not None
    pids = [proc.proc.pid, *children(proc.proc.pid)]
    send(proc.smtp_port, ["warm@example.org"])  # imports and first writes, before the base
    send(proc.smtp_port, ["warm2@example.org"])
    upstream.handler.wait_for(2)
    base = {pid: rss(pid) for pid in pids}
    line = b"x" * 76 + b"\r\n"
    big = b"From: <app@example.com>\r\nSubject: big\r\n\r\n" + line * (size // len(line))
    for n in range(6):
        send(proc.smtp_port, [f"big{n}@example.org"], big)
    upstream.handler.wait_for(8, 60)
    asyncio.run(wait_until(lambda: all(rss(p) - base[p] < size // 4 for p in pids), 30))
