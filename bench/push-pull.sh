#!/usr/bin/env bash
# shellcheck disable=SC2154  # secs, secs_rss: set by `timed secs ...` (printf -v)
# bench/push-pull.sh: muxsync push and pull beside rsync and OpenSSH sftp.
#
# Data (deterministic, from SEED): a tree of 2,000 source-like files of 0.5-20 KB in 100
# directories (10 x 10), plus one incompressible 100 MB binary (assets/blob.bin).
# Measured through a proxy that delays each direction by 25 ms and on plain loopback, each
# a median of RUNS runs (whole-process wall time, connection set-up included):
#   initial push   muxsync push TREE HOST:fresh       vs  rsync -a -e ssh TREE/ HOST:fresh/
#   re-push        the same again, nothing changed    vs  the same rsync again
#   pull 100 MB    muxsync pull HOST:FILE DIR         vs  sftp get (batch)
#   push 100 MB    muxsync push DIR-WITH-FILE HOST:fresh  vs  sftp put (batch)
#   pull tree      muxsync pull HOST:SMALL DIR        vs  rsync -a -e ssh HOST:SMALL/ DIR/
#                  (SMALL: the 2,000 small files without the binary; no target, context)
# and on loopback the peak RSS of muxsync pushing and pulling a 1 GB file.
# Every muxsync case runs in two modes:
#   one-shot  `--no-shared`: every command connects on its own (TCP, key exchange, auth);
#   as typed  muxsync's default: the first command of the run left its session open in the
#             background (`--persist`, 600 s), so later ones run over it; with SHARED=1 (the
#             default). The peers then run over an OpenSSH ControlMaster (`-o ControlPath=...`),
#             the nearest OpenSSH setting (ControlMaster auto + ControlPersist).
# Ratios are given against the plain peer (the issue's targets) and against the peer over
# its master.
# Every result is checked by sha256 (of the whole tree: paths and contents).
# Ratios are muxsync time / peer time within the same run (the tools take turns, order
# rotating between runs), median over runs; targets print PASS or MISS.
#
# Usage: bench/push-pull.sh            (after `swift build -c release --static-swift-stdlib`)
# Environment:
#   RUNS=5                 runs per network
#   SHARED=1               also measure muxsync as typed (background session) and the peers
#                          over a master (0: one-shot only)
#   NETS="proxy loopback"  which networks to measure
#   RSS_RUNS=1             1 GB push+pull runs for peak RSS (0 skips them)
#   RSS_MB=1000            size of that file in MB (10^6 bytes)
#   SEED=1                 seed of the generated tree
#   BENCH_DELAY_MS=25      proxy delay each way
#   MUXSYNC_BUILD_DIR=...  where muxsync and muxsync-lab are (default .build/release)
#   BENCH_OUT_DIR=bench/out  where the markdown fragment (push-pull.md) and raw .tsv go
#   BENCH_KEEP=1           keep the temp dir (logs) afterwards
#   BENCH_LOGIN_ENV=real   keep the real HOME (~/.bashrc) for the lab's SSH sessions
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/tools/watch-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools/watch-common.sh"

RUNS=${RUNS:-5}
NETS=${NETS:-proxy loopback}
SHARED=${SHARED:-1}
RSS_RUNS=${RSS_RUNS:-1}
RSS_MB=${RSS_MB:-1000}
SEED=${SEED:-1}
BIG_BYTES=100000000
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ $RSS_RUNS =~ ^[0-9]+$ ]] || die "RSS_RUNS must be 0 or more (got '$RSS_RUNS')"
[[ $RSS_MB =~ ^[1-9][0-9]*$ ]] || die "RSS_MB must be a positive integer (got '$RSS_MB')"

watch_bench_init push-pull
bench_need rsync
bench_start_lab

# MARK: - data

SRC=$BENCH_TMP/src
TREE=$SRC/tree
DL=$BENCH_TMP/dl
mkdir -p "$TREE/assets" "$SRC/bigonly" "$REMOTE/source" "$DL"
say "bench: generating the tree (seed $SEED)"
python3 - "$TREE" "$SEED" <<'EOF'
import os, random, sys
root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
words = ("let var func return if else for in while struct class enum case switch guard import "
         "self value count index buffer result error throw try await async public private static "
         "init deinit true false nil map filter reduce append remove insert path file data").split()
