// PathBytes: allocation-free helpers over a path's UTF-8 bytes.
//
// Paths handed to MuxIgnore are relative to the sync root and `/`-separated, with no
// leading `./` and no trailing `/`. Every helper here works on an UnsafeBufferPointer so the
// hot path (`IgnoreRules.isIgnoredIgnoringParents`) never allocates.

// MARK: - PathBytes

enum PathBytes {
    /// Index of the first byte of the last component.
    @inline(__always)
    static func basenameStart(_ path: UnsafeBufferPointer<UInt8>) -> Int {
        var index = path.count
        while index > 0 {
            if path[index - 1] == Byte.slash { return index }
            index -= 1
        }
        return 0
    }

    /// Compares `count` bytes of `lhs` at `lhsStart` with `rhs` at `rhsStart`; ASCII
    /// case-insensitively when `caseFold` (git's fspathncmp under core.ignorecase).
    @inline(__always)
    static func equal(_ lhs: UnsafeBufferPointer<UInt8>, _ lhsStart: Int,
                      _ rhs: UnsafeBufferPointer<UInt8>, _ rhsStart: Int,
                      _ count: Int, _ caseFold: Bool) -> Bool {
        var offset = 0
        if caseFold {
            while offset < count {
                if Byte.lower(lhs[lhsStart + offset]) != Byte.lower(rhs[rhsStart + offset]) {
                    return false
                }
                offset += 1
            }
        } else {
            while offset < count {
                if lhs[lhsStart + offset] != rhs[rhsStart + offset] { return false }
                offset += 1
            }
        }
        return true
    }

    /// Whether `path` lies strictly below `directory` (`[]` = the root: any non-empty path).
    static func isStrictlyBelow(_ path: UnsafeBufferPointer<UInt8>, directory: [UInt8],
                                caseFold: Bool) -> Bool {
        if directory.isEmpty { return !path.isEmpty }
        guard path.count > directory.count + 1, path[directory.count] == Byte.slash else {
            return false
        }
        return directory.withUnsafeBufferPointer { base in
            equal(base, 0, path, 0, base.count, caseFold)
        }
    }

    /// 64-bit FNV-1a over `count` bytes from `start`, used to find the .gitignore rule lists
    /// of a path's ancestors without building substrings.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> UInt64 {
        var value = fnvOffsetBasis
        var index = start
        let end = start + count
        while index < end {
            value = (value ^ UInt64(bytes[index])) &* fnvPrime
            index += 1
        }
        return value
    }

    static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    /// Normalizes a caller-supplied relative path: drops a leading `./` and trailing `/`s.
    /// Paths already in canonical form are returned unchanged without copying.
    static func normalized(_ path: String) -> String {
        let utf8 = path.utf8
        let leadingDot = utf8.count >= 2 && utf8.first == 0x2E
            && utf8[utf8.index(after: utf8.startIndex)] == Byte.slash
        if utf8.last != Byte.slash && !leadingDot { return path }
        var path = path
        while path.hasPrefix("./") { path.removeFirst(2) }
        while path.utf8.last == Byte.slash { path.removeLast() }
        return path
    }
}
