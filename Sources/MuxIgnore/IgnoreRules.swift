// IgnoreRules: every ignore rule source of a sync root, evaluated as git does.
//
// Precedence, lowest to highest (a match in a higher source wins outright; inside a
// source the last matching rule wins):
//   1. muxsync defaults (`IgnoreRules.defaultPatterns`, unless `useDefaults: false`)
//   2. a global ignore file (like git's core.excludesFile), rooted at the root
//   3. .gitignore files: a file in `dir` applies only to paths below `dir`, and deeper
//      files win over shallower ones
//   4. the project's .muxsyncignore (gitignore syntax, rooted at the root)
//   5. --exclude patterns from the command line
// This mirrors git's own order (info/exclude and core.excludesFile < per-directory
// .gitignore < --exclude), with .muxsyncignore slotted in just below --exclude.
//
// The parent rule: a path below an excluded directory is ignored whatever the rules say
// about the path itself; nothing can re-include it. `isIgnored` and `explain` check the
// ancestors; `isIgnoredIgnoringParents` does not, for walkers that never descend into an
// ignored directory and so already know every ancestor is included.

// MARK: - IgnoreRules

/// The complete ignore configuration of one sync root. A value type: cheap to copy and
/// safe to share between the scanner and the watcher.
///
/// Paths are relative to the root, `/`-separated, without a leading `./`. A trailing `/`
/// is tolerated and dropped (pass `isDirectory: true` for directories). The empty path is
/// the root itself and is never ignored.
public struct IgnoreRules: Sendable {
    /// Name of git's per-directory ignore file.
    public static let gitignoreFileName = ".gitignore"
    /// Name of muxsync's project ignore file at the root.
    public static let muxsyncignoreFileName = ".muxsyncignore"

    /// Whether names compare ASCII case-insensitively (git's `core.ignorecase`, the usual
    /// setting on macOS file systems).
    public let caseInsensitive: Bool

    private let defaults: IgnorePatternList?
    private let global: IgnorePatternList?
    private let muxsyncignore: IgnorePatternList?
    private let excludes: IgnorePatternList?

    /// .gitignore rule lists, in the order they were added, and where each directory's
    /// list sits in that array.
    private var gitignoreLists: [IgnorePatternList] = []
    private var gitignoreOffsets: [String: Int] = [:]
    /// Sorted FNV-1a hashes of the non-root lists' directory bytes, with the owning offset,
    /// so a path's ancestors are found by binary search without building substrings.
    private var gitignoreHashes: [UInt64] = []
    private var gitignoreHashOwners: [Int] = []
    private var rootGitignore: IgnorePatternList?

    // MARK: Building

    /// Creates the rules of a sync root.
    /// - Parameters:
    ///   - useDefaults: apply `IgnoreRules.defaultPatterns` (lowest precedence).
    ///   - globalIgnore: contents of a user-wide ignore file, or nil.
    ///   - muxsyncignore: contents of the root's `.muxsyncignore`, or nil.
    ///   - excludes: `--exclude` values, each one pattern taken verbatim (see
    ///     `IgnorePattern(exclude:)`); later ones win.
    ///   - caseInsensitive: compare names ignoring ASCII case.
    public init(useDefaults: Bool = true, globalIgnore: String? = nil,
                muxsyncignore: String? = nil, excludes: [String] = [],
                caseInsensitive: Bool = false) {
        self.caseInsensitive = caseInsensitive
        self.defaults = useDefaults ? IgnoreRules.defaultList : nil
        self.global = IgnoreRules.list(.global, globalIgnore.map {
            IgnorePattern.parse(fileContents: $0)
        })
        self.muxsyncignore = IgnoreRules.list(.muxsyncignore, muxsyncignore.map {
            IgnorePattern.parse(fileContents: $0)
        })
        self.excludes = IgnoreRules.list(.commandLine, excludes.enumerated().compactMap {
            IgnorePattern(exclude: $1, lineNumber: $0 + 1)
        })
    }

    private static func list(_ source: IgnoreSource, _ patterns: [IgnorePattern]?)
        -> IgnorePatternList? {
        guard let patterns, !patterns.isEmpty else { return nil }
        return IgnorePatternList(source: source, base: "", patterns: patterns)
    }

