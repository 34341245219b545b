#!/usr/bin/env bash
# bench/watch-latency.sh: save-to-remote latency of `muxsync watch`, beside rsync over an
# OpenSSH ControlMaster connection, and the time to catch up after a 10 s network cut.
#
# Data (deterministic, from SEED): 2,000 source-like files of 0.5-20 KB in 100 directories.
# For each network (through a proxy delaying each direction by 25 ms, and plain loopback):
#   muxsync   `muxsync watch --json TREE HOST:REMOTE/mux-NET` pushes the tree (time to its
#             "watching" event is reported), then EDITS saves of one ~4-12 KB file, GAP_MS
#             apart, each a new content carrying a sequence number (python writes it in place).
#   rsync     after the watch is stopped: an ssh ControlMaster to HOST, an initial rsync, then
#             the same EDITS saves, each followed at once by
#             `rsync -a --modify-window=-1 -e 'ssh -o ControlPath=...' TREE/ HOST:REMOTE/rsync-NET/`
#             (--modify-window=-1: compare mtimes to the nanosecond; rsync's default quick check
#             uses whole seconds and skips a same-size save made in the same second as the last).
# Latency is measured ON THE REMOTE SIDE: a watcher process (bench/tools/edit_probe.py watch,
# inotify on the remote directory, which is on this machine) stamps the moment the complete
# new content is in the remote file; latency = that stamp - the moment the local write()
# and close() returned. One clock (CLOCK_REALTIME) for both.
# Reconnect (proxy only, RECONNECT=1): with the watch running, the proxy is stopped (its open
# connections reset, new ones refused) for CUT_S seconds, 5 files are saved during the cut
# (1 s apart), the proxy is restarted on the same port; reported: restore -> all 5 on the remote.
# Targets: muxsync median <= 110 ms through the proxy, <= 15 ms on loopback; reconnect < 2 s.
#
# Usage: bench/watch-latency.sh        (after `swift build -c release --static-swift-stdlib`)
# Environment:
#   EDITS=50  GAP_MS=300   saves per tool and network, pause after each arrival
#   NETS="proxy loopback"  networks
#   RECONNECT=1            the cut test (0 skips it)
#   CUT_S=10               length of the cut
#   SEED=1                 tree seed
#   BENCH_DELAY_MS=25, MUXSYNC_BUILD_DIR, BENCH_OUT_DIR, BENCH_KEEP as in bench/lib.sh
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/tools/watch-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools/watch-common.sh"

EDITS=${EDITS:-50}
GAP_MS=${GAP_MS:-300}
NETS=${NETS:-proxy loopback}
RECONNECT=${RECONNECT:-1}
CUT_S=${CUT_S:-10}
SEED=${SEED:-1}
[[ $EDITS =~ ^[1-9][0-9]*$ ]] || die "EDITS must be a positive integer (got '$EDITS')"
[[ $CUT_S =~ ^[1-9][0-9]*$ ]] || die "CUT_S must be a positive integer (got '$CUT_S')"

watch_bench_init watch-latency
bench_need rsync
bench_start_lab

# MARK: - data

TREE=$BENCH_TMP/tree
say "bench: generating 2,000 files in 100 directories (seed $SEED)"
"$PY" "$WATCH_TOOLS/make_tree.py" "$TREE" 2000 100 512 20480 "$SEED" >&2
# The edited file: the first one of 4-12 KB in pkg05/mod05.
EDITED=$(cd "$TREE" && find pkg05/mod05 -type f -size +4k -size -12k | LC_ALL=C sort | head -n 1)
[[ -n $EDITED ]] || die "no 4-12 KB file in pkg05/mod05"
# The files saved during the cut: the first five of pkg07/mod07.
mapfile -t CUT_FILES < <(cd "$TREE/pkg07/mod07" && find . -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort | head -n 5)
say "bench: edited file $EDITED ($(stat -c %s "$TREE/$EDITED") bytes)"

SUMMARY=$BENCH_TMP/summary.tsv
: >"$SUMMARY"

# MARK: - one latency series

