#!/usr/bin/env bash
# Runs the loom models of the scheduler under `--cfg loom`: the in-crate ones
# (`#[cfg(all(test, loom))]` modules next to the code they check, run as the lib's unit tests)
# and scheduler/tests/loom_*.rs (models that need only the public API).
#
#   scripts/loom.sh                        # every model, at its own preemption bound (2 unless
#                                          # the model says otherwise)
#   scripts/loom.sh loom_task              # one model file (scheduler/tests/loom_task.rs)
#   scripts/loom.sh task::recycle          # the in-crate models under one module path
#   scripts/loom.sh loom_tree owner        # one file or module, models whose name contains "owner"
#   LOOM_MAX_PREEMPTIONS=3 scripts/loom.sh loom_task   # one bound for all: a deeper search
#
# `--cfg loom` switches the scheduler's `crate::sync` shim (scheduler/src/sync/) to loom's
# atomics, thread-locals and loom-aware run queues, so the models run the crate's real source.
# A failing model prints loom's report and then usually aborts the binary ("panic in a
# destructor during cleanup"): rerun that one model with LOOM_LOG=1 LOOM_LOCATION=1 (and
# RUST_BACKTRACE=1) to see the interleaving.
# Models marked #[ignore = "bug: ..."] reproduce known bugs: add `-- --ignored` to run them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target-loom}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"

# Under `--cfg loom` the lib's unit tests are exactly its loom models (the others are
# `cfg(not(loom))`), so `--lib` with a module-path filter selects them.
run_lib() {
    local module="$1"
    shift
    echo "== lib ${module:-(all in-crate models)} (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-per model})"
    if [ "$#" -gt 0 ] && [[ "$1" != -* ]]; then
        # A module and a name filter: select the models whose full name has both.
        local filter="$1"
        shift
        local names
        names=$(cargo test --release -p nursery-scheduler --lib -- --list 2>/dev/null |
            sed -n 's/: test$//p' | grep -F "$module" | grep -F "$filter" || true)
        if [ -z "$names" ]; then
            echo "loom.sh: no in-crate model under '$module' matches '$filter'" >&2
            exit 2
        fi
        # shellcheck disable=SC2086
        cargo test --release -p nursery-scheduler --lib -- --test-threads=2 --exact $names "$@"
    else
        cargo test --release -p nursery-scheduler --lib -- --test-threads=2 "$module" "$@"
    fi
}

run_file() {
    local file="$1"
    shift
    echo "== $file (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-per model})"
    cargo test --release -p nursery-scheduler --test "$file" -- --test-threads=2 "$@"
}

if [ "$#" -gt 0 ]; then
    target="$1"
    shift
    if [ -f "scheduler/tests/$target.rs" ]; then
        run_file "$target" "$@"
    else
        run_lib "$target" "$@"
    fi
else
    run_lib ""
    for f in scheduler/tests/loom_*.rs; do run_file "$(basename "$f" .rs)"; done
fi
