#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxDelta
import MuxSFTPWire
import MuxTransport

// MARK: - Rebuilding a remote file from the blocks it already holds

/// What a delta upload did.
public struct DeltaUploadResult: Sendable {
    public var newSignature: FileSignature
    public var literalBytes: UInt64
    public var copiedBytes: UInt64
    public var size: UInt64
    public var mtime: Int64
    public var sent: LocalStat?
}

/// Sends only the changed blocks of a file, using SFTP alone: the remote's
/// old file is opened for reading and a temporary file for writing on the
/// same channel; matched ranges are copied server-side (copy-data), literal
/// runs are written, and the temporary file is renamed over the old one.
/// With `inPlace`, changed ranges are written into the file itself instead
/// (for huge append-mostly files; not atomic).
public struct DeltaUploader: Sendable {
    public let client: SFTPClient
    public var inPlace = false

    public init(client: SFTPClient, inPlace: Bool = false) {
        self.client = client
        self.inPlace = inPlace
    }

    /// True when the server can rebuild files from their old blocks.
    public var isAvailable: Bool { inPlace || client.supports(SFTPExtensionName.copyData) }

    public func upload(localPath: String, to remotePath: String, old: FileSignature,
                       progress: (@Sendable (Int) -> Void)? = nil) async throws -> DeltaUploadResult {
        let fd = open(localPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw LocalIOError(path: localPath, operation: "open", errno: errno) }
        defer { close(fd) }
        let before = try LocalStat.of(fd: fd, path: localPath)
        guard before.isRegularFile else { throw UploadError.notARegularFile(localPath) }

        let channel = client.nextChannel()
        // The two OPENs of a rebuild (old file, temporary) travel while the local file
        // is matched: their round trips hide behind the matching pass.
        let opening: Task<RebuildHandles, Error>? = inPlace ? nil : Task {
            try await RebuildHandles.open(remotePath, permissions: before.permissions, on: channel)
        }

        // Match: one streaming pass over the local file.
        let matcher = DeltaMatcher(oldSignature: old, expectedNewLength: before.size)
        let file = LocalFile(fd: fd, path: localPath)
        var offset: UInt64 = 0
        do {
            while offset < before.size {
                let chunk = try file.read(at: offset, count: Int(min(4 << 20, before.size - offset)))
                if chunk.isEmpty { break }
                matcher.append(chunk)
                offset += UInt64(chunk.count)
            }
        } catch {
            if let handles = try? await opening?.value { await handles.abandon(on: channel, closing: true) }
            throw error
        }
        let delta = matcher.finish()
        let attributes = SFTPAttributes(permissions: before.permissions,
                                        atime: UInt32(clamping: before.mtime), mtime: UInt32(clamping: before.mtime))
        // Literal bytes are read again while sending: the file must still be the
        // version that was matched when the rebuilt copy replaces the old one.
        let unchanged: @Sendable () throws -> Void = {
            let now = try LocalStat.of(fd: fd, path: localPath)
            if now.size != before.size || now.mtime != before.mtime || now.mtimeNanoseconds != before.mtimeNanoseconds {
                throw UploadError.keptChanging(localPath, "changed while being sent")
            }
        }
        if let opening {
            try await rebuild(delta.operations, file: file, into: try await opening.value, remotePath: remotePath,
                              newLength: before.size, attributes: attributes, channel: channel, progress: progress,
                              unchanged: unchanged)
        } else {
            try await rewriteInPlace(delta.operations, file: file, remotePath: remotePath, newLength: before.size,
                                     attributes: attributes, channel: channel, progress: progress)
        }
        let after = try LocalStat.of(fd: fd, path: localPath)
        if after.size != before.size || after.mtime != before.mtime || after.mtimeNanoseconds != before.mtimeNanoseconds {
            throw UploadError.keptChanging(localPath, "changed while being sent")
        }
        return DeltaUploadResult(newSignature: delta.newSignature, literalBytes: delta.stats.literalBytes,
                                 copiedBytes: delta.stats.matchedBytes, size: before.size, mtime: before.mtime, sent: before)
    }

