#!/usr/bin/env bash
# shellcheck disable=SC2154  # secs, secs_rss: set by `timed secs ...` (printf -v)
# bench/sftp-channels.sh: muxsync's SFTP client, 1 channel vs 4, beside OpenSSH sftp.
#
# A 100 MB file (100,000,000 bytes, incompressible) is uploaded and downloaded by:
#   muxsync push/pull --channels 1, muxsync push/pull --channels 4, sftp put/get,
# through a proxy that delays each direction by 25 ms (50 ms round trip) and on plain loopback.
# Upload = `muxsync push` of a directory holding only that file, to a fresh remote directory;
# download = `muxsync pull` of the remote file into a fresh local directory.
# Times are whole-process wall times (connection set-up included). Set-up alone is measured
# too: `muxsync push` of an empty directory, and an `sftp` batch holding only `pwd`.
# Every transfer is checked by sha256. Medians of RUNS runs; in each run the tools take turns
# (the order rotates between runs) and the ratio to sftp is taken within the run.
#
# Usage: bench/sftp-channels.sh            (after `swift build -c release --static-swift-stdlib`)
# Environment:
#   RUNS=5                 runs per network (the median is reported)
#   NETS="proxy loopback"  which networks to measure
#   SIZE_MB=100            file size in MB (10^6 bytes)
#   BENCH_DELAY_MS=25      proxy delay each way
#   MUXSYNC_BUILD_DIR=...  where muxsync and muxsync-lab are (default .build/release)
#   BENCH_OUT_DIR=bench/out  where the markdown fragment (sftp-channels.md) and raw .tsv go
#   BENCH_KEEP=1           keep the temp dir (logs) afterwards
#   BENCH_LOGIN_ENV=real   keep the real HOME (~/.bashrc) for the lab's SSH sessions
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-5}
NETS=${NETS:-proxy loopback}
SIZE_MB=${SIZE_MB:-100}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer (got '$SIZE_MB')"

bench_init sftp-channels
bench_start_lab

# MARK: - data

SRC=$BENCH_TMP/src
mkdir -p "$SRC/one" "$SRC/empty" "$REMOTE/source" "$BENCH_TMP/dl"
say "bench: making a ${SIZE_MB} MB file"
make_random_file "$SRC/one/big.bin" $((SIZE_MB * 1000000)) sftp-channels
WANT=$(file_digest "$SRC/one/big.bin")
cp "$SRC/one/big.bin" "$REMOTE/source/big.bin"
printf 'pwd\n' >"$BENCH_TMP/setup.batch"

# MARK: - one measurement each

# Each sets $secs and records "NET<TAB>RUN<TAB>WHAT" -> seconds.
measure_setup_mux() { # net run channels
    local host dest
    host=$(host_of "$1")
    dest=$REMOTE/setup-mux$3-$2
    timed secs "$MUXSYNC" push -q --channels "$3" -F "$SSH_CONFIG" "$SRC/empty" "$host:$dest"
    [[ -d $dest ]] || die "muxsync push of an empty directory did not create $dest"
    rm -rf "$dest"
    record "$1/$2/setup/mux$3" "$secs"
}

measure_setup_sftp() { # net run
    local host
    host=$(host_of "$1")
    timed secs sftp -q -F "$SSH_CONFIG" -b "$BENCH_TMP/setup.batch" "$host"
    record "$1/$2/setup/sftp" "$secs"
}

measure_push_mux() { # net run channels
    local host dest
    host=$(host_of "$1")
    dest=$REMOTE/push-mux$3-$2
    timed secs "$MUXSYNC" push -q --channels "$3" -F "$SSH_CONFIG" "$SRC/one" "$host:$dest"
    expect_same "muxsync push --channels $3 ($1)" "$(file_digest "$dest/big.bin")" "$WANT"
    [[ $(find "$dest" -mindepth 1 | wc -l) == 1 ]] || die "muxsync push left extra entries in $dest: $(ls -A "$dest")"
    rm -rf "$dest"
    record "$1/$2/up/mux$3" "$secs"
    record "$1/$2/up/mux$3/rss" "$secs_rss"
}

measure_put_sftp() { # net run
    local host dest
    host=$(host_of "$1")
    dest=$REMOTE/put-sftp-$2.bin
    printf 'put %s %s\n' "$SRC/one/big.bin" "$dest" >"$BENCH_TMP/put.batch"
    timed secs sftp -q -F "$SSH_CONFIG" -b "$BENCH_TMP/put.batch" "$host"
    expect_same "sftp put ($1)" "$(file_digest "$dest")" "$WANT"
    rm -f "$dest"
    record "$1/$2/up/sftp" "$secs"
}

measure_pull_mux() { # net run channels
    local host dest
    host=$(host_of "$1")
    dest=$BENCH_TMP/dl/pull-mux$3-$2
    timed secs "$MUXSYNC" pull -q --channels "$3" -F "$SSH_CONFIG" "$host:$REMOTE/source/big.bin" "$dest"
    expect_same "muxsync pull --channels $3 ($1)" "$(file_digest "$dest/big.bin")" "$WANT"
    rm -rf "$dest"
    record "$1/$2/down/mux$3" "$secs"
    record "$1/$2/down/mux$3/rss" "$secs_rss"
}

