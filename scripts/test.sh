#!/usr/bin/env bash
# Runs every check: lint, format, types, import contracts, then all tests (unit, integration on
# SQLite and PostgreSQL with real Redis, a real Celery worker and real SMTP, and a real browser).
# Extra arguments go to pytest, e.g. scripts/test.sh -k faq
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv requirements.lock requirements-dev.lock
ensure_redis_binary
ensure_postgres
ensure_chromium

say "ruff"
ruff check .
ruff format --check .
say "mypy (services)"
mypy
say "import contracts"
lint-imports
say "pytest"
exec python -m pytest "$@"