    // MARK: Atomic rebuild

    /// Sends the operations, then, in the same flight, FSTAT (the rebuilt size must
    /// be exactly the new length before it replaces anything), FSETSTAT and both
    /// CLOSEs; the RENAME goes only once all of them answered OK.
    private func rebuild(_ operations: [DeltaOperation], file: LocalFile, into handles: RebuildHandles,
                         remotePath: String, newLength: UInt64, attributes: SFTPAttributes, channel: SFTPChannel,
                         progress: (@Sendable (Int) -> Void)?, unchanged: () throws -> Void) async throws {
        let (source, target, temporary) = (handles.source, handles.target, handles.temporary)
        // Once the last flight left, the server has closed both handles whatever the
        // outcome: they must not be closed again (sftp-server reuses handle numbers,
        // so a second CLOSE could end another file's transfer on this channel).
        var lastFlightSent = false
        do {
            let trailer: [SFTPRequest] = [.fstat(handle: target.bytes), .fsetstat(handle: target.bytes, attributes: attributes),
                                          .close(handle: target.bytes), .close(handle: source.bytes)]
            let last = try await send(operations, file: file, source: source, target: target, channel: channel,
                                      progress: progress)
            lastFlightSent = true
            let tail = try await flush(last, channel: channel, trailer: trailer)
            progress?(last.bytes)
            guard case .attrs(_, let written) = tail[0] else {
                try SFTPReplyCheck.ok(tail[0], "fstat", temporary)
                throw TransportError(.sftp, "unexpected reply to fstat of \(temporary)")
            }
            guard written.size == newLength else {
                throw SFTPError(operation: "rebuild", path: remotePath,
                                status: SFTPStatus(code: .failure, message: "rebuilt \(written.size ?? 0) bytes, expected \(newLength)"))
            }
            for reply in tail.dropFirst() { try SFTPReplyCheck.ok(reply, "finish", temporary) }
            try unchanged()
            try await channel.rename(temporary, to: remotePath)
        } catch {
            await handles.abandon(on: channel, closing: !lastFlightSent)
            throw error
        }
    }

    /// Requests not sent yet, and the literal bytes among them.
    private struct Flight {
        var requests: [SFTPRequest] = []
        var bytes = 0
    }

    /// copy-data for matched ranges, WRITE for literal runs; all pipelined on
    /// one channel (copy-data needs both handles on the same sftp-server). Sends
    /// full flights as it goes and returns the last one, for the caller to send
    /// with whatever must travel with it.
    private func send(_ operations: [DeltaOperation], file: LocalFile, source: SFTPHandle, target: SFTPHandle,
                      channel: SFTPChannel, progress: (@Sendable (Int) -> Void)?) async throws -> Flight {
        let chunk = UInt64(channel.limits.writeChunkLength(handleLength: target.bytes.count))
        var newOffset: UInt64 = 0
        var flight = Flight()
        for operation in operations {
            switch operation {
            case .copy(let oldOffset, let length):
                flight.requests.append(.copyData(readHandle: source.bytes, readOffset: oldOffset, length: length,
                                                 writeHandle: target.bytes, writeOffset: newOffset))
                newOffset += length
            case .literal(let literalOffset, let length):
                // A literal names its place in the new file (in-place mode sends only these).
                var done: UInt64 = 0
                while done < length {
                    let count = min(chunk, length - done)
                    let bytes = try file.read(at: literalOffset + done, count: Int(count))
                    flight.requests.append(.write(handle: target.bytes, offset: literalOffset + done, data: bytes))
                    flight.bytes += bytes.count
                    done += count
                }
                newOffset = literalOffset + length
            }
            if flight.bytes >= 4 << 20 || flight.requests.count >= 256 {
                try await flush(flight, channel: channel)
                progress?(flight.bytes)
                flight = Flight()
            }
        }
        return flight
    }

