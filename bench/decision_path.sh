#!/usr/bin/env bash
# What the consent decision path costs (docs/performance.md, "Decision path"), in one run:
#   Postfix relay | relay core (commit $CORE, before any decision code) | relay core of this
#   tree (bench/relay_without_decisions.py: the decision stage taken out) |
#   Gatekeeper, transactional stream | Gatekeeper, survey stream (the decision path without
#   the unsubscribe transform) | Gatekeeper, marketing stream with the full path
# against a store of 1,000,000 generated contacts (consents for half) plus smtp-source's
# recipients (US contacts with marketing consent). The survey run decides at RCPT and again
# at DATA with the MIME read and content findings, and records both, but adds no unsubscribe
# fields (US surveys have no content rules, so smtp-source's plain body passes).
# The marketing run does everything a real marketing
# message gets: RCPT-time consent look-up and verdict, MIME parse and content rules at DATA,
# a footer and per-recipient List-Unsubscribe fields, decision rows.
#
# With -r above 1 the marketing run's copies differ per recipient (each has its own
# unsubscribe link), so the sink counts one message per recipient: read its accept_per_s.
#
# Usage: decision_path.sh [-n COUNT] [-r RCPTS] [--contacts N] [--core COMMIT]
# Loopback only; needs root for the private Postfix instance. Bounded by run_bench's timeout.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# The gateway's dependencies live in the project's venv (sudo drops an activated one).
if [ -x "$ROOT/.venv/bin/python3" ]; then export PATH="$ROOT/.venv/bin:$PATH"; fi
BENCH=${BENCH:-$ROOT/../shared/bench}
N=20000 RCPTS=1 CONTACTS=1000000 CORE=00979ec
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N=$2; shift 2;;
    -r) RCPTS=$2; shift 2;;
    --contacts) CONTACTS=$2; shift 2;;
    --core) CORE=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
WORK=$(mktemp -d /tmp/gk_dp.XXXXXX)
chmod 755 "$WORK"  # the Postfix daemons run as user postfix
export PF_ROOT=$WORK/postfix GK_BENCH_TMP=$WORK
cleanup() {
  bash "$BENCH/postfix_instance.sh" stop >/dev/null 2>&1
  git -C "$ROOT" worktree remove --force "$WORK/core" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

echo "# $(date -Is) nproc=$(nproc) n=$N r=$RCPTS contacts=$CONTACTS core=$CORE head=$(git -C "$ROOT" rev-parse --short HEAD)"
# The store: generated contacts, then smtp-source's recipients (rcpt@, 2rcpt@ ...) with consent.
python3 "$HERE/gen_contacts.py" "$WORK/contacts.csv" "$CONTACTS"
{
  echo "email,country,source,consent_topics,consent_at,consent_proof"
  for i in "" $(seq 2 "$RCPTS"); do echo "${i}rcpt@dst.example.com,us,signup-form,marketing,2026-01-01,ip=192.0.2.1"; done
} > "$WORK/bench_rcpts.csv"
printf '[store]\nurl = "sqlite:///%s/template.db"\n' "$WORK" > "$WORK/import.toml"
start=$(date +%s.%N)
python3 -m gateway --config "$WORK/import.toml" contacts import "$WORK/contacts.csv" | sed 's/^/# /'
python3 -m gateway --config "$WORK/import.toml" contacts import "$WORK/bench_rcpts.csv" | sed 's/^/# /'
echo "# import took $(echo "$(date +%s.%N) - $start" | bc) s"

mkdir -p "$WORK/postfix"; chmod 755 "$WORK/postfix"
PF_PORT=$(free_port) PF_SINK=$(free_port)
bash "$BENCH/postfix_instance.sh" start "$PF_PORT" "$PF_SINK" >/dev/null || { echo "no postfix" >&2; exit 1; }
git -C "$ROOT" worktree add --detach "$WORK/core" "$CORE" >/dev/null 2>&1 || { echo "no core" >&2; exit 1; }

run() {  # label, then run_bench.sh arguments
  local label=$1; shift
  echo "$label $(bash "$BENCH/run_bench.sh" -n "$N" -r "$RCPTS" -s 20 --timeout 400 "$@" 2>/dev/null)"
}
run postfix --target "127.0.0.1:$PF_PORT" --sink-port "$PF_SINK"
run core --relay-cmd "env PYTHONPATH=$WORK/core bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
run core-head --relay-cmd "env GK_BENCH_RELAY='python3 $HERE/relay_without_decisions.py' GK_BENCH_DB=$WORK/template.db bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
run transactional --relay-cmd "env GK_BENCH_DB=$WORK/template.db bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
run survey --relay-cmd "env GK_BENCH_DB=$WORK/template.db GK_BENCH_PURPOSE=survey bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT}"
run marketing --relay-cmd "env GK_BENCH_DB=$WORK/template.db GK_BENCH_PURPOSE=marketing bash $HERE/gatekeeper_relay.sh {RELAY_PORT} {SINK_PORT} '[unsubscribe]' 'secret = [\"bench-secret\"]' 'footer = true' '[identity]' 'name = \"Bench s.r.o.\"' 'postal_address = \"1 Bench Street\"'"
