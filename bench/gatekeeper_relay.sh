#!/usr/bin/env bash
# Start `gatekeeper serve` as the relay under test for ../shared/bench/run_bench.sh:
#   gatekeeper_relay.sh RELAY_PORT SINK_PORT [extra TOML lines...]
# A fresh SQLite store in a temp dir (a copy of $GK_BENCH_DB when set), the sink as
# upstream, durable spool (synchronous=FULL), smtp-source's sender bound to the purpose
# $GK_BENCH_PURPOSE (default transactional); $GK_BENCH_RELAY instead of `python3 -m gateway`.
# The temp dir is removed when the gateway stops (run_bench.sh sends SIGTERM to this script).
set -euo pipefail
relay_port=$1 sink_port=$2; shift 2
# Under $GK_BENCH_TMP when set: run_bench.sh may kill this script before its trap has
# removed the store, and the caller then removes that folder instead.
dir=$(mktemp -d "${GK_BENCH_TMP:-/tmp}/gk_bench.XXXXXX")
# The copy is synced before the gateway starts: otherwise the kernel writes its hundreds of
# MB back during the measurement and every fsync of the spool waits behind them.
if [ -n "${GK_BENCH_DB:-}" ]; then cp "$GK_BENCH_DB" "$dir/gatekeeper.db" && sync "$dir/gatekeeper.db"; fi
http_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
{
  printf '[smtp]\nlisten = "127.0.0.1:%s"\nhostname = "gw.bench.test"\n' "$relay_port"
  printf '[http]\nlisten = "127.0.0.1:%s"\n' "$http_port"
  printf '[upstream]\nurl = "smtp://127.0.0.1:%s"\nconnections = 20\n' "$sink_port"
  printf '[delivery]\nworkers = 40\n'
  printf '[store]\nurl = "sqlite:///%s/gatekeeper.db"\nsynchronous = "FULL"\n' "$dir"
  printf '[logging]\nlevel = "WARNING"\n'
  # smtp-source's mail is a transactional stream: relayed without a consent record, the
  # common case for an app's mail (still checked against the suppression list).
  printf '[[streams]]\nsender = "*@src.example.com"\npurpose = "%s"\n' "${GK_BENCH_PURPOSE:-transactional}"
  for line in "$@"; do printf '%s\n' "$line"; done
} > "$dir/gatekeeper.toml"
cd "$dir"
# GK_BENCH_RELAY: another entry point, e.g. bench/relay_without_decisions.py
${GK_BENCH_RELAY:-python3 -m gateway} --config "$dir/gatekeeper.toml" serve &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; rm -rf "$dir"; exit 0' TERM INT
wait "$pid"
rm -rf "$dir"