    /// Sends `flight` + `trailer` in one go; checks the flight's replies, returns the trailer's.
    @discardableResult
    private func flush(_ flight: Flight, channel: SFTPChannel, trailer: [SFTPRequest] = []) async throws -> [SFTPReply] {
        guard !flight.requests.isEmpty || !trailer.isEmpty else { return [] }
        let replies = try await channel.sendBatch(flight.requests + trailer)
        for reply in replies.prefix(flight.requests.count) { try SFTPReplyCheck.ok(reply, "rebuild", nil) }
        return Array(replies.suffix(trailer.count))
    }

    // MARK: In place

    /// Writes every range that is not already at the same offset, then trims
    /// the file to its new length. Readers may see a mix while it runs.
    private func rewriteInPlace(_ operations: [DeltaOperation], file: LocalFile, remotePath: String, newLength: UInt64,
                                attributes: SFTPAttributes, channel: SFTPChannel,
                                progress: (@Sendable (Int) -> Void)?) async throws {
        let handle = try await channel.open(remotePath, flags: [.write])
        do {
            var literal: [DeltaOperation] = []
            var newOffset: UInt64 = 0
            for operation in operations {
                switch operation {
                case .copy(let oldOffset, let length) where oldOffset == newOffset:
                    break  // already in place
                case .copy(_, let length), .literal(_, let length):
                    literal.append(.literal(newOffset: newOffset, length: length))
                }
                newOffset += operation.length
            }
            let last = try await send(literal, file: file, source: handle, target: handle, channel: channel,
                                      progress: progress)
            try await flush(last, channel: channel)
            progress?(last.bytes)
            var final = attributes
            final.size = newLength
            try await channel.fsetstat(handle, final)
            try await channel.close(handle)
        } catch {
            _ = try? await channel.close(handle)
            throw error
        }
    }
}

// MARK: - The two handles of a rebuild

/// The old file open for reading and its temporary sibling open for writing.
struct RebuildHandles: Sendable {
    let source: SFTPHandle
    let target: SFTPHandle
    let temporary: String

    /// Opens both at once (one round trip); if either fails, the other is closed and
    /// the temporary removed.
    static func open(_ remotePath: String, permissions: UInt32, on channel: SFTPChannel) async throws -> RebuildHandles {
        let temporary = RemotePath.join(RemotePath.parent(remotePath), TemporaryName.upload(for: RemotePath.name(remotePath)))
        async let sourceOpen = channel.open(remotePath, flags: [.read])
        async let targetOpen = channel.open(temporary, flags: [.write, .create, .truncate],
                                            attributes: SFTPAttributes(permissions: permissions))
        var failure: Error?
        var source: SFTPHandle?
        var target: SFTPHandle?
        do { source = try await sourceOpen } catch { failure = error }
        do { target = try await targetOpen } catch { failure = failure ?? error }
        if let source, let target { return RebuildHandles(source: source, target: target, temporary: temporary) }
        if let source { _ = try? await channel.close(source) }
        if let target {
            _ = try? await channel.close(target)
            _ = try? await channel.remove(temporary)
        }
        throw failure ?? TransportError(.sftp, "could not open \(remotePath) for a rebuild")
    }

    /// Closes both handles (unless the server already has) and removes the temporary.
    func abandon(on channel: SFTPChannel, closing: Bool) async {
        if closing { _ = try? await channel.sendBatch([.close(handle: target.bytes), .close(handle: source.bytes)]) }
        _ = try? await channel.remove(temporary)
    }
}

/// Status checking for batched replies.
enum SFTPReplyCheck {
    static func ok(_ reply: SFTPReply, _ operation: String, _ path: String?) throws {
        guard case .status(_, let status) = reply else {
            throw TransportError(.sftp, "unexpected reply to \(operation)")
        }
        guard status.code == .ok else { throw SFTPError(operation: operation, path: path, status: status) }
    }
}
