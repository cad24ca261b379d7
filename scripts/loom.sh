#!/usr/bin/env bash
# Runs the loom models of the scheduler (scheduler/tests/loom_*.rs) under `--cfg loom`.
#
#   scripts/loom.sh                   # every model, at its own preemption bound (2 unless the
#                                     # model says otherwise)
#   scripts/loom.sh loom_task         # one model file
#   scripts/loom.sh loom_tree owner   # one file, models whose name contains "owner"
#   LOOM_MAX_PREEMPTIONS=3 scripts/loom.sh loom_task   # one bound for all: a deeper search
#
# The models compile the scheduler's own source with loom's thread-locals and loom-aware run
# queues (see scheduler/tests/loom_support/mod.rs), so they must list the same modules as
# scheduler/src/lib.rs; this script checks that first. A failing model prints loom's report and
# then usually aborts the binary ("panic in a destructor during cleanup"): rerun that one model
# with LOOM_LOG=1 LOOM_LOCATION=1 (and RUST_BACKTRACE=1) to see the interleaving.
# Models marked #[ignore = "bug: ..."] reproduce known bugs: add `-- --ignored` to run them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target-loom}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"

# The module list of the copy must match the crate's.
crate_mods=$(grep -E '^(pub )?mod [a-z_]+;' scheduler/src/lib.rs | sed -E 's/^(pub )?mod ([a-z_]+);/\2/' | sort)
copy_mods=$(grep -E '^mod [a-z_]+;' scheduler/tests/loom_support/mod.rs | sed -E 's/^mod ([a-z_]+);/\1/' | sort)
if [ "$crate_mods" != "$copy_mods" ]; then
    echo "loom.sh: scheduler/tests/loom_support/mod.rs lists other modules than scheduler/src/lib.rs:" >&2
    diff <(echo "$crate_mods") <(echo "$copy_mods") >&2 || true
    echo "add or remove the #[path] mod lines (and the pub use lines) to match" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    files=("$1")
    shift
else
    files=()
    for f in scheduler/tests/loom_*.rs; do files+=("$(basename "$f" .rs)"); done
fi

for f in "${files[@]}"; do
    echo "== $f (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-per model})"
    cargo test --release -p nursery-scheduler --test "$f" -- --test-threads=2 "$@"
done
