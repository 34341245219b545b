#!/usr/bin/env bash
# demo.sh: THE demo. Shows muxsync end to end on this machine, with no server of your own:
#
#   1. installs missing system packages and builds muxsync (release);
#   2. starts a private OpenSSH sshd on 127.0.0.1 with throwaway keys (muxsync-lab), playing
#      the role of a GPU server whose code lives in /workspace;
#   3. creates a small PyTorch-style project, pushes it, edits one file and pushes again,
#      pulls a "checkpoint" back, previews with --dry-run, and shows how errors look.
#
# Everything lives in one temporary directory that is removed on exit (set
# MUXSYNC_DEMO_KEEP=1 to keep it). Non-interactive; safe to run again.
#
# Usage: scripts/demo.sh
# Environment:
#   MUXSYNC_SCRATCH_PATH=DIR  build in DIR instead of .build (swift build --scratch-path DIR)
#   MUXSYNC_DEMO_KEEP=1       keep the temporary directory and print where it is
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

# MARK: - Output helpers

if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; reset=$'\e[0m'; else bold=""; dim=""; reset=""; fi
step=0
heading() {
    step=$((step + 1))
    printf '\n%s== %d. %s ==%s\n' "$bold" "$step" "$*" "$reset"
}
note() { printf '%s%s%s\n' "$dim" "$*" "$reset"; }
fail() {
    printf '\ndemo: FAILED: %s\n' "$*" >&2
    exit 1
}

