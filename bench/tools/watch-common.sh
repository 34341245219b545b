# shellcheck shell=bash
# shellcheck disable=SC2034  # PROBE, WATCH_STARTED, CONTROL_PATH, PY: used by the scripts that source this
# Helpers shared by bench/watch-latency.sh, bench/watch-idle.sh and bench/exec-latency.sh
# (sourced after bench/lib.sh, not run on its own).
#
#   watch_bench_init NAME   bench_init + an EXIT trap that also stops what these helpers start
#   track PID               end PID (TERM, then KILL) on exit
#   start_watch NAME LOCAL DEST [ARGS...]   muxsync watch --json in the background: WATCH_PID,
#                           WATCH_LOG (the JSON lines), WATCH_STARTED ($EPOCHREALTIME at launch)
#   wait_event LOG EVENT PID SECONDS        waits for a JSON line with "event":"EVENT"
#   event_time LOG EVENT    the "time" field of the first such line
#   stop_pid PID            TERM, wait up to 10 s, KILL
#   start_master HOST       an OpenSSH ControlMaster for HOST; sets CONTROL_PATH
#   stats_of FILE           "median p90 max n" of the numbers in FILE (one a line)
#   now                     $EPOCHREALTIME (wall clock, the same clock as python's time.time())

WATCH_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=$WATCH_TOOLS/edit_probe.py
TRACKED_PIDS=()
MASTER_PATHS=()

# MARK: - set-up and clean-up

watch_bench_init() {
    bench_init "$1"
    # One interpreter path, not a version-manager shim, for the many small python3 calls.
    PY=$(python3 -c 'import sys; print(sys.executable)')
    trap watch_bench_cleanup EXIT
}

track() { TRACKED_PIDS+=("$1"); }

watch_bench_cleanup() {
    local status=$?
    set +e
    local pid entry
    for entry in "${MASTER_PATHS[@]}"; do
        ssh -F "$SSH_CONFIG" -o ControlPath="${entry#* }" -O exit "${entry%% *}" >/dev/null 2>&1
    done
    for pid in "${TRACKED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${TRACKED_PIDS[@]}"; do
        local waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    (exit "$status")
    bench_cleanup
}

now() { printf '%s\n' "$EPOCHREALTIME"; }

stop_pid() {
    local pid=$1 waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# MARK: - muxsync watch

start_watch() {
    local name=$1 local_dir=$2 dest=$3
    shift 3
    WATCH_LOG=$BENCH_TMP/logs/$name.jsonl
    WATCH_STARTED=$EPOCHREALTIME
    "$MUXSYNC" watch -F "$SSH_CONFIG" --json "$@" "$local_dir" "$dest" >"$WATCH_LOG" 2>"$BENCH_TMP/logs/$name.err" </dev/null &
    WATCH_PID=$!
    track "$WATCH_PID"
}

wait_event() {
    local log=$1 event=$2 pid=$3 limit=$4 start=$SECONDS
    while ! grep -q "\"event\":\"$event\"" "$log" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "bench: the process $pid exited before '$event'; its output:"
            tail -n 20 "$log" "${log%.jsonl}.err" >&2 2>/dev/null
            return 1
        fi
        ((SECONDS - start < limit)) || {
            say "bench: no '$event' event after $limit s"
            tail -n 5 "$log" >&2
            return 1
        }
        sleep 0.02
    done
}

event_time() {
    grep "\"event\":\"$2\"" "$1" | head -n 1 | "$PY" -c 'import json,sys; print("%.6f" % json.loads(sys.stdin.readline())["time"])'
}

# MARK: - OpenSSH master

start_master() {
    local host=$1
    CONTROL_PATH=$BENCH_TMP/cm-$1
    MASTER_PATHS+=("$host $CONTROL_PATH")
    ssh -F "$SSH_CONFIG" -o ControlMaster=yes -o ControlPath="$CONTROL_PATH" -o ControlPersist=no -fN "$host" ||
        die "could not start an ssh master to $host"
}

stop_master() {
    local host=$1 path=$2
    ssh -F "$SSH_CONFIG" -o ControlPath="$path" -O exit "$host" >/dev/null 2>&1 || true
}

# MARK: - numbers

# stats_of FILE: "median p90 max n" (milliseconds as given), nan when empty.
stats_of() {
    "$PY" - "$1" <<'EOF'
import sys
values = sorted(float(line) for line in open(sys.argv[1]) if line.strip())
n = len(values)
if n == 0:
    print("nan nan nan 0")
else:
    median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    p90 = values[min(n - 1, round(0.9 * (n - 1)))]
    print("%.1f %.1f %.1f %d" % (median, p90, values[-1], n))
EOF
}

# verdict VALUE LIMIT: PASS when VALUE <= LIMIT.
verdict() {
    awk -v v="$1" -v l="$2" 'BEGIN { print ((v != "nan" && v + 0 <= l + 0) ? "PASS" : "MISS") }'
}

# seconds between two $EPOCHREALTIME-style stamps, in ms.
ms_between() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}
