import MuxSFTPWire
import MuxTransport

// MARK: - mkdir -p on the remote

/// Creates remote directories with their missing parents.
public struct RemoteDirectories: Sendable {
    public let client: SFTPClient

    public init(client: SFTPClient) { self.client = client }

    /// Creates `path` and any missing ancestors (like `mkdir -p`). Fails with
    /// a clear message when a component exists and is not a directory.
    public func makePath(_ path: String) async throws {
        let channel = client.primary
        var missing: [String] = []
        var cursor = path
        while !cursor.isEmpty, cursor != "/" {
            if let attributes = try await channel.lstatIfExists(cursor) {
                if attributes.isDirectory { break }
                if attributes.isSymlink, let target = try? await channel.stat(cursor), target.isDirectory { break }
                throw SyncError.remoteNotADirectory(cursor)
            }
            missing.append(cursor)
            cursor = RemotePath.parent(cursor)
        }
        for directory in missing.reversed() {
            do {
                try await channel.mkdir(directory, attributes: SFTPAttributes(permissions: 0o755))
            } catch let error as SFTPError {
                guard let existing = try await channel.lstatIfExists(directory), existing.isDirectory else { throw error }
            }
        }
    }
}