    /// Adds (or replaces) the `.gitignore` of `directory`. Cheap enough to call for every
    /// .gitignore met during a scan (no re-sorting of earlier files).
    /// - Parameters:
    ///   - text: the file's contents.
    ///   - directory: the directory holding it, relative to the root (`""` = root).
    public mutating func addGitignore(_ text: String, directory: String) {
        let directory = PathBytes.normalized(directory)
        let patterns = IgnorePattern.parse(fileContents: text, baseDirectory: directory)
        guard !patterns.isEmpty else {
            removeGitignore(directory: directory)
            return
        }
        let list = IgnorePatternList(source: .gitignore(directory: directory), base: directory,
                                     patterns: patterns)
        if directory.isEmpty { rootGitignore = list }
        if let offset = gitignoreOffsets[directory] {
            gitignoreLists[offset] = list
            return
        }
        let offset = gitignoreLists.count
        gitignoreLists.append(list)
        gitignoreOffsets[directory] = offset
        if !directory.isEmpty { insertHash(of: list, owner: offset) }
    }

    /// Forgets the `.gitignore` of `directory` (the file was deleted).
    public mutating func removeGitignore(directory: String) {
        let directory = PathBytes.normalized(directory)
        guard let removed = gitignoreOffsets[directory] else { return }
        if directory.isEmpty { rootGitignore = nil }
        gitignoreLists.remove(at: removed)
        gitignoreOffsets = [:]
        gitignoreHashes = []
        gitignoreHashOwners = []
        for (offset, list) in gitignoreLists.enumerated() {
            let name = String(decoding: list.base, as: UTF8.self)
            gitignoreOffsets[name] = offset
            if !name.isEmpty { insertHash(of: list, owner: offset) }
        }
    }

    /// Directories whose `.gitignore` contributes at least one rule, sorted.
    public var gitignoreDirectories: [String] { gitignoreOffsets.keys.sorted() }

    private mutating func insertHash(of list: IgnorePatternList, owner: Int) {
        let hash = list.base.withUnsafeBufferPointer { PathBytes.hash($0, 0, $0.count) }
        let position = firstHashIndex(notBelow: hash)
        gitignoreHashes.insert(hash, at: position)
        gitignoreHashOwners.insert(owner, at: position)
    }

