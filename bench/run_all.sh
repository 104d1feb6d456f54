#!/usr/bin/env bash
# Issue 14's workloads in one run, each against the Postfix relay of the same run (see
# docs/performance.md). All: smtp-source -> relay -> smtp-sink (../../shared/bench/run_bench.sh),
# 5 KB, 20 sessions, durable spool (synchronous=FULL), loopback only.
#   1  1 recipient, full decision path on a store of --contacts generated contacts: the
#      transactional stream decided at RCPT (suppression look-up, verdict, decision rows), as
#      in issue 14's baseline; --w1-stream marketing for consent look-up, content rules,
#      footer and per-recipient List-Unsubscribe + token; target: >= 2.0 x Postfix's rate
#   2  10 recipients, transactional stream (one upstream copy); target >= 1.5 x Postfix's
#   3  10 recipients, marketing stream (a copy per recipient); copies delivered/s at the
#      sink >= 0.6 x workload 1's msgs/s
#   4  added latency (MAIL .. 250 after DATA) at half workload 1's rate, bench/latency_probe.py
#      alone at that rate, straight to the sink and through the gateway (workload 1's config);
#      target p50 < 3 ms, p99 < 15 ms
#   5  peak RSS of the gateway's process tree sampled during workload 1 (< 250 MB), and the
#      growth for one 20 MB message (bench/rss_probe.py big; transactional stream) < 2 x
#   6  workload 1 with a --big-store store against a --small-store one: within 10 %
#   0  the floor, no target: ../../shared/bench/bare_proxy.py (aiosmtpd + aiosmtplib, no
#      checks, no spool, upstream verdict as the reply) in two processes on SO_REUSEPORT,
#      1 and 10 recipients, against the Postfix of workloads 1 and 2 when they run too; then
#      bench/lean_proxy.py: the same pass-through on asyncio.Protocol on both sides (what an
#      SMTP layer of its own costs), and the gateway's SMTP session class with no stages
#   7  workloads 1 and 2 on PostgreSQL (a fresh database per measurement, cloned from a
#      cached template), beside SQLite's; no target
# Stores are built by bench/build_store.py and cached (--cache; the build is not measured).
#
# Usage: run_all.sh [--only 1,2,...] [--pairs K] [-n COUNT] [--n10 COUNT] [--probe-count N]
#                   [--probe-rate R] [--contacts N] [--small-store N] [--big-store N]
#                   [-l BYTES] [-s SESSIONS] [--timeout SECS] [--cache DIR] [--pg URL]
#                   [--bench DIR] [--quick]
#   -n: messages of the 1-recipient measurements (20000); --n10: messages of the
#   10-recipient ones (10000; workload 3 then delivers 10 x as many copies);
#   --probe-count: messages per target of workload 4 (10000); --probe-rate: its rate
#   (default: half workload 1's rate, measured first when workload 1 is not selected);
#   --contacts 1000000, --small-store 10000, --big-store 10000000;
#   --pg postgresql://postgres@127.0.0.1:5432 (trust auth; creates and drops gk_bench_run_*);
#   --pairs K: Postfix and the gateway of workloads 1 and 2 measured K times, alternately
#   (Postfix, gateway, Postfix, ...); the table gives the median rates and the median of the
#   K ratios of each pair. This machine's speed drifts by up to 2x within minutes, and a
#   pair measured back to back shares its phase (default 1).
#   --quick: a smoke check (-n 300 --n10 100 --probe-count 300, stores of 20,000/10,000).
#   --w1-stream transactional|marketing: the stream of workloads 1, 4, 6 and 7.1.
#   GK_BENCH_PROCESSES=N in the environment: `processes = N` in the gateway's [smtp].
# Prints one line per workload at the end; raw lines go to bench/results/<timestamp>.txt
# (gitignored). Needs root for the private Postfix instance (postfix_instance.sh).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# The gateway and the probes need the project's venv (sudo drops an activated one).
if [ -x "$ROOT/.venv/bin/python3" ]; then export PATH="$ROOT/.venv/bin:$PATH"; fi
BENCH=${BENCH:-$ROOT/../shared/bench}
N=20000 N10=10000 PAIRS=1 SIZE=5120 SESS=20 TIMEOUT=300 ONLY=0,1,2,3,4,5,6,7
CONTACTS=1000000 SMALL=10000 BIG=10000000 PROBE_N=10000 PROBE_RATE="" W1_STREAM=transactional
CACHE=${GK_BENCH_CACHE:-/tmp/gk_bench_stores} PG=postgresql://postgres@127.0.0.1:5432
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$2; shift 2;;
    -n) N=$2; shift 2;;
    --pairs) PAIRS=$2; shift 2;;
    --n10) N10=$2; shift 2;;
    --probe-count) PROBE_N=$2; shift 2;;
    --probe-rate) PROBE_RATE=$2; shift 2;;
    --contacts) CONTACTS=$2; shift 2;;
    --small-store) SMALL=$2; shift 2;;
    --big-store) BIG=$2; shift 2;;
    -l) SIZE=$2; shift 2;;
    -s) SESS=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --cache) CACHE=$2; shift 2;;
    --pg) PG=$2; shift 2;;
    --bench) BENCH=$2; shift 2;;
    --w1-stream) W1_STREAM=$2; shift 2;;
    --quick) N=300 N10=100 PROBE_N=300 CONTACTS=20000 SMALL=10000 BIG=20000 TIMEOUT=60; shift;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
