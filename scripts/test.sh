#!/usr/bin/env bash
# The README's test command. Installs what the tests need on a fresh Debian machine
# (swaks, Postfix's smtp-source/smtp-sink, chromium, PostgreSQL; the package with its test
# extras), starts PostgreSQL when it is installed but stopped, then lints, type-checks and
# runs the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v swaks >/dev/null || need_apt+=(swaks)
command -v smtp-source >/dev/null || need_apt+=(postfix)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL on 127.0.0.1:5432 for the PostgreSQL engine's tests.
if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test,fast]"
python3 -m ruff check gateway tests bench
python3 -m mypy
python3 -m pytest -q "$@"
