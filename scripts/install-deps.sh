#!/usr/bin/env bash
# install-deps.sh: install what building and testing muxsync needs on Debian/Ubuntu.
#
# Idempotent: installs only the packages that are missing, and runs `apt-get update`
# only when something is missing. As root it calls apt-get directly, otherwise through
# sudo when sudo exists; failing both, it prints the exact command to run and exits 1.
# Finally it checks that a Swift 6 toolchain is on PATH.
#
# Usage: scripts/install-deps.sh        (no options; safe to run again)
set -euo pipefail

# C libraries (libssh2, zlib, xxhash) with their pkg-config files; OpenSSH's server,
# client and sftp-server for the private sshd the integration tests and the demo start;
# git and rsync for the tests that compare against them; binutils (nm) for the test that
# keeps Foundation proper out of the binary; fish for the test of `exec` under a fish login
# shell. libssh2-1-dev brings libssl-dev (libcrypto.a).
PACKAGES=(
    libssh2-1-dev zlib1g-dev libxxhash-dev pkg-config
    openssh-server openssh-client openssh-sftp-server
    git rsync binutils fish
)

say() { printf 'install-deps: %s\n' "$*"; }

# MARK: - Which packages are missing

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    say "this script knows Debian/Ubuntu only (no dpkg-query/apt-get here)."
    say "install by hand: libssh2 (with headers), zlib, xxhash, pkg-config, OpenSSH server+client+sftp-server, git, rsync, fish"
    say "  macOS: brew install libssh2 xxhash pkg-config   (sshd, sftp-server, git, rsync ship with the system/Xcode)"
    exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
done

# MARK: - Install them

if [ ${#missing[@]} -eq 0 ]; then
    say "system packages present: ${PACKAGES[*]}"
else
    say "missing: ${missing[*]}"
    install_line="apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        run=()
    elif command -v sudo >/dev/null 2>&1; then
        run=(sudo)
    else
        say "not root and no sudo: as root, run"
        say "  apt-get update && $install_line"
        exit 1
    fi

    # In containers without an init system, installing openssh-server would try to start
    # a system-wide sshd on port 22. muxsync never needs it (the tests and the demo run a
    # private one), so forbid service starts for the duration of the install.
    policy=/usr/sbin/policy-rc.d
    added_policy=no
    if [ ! -e "$policy" ] && [ ! -d /run/systemd/system ]; then
        if printf '#!/bin/sh\nexit 101\n' | "${run[@]}" tee "$policy" >/dev/null 2>&1 \
            && "${run[@]}" chmod 755 "$policy"; then
            added_policy=yes
        fi
    fi
    cleanup_policy() { [ "$added_policy" = yes ] && "${run[@]}" rm -f "$policy"; return 0; }
    trap cleanup_policy EXIT

    say "running: ${run[*]:+${run[*]} }apt-get update"
    "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    say "running: ${run[*]:+${run[*]} }$install_line"
    "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

    still=()
    for package in "${missing[@]}"; do
        is_installed "$package" || still+=("$package")
    done
    if [ ${#still[@]} -ne 0 ]; then
        say "still missing after apt-get: ${still[*]}"
        exit 1
    fi
    say "installed: ${missing[*]}"
fi

# MARK: - Swift toolchain

if ! command -v swift >/dev/null 2>&1; then
    say "no 'swift' on PATH. muxsync needs Swift 6 (6.0 or later; developed with 6.3):"
    say "  get it from https://www.swift.org/install/linux/ (or swiftly), then add its usr/bin to PATH,"
    say "  e.g. export PATH=/opt/swift/usr/bin:\$PATH"
    exit 1
fi
version_line=$(swift --version 2>&1 | grep -m1 -i 'swift version' || true)
major=$(printf '%s\n' "$version_line" | sed -n 's/.*[Ss]wift version \([0-9][0-9]*\)\..*/\1/p')
if [ -n "$major" ] && [ "$major" -ge 6 ]; then
    say "swift: $version_line"
else
    say "found '$(command -v swift)' but it is not Swift 6 or later: ${version_line:-unknown version}"
    say "  get Swift 6 from https://www.swift.org/install/"
    exit 1
fi
