#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run). On a fresh Debian machine it installs
# what the tests need: Debian packages (swaks, Postfix's smtp-source/smtp-sink, chromium,
# PostgreSQL, and the runtimes of the real-client tests: Node with npm, Ruby, PHP with
# PHPMailer), nodemailer into tests/clients/node, and the package with its test extras into
# ./.venv (Debian's Python refuses pip outside a venv, PEP 668). It starts PostgreSQL when it
# is installed but stopped, then lints, type-checks and runs the tests. Safe to run again:
# each step only does what is missing. Extra arguments go to pytest (e.g. -m packaging).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
python3 -c "import ensurepip, venv" 2>/dev/null || need_apt+=(python3-venv)
command -v swaks >/dev/null || need_apt+=(swaks)
command -v smtp-source >/dev/null || need_apt+=(postfix)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v ruby >/dev/null || need_apt+=(ruby)
command -v php >/dev/null || need_apt+=(php-cli)
command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)  # tests/cli/test_contacts_export.py
[ -f /usr/share/php/libphp-phpmailer/autoload.php ] || need_apt+=(libphp-phpmailer)
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

# nodemailer, at the version the lock file names, for tests/acceptance/test_clients.py
npm ci --prefix tests/clients/node --no-audit --no-fund --loglevel=error

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,fast]"
.venv/bin/ruff check gateway tests bench
.venv/bin/ruff format --check gateway tests bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers of docs/architecture.md (.importlinter)

# Exit 5 is "no tests collected": fine when the arguments select none (e.g. -k, -m), a
# failure when the whole suite collects nothing.
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
if [ "$status" = 5 ] && [ $# -gt 0 ]; then
  echo "pytest: no tests match the selection ($*)"
  exit 0
fi
exit "$status"
