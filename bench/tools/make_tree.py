#!/usr/bin/env python3
"""Writes a deterministic tree of source-like text files (used by the watch benches).

usage: make_tree.py ROOT FILES DIRS MIN_BYTES MAX_BYTES SEED

DIRS directories are laid out two levels deep (pkgNN/modNN, sqrt(DIRS) x sqrt(DIRS) when DIRS
is a square, else pkgNN/modNN filled in order); FILES files are spread evenly over them; each
file's size is uniform in [MIN_BYTES, MAX_BYTES]. The same arguments always give the same bytes.
Prints the number of files and bytes written.
"""
import math
import os
import random
import sys

WORDS = ("let var func return if else for in while struct class enum case switch guard import "
         "self value count index buffer result error throw try await async public private static "
         "init deinit true false nil map filter reduce append remove insert path file data").split()
EXTS = (".swift", ".py", ".c", ".h", ".md", ".json", ".txt", ".sh")


def text_of(rng, size):
    lines, total = [], 0
    while total < size:
        line = "    " * rng.randint(0, 3) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12)))
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n")[:size]


def main():
    if len(sys.argv) != 7:
        raise SystemExit(__doc__)
    root = sys.argv[1]
    files, dirs, low, high, seed = (int(value) for value in sys.argv[2:])
    rng = random.Random(seed)
    per_level = max(1, math.isqrt(dirs))
    directories = []
    for index in range(dirs):
        directories.append(os.path.join(root, "pkg%02d" % (index // per_level), "mod%02d" % (index % per_level)))
    written = 0
    for index in range(files):
        directory = directories[index % dirs]
        if index < dirs:
            os.makedirs(directory, exist_ok=True)
        name = "file%03d%s" % (index // dirs, EXTS[index % len(EXTS)])
        data = text_of(rng, rng.randint(low, high))
        with open(os.path.join(directory, name), "w") as out:
            out.write(data)
        written += len(data)
    print("%d files, %d bytes" % (files, written))


if __name__ == "__main__":
    main()