# Shows a command the way a user would type it (temporary paths shown as $DEMO), then
# runs it with both output streams in order. Returns the command's status.
show() {
    local shown="" arg
    for arg in "$@"; do
        arg=${arg//"$BIN/"/}
        arg=${arg//"$WORK"/\$DEMO}
        case "$arg" in *[\*\?\ ]*) arg="'$arg'" ;; esac
        shown+="${shown:+ }$arg"
    done
    printf '%s$ %s%s\n' "$bold" "$shown" "$reset"
    "$@" 2>&1 | sed "s#$WORK#\$DEMO#g"
    return "${PIPESTATUS[0]}"
}

# Like `show`, for commands that must fail: prints their output and status, and fails the
# demo if they succeed.
show_failure() {
    local status=0
    show "$@" || status=$?
    [ "$status" -ne 0 ] || fail "expected '$*' to fail, but it succeeded"
    note "(exit status $status)"
}

# The remote tree, one path per line with sizes, like a listing on the server.
remote_tree() {
    (cd "$1" && find . -mindepth 1 -printf '%y %P\t%s\n' | sort -k2 |
        awk -F'\t' '{ split($1, a, " "); if (a[1] == "d") printf "  %s/\n", a[2]; else printf "  %-34s %8d B\n", a[2], $2 }')
}

# MARK: - Temporary directory, removed on exit

WORK=$(mktemp -d "${TMPDIR:-/tmp}/muxsync-demo.XXXXXX")
LAB_PID=""
# The demo's shared-session sockets stay in its own directory, not beside yours.
export XDG_RUNTIME_DIR=$WORK/run
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
cleanup() {
    local status=$?
    # Background sessions that push, pull and exec left open (--persist) end with the demo.
    [ -x "${BIN:-}/muxsync" ] && "$BIN/muxsync" disconnect -q 2>/dev/null
    if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
        kill -TERM "$LAB_PID" 2>/dev/null || true
        wait "$LAB_PID" 2>/dev/null || true
    fi
    if [ "${MUXSYNC_DEMO_KEEP:-0}" = 1 ]; then
        echo "demo: kept $WORK"
    else
        rm -rf "$WORK"
    fi
    return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# MARK: - 1. Dependencies and build

heading "Install system packages (only those missing)"
bash scripts/install-deps.sh

heading "Build muxsync (release)"
build_args=(-c release --static-swift-stdlib)
if [ -n "${MUXSYNC_SCRATCH_PATH:-}" ]; then build_args+=(--scratch-path "$MUXSYNC_SCRATCH_PATH"); fi
note "swift build ${build_args[*]} --product muxsync (and muxsync-lab); full log in \$DEMO/build.log"
for product in muxsync muxsync-lab; do
    if ! swift build "${build_args[@]}" --product "$product" >>"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        fail "building $product failed (log tail above)"
    fi
    grep -E "^Build (of product '$product' )?complete" "$WORK/build.log" | tail -n 1
done
BIN=$(swift build "${build_args[@]}" --show-bin-path)
if [ ! -x "$BIN/muxsync" ] || [ ! -x "$BIN/muxsync-lab" ]; then
    fail "build finished but $BIN/muxsync or muxsync-lab is missing"
fi
export PATH="$BIN:$PATH"
show "$BIN/muxsync" --version

# MARK: - 2. A private sshd as the "GPU server"


heading "Start a private sshd on 127.0.0.1 (stands in for your GPU server)"
"$BIN/muxsync-lab" sshd --dir "$WORK/lab" >"$WORK/lab.out" 2>&1 </dev/null &
LAB_PID=$!
for _ in $(seq 1 300); do
    [ -f "$WORK/lab/env" ] && break
    kill -0 "$LAB_PID" 2>/dev/null || { cat "$WORK/lab.out" >&2; fail "muxsync-lab sshd exited during start-up"; }
    sleep 0.1
done
[ -f "$WORK/lab/env" ] || { cat "$WORK/lab.out" >&2; fail "muxsync-lab sshd did not start within 30 s"; }
# shellcheck disable=SC1091
. "$WORK/lab/env"
note "sshd pid $LAB_SSHD_PID listening on 127.0.0.1:$LAB_PORT, throwaway keys in \$DEMO/lab"

# The server's "/workspace" is a directory on this machine, so the demo can look inside.
REMOTE_ROOT="$WORK/server/workspace"
mkdir -p "$REMOTE_ROOT"

# An ssh config like the one you would keep in ~/.ssh/config. The demo passes it with
# -F; with your own server, put the Host block in ~/.ssh/config and drop -F.
SSHCONF="$WORK/ssh_config"
cat >"$SSHCONF" <<EOF
Host gpu
    HostName 127.0.0.1
    Port $LAB_PORT
    User $LAB_USER
    IdentityFile $LAB_KEY
    IdentitiesOnly yes
    UserKnownHostsFile $LAB_KNOWN_HOSTS

# The same server, but with a known_hosts file that has never seen it.
Host gpu-unverified
    HostName 127.0.0.1
    Port $LAB_PORT
    User $LAB_USER
    IdentityFile $LAB_KEY
    IdentitiesOnly yes
    UserKnownHostsFile $WORK/empty_known_hosts
EOF
note "ssh config (\$DEMO/ssh_config):"
sed -n '1,7p' "$SSHCONF" | sed "s#$WORK#\$DEMO#g; s/^/  /"

# MARK: - 3. A sample project

heading "Create a small PyTorch-style project"
PROJ="$WORK/proj"
mkdir -p "$PROJ/models" "$PROJ/data" "$PROJ/__pycache__" "$PROJ/runs"
cat >"$PROJ/train.py" <<'EOF'
import torch
from models.net import Net
from data.loader import make_loader

def main(epochs: int = 3) -> None:
    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for epoch in range(epochs):
        for x, y in make_loader(batch_size=64):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        torch.save(model.state_dict(), f"checkpoints/epoch_{epoch:03d}.pt")

if __name__ == "__main__":
    main()
EOF
cat >"$PROJ/models/__init__.py" <<'EOF'
EOF
cat >"$PROJ/models/net.py" <<'EOF'
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, hidden: int = 256) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.body(x.flatten(1))
EOF
cat >"$PROJ/data/__init__.py" <<'EOF'
EOF
cat >"$PROJ/data/loader.py" <<'EOF'
import torch

def make_loader(batch_size: int):
    for _ in range(10):
        yield torch.randn(batch_size, 784), torch.randint(0, 10, (batch_size,))
EOF
printf 'torch>=2.2\n' >"$PROJ/requirements.txt"
printf '__pycache__/\ncheckpoints/\nruns/\n' >"$PROJ/.gitignore"
printf 'compiled bytecode, never sent\n' >"$PROJ/__pycache__/net.cpython-311.pyc"
printf 'local tensorboard events, ignored via .gitignore\n' >"$PROJ/runs/events.out"
cat >"$PROJ/.muxsync.toml" <<EOF
# Where this project goes: an ssh_config alias and a path on that machine.
remote = "gpu:$REMOTE_ROOT/proj"
exclude = ["*.log"]
EOF
printf 'scratch notes\n' >"$PROJ/debug.log"
note "local tree (\$DEMO/proj):"
remote_tree "$PROJ"
note ".muxsync.toml:"
sed "s#$WORK#\$DEMO#g; s/^/  /" "$PROJ/.muxsync.toml"

cd "$PROJ"

# MARK: - 4. First push

heading "Push the project (remote and options come from .muxsync.toml)"
show "$BIN/muxsync" push -F "$SSHCONF" || fail "first push failed"
note "the server now holds (\$DEMO/server/workspace/proj):"
remote_tree "$REMOTE_ROOT/proj"
[ -f "$REMOTE_ROOT/proj/train.py" ] || fail "train.py did not reach the server"
[ ! -e "$REMOTE_ROOT/proj/__pycache__" ] || fail "__pycache__ was sent, but it must be ignored"
[ ! -e "$REMOTE_ROOT/proj/runs" ] || fail "runs/ was sent, but .gitignore excludes it"
[ ! -e "$REMOTE_ROOT/proj/debug.log" ] || fail "debug.log was sent, but .muxsync.toml excludes *.log"
note "not sent: __pycache__/ (default ignores), runs/ (.gitignore), debug.log (exclude in .muxsync.toml)"

# MARK: - 5. Edit, preview, push again

heading "Edit one file, preview with --dry-run, push again"
# (The edit changes the file's size. A same-size edit within the same second as the last
# sync is not seen by the size + mtime quick check, which compares whole seconds.)
sed -i 's/hidden: int = 256/hidden: int = 1024/' models/net.py
show "$BIN/muxsync" push -F "$SSHCONF" --dry-run || fail "push --dry-run failed"
grep -q 'hidden: int = 256' "$REMOTE_ROOT/proj/models/net.py" || fail "--dry-run changed the remote file"
note "(--dry-run changed nothing on the server)"
output=$(show "$BIN/muxsync" push -F "$SSHCONF") || { echo "$output"; fail "second push failed"; }
echo "$output"
grep -q 'hidden: int = 1024' "$REMOTE_ROOT/proj/models/net.py" || fail "the edit did not reach the server"
grep -q 'sent 1 file' <<<"$output" || fail "expected exactly one file to move (looked for 'sent 1 file')"
note "only models/net.py moved. The first push left its SSH session open in the background"
note "(closed after 10 min unused, like ssh's ControlPersist; --persist 0 or MUXSYNC_PERSIST=0 to not),"
note "so this one ran over it: no TCP connect, key exchange or login. muxsync status lists it:"
show "$BIN/muxsync" status || fail "status failed"

# MARK: - 5b. Watch: every save on the remote at once, over one open session

heading "muxsync watch: every save reaches the server at once"
note "\$ muxsync watch -F ssh_config   (in the background; its log follows)"
"$BIN/muxsync" watch -F "$SSHCONF" >"$WORK/watch.log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 200); do grep -q "watching" "$WORK/watch.log" 2>/dev/null && break; sleep 0.05; done
grep -q "watching" "$WORK/watch.log" || { cat "$WORK/watch.log"; fail "watch did not start"; }
printf 'LEARNING_RATE = 3e-4  # saved while watching\n' >>train.py
for _ in $(seq 1 200); do grep -q "saved while watching" "$REMOTE_ROOT/proj/train.py" && break; sleep 0.02; done
grep -q "saved while watching" "$REMOTE_ROOT/proj/train.py" || fail "the watched edit did not arrive"
note "the edit is on the server; and a command can run there after every save is flushed:"
show "$BIN/muxsync" exec -F "$SSHCONF" --sync -- tail -n 1 train.py || fail "exec --sync failed"
show "$BIN/muxsync" status || fail "status failed"
kill -INT "$watch_pid"
wait "$watch_pid" || true
note "watch log:"
sed "s#$WORK#\$DEMO#g; s/^/  /" "$WORK/watch.log"

# MARK: - 6. Pull a checkpoint back

heading "Training wrote a checkpoint on the server; pull it back"
mkdir -p "$REMOTE_ROOT/proj/checkpoints"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$REMOTE_ROOT/proj/checkpoints/epoch_000.pt"
printf '{"epoch": 0, "loss": 2.301}\n' >"$REMOTE_ROOT/proj/checkpoints/epoch_000.json"
note "on the server: checkpoints/epoch_000.pt (8 MiB), checkpoints/epoch_000.json"
show "$BIN/muxsync" pull -F "$SSHCONF" checkpoints --dry-run || fail "pull --dry-run failed"
[ ! -e checkpoints ] || fail "pull --dry-run created local files"
show "$BIN/muxsync" pull -F "$SSHCONF" checkpoints || fail "pull failed"
cmp -s checkpoints/epoch_000.pt "$REMOTE_ROOT/proj/checkpoints/epoch_000.pt" || fail "pulled checkpoint differs"
note "local checkpoints/ now holds:"
remote_tree checkpoints
note "(identical to the server's copy: checked with cmp)"
note "the same with an explicit source and destination:"
show "$BIN/muxsync" pull -F "$SSHCONF" "gpu:$REMOTE_ROOT/proj/checkpoints" "$WORK/elsewhere" --include '*.json' ||
    fail "pull with HOST:PATH failed"
if [ ! -f "$WORK/elsewhere/epoch_000.json" ] || [ -e "$WORK/elsewhere/epoch_000.pt" ]; then
    fail "pull --include '*.json' fetched the wrong files"
fi

# MARK: - 7. What errors look like

heading "What errors look like"
note "A host muxsync has never seen is refused, naming the key's fingerprint (the session already"
note "open to this server is not reused: this alias checks keys against another known_hosts):"
show_failure "$BIN/muxsync" push -F "$SSHCONF" . "gpu-unverified:$REMOTE_ROOT/proj"
note "Compare it with the server's own key (on a real server: ask its administrator):"
show ssh-keygen -lf "$LAB_DIR/ssh_host_ed25519_key.pub"
note "then accept it once; a key that later changes is always refused:"
show "$BIN/muxsync" push -F "$SSHCONF" --accept-new . "gpu-unverified:$REMOTE_ROOT/proj" ||
    fail "push --accept-new failed"

note ""
note "--delete is guarded: removing a file locally and capping deletions at 0 refuses the push:"
rm data/loader.py
show_failure "$BIN/muxsync" push -F "$SSHCONF" --delete --max-delete 0
[ -f "$REMOTE_ROOT/proj/data/loader.py" ] || fail "a refused --delete removed a remote file"

note ""
note "A typo in .muxsync.toml names the file, the line and the likely key:"
printf 'delet = true\n' >>.muxsync.toml
show_failure "$BIN/muxsync" push -F "$SSHCONF"

heading "Done in $((SECONDS - started)) s"
note "Try it on your own machine: put a Host block in ~/.ssh/config, then"
note "  muxsync push . gpu:/workspace/proj"
note "  muxsync pull gpu:/workspace/proj/checkpoints ./checkpoints"
