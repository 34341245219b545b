// CompiledRule: the matching half of an IgnorePattern, as plain values.
//
// A rule list keeps all its pattern bytes in one storage array and its rules as
// CompiledRule values (offsets and flags, no references), so scanning a list for every
// path of a large tree costs no reference counting. The two matching strategies are git's:
// match_basename for patterns without a slash, match_pathname for anchored ones, each with
// git's literal fast paths before falling back to the glob matcher.

// MARK: - CompiledRule

struct CompiledRule: Sendable, Hashable {
    /// Offset of the pattern bytes in the owning storage.
    let start: Int
    /// Number of pattern bytes.
    let count: Int
    /// Length of the leading run without glob characters (git's `nowildcardlen`).
    let literalPrefix: Int
    let isNegated: Bool
    let isDirectoryOnly: Bool
    /// No slash in the pattern: match the last path component only.
    let matchesBasename: Bool
    /// `*literal`: a suffix comparison suffices (git's PATTERN_FLAG_ENDSWITH).
    let isSuffixLiteral: Bool
    /// Length of the trailing run of plain bytes (no `*?[\]` and no `/`, which `**/` may
    /// consume): a matching text must end with exactly these bytes. Only a quick rejection
    /// before the glob matcher.
    let literalSuffix: Int

    /// Whether the rule matches `path`. `storage` holds the pattern bytes at `start`;
    /// `base` is the directory the rule is relative to; `path` must lie strictly below it.
    @inline(__always)
    func matches(storage: UnsafeBufferPointer<UInt8>, base: UnsafeBufferPointer<UInt8>,
                 path: UnsafeBufferPointer<UInt8>, nameStart: Int,
                 isDirectory: Bool, caseFold: Bool) -> Bool {
        if isDirectoryOnly && !isDirectory { return false }
        return matchesBasename
            ? matchBasename(storage, path, nameStart, caseFold)
            : matchPathname(storage, base, path, caseFold)
    }

    /// git's match_basename.
    @inline(__always)
    private func matchBasename(_ storage: UnsafeBufferPointer<UInt8>,
                               _ path: UnsafeBufferPointer<UInt8>,
                               _ nameStart: Int, _ caseFold: Bool) -> Bool {
        let nameLength = path.count - nameStart
        if literalPrefix == count {
            return nameLength == count
                && PathBytes.equal(storage, start, path, nameStart, count, caseFold)
        }
        if isSuffixLiteral {
            let suffix = count - 1
            guard suffix <= nameLength else { return false }
            // Cheapest rejection first: the last byte.
            if suffix > 0 && !PathBytes.equal(storage, start + count - 1, path, path.count - 1,
                                              1, caseFold) {
                return false
            }
            return PathBytes.equal(storage, start + 1, path, path.count - suffix, suffix, caseFold)
        }
        // Quick rejections git gets from its own literal-prefix check (match_pathname) and
        // that hold for any glob: the text starts with the literal prefix and ends with the
        // literal suffix.
        if literalPrefix > nameLength || literalSuffix > nameLength { return false }
        if !PathBytes.equal(storage, start, path, nameStart, literalPrefix, caseFold)
            || !PathBytes.equal(storage, start + count - literalSuffix, path,
                                path.count - literalSuffix, literalSuffix, caseFold) {
            return false
        }
        let matcher = GlobMatcher(pattern: storage, patternStart: start,
                                  patternEnd: start + count, text: path, textEnd: path.count,
                                  pathname: false, caseFold: caseFold)
        return matcher.matches(textStart: nameStart)
    }

    /// git's match_pathname: the pattern has `base/` implicitly in front of it.
    private func matchPathname(_ storage: UnsafeBufferPointer<UInt8>,
                               _ base: UnsafeBufferPointer<UInt8>,
                               _ path: UnsafeBufferPointer<UInt8>, _ caseFold: Bool) -> Bool {
        var patternStart = start
        let patternEnd = start + count
        var prefix = literalPrefix
        if storage[start] == Byte.slash {
            patternStart += 1
            prefix -= 1
        }
        let baseLength = base.count
        if path.count < baseLength + 1 { return false }
        var nameStart = baseLength == 0 ? 0 : baseLength + 1
        if baseLength > 0 {
            if path[baseLength] != Byte.slash { return false }
            if !PathBytes.equal(base, 0, path, 0, baseLength, caseFold) { return false }
        }
        if prefix > 0 {
            if prefix > path.count - nameStart { return false }
            if !PathBytes.equal(storage, patternStart, path, nameStart, prefix, caseFold) {
                return false
            }
            patternStart += prefix
            nameStart += prefix
            if patternStart == patternEnd && nameStart == path.count { return true }
        }
        let suffix = min(literalSuffix, patternEnd - patternStart)
        if suffix > path.count - nameStart
            || !PathBytes.equal(storage, patternEnd - suffix, path, path.count - suffix,
                                suffix, caseFold) {
            return false
        }
        let matcher = GlobMatcher(pattern: storage, patternStart: patternStart,
                                  patternEnd: patternEnd, text: path, textEnd: path.count,
                                  pathname: true, caseFold: caseFold)
        return matcher.matches(textStart: nameStart)
    }
}
