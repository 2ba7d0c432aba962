#!/usr/bin/env bash
# Azurite (the Azure Storage emulator), Blob service only, for the blob ledger tests.
# Defines start_azurite (sourced by scripts/services.sh): installs npm azurite@3.35.0 into
# .tools/azurite (idempotent; later versions need Node 22), starts azurite-blob in memory on a
# free loopback port, waits until it answers, appends its pid to SERVICE_PIDS and exports
#   CADENCE_TEST_AZURITE_BLOB=http://127.0.0.1:<port>/devstoreaccount1
# Tests build their container URL and SAS from it (the emulator's account key is public).

AZURITE_VERSION="3.35.0"

start_azurite() {
  local root dir port pid
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  dir="$root/.tools/azurite"
  if [ ! -x "$dir/node_modules/.bin/azurite-blob" ] \
     || [ "$(node -p "require('$dir/node_modules/azurite/package.json').version" 2>/dev/null)" != "$AZURITE_VERSION" ]; then
    echo "azurite: installing azurite@$AZURITE_VERSION into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2 || {
      echo "azurite: npm install failed" >&2; return 1; }
  fi
  port="${AZURITE_BLOB_PORT:-$(free_port)}"
  "$dir/node_modules/.bin/azurite-blob" --silent --disableTelemetry --inMemoryPersistence \
    --skipApiVersionCheck --blobHost 127.0.0.1 --blobPort "$port" \
    >"$dir/azurite.log" 2>&1 &
  pid=$!
  SERVICE_PIDS+=("$pid")
  # Any HTTP answer means it listens (an anonymous GET gets an error document).
  wait_for_service azurite "$pid" "$dir/azurite.log" 100 \
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/devstoreaccount1?comp=list" || return 1
  export CADENCE_TEST_AZURITE_BLOB="http://127.0.0.1:$port/devstoreaccount1"
  echo "azurite: blob service on 127.0.0.1:$port (pid $pid)" >&2
}
