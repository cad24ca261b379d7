#!/usr/bin/env bash
# The real-workload suite: nursery against tokio, with the server under test in one process and
# an outside client in another, over loopback (127.0.0.1). docs/benchmarks.md, "Real workloads",
# says what each workload measures and how to read the tables.
#
#   scripts/real_workloads.sh                  # everything, 5 rounds (about 20 minutes)
#   ROUNDS=1 SECONDS=1 CONNS=16 CHURN=2000 IDLE_CONNS=200 ECHO_CONNS=8 \
#       scripts/real_workloads.sh              # a smoke run (under a minute)
#   WORKLOADS="churn idle" scripts/real_workloads.sh
#
# Workloads (WORKLOADS, any of these, in this order by default):
#   http   hyper HTTP/1 keep-alive (examples/http.rs) under wrk at each of CONNS connections
#   churn  a new connection per request (churn_client), CHURN connections; the server's RSS
#          before, at its peak and after
#   idle   IDLE_CONNS mostly idle keep-alive connections, 1% of them busy (idle_conns); the
#          server's memory per connection
#   echo   TCP echo round trips over ECHO_CONNS connections: server and client in two processes
#          (echo_pair serve + client), and both in one runtime (echo_pair local)
#
# Environment (defaults in brackets):
#   ROUNDS [5]  SECONDS [10] (per measured run)  CONNS ["16 64 256 1024"]  WORKERS [2] (server
#   worker threads, both runtimes)  WRK_THREADS [2]  WARMUP [1] (seconds of wrk before each http
#   run, 0 for none)  CHURN [200000]  CHURN_CONCURRENCY [16]  CHURN_MAX_SECONDS [120]
#   IDLE_CONNS [10000]  ECHO_CONNS [64]  OUT [target/real-workloads/DATE-TIME]
#
# Each round runs every case once per runtime, nursery and tokio back to back, the first of the
# two alternating from round to round; nothing is pinned. Each server gets a fresh process
# (port 0: it prints its address). CPU per request is the server process's utime + stime from
# /proc/PID/stat over the measured window, divided by the requests; for `echo one-process` it is
# the whole process's (client tasks included).
#
# Output, under OUT: raw.csv (round,workload,case,runtime,metric,value), tables.md (medians,
# min–max, and the median of the per-round ratios nursery/tokio; also printed at the end),
# meta.txt (machine, commit, parameters), logs/ (every server's and client's output).
#
# Needs Linux (/proc), cargo, and wrk for `http` (installed with apt-get when missing). Every
# process it starts has a time limit, and the servers are killed when the script exits.
set -euo pipefail

# Bash gives SECONDS a meaning of its own (seconds since the shell started, counting from the
# value it inherited), so the caller's value is read before anything else takes time.
DURATION=${DURATION:-$(printenv SECONDS 2>/dev/null || echo 10)}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-"16 64 256 1024"}
WORKERS=${WORKERS:-2}
WRK_THREADS=${WRK_THREADS:-2}
WARMUP=${WARMUP:-1}
CHURN=${CHURN:-200000}
CHURN_CONCURRENCY=${CHURN_CONCURRENCY:-16}
CHURN_MAX_SECONDS=${CHURN_MAX_SECONDS:-120}
IDLE_CONNS=${IDLE_CONNS:-10000}
ECHO_CONNS=${ECHO_CONNS:-64}
WORKLOADS=${WORKLOADS:-"http churn idle echo"}

die() { echo "real_workloads: $*" >&2; exit 1; }
warn() { echo "real_workloads: warning: $*" >&2; }

for var in DURATION ROUNDS WORKERS WRK_THREADS WARMUP CHURN CHURN_CONCURRENCY \
           CHURN_MAX_SECONDS IDLE_CONNS ECHO_CONNS; do
    [[ ${!var} =~ ^[0-9]+$ ]] || die "$var must be a whole number, not '${!var}'"
done
for c in $CONNS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNS must be whole numbers, not '$c'"; done
for w in $WORKLOADS; do
    case $w in http | churn | idle | echo) ;; *) die "unknown workload '$w' (http churn idle echo)" ;; esac
done
((DURATION > 0 && ROUNDS > 0 && WORKERS > 0 && WRK_THREADS > 0)) ||
    die "SECONDS, ROUNDS, WORKERS and WRK_THREADS must be at least 1"
[ -r /proc/self/stat ] || die "needs Linux: server CPU and memory are read from /proc"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-target/real-workloads/$(date +%Y%m%d-%H%M%S)}
LOGS=$OUT/logs
CSV=$OUT/raw.csv
mkdir -p "$LOGS"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=$TARGET_DIR/release
HZ=$(getconf CLK_TCK)
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }

# --- the tools -------------------------------------------------------------------------------
if wants http && ! command -v wrk >/dev/null; then
    echo "wrk is missing: installing it with apt-get"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get: install wrk"
    $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; } ||
        die "could not install wrk"
fi
# One descriptor per connection in the servers and the clients: raise the limit as far as the
# hard limit allows (the binaries raise their own soft limit too).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if wants idle && (($(ulimit -n) < IDLE_CONNS + 100)); then
    warn "open-file limit $(ulimit -n) is below IDLE_CONNS=$IDLE_CONNS: expect connect errors"