    /// Binary search: the first index whose hash is >= `hash`.
    @inline(__always)
    private func firstHashIndex(notBelow hash: UInt64) -> Int {
        var low = 0
        var high = gitignoreHashes.count
        while low < high {
            let middle = (low + high) / 2
            if gitignoreHashes[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return low
    }

    // MARK: Queries

    /// Whether `path` is ignored, applying git's parent rule: the path is ignored when any
    /// ancestor directory is excluded, whatever the rules say about the path itself.
    /// Costs one evaluation per ancestor; walkers that skip ignored directories should use
    /// `isIgnoredIgnoringParents` instead.
    public func isIgnored(_ path: String, isDirectory: Bool) -> Bool {
        guard let decision = decide(path, isDirectory: isDirectory, checkParents: true) else {
            return false
        }
        return !decision.list.patterns[decision.index].isNegated
    }

    /// Whether the rules exclude `path` itself, assuming no ancestor directory is excluded.
    ///
    /// This is the scanner's fast path: it asks about each directory before descending and
    /// never descends into an ignored one, so by the time it asks about `a/b/c` it knows
    /// `a` and `a/b` are included. Use `isIgnored` when that is not known (watcher events).
    public func isIgnoredIgnoringParents(_ path: String, isDirectory: Bool) -> Bool {
        guard let decision = decide(path, isDirectory: isDirectory, checkParents: false) else {
            return false
        }
        return !decision.list.patterns[decision.index].isNegated
    }

    /// The rule that decides about `path`, or nil when no rule matches (not ignored).
    ///
    /// Like `git check-ignore -v`: a negated rule may be returned (then
    /// `isIgnored == false`), and a path below an excluded directory is explained by the rule
    /// that excluded the directory.
    public func explain(_ path: String, isDirectory: Bool) -> IgnoreMatch? {
        let normalized = PathBytes.normalized(path)
        guard let decision = decide(normalized, isDirectory: isDirectory, checkParents: true)
        else { return nil }
        let matched = String(decoding: normalized.utf8.prefix(decision.length), as: UTF8.self)
        return IgnoreMatch(pattern: decision.list.patterns[decision.index],
                           source: decision.list.source, matchedPath: matched, path: normalized)
    }

    // MARK: Evaluation

    /// The deciding rule: its list, its index there, and the length of the path prefix it
    /// matched (the whole path, or an excluded ancestor directory).
    private struct Decision {
        let list: IgnorePatternList
        let index: Int
        let length: Int
    }

    /// Finds the deciding rule for `path`, first for each ancestor directory when
    /// `checkParents` (stopping at the first excluded one), then for the path itself.
    private func decide(_ path: String, isDirectory: Bool, checkParents: Bool) -> Decision? {
        var path = PathBytes.normalized(path)
        return path.withUTF8 { bytes -> Decision? in
            if bytes.isEmpty { return nil }
            if checkParents {
                var slash = 1
                while slash < bytes.count {
                    if bytes[slash] == Byte.slash,
                       let decision = decide(UnsafeBufferPointer(rebasing: bytes[0..<slash]),
                                             isDirectory: true),
                       !decision.list.patterns[decision.index].isNegated {
                        return decision
                    }
                    slash += 1
                }
            }
            return decide(bytes, isDirectory: isDirectory)
        }
    }

    /// The last matching rule for `path` itself across all sources in precedence order.
    /// Does not look at ancestors.
    private func decide(_ path: UnsafeBufferPointer<UInt8>, isDirectory: Bool) -> Decision? {
        let nameStart = PathBytes.basenameStart(path)
        let fold = caseInsensitive
        if let list = excludes, let index = list.lastMatch(
            path, basenameStart: nameStart, isDirectory: isDirectory, caseFold: fold) {
            return Decision(list: list, index: index, length: path.count)
        }
        if let list = muxsyncignore, let index = list.lastMatch(
            path, basenameStart: nameStart, isDirectory: isDirectory, caseFold: fold) {
            return Decision(list: list, index: index, length: path.count)
        }
        if let decision = decideGitignores(path, nameStart: nameStart, isDirectory: isDirectory) {
            return decision
        }
        if let list = global, let index = list.lastMatch(
            path, basenameStart: nameStart, isDirectory: isDirectory, caseFold: fold) {
            return Decision(list: list, index: index, length: path.count)
        }
        if let list = defaults, let index = list.lastMatch(
            path, basenameStart: nameStart, isDirectory: isDirectory, caseFold: fold) {
            return Decision(list: list, index: index, length: path.count)
        }
        return nil
    }

    /// The .gitignore files of the path's ancestors, root first; a match in a deeper file
    /// overrides one in a shallower file. Each ancestor directory's FNV-1a hash is built
    /// incrementally while scanning the path and looked up by binary search.
    private func decideGitignores(_ path: UnsafeBufferPointer<UInt8>, nameStart: Int,
                                  isDirectory: Bool) -> Decision? {
        let fold = caseInsensitive
        var best: Decision?
        if let root = rootGitignore, let index = root.lastMatch(
            path, basenameStart: nameStart, isDirectory: isDirectory, caseFold: fold) {
            best = Decision(list: root, index: index, length: path.count)
        }
        if gitignoreHashes.isEmpty || nameStart == 0 { return best }
        var hash: UInt64 = PathBytes.fnvOffsetBasis
        var position = 0
        while position < nameStart {
            let byte = path[position]
            // At a slash, `hash` covers exactly the directory before it.
            if byte == Byte.slash && position > 0,
               let list = gitignore(hash: hash, directory: path, length: position),
               let index = list.lastMatch(path, basenameStart: nameStart,
                                          isDirectory: isDirectory, caseFold: fold) {
                best = Decision(list: list, index: index, length: path.count)
            }
            hash = (hash ^ UInt64(byte)) &* PathBytes.fnvPrime
            position += 1
        }
        return best
    }

    /// The .gitignore list of the directory `directory[0..<length]` whose hash is `hash`.
    @inline(__always)
    private func gitignore(hash: UInt64, directory: UnsafeBufferPointer<UInt8>,
                           length: Int) -> IgnorePatternList? {
        var low = firstHashIndex(notBelow: hash)
        while low < gitignoreHashes.count && gitignoreHashes[low] == hash {
            let list = gitignoreLists[gitignoreHashOwners[low]]
            if list.base.count == length, list.base.withUnsafeBufferPointer({
                PathBytes.equal($0, 0, directory, 0, length, false)
            }) {
                return list
            }
            low += 1
        }
        return nil
    }
}
