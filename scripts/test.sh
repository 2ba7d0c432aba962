#!/usr/bin/env bash
# The whole test suite: starts every service the tests need, then runs all tests.
# Usage: bash scripts/test.sh [extra test-runner args, e.g. a name filter]
#
# Uses cargo-nextest when it is installed (each test in its own process, all failures listed),
# else `cargo test`. Either way the doc tests run too (`cargo test --doc`; nextest does not run
# them). Benchmarks are not tests: they are built and run on their own (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
# Tools the build and the tests use besides Rust (the README lists them): a C compiler (cc: the
# bundled SQLite and aws-lc are C), binutils (the linker; objdump checks the packaged binary's
# glibc), Node.js + npm (MailDev, Azurite), Python 3 with venv (packaging and static checks),
# curl (service readiness), strace (the dry-run test proves no connection is attempted) and
# script (a log test runs the binary on a pseudo-terminal). Install any that is missing
# (Debian, as root); elsewhere, say which.
missing=()
for tool in cc:gcc objdump:binutils node:nodejs npm:npm python3:python3 curl:curl strace:strace script:bsdutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
# Debian splits venv (and the ensurepip it needs) out of python3.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
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
