#!/usr/bin/env bash
# Start `gatekeeper serve` as the relay under test for ../shared/bench/run_bench.sh:
#   gatekeeper_relay.sh RELAY_PORT SINK_PORT [extra TOML lines...]
# A fresh SQLite store in a temp dir, the sink as upstream, durable spool
# (synchronous=FULL), smtp-source's sender bound to a purpose. Environment:
#   GK_BENCH_PURPOSE    the stream's purpose (default transactional)
#   GK_BENCH_DB         start from a copy of this SQLite file (copied and synced here)
#   GK_BENCH_DB_MOVE=1  take GK_BENCH_DB itself (moved, not copied: the caller made a fresh
#                       copy beforehand, outside run_bench's wait for the listener)
#   GK_BENCH_STORE_URL  another store.url instead (e.g. postgresql://…/fresh_db)
#   GK_BENCH_TOML       a file of extra TOML appended to the config (e.g. [unsubscribe])
#   GK_BENCH_PROCESSES  `processes = N` in [smtp] (SMTP worker processes), only when set
#   GK_BENCH_SYNCHRONOUS  store.synchronous (default FULL; NORMAL shows what the fsync costs)
#   GK_BENCH_PIDFILE    write the gateway's pid there (run_all.sh samples its process tree)
#   GK_BENCH_RELAY      another entry point instead of `python3 -m gateway`
#   GK_BENCH_TMP        parent of the temp dir (default /tmp)
# The temp dir is removed when the gateway stops (run_bench.sh sends SIGTERM to this script).
set -euo pipefail
relay_port=$1 sink_port=$2; shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The gateway's dependencies live in the project's venv.
if [ -x "$ROOT/.venv/bin/python3" ]; then PATH="$ROOT/.venv/bin:$PATH"; fi
# Under $GK_BENCH_TMP when set: run_bench.sh may kill this script before its trap has
# removed the store, and the caller then removes that folder instead.
dir=$(mktemp -d "${GK_BENCH_TMP:-/tmp}/gk_bench.XXXXXX")
if [ -n "${GK_BENCH_DB:-}" ]; then
  if [ "${GK_BENCH_DB_MOVE:-}" = 1 ]; then
    mv "$GK_BENCH_DB" "$dir/gatekeeper.db"
  else
    # Synced before the gateway starts: otherwise the kernel writes its hundreds of MB back
    # during the measurement and every fsync of the spool waits behind them.
    cp "$GK_BENCH_DB" "$dir/gatekeeper.db" && sync "$dir/gatekeeper.db"
  fi
fi
http_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
{
  printf '[smtp]\nlisten = "127.0.0.1:%s"\nhostname = "gw.bench.test"\n' "$relay_port"
  if [ -n "${GK_BENCH_PROCESSES:-}" ]; then printf 'processes = %s\n' "$GK_BENCH_PROCESSES"; fi
  printf '[http]\nlisten = "127.0.0.1:%s"\n' "$http_port"
  printf '[upstream]\nurl = "smtp://127.0.0.1:%s"\nconnections = 20\n' "$sink_port"
  printf '[delivery]\nworkers = 40\n'
  if [ -n "${GK_BENCH_STORE_URL:-}" ]; then
    printf '[store]\nurl = "%s"\n' "$GK_BENCH_STORE_URL"
  else
    printf '[store]\nurl = "sqlite:///%s/gatekeeper.db"\nsynchronous = "%s"\n' "$dir" "${GK_BENCH_SYNCHRONOUS:-FULL}"
  fi
  printf '[logging]\nlevel = "WARNING"\n'
  # smtp-source's mail is a transactional stream by default: relayed without a consent
  # record, the common case for an app's mail (still checked against the suppression list).
  printf '[[streams]]\nsender = "*@src.example.com"\npurpose = "%s"\n' "${GK_BENCH_PURPOSE:-transactional}"
  if [ -n "${GK_BENCH_TOML:-}" ]; then cat "$GK_BENCH_TOML"; fi
  for line in "$@"; do printf '%s\n' "$line"; done
} > "$dir/gatekeeper.toml"
cd "$dir"
# GK_BENCH_RELAY: another entry point, e.g. bench/relay_without_decisions.py
${GK_BENCH_RELAY:-python3 -m gateway} --config "$dir/gatekeeper.toml" serve &
pid=$!
if [ -n "${GK_BENCH_PIDFILE:-}" ]; then echo "$pid" > "$GK_BENCH_PIDFILE"; fi
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; rm -rf "$dir"; exit 0' TERM INT
wait "$pid"
rm -rf "$dir"
