#!/usr/bin/env bash
# bench/watch-idle.sh: what `muxsync watch` costs on a big tree while nothing changes.
#
# Data (deterministic, from SEED): FILES (50,000) small files (100-2,000 bytes) in DIRS (2,000)
# directories. Loopback only (the network does not matter here). Three watches, one after another:
#   1. inotify, EMPTY remote      time to the "watching" event (the initial push of every file
#                                 included), then CPU and RSS while idle
#   2. inotify, remote in step    time to "watching" = local scan + comparison, nothing to send
#   3. --poll --poll-interval 1, remote in step: time to "watching", then CPU and RSS while idle
# Times are from launch (connection set-up included) and from the "connected" event (so without
# it). CPU % of one core = (utime + stime) delta from /proc/PID/stat, in two windows after the
# "watching" event: 2-12 s (before muxsync's first SSH keepalive, which it sends after 15 s
# without traffic) and the IDLE_S (30) seconds from 15+SETTLE_S s on (SETTLE_S=5: 20-50 s).
# RSS = VmRSS at the end of the window, VmHWM its peak. The pushed tree is checked by sha256.
# Targets: inotify idle < 1 %, polling idle < 10 %, initial scan < 2 s, RSS < 200 MB.
#
# Usage: bench/watch-idle.sh           (after `swift build -c release --static-swift-stdlib`)
# Environment:
#   FILES=50000  DIRS=2000   tree size
#   IDLE_S=30    SETTLE_S=5  the late window: IDLE_S seconds from 15+SETTLE_S s after "watching"
#   SEED=1
#   MUXSYNC_BUILD_DIR, BENCH_OUT_DIR, BENCH_KEEP as in bench/lib.sh
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/tools/watch-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools/watch-common.sh"

FILES=${FILES:-50000}
DIRS=${DIRS:-2000}
IDLE_S=${IDLE_S:-30}
SETTLE_S=${SETTLE_S:-5}
SEED=${SEED:-1}
[[ $FILES =~ ^[1-9][0-9]*$ && $DIRS =~ ^[1-9][0-9]*$ ]] || die "FILES and DIRS must be positive integers"
[[ $IDLE_S =~ ^[1-9][0-9]*$ && $SETTLE_S =~ ^[0-9]+$ ]] || die "IDLE_S must be positive, SETTLE_S 0 or more"

watch_bench_init watch-idle
bench_start_lab
HOST=bench-loopback
TICKS=$(getconf CLK_TCK)

TREE=$BENCH_TMP/tree
say "bench: generating $FILES files in $DIRS directories (seed $SEED)"
"$PY" "$WATCH_TOOLS/make_tree.py" "$TREE" "$FILES" "$DIRS" 100 2000 "$SEED" >&2
TREE_DIGEST=$(tree_digest "$TREE")

# MARK: - measuring one process

# cpu_ticks PID: utime + stime (fields 14 and 15, counted after the ")" closing the name).
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# cpu_window PID FROM TO: CPU % of one core between FROM and TO seconds after the "watching" event.
cpu_window() {
    local pid=$1 from=$2 to=$3 wait t0 c0 t1 c1
    wait=$(awk -v w="$WATCHING_AT" -v f="$from" -v n="$(now)" 'BEGIN { d = w + f - n; print (d > 0 ? d : 0) }')
    sleep "$wait"
    t0=$(now)
    c0=$(cpu_ticks "$pid")
    sleep "$((to - from))"
    c1=$(cpu_ticks "$pid")
    t1=$(now)
    awk -v a="$c0" -v b="$c1" -v t="$TICKS" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f\n", (b - a) / t / (e - s) * 100 }'
}

# idle_measure LABEL PID: CPU % of one core in two windows after the "watching" event:
#   early  2-12 s   before muxsync's first SSH keepalive (sent after 15 s without traffic)
#   late   SETTLE_S+15 .. +IDLE_S   the brief's "30 s idle", after the first keepalive
# then RSS (VmRSS now, VmHWM peak).
idle_measure() {
    local label=$1 pid=$2
    local early late rss hwm late_from=$((15 + SETTLE_S))
    early=$(cpu_window "$pid" 2 12)
    late=$(cpu_window "$pid" "$late_from" $((late_from + IDLE_S)))
    rss=$(status_kb "$pid" VmRSS)
    hwm=$(status_kb "$pid" VmHWM)
    printf -v "${label}_early" '%s' "$early"
    printf -v "${label}_cpu" '%s' "$late"
    printf -v "${label}_rss" '%s' "$((rss / 1024))"
    printf -v "${label}_hwm" '%s' "$((hwm / 1024))"
    record "$label.idle_cpu_percent_2_12s" "$early"
    record "$label.idle_cpu_percent_${late_from}_$((late_from + IDLE_S))s" "$late"
    record "$label.rss_mib" "$((rss / 1024))"
    record "$label.peak_rss_mib" "$((hwm / 1024))"
    say "bench: $label: idle CPU $early % of a core 2-12 s after watching, $late % over ${late_from}-$((late_from + IDLE_S)) s; RSS $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB)"
    if grep -q '"event":"\(sent\|removed\|renamed\|warning\)"' "$WATCH_LOG"; then
        say "bench: warning: $label reported changes while idle: $(grep -c '"event":"\(sent\|removed\|renamed\|warning\)"' "$WATCH_LOG") events"
    fi
}