fi

echo "building (release)..."
cargo build --release --quiet -p nursery --example http
cargo build --release --quiet -p nursery-bench \
    --bin echo_pair --bin churn_client --bin idle_conns --bin real_report
HTTP_BIN=$BIN/examples/http

# wrk prints p50 and p99 with --latency; this prints what the script reads, p99.9 included.
LUA=$OUT/latency.lua
cat >"$LUA" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.connect + e.read + e.write + e.status + e.timeout))
end
EOF

{
    echo "date: $(date -Is)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "kernel: $(uname -sr); cpus: $(nproc); cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "wrk: $(command -v wrk >/dev/null && { wrk -v 2>&1 || true; } | head -1 || echo none)"
    echo "ROUNDS=$ROUNDS SECONDS=$DURATION CONNS=\"$CONNS\" WORKERS=$WORKERS WRK_THREADS=$WRK_THREADS WARMUP=$WARMUP"
    echo "CHURN=$CHURN CHURN_CONCURRENCY=$CHURN_CONCURRENCY IDLE_CONNS=$IDLE_CONNS ECHO_CONNS=$ECHO_CONNS"
    echo "WORKLOADS=\"$WORKLOADS\" open-file limit: $(ulimit -n)"
} >"$OUT/meta.txt"
echo "round,workload,case,runtime,metric,value" >"$CSV"

# --- processes -------------------------------------------------------------------------------
SERVER_PID=""
SERVER_ADDR=""
CLIENT_PID=""
FAILURES=0

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    if [ -n "$CLIENT_PID" ]; then
        kill "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
    fi
    stop_server
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server LOG CMD...: starts CMD in the background, waits (at most 10 s) for its
# `listening on ADDR` line; sets SERVER_PID and SERVER_ADDR.
start_server() {
    local log=$1 i
    shift
    : >"$log.out"
    "$@" >>"$log.out" 2>"$log.err" &
    SERVER_PID=$!
    for ((i = 0; i < 200; i++)); do
        SERVER_ADDR=$(sed -n 's|^listening on \(http://\)\{0,1\}\([0-9.]*:[0-9]*\).*|\2|p' "$log.out" || true)
        [ -n "$SERVER_ADDR" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited at start: see $log.err"
        sleep 0.05
    done
    die "the server did not start within 10 s: see $log.out"
}

# run_client LOG LIMIT CMD...: runs CMD for at most LIMIT seconds; false if it failed.
run_client() {
    local log=$1 limit=$2 rc=0
    shift 2
    timeout -k 5 "$limit" "$@" >"$log.out" 2>"$log.err" &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    if [ "$rc" -ne 0 ]; then
        warn "$(basename "$log") failed (exit $rc): see $log.err"
        FAILURES=$((FAILURES + 1))
        return 1
    fi
}

# Server CPU time so far, in clock ticks: utime + stime, fields 14 and 15 of /proc/PID/stat
# (counted after the command name's closing parenthesis).
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# field LOG KEY: KEY's value on the RESULT lines of LOG.out (nan if absent).
field() {
    local value
    value=$(grep '^RESULT' "$1.out" 2>/dev/null | sed -n "s/.* $2=\([^ ]*\).*/\1/p" | tail -1)
    echo "${value:-nan}"
}

# record LOG WORKLOAD CASE RUNTIME METRIC...: one CSV line per metric; a short progress line.
record() {
    local log=$1 workload=$2 case=$3 runtime=$4 metric
    shift 4
    for metric in "$@"; do
        echo "$ROUND,$workload,$case,$runtime,$metric,$(field "$log" "$metric")" >>"$CSV"
    done
    printf '  %-6s %-12s %-8s %10s/s  p99 %8s µs  cpu %7s µs/req  errors %s\n' "$workload" \
        "$case" "$runtime" "$(field "$log" rps)" "$(field "$log" p99_us)" \
        "$(field "$log" cpu_us)" "$(field "$log" errors)"
}

# note_server_errors LOG: says so if the server wrote anything to stderr.
note_server_errors() {
    if [ -s "$1.err" ]; then
        warn "the server wrote $(wc -l <"$1.err") line(s) to stderr: see $1.err"
    fi
}

# --- the workloads ---------------------------------------------------------------------------
start_http_server() { # LOG RUNTIME SECONDS: examples/http.rs on RUNTIME, for at most SECONDS
    start_server "$1" "$HTTP_BIN" --runtime "$2" --workers "$WORKERS" --addr 127.0.0.1:0 \
        --seconds "$3"
}

http_run() { # RUNTIME CONNECTIONS
    local rt=$1 c=$2
    local log=$LOGS/r$ROUND-http-c$c-$rt threads=$((WRK_THREADS < c ? WRK_THREADS : c)) cpu0 cpu1
    start_http_server "$log-server" "$rt" $((WARMUP + DURATION + 60))
    if ((WARMUP > 0)); then
        run_client "$log-warmup" $((WARMUP + 30)) \
            wrk -t"$threads" -c"$c" -d"${WARMUP}s" "http://$SERVER_ADDR/" || true
    fi
    cpu0=$(cpu_ticks "$SERVER_PID")
    if run_client "$log" $((DURATION + 30)) wrk -t"$threads" -c"$c" -d"${DURATION}s" \
        --latency -s "$LUA" "http://$SERVER_ADDR/"; then
        cpu1=$(cpu_ticks "$SERVER_PID")
        awk -v r="$(field "$log" requests)" -v d="$(field "$log" duration_us)" \
            -v c0="$cpu0" -v c1="$cpu1" -v hz="$HZ" 'BEGIN {
                if (r > 0 && d > 0) printf "RESULT rps=%.0f cpu_us=%.2f\n", r / (d / 1e6), (c1 - c0) / hz * 1e6 / r
            }' >>"$log.out"
        record "$log" http "c$c" "$rt" rps p50_us p99_us p999_us cpu_us errors
    fi
    stop_server
    note_server_errors "$log-server"
}

