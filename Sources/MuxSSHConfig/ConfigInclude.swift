import Foundation

// MARK: - Reading included files

extension ConfigParser {
    /// Reads every file an `Include` line names (each argument globbed, files in sorted order),
    /// refusing loops, nesting deeper than ``maxIncludeDepth`` and more than ``maxFilesRead`` files.
    mutating func include(_ arguments: [String], at location: SSHConfigLocation, depth: Int) throws -> ConfigEntry {
        guard !arguments.isEmpty else {
            throw SSHConfigError("Include needs a file name or pattern", at: location)
        }
        var files: [IncludedFile] = []
        for argument in arguments {
            guard !argument.isEmpty else {
                throw SSHConfigError("Include argument is empty (expected a file name or pattern)", at: location)
            }
            let pattern: String
            do {
                pattern = try IncludeGlob.absolutePattern(argument, homeDirectory: homeDirectory, isSystem: isSystem)
            } catch .tildeInSystemConfig {
                throw SSHConfigError("Include '\(argument)': paths in the system configuration may not start with ~", at: location)
            } catch .tildeUser(let name) {
                throw SSHConfigError("Include '\(argument)': another user's home (~\(name)) is not supported; use an absolute path", at: location)
            }
            for path in IncludeGlob.expand(pattern) {
                if let file = try readIncluded(path, at: location, depth: depth) {
                    files.append(file)
                }
            }
        }
        return .include(files, location: location)
    }

    /// Parses one included file; nil for a path that vanished or is a directory.
    private mutating func readIncluded(_ path: String, at location: SSHConfigLocation, depth: Int) throws -> IncludedFile? {
        let display = SSHConfigLocation.abbreviate(path, homeDirectory: homeDirectory)
        guard let kind = PlainFile.kind(of: path) else { return nil }
        if kind == .directory {
            warnings.append(SSHConfigWarning("Include '\(display)' is a directory; skipped (use a pattern such as dir/*)", at: location))
            return nil
        }
        if includeStack.contains(Self.identity(of: path)) {
            throw SSHConfigError("Include '\(display)' forms a loop (that file is already being read); remove the Include", at: location)
        }
        guard depth + 1 <= Self.maxIncludeDepth else {
            throw SSHConfigError("Include '\(display)' is nested more than \(Self.maxIncludeDepth) levels deep", at: location)
        }
        filesRead += 1
        guard filesRead <= Self.maxFilesRead else {
            throw SSHConfigError("Include pulls in more than \(Self.maxFilesRead) files; narrow the pattern", at: location)
        }
        guard let data = PlainFile.contents(of: path) else {
            throw SSHConfigError("cannot read included file '\(display)' (check its permissions)", at: location)
        }
        let text = String(decoding: data, as: UTF8.self)
        let entries = try parseFile(text: text, path: path, depth: depth + 1)
        return IncludedFile(path: path, entries: entries)
    }

    /// A canonical identity for loop detection (symlinks resolved, `..` removed): realpath(3),
    /// or the path as given when it cannot be resolved. (Foundation's URL standardisation did
    /// the same at a cost every `muxsync` start paid: see docs/benchmarks.md, exec.)
    static func identity(of path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

// MARK: - Include path resolution

/// Resolves `Include` arguments the way OpenSSH does: `~/` is the home directory, a relative
/// path is relative to `~/.ssh` (user configuration) or `/etc/ssh` (system configuration), and
/// the result is expanded like `glob(3)` (`*`, `?`, `[...]`, sorted, dot-files only matched by
/// a pattern that starts with a dot). A pattern that matches nothing is silently skipped.
enum IncludeGlob {
    /// Safety bound on the number of paths one pattern may expand to.
    static let maxMatches = 1024

    /// Why an `Include` argument cannot be used.
    enum Failure: Error, Equatable {
        case tildeInSystemConfig
        case tildeUser(String)
    }

    /// Turns an `Include` argument into an absolute pattern.
    static func absolutePattern(_ argument: String, homeDirectory: String, isSystem: Bool) throws(Failure) -> String {
        if argument.hasPrefix("~") {
            guard !isSystem else { throw .tildeInSystemConfig }
            if argument == "~" { return homeDirectory }
            guard argument.hasPrefix("~/") else {
                let name = argument.dropFirst().prefix { $0 != "/" }
                throw .tildeUser(String(name))
            }
            return join(homeDirectory, String(argument.dropFirst(2)))
        }
        if argument.hasPrefix("/") { return argument }
        let base = isSystem ? "/etc/ssh" : join(homeDirectory, ".ssh")
        return join(base, argument)
    }

    /// Expands an absolute pattern to the existing paths it names, sorted byte-wise.
    static func expand(_ pattern: String, fileManager: FileManager = .default) -> [String] {
        guard pattern.hasPrefix("/") else { return [] }
        let components = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var current = ["/"]
        for component in components {
            var next: [String] = []
            let wild = hasWildcard(component)
            for base in current {
                if wild {
                    guard let names = try? fileManager.contentsOfDirectory(atPath: base) else { continue }
                    let allowDot = component.hasPrefix(".")
                    for name in names where allowDot || !name.hasPrefix(".") {
                        if WildcardMatcher.matches(name, pattern: component, brackets: true) {
                            next.append(join(base, name))
                        }
                    }
                } else {
                    next.append(join(base, component))
                }
                if next.count >= maxMatches { break }
            }
            current = next
            if current.isEmpty { return [] }
        }
        return current
            .filter { fileManager.fileExists(atPath: $0) }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    // MARK: Helpers

    /// Whether a path component needs directory listing.
    static func hasWildcard(_ s: String) -> Bool {
        s.utf8.contains { $0 == WildcardMatcher.star || $0 == WildcardMatcher.question || $0 == WildcardMatcher.openBracket }
    }

    /// Joins two path pieces with exactly one slash.
    static func join(_ base: String, _ name: String) -> String {
        if name.isEmpty { return base }
        if base.hasSuffix("/") { return base + name }
        return base + "/" + name
    }
}
