#!/usr/bin/env bash
# The whole test suite: starts every service the tests need, then runs all tests.
# Usage: bash scripts/test.sh [extra test-runner args, e.g. a name filter]
#
# Uses cargo-nextest when it is installed (each test in its own process, all failures listed),
# else `cargo test`. Either way the doc tests run too (`cargo test --doc`; nextest does not run
# them). Benchmarks are not tests: they are built and run on their own (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
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