[ "$PAIRS" -ge 1 ] 2>/dev/null || { echo "--pairs: a whole number, 1 or more" >&2; exit 2; }
[ -f "$BENCH/run_bench.sh" ] || { echo "no run_bench.sh in $BENCH" >&2; exit 2; }
want() { case ",$ONLY," in *",$1,"*) return 0;; esac; return 1; }
wants() { local w; for w in "$@"; do want "$w" && return 0; done; return 1; }

WORK=$(mktemp -d /tmp/gk_all.XXXXXX)
chmod 755 "$WORK"  # the Postfix daemons run as user postfix
export PF_ROOT=$WORK/postfix GK_BENCH_TMP=$WORK
PG_DBS=()
psql_do() { psql "$PG/postgres" -Atqc "$1"; }
cleanup() {
  [ -d "$PF_ROOT" ] && bash "$BENCH/postfix_instance.sh" stop >/dev/null 2>&1
  for db in "${PG_DBS[@]}"; do psql_do "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
STARTED=$SECONDS

mkdir -p "$HERE/results"
OUT=$HERE/results/$(date +%Y%m%d-%H%M%S).txt
{
  echo "# $(date -Is) nproc=$(nproc) $(python3 --version) only=$ONLY pairs=$PAIRS n=$N n10=$N10 size=$SIZE sessions=$SESS"
  echo "# contacts=$CONTACTS small=$SMALL big=$BIG probe_count=$PROBE_N processes=${GK_BENCH_PROCESSES:-default} w1_stream=$W1_STREAM"
  echo "# gatekeeper commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(
    git -C "$ROOT" diff --quiet HEAD -- gateway 2>/dev/null || echo ' + uncommitted changes')"
} | tee "$OUT" >&2

# -- stores (built once, cached; not part of any measurement) --
store() {  # COUNT -> path of the cached SQLite store
  python3 -m bench.build_store sqlite "$1" --cache "$CACHE"
}
cd "$ROOT" || exit 1
if wants 1 2 3 4 5; then MAIN=$(store "$CONTACTS") || exit 1; fi
if want 6; then SMALLDB=$(store "$SMALL") && BIGDB=$(store "$BIG") || exit 1; fi
if want 7; then
  echo "# postgres $(psql_do 'SHOW server_version') fsync=$(psql_do 'SHOW fsync') synchronous_commit=$(psql_do 'SHOW synchronous_commit')" | tee -a "$OUT" >&2
  PGTPL=$(python3 -m bench.build_store postgres "$CONTACTS" --server "$PG") || exit 1
fi

if wants 0 1 2; then
  mkdir -p "$PF_ROOT"; chmod 755 "$PF_ROOT"
  PF_PORT=$(free_port) PF_SINK=$(free_port)
  bash "$BENCH/postfix_instance.sh" start "$PF_PORT" "$PF_SINK" >/dev/null \
    || { echo "Postfix relay did not start" >&2; exit 1; }
fi