# startup LABEL ARGS...: starts a watch to REMOTE/idle; sets LABEL_launch, LABEL_connected (s).
startup() {
    local label=$1
    shift
    start_watch "$label" "$TREE" "$HOST:$REMOTE/idle" "$@"
    wait_event "$WATCH_LOG" watching "$WATCH_PID" 900 || die "muxsync watch ($label) did not start"
    local watching connected
    watching=$(event_time "$WATCH_LOG" watching)
    WATCHING_AT=$watching
    connected=$(event_time "$WATCH_LOG" connected)
    printf -v "${label}_launch" '%s' "$(awk -v a="$WATCH_STARTED" -v b="$watching" 'BEGIN { printf "%.2f", b - a }')"
    printf -v "${label}_connected" '%s' "$(awk -v a="$connected" -v b="$watching" 'BEGIN { printf "%.2f", b - a }')"
    local l=${label}_launch c=${label}_connected
    record "$label.launch_to_watching_s" "${!l}"
    record "$label.connected_to_watching_s" "${!c}"
    say "bench: $label: watching ${!l} s after launch (${!c} s after connecting): $(grep -o '"summary":"[^"]*"' "$WATCH_LOG" | head -n 1)"
}

# MARK: - run

mkdir -p "$REMOTE/idle"
startup inotify_empty
idle_measure inotify_empty "$WATCH_PID"
stop_pid "$WATCH_PID"
expect_same "initial push" "$(tree_digest "$REMOTE/idle")" "$TREE_DIGEST"

startup inotify_instep
stop_pid "$WATCH_PID"

startup poll_instep --poll --poll-interval 1
idle_measure poll_instep "$WATCH_PID"
stop_pid "$WATCH_PID"

# MARK: - report

FRAGMENT=$BENCH_OUT_DIR/watch-idle.md
mb() { awk -v v="$1" 'BEGIN { printf "%d", v * 1.048576 }'; }
# The *_launch, *_connected, *_early, *_cpu, *_rss and *_hwm variables are set by printf -v above.
# shellcheck disable=SC2154
{
    late="$((15 + SETTLE_S))-$((15 + SETTLE_S + IDLE_S)) s"
    echo "Idle cost on $FILES files in $DIRS directories (loopback). CPU in % of one core, in two windows after the \"watching\" event: 2-12 s (before muxsync's first SSH keepalive at 15 s without traffic) and $late:"
    echo
    echo "| watch | to \"watching\" from launch | from \"connected\" | CPU 2-12 s | CPU $late | RSS | peak RSS | targets (on the $late window) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    echo "| inotify, empty remote (initial push of all files) | ${inotify_empty_launch} s | ${inotify_empty_connected} s | ${inotify_empty_early} | ${inotify_empty_cpu} | $(mb "$inotify_empty_rss") MB | $(mb "$inotify_empty_hwm") MB | CPU < 1: $(verdict "$inotify_empty_cpu" 0.9999), RSS < 200 MB: $(verdict "$(mb "$inotify_empty_rss")" 199) |"
    echo "| inotify, remote in step (scan + compare, nothing sent) | ${inotify_instep_launch} s | ${inotify_instep_connected} s | | | | | scan < 2 s: $(verdict "$inotify_instep_launch" 1.9999) |"
    echo "| --poll --poll-interval 1, remote in step | ${poll_instep_launch} s | ${poll_instep_connected} s | ${poll_instep_early} | ${poll_instep_cpu} | $(mb "$poll_instep_rss") MB | $(mb "$poll_instep_hwm") MB | CPU < 10: $(verdict "$poll_instep_cpu" 9.9999), RSS < 200 MB: $(verdict "$(mb "$poll_instep_rss")" 199) |"
} >"$FRAGMENT"
bench_publish "$FRAGMENT"