# series LABEL FIRST_SEQ REMOTE_ROOT [TRIGGER...]: EDITS saves, latencies in logs/LABEL.tsv.
series() {
    local label=$1 first=$2 remote_root=$3
    shift 3
    local args=(--local "$TREE" --remote "$remote_root" --file "$EDITED" --count "$EDITS"
        --gap-ms "$GAP_MS" --first-seq "$first" --out "$BENCH_TMP/logs/$label.tsv" --label "$label")
    if (($# > 0)); then args+=(-- "$@"); fi
    "$PY" "$PROBE" edits "${args[@]}" >"$BENCH_TMP/logs/$label.summary" ||
        die "$label: some saves never reached the remote (see $BENCH_TMP/logs/$label.tsv)"
    tail -n +2 "$BENCH_TMP/logs/$label.tsv" | cut -f2 >"$BENCH_TMP/logs/$label.values"
    read -r med p90 max n < <(stats_of "$BENCH_TMP/logs/$label.values")
    # What muxsync itself reports (latency_ms of its "sent" events for the edited file), beside.
    local own="" sends=""
    if [[ $label == muxsync-* ]]; then
        read -r own sends < <("$PY" - "$WATCH_LOG" "$EDITED" <<'EOF2'
import json, sys
values = []
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event.get("event") == "sent" and event.get("path") == sys.argv[2] and "latency_ms" in event:
        values.append(event["latency_ms"])
values.sort()
n = len(values)
median = (values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2) if n else float("nan")
print("%.1f %d" % (median, n))
EOF2
)
        record "$label.self_reported_median_ms" "$own"
        record "$label.sent_events" "$sends"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$med" "$p90" "$max" "$n" "$own" "$sends" >>"$SUMMARY"
    record "$label.median_ms" "$med"
    record "$label.p90_ms" "$p90"
    record "$label.max_ms" "$max"
    say "bench: $label: median $med ms, p90 $p90 ms, max $max ms ($n saves)"
}

# MARK: - the cut

# reconnect_test: the watch through the proxy is running (WATCH_PID, WATCH_LOG).
reconnect_test() {
    local dir=$REMOTE/mux-proxy/pkg07/mod07 arrivals=$BENCH_TMP/logs/cut-arrivals.txt
    local delay=${BENCH_DELAY_MS:-25}
    "$PY" "$PROBE" watch "$dir" "${CUT_FILES[@]}" >"$arrivals" </dev/null &
    local watcher=$!
    track "$watcher"
    sleep 0.5
    say "bench: cutting the network for $CUT_S s (proxy stopped), 5 saves during the cut"
    local cut_at
    cut_at=$(now)
    stop_pid "$PROXY_PID"
    local i=0 name
    for name in "${CUT_FILES[@]}"; do
        i=$((i + 1))
        sleep 1
        "$PY" "$PROBE" write "$TREE/pkg07/mod07" "$name" $((9000 + i)) >>"$BENCH_TMP/logs/cut-writes.txt"
    done
    local left
    left=$(awk -v c="$cut_at" -v n="$(now)" -v s="$CUT_S" 'BEGIN { d = c + s - n; print (d > 0 ? d : 0) }')
    sleep "$left"
    local early
    early=$(wc -l <"$arrivals")
    rm -f "$BENCH_TMP/proxy2.port"
    "$MUXLAB" proxy --target "127.0.0.1:$LAB_PORT" --delay-ms "$delay" --listen-port "$PROXY_PORT" \
        --port-file "$BENCH_TMP/proxy2.port" --stats "$BENCH_TMP/proxy2.json" \
        >"$BENCH_TMP/logs/lab-proxy2.out" 2>&1 &
    PROXY_PID=$!
    while [[ ! -s $BENCH_TMP/proxy2.port ]]; do
        kill -0 "$PROXY_PID" 2>/dev/null || die "the proxy did not restart: $(tail -3 "$BENCH_TMP/logs/lab-proxy2.out")"
        sleep 0.005
    done
    local restored_at
    restored_at=$(now)
    local start=$SECONDS
    while (($(wc -l <"$arrivals") < 5)); do
        ((SECONDS - start < 120)) || die "after the cut, only $(wc -l <"$arrivals") of 5 saves reached the remote in 120 s"
        sleep 0.01
    done
    local last
    last=$(awk '{ if ($3 > m) m = $3 } END { printf "%.6f", m }' "$arrivals")
    CUT_MS=$(ms_between "$restored_at" "$last")
    CUT_EARLY=$early
    # When did muxsync notice, and reconnect? (from its JSON events)
    CUT_EVENTS=$("$PY" - "$WATCH_LOG" "$cut_at" "$restored_at" <<'EOF'
import json, sys
log, cut, restored = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
parts = []
for line in open(log):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event["time"] < cut or event["event"] in ("sent",):
        continue
    name = event["event"]
    if name == "reconnecting":
        name += "(%gs)" % event.get("delay_s", 0)
    parts.append("%s@%+.1fs" % (name, event["time"] - restored))
print(" ".join(parts))
EOF
)
    stop_pid "$watcher"
    record "reconnect.restore_to_all_ms" "$CUT_MS"
    say "bench: reconnect: all 5 saves on the remote $CUT_MS ms after the network came back"
    say "bench: events relative to the restore: $CUT_EVENTS"
}

# MARK: - run

declare -A INITIAL
CUT_MS=""
for net in $NETS; do
    host=$(host_of "$net")
    # muxsync watch
    mkdir -p "$REMOTE/mux-$net"
    start_watch "watch-$net" "$TREE" "$host:$REMOTE/mux-$net"
    wait_event "$WATCH_LOG" watching "$WATCH_PID" 300 || die "muxsync watch ($net) did not start"
    INITIAL[muxsync-$net]=$(ms_between "$WATCH_STARTED" "$(event_time "$WATCH_LOG" watching)")
    record "muxsync-$net.initial_ms" "${INITIAL[muxsync-$net]}"
    say "bench: muxsync watch ($net): watching after ${INITIAL[muxsync-$net]} ms (initial push of 2,000 files included)"
    expect_same "muxsync watch initial push ($net)" "$(tree_digest "$REMOTE/mux-$net")" "$(tree_digest "$TREE")"
    series "muxsync-$net" 1 "$REMOTE/mux-$net"
    if [[ $net == proxy && $RECONNECT == 1 ]]; then
        reconnect_test
    fi
    stop_pid "$WATCH_PID"
    expect_same "muxsync watch final tree ($net)" "$(tree_digest "$REMOTE/mux-$net")" "$(tree_digest "$TREE")"

    # rsync over an OpenSSH master
    started=$(now)
    start_master "$host"
    rsync_cmd=(rsync -a --modify-window=-1 -e "ssh -F $SSH_CONFIG -o ControlPath=$CONTROL_PATH" "$TREE/" "$host:$REMOTE/rsync-$net/")
    "${rsync_cmd[@]}"
    INITIAL[rsync-$net]=$(ms_between "$started" "$(now)")
    record "rsync-$net.initial_ms" "${INITIAL[rsync-$net]}"
    series "rsync-$net" 1001 "$REMOTE/rsync-$net" "${rsync_cmd[@]}"
    stop_master "$host" "$CONTROL_PATH"
    expect_same "rsync final tree ($net)" "$(tree_digest "$REMOTE/rsync-$net")" "$(tree_digest "$TREE")"
done

# MARK: - report

target_of() {
    case $1 in
        muxsync-proxy) echo 110 ;;
        muxsync-loopback) echo 15 ;;
        *) echo "" ;;
    esac
}

