#!/usr/bin/env bash
# MailDev (a test SMTP server with a REST API), for the email tests.
# Defines start_smtp (sourced by scripts/services.sh): installs npm maildev 2.2.1 (works on
# Node 20; 3.x is a rewrite with another API) into .tools/maildev from the committed lockfile
# scripts/services/smtp/package-lock.json (idempotent: skipped when that lockfile is already
# installed), starts it on two free loopback ports, waits until both answer (bounded, 30 s),
# appends its pid to SERVICE_PIDS and exports
#   CADENCE_TEST_SMTP_URL=smtp://127.0.0.1:<smtp port>?tls=none   (plain SMTP: a local relay)
#   CADENCE_TEST_SMTP_API=http://127.0.0.1:<web port>             (GET /email lists messages)
# MailDev never offers STARTTLS or AUTH here, which the tests use to check that a
# STARTTLS-required setting refuses to send in clear.

start_smtp() {
  local root src dir smtp_port web_port pid log maildir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  src="$root/scripts/services/smtp"
  dir="$root/.tools/maildev"
  if [ ! -x "$dir/node_modules/.bin/maildev" ] || ! cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
    echo "smtp: installing maildev into $dir (npm ci from scripts/services/smtp/package-lock.json)" >&2
    mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 || {
      echo "smtp: npm ci for maildev failed" >&2; return 1; }
  fi
  smtp_port="$(free_port)"
  web_port="$(free_port)"
  while [ "$web_port" = "$smtp_port" ]; do web_port="$(free_port)"; done
  log="$dir/maildev.log"
  # A fresh mail directory per start: MailDev loads what it finds there.
  maildir="$(mktemp -d "${TMPDIR:-/tmp}/cadence-maildev.XXXXXX")"
  node "$dir/node_modules/maildev/bin/maildev" --ip 127.0.0.1 --web-ip 127.0.0.1 \
    --smtp "$smtp_port" --web "$web_port" --mail-directory "$maildir" >"$log" 2>&1 &
  pid=$!
  SERVICE_PIDS+=("$pid")
  wait_for_service smtp "$pid" "$log" 300 maildev_answers "$smtp_port" "$web_port" || return 1
  export CADENCE_TEST_SMTP_URL="smtp://127.0.0.1:$smtp_port?tls=none"
  export CADENCE_TEST_SMTP_API="http://127.0.0.1:$web_port"
  echo "smtp: maildev SMTP on 127.0.0.1:$smtp_port, REST on 127.0.0.1:$web_port (pid $pid)" >&2
}

# Both MailDev ports answer: the REST API and the SMTP listener.
maildev_answers() {
  curl -sf -o /dev/null -m 1 "http://127.0.0.1:$2/email" && (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