exts = (".swift", ".py", ".c", ".h", ".md", ".json", ".txt", ".sh")
files = 0
for p in range(10):
    for m in range(10):
        directory = os.path.join(root, f"pkg{p:02d}", f"mod{m:02d}")
        os.makedirs(directory, exist_ok=True)
        for f in range(20):
            size = rng.randint(512, 20 * 1024)
            lines, total = [], 0
            while total < size:
                indent = "    " * rng.randint(0, 3)
                line = indent + " ".join(rng.choice(words) for _ in range(rng.randint(2, 12)))
                lines.append(line)
                total += len(line) + 1
            text = ("\n".join(lines) + "\n")[:size]
            name = f"file{f:02d}{exts[(p + m + f) % len(exts)]}"
            with open(os.path.join(directory, name), "w") as out:
                out.write(text)
            files += 1
assert files == 2000, files
EOF
say "bench: making the 100 MB binary"
make_random_file "$TREE/assets/blob.bin" "$BIG_BYTES" "push-pull-$SEED"
ln "$TREE/assets/blob.bin" "$SRC/bigonly/blob.bin"
cp "$TREE/assets/blob.bin" "$REMOTE/source/blob.bin"
mkdir -p "$SRC/smallonly"
cp -a "$TREE"/pkg* "$SRC/smallonly/"
cp -a "$SRC/smallonly" "$REMOTE/source/small"
TREE_WANT=$(tree_digest "$TREE")
BIG_WANT=$(file_digest "$TREE/assets/blob.bin")
BIGONLY_WANT=$(tree_digest "$SRC/bigonly")
SMALL_WANT=$(tree_digest "$SRC/smallonly")
TREE_FILES=$(find "$TREE" -type f | wc -l)
TREE_DIRS=$(find "$TREE" -mindepth 1 -type d | wc -l)
TREE_MB=$(du -sb "$TREE" | awk '{ printf "%.1f", $1 / 1e6 }')
say "bench: tree: $TREE_FILES files, $TREE_DIRS directories, $TREE_MB MB"

# MARK: - one measurement each

# MODE is "one-shot" (every command connects on its own) or "shared" (muxsync as typed:
# over the background session its first command left; ssh over the ControlMaster). Keys:
# NET/RUN/CASE/TOOL with TOOL mux | peer (one-shot) or muxs | peerm (shared).
# (The bench's environment sets MUXSYNC_PERSIST=0, so the default is given explicitly.)
mux_args() { # mode
    if [[ $1 == shared ]]; then echo "--persist 600 -F $SSH_CONFIG"; else echo "--no-shared -F $SSH_CONFIG"; fi
}
ssh_args() { # mode host
    if [[ $1 == shared ]]; then echo "-F $SSH_CONFIG -o ControlPath=$BENCH_TMP/cm-$2"; else echo "-F $SSH_CONFIG -o ControlPath=none"; fi
}
tool_of() { # mode mux|peer
    if [[ $1 == shared ]]; then [[ $2 == mux ]] && echo muxs || echo peerm; else echo "$2"; fi
}

# Initial push and re-push into a fresh remote directory (removed after the network's runs,
# like the pulled trees below).
measure_mux_tree() { # net run mode
    local host dest step
    host=$(host_of "$1")
    dest=$REMOTE/tree-mux-$2-$3
    for step in init again; do
        # shellcheck disable=SC2046
        measured "$1/$2/$step/$(tool_of "$3" mux)" "muxsync $step push ($1, $3)" "$TREE_WANT" tree_digest "$dest" \
            "$MUXSYNC" push -q $(mux_args "$3") "$TREE" "$host:$dest"
    done
}

measure_rsync_tree() { # net run mode
    local host dest step
    host=$(host_of "$1")
    dest=$REMOTE/tree-rsync-$2-$3
    for step in init again; do
        measured "$1/$2/$step/$(tool_of "$3" peer)" "rsync $step push ($1, $3)" "$TREE_WANT" tree_digest "$dest" \
            rsync -a -e "ssh $(ssh_args "$3" "$host")" "$TREE/" "$host:$dest/"
    done
}

measure_mux_pull() { # net run mode
    local host dest
    host=$(host_of "$1")
    dest=$DL/pull-mux-$2-$3
    # shellcheck disable=SC2046
    measured "$1/$2/pull/$(tool_of "$3" mux)" "muxsync pull ($1, $3)" "$BIG_WANT" file_digest "$dest/blob.bin" \
        "$MUXSYNC" pull -q $(mux_args "$3") "$host:$REMOTE/source/blob.bin" "$dest"
    rm -rf "$dest"
}

