#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxSFTPWire

// MARK: - Bulk file transfer over every channel

/// How a bulk transfer uses the pool.
public struct TransferTuning: Sendable {
    /// Requests in flight per channel (sshd's 2 MiB window holds about 8 writes of 256 KiB).
    public var requestsPerChannel: Int = 16
    /// Use at most this many channels (nil: all of the pool).
    public var maxChannels: Int?
    /// Files below this size use one channel only.
    public var stripeThreshold: UInt64 = 1 << 20

    public init() {}
}

/// A local file descriptor with positioned I/O, for transfer bodies.
public struct LocalFile: @unchecked Sendable {
    public let fd: Int32
    public let path: String

    public init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Reads up to `count` bytes at `offset` (fewer only at end of file).
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LocalIOError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        if done < count { buffer.removeSubrange(done...) }
        return buffer
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw LocalIOError(path: path, operation: "write", errno: errno)
            }
            done += n
        }
    }

    // MARK: Holes

    /// File-system blocks checked for zeros when writing holes.
    static let holeBlock = 4096
    private static let zeros = [UInt8](repeating: 0, count: holeBlock)

    /// Writes `bytes` at `offset`, all of them, or with `zeroBlocksAsHoles` as
    /// ``writeSkippingZeroBlocks(_:at:)`` does.
    public func write(_ bytes: [UInt8], at offset: UInt64, zeroBlocksAsHoles: Bool) throws {
        if zeroBlocksAsHoles {
            try writeSkippingZeroBlocks(bytes, at: offset)
        } else {
            try write(bytes, at: offset)
        }
    }

    /// Writes `bytes` at `offset` but leaves every all-zero 4 KiB block (aligned to the
    /// file's offsets) unwritten. Only for a region that holds nothing yet (past the end of
    /// the file, or a hole): what is skipped then reads as zeros and takes no disk space.
    public func writeSkippingZeroBlocks(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var runStart = -1  // start of the pending non-zero run
            var position = 0
            while position < raw.count {
                let boundary = Self.holeBlock - Int((offset + UInt64(position)) % UInt64(Self.holeBlock))
                let length = min(boundary, raw.count - position)
                let isZero = Self.zeros.withUnsafeBytes { zeros in
                    zeros.baseAddress.map { memcmp(base + position, $0, length) == 0 } ?? false
                }
                if isZero, runStart >= 0 {
                    try write(UnsafeRawBufferPointer(rebasing: raw[runStart..<position]), at: offset + UInt64(runStart))
                    runStart = -1
                } else if !isZero, runStart < 0 {
                    runStart = position
                }
                position += length
            }
            if runStart >= 0 {
                try write(UnsafeRawBufferPointer(rebasing: raw[runStart...]), at: offset + UInt64(runStart))
            }
        }
    }

    /// True when the `count` bytes at `offset` lie in a hole of the file (SEEK_DATA finds no
    /// data before their end). False when unsure: file systems without SEEK_DATA report the
    /// whole file as data.
    public func isHole(at offset: UInt64, count: Int) -> Bool {
        let next = lseek(fd, off_t(offset), Self.seekData)
        if next < 0 { return errno == ENXIO }  // no data at or after `offset`
        return UInt64(next) >= offset + UInt64(count)
    }

    // Glibc's module does not export SEEK_DATA (it needs _GNU_SOURCE); the values differ by OS.
    #if os(Linux)
    private static let seekData: Int32 = 3
    #else
    private static let seekData: Int32 = SEEK_DATA
    #endif
}

/// A local file operation that failed.
public struct LocalIOError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "local: cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}

extension SFTPClient {
    // MARK: Lanes

    /// Runs `work(handle, chunk)` for every chunk index, `window` requests in
    /// flight per lane. The first lane starts at once on `first`; a lane joins
    /// on each other channel as soon as it is open (channels open in the
    /// background), each with its own handle from `openHandle`. Chunks are
    /// handed out from one shared counter, so late lanes take what is left.
    /// Returns every handle opened besides `first` (the caller closes them).
    func lanes(chunks: Int, first: SFTPHandle, maxLanes: Int, window: Int,
               openHandle: @escaping @Sendable (SFTPChannel) async throws -> SFTPHandle,
               work: @escaping @Sendable (SFTPHandle, Int) async throws -> Void) async throws -> [SFTPHandle] {
        let next = Locked(0)
        let extra = Locked([SFTPHandle]())
        let take: @Sendable () -> Int? = {
            next.withLock { value in
                guard value < chunks else { return nil }
                defer { value += 1 }
                return value
            }
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                func addLane(_ handle: SFTPHandle) {
                    for _ in 0..<max(1, window) {
                        group.addTask {
                            while let index = take() {
                                try Task.checkCancellation()  // a cancelled transfer fails: never a short file
                                try await work(handle, index)
                            }
                        }
                    }
                }
                addLane(first)
                var used: Set<Int> = [first.channel.index]
                while used.count < maxLanes && next.withLock({ $0 < chunks }) {
                    for channel in channels where !used.contains(channel.index) && used.count < maxLanes {
                        used.insert(channel.index)
                        let handle = try await openHandle(channel)
                        extra.withLock { $0.append(handle) }
                        addLane(handle)
                    }
                    if isFullyOpen && channels.allSatisfy({ used.contains($0.index) }) { break }
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await group.waitForAll()
            }
        } catch {
            for handle in extra.withLock({ $0 }) { _ = try? await handle.channel.close(handle) }
            throw error
        }
        return extra.withLock { $0 }
    }

