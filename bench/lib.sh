# shellcheck shell=bash
# Shared helpers for the muxsync benches (sourced by bench/*.sh, not run on its own).
#
# What it gives a bench script:
#   bench_init NAME        find the binaries, make a temp dir, install the cleanup trap
#   bench_start_lab        a private sshd (muxsync-lab sshd) + a delaying proxy (muxsync-lab proxy)
#                          and an ssh_config with two aliases: bench-loopback, bench-proxy
#   timed VAR CMD...       run CMD (output to a log), put its wall seconds in VAR, peak RSS in VAR_rss
#   measured KEY LABEL WANT DIGEST PATH CMD...  timed + checked by digest + recorded
#   rotated RUN STEP...    run the steps in an order rotated by the run number
#   record KEY VALUE       append one measurement to the results file
#   make_random_file F N   N deterministic pseudo-random bytes (seeded, incompressible)
#   tree_digest DIR        one sha256 over every file's relative path and content
#   file_digest F          sha256 of one file
#
# Every process it starts is ended by the EXIT trap, and the temp dir is removed
# (set BENCH_KEEP=1 to keep it for inspection).

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# MARK: - messages

say() { printf '%s\n' "$*" >&2; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

# MARK: - set-up and clean-up

# Finds muxsync and muxsync-lab: $MUXSYNC_BUILD_DIR, else .build/release, else .build-bench/release.
bench_find_binaries() {
    local candidate dir=""
    if [[ -n ${MUXSYNC_BUILD_DIR:-} ]]; then
        dir=$MUXSYNC_BUILD_DIR
    else
        for candidate in "$BENCH_REPO/.build/release" "$BENCH_REPO/.build-bench/release"; do
            if [[ -x $candidate/muxsync && -x $candidate/muxsync-lab ]]; then
                dir=$candidate
                break
            fi
        done
    fi
    [[ -n $dir && -x $dir/muxsync && -x $dir/muxsync-lab ]] ||
        die "muxsync and muxsync-lab not found (looked in ${dir:-.build/release and .build-bench/release}); run 'swift build -c release --static-swift-stdlib' first or set MUXSYNC_BUILD_DIR"
    # shellcheck disable=SC2034  # used by the scripts that source this file
    MUXSYNC=$dir/muxsync
    MUXLAB=$dir/muxsync-lab
}

bench_need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing (Debian: apt-get install $(bench_package_of "$tool"))"
    done
}

bench_package_of() {
    case $1 in
        sftp | ssh) echo openssh-client ;;
        /usr/bin/time) echo time ;;
        sha256sum) echo coreutils ;;
        *) echo "$1" ;;
    esac
}

# bench_init NAME: temp dir, trap, binaries, result file.
bench_init() {
    BENCH_NAME=$1
    bench_find_binaries
    bench_need ssh sftp sha256sum python3 /usr/bin/time /usr/sbin/sshd
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/muxsync-bench-$BENCH_NAME.XXXXXX")
    LAB_PID=""
    PROXY_PID=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    RESULTS=$BENCH_TMP/results.tsv
    : >"$RESULTS"
    mkdir -p "$BENCH_TMP/logs"
    # muxsync keeps a per-remote record under $XDG_STATE_HOME/muxsync: keep it inside the bench.
    export XDG_STATE_HOME=$BENCH_TMP/state
    mkdir -p "$XDG_STATE_HOME"
    # Shared-session sockets of the bench's muxsync processes stay inside it too, and no
    # command leaves a background session unless a script asks (--persist): each case
    # measures what it says.
    export XDG_RUNTIME_DIR=$BENCH_TMP/runtime
    mkdir -p -m 700 "$XDG_RUNTIME_DIR"
    export MUXSYNC_PERSIST=0
    BENCH_OUT_DIR=${BENCH_OUT_DIR:-$BENCH_REPO/bench/out}
    mkdir -p "$BENCH_OUT_DIR"
    BENCH_RESULTS_COPY=$BENCH_OUT_DIR/$BENCH_NAME.tsv
}

