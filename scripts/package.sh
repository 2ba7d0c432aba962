#!/usr/bin/env bash
# Builds the deployable Azure Functions app and zips it:
#   dist/app/                 host.json, <function>/function.json for each function-definitions/*,
#                             handler (the release binary), cadence.toml (the policy, see below)
#   dist/aks-cadence.zip      the same, with the handler's exec bit kept (zip deploy / Flex package)
#
# The Functions Linux workers run Debian 11 (glibc 2.31) or Debian 12 (glibc 2.36) images; the
# default build targets glibc 2.28 with cargo-zigbuild so the binary runs on either (and on
# older images), and the script fails if the binary needs a newer glibc symbol than that.
#
# Environment:
#   PACKAGE_TARGET=glibc    (default) cargo zigbuild --release for x86_64-unknown-linux-gnu.$PACKAGE_GLIBC
#   PACKAGE_TARGET=native   cargo build --release with the host toolchain (quick local check)
#   PACKAGE_GLIBC=2.28      the glibc version to target and to check against
#   HANDLER_BIN=path        package this already-built binary instead of building (tests)
#   PACKAGE_OUT=dist        output directory
#   PACKAGE_POLICY=file     policy to ship as cadence.toml (default: cadence.toml when present)
# cargo-zigbuild and ziglang come from PyPI into .tools/venv-zig (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_MODE="${PACKAGE_TARGET:-glibc}"
GLIBC="${PACKAGE_GLIBC:-2.28}"
OUT="${PACKAGE_OUT:-dist}"
ZIG_VENV=.tools/venv-zig
TRIPLE=x86_64-unknown-linux-gnu

fail() { echo "package: $*" >&2; exit 1; }

[ -f host.json ] || fail "host.json is missing at the repository root"
compgen -G "function-definitions/*/function.json" >/dev/null || fail "no function-definitions/*/function.json"
python3 - <<'PY' || fail "host.json must name the binary: customHandler.description.defaultExecutablePath = \"handler\""
import json, sys
h = json.load(open("host.json"))
sys.exit(0 if h.get("customHandler", {}).get("description", {}).get("defaultExecutablePath") == "handler" else 1)
PY

started=$(date +%s)
if [ -n "${HANDLER_BIN:-}" ]; then
  bin="$HANDLER_BIN"
  [ -x "$bin" ] || fail "HANDLER_BIN=$bin is not an executable file"
  check_glibc=""
elif [ "$TARGET_MODE" = native ]; then
  cargo build --locked --release --bin handler
  bin=target/release/handler
  check_glibc=""
elif [ "$TARGET_MODE" = glibc ]; then
  if ! "$ZIG_VENV/bin/cargo-zigbuild" --version >/dev/null 2>&1 || ! "$ZIG_VENV/bin/python" -m ziglang version >/dev/null 2>&1; then
    echo "package: installing cargo-zigbuild and ziglang into $ZIG_VENV" >&2
    python3 -m venv "$ZIG_VENV"
    "$ZIG_VENV/bin/pip" install -q --disable-pip-version-check cargo-zigbuild ziglang
  fi
  rustup target list --installed 2>/dev/null | grep -qx "$TRIPLE" || rustup target add "$TRIPLE"
  # cargo-zigbuild finds zig through `python3 -m ziglang` on PATH: put the venv first.
  PATH="$PWD/$ZIG_VENV/bin:$PATH" cargo-zigbuild build --locked --release --bin handler --target "$TRIPLE.$GLIBC"
  bin="target/$TRIPLE/release/handler"
  check_glibc="$GLIBC"
else
  fail "PACKAGE_TARGET must be glibc or native, not '$TARGET_MODE'"
fi
built=$(date +%s)

app="$OUT/app"
rm -rf "$app" "$OUT/aks-cadence.zip"
mkdir -p "$app"
cp host.json "$app/host.json"
for def in function-definitions/*/function.json; do
  fn="$(basename "$(dirname "$def")")"
  mkdir -p "$app/$fn"
  cp "$def" "$app/$fn/function.json"
done
install -m 0755 "$bin" "$app/handler"
# The policy the app starts with (CADENCE_CONFIG=cadence.toml): PACKAGE_POLICY, else your
# cadence.toml. Without one the app runs the built-in notify-only policy. The commented example
# always ships as cadence.example.toml for reference; it is never made active (its rules name
# example repositories and settings).
policy="${PACKAGE_POLICY:-}"
if [ -z "$policy" ] && [ -f cadence.toml ]; then policy=cadence.toml; fi
if [ -n "$policy" ]; then
  [ -f "$policy" ] || fail "PACKAGE_POLICY=$policy does not exist"
  "$app/handler" config check "$policy" >&2 || fail "the policy $policy does not check clean (see above)"
  cp "$policy" "$app/cadence.toml"
  echo "package: policy from $policy" >&2
else
  echo "package: no cadence.toml: the app starts with the built-in notify-only policy" >&2
fi
[ -f cadence.example.toml ] && install -m 0644 cadence.example.toml "$app/cadence.example.toml"

# The glibc symbol versions the binary needs (the newest one decides where it runs).
needed="$(objdump -T "$app/handler" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | uniq | tail -1)"
echo "package: handler needs glibc ${needed:-none} (symbols: $(objdump -T "$app/handler" | grep -c 'GLIBC_' || true))"
if [ -n "$check_glibc" ] && [ -n "$needed" ]; then
  newest="$(printf '%s\n%s\n' "$needed" "$check_glibc" | sort -V | tail -1)"
  [ "$newest" = "$check_glibc" ] || fail "the binary needs glibc $needed, newer than the target $check_glibc"
fi

python3 - "$app" "$OUT/aks-cadence.zip" <<'PY'
import os, sys, zipfile
app, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(app):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            arc = os.path.relpath(path, app)
            info = zipfile.ZipInfo.from_file(path, arc)
            info.date_time = (1980, 1, 1, 0, 0, 0)  # reproducible
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3  # Unix, so the mode bits are honoured on extraction
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
print(f"package: {out} ({os.path.getsize(out) // 1024} KiB)")
PY
echo "package: build $((built - started))s, assemble $(( $(date +%s) - built ))s" >&2
