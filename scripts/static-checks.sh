#!/usr/bin/env bash
# Static checks of the infrastructure code (run by .ci/run before the tests):
#  1. every .bicep file under infra/ parses (PyPI pycep-parser) — the Bicep compiler cannot run
#     here, so this is what catches a syntax error;
#  2. the custom roles are defined once (not per subscription: role names are unique per tenant)
#     and infra/main.parameters.example.json names every parameter of main.bicep with its type;
#  3. scripts/check-bicep-types.py: every resource type@api-version, property path, enum value,
#     required and read-only property against Azure's Bicep types (vendored in
#     scripts/bicep-types/), module parameters, parameters files, Flex Consumption's unsupported
#     settings, and every resource name against Azure's naming rules for the extremes of its
#     inputs; then scripts/tests/ (unittest): a planted error of each kind is caught, the
#     per-cluster topic name derivation, and the type data refresh;
#  4. checkov (PyPI) over infra/ with the bicep framework: no failed check. A check that does not
#     apply is suppressed inline next to the resource with `//checkov:skip=CKV_…: reason`.
# pycep and checkov install into .tools/venv-checks (idempotent). Exits non-zero on any failure.
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

echo "static-checks: role definitions and parameters" >&2
"$VENV/bin/python" - <<'PY'
# Regressions the Bicep compiler would not catch either:
#  - a custom role definition created per subscription (role names are unique per TENANT, so a
#    second subscription's copy fails to deploy): every roleDefinitions resource lives in
#    modules/role-definition.bicep, and main.bicep instantiates that module only outside loops and
#    without a scope of its own (once, in the deployment's subscription), one GUID per role;
#  - infra/main.parameters.example.json drifting from main.bicep's parameters;
#  - the sweep period the alerts assume drifting from the sweep timer's schedule.
import json, re, sys
from pathlib import Path

problems = []
for f in sorted(Path("infra").rglob("*.bicep")):
    text = f.read_text()
    if "Microsoft.Authorization/roleDefinitions@" in text and f.as_posix() != "infra/modules/role-definition.bicep":
        problems.append(f"{f}: declares a roleDefinitions resource; only modules/role-definition.bicep may")
definition = Path("infra/modules/role-definition.bicep").read_text()
if re.search(r"roleDefinitions@[^']*'\s*=\s*\[\s*for", definition):
    problems.append("modules/role-definition.bicep: the role definition is inside a loop")

main = Path("infra/main.bicep").read_text()
uses = list(re.finditer(r"^module\s+(\w+)\s+'modules/role-definition\.bicep'\s*=\s*(.*)$", main, re.M))
if not uses:
    problems.append("main.bicep: no module uses modules/role-definition.bicep")
guids = []
for m in uses:
    if m.group(2).lstrip().startswith("[") or " for " in m.group(2):
        problems.append(f"main.bicep: module {m.group(1)} creates a role definition inside a loop")
    body = main[m.end():main.index("\n}", m.end())]
    if re.search(r"^\s*scope\s*:", body, re.M):
        problems.append(f"main.bicep: module {m.group(1)} (a role definition) sets a scope; it must be created once, in the deployment's subscription")
    g = re.search(r"roleGuid\s*:\s*(.+)", body)
    guids.append(g.group(1).strip() if g else None)
if len(set(guids)) != len(guids) or None in guids:
    problems.append(f"main.bicep: each role definition needs its own roleGuid expression: {guids}")

# Parameters: the example names every parameter of main.bicep, with a value of its type.
json_type = {"string": str, "bool": bool, "int": int, "array": list, "object": dict}
params = dict(re.findall(r"^param\s+(\w+)\s+(\w+)", main, re.M))
example = json.loads(Path("infra/main.parameters.example.json").read_text())["parameters"]
for name in sorted(set(params) - set(example)):
    problems.append(f"main.parameters.example.json: parameter {name} missing")
for name in sorted(set(example) - set(params)):
    problems.append(f"main.parameters.example.json: {name} is not a parameter of main.bicep")
for name, kind in params.items():
    if name in example:
        value = example[name].get("value")
        ok = isinstance(value, json_type[kind]) and not (kind == "int" and isinstance(value, bool))
        if not ok:
            problems.append(f"main.parameters.example.json: {name} should be a {kind}, is {value!r}")

# The "sweep missing" alert waits two sweep periods: main.bicep's period is the timer's.
schedule = json.loads(Path("function-definitions/sweep/function.json").read_text())["bindings"][0]["schedule"]
timer = re.fullmatch(r"0 0 \*/(\d+) \* \* \*", schedule)
period = re.search(r"^var sweepPeriodHours = (\d+)$", main, re.M)
if not timer or not period or timer.group(1) != period.group(1):
    problems.append(f"main.bicep: sweepPeriodHours ({period and period.group(1)}) does not match the sweep timer {schedule!r}")

for p in problems:
    print(f"  FAIL {p}")
print(f"{len(uses)} role definition(s) created once; {len(params)} parameters in step" if not problems else f"{len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY

echo "static-checks: infra/ against Azure's resource types, Flex Consumption and naming rules" >&2
"$VENV/bin/python" scripts/check-bicep-types.py
"$VENV/bin/python" -m unittest discover -s scripts/tests

echo "static-checks: checkov (bicep) over infra/" >&2
"$VENV/bin/checkov" --directory infra --framework bicep --quiet --compact --skip-download

echo "static-checks: passed in $(( $(date +%s) - started ))s" >&2
