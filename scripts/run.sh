#!/usr/bin/env bash
# `make run`: the whole stack on loopback, in the foreground. Ctrl-C stops everything.
# Each long-running process is supervised: when one dies it is started again (and logged),
# the rest of the stack keeps running.
set -euo pipefail
cd "$(dirname "$0")/.."
export DUCKMAIL_DEBUG=${DUCKMAIL_DEBUG:-1}
PY=.venv/bin/python
WEB_PORT=${DUCKMAIL_WEB_PORT:-8000}
MAILDIR=${DUCKMAIL_MAILCONFIG_DIR:-$PWD/var/mail}
export DUCKMAIL_MAILCONFIG_DIR=$MAILDIR
mkdir -p var/log

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$WEB_PORT" "${DUCKMAIL_IMAP_PORT:-10143}" "${DUCKMAIL_POP3_PORT:-10110}" \
  "${DUCKMAIL_MANAGESIEVE_PORT:-14190}" "${DUCKMAIL_LMTP_PORT:-10024}" "${DUCKMAIL_SMTP_PORT:-10025}" \
  "${DUCKMAIL_SUBMISSION_PORT:-10587}" "${DUCKMAIL_DOVECOT_AUTH_PORT:-10028}" "${DUCKMAIL_REINJECT_PORT:-10027}" \
  "${DUCKMAIL_SENDER_CHECK_PORT:-10031}" "${DUCKMAIL_AUTH_POLICY_PORT:-10030}"; do
  if port_in_use "$port"; then
    echo "Port $port is already in use (another 'make run'?). Stop that, or set the DUCKMAIL_*_PORT variables." >&2
    exit 1
  fi
done

$PY manage.py migrate --noinput -v 0
$PY manage.py gen_mailconfig --dir "$MAILDIR" --variant dev >/dev/null
$PY manage.py collectstatic --noinput -v 0

# supervise NAME LOG COMMAND...: run COMMAND (output to LOG) and start it again whenever it
# exits, after a pause that doubles while it keeps dying young (1 s, 2 s, … up to 30 s).
# Ctrl-C is for the script: cleanup below stops each supervisor with SIGTERM, which stops
# its command first.
supervise() {
  local name=$1 log=$2 child="" delay=1 started status
  shift 2
  : >"$log"
  trap '' INT
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM
  while true; do
    started=$SECONDS
    "$@" >>"$log" 2>&1 & child=$!
    status=0
    wait "$child" || status=$?
    if ((SECONDS - started >= 30)); then delay=1; fi
    echo "$(date '+%F %T') $name exited with status $status; restarting it in ${delay}s (log: $log)" | tee -a "$log" >&2
    sleep "$delay" & child=$!
    wait "$child" || true
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  postfix -c "$MAILDIR/postfix" stop >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped."
}
trap cleanup INT TERM EXIT

# Before Dovecot: it asks the auth policy server (the login throttle) about every login and
# refuses all of them while it does not answer.
supervise "auth policy" var/log/auth-policy.log $PY manage.py run_auth_policy & pids+=($!)
supervise dovecot var/log/dovecot.log dovecot -F -c "$MAILDIR/dovecot/dovecot.conf" & pids+=($!)
# After Dovecot: setting a password from the environment ends open mail sessions.
$PY manage.py bootstrap
# While PostgreSQL is down, Dovecot answers "try later" at once instead of hanging, and both
# Dovecot and Postfix use it again within seconds of its return (mailstack/dbwatch.py).
supervise "database watch" var/log/database-watch.log $PY manage.py watch_mail_database --dir "$MAILDIR" & pids+=($!)
# The From: check Postfix's submission and reinjection ask (without it they answer 4xx).
supervise "sender check" var/log/sender-check.log $PY manage.py run_sender_check & pids+=($!)
# Postfix's own master process watches over its daemons.
postfix -c "$MAILDIR/postfix" start >/dev/null 2>&1 || echo "warning: Postfix did not start, see $MAILDIR/log/postfix.log" >&2
supervise "celery worker" var/log/celery-worker.log \
  $PY -m celery -A duckmail worker --loglevel INFO --concurrency 2 & pids+=($!)
supervise "celery beat" var/log/celery-beat.log \
  $PY -m celery -A duckmail beat --loglevel INFO --schedule var/celerybeat-schedule --pidfile= & pids+=($!)
# gunicorn: 2 processes of 4 threads; WhiteNoise (a middleware) serves the static files.
supervise web var/log/web.log \
  .venv/bin/gunicorn duckmail.wsgi --bind "127.0.0.1:$WEB_PORT" --workers 2 --threads 4 \
  --graceful-timeout 5 --access-logfile - & pids+=($!)

sleep 2
cat <<INFO

DuckMail is running (Ctrl-C stops everything):
  web            http://127.0.0.1:$WEB_PORT/          (admin: /admin/)
  IMAP           127.0.0.1:${DUCKMAIL_IMAP_PORT:-10143}
  POP3           127.0.0.1:${DUCKMAIL_POP3_PORT:-10110}
  ManageSieve    127.0.0.1:${DUCKMAIL_MANAGESIEVE_PORT:-14190}
  Dovecot LMTP   127.0.0.1:${DUCKMAIL_LMTP_PORT:-10024}
  Postfix SMTP   127.0.0.1:${DUCKMAIL_SMTP_PORT:-10025}
  submission     127.0.0.1:${DUCKMAIL_SUBMISSION_PORT:-10587}  (Dovecot SASL on ${DUCKMAIL_DOVECOT_AUTH_PORT:-10028})
  reinjection    127.0.0.1:${DUCKMAIL_REINJECT_PORT:-10027}  (Dovecot's redirects and vacation replies)
  From: check    127.0.0.1:${DUCKMAIL_SENDER_CHECK_PORT:-10031}  (milter for submission and reinjection)
  auth policy    127.0.0.1:${DUCKMAIL_AUTH_POLICY_PORT:-10030}  (login throttle Dovecot asks before every login)
  Celery worker + beat over ${DUCKMAIL_REDIS_URL:-redis://127.0.0.1:6379/0}
Logs: var/log/ (web, celery, sender check, auth policy, database watch) and $MAILDIR/log/ (dovecot, postfix). What dies is restarted.
INFO
# Until Ctrl-C: the supervisors never exit on their own.
wait
