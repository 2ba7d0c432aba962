#!/usr/bin/env bash
# Static checks of the infrastructure code (run by .ci/run before the tests):
#  1. every .bicep file under infra/ parses (PyPI pycep-parser) — the Bicep compiler cannot run
#     here, so this is what catches a syntax error;
#  2. checkov (PyPI) over infra/ with the bicep framework: no failed check. A check that does not
#     apply is suppressed inline next to the resource with `//checkov:skip=CKV_…: reason`.
# Both install into .tools/venv-checks (idempotent). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
PYCEP_VERSION="0.5.1"
VENV=.tools/venv-checks
started=$(date +%s)

if ! "$VENV/bin/python" -c "import pycep, checkov" 2>/dev/null \
   || [ "$("$VENV/bin/pip" show checkov 2>/dev/null | sed -n 's/^Version: //p')" != "$CHECKOV_VERSION" ]; then
  echo "static-checks: installing checkov $CHECKOV_VERSION and pycep-parser $PYCEP_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" "pycep-parser==$PYCEP_VERSION"
fi

echo "static-checks: parsing Bicep files" >&2
"$VENV/bin/python" - <<'PY'
import sys
from pathlib import Path
from pycep import BicepParser

parser = BicepParser()
files = sorted(Path("infra").rglob("*.bicep"))
if not files:
    print("static-checks: no .bicep files under infra/", file=sys.stderr)
    sys.exit(1)
failed = 0
for f in files:
    try:
        parser.parse(file_path=f)
        print(f"  ok   {f}")
    except Exception as e:  # a syntax error: lark's message names line and column
        failed += 1
        print(f"  FAIL {f}: {type(e).__name__}: {str(e).splitlines()[0]}")
print(f"{len(files) - failed} parsed, {failed} failed")
sys.exit(1 if failed else 0)
PY

echo "static-checks: checkov (bicep) over infra/" >&2
"$VENV/bin/checkov" --directory infra --framework bicep --quiet --compact --skip-download

echo "static-checks: passed in $(( $(date +%s) - started ))s" >&2