    // MARK: Upload

    /// Writes `length` bytes of the open local file `fd` (from offset 0) to
    /// `remotePath`, creating or truncating it with `permissions`. Large files
    /// are striped over the pool's channels, each with its own handle, starting
    /// at once on the first and adding channels as they open. Chunks that lie in
    /// a hole of the local file (SEEK_DATA) are not sent: the new remote file
    /// reads zeros there, and its size is set at the end, so it has the same
    /// holes where the remote file system supports them.
    /// `finalAttributes` (mode, times) are set with FSETSTAT once every write is
    /// answered, in the same flight as the CLOSEs (all channels at once).
    /// Returns the bytes of the file (holes included). The caller owns atomicity
    /// (write a temp, rename).
    public func upload(fd: Int32, localPath: String, length: UInt64, to remotePath: String, permissions: UInt32,
                       finalAttributes: SFTPAttributes? = nil,
                       tuning: TransferTuning = TransferTuning(),
                       progress: (@Sendable (Int) -> Void)? = nil) async throws -> UInt64 {
        let local = LocalFile(fd: fd, path: localPath)
        let striped = length >= tuning.stripeThreshold
        let first = striped ? primary : nextChannel()
        let firstHandle = try await first.open(remotePath, flags: [.write, .create, .truncate],
                                               attributes: SFTPAttributes(permissions: permissions))
        let chunk = UInt64(first.limits.writeChunkLength(handleLength: firstHandle.bytes.count))
        let chunkCount = Int((length + chunk - 1) / chunk)
        let skippedHoles = Locked(false)
        let others: [SFTPHandle]
        do {
            others = try await lanes(chunks: chunkCount, first: firstHandle,
                                     maxLanes: striped ? (tuning.maxChannels ?? Int.max) : 1,
                                     window: tuning.requestsPerChannel,
                                     openHandle: { try await $0.open(remotePath, flags: [.write], attributes: .empty) },
                                     work: { handle, index in
                                         let offset = UInt64(index) * chunk
                                         let count = Int(min(chunk, length - offset))
                                         if local.isHole(at: offset, count: count) {
                                             skippedHoles.withLock { $0 = true }
                                             progress?(count)
                                             return
                                         }
                                         let bytes = try local.read(at: offset, count: count)
                                         try await handle.channel.write(handle, offset: offset, data: bytes)
                                         progress?(bytes.count)
                                     })
        } catch {
            _ = try? await first.close(firstHandle)
            throw error
        }
        // Every write has been answered. The last flight: the attributes (with the length
        // when a trailing hole was skipped) and CLOSE on the first handle, the other
        // handles' CLOSEs on their channels, all at once.
        var final = finalAttributes
        if skippedHoles.withLock({ $0 }) {
            final = final ?? SFTPAttributes()
            final?.size = length
        }
        let closing = final.map { [SFTPRequest.fsetstat(handle: firstHandle.bytes, attributes: $0)] } ?? []
        try await withThrowingTaskGroup(of: Void.self) { group in
            for handle in others { group.addTask { try await handle.channel.close(handle) } }
            group.addTask {
                let requests = closing + [.close(handle: firstHandle.bytes)]
                let replies = try await first.sendBatch(requests)
                // The server runs the CLOSE whatever the FSETSTAT answered: no handle is left open.
                for (index, reply) in replies.enumerated() {
                    let operation = index < closing.count ? "set attributes of" : "close"
                    guard case .status(_, let status) = reply else { throw TransportError(.sftp, "unexpected reply to \(operation)") }
                    guard status.code == .ok else { throw SFTPError(operation: operation, path: remotePath, status: status) }
                }
            }
            try await group.waitForAll()
        }
        return length
    }

    // MARK: Download

