#!/usr/bin/env bash
# bench/exec-latency.sh: how long a second command takes while a session is shared, and
# whether `muxsync exec --sync` always sees the latest save.
#
# For each network (through a proxy delaying each direction by 25 ms, and plain loopback),
# RUNS (10) rounds, the four variants taking turns in a rotating order (wall time of the whole
# client process, `true` as the remote command):
#   muxsync exec (shared)     `muxsync exec HOST -- true` while `muxsync connect HOST` holds a session
#   ssh (ControlMaster)       `ssh -o ControlPath=... HOST true` over an OpenSSH master connection
#   muxsync exec --no-shared  a fresh connection: TCP, key exchange, authentication
#   ssh (no master)           the same for OpenSSH
#   and, for context, the bare process start of each client: `muxsync --version`, `ssh -V`.
# Before timing, one `muxsync exec -v` checks that the shared session is really used (its log
# says so; through the proxy the proxy's connection counter must not move either).
# Then the --sync loop: with `muxsync watch` running on a small tree, LOOPS (20) times: write
# sync-probe.txt locally (a new content each time) and at once
# `muxsync exec --sync HOST:REMOTE -- cat sync-probe.txt`; the output must be the new content.
# Then LOOPS more rounds with 0.5 s between the write and exec --sync (the save is already on the
# remote): the cost of --sync itself. "sent" events of the watch for the probe file are counted.
# Targets: the --sync loop right LOOPS of LOOPS times.
#
# Usage: bench/exec-latency.sh         (after `swift build -c release --static-swift-stdlib`)
# Environment:
#   RUNS=10  LOOPS=20  NETS="proxy loopback"
#   BENCH_DELAY_MS=25, MUXSYNC_BUILD_DIR, BENCH_OUT_DIR, BENCH_KEEP as in bench/lib.sh
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/tools/watch-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools/watch-common.sh"

RUNS=${RUNS:-10}
LOOPS=${LOOPS:-20}
NETS=${NETS:-proxy loopback}
[[ $RUNS =~ ^[1-9][0-9]*$ && $LOOPS =~ ^[1-9][0-9]*$ ]] || die "RUNS and LOOPS must be positive integers"

watch_bench_init exec-latency
bench_start_lab

TREE=$BENCH_TMP/tree
"$PY" "$WATCH_TOOLS/make_tree.py" "$TREE" 200 10 512 8192 1 >&2
VARIANTS=(shared master fresh plain mstart sstart)
SUMMARY=$BENCH_TMP/summary.tsv
LOOPSUM=$BENCH_TMP/loops.tsv
: >"$SUMMARY"
: >"$LOOPSUM"

proxy_connections() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections"])' "$BENCH_TMP/proxy.json"; }

# run_variant NAME HOST: runs one variant once, prints its wall ms; a failure stops the bench.
run_variant() {
    local name=$1 host=$2 cmd
    case $name in
        shared) cmd=("$MUXSYNC" exec -F "$SSH_CONFIG" "$host" -- true) ;;
        master) cmd=(ssh -F "$SSH_CONFIG" -o ControlPath="$CONTROL_PATH" "$host" true) ;;
        fresh) cmd=("$MUXSYNC" exec --no-shared -F "$SSH_CONFIG" "$host" -- true) ;;
        plain) cmd=(ssh -F "$SSH_CONFIG" -o ControlPath=none "$host" true) ;;
        mstart) cmd=("$MUXSYNC" --version) ;;
        sstart) cmd=(ssh -V) ;;
    esac
    local start=$EPOCHREALTIME
    "${cmd[@]}" </dev/null >>"$BENCH_TMP/logs/exec.out" 2>&1 || die "$name ($host) failed: $(tail -n 3 "$BENCH_TMP/logs/exec.out")"
    ms_between "$start" "$EPOCHREALTIME"
}

# MARK: - latency of one more command