# Stops the proxy and the sshd this script started (by pid only), removes the temp dir.
bench_cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local pid
    for pid in $PROXY_PID $LAB_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $PROXY_PID $LAB_PID; do
        local waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n ${BENCH_TMP:-} && -d $BENCH_TMP ]]; then
        if [[ ${BENCH_KEEP:-0} == 1 ]]; then
            say "bench: kept $BENCH_TMP"
        else
            rm -rf "$BENCH_TMP"
        fi
    fi
    exit "$status"
}

# Waits until file $1 exists (non-empty) or pid $2 dies or $3 seconds pass.
bench_wait_for_file() {
    local file=$1 pid=$2 limit=$3 waited=0
    while [[ ! -s $file ]]; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((waited < limit * 10)) || return 1
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Starts the lab sshd and the proxy (BENCH_DELAY_MS each way, default 25), writes
# $SSH_CONFIG with aliases bench-loopback (straight to sshd) and bench-proxy (through the proxy).
#
# sshd starts every session (each SFTP channel, each rsync) through the user's login shell, and
# bash then sources ~/.bashrc. A heavy one skews the figures (on the machine these benches were
# written on, root's runs `pyenv init`, whose rehash lock made sessions wait up to 60 s when
# several started at once). So by default sessions get HOME=$BENCH_TMP/home (empty): every
# tool gets a light login. BENCH_LOGIN_ENV=real keeps the user's real HOME and rc files.
bench_start_lab() {
    local delay=${BENCH_DELAY_MS:-25}
    local sshd_options=()
    if [[ ${BENCH_LOGIN_ENV:-clean} != real ]]; then
        mkdir -p "$BENCH_TMP/home"
        # sshd keeps only the first SetEnv line, so the lab's own session marker is repeated here.
        sshd_options=(--sshd-option "SetEnv HOME=$BENCH_TMP/home MUXSYNC_LAB_SSHD=$BENCH_TMP/lab")
    fi
    "$MUXLAB" sshd --dir "$BENCH_TMP/lab" "${sshd_options[@]}" >"$BENCH_TMP/logs/lab-sshd.out" 2>&1 &
    LAB_PID=$!
    bench_wait_for_file "$BENCH_TMP/lab/env" "$LAB_PID" 30 ||
        die "muxsync-lab sshd did not start: $(tail -5 "$BENCH_TMP/logs/lab-sshd.out")"
    # shellcheck disable=SC1091
    . "$BENCH_TMP/lab/env"
    "$MUXLAB" proxy --target "127.0.0.1:$LAB_PORT" --delay-ms "$delay" \
        --port-file "$BENCH_TMP/proxy.port" --stats "$BENCH_TMP/proxy.json" \
        >"$BENCH_TMP/logs/lab-proxy.out" 2>&1 &
    PROXY_PID=$!
    bench_wait_for_file "$BENCH_TMP/proxy.port" "$PROXY_PID" 30 ||
        die "muxsync-lab proxy did not start: $(tail -5 "$BENCH_TMP/logs/lab-proxy.out")"
    PROXY_PORT=$(tr -d '[:space:]' <"$BENCH_TMP/proxy.port")
    SSH_CONFIG=$BENCH_TMP/ssh_config
    local name port
    : >"$SSH_CONFIG"
    for name in bench-loopback bench-proxy; do
        port=$LAB_PORT
        [[ $name == bench-proxy ]] && port=$PROXY_PORT
        cat >>"$SSH_CONFIG" <<EOF
Host $name
  HostName 127.0.0.1
  Port $port
  User $LAB_USER
  IdentityFile $LAB_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $LAB_KNOWN_HOSTS
  HostKeyAlias [127.0.0.1]:$LAB_PORT
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR

EOF
    done
    REMOTE=$BENCH_TMP/remote
    mkdir -p "$REMOTE"
    for name in bench-loopback bench-proxy; do
        ssh -F "$SSH_CONFIG" "$name" true || die "ssh to $name fails (see $BENCH_TMP/lab/sshd.log)"
    done
    if [[ ${BENCH_LOGIN_ENV:-clean} != real ]]; then
        local seen
        seen=$(ssh -F "$SSH_CONFIG" bench-loopback 'echo "$HOME"')
        [[ $seen == "$BENCH_TMP/home" ]] || die "sshd did not take SetEnv HOME (sessions see HOME=$seen)"
    fi
    say "bench: sshd on 127.0.0.1:$LAB_PORT, proxy on 127.0.0.1:$PROXY_PORT (${delay} ms each way), temp $BENCH_TMP"
}

# The alias for a network name (proxy | loopback).
host_of() {
    case $1 in
        proxy) echo bench-proxy ;;
        loopback) echo bench-loopback ;;
        *) die "unknown network '$1' (expected proxy or loopback)" ;;
    esac
}