    /// Reads `remotePath` from `offset` to `length` into the open local file
    /// `fd` at the same offsets, striped over the pool like `upload`. Returns
    /// bytes received. Throws if the remote file turns out shorter than
    /// `length`. Chunks land out of order; `watermark` hears each new end of
    /// the complete prefix (everything before it is written), which is where
    /// a resume may start. With `zeroBlocksAsHoles` (the local file must hold
    /// nothing past `offset`), all-zero 4 KiB blocks are not written, so they
    /// stay holes; the caller sets the final length.
    public func download(_ remotePath: String, length: UInt64, from offset: UInt64 = 0, into fd: Int32, localPath: String,
                         zeroBlocksAsHoles: Bool = false,
                         tuning: TransferTuning = TransferTuning(),
                         progress: (@Sendable (Int) -> Void)? = nil,
                         watermark: (@Sendable (UInt64) -> Void)? = nil) async throws -> UInt64 {
        guard length > offset else { return 0 }
        let local = LocalFile(fd: fd, path: localPath)
        let remaining = length - offset
        let striped = remaining >= tuning.stripeThreshold
        let first = striped ? primary : nextChannel()
        let firstHandle = try await first.open(remotePath, flags: [.read])
        let chunk = UInt64(first.limits.readChunkLength)
        if !striped && remaining <= chunk {
            return try await downloadInOneRead(first, firstHandle, length: length, from: offset, into: local,
                                               zeroBlocksAsHoles: zeroBlocksAsHoles, tuning: tuning,
                                               progress: progress, watermark: watermark)
        }
        let chunkCount = Int((remaining + chunk - 1) / chunk)
        let prefix = Locked((next: 0, done: Set<Int>()))
        let completed: @Sendable (Int) -> Void = { index in
            let end = prefix.withLock { state -> UInt64? in
                state.done.insert(index)
                guard state.done.contains(state.next) else { return nil }
                while state.done.remove(state.next) != nil { state.next += 1 }
                return min(offset + UInt64(state.next) * chunk, length)
            }
            if let end { watermark?(end) }
        }
        let others: [SFTPHandle]
        do {
            others = try await lanes(chunks: chunkCount, first: firstHandle,
                                     maxLanes: striped ? (tuning.maxChannels ?? Int.max) : 1,
                                     window: tuning.requestsPerChannel,
                                     openHandle: { try await $0.open(remotePath, flags: [.read]) },
                                     work: { handle, index in
                                         var position = offset + UInt64(index) * chunk
                                         let end = min(position + chunk, length)
                                         while position < end {  // a short read asks again for the rest
                                             guard let bytes = try await handle.channel.read(handle, offset: position,
                                                                                              length: UInt32(end - position)),
                                                   !bytes.isEmpty else { throw Self.shrank(remotePath) }
                                             try local.write(bytes, at: position, zeroBlocksAsHoles: zeroBlocksAsHoles)
                                             position += UInt64(bytes.count)
                                             progress?(bytes.count)
                                         }
                                         completed(index)
                                     })
        } catch {
            _ = try? await first.close(firstHandle)
            throw error
        }
        for handle in others { try await handle.channel.close(handle) }
        try await first.close(firstHandle)
        return remaining
    }

    /// A remote file that ended before the length it was listed with.
    private static func shrank(_ path: String) -> SFTPError {
        SFTPError(operation: "read", path: path, status: SFTPStatus(code: .eof, message: "the file shrank while being read"))
    }

    /// A file that fits one READ: the READ and the CLOSE go in one flight, so a small file
    /// costs two round trips (OPEN; READ + CLOSE) instead of three. A short read (a server
    /// that answers less than asked) goes on over a new handle.
    private func downloadInOneRead(_ channel: SFTPChannel, _ handle: SFTPHandle, length: UInt64, from offset: UInt64,
                                   into local: LocalFile, zeroBlocksAsHoles: Bool, tuning: TransferTuning,
                                   progress: (@Sendable (Int) -> Void)?,
                                   watermark: (@Sendable (UInt64) -> Void)?) async throws -> UInt64 {
        let replies = try await channel.sendBatch([.read(handle: handle.bytes, offset: offset, length: UInt32(length - offset)),
                                                   .close(handle: handle.bytes)])
        guard case .data(_, let bytes) = replies[0], !bytes.isEmpty else {
            if case .status(_, let status) = replies[0], status.code == .eof { throw Self.shrank(handle.path) }
            throw SFTPChannel.failure(replies[0], "read", handle.path)
        }
        try SFTPChannel.expectOK(replies[1], "close", handle.path)
        let got = UInt64(min(bytes.count, Int(length - offset)))
        let data = got < UInt64(bytes.count) ? Array(bytes.prefix(Int(got))) : bytes
        try local.write(data, at: offset, zeroBlocksAsHoles: zeroBlocksAsHoles)
        progress?(data.count)
        watermark?(offset + got)
        guard offset + got < length else { return got }
        return got + (try await download(handle.path, length: length, from: offset + got, into: local.fd, localPath: local.path,
                                         zeroBlocksAsHoles: zeroBlocksAsHoles, tuning: tuning,
                                         progress: progress, watermark: watermark))
    }
}
