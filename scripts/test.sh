#!/usr/bin/env bash
# The whole test suite: starts every service the tests need, then runs all tests.
# Usage: bash scripts/test.sh [extra test-runner args, e.g. a name filter]
#
# Uses cargo-nextest when it is installed (each test in its own process, all failures listed),
# else `cargo test`. Either way the doc tests run too (`cargo test --doc`; nextest does not run
# them). Benchmarks are not tests: they are built and run on their own (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
# Tools the tests use besides Rust: Node.js + npm (MailDev, Azurite), Python 3 (packaging and
# static checks), curl (service readiness) and strace (the dry-run test proves no connection is
# attempted). The machine image has them; install any that is missing (Debian, as root).
missing=()
for tool in node:nodejs npm:npm python3:python3 curl:curl strace:strace objdump:binutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
# Build first, then start the services, so they are fresh when the tests start: Azurite's blob
# garbage collector runs 10 minutes after it starts and blocks the emulator while it deletes what
# the tests left behind (tens of seconds after the scale-out proof); a long cold build must not
# use up that window.
cargo test --locked --no-run --lib --bins --tests
source scripts/services.sh
start_services
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast --lib --bins --tests "$@" || status=$?
else
  cargo test --locked --no-fail-fast --lib --bins --tests "$@" || status=$?
fi
# Doc tests run even when the tests above failed, so one run shows every failure.
cargo test --locked --doc || status=$?
exit "$status"
