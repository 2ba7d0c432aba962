#!/usr/bin/env bash
# Mutation testing of the pure core with cargo-mutants: every mutant the tests do not catch is
# either killed by a new test or listed as equivalent in docs/testing.md. Run by hand, not in CI
# (docs/testing.md says how long each file takes).
#
# Usage: bash scripts/mutants.sh [FILE...]
#   FILE       core files to mutate (default: every file in CORE_FILES below), e.g.
#              handler/policy/versions.rs. Each file is run on its own, with only the test
#              binaries that exercise it (pass1_for / pass2_for below), so a mutant rebuilds the
#              library and a few test binaries instead of all of them.
# Settings (environment):
#   MUTANTS_TIMEOUT=120       seconds a mutant's tests may run before it counts as a timeout
#   MUTANTS_BUILD_TIMEOUT=900 seconds a mutant's build may take
#   MUTANTS_BASELINE=run      `skip` to leave out the unmutated baseline run (saves one
#                             build + test per file when you know the tests pass)
#   MUTANTS_OUT=mutants.out   where the results go: one folder per file (caught.txt,
#                             missed.txt, unviable.txt, timeout.txt, outcomes.json, logs)
#   MUTANTS_ARGS=             more cargo-mutants arguments, e.g. "--re is_offered" or
#                             "--shard 0/4"
#
# The mutants are applied in place (`--in-place`): the build reuses the warm target/ instead of
# copying the tree and rebuilding every dependency. cargo-mutants puts each file back after each
# mutant and on Ctrl-C, but do not edit the tree while it runs (or run it in a copy with its
# own target/).
set -euo pipefail
cd "$(dirname "$0")/.."

CORE_FILES=(
  handler/policy/versions.rs
  handler/sweep/support.rs
  handler/policy/windows.rs
  handler/policy/mod.rs
  handler/policy/parse.rs
  handler/policy/glob.rs
  handler/policy/summary.rs
  handler/policy/baseline.rs
  handler/policy/rings.rs
  handler/policy/calendar.rs
  handler/policy/channels.rs
  handler/plan.rs
  handler/plan/approval.rs
  handler/plan/release.rs
  handler/plan/say.rs
  handler/readiness.rs
)

