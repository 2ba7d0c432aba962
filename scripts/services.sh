#!/usr/bin/env bash
# Starts the local services tests need. Each scripts/services/NAME.sh defines a function
# `start_NAME` that installs (idempotently) and starts its service, waits until it answers,
# and exports the environment variables tests read. Stopped on exit.
SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services"
SERVICE_PIDS=()
# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for_service NAME PID LOG TENTHS CHECK...: runs CHECK every 0.1 s until it succeeds
# (return 0), the process PID exits, or TENTHS tries pass; on failure prints LOG (return 1).
wait_for_service() {
  local name=$1 pid=$2 log=$3 tries=$4 i
  shift 4
  for i in $(seq 1 "$tries"); do
    "$@" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name: exited during start-up; log:" >&2; cat "$log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$name: no answer within $((tries / 10)) s; log:" >&2; cat "$log" >&2
  return 1
}

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