# The 2,000 small files back from the remote, into a fresh local directory. The copies are
# removed only after the network's runs: on ext4, creating files right after removing
# thousands makes each new inode's allocation scan past the recently freed ones (seen in
# perf as recently_deleted), which would weigh on whichever tool runs next.
measure_mux_pull_tree() { # net run mode
    local host dest
    host=$(host_of "$1")
    dest=$DL/tree-mux-$2-$3
    # shellcheck disable=SC2046
    measured "$1/$2/pulltree/$(tool_of "$3" mux)" "muxsync pull of the small files ($1, $3)" "$SMALL_WANT" tree_digest "$dest" \
        "$MUXSYNC" pull -q $(mux_args "$3") "$host:$REMOTE/source/small" "$dest"
}

measure_rsync_pull_tree() { # net run mode
    local host dest
    host=$(host_of "$1")
    dest=$DL/tree-rsync-$2-$3
    measured "$1/$2/pulltree/$(tool_of "$3" peer)" "rsync pull of the small files ($1, $3)" "$SMALL_WANT" tree_digest "$dest" \
        rsync -a -e "ssh $(ssh_args "$3" "$host")" "$host:$REMOTE/source/small/" "$dest/"
}

measure_sftp_get() { # net run mode
    local host dest
    host=$(host_of "$1")
    dest=$DL/get-sftp-$2-$3.bin
    printf 'get %s %s\n' "$REMOTE/source/blob.bin" "$dest" >"$BENCH_TMP/get.batch"
    # shellcheck disable=SC2046
    measured "$1/$2/pull/$(tool_of "$3" peer)" "sftp get ($1, $3)" "$BIG_WANT" file_digest "$dest" \
        sftp -q $(ssh_args "$3" "$host") -b "$BENCH_TMP/get.batch" "$host"
    rm -f "$dest"
}

measure_mux_push_big() { # net run mode
    local host dest
    host=$(host_of "$1")
    dest=$REMOTE/big-mux-$2-$3
    # shellcheck disable=SC2046
    measured "$1/$2/push/$(tool_of "$3" mux)" "muxsync push of the 100 MB file ($1, $3)" "$BIGONLY_WANT" \
        tree_digest "$dest" "$MUXSYNC" push -q $(mux_args "$3") "$SRC/bigonly" "$host:$dest"
    rm -rf "$dest"
}

measure_sftp_put() { # net run mode
    local host dest
    host=$(host_of "$1")
    dest=$REMOTE/big-sftp-$2-$3.bin
    printf 'put %s %s\n' "$SRC/bigonly/blob.bin" "$dest" >"$BENCH_TMP/put.batch"
    # shellcheck disable=SC2046
    measured "$1/$2/push/$(tool_of "$3" peer)" "sftp put ($1, $3)" "$BIG_WANT" file_digest "$dest" \
        sftp -q $(ssh_args "$3" "$host") -b "$BENCH_TMP/put.batch" "$host"
    rm -f "$dest"
}

# Lets muxsync leave its background session for HOST (a first push, as a user's first
# command would) and starts an OpenSSH master for HOST; checks that the next muxsync push
# really runs over the kept session (its -v log says so; the proxy counts no new connection).
start_shared() { # net
    local host before after check
    host=$(host_of "$1")
    check=$BENCH_TMP/logs/shared-check-$1
    "$MUXSYNC" push -v --persist 600 -F "$SSH_CONFIG" "$SRC/bigonly" "$host:$REMOTE/shared-check" >"$check-1.out" 2>&1 ||
        die "muxsync push ($1) failed: $(tail -n 3 "$check-1.out")"
    grep -q "started a background session" "$check-1.out" ||
        die "muxsync push ($1) left no background session: $(tail -n 5 "$check-1.out")"
    start_master "$host"
    [[ $CONTROL_PATH == "$BENCH_TMP/cm-$host" ]] || die "unexpected ControlPath $CONTROL_PATH"
    sleep 0.3 # the proxy writes its counters every 200 ms
    before=$(proxy_connections)
    "$MUXSYNC" push -v --persist 600 -F "$SSH_CONFIG" "$SRC/bigonly" "$host:$REMOTE/shared-check" >"$check-2.out" 2>&1 ||
        die "muxsync push over the background session ($1) failed: $(tail -n 3 "$check-2.out")"
    grep -q "using the session shared" "$check-2.out" ||
        die "muxsync push did not use the background session ($1): $(tail -n 5 "$check-2.out")"
    sleep 0.3
    after=$(proxy_connections)
    [[ $before == "$after" ]] || die "muxsync push (shared, $1) opened a new connection ($before -> $after)"
    rm -rf "$REMOTE/shared-check"
}