FRAGMENT=$BENCH_OUT_DIR/watch-latency.md
{
    echo "Save-to-remote latency, measured on the remote side ($EDITS saves of a $(stat -c %s "$TREE/$EDITED")-byte file, ${GAP_MS} ms apart; ms):"
    echo
    echo "| network | tool | median | p90 | max | muxsync's own latency_ms (median, sent events) | initial sync | target | |"
    echo "|---|---|---:|---:|---:|---:|---:|---|---|"
    while IFS=$'\t' read -r label med p90 max n own sends; do
        tool=${label%-*}
        net=${label##*-}
        target=$(target_of "$label")
        if [[ -n $target ]]; then
            mark=$(verdict "$med" "$target")
            target="median <= $target"
        else
            mark=""
        fi
        initial=$(awk -v v="${INITIAL[$label]}" 'BEGIN { printf "%.2f s", v / 1000 }')
        [[ $tool == muxsync ]] && tool="muxsync watch" || tool="rsync (ControlMaster)"
        [[ -n $own ]] && own="$own ($sends)"
        echo "| $net | $tool | $med | $p90 | $max | $own | $initial | $target | $mark |"
    done <"$SUMMARY"
    if [[ -n $CUT_MS ]]; then
        echo
        echo "Reconnect through the proxy: network cut for $CUT_S s, 5 saves during the cut; all 5 on the remote"
        echo "**$CUT_MS ms** after the network came back (target < 2000 ms: $(verdict "$CUT_MS" 1999.999)); saves on the remote before the restore: $CUT_EARLY."
        echo "muxsync's events, relative to the restore: \`$CUT_EVENTS\`"
    fi
} >"$FRAGMENT"
bench_publish "$FRAGMENT"
