#!/usr/bin/env bash
# Runs every check: lint, format, types, import contracts, then all tests (unit, integration on
# SQLite and PostgreSQL with real Redis, a real Celery worker and real SMTP, and a real browser).
# Extra arguments go to pytest, e.g. scripts/test.sh -k faq
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv requirements.lock requirements-dev.lock
ensure_redis_binary
ensure_wrk
ensure_seaweedfs
ensure_hosts_tools
ensure_postgres
ensure_chromium

say "ruff"
ruff check .
ruff format --check .
say "mypy (services)"
mypy
say "import contracts"
lint-imports
say "dependency audit (pip-audit on the lock files; exceptions, if any, in .pip-audit-ignore)"
ignores=()
if [ -f .pip-audit-ignore ]; then
  while read -r id _; do [ -n "$id" ] && [ "${id#\#}" = "$id" ] && ignores+=(--ignore-vuln "$id"); done < .pip-audit-ignore
fi
audit_log="$(mktemp)"
if ! pip-audit -r requirements.lock -r requirements-dev.lock --no-deps --disable-pip \
    --progress-spinner off "${ignores[@]}" >"$audit_log" 2>&1; then
  cat "$audit_log"; die "pip-audit found a known vulnerability (or could not run)"
fi
# The first line that is not a warning (awk reads the whole log: no pipe for head to close early).
awk '!/^WARNING/ { print; exit }' "$audit_log"
skipped=$(grep -c "could not be audited" "$audit_log" || true)
# Where the vulnerability service cannot be reached (a closed network), pip-audit skips packages.
[ "$skipped" = 0 ] || echo "note: $skipped packages could not be audited here (vulnerability service unreachable)"
rm -f "$audit_log"
say "pytest"
python -m pytest "$@"
if [ "$#" = 0 ]; then
  # Benchmarks are run by hand for figures; here each runs as a quick smoke run.
  for bench in notifications resumes booking staff load writers ceiling; do
    say "benchmark smoke run: $bench"
    python "benchmarks/$bench.py" --smoke
  done
fi
