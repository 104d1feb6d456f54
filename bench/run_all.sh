#!/usr/bin/env bash
# The whole relay comparison in one run (see docs/performance.md):
#   smtp-source -> {smtp-sink directly | Postfix relay | Gatekeeper} -> smtp-sink
# for 1 and 10 recipients per message, with ../../shared/bench/run_bench.sh.
#
# Usage: run_all.sh [-n COUNT] [-l BYTES] [-s SESSIONS] [--timeout SECS] [--bench DIR]
#   defaults: -n 20000 -l 5120 -s 20 --timeout 300 (per measurement)
# Prints a table; the raw run_bench lines go to bench/results/<timestamp>.txt (gitignored).
# Loopback only. Needs root for the private Postfix instance (postfix_instance.sh).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-$HERE/../../shared/bench}
N=20000 SIZE=5120 SESS=20 TIMEOUT=300
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N=$2; shift 2;;
    -l) SIZE=$2; shift 2;;
    -s) SESS=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --bench) BENCH=$2; shift 2;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
[ -x "$BENCH/run_bench.sh" ] || [ -f "$BENCH/run_bench.sh" ] || { echo "no run_bench.sh in $BENCH" >&2; exit 2; }

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

mkdir -p "$HERE/results"
OUT=$HERE/results/$(date +%Y%m%d-%H%M%S).txt
export PF_ROOT
PF_ROOT=$(mktemp -d /tmp/gk_pf.XXXXXX)
chmod 755 "$PF_ROOT"  # the Postfix daemons run as user postfix
stop_postfix() { bash "$BENCH/postfix_instance.sh" stop >/dev/null 2>&1; rm -rf "$PF_ROOT"; }
trap stop_postfix EXIT
trap 'exit 1' INT TERM

PF_PORT=$(free_port) PF_SINK=$(free_port)
bash "$BENCH/postfix_instance.sh" start "$PF_PORT" "$PF_SINK" >/dev/null \
  || { echo "Postfix relay did not start" >&2; exit 1; }

{
  echo "# $(date -Is) nproc=$(nproc) $(python3 --version) n=$N size=$SIZE sessions=$SESS"
  echo "# gatekeeper commit $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null)$(
    git -C "$HERE/.." diff --quiet HEAD -- gateway 2>/dev/null || echo ' + uncommitted changes')"
} | tee "$OUT"

measure() {  # NAME RCPTS run_bench-options...
  local name=$1 rcpts=$2 line; shift 2
  line=$(bash "$BENCH/run_bench.sh" -n "$N" -l "$SIZE" -s "$SESS" -r "$rcpts" \
         --timeout "$TIMEOUT" "$@")
  echo "$name r=$rcpts $line" | tee -a "$OUT" >&2
}

for r in 1 10; do
  measure direct "$r"
  measure postfix "$r" --target "127.0.0.1:$PF_PORT" --sink-port "$PF_SINK"
  measure gatekeeper "$r" --relay-cmd "bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
done 2>&1

awk '
  /^#/ { next }
  { split($2, a, "="); r = a[2]; split($3, m, "="); rate[$1, r] = m[2]
    split($4, n, "="); ok[$1, r] = (n[2] >= N) ? "" : "*" }
  END {
    printf "\n%-10s %12s %12s %12s %10s %10s\n", "workload", "direct", "postfix", "gatekeeper",
      "gk/postfix", "gk/direct"
    for (r = 1; r <= 10; r += 9) {
      p = rate["postfix", r]; g = rate["gatekeeper", r]; d = rate["direct", r]
      printf "%-10s %11.1f%s %11.1f%s %11.1f%s %10.2f %10.2f\n", r " rcpt", d, ok["direct", r],
        p, ok["postfix", r], g, ok["gatekeeper", r], (p ? g / p : 0), (d ? g / d : 0)
    }
    print "(delivered msgs/s; * = not every message reached the sink in time)"
  }' N="$N" "$OUT" | tee -a "$OUT"
echo "raw lines: $OUT"