churn_run() { # RUNTIME
    local rt=$1 log=$LOGS/r$ROUND-churn-$1
    start_http_server "$log-server" "$rt" $((CHURN_MAX_SECONDS + 60))
    if run_client "$log" $((CHURN_MAX_SECONDS + 30)) "$BIN/churn_client" --addr "$SERVER_ADDR" \
        --connections "$CHURN" --concurrency "$CHURN_CONCURRENCY" \
        --max-seconds "$CHURN_MAX_SECONDS" --server-pid "$SERVER_PID"; then
        record "$log" churn "n$CHURN" "$rt" rps p50_us p99_us p999_us cpu_us errors \
            rss_base_kib rss_peak_kib rss_final_kib
        printf '  %-6s %-12s %-8s server RSS: baseline %s KiB, peak %s KiB, final %s KiB\n' churn \
            "n$CHURN" "$rt" "$(field "$log" rss_base_kib)" "$(field "$log" rss_peak_kib)" \
            "$(field "$log" rss_final_kib)"
    fi
    stop_server
    note_server_errors "$log-server"
}

idle_run() { # RUNTIME
    local rt=$1 log=$LOGS/r$ROUND-idle-$1
    start_http_server "$log-server" "$rt" $((DURATION + 200))
    # The client's own phases are bounded: 60 s to connect, 60 s for the first requests.
    if run_client "$log" $((DURATION + 160)) "$BIN/idle_conns" --addr "$SERVER_ADDR" \
        --connections "$IDLE_CONNS" --seconds "$DURATION" --server-pid "$SERVER_PID"; then
        record "$log" idle "n$IDLE_CONNS" "$rt" rps p50_us p99_us p999_us cpu_us errors \
            connect_errors mem_open_b mem_used_b
    fi
    stop_server
    note_server_errors "$log-server"
}

echo_run() { # RUNTIME
    local rt=$1 log=$LOGS/r$ROUND-echo2-$1
    start_server "$log-server" "$BIN/echo_pair" serve --runtime "$rt" --workers "$WORKERS" \
        --addr 127.0.0.1:0 --seconds $((DURATION + 60))
    if run_client "$log" $((DURATION + 30)) "$BIN/echo_pair" client --addr "$SERVER_ADDR" \
        --conns "$ECHO_CONNS" --seconds "$DURATION" --server-pid "$SERVER_PID"; then
        record "$log" echo two-process "$rt" rps p50_us p99_us p999_us cpu_us errors
    fi
    stop_server
    note_server_errors "$log-server"
}

echo_local_run() { # RUNTIME
    local rt=$1 log=$LOGS/r$ROUND-echo1-$1
    if run_client "$log" $((DURATION + 30)) "$BIN/echo_pair" local --runtime "$rt" \
        --workers "$WORKERS" --conns "$ECHO_CONNS" --seconds "$DURATION"; then
        record "$log" echo one-process "$rt" rps p50_us p99_us p999_us cpu_us errors
    fi
}

# --- the rounds ------------------------------------------------------------------------------
echo "results: $OUT"
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    if ((ROUND % 2 == 1)); then ORDER="nursery tokio"; else ORDER="tokio nursery"; fi
    echo "round $ROUND/$ROUNDS ($ORDER)"
    for workload in $WORKLOADS; do
        case $workload in
            http) for c in $CONNS; do for rt in $ORDER; do http_run "$rt" "$c"; done; done ;;
            churn) for rt in $ORDER; do churn_run "$rt"; done ;;
            idle) for rt in $ORDER; do idle_run "$rt"; done ;;
            echo)
                for rt in $ORDER; do echo_run "$rt"; done
                for rt in $ORDER; do echo_local_run "$rt"; done
                ;;
        esac
    done
done

{
    echo '```text'
    cat "$OUT/meta.txt"
    echo '```'
    echo
    "$BIN/real_report" "$CSV"
} >"$OUT/tables.md"
echo
cat "$OUT/tables.md"
echo
echo "raw: $CSV; logs: $LOGS"
if ((FAILURES > 0)); then die "$FAILURES run(s) failed: see the warnings above"; fi
