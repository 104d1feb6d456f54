#!/usr/bin/env bash
# Start Gatekeeper on PostgreSQL as the relay under test for ../shared/bench/run_bench.sh:
#   fleet_relay.sh RELAY_PORT SINK_PORT
# $GK_FLEET_INSTANCES (default 1) gateway processes share one fresh database on the server
# $GK_FLEET_PG (default postgresql://postgres@127.0.0.1:5432/postgres). With 1 the gateway
# listens on RELAY_PORT itself; with more, HAProxy (TCP, leastconn, docs/fleet.md) listens
# there and spreads the sessions over the instances. Everything else as gatekeeper_relay.sh.
# The database and the temp dir are removed when the relay stops (run_bench.sh sends SIGTERM).
set -euo pipefail
relay_port=$1 sink_port=$2
count=${GK_FLEET_INSTANCES:-1}
server=${GK_FLEET_PG:-postgresql://postgres@127.0.0.1:5432/postgres}
dir=$(mktemp -d "${GK_BENCH_TMP:-/tmp}/gk_fleet.XXXXXX")
db=gk_bench_$(basename "$dir" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
sql() { python3 - "$server" "$1" <<'PY'
import asyncio, sys, asyncpg
async def main(url, sql):
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
asyncio.run(main(*sys.argv[1:]))
PY
}
sql "CREATE DATABASE $db"
url="${server%/*}/$db"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  sql "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$dir"
}
trap 'cleanup; exit 0' TERM INT

ports=()
for n in $(seq 1 "$count"); do
  if [ "$count" -eq 1 ]; then port=$relay_port; else port=$(free_port); fi
  ports+=("$port")
  {
    printf '[smtp]\nlisten = "127.0.0.1:%s"\nhostname = "gw.bench.test"\n' "$port"
    printf '[http]\nlisten = "127.0.0.1:%s"\n' "$(free_port)"
    printf '[upstream]\nurl = "smtp://127.0.0.1:%s"\nconnections = 20\n' "$sink_port"
    printf '[delivery]\nworkers = 40\n'
    printf '[store]\nurl = "%s"\ninstance = "i%s"\npool_max = 20\n' "$url" "$n"
    printf '[logging]\nlevel = "WARNING"\n'
    printf '[[streams]]\nsender = "*@src.example.com"\npurpose = "%s"\n' "${GK_BENCH_PURPOSE:-transactional}"
  } > "$dir/i$n.toml"
  (cd "$dir" && exec python3 -m gateway --config "$dir/i$n.toml" serve) &
  pids+=($!)
done
if [ "$count" -gt 1 ]; then
  {
    printf 'global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 5s\n'
    printf '  timeout client 5m\n  timeout server 5m\n'
    printf 'frontend smtp\n  bind 127.0.0.1:%s\n  default_backend gatekeepers\n' "$relay_port"
    printf 'backend gatekeepers\n  balance leastconn\n'
    for n in $(seq 1 "$count"); do
      printf '  server i%s 127.0.0.1:%s\n' "$n" "${ports[$((n - 1))]}"
    done
  } > "$dir/haproxy.cfg"
  # HAProxy only once every instance answers, so no session lands on one still starting.
  for port in "${ports[@]}"; do
    for _ in $(seq 1 200); do
      python3 -c "import socket,sys;s=socket.socket();sys.exit(s.connect_ex(('127.0.0.1',$port)))" && break
      sleep 0.1
    done
  done
  haproxy -db -f "$dir/haproxy.cfg" &
  pids+=($!)
fi
wait "${pids[0]}"
cleanup
