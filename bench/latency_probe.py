"""Added latency of the relay at a fixed rate (issue 14, workload 4): MAIL .. the 250 after
DATA, timed per message, straight to smtp-sink and through the relay, at the same rate.

  python3 -m bench.latency_probe --rate R --count N --relay-cmd 'CMD {RELAY_PORT} {SINK_PORT}'

Starts smtp-sink and the relay (as run_bench.sh does), then for each target sends N messages
open loop: message i starts at start + i/R on its own connection (connect, greeting, HELO
untimed), whatever the earlier ones are doing, so a relay that falls behind shows as latency
rather than as a slower send rate. The probe alone is the load (no smtp-source beside it):
the rate is then exactly R and the figure is the relay's own added latency at that rate.
Prints one line: the p50/p99 of each target and the differences (percentile of the relay
minus the same percentile direct; the messages are not paired). Bounded: --max-seconds per
target, at most --inflight transactions open at once. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.harness import message, reply, sink_and_relay

SENDER = "sender@src.example.com"
RCPT = "rcpt@dst.example.com"


class Run:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.errors = 0
        self.late = 0.0
        self.first_error = ""


async def transaction(port: int, payload: bytes, run: Run) -> None:
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reply(reader)
        writer.write(b"HELO client.bench.test\r\n")
        await reply(reader)
        started = time.perf_counter()
        for command in (f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RCPT}>", "DATA"):
            writer.write(command.encode() + b"\r\n")
            answer = await reply(reader)
            if answer[:1] not in (b"2", b"3"):
                raise ConnectionError(answer.decode(errors="replace").strip())
        writer.write(payload + b".\r\n")
        answer = await reply(reader)
        elapsed = time.perf_counter() - started
        if not answer.startswith(b"250"):
            raise ConnectionError(answer.decode(errors="replace").strip())
        run.times.append(elapsed * 1000)
        writer.write(b"QUIT\r\n")
        await reply(reader)
    except (TimeoutError, OSError, ConnectionError) as exc:
        run.errors += 1
        run.first_error = run.first_error or str(exc) or type(exc).__name__
    finally:
        if writer is not None:
            writer.close()


async def drive(
    port: int, rate: float, count: int, payload: bytes, args: argparse.Namespace
) -> Run:
    """count transactions started on a fixed schedule; each on its own connection."""
    run = Run()
    slots = asyncio.Semaphore(args.inflight)
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        try:
            await transaction(port, payload, run)
        finally:
            slots.release()

    start = time.perf_counter()
    deadline = start + args.max_seconds
    for i in range(count):
        due = start + i / rate
        now = time.perf_counter()
        if now > deadline:
            break
        if due > now:
            await asyncio.sleep(due - now)
        await slots.acquire()
        run.late = max(run.late, time.perf_counter() - due)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=max(1.0, deadline - time.perf_counter() + 10))
    return run


def percentile(values: list[float], p: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def summary(name: str, run: Run) -> str:
    return (
        f"{name}_n={len(run.times)} {name}_errors={run.errors} "
        f"{name}_p50_ms={percentile(run.times, 50):.2f} "
        f"{name}_p99_ms={percentile(run.times, 99):.2f} "
        f"{name}_late_ms={run.late * 1000:.1f}"
    )


async def measure(args: argparse.Namespace, sink: int, relay: int) -> tuple[Run, Run]:
    payload = message(args.size, SENDER, RCPT)
    warm = max(20, args.count // 10)
    await drive(relay, args.rate, warm, payload, args)  # imports, caches, connections upstream
    direct = await drive(sink, args.rate, args.count, payload, args)
    gateway = await drive(relay, args.rate, args.count, payload, args)
    return direct, gateway


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--relay-cmd", required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages per second")
    parser.add_argument("--count", type=int, default=5000, help="messages per target")
    parser.add_argument("--size", type=int, default=5120)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per target")
    parser.add_argument("--inflight", type=int, default=200)
    args = parser.parse_args()
    try:
        import uvloop  # the client's own overhead, the same for both targets

        uvloop.install()
    except ImportError:
        pass
    with (
        tempfile.TemporaryDirectory(prefix="gk_probe_") as folder,
        sink_and_relay(args.relay_cmd, Path(folder)) as ports,
    ):
        direct, gateway = asyncio.run(measure(args, ports.sink, ports.relay))
    added = [percentile(gateway.times, p) - percentile(direct.times, p) for p in (50, 99)]
    print(
        f"rate={args.rate:.1f} count={args.count} added_p50_ms={added[0]:.2f} "
        f"added_p99_ms={added[1]:.2f} {summary('direct', direct)} {summary('gw', gateway)}"
        + (
            f" first_error={gateway.first_error or direct.first_error!r}"
            if direct.errors + gateway.errors
            else ""
        )
    )


if __name__ == "__main__":
    main()
