"""The gateway's memory (issue 14, workload 5), summed over its process tree (the gateway and
every descendant: `smtp.processes` workers included).

  python3 -m bench.rss_probe sample --pidfile F [--interval 0.25] [--max-seconds 900]
  python3 -m bench.rss_probe big --relay-cmd 'CMD {RELAY_PORT} {SINK_PORT}' [--size-mb 20]

sample: waits for the pid in F (gatekeeper_relay.sh's GK_BENCH_PIDFILE), then samples the
tree's RSS (and PSS, which counts pages shared between processes once) until the gateway
exits; prints the peaks. Run beside a throughput measurement.

big: starts smtp-sink and the relay, sends one small message (warm-up), then one message of
--size-mb MiB in one session, and waits until the sink has both. Before the big one the
tree's RSS is read and each process's peak (VmHWM) reset to its current RSS
(/proc/PID/clear_refs 5, root or the same user); after it, the growth is the sum of the
peaks minus that RSS (an upper bound: each process's own peak, added as if simultaneous),
and the tree's RSS is also sampled every 5 ms in a thread as a cross-check.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import (
    Ports,
    message,
    pss_kb,
    rss_kb,
    session,
    sink_and_relay,
    status_kb,
    tree,
)

SENDER = "sender@src.example.com"
RCPT = "rcpt@dst.example.com"


def sample(pidfile: Path, interval: float, max_seconds: float) -> None:
    deadline = time.monotonic() + max_seconds
    while not pidfile.exists() or not pidfile.read_text().strip():
        if time.monotonic() > deadline:
            raise SystemExit("no gateway pid")
        time.sleep(0.05)
    root = int(pidfile.read_text())
    rss = pss = procs = samples = 0
    while time.monotonic() < deadline and Path(f"/proc/{root}").exists():
        pids = tree(root)
        rss, pss = max(rss, rss_kb(pids)), max(pss, pss_kb(pids))
        procs, samples = max(procs, len(pids)), samples + 1
        time.sleep(interval)
    print(
        f"rss_peak_mb={rss / 1024:.1f} pss_peak_mb={pss / 1024:.1f} procs={procs} samples={samples}"
    )


def wait_delivered(ports: Ports, count: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while ports.delivered() < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Sampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.done = root, 0, threading.Event()

    def run(self) -> None:
        pids, rounds = tree(self.root), 0
        while not self.done.wait(0.005):
            rounds += 1
            if rounds % 50 == 0:  # a /proc scan costs more than the sample itself
                pids = tree(self.root)
            self.peak = max(self.peak, rss_kb(pids))


def big(ports: Ports, size_mb: int, settle: float) -> str:
    answer = asyncio.run(session(ports.relay, message(2000, SENDER, RCPT), SENDER, RCPT))
    if not answer.startswith(b"250") or not wait_delivered(ports, 1, 30):
        raise SystemExit(f"warm-up message not relayed: {answer!r}")
    payload = message(size_mb * 1024 * 1024, SENDER, RCPT, subject="big")
    pids = tree(ports.relay_pid)
    base = rss_kb(pids)
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    sampler = Sampler(ports.relay_pid)
    sampler.start()
    answer = asyncio.run(session(ports.relay, payload, SENDER, RCPT))
    delivered = wait_delivered(ports, 2, 120)
    time.sleep(settle)  # delivery's clean-up, the spool row's removal
    sampler.done.set()
    sampler.join()
    hwm = sum(status_kb(pid, "VmHWM") for pid in tree(ports.relay_pid))
    after = rss_kb(tree(ports.relay_pid))
    size_kb = len(payload) / 1024
    return (
        f"size_mb={len(payload) / 1e6:.1f} reply={answer[:3].decode()} at_sink={int(delivered)} "
        f"base_mb={base / 1024:.1f} peak_hwm_mb={hwm / 1024:.1f} "
        f"peak_sampled_mb={sampler.peak / 1024:.1f} after_mb={after / 1024:.1f} "
        f"growth_mb={(hwm - base) / 1024:.1f} growth_x={(hwm - base) / size_kb:.2f} "
        f"growth_sampled_x={(sampler.peak - base) / size_kb:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("sample", "big"))
    parser.add_argument("--pidfile", type=Path)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--relay-cmd")
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0)
    args = parser.parse_args()
    if args.what == "sample":
        if args.pidfile is None:
            parser.error("sample needs --pidfile")
        sample(args.pidfile, args.interval, args.max_seconds)
        return
    if not args.relay_cmd:
        parser.error("big needs --relay-cmd")
    with (
        tempfile.TemporaryDirectory(prefix="gk_rss_") as folder,
        sink_and_relay(args.relay_cmd, Path(folder)) as ports,
    ):
        print(big(ports, args.size_mb, args.settle))


if __name__ == "__main__":
    main()
