#!/usr/bin/env bash
# Install and start what DuckMail needs, idempotently: Debian packages, PostgreSQL,
# Redis, the vmail user, the virtualenv with the pinned runtime and test requirements, the database.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(postgresql redis-server dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve
  dovecot-managesieved dovecot-pgsql dovecot-fts-xapian postfix postfix-pgsql python3-venv chromium
  libmilter-dev gcc python3-dev bogofilter)  # pymilter (the From: check) needs libmilter; bogofilter: bench/
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# PostgreSQL and Redis on loopback (the machine's own, started if they are not running).
DB_HOST=${DUCKMAIL_DB_HOST:-127.0.0.1}
DB_PORT=${DUCKMAIL_DB_PORT:-5432}
DB_USER=${DUCKMAIL_DB_USER:-postgres}
if ! pg_isready -q -h "$DB_HOST" -p "$DB_PORT"; then
  echo "==> starting PostgreSQL"
  for v in $(ls /etc/postgresql); do $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  for _ in $(seq 50); do pg_isready -q -h "$DB_HOST" -p "$DB_PORT" && break; sleep 0.2; done
fi
if ! psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  # A fresh Debian cluster only lets the postgres OS user in: allow loopback logins (development only).
  echo "==> allowing loopback connections to PostgreSQL for development"
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
  $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  for v in $(ls /etc/postgresql); do $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main reload; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "==> starting Redis"
  # A broker, not a store, but queued work must outlive a Redis restart: an append-only
  # file (flushed every second) in a data directory of its own.
  mkdir -p /var/lib/redis/duckmail /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly yes \
    --appendfsync everysec --dir /var/lib/redis/duckmail --logfile /var/log/redis/duckmail.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# One mail uid for every mailbox.
MAIL_USER=${DUCKMAIL_MAIL_USER:-vmail}
if ! id "$MAIL_USER" >/dev/null 2>&1; then
  echo "==> creating the $MAIL_USER user"
  $SUDO useradd --system --home-dir /var/vmail --no-create-home --shell /usr/sbin/nologin "$MAIL_USER"
fi

# The virtualenv, reinstalled when a requirements file changes.
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-test.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing requirements.txt and requirements-test.txt"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
  echo "$want" > "$stamp"
fi

# The database.
DB_NAME=${DUCKMAIL_DB_NAME:-duckmail}
if ! psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres -tAc "select 1 from pg_database where datname='$DB_NAME'" | grep -q 1; then
  echo "==> creating database $DB_NAME"
  createdb -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$DB_NAME"
fi