latency() {
    local net=$1 host
    host=$(host_of "$net")
    "$MUXSYNC" connect -F "$SSH_CONFIG" "$host" >"$BENCH_TMP/logs/connect-$net.out" 2>&1 </dev/null &
    local holder=$!
    track "$holder"
    local start=$SECONDS
    until grep -q "holding a session" "$BENCH_TMP/logs/connect-$net.out"; do
        kill -0 "$holder" 2>/dev/null || die "muxsync connect $host exited: $(tail -n 3 "$BENCH_TMP/logs/connect-$net.out")"
        ((SECONDS - start < 60)) || die "muxsync connect $host: no session after 60 s"
        sleep 0.05
    done
    start_master "$host"
    # Is the shared session really used?
    local before after
    [[ $net == proxy ]] && before=$(proxy_connections)
    "$MUXSYNC" exec -v -F "$SSH_CONFIG" "$host" -- true >"$BENCH_TMP/logs/shared-check-$net.out" 2>&1 ||
        die "muxsync exec (shared, $net) failed: $(tail -n 3 "$BENCH_TMP/logs/shared-check-$net.out")"
    grep -q "using the session shared" "$BENCH_TMP/logs/shared-check-$net.out" ||
        die "muxsync exec did not use the session of muxsync connect ($net): $(cat "$BENCH_TMP/logs/shared-check-$net.out")"
    if [[ $net == proxy ]]; then
        sleep 0.3 # the proxy writes its counters every 200 ms
        after=$(proxy_connections)
        [[ $before == "$after" ]] || die "muxsync exec (shared) opened a new connection through the proxy ($before -> $after)"
    fi
    local v
    for v in "${VARIANTS[@]}"; do run_variant "$v" "$host" >/dev/null; done # warm-up, not counted
    local round i
    for ((round = 0; round < RUNS; round++)); do
        for ((i = 0; i < ${#VARIANTS[@]}; i++)); do
            v=${VARIANTS[(round + i) % ${#VARIANTS[@]}]}
            run_variant "$v" "$host" >>"$BENCH_TMP/logs/$net-$v.values"
        done
    done
    for v in "${VARIANTS[@]}"; do
        read -r med _ max n < <(stats_of "$BENCH_TMP/logs/$net-$v.values")
        printf '%s\t%s\t%s\t%s\t%s\n' "$net" "$v" "$med" "$max" "$n" >>"$SUMMARY"
        record "$net.$v.median_ms" "$med"
        say "bench: $net $v: median $med ms, max $max ms"
    done
    stop_master "$host" "$CONTROL_PATH"
    stop_pid "$holder"
}

# MARK: - exec --sync sees every save

sync_loop() {
    local net=$1 host
    host=$(host_of "$net")
    mkdir -p "$REMOTE/exec-$net"
    start_watch "exec-watch-$net" "$TREE" "$host:$REMOTE/exec-$net"
    wait_event "$WATCH_LOG" watching "$WATCH_PID" 120 || die "muxsync watch ($net) did not start"
    local i right=0 got want start
    : >"$BENCH_TMP/logs/sync-$net.values"
    for ((i = 1; i <= LOOPS; i++)); do
        # Always the same size, several per second: a size + whole-second mtime check cannot tell them apart.
        printf -v want 'round %03d of %-8s %05d' "$i" "$net" "$RANDOM"
        printf '%s\n' "$want" >"$TREE/sync-probe.txt"
        start=$EPOCHREALTIME
        got=$("$MUXSYNC" exec --sync -F "$SSH_CONFIG" "$host:$REMOTE/exec-$net" -- cat sync-probe.txt 2>>"$BENCH_TMP/logs/sync-$net.err" || true)
        ms_between "$start" "$EPOCHREALTIME" >>"$BENCH_TMP/logs/sync-$net.values"
        if [[ $got == "$want" ]]; then
            right=$((right + 1))
        else
            say "bench: exec --sync ($net) round $i: got '$got', wanted '$want'"
        fi
    done
    # For comparison: the same, but the save has had 0.5 s to reach the remote before exec --sync.
    local settled=0
    : >"$BENCH_TMP/logs/sync-settled-$net.values"
    for ((i = 1; i <= LOOPS; i++)); do
        printf -v want 'later %03d of %-8s %05d' "$i" "$net" "$RANDOM"
        printf '%s\n' "$want" >"$TREE/sync-probe.txt"
        sleep 0.5
        start=$EPOCHREALTIME
        got=$("$MUXSYNC" exec --sync -F "$SSH_CONFIG" "$host:$REMOTE/exec-$net" -- cat sync-probe.txt 2>>"$BENCH_TMP/logs/sync-$net.err" || true)
        ms_between "$start" "$EPOCHREALTIME" >>"$BENCH_TMP/logs/sync-settled-$net.values"
        [[ $got == "$want" ]] && settled=$((settled + 1))
    done
    local sends
    sends=$(grep -c '"path":"sync-probe.txt"' "$WATCH_LOG" || true)
    stop_pid "$WATCH_PID"
    read -r med _ max _ < <(stats_of "$BENCH_TMP/logs/sync-$net.values")
    read -r smed _ < <(stats_of "$BENCH_TMP/logs/sync-settled-$net.values")
    record "$net.sync_settled_median_ms" "$smed"
    record "$net.sync_probe_sent_events" "$sends"
    say "bench: $net exec --sync 0.5 s after the write: $settled of $LOOPS right, median $smed ms; sent events for the probe file: $sends (for $((2 * LOOPS)) saves)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$net" "$right" "$med" "$max" "$smed" "$settled" "$sends" >>"$LOOPSUM"
    record "$net.sync_loop_right" "$right/$LOOPS"
    record "$net.sync_loop_median_ms" "$med"
    say "bench: $net exec --sync: $right of $LOOPS right, median $med ms (write + exec --sync + cat)"
}

for net in $NETS; do
    latency "$net"
    sync_loop "$net"
done

# MARK: - report

name_of() {
    case $1 in
        shared) echo "muxsync exec, shared (muxsync connect running)" ;;
        master) echo "ssh over a ControlMaster" ;;
        fresh) echo "muxsync exec --no-shared (new connection)" ;;
        plain) echo "ssh, no master (new connection)" ;;
        mstart) echo "(context: process start alone, \`muxsync --version\`)" ;;
        sstart) echo "(context: process start alone, \`ssh -V\`)" ;;
    esac
}