measure_get_sftp() { # net run
    local host dest
    host=$(host_of "$1")
    dest=$BENCH_TMP/dl/get-sftp-$2.bin
    printf 'get %s %s\n' "$REMOTE/source/big.bin" "$dest" >"$BENCH_TMP/get.batch"
    timed secs sftp -q -F "$SSH_CONFIG" -b "$BENCH_TMP/get.batch" "$host"
    expect_same "sftp get ($1)" "$(file_digest "$dest")" "$WANT"
    rm -f "$dest"
    record "$1/$2/down/sftp" "$secs"
}

# MARK: - runs

started=$EPOCHREALTIME
for net in $NETS; do
    host_of "$net" >/dev/null
    for ((run = 1; run <= RUNS; run++)); do
        say "bench: $net run $run/$RUNS"
        rotated "$run" "measure_setup_mux $net $run 1" "measure_setup_mux $net $run 4" "measure_setup_sftp $net $run"
        rotated "$run" "measure_push_mux $net $run 1" "measure_push_mux $net $run 4" "measure_put_sftp $net $run"
        rotated "$run" "measure_pull_mux $net $run 1" "measure_pull_mux $net $run 4" "measure_get_sftp $net $run"
    done
done
elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
bench_save_results

# MARK: - report

python3 - "$RESULTS" "$BENCH_OUT_DIR/sftp-channels.md" "$SIZE_MB" "$RUNS" "$NETS" "${BENCH_DELAY_MS:-25}" "$elapsed" \
    "$(nproc)" "$(uptime | sed 's/.*load average: //')" <<'EOF'
import statistics, sys
from collections import defaultdict

path, out, size_mb, runs, nets, delay, elapsed, cores, load = sys.argv[1:]
size_mb, runs = float(size_mb), int(runs)
values = {}
for line in open(path):
    key, value = line.rstrip("\n").split("\t")
    values[key] = float(value)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def net_title(net):
    return f"through the proxy ({delay} ms each way)" if net == "proxy" else "plain loopback"

lines = []
lines.append(f"### SFTP client: {size_mb:g} MB file, muxsync 1 vs 4 channels vs OpenSSH sftp")
lines.append("")
lines.append(f"Median of {runs} run(s); MB = 10^6 bytes; wall time of the whole process (connect + auth + transfer); "
             f"'x sftp' = muxsync MB/s / sftp MB/s within the same run, median over runs (>1: muxsync faster). "
             f"{cores} cores, load average at the end {load}; the bench took {elapsed} s.")
lines.append("")
for net in nets.split():
    lines.append(f"#### {net_title(net)}")
    lines.append("")
    lines.append("| direction | tool | median s | MB/s | x sftp | min-max s | peak RSS MB |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for direction, peer_name in (("up", "sftp put"), ("down", "sftp get")):
        for tool, label in (("mux1", "muxsync --channels 1"), ("mux4", "muxsync --channels 4"), ("sftp", peer_name)):
            times = [values[f"{net}/{r}/{direction}/{tool}"] for r in range(1, runs + 1)
                     if f"{net}/{r}/{direction}/{tool}" in values]
            ratios = [values[f"{net}/{r}/{direction}/sftp"] / values[f"{net}/{r}/{direction}/{tool}"]
                      for r in range(1, runs + 1) if f"{net}/{r}/{direction}/{tool}" in values]
            rss = [values[f"{net}/{r}/{direction}/{tool}/rss"] / 1024 for r in range(1, runs + 1)
                   if f"{net}/{r}/{direction}/{tool}/rss" in values]
            t = med(times)
            word = "upload" if direction == "up" else "download"
            lines.append(f"| {word} | {label} | {t:.2f} | {size_mb / t:.1f} | "
                         f"{'1' if tool == 'sftp' else format(med(ratios), '.2f')} | "
                         f"{min(times):.2f}-{max(times):.2f} | {format(max(rss), '.0f') if rss and tool != 'sftp' else ''} |")
    lines.append("")
    lines.append("Set-up only (connect, authenticate, open channels, nothing to transfer):")
    lines.append("")
    lines.append("| what | median s | min-max s |")
    lines.append("|---|---:|---:|")
    for tool, label in (("mux1", "muxsync push of an empty dir, --channels 1"),
                        ("mux4", "muxsync push of an empty dir, --channels 4"),
                        ("sftp", "sftp -b (batch: pwd)")):
        times = [values[f"{net}/{r}/setup/{tool}"] for r in range(1, runs + 1) if f"{net}/{r}/setup/{tool}" in values]
        lines.append(f"| {label} | {med(times):.3f} | {min(times):.3f}-{max(times):.3f} |")
    lines.append("")

text = "\n".join(lines)
with open(out, "w") as f:
    f.write(text + "\n")
print(text)
print(f"\nmarkdown fragment: {out}", file=sys.stderr)
EOF
