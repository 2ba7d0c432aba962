#!/usr/bin/env bash
# Starts the local services tests need. Each scripts/services/NAME.sh defines a function
# `start_NAME` that installs (idempotently) and starts its service, waits until it answers,
# and exports the environment variables tests read. Stopped on exit.
SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services"
SERVICE_PIDS=()
stop_services() {
  for pid in "${SERVICE_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
}
start_services() {
  trap stop_services EXIT
  local f
  for f in "$SERVICES_DIR"/*.sh; do
    [ -e "$f" ] || continue
    # shellcheck source=/dev/null
    source "$f"
    "start_$(basename "$f" .sh)"
  done
}