proxy_connections() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections"])' "$BENCH_TMP/proxy.json"; }

# Peak RSS of muxsync pushing, then pulling, a large file on loopback.
measure_rss() { # run
    local host=bench-loopback dest=$REMOTE/rss-$1 back=$DL/rss-$1
    timed secs "$MUXSYNC" push -q --no-shared -F "$SSH_CONFIG" "$SRC/huge" "$host:$dest"
    expect_same "muxsync push of the ${RSS_MB} MB file" "$(file_digest "$dest/huge.bin")" "$HUGE_WANT"
    record "rss/$1/push/seconds" "$secs"
    record "rss/$1/push/kib" "$secs_rss"
    timed secs "$MUXSYNC" pull -q --no-shared -F "$SSH_CONFIG" "$host:$dest/huge.bin" "$back"
    expect_same "muxsync pull of the ${RSS_MB} MB file" "$(file_digest "$back/huge.bin")" "$HUGE_WANT"
    record "rss/$1/pull/seconds" "$secs"
    record "rss/$1/pull/kib" "$secs_rss"
    rm -rf "$dest" "$back"
}

# MARK: - runs

started=$EPOCHREALTIME
MODES=one-shot
[[ $SHARED == 1 ]] && MODES="one-shot shared"
for net in $NETS; do
    host_of "$net" >/dev/null
    [[ $SHARED == 1 ]] && start_shared "$net"
    for ((run = 1; run <= RUNS; run++)); do
        say "bench: $net run $run/$RUNS"
        for mode in $MODES; do
            rotated "$run" "measure_mux_tree $net $run $mode" "measure_rsync_tree $net $run $mode"
            rotated "$run" "measure_mux_pull $net $run $mode" "measure_sftp_get $net $run $mode"
            rotated "$run" "measure_mux_push_big $net $run $mode" "measure_sftp_put $net $run $mode"
            rotated "$run" "measure_mux_pull_tree $net $run $mode" "measure_rsync_pull_tree $net $run $mode"
        done
    done
    rm -rf "$DL"/tree-* "$REMOTE"/tree-*
    if [[ $SHARED == 1 ]]; then
        stop_master "$(host_of "$net")" "$CONTROL_PATH"
        "$MUXSYNC" disconnect -q -F "$SSH_CONFIG" "$(host_of "$net")" || die "muxsync disconnect $(host_of "$net") failed"
    fi
done
if ((RSS_RUNS > 0)); then
    mkdir -p "$SRC/huge"
    say "bench: making the ${RSS_MB} MB file for peak RSS"
    make_random_file "$SRC/huge/huge.bin" $((RSS_MB * 1000000)) "push-pull-rss-$SEED"
    HUGE_WANT=$(file_digest "$SRC/huge/huge.bin")
    for ((run = 1; run <= RSS_RUNS; run++)); do
        say "bench: peak RSS run $run/$RSS_RUNS"
        measure_rss "$run"
    done
    rm -rf "$SRC/huge"
fi
elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
bench_save_results

# MARK: - report

python3 - "$RESULTS" "$BENCH_OUT_DIR/push-pull.md" "$RUNS" "$NETS" "${BENCH_DELAY_MS:-25}" "$elapsed" \
    "$TREE_FILES" "$TREE_DIRS" "$TREE_MB" "$RSS_RUNS" "$RSS_MB" "$(nproc)" "$(uptime | sed 's/.*load average: //')" <<'EOF'
import statistics, sys

(path, out, runs, nets, delay, elapsed, tree_files, tree_dirs, tree_mb, rss_runs, rss_mb,
 cores, load) = sys.argv[1:]
runs, rss_runs = int(runs), int(rss_runs)
values = {}
for line in open(path):
    key, value = line.rstrip("\n").split("\t")
    values[key] = float(value)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def series(net, what, tool):
    return [values[f"{net}/{r}/{what}/{tool}"] for r in range(1, runs + 1) if f"{net}/{r}/{what}/{tool}" in values]

rows = (
    ("init", f"initial push (tree, {tree_mb} MB)", "rsync -a", 0.5),
    ("again", "re-push, nothing changed", "rsync -a", 0.4),
    ("pull", "pull 100 MB file", "sftp get", 0.4),
    ("push", "push 100 MB file", "sftp put", 0.4),
    ("pulltree", "pull the 2,000 small files (no target)", "rsync -a", None),
)