# MARK: - measuring

# timed VAR CMD...: runs CMD with its output in a log; VAR=wall seconds (whole process),
# VAR_rss=peak RSS in KiB. A failing command stops the bench with the log's tail.
timed() {
    local var=$1
    shift
    local log=$BENCH_TMP/logs/last.log rssfile=$BENCH_TMP/logs/last.rss
    local start end
    start=$EPOCHREALTIME
    if ! /usr/bin/time -f '%M' -o "$rssfile" "$@" >"$log" 2>&1 </dev/null; then
        say "bench: command failed: $*"
        tail -n 20 "$log" >&2
        exit 1
    fi
    end=$EPOCHREALTIME
    printf -v "$var" '%s' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')"
    printf -v "${var}_rss" '%s' "$(tail -n 1 "$rssfile")"
}

# measured KEY LABEL WANT DIGEST PATH CMD...: runs CMD under `timed`, checks that
# `DIGEST PATH` (file_digest or tree_digest) prints WANT (else the bench stops, naming LABEL),
# and records the seconds as KEY and the peak RSS (KiB) as KEY/rss.
measured() {
    local key=$1 label=$2 want=$3 digest=$4 path=$5 secs="" secs_rss=""
    shift 5
    timed secs "$@"
    expect_same "$label" "$("$digest" "$path")" "$want"
    record "$key" "$secs"
    record "$key/rss" "$secs_rss"
}

# rotated RUN STEP...: evaluates the steps in an order rotated by the run number, so that
# no tool always goes first (or right after another's cache warm-up).
rotated() {
    local run=$1
    shift
    local steps=("$@") n=$# i
    for ((i = 0; i < n; i++)); do
        eval "${steps[$(((i + run) % n))]}"
    done
}

# record KEY VALUE: one line "KEY<TAB>VALUE" in the results file.
record() {
    printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
}

# Keeps a copy of the raw results next to the markdown fragment.
bench_save_results() {
    cp "$RESULTS" "$BENCH_RESULTS_COPY"
}

# bench_publish FRAGMENT: saves the raw results, prints the markdown fragment and where both are.
bench_publish() {
    bench_save_results
    echo
    cat "$1"
    echo
    say "bench: markdown in $1, raw numbers in $BENCH_RESULTS_COPY"
}

# MARK: - data and checks

# make_random_file PATH BYTES [SEED]: deterministic, incompressible (AES-CTR keystream of the seed).
make_random_file() {
    local path=$1 bytes=$2 seed=${3:-muxsync-bench}
    python3 - "$path" "$bytes" "$seed" <<'EOF'
import hashlib, sys
path, total, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
# A counter-mode stream of SHAKE-256 blocks: stable across machines and Python versions.
block = 1 << 20
with open(path, "wb") as out:
    written, counter = 0, 0
    while written < total:
        n = min(block, total - written)
        out.write(hashlib.shake_256(seed + counter.to_bytes(8, "little")).digest(n))
        written += n
        counter += 1
EOF
}

file_digest() {
    sha256sum "$1" | cut -d' ' -f1
}

# One digest over every regular file below DIR: relative path + content hash, sorted.
tree_digest() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum | sha256sum | cut -d' ' -f1)
}

# expect_same WHAT GOT WANT
expect_same() {
    [[ $2 == "$3" ]] || die "$1: content differs (sha256 $2, expected $3)"
}