FRAGMENT=$BENCH_OUT_DIR/exec-latency.md
# $NETS is split into its words on purpose (one column per network).
# shellcheck disable=SC2086
{
    echo "One more remote command (\`true\`) while a session is open; whole client process, median of $RUNS (ms):"
    echo
    echo "| variant | $(printf '%s | ' $NETS)"
    echo "|---|$(printf -- '---:|%.0s' $NETS)"
    for v in "${VARIANTS[@]}"; do
        row="| $(name_of "$v") |"
        for net in $NETS; do
            row+=" $(awk -F'\t' -v n="$net" -v v="$v" '$1 == n && $2 == v { print $3 }' "$SUMMARY") |"
        done
        echo "$row"
    done
    echo
    echo "\`exec --sync\` right after a local write (watch running), $LOOPS rounds:"
    echo
    echo "| network | right | median ms | max ms | target | for comparison: exec --sync 0.5 s after the write (median ms, right) | sent events for the probe file ($((2 * LOOPS)) saves) |"
    echo "|---|---:|---:|---:|---|---:|---:|"
    while IFS=$'\t' read -r net right med max smed settled sends; do
        mark=$([[ $right == "$LOOPS" ]] && echo PASS || echo MISS)
        echo "| $net | $right of $LOOPS | $med | $max | all right: $mark | $smed ($settled of $LOOPS) | $sends |"
    done <"$LOOPSUM"
} >"$FRAGMENT"
bench_publish "$FRAGMENT"
