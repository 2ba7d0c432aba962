#!/usr/bin/env bash
# The project builds on rustls with aws-lc only: no ring, no OpenSSL in what is compiled.
# Cargo.lock still *lists* ring because rustls/rustls-webpki declare it as an optional
# dependency (even `rustls` alone with only `aws_lc_rs` does); this checks the real build graph.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
for crate in ring openssl-sys openssl native-tls; do
  out=$(cargo tree --locked --target all -e normal,build,dev -i "$crate" 2>&1 || true)
  if ! grep -q "nothing to print\|did not match any packages" <<<"$out"; then
    echo "check-tls: '$crate' is compiled into aks-cadence:" >&2
    echo "$out" | head -20 >&2
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "check-tls: ok (no ring, no OpenSSL in the build graph; TLS is rustls on aws-lc-rs)"
exit "$fail"
