import MuxSFTPWire
import MuxTransport

// MARK: - Removing a remote directory tree

/// rm -r over SFTP: lists breadth-first, removes files in flight together,
/// then directories deepest first. Never follows symlinks (they are removed
/// as links).
public struct RemoteTrees: Sendable {
    public let client: SFTPClient

    public init(client: SFTPClient) { self.client = client }

    public func removeRecursively(_ path: String) async throws {
        let scan = try await RemoteScanner(client: client, root: path).scan()
        let entries = scan.tree?.entries ?? []
        let files = entries.filter { !$0.isDirectory }.map(\.path) + scan.staleTemporaries
        try await pipelined(files, window: 64) { relative in
            try await client.nextChannel().remove(RemotePath.join(path, relative))
        }
        let directories = entries.filter(\.isDirectory).map(\.path).sorted { $0.utf8.count > $1.utf8.count }
        for directory in directories { try await client.primary.rmdir(RemotePath.join(path, directory)) }
        try await client.primary.rmdir(path)
    }
}
