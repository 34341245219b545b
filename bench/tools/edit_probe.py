#!/usr/bin/env python3
"""Save-to-remote latency probe for the muxsync watch benches (bench/watch-latency.sh).

The "remote" of the benches is a directory on this machine, so one clock (time.time(),
CLOCK_REALTIME, the same clock as bash's $EPOCHREALTIME) serves both sides.

Subcommands:
  watch DIR NAME...     The remote-side watcher: inotify on DIR (IN_CLOSE_WRITE, IN_MOVED_TO,
                        IN_MODIFY, IN_CREATE, IN_ATTRIB). After every event touching NAME it reads
                        the file and, when it holds a complete probe content whose sequence number
                        it has not reported yet, prints "NAME SEQ TIME" (flushed). Runs until
                        stdin (if a pipe) closes, or until killed. A 20 ms re-check runs on idle.
  write DIR REL SEQ     Writes probe content SEQ into DIR/REL in place (open, truncate, write,
                        close) and prints the time close() returned.
  edits ...             The latency loop: starts a watcher on the remote directory, then COUNT
                        times writes a new content, optionally runs a trigger command (the rsync
                        peer), waits for the watcher to report it and records
                        latency = seen - written. Prints per-edit lines and writes a TSV.

A probe content is: "muxsync-probe SEQ LENGTH\n" + a body (the file's original text, so a
delta-capable sender sees a realistic small edit) + "end SEQ\n"; it is complete when its
length is LENGTH and it ends with the trailer, so a half-written file never counts.
"""
import ctypes
import ctypes.util
import os
import select
import stat
import struct
import subprocess
import sys
import time

# MARK: - probe content

HEADER = b"muxsync-probe "


def probe_content(seq, body):
    trailer = b"end %d\n" % seq
    # The header's LENGTH counts itself, so iterate until it is stable.
    length = 0
    while True:
        header = HEADER + b"%d %d\n" % (seq, length)
        total = len(header) + len(body) + len(trailer)
        if total == length:
            return header + body + trailer
        length = total


def parse_probe(data):
    """The sequence number of a complete probe content, else None."""
    if not data.startswith(HEADER):
        return None
    end = data.find(b"\n")
    if end < 0:
        return None
    try:
        seq_text, length_text = data[len(HEADER):end].split(b" ")
        seq, length = int(seq_text), int(length_text)
    except ValueError:
        return None
    if len(data) != length or not data.endswith(b"end %d\n" % seq):
        return None
    return seq


def original_body(path):
    """The file's text without an earlier probe header/trailer (so edits stay the same size)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return b"new file\n" * 64
    if parse_probe(data) is not None:
        first = data.find(b"\n") + 1
        last = data.rstrip(b"\n").rfind(b"\n") + 1
        return data[first:last]
    return data


def write_probe(path, seq, body):
    data = probe_content(seq, body)
    with open(path, "wb") as f:
        f.write(data)
    return time.time()


# MARK: - inotify

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
EVENT_HEADER = struct.Struct("iIII")


def open_inotify(directory):
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    mask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
    if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
        raise OSError(ctypes.get_errno(), "inotify_add_watch " + directory)
    return fd


def event_names(buffer):
    names, offset = set(), 0
    while offset + EVENT_HEADER.size <= len(buffer):
        _, _, _, length = EVENT_HEADER.unpack_from(buffer, offset)
        raw = buffer[offset + EVENT_HEADER.size: offset + EVENT_HEADER.size + length]
        names.add(raw.rstrip(b"\0").decode(errors="replace"))
        offset += EVENT_HEADER.size + length
    return names


def run_watch(directory, names):
    fd = open_inotify(directory)
    seen = {name: set() for name in names}

    def check(name):
        try:
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
        except OSError:
            return
        seq = parse_probe(data)
        if seq is not None and seq not in seen[name]:
            now = time.time()
            seen[name].add(seq)
            sys.stdout.write("%s %d %.6f\n" % (name, seq, now))
            sys.stdout.flush()

    wanted = set(names)
    # Stop when the parent closes our stdin (a pipe); with stdin from a file or /dev/null, run
    # until killed.
    stdin_open = stat.S_ISFIFO(os.fstat(0).st_mode)
    while True:
        watched = [fd] + ([sys.stdin] if stdin_open else [])
        ready, _, _ = select.select(watched, [], [], 0.02)
        if sys.stdin in ready:
            if not sys.stdin.buffer.read1(4096):
                return
        if fd in ready:
            touched = set()
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                touched |= event_names(chunk)
            for name in sorted(touched & wanted):
                check(name)
        else:
            for name in names:  # safety net: never miss an arrival for long
                check(name)


# MARK: - the edit loop


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return float("nan")
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def run_edits(args, trigger):
    import argparse

    parser = argparse.ArgumentParser(prog="edit_probe.py edits")
    parser.add_argument("--local", required=True, help="local tree root")
    parser.add_argument("--remote", required=True, help="remote tree root (a local directory)")
    parser.add_argument("--file", required=True, help="the edited file, relative to both roots")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--gap-ms", type=float, default=300)
    parser.add_argument("--first-seq", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--out", required=True, help="TSV: seq, latency_ms")
    parser.add_argument("--label", default="")
    options = parser.parse_args(args)
    options.trigger = trigger

    local_path = os.path.join(options.local, options.file)
    remote_dir = os.path.dirname(os.path.join(options.remote, options.file))
    name = os.path.basename(options.file)
    body = original_body(local_path)
    watcher = subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", remote_dir, name],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    time.sleep(0.3)  # let it set up its inotify watch
    arrivals = {}
    pending = b""

    def wait_for(seq, deadline):
        nonlocal pending
        while seq not in arrivals:
            left = deadline - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([watcher.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(watcher.stdout.fileno(), 4096)
            if not chunk:
                raise SystemExit("edit_probe: the remote watcher exited")
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                _, seq_text, when = line.decode().split()
                arrivals[int(seq_text)] = float(when)
        return arrivals[seq]

    latencies, failures = [], 0
    with open(options.out, "w") as out:
        out.write("seq\tlatency_ms\n")
        for index in range(options.count):
            seq = options.first_seq + index
            written = write_probe(local_path, seq, body)
            if options.trigger:
                subprocess.run(options.trigger, check=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL)
            seen = wait_for(seq, written + options.timeout)
            if seen is None:
                failures += 1
                out.write("%d\ttimeout\n" % seq)
                print("edit_probe: %s edit %d not on the remote after %.0f s" % (options.label, seq, options.timeout),
                      file=sys.stderr)
            else:
                latency = (seen - written) * 1000
                latencies.append(latency)
                out.write("%d\t%.2f\n" % (seq, latency))
            out.flush()
            time.sleep(options.gap_ms / 1000)
    watcher.stdin.close()
    watcher.wait(timeout=5)
    print("%s\tn=%d\tmedian=%.1f\tp90=%.1f\tmax=%.1f\ttimeouts=%d" % (
        options.label, len(latencies), median(latencies), percentile(latencies, 0.9),
        max(latencies) if latencies else float("nan"), failures))
    return 1 if failures else 0


# MARK: - main


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "watch" and len(rest) >= 2:
        run_watch(rest[0], rest[1:])
    elif command == "write" and len(rest) == 3:
        path = os.path.join(rest[0], rest[1])
        print("%.6f" % write_probe(path, int(rest[2]), original_body(path)))
    elif command == "edits":
        trigger = []
        if "--" in rest:  # the trigger command (the rsync peer) comes after --
            split = rest.index("--")
            rest, trigger = rest[:split], rest[split + 1:]
        sys.exit(run_edits(rest, trigger))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
