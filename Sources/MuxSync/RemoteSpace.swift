import MuxSFTPWire
import MuxTransport

// MARK: - Saying why the server refused a write

/// sftp-server reports a full disk or a read-only file system as a bare
/// FAILURE. When a write fails that way, statvfs@openssh.com tells which.
struct RemoteSpace: Sendable {
    let client: SFTPClient

    /// `error`, or a clearer one naming the cause when the remote file system is full or read-only.
    func explain(_ error: Error, near path: String, needing bytes: UInt64) async -> Error {
        guard let failure = error as? SFTPError, failure.code == .failure,
              client.supports(SFTPExtensionName.statvfs),
              let space = try? await client.primary.statvfs(RemotePath.parent(path)) else { return error }
        if space.isReadOnly {
            return SFTPError(operation: failure.operation, path: failure.path,
                             status: SFTPStatus(code: .failure, message: "the remote file system is read-only"))
        }
        if space.availableBytes < bytes + (256 << 10) {
            return SFTPError(operation: failure.operation, path: failure.path,
                             status: SFTPStatus(code: .failure,
                                                message: "no space left on the remote file system (\(space.availableBytes) bytes free)"))
        }
        return error
    }
}
