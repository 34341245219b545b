import MuxSFTPWire
import MuxTransport

// MARK: - Listing a remote tree over SFTP

/// What a remote listing found.
public struct RemoteScan: Sendable {
    /// The tree below the root; nil when the root does not exist.
    public var tree: Tree?
    /// Leftover temporary files of an interrupted muxsync run (relative paths).
    public var staleTemporaries: [String]
    public var warnings: [String]
}

/// Walks a remote directory tree breadth-first, listing many directories at
/// once across the pool's channels (one round trip per level, not per file).
public struct RemoteScanner: Sendable {
    public let client: SFTPClient
    /// Absolute remote path of the root.
    public let root: String
    /// Directories listed concurrently.
    public var concurrency = 128

    public init(client: SFTPClient, root: String) {
        self.client = client
        self.root = root
    }

    /// Lists the tree. `isExcluded(relativePath, isDirectory)` prunes entries
    /// (excluded directories are not descended).
    public func scan(isExcluded: @escaping @Sendable (String, Bool) -> Bool = { _, _ in false }) async throws -> RemoteScan {
        // The root's listing starts with its LSTAT, not after it (one round trip less);
        // if it fails (no root, a file, no permission), the root's kind decides below
        // and a real listing error comes from listing it again.
        let channel = client.primary
        let rootPath = root
        let prefetch = Task { try? await channel.listDirectory(rootPath) }
        defer { prefetch.cancel() }
        guard let rootAttributes = try await client.primary.lstatIfExists(root) else {
            return RemoteScan(tree: nil, staleTemporaries: [], warnings: [])
        }
        if rootAttributes.isSymlink {
            // The root the user named may be a link to a directory (its contents are listed);
            // links inside the tree are never followed.
            guard let target = try await client.primary.statIfExists(root), target.isDirectory else {
                throw SyncError.remoteNotADirectory(root)
            }
        } else if !rootAttributes.isDirectory {
            throw SyncError.remoteNotADirectory(root)
        }
        let found = Locked(RemoteScan(tree: nil, staleTemporaries: [], warnings: []))
        let entries = Locked([TreeEntry]())
        var level = [""]
        while !level.isEmpty {
            let next = Locked([String]())
            try await pipelined(level, window: concurrency) { directory in
                let channel = client.nextChannel()
                let prefetched = directory.isEmpty ? await prefetch.value : nil
                let listed: [SFTPNameEntry]
                if let prefetched { listed = prefetched } else { listed = try await channel.listDirectory(RemotePath.join(root, directory)) }
                var local: [TreeEntry] = []
                var subdirectories: [String] = []
                for item in listed {
                    guard item.filenameIsValidUTF8 else {
                        found.withLock { $0.warnings.append("skipping remote name that is not UTF-8 in \(directory.isEmpty ? "." : directory)") }
                        continue
                    }
                    let relative = directory.isEmpty ? item.filename : directory + "/" + item.filename
                    if TemporaryName.isTemporary(item.filename) {
                        found.withLock { $0.staleTemporaries.append(relative) }
                        continue
                    }
                    let attributes = item.attributes
                    let isDirectory = attributes.isDirectory
                    if isExcluded(relative, isDirectory) { continue }
                    var entry = TreeEntry(path: relative, kind: .file, size: attributes.size ?? 0,
                                          mtime: Int64(attributes.mtime ?? 0), permissions: attributes.modeBits ?? 0o644)
                    if isDirectory {
                        entry.kind = .directory
                        entry.size = 0
                        subdirectories.append(relative)
                    } else if attributes.isSymlink {
                        let target = try await channel.readlink(RemotePath.join(root, relative))
                        entry.kind = .symlink(target: target)
                    } else if !attributes.isRegularFile {
                        entry.kind = .special("special file")
                    }
                    local.append(entry)
                }
                let found = local
                entries.withLock { $0.append(contentsOf: found) }
                let subs = subdirectories
                next.withLock { $0.append(contentsOf: subs) }
            }
            level = next.withLock { $0 }
        }
        var result = found.withLock { $0 }
        result.tree = Tree(entries.withLock { $0 })
        return result
    }
}

// MARK: - Remote path arithmetic

/// Remote paths are POSIX: "/"-separated, never normalised beyond joining.
public enum RemotePath {
    public static func join(_ base: String, _ relative: String) -> String {
        if relative.isEmpty { return base }
        if base.isEmpty { return relative }
        return base.hasSuffix("/") ? base + relative : base + "/" + relative
    }

    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func name(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
