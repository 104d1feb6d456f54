#!/usr/bin/env bash
# The relay bench on each store in one run (docs/performance.md, "A fleet on PostgreSQL"):
#   smtp-source -> Gatekeeper {SQLite | PostgreSQL, 1 instance | PostgreSQL, 2 instances
#   behind HAProxy} -> smtp-sink, with ../../shared/bench/run_bench.sh.
# Usage: fleet_bench.sh [-n COUNT] [-r RCPTS] [-s SESSIONS] [--bench DIR]
#   defaults: -n 10000 -r 1 -s 20. Needs PostgreSQL at $GK_FLEET_PG (fleet_relay.sh) and
#   haproxy for the two-instance run. Loopback only.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-$HERE/../../shared/bench}
N=10000 RCPTS=1 SESS=20
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N=$2; shift 2;;
    -r) RCPTS=$2; shift 2;;
    -s) SESS=$2; shift 2;;
    --bench) BENCH=$2; shift 2;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
echo "# $(date -Is) nproc=$(nproc) n=$N rcpts=$RCPTS sessions=$SESS commit $(git -C "$HERE/.." rev-parse --short HEAD)"
run() {  # NAME RELAY-COMMAND
  local line
  line=$(bash "$BENCH/run_bench.sh" -n "$N" -s "$SESS" -r "$RCPTS" --timeout 300 --relay-cmd "$2")
  echo "$1 $line"
}
{
  run sqlite "bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
  run pg-1 "env GK_FLEET_INSTANCES=1 bash $HERE/fleet_relay.sh {RELAY_PORT} {SINK_PORT}"
  run pg-2 "env GK_FLEET_INSTANCES=2 bash $HERE/fleet_relay.sh {RELAY_PORT} {SINK_PORT}"
} | tee /dev/stderr | awk '
  { split($2, m, "="); rate[$1] = m[2]; split($3, d, "="); ok[$1] = (d[2] >= N) ? "" : "*" }
  END {
    printf "\n%-8s %10s %10s %10s %12s %12s\n", "rcpts", "sqlite", "pg-1", "pg-2", "pg-1/sqlite", "pg-2/pg-1"
    printf "%-8s %9.1f%s %9.1f%s %9.1f%s %12.2f %12.2f\n", R, rate["sqlite"], ok["sqlite"],
      rate["pg-1"], ok["pg-1"], rate["pg-2"], ok["pg-2"],
      rate["sqlite"] ? rate["pg-1"] / rate["sqlite"] : 0, rate["pg-1"] ? rate["pg-2"] / rate["pg-1"] : 0
    print "(delivered msgs/s; * = not every message reached the sink in time)"
  }' N="$N" R="$RCPTS"
