#!/usr/bin/env bash
# The whole test suite: starts every service the tests need, then runs all tests.
# Usage: bash scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
start_services
cargo test --locked --all-targets "$@"
