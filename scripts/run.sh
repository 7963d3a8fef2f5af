#!/usr/bin/env bash
# Runs the whole system on one machine: Redis (if none answers), web, worker and beat, on SQLite
# with the demo data. Ctrl-C stops everything.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv requirements.lock
ensure_redis_binary
export FLASK_APP=wsgi
PORT="${PORT:-5000}"
# honcho gives every process its own PORT (base + 100 per process before it), so the web's address
# travels in a variable honcho leaves alone: the web listens where this script says it does.
export WEB_BIND="127.0.0.1:$PORT"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export BASE_URL="${BASE_URL:-http://$WEB_BIND}"
mkdir -p instance/redis

processes=(web worker beat)
hostport="${REDIS_URL#redis://}"; hostport="${hostport%%/*}"; hostport="${hostport##*@}"
if redis_answers "${hostport%%:*}" "${hostport##*:}"; then
  say "using the Redis at $REDIS_URL"
else
  say "starting Redis on port ${hostport##*:} (data kept in instance/redis)"
  export REDIS_PORT="${hostport##*:}"
  processes=(redis web worker beat)
fi

say "migrating the database"
flask db upgrade
say "loading the demo data"
flask seed-demo

cat >&2 <<MSG

  Career Services is starting at http://$WEB_BIND
  Mail is written to instance/mail/ (set MAIL_SERVER to send over SMTP).

MSG
exec honcho -f Procfile start "${processes[@]}"