# -- the gateway's configurations --
cat > "$WORK/marketing.toml" <<'EOF'
[unsubscribe]
secret = ["bench-secret"]
footer = true
[identity]
name = "Bench s.r.o."
postal_address = "1 Bench Street"
EOF
GKR="bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
MKT="GK_BENCH_PURPOSE=marketing GK_BENCH_TOML=$WORK/marketing.toml"
case "$W1_STREAM" in
  transactional) W1=GK_BENCH_PURPOSE=transactional;;
  marketing) W1=$MKT;;
  *) echo "--w1-stream: transactional or marketing" >&2; exit 2;;
esac
RUNDB="GK_BENCH_DB=$WORK/run.db GK_BENCH_DB_MOVE=1"
fresh() {  # a fresh copy of a store for one measurement, synced before it (no write-back during it)
  cp "$1" "$WORK/run.db" && sync "$WORK/run.db"
}
# smtp-sink counts messages; a marketing message of 10 recipients arrives as 10 copies. For
# workload 3 run_bench.sh gets -n COPIES (it stops when the sink has counted that many) and
# this smtp-source in front of the real one on PATH sends COPIES/10 messages.
mkdir -p "$WORK/shim"
cat > "$WORK/shim/smtp-source" <<EOF
#!/usr/bin/env bash
args=()
while [ \$# -gt 0 ]; do
  if [ "\$1" = -m ]; then args+=(-m "\$(( \$2 / GK_COPIES ))"); shift 2; else args+=("\$1"); shift; fi
done
exec $(command -v smtp-source) "\${args[@]}"
EOF
chmod 755 "$WORK/shim/smtp-source"

measure() {  # "NAME [key=value]" EXPECTED run_bench-options...
  local name=$1 expected=$2 line t=$SECONDS; shift 2
  line=$(bash "$BENCH/run_bench.sh" -l "$SIZE" -s "$SESS" --timeout "$TIMEOUT" "$@" 2>"$WORK/err")
  sed "s/^/# ${name%% *}: /" "$WORK/err" >> "$OUT"
  echo "$name expected=$expected $line" >> "$OUT"
  echo "$name expected=$expected $line ($((SECONDS - t)) s)" >&2
  rm -rf "$WORK"/gk_bench.* "$WORK/run.db"  # a gateway killed before its own clean-up
}
raw() { awk -v n="$1" -v k="$2" '$1 == n { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' "$OUT"; }
median() {  # the median of the numbers on stdin, one per line
  sort -g | awk '{ v[NR] = $1 } END { if (NR) print (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }'
}

if wants 0 1; then measure direct.r1 "$N" -n "$N" -r 1; fi
# workload 1 also gives 3 its reference, 4 its rate and 5 its sampling (the first pair's)
W1_ONCE=0
if wants 3 5 || { want 4 && [ -z "$PROBE_RATE" ]; }; then W1_ONCE=1; fi
for rep in $(seq "$PAIRS"); do
  if wants 0 1; then
    measure postfix.r1 "$N" -n "$N" -r 1 --target "127.0.0.1:$PF_PORT" --sink-port "$PF_SINK"
  fi
  if want 1 || { [ "$rep" = 1 ] && [ "$W1_ONCE" = 1 ]; }; then
    fresh "$MAIN"
    SAMPLER=""
    if want 5 && [ "$rep" = 1 ]; then
      python3 -m bench.rss_probe sample --pidfile "$WORK/w1.pid" --max-seconds $((TIMEOUT + 60)) \
        > "$WORK/w1.rss" 2>&1 &
      SAMPLER=$!
    fi
    measure w1 "$N" -n "$N" -r 1 --relay-cmd "env $W1 $RUNDB GK_BENCH_PIDFILE=$WORK/w1.pid $GKR"
    if [ -n "$SAMPLER" ]; then
      for _ in $(seq 100); do kill -0 "$SAMPLER" 2>/dev/null || break; sleep 0.1; done
      kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
      echo "w1.rss $(cat "$WORK/w1.rss")" | tee -a "$OUT" >&2
    fi
  fi
done

# 0: the Python floor, beside the Postfix lines above and below
if want 0; then
  BARE="python3 $BENCH/bare_proxy.py --listen 127.0.0.1:{RELAY_PORT} --upstream 127.0.0.1:{SINK_PORT} --workers 2"
  measure floor.r1 "$N" -n "$N" -r 1 --relay-cmd "$BARE"
  measure floor.r10 "$N10" -n "$N10" -r 10 --relay-cmd "$BARE"
  # what an SMTP layer of its own would cost (bench/lean_proxy.py), and the gateway's own
  # SMTP layer as it stands with none of the pipeline's stages behind it
  LEAN="python3 -m bench.lean_proxy --listen 127.0.0.1:{RELAY_PORT} --upstream 127.0.0.1:{SINK_PORT} --workers 2"
  measure lean.r1 "$N" -n "$N" -r 1 --relay-cmd "$LEAN --layer protocol"
  measure lean.r10 "$N10" -n "$N10" -r 10 --relay-cmd "$LEAN --layer protocol"
  measure smtplayer.r1 "$N" -n "$N" -r 1 --relay-cmd "$LEAN --layer gateway"
  measure smtplayer.r10 "$N10" -n "$N10" -r 10 --relay-cmd "$LEAN --layer gateway"
fi

# 2
if wants 0 2; then measure direct.r10 "$N10" -n "$N10" -r 10; fi
for _ in $(seq "$PAIRS"); do
  if wants 0 2; then
    measure postfix.r10 "$N10" -n "$N10" -r 10 --target "127.0.0.1:$PF_PORT" --sink-port "$PF_SINK"
  fi
  if want 2; then
    fresh "$MAIN"
    measure w2 "$N10" -n "$N10" -r 10 --relay-cmd "env $RUNDB $GKR"
  fi
done

# 3: copies at the sink
if want 3; then
  fresh "$MAIN"
  PATH="$WORK/shim:$PATH" GK_COPIES=10 measure "w3 msgs=$N10" $((N10 * 10)) \
    -n $((N10 * 10)) -r 10 --relay-cmd "env $MKT $RUNDB $GKR"
  # run_bench's accept_per_s counts copies here: the messages smtp-source had accepted per s
  raw w3 accept_s | awk -v n="$N10" '$1 > 0 { printf "# w3: %.1f messages accepted/s (accept_per_s above counts copies)\n", n / $1 }' >> "$OUT"
fi

# 4: latency at half workload 1's rate
if want 4; then
  rate=${PROBE_RATE:-$(raw w1 msgs_per_s | median | awk '{ printf "%.1f", $1 / 2 }')}
  fresh "$MAIN"
  t=$SECONDS
  line=$(python3 -m bench.latency_probe --rate "${rate:-100}" --count "$PROBE_N" \
         --max-seconds "$TIMEOUT" --relay-cmd "env $W1 $RUNDB $GKR" 2>"$WORK/err")
  sed 's/^/# w4: /' "$WORK/err" >> "$OUT"
  echo "w4 $line" >> "$OUT"; echo "w4 $line ($((SECONDS - t)) s)" >&2
  rm -rf "$WORK"/gk_bench.* "$WORK/run.db"
fi

# 5: one 20 MB message (transactional stream, empty store)
if want 5; then
  line=$(python3 -m bench.rss_probe big --relay-cmd "$GKR" 2>"$WORK/err")
  sed 's/^/# w5: /' "$WORK/err" >> "$OUT"
  echo "w5.big $line" | tee -a "$OUT" >&2
  rm -rf "$WORK"/gk_bench.*
fi

# 6: store size
if want 6; then
  for size in small big; do
    if [ $size = small ]; then db=$SMALLDB count=$SMALL; else db=$BIGDB count=$BIG; fi
    fresh "$db"
    measure "w6.$size contacts=$count" "$N" -n "$N" -r 1 --relay-cmd "env $W1 $RUNDB $GKR"
  done
fi

# 7: PostgreSQL, a fresh database per measurement
if want 7; then
  for r in 1 10; do
    db=gk_bench_run_$$_$r
    psql_do "CREATE DATABASE $db TEMPLATE $PGTPL STRATEGY FILE_COPY" || exit 1
    PG_DBS+=("$db")
    url="GK_BENCH_STORE_URL=$PG/$db"
    if [ $r = 1 ]; then
      measure w7.r1 "$N" -n "$N" -r 1 --relay-cmd "env $W1 $url $GKR"
    else
      measure w7.r10 "$N10" -n "$N10" -r 10 --relay-cmd "env $url $GKR"
    fi
    psql_do "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  done
fi

echo | tee -a "$OUT"
python3 -m bench.bench_table "$OUT" --only "$ONLY" | tee -a "$OUT"
echo "# took $((SECONDS - STARTED)) s" >> "$OUT"
echo "raw lines: $OUT ($((SECONDS - STARTED)) s)"
