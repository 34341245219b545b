#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxSFTPWire
import MuxTransport

// MARK: - Sending one file so that it lands atomically

/// What was sent for one file.
public struct UploadResult: Sendable {
    public var bytes: UInt64
    public var size: UInt64
    public var mtime: Int64
    public var permissions: UInt32
    /// The local file's state when it was read (what the remote now holds).
    public var sent: LocalStat?
}

/// Writes a local file to a temporary name in the remote directory, sets its
/// mode and mtime, then renames it over the real name (posix-rename): a reader
/// on the remote sees the old file or the new one, never a half. If the local
/// file changes while it is read, it is sent again (up to `attempts` times).
public struct FileUploader: Sendable {
    public let client: SFTPClient
    public var attempts = 3
    public var tuning = TransferTuning()

    public init(client: SFTPClient) { self.client = client }

    /// Uploads `localPath` to `remotePath`. `progress` gets byte counts.
    public func upload(localPath: String, to remotePath: String,
                       progress: (@Sendable (Int) -> Void)? = nil) async throws -> UploadResult {
        var lastChange = ""
        for _ in 0..<max(1, attempts) {
            let fd = open(localPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw LocalIOError(path: localPath, operation: "open", errno: errno) }
            defer { close(fd) }
            let before = try LocalStat.of(fd: fd, path: localPath)
            guard before.isRegularFile else {
                throw UploadError.notARegularFile(localPath)
            }
            let temporary = RemotePath.join(RemotePath.parent(remotePath), TemporaryName.upload(for: RemotePath.name(remotePath)))
            let attributes = SFTPAttributes(permissions: before.permissions,
                                            atime: UInt32(clamping: before.mtime), mtime: UInt32(clamping: before.mtime))
            do {
                if before.size < tuning.stripeThreshold {
                    try await sendSmall(fd: fd, localPath: localPath, size: before.size, to: temporary,
                                        attributes: attributes, progress: progress)
                } else {
                    _ = try await client.upload(fd: fd, localPath: localPath, length: before.size, to: temporary,
                                                permissions: before.permissions, finalAttributes: attributes,
                                                tuning: tuning, progress: progress)
                }
                let after = try LocalStat.of(fd: fd, path: localPath)
                if after.size != before.size || after.mtime != before.mtime || after.mtimeNanoseconds != before.mtimeNanoseconds {
                    lastChange = "changed while being sent"
                    try? await client.nextChannel().remove(temporary)
                    continue
                }
                try await client.nextChannel().rename(temporary, to: remotePath)
                return UploadResult(bytes: before.size, size: before.size, mtime: before.mtime, permissions: before.permissions,
                                    sent: before)
            } catch {
                try? await client.nextChannel().remove(temporary)
                throw error
            }
        }
        throw UploadError.keptChanging(localPath, lastChange)
    }
}

extension FileUploader {
    /// A file that fits in memory: OPEN, then WRITEs + FSETSTAT + CLOSE in one
    /// batch (one round trip), all on one channel.
    func sendSmall(fd: Int32, localPath: String, size: UInt64, to temporary: String,
                   attributes: SFTPAttributes, progress: (@Sendable (Int) -> Void)?) async throws {
        let channel = client.nextChannel()
        let handle = try await channel.open(temporary, flags: [.write, .create, .truncate],
                                            attributes: SFTPAttributes(permissions: attributes.permissions))
        let bytes = try LocalFile(fd: fd, path: localPath).read(at: 0, count: Int(size))
        let chunk = channel.limits.writeChunkLength(handleLength: handle.bytes.count)
        var requests: [SFTPRequest] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            requests.append(.write(handle: handle.bytes, offset: UInt64(offset), data: Array(bytes[offset..<end])))
            offset = end
        }
        requests.append(.fsetstat(handle: handle.bytes, attributes: attributes))
        requests.append(.close(handle: handle.bytes))
        let replies = try await channel.sendBatch(requests)
        for (request, reply) in zip(requests, replies) {
            guard case .status(_, let status) = reply, status.code == .ok else {
                if case .close = request {} else { _ = try? await channel.close(handle) }
                let operation: String
                switch request {
                case .write: operation = "write"
                case .fsetstat: operation = "set attributes of"
                default: operation = "close"
                }
                if case .status(_, let status) = reply {
                    throw SFTPError(operation: operation, path: temporary, status: status)
                }
                throw TransportError(.sftp, "unexpected reply to \(operation)")
            }
        }
        progress?(bytes.count)
    }
}

public enum UploadError: Error, Sendable, CustomStringConvertible {
    case notARegularFile(String)
    case keptChanging(String, String)

    public var description: String {
        switch self {
        case .notARegularFile(let path): return "local: \(path) is no longer a regular file; skipped"
        case .keptChanging(let path, _): return "local: \(path) kept changing while being sent; it will go with the next run"
        }
    }
}

// MARK: - Local stat

/// The fields of stat(2) that sync decisions use.
public struct LocalStat: Sendable, Equatable {
    public var size: UInt64
    public var mtime: Int64
    public var mtimeNanoseconds: Int32
    public var permissions: UInt32
    public var isRegularFile: Bool
    public var isDirectory: Bool

    public static func of(fd: Int32, path: String) throws -> LocalStat {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LocalIOError(path: path, operation: "stat", errno: errno) }
        return LocalStat(st)
    }

    /// lstat of a path; nil when it does not exist.
    public static func ofPath(_ path: String) throws -> LocalStat? {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw LocalIOError(path: path, operation: "stat", errno: errno)
        }
        return LocalStat(st)
    }

    init(_ st: stat) {
        size = UInt64(st.st_size)
        #if canImport(Darwin)
        mtime = Int64(st.st_mtimespec.tv_sec)
        mtimeNanoseconds = Int32(st.st_mtimespec.tv_nsec)
        #else
        mtime = Int64(st.st_mtim.tv_sec)
        mtimeNanoseconds = Int32(st.st_mtim.tv_nsec)
        #endif
        permissions = UInt32(st.st_mode) & 0o7777
        isRegularFile = (UInt32(st.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFREG)
        isDirectory = (UInt32(st.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFDIR)
    }
}