lines = []
lines.append("### push and pull: muxsync vs rsync and OpenSSH sftp")
lines.append("")
lines.append(f"Tree: {int(tree_files)} files ({int(tree_files) - 1} source files of 0.5-20 KB + one 100 MB binary) "
             f"in {tree_dirs} directories. Median of {runs} run(s); whole-process wall time; "
             "ratio = muxsync time / peer time within the same run, median over runs (<1: muxsync faster). "
             f"{cores} cores, load average at the end {load}; the bench took {elapsed} s.")
lines.append("")
def ratio_of(net, what, a, b):
    return med([values[f"{net}/{r}/{what}/{a}"] / values[f"{net}/{r}/{what}/{b}"] for r in range(1, runs + 1)
                if f"{net}/{r}/{what}/{a}" in values and f"{net}/{r}/{what}/{b}" in values])

shared = any(k.endswith("/muxs") for k in values)

# The targets are set through the proxy (25 ms each way); loopback rows are context.
def verdict_of(net, ratio, target):
    if net != "proxy" or target is None:
        return "-"
    return "PASS" if ratio <= target else "MISS"

def target_of(net, target):
    return f"<= {target}x" if net == "proxy" and target is not None else "-"
for net in nets.split():
    title = f"through the proxy ({delay} ms each way)" if net == "proxy" else "plain loopback"
    lines.append(f"#### {title}, one-shot: every command connects on its own (muxsync --no-shared)")
    lines.append("")
    lines.append("| case | muxsync s | peer | peer s | ratio | target | verdict | muxsync min-max s | peak RSS MB |")
    lines.append("|---|---:|---|---:|---:|---:|---|---:|---:|")
    for what, label, peer, target in rows:
        mux, other = series(net, what, "mux"), series(net, what, "peer")
        rss = [x / 1024 for x in series(net, what, "mux/rss")]
        ratio = ratio_of(net, what, "mux", "peer")
        verdict = verdict_of(net, ratio, target)
        lines.append(f"| {label} | {med(mux):.2f} | {peer} | {med(other):.2f} | {ratio:.2f}x | {target_of(net, target)} | "
                     f"{verdict} | {min(mux):.2f}-{max(mux):.2f} | {max(rss):.0f} |")
    lines.append("")
    if not shared:
        continue
    lines.append(f"#### {title}, muxsync as typed (over the background session its first command left, "
                 "--persist default) and the peer over an OpenSSH ControlMaster")
    lines.append("")
    lines.append("| case | muxsync s | peer | peer s (master) | x plain peer | target | verdict | x peer over master | muxsync min-max s |")
    lines.append("|---|---:|---|---:|---:|---:|---|---:|---:|")
    for what, label, peer, target in rows:
        mux, other = series(net, what, "muxs"), series(net, what, "peerm")
        ratio = ratio_of(net, what, "muxs", "peer")
        verdict = verdict_of(net, ratio, target)
        lines.append(f"| {label} | {med(mux):.2f} | {peer} | {med(other):.2f} | {ratio:.2f}x | {target_of(net, target)} | "
                     f"{verdict} | {ratio_of(net, what, 'muxs', 'peerm'):.2f}x | {min(mux):.2f}-{max(mux):.2f} |")
    lines.append("")

if rss_runs > 0:
    lines.append(f"#### peak RSS of muxsync, {rss_mb} MB file, plain loopback ({rss_runs} run(s), max)")
    lines.append("")
    lines.append("| case | seconds (median) | MB/s | peak RSS MB | target | verdict |")
    lines.append("|---|---:|---:|---:|---:|---|")
    for what in ("push", "pull"):
        secs = [values[f"rss/{r}/{what}/seconds"] for r in range(1, rss_runs + 1)]
        kib = max(values[f"rss/{r}/{what}/kib"] for r in range(1, rss_runs + 1))
        mb = kib / 1024
        lines.append(f"| {what} | {med(secs):.2f} | {float(rss_mb) / med(secs):.0f} | {mb:.0f} | < 100 MB | "
                     f"{'PASS' if mb < 100 else 'MISS'} |")
    lines.append("")
    lines.append("Peak RSS = GNU time's maximum resident set size (the `%M` of `/usr/bin/time`, same as `-v`), "
                 "in MiB.")
    lines.append("")

text = "\n".join(lines)
with open(out, "w") as f:
    f.write(text + "\n")
print(text)
print(f"\nmarkdown fragment: {out}", file=sys.stderr)
EOF
