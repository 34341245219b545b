import Foundation
import MuxIgnore
import MuxTransport

// MARK: - Which paths a sync leaves alone

/// The ignore rules of one local root: muxsync's defaults, nested .gitignore
/// files (read lazily as the walk reaches their directories), the project's
/// .muxsyncignore and --exclude patterns. Shared by the local and remote
/// scanners and the watcher, so both sides skip the same paths (and a remote
/// file that is ignored locally is never deleted by --delete).
public final class ExclusionFilter: @unchecked Sendable {
    private let root: String
    private let excludes: [String]
    private let useDefaults: Bool
    private let state: Locked<(rules: IgnoreRules, loaded: Set<String>)>

    /// - Parameters:
    ///   - root: the local root whose .gitignore/.muxsyncignore files apply.
    ///   - excludes: --exclude patterns (gitignore syntax, highest precedence).
    ///   - useDefaults: apply the default list (.git/, __pycache__/, editor droppings...).
    public init(root: String, excludes: [String], useDefaults: Bool = true) {
        self.root = root
        self.excludes = excludes
        self.useDefaults = useDefaults
        state = Locked((IgnoreRules(), [""]))
        state.withLock { $0.rules = topLevelRules() }
    }

    /// The defaults, the root's .muxsyncignore and .gitignore, and the --exclude patterns.
    private func topLevelRules() -> IgnoreRules {
        let muxsyncignore = try? String(contentsOfFile: RemotePath.join(root, IgnoreRules.muxsyncignoreFileName), encoding: .utf8)
        var rules = IgnoreRules(useDefaults: useDefaults, muxsyncignore: muxsyncignore, excludes: excludes)
        if let text = readGitignore("") { rules.addGitignore(text, directory: "") }
        return rules
    }

    /// For walkers that ask about a directory before its contents and never
    /// descend into an excluded one.
    public func isExcludedInWalk(_ path: String, isDirectory: Bool) -> Bool {
        if TemporaryName.isTemporary(RemotePath.name(path)) { return true }
        loadGitignore(forParentOf: path)
        return state.withLock { $0.rules.isIgnoredIgnoringParents(path, isDirectory: isDirectory) }
    }

    /// For single paths (watch events): checks every ancestor too.
    public func isExcluded(_ path: String, isDirectory: Bool) -> Bool {
        if TemporaryName.isTemporary(RemotePath.name(path)) { return true }
        var directory = ""
        for component in path.split(separator: "/").dropLast() {
            directory = directory.isEmpty ? String(component) : directory + "/" + component
            loadGitignore(in: directory)
        }
        return state.withLock { $0.rules.isIgnored(path, isDirectory: isDirectory) }
    }

    /// The closure form the scanners take.
    public var walkPredicate: @Sendable (String, Bool) -> Bool {
        { [self] path, isDirectory in isExcludedInWalk(path, isDirectory: isDirectory) }
    }

    /// Re-reads the .gitignore of `directory` (after the watcher saw it change); for the
    /// root (""), also the .muxsyncignore: every rule file read so far is read again.
    public func reloadGitignore(in directory: String) {
        if directory.isEmpty {
            reloadTopLevel()
            return
        }
        state.withLock { $0.loaded.remove(directory) }
        if let text = readGitignore(directory) {
            state.withLock {
                $0.rules.addGitignore(text, directory: directory)
                $0.loaded.insert(directory)
            }
        } else {
            state.withLock {
                $0.rules.removeGitignore(directory: directory)
                $0.loaded.insert(directory)
            }
        }
    }

    /// Rebuilds the rules with the current .muxsyncignore and root .gitignore, and the
    /// .gitignore files of deeper directories read again (the rules keep git's precedence).
    private func reloadTopLevel() {
        state.withLock { s in
            var rules = topLevelRules()
            for directory in s.rules.gitignoreDirectories where !directory.isEmpty {
                if let text = readGitignore(directory) { rules.addGitignore(text, directory: directory) }
            }
            s.rules = rules
        }
    }

    private func loadGitignore(forParentOf path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        loadGitignore(in: String(path[..<slash]))
    }

    private func loadGitignore(in directory: String) {
        if state.withLock({ $0.loaded.contains(directory) }) { return }
        let text = readGitignore(directory)
        state.withLock {
            if let text { $0.rules.addGitignore(text, directory: directory) }
            $0.loaded.insert(directory)
        }
    }

    private func readGitignore(_ directory: String) -> String? {
        let path = RemotePath.join(RemotePath.join(root, directory), IgnoreRules.gitignoreFileName)
        return try? String(contentsOfFile: path, encoding: .utf8)
    }
}