# The tests that exercise a core file, in two passes. Pass 1 runs every mutant against the
# tests written for the file (`lib` = the library's unit tests; otherwise tests/NAME.rs), so a
# mutant rebuilds as few test binaries as possible. Pass 2 runs only pass 1's survivors
# (`--iterate` skips what was caught or unviable) with the other test binaries that exercise
# the file added. Tests that start the `handler` binary are left out: they need it relinked per
# mutant and reach the core only through the edges; a mutant only they would catch gets a core
# test instead.
pass1_for() {
  case "$1" in
    handler/policy/windows.rs) echo "windows_calendar windows_arm_examples windows_property" ;;
    handler/policy/baseline.rs | handler/policy/summary.rs) echo "core_mutants" ;;
    handler/plan/approval.rs) echo "lib core_mutants" ;;
    handler/plan/release.rs) echo "lib plan_ring_release" ;;
    handler/plan/say.rs) echo "lib plan_table plan_lineage" ;;
    handler/policy/channels.rs) echo "lib channels_table plan_channels core_mutants" ;;
    handler/policy/parse.rs) echo "lib policy_file" ;;
    handler/plan.rs) echo "lib plan_table plan_lineage plan_untrusted core_mutants" ;;
    *) echo "lib" ;;
  esac
}
pass2_for() {
  case "$1" in
    handler/policy/versions.rs | handler/sweep/support.rs) echo "plan_table core_mutants" ;;
    handler/policy/windows.rs) echo "lib plan_table plan_channels policy_file core_mutants" ;;
    handler/plan.rs) echo "plan_routing plan_channels plan_approvals plan_baseline plan_readiness plan_required_channels plan_ring_release" ;;
    handler/plan/approval.rs) echo "plan_approvals github_approvals plan_table" ;;
    handler/plan/release.rs) echo "plan_table core_mutants" ;;
    handler/plan/say.rs) echo "plan_routing plan_channels plan_approvals plan_baseline plan_readiness plan_required_channels plan_ring_release core_mutants" ;;
    handler/readiness.rs) echo "plan_readiness core_mutants" ;;
    handler/policy/baseline.rs) echo "lib plan_baseline baseline_catalogue" ;;
    handler/policy/summary.rs) echo "lib plan_required_channels" ;;
    handler/policy/glob.rs) echo "core_mutants" ;;
    handler/policy/rings.rs) echo "plan_table upgrade_adapter policy_file core_mutants" ;;
    handler/policy/channels.rs) echo "plan_required_channels plan_table policy_file" ;;
    handler/policy/calendar.rs) echo "plan_channels policy_file core_mutants" ;;
    handler/policy/parse.rs) echo "plan_table core_mutants policy_baseline plan_baseline plan_readiness plan_routing" ;;
    handler/policy/*) echo "policy_file plan_table core_mutants" ;;
    *) echo "plan_table core_mutants" ;;
  esac
}
# `lib` → --lib; NAME → --test NAME when tests/NAME.rs exists (a binary named here but absent —
# renamed, not merged yet — is skipped, not an error). Each goes to every cargo call
# (--cargo-arg), not only after `--`: cargo-mutants' build phase (`cargo nextest run --no-run`)
# would otherwise build all ~70 test binaries per mutant.
cargo_targets() {
  for t in "$@"; do
    if [ "$t" = lib ]; then
      echo "--cargo-arg=--lib"
    elif [ -f "tests/$t.rs" ]; then
      echo "--cargo-arg=--test"
      echo "--cargo-arg=$t"
    fi
  done
}

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "mutants.sh: installing cargo-mutants" >&2
  cargo install --locked cargo-mutants
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "mutants.sh: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi

files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${CORE_FILES[@]}")
timeout="${MUTANTS_TIMEOUT:-120}"
build_timeout="${MUTANTS_BUILD_TIMEOUT:-900}"
baseline="${MUTANTS_BASELINE:-run}"
out="${MUTANTS_OUT:-mutants.out}"
read -r -a extra <<<"${MUTANTS_ARGS:-}"
# Incremental builds: each mutant changes one function, so most of the crate is reused.
export CARGO_INCREMENTAL=1

summary=()
for file in "${files[@]}"; do
  [ -f "$file" ] || { echo "mutants.sh: no such file: $file" >&2; exit 2; }
  name="$(echo "${file#handler/}" | tr '/' '_')"
  name="${name%.rs}"
  dir="$out/$name"
  mkdir -p "$dir"
  rm -rf "$dir/mutants.out" "$dir/mutants.out.old"
  mapfile -t first < <(cargo_targets $(pass1_for "$file"))
  mapfile -t more < <(cargo_targets $(pass2_for "$file"))
  start=$(date +%s)
  for pass in 1 2; do
    if [ "$pass" = 1 ]; then
      targets=("${first[@]}") iterate=()
    else
      # Only missed mutants go on: a timeout is a hang, and it hangs again with more tests.
      [ -s "$dir/mutants.out/missed.txt" ] || break
      [ ${#more[@]} -gt 0 ] || break
      targets=("${first[@]}" "${more[@]}") iterate=(--iterate)
    fi
    echo "mutants.sh: $file pass $pass: ${targets[*]//--cargo-arg=/} (timeout ${timeout}s) → $dir" >&2
    status=0
    cargo mutants --in-place --no-shuffle --test-tool nextest \
      --file "$file" --timeout "$timeout" --build-timeout "$build_timeout" --baseline "$baseline" \
      --output "$dir" "${iterate[@]}" "${targets[@]}" "${extra[@]}" || status=$?
    # 0: all caught; 2: some missed; 3: some timed out. Anything else is a failed run.
    case "$status" in 0 | 2 | 3) ;; *) echo "mutants.sh: cargo mutants failed on $file (exit $status)" >&2; exit "$status" ;; esac
  done
  secs=$(($(date +%s) - start))
  count() { local f="$dir/$1.txt"; if [ -s "$f" ]; then grep -c . "$f"; else echo 0; fi; }
  # After pass 2, mutants.out holds pass 2's results and mutants.out.old pass 1's (pass 2's
  # previously_caught.txt repeats pass 1's caught and unviable together, so it is not counted).
  caught=$(count mutants.out/caught) unviable=$(count mutants.out/unviable)
  if [ -d "$dir/mutants.out.old" ]; then
    caught=$((caught + $(count mutants.out.old/caught)))
    unviable=$((unviable + $(count mutants.out.old/unviable)))
  fi
  missed=$(count mutants.out/missed) timeouts=$(count mutants.out/timeout)
  total=$((caught + missed + unviable + timeouts))
  per=$((total > 0 ? secs / total : 0))
  summary+=("$file: $total mutants, $caught caught, $missed missed, $unviable unviable, $timeouts timeouts; $((secs / 60)) min $((secs % 60)) s (~${per} s per mutant)")
done
printf '%s\n' "${summary[@]}"
# Missed mutants are listed in each folder's missed.txt; a run with any is not clean (exit 2),
# unless docs/testing.md lists each as equivalent.
clean=0
for file in "${files[@]}"; do
  name="$(echo "${file#handler/}" | tr '/' '_')"
  for kind in missed timeout; do
    m="$out/${name%.rs}/mutants.out/$kind.txt"
    if [ -s "$m" ]; then
      echo "$kind in $file:" && cat "$m"
      clean=2
    fi
  done
done
exit "$clean"
