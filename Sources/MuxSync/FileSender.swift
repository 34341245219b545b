#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import MuxDelta
import MuxSFTPWire
import MuxTransport

// MARK: - Choosing how one file goes: delta, whole, or not at all

/// A remote file changed by someone else since muxsync last wrote it.
public struct RemoteConflict: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var expected: FileRecord
    public var found: TreeEntry

    public var description: String {
        "conflict: \(path) changed on the remote since muxsync last wrote it "
            + "(now \(found.size) bytes, mtime \(found.mtime); muxsync wrote \(expected.size) bytes, mtime \(expected.mtime)); "
            + "left alone: rerun with --force to overwrite it"
    }
}

/// How one file was sent.
public struct SendOutcome: Sendable {
    public var payloadBytes: UInt64
    public var viaDelta: Bool
    /// The local file's state when it was read (what the remote now holds).
    public var sent: LocalStat?
}

/// Sends one local file to the remote using what the state store knows:
/// the delta engine when the remote holds a version muxsync wrote (checked by
/// size and mtime), a whole-file upload otherwise, and never over a file that
/// someone else changed (unless forced).
public struct FileSender: Sendable {
    public let client: SFTPClient
    public let state: SyncStateStore?
    public var force = false
    public var inPlace = false
    public var verify = false
    /// Files below this go whole: one round trip either way.
    public var deltaThreshold: UInt64 = 64 << 10
    public let logger: Logger

    public init(client: SFTPClient, state: SyncStateStore?, logger: Logger) {
        self.client = client
        self.state = state
        self.logger = logger
    }

    /// Throws `RemoteConflict` when `remote` is not what muxsync last wrote.
    public func checkConflict(_ path: String, remote: TreeEntry?) throws {
        guard !force, let remote, let record = state?.record(path) else { return }
        if remote.isFile && (record.size != remote.size || record.mtime != remote.mtime) {
            throw RemoteConflict(path: path, expected: record, found: remote)
        }
    }

    public func send(_ path: String, localPath: String, remotePath: String, remote: TreeEntry?,
                     progress: (@Sendable (Int) -> Void)?) async throws -> SendOutcome {
        try checkConflict(path, remote: remote)
        if let delta = try await sendDelta(path, localPath: localPath, remotePath: remotePath, remote: remote,
                                           progress: progress) {
            return delta
        }
        let result = try await FileUploader(client: client).upload(localPath: localPath, to: remotePath, progress: progress)
        var key: String?
        if let state, result.size >= deltaThreshold {
            key = try? Self.signature(ofLocal: localPath, expecting: result).map { try state.storeSignature($0) }
        }
        state?.setRecord(FileRecord(size: result.size, mtime: Int64(UInt32(clamping: result.mtime)), signatureKey: key,
                                    localVersion: result.sent.map(FileVersion.init)), for: path)
        if verify { try await Verifier(client: client).check(localPath: localPath, remotePath: remotePath) }
        return SendOutcome(payloadBytes: result.bytes, viaDelta: false, sent: result.sent)
    }

    /// The delta path, or nil when it does not apply (no usable old signature,
    /// small file, server without copy-data).
    private func sendDelta(_ path: String, localPath: String, remotePath: String, remote: TreeEntry?,
                           progress: (@Sendable (Int) -> Void)?) async throws -> SendOutcome? {
        let uploader = DeltaUploader(client: client, inPlace: inPlace)
        guard let state, let remote, remote.isFile, remote.size >= deltaThreshold, uploader.isAvailable,
              let record = state.record(path), record.size == remote.size, record.mtime == remote.mtime,
              let key = record.signatureKey, let old = state.signature(key), old.fileLength == remote.size,
              let local = try LocalStat.ofPath(localPath), local.size >= deltaThreshold
        else { return nil }
        do {
            let result = try await uploader.upload(localPath: localPath, to: remotePath, old: old, progress: progress)
            let newKey = try state.storeSignature(result.newSignature)
            state.setRecord(FileRecord(size: result.size, mtime: Int64(UInt32(clamping: result.mtime)), signatureKey: newKey,
                                       localVersion: result.sent.map(FileVersion.init)), for: path)
            logger.debug("delta \(path): \(result.literalBytes) literal, \(result.copiedBytes) copied")
            if verify { try await Verifier(client: client).check(localPath: localPath, remotePath: remotePath) }
            return SendOutcome(payloadBytes: result.literalBytes, viaDelta: true, sent: result.sent)
        } catch let error as SFTPError where [.opUnsupported, .failure, .permissionDenied].contains(error.code) {
            logger.info("delta rebuild of \(path) failed (\(error)); sending it whole")
            return nil
        }
    }

    /// The block signature of a local file, if it still is what was sent.
    static func signature(ofLocal path: String, expecting sent: UploadResult) throws -> FileSignature? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let file = LocalFile(fd: fd, path: path)
        let builder = SignatureBuilder(expectedLength: sent.size)
        var offset: UInt64 = 0
        while offset < sent.size {
            let chunk = try file.read(at: offset, count: Int(min(4 << 20, sent.size - offset)))
            if chunk.isEmpty { break }
            builder.append(chunk)
            offset += UInt64(chunk.count)
        }
        let after = try LocalStat.of(fd: fd, path: path)
        guard after.size == sent.size, after.mtime == sent.mtime else { return nil }
        return builder.finish()
    }
}

// MARK: - --verify

/// Reads a remote file back and compares its whole-file hash with the local file's.
struct Verifier: Sendable {
    let client: SFTPClient

    func check(localPath: String, remotePath: String) async throws {
        guard let local = try LocalStat.ofPath(localPath) else { return }
        let localSignature = try FileSender.signature(ofLocal: localPath,
                                                      expecting: UploadResult(bytes: 0, size: local.size, mtime: local.mtime,
                                                                              permissions: local.permissions, sent: local))
        let channel = client.nextChannel()
        let handle = try await channel.open(remotePath, flags: [.read])
        let builder = SignatureBuilder(expectedLength: local.size)
        var offset: UInt64 = 0
        do {
            while let bytes = try await channel.read(handle, offset: offset, length: channel.limits.readChunkLength),
                  !bytes.isEmpty {
                builder.append(bytes)
                offset += UInt64(bytes.count)
            }
        } catch {
            _ = try? await channel.close(handle)
            throw error
        }
        try await channel.close(handle)
        let remote = builder.finish()
        guard let localSignature, remote.fileHash == localSignature.fileHash, remote.fileLength == local.size else {
            throw SFTPError(operation: "verify", path: remotePath,
                            status: SFTPStatus(code: .failure, message: "the remote content differs from the local file after writing"))
        }
    }
}
