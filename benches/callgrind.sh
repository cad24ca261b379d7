#!/bin/sh
# Instructions per run of every workload on each runtime, counted by callgrind: a noise-free
# complement to the timings of `compare` on a busy machine.
#
#   per run = (Ir of 1 warm-up + 4 samples  -  Ir of 1 warm-up + 1 sample) / 3
#
# so that process start, runtime construction and the warm-up cancel out. Counts user-space
# instructions only (no kernel time, no waiting), with valgrind running one thread at a time.
#
#   sh benches/callgrind.sh [FILTER]     (after building with --release; prints a markdown table)
set -eu
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/compare}
OUT=${OUT:-$(dirname "$BIN")/callgrind}
mkdir -p "$OUT"

ir() { # workload side samples -> Ir
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$1.$2.$3.out" \
        "$BIN" --only "$2" --filter "$1" --warmup 1 --samples "$3" >/dev/null 2>"$OUT/$1.$2.$3.log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/$1.$2.$3.log"
}

echo "| workload | nursery instructions / run | tokio instructions / run | ratio |"
echo "|---|---:|---:|---:|"
for w in $("$BIN" --list | awk '{print $1}' | grep -e "${1:-.}"); do
    n=$(( ($(ir "$w" nursery 4) - $(ir "$w" nursery 1)) / 3 ))
    t=$(( ($(ir "$w" tokio 4) - $(ir "$w" tokio 1)) / 3 ))
    awk -v w="$w" -v n="$n" -v t="$t" \
        'BEGIN { printf "| %s | %.2f M | %.2f M | %.2f |\n", w, n / 1e6, t / 1e6, n / t }'
done
