#!/usr/bin/env bash
# Soak and fault run for humans: the fault suites (Tests/MuxSyncTests/Fault*Tests.swift) with
# the slow settings: 50 random cuts of a 500-file push, 25 cut pulls, 20 watch cuts, 12 pushes
# of the CLI killed with SIGKILL, 15 watch rounds through a jittery, bandwidth-capped link, a
# sparse 5 GiB file pushed (CLI peak memory measured) and pulled back (holes kept both ways),
# and every other fault and bad-input case. Takes about 7 minutes on 2 cores (the network
# suite and the 5 GiB file about 3.5 of them). The 5 GiB file and its copies are sparse, so
# little disk is needed.
#
# No netem here: `tc qdisc add dev lo root netem ...` fails with "Specified qdisc kind is
# unknown" (the kernel lacks sch_netem), so packet loss and jitter come from the test proxy
# (DelayProxy.jitter / .bandwidth) inside the suites, never from tc.
#
# Usage:
#   bench/soak.sh                       # everything, seed from the tests
#   bench/soak.sh FaultNetworkTests     # one suite (any swift test --filter expression)
#   SEEDS="1 2 3" bench/soak.sh         # repeat with other seeds (MUXSYNC_FAULT_SEED)
#   ROUNDS=3 bench/soak.sh              # repeat the whole run
#
# Run as root for the full set: the disk-full (tmpfs), read-only and chattr cases, and the
# unreadable-file cases (the CLI run as nobody through setpriv) need it; as another user they
# are reported as skipped. Every result line is appended to bench/out/soak-<date>.log.
#
# Each soak loop is bounded (counts and swift test's time limits); every sshd, proxy and
# child process is the test harness's own and ends with it. Traffic stays on 127.0.0.1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILTER=${1:-'Fault[A-Za-z]*Tests'}
SEEDS=${SEEDS:-default}
ROUNDS=${ROUNDS:-1}
SCRATCH=${SCRATCH_PATH:-$REPO/.build-soak}
OUT=$REPO/bench/out
mkdir -p "$OUT"
LOG=$OUT/soak-$(date +%Y%m%d-%H%M%S).log

say() { printf '%s\n' "$*" | tee -a "$LOG" >&2; }

say "soak: building (scratch $SCRATCH)"
(cd "$REPO" && swift build --build-tests --scratch-path "$SCRATCH") >>"$LOG" 2>&1 || {
    say "soak: build failed; see $LOG"
    exit 1
}

status=0
for round in $(seq 1 "$ROUNDS"); do
    for seed in $SEEDS; do
        env_seed=()
        [[ $seed != default ]] && env_seed=(MUXSYNC_FAULT_SEED="$seed")
        say "soak: round $round, seed $seed, filter $FILTER"
        started=$(date +%s)
        if (cd "$REPO" && env MUXSYNC_SOAK=1 "${env_seed[@]}" \
            swift test --skip-build --scratch-path "$SCRATCH" --filter "$FILTER") >"$LOG.current" 2>&1; then
            result=passed
        else
            result=FAILED
            status=1
        fi
        cat "$LOG.current" >>"$LOG"
        # The tests print one "FAULT ..." line per measured fact (cuts fired, peak RSS, timings).
        grep -E '^FAULT ' "$LOG.current" | sed 's/^/  /' | tee -a "$LOG" >&2 || true
        grep -E '(Test run with|✘|failed)' "$LOG.current" | tail -20 | sed 's/^/  /' | tee -a "$LOG" >&2 || true
        say "soak: round $round, seed $seed: $result in $(($(date +%s) - started)) s"
    done
done
rm -f "$LOG.current"
say "soak: log in $LOG"
exit $status
