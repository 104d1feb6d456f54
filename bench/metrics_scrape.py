"""/metrics under a 30k backlog: time per scrape and the gateway's RSS, 20 scrapers at once.

    .venv/bin/python bench/metrics_scrape.py [--tree DIR] [--cache SECONDS] [--backlog N]

Starts `gatekeeper serve` from the source tree DIR (default: this checkout; give an older
checkout, e.g. `git worktree add /tmp/before ac7ff2a`, for the figure before issue 11) with
SQLite and the outbox upstream, puts N spooled recipients straight into its database (due
far in the future, so delivery leaves them alone), then runs ROUNDS rounds of CONCURRENCY
simultaneous scrapes. Prints the scrape times and the process's RSS (VmRSS now, VmHWM peak).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

CONCURRENCY = 20
ROUNDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def fill(db: Path, count: int) -> None:
    with sqlite3.connect(db, timeout=30) as raw:
        raw.executemany(
            "INSERT INTO spool_message (id, received_at, sender, data) VALUES (?, ?, ?, ?)",
            [(f"b{n:07d}", 1e9 + n, "app@example.com", b"x" * 2048) for n in range(count)],
        )
        raw.executemany(
            "INSERT INTO spool_recipient (message_id, address, next_attempt) VALUES (?, ?, ?)",
            [(f"b{n:07d}", f"r{n}@example.org", 1e12) for n in range(count)],
        )


async def scrape_rounds(url: str) -> list[float]:
    times: list[float] = []
    async with aiohttp.ClientSession() as http:

        async def one() -> None:
            start = time.perf_counter()
            async with http.get(url) as reply:
                await reply.read()
                assert reply.status == 200, reply.status
            times.append(time.perf_counter() - start)

        for _ in range(ROUNDS):
            await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--cache", type=float, default=None, help="http.metrics_cache_seconds")
    parser.add_argument("--backlog", type=int, default=30_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gk-metrics-"))
    http_port = free_port()
    cache = "" if args.cache is None else f"metrics_cache_seconds = {args.cache}\n"
    (work / "gatekeeper.toml").write_text(
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\nhostname = "bench.test"\n'
        f'[http]\nlisten = "127.0.0.1:{http_port}"\n{cache}'
        f'[store]\nurl = "sqlite:///{work}/gk.db"\nsynchronous = "NORMAL"\n'
        f'[upstream]\nurl = "outbox:{work}/outbox"\n'
    )
    env = dict(os.environ, PYTHONPATH=args.tree)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(work / "gatekeeper.toml")],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        idle = rss_kib(proc.pid)
        fill(work / "gk.db", args.backlog)
        times = asyncio.run(scrape_rounds(f"http://127.0.0.1:{http_port}/metrics"))
        after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    times.sort()
    ms = [t * 1000 for t in times]
    print(
        f"tree={args.tree} backlog={args.backlog} scrapes={len(ms)} ({CONCURRENCY} at once)"
        f" cache={args.cache if args.cache is not None else 'default'}"
    )
    print(
        f"  scrape ms: median {statistics.median(ms):.1f}  p95 {ms[int(len(ms) * 0.95) - 1]:.1f}"
        f"  max {ms[-1]:.1f}"
    )
    print(
        f"  RSS MiB: idle {idle['VmRSS'] / 1024:.0f} (peak {idle['VmHWM'] / 1024:.0f})"
        f"  after {after['VmRSS'] / 1024:.0f}"
        f"  peak {after['VmHWM'] / 1024:.0f}"
    )


if __name__ == "__main__":
    main()
