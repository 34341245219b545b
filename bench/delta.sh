#!/usr/bin/env bash
# delta.sh: bytes on the wire for a changed large file, muxsync's delta push vs rsync,
# both through the 25 ms-each-way proxy, counted BY THE PROXY (not by either tool).
#
# Cases (100 MB incompressible file, median of RUNS):
#   insert:    100 bytes inserted in the middle
#   scattered: 20 scattered 1 KB overwrites
# and once: a 1 MB append to a 1 GB file (muxsync only; target: under 2 MB on the wire).
# Each measured push is a whole process (connect + authenticate + work) for both tools.
#
# Usage: bench/delta.sh        (after swift build -c release --static-swift-stdlib)
# Environment: RUNS (3), MUXSYNC_BUILD_DIR, BENCH_DELAY_MS (25), BIG_MB (1000; 0 skips it), BENCH_KEEP=1
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-3}
BIG_MB=${BIG_MB:-1000}
bench_init delta
bench_need rsync
bench_start_lab

# Proxy byte counters: SIGUSR1 resets them, the stats file is rewritten every 200 ms.
reset_wire() { kill -USR1 "$PROXY_PID"; sleep 0.5; }
wire_bytes() {
    sleep 0.5
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["up"] + s["down"])' "$BENCH_TMP/proxy.json"
}

edit() {  # edit FILE CASE SEED
    python3 - "$1" "$2" "$3" <<'PY'
import random, sys
path, case, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = bytearray(open(path, "rb").read())
rng = random.Random(seed)
if case == "insert":
    middle = len(data) // 2 + rng.randrange(0, 4096)
    data[middle:middle] = bytes(rng.randrange(256) for _ in range(100))
elif case == "scattered":
    for _ in range(20):
        at = rng.randrange(0, len(data) - 1024)
        data[at:at + 1024] = bytes(rng.randrange(256) for _ in range(1024))
open(path, "wb").write(data)
PY
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

RSYNC_E="ssh -F $SSH_CONFIG"
declare -A mux_bytes rsync_bytes mux_secs rsync_secs
for case in insert scattered; do
    : >"$BENCH_TMP/$case.mux" ; : >"$BENCH_TMP/$case.rsync"; : >"$BENCH_TMP/$case.muxt"; : >"$BENCH_TMP/$case.rsynct"
    for run in $(seq 1 "$RUNS"); do
        src=$BENCH_TMP/src-$case-$run
        mkdir -p "$src/m" "$src/r"
        make_random_file "$src/m/big.bin" 100000000 "delta-$run"
        cp "$src/m/big.bin" "$src/r/big.bin"
        # First sync of each tool (not measured): both now hold the old version.
        "$MUXSYNC" push -q -F "$SSH_CONFIG" "$src/m" "bench-proxy:$REMOTE/m-$case-$run"
        rsync -a -e "$RSYNC_E" "$src/r/" "bench-proxy:$REMOTE/r-$case-$run/"
        edit "$src/m/big.bin" "$case" "$run"
        cp -p "$src/m/big.bin" "$src/r/big.bin"
        reset_wire
        timed t "$MUXSYNC" push -F "$SSH_CONFIG" "$src/m" "bench-proxy:$REMOTE/m-$case-$run"
        wire_bytes >>"$BENCH_TMP/$case.mux"; echo "$t" >>"$BENCH_TMP/$case.muxt"
        grep -q "as deltas" "$BENCH_TMP/logs/last.log" || die "muxsync did not send a delta: $(cat "$BENCH_TMP/logs/last.log")"
        reset_wire
        timed t rsync -a -e "$RSYNC_E" "$src/r/" "bench-proxy:$REMOTE/r-$case-$run/"
        wire_bytes >>"$BENCH_TMP/$case.rsync"; echo "$t" >>"$BENCH_TMP/$case.rsynct"
        expect_same "muxsync $case" "$(file_digest "$REMOTE/m-$case-$run/big.bin")" "$(file_digest "$src/m/big.bin")"
        expect_same "rsync $case" "$(file_digest "$REMOTE/r-$case-$run/big.bin")" "$(file_digest "$src/r/big.bin")"
        rm -rf "$src" "$REMOTE/m-$case-$run" "$REMOTE/r-$case-$run"
    done
    mux_bytes[$case]=$(median <"$BENCH_TMP/$case.mux")
    rsync_bytes[$case]=$(median <"$BENCH_TMP/$case.rsync")
    mux_secs[$case]=$(tr '\n' ' ' <"$BENCH_TMP/$case.muxt" | xargs -n1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    rsync_secs[$case]=$(tr '\n' ' ' <"$BENCH_TMP/$case.rsynct" | xargs -n1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
done

big_line="(skipped: BIG_MB=0)"
if ((BIG_MB > 0)); then
    src=$BENCH_TMP/src-big
    mkdir -p "$src"
    make_random_file "$src/huge.bin" $((BIG_MB * 1000000)) delta-big
    "$MUXSYNC" push -q -F "$SSH_CONFIG" "$src" "bench-proxy:$REMOTE/big"
    make_random_file "$BENCH_TMP/tail.bin" 1000000 delta-tail
    cat "$BENCH_TMP/tail.bin" >>"$src/huge.bin"
    reset_wire
    timed t "$MUXSYNC" push -F "$SSH_CONFIG" "$src" "bench-proxy:$REMOTE/big"
    big_wire=$(wire_bytes)
    expect_same "1 GB append" "$(file_digest "$REMOTE/big/huge.bin")" "$(file_digest "$src/huge.bin")"
    verdict=MISS; ((big_wire < 2000000)) && verdict=PASS
    big_line="| 1 MB appended to a ${BIG_MB} MB file | $big_wire | - | - | < 2,000,000 B | $verdict | $t s |"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdict_le() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "PASS" : "MISS" }'; }
ri=$(ratio "${mux_bytes[insert]}" "${rsync_bytes[insert]}")
rs=$(ratio "${mux_bytes[scattered]}" "${rsync_bytes[scattered]}")
ti=$(ratio "${mux_secs[insert]}" "${rsync_secs[insert]}")
{
    echo "| case (through the 25 ms proxy, median of $RUNS) | muxsync wire B | rsync wire B | bytes ratio | target | verdict | muxsync s / rsync s |"
    echo "|---|---:|---:|---:|---|---|---|"
    echo "| 100 B inserted mid-file, 100 MB | ${mux_bytes[insert]} | ${rsync_bytes[insert]} | $ri | <= 0.25x bytes, time <= rsync | $(verdict_le "$ri" 0.25) / time $(verdict_le "$ti" 1) | ${mux_secs[insert]} / ${rsync_secs[insert]} |"
    echo "| 20 scattered 1 KB edits, 100 MB | ${mux_bytes[scattered]} | ${rsync_bytes[scattered]} | $rs | <= 0.8x bytes | $(verdict_le "$rs" 0.8) | ${mux_secs[scattered]} / ${rsync_secs[scattered]} |"
    echo "$big_line"
} | tee "$BENCH_OUT_DIR/delta.md"
