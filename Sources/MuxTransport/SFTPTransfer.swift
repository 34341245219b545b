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
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LocalIOError(path: path, operation: "write", errno: errno)
            }
            done += n
        }
    }
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
    // MARK: Upload

    /// Writes `length` bytes of the open local file `fd` (from offset 0) to
    /// `remotePath`, creating or truncating it with `permissions`. Large files
    /// are striped over the pool's channels, each with its own handle.
    /// Returns the bytes sent. The caller owns atomicity (write a temp, rename).
    public func upload(fd: Int32, localPath: String, length: UInt64, to remotePath: String, permissions: UInt32,
                       tuning: TransferTuning = TransferTuning(),
                       progress: (@Sendable (Int) -> Void)? = nil) async throws -> UInt64 {
        let local = LocalFile(fd: fd, path: localPath)
        let channels = length >= tuning.stripeThreshold ? await allChannels() : self.channels
        let first = length >= tuning.stripeThreshold ? primary : nextChannel()
        let attributes = SFTPAttributes(permissions: permissions)
        let firstHandle = try await first.open(remotePath, flags: [.write, .create, .truncate], attributes: attributes)
        let chunk = UInt64(first.limits.writeChunkLength(handleLength: firstHandle.bytes.count))
        let chunkCount = Int((length + chunk - 1) / chunk)
        var handles = [firstHandle]
        let lanes = length >= tuning.stripeThreshold ? min(tuning.maxChannels ?? channels.count, channels.count) : 1
        do {
            if lanes > 1 {
                for channel in channels[1..<lanes] {
                    handles.append(try await channel.open(remotePath, flags: [.write], attributes: .empty))
                }
            }
            let lanesHandles = handles
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<lanesHandles.count {
                    let handle = lanesHandles[lane]
                    group.addTask {
                        let mine = stride(from: lane, to: chunkCount, by: lanesHandles.count)
                        try await pipelined(mine, window: tuning.requestsPerChannel) { index in
                            let offset = UInt64(index) * chunk
                            let bytes = try local.read(at: offset, count: Int(min(chunk, length - offset)))
                            try await handle.channel.write(handle, offset: offset, data: bytes)
                            progress?(bytes.count)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            for handle in handles { _ = try? await handle.channel.close(handle) }
            throw error
        }
        for handle in handles.dropFirst() { try await handle.channel.close(handle) }
        try await first.close(firstHandle)
        return length
    }

    // MARK: Download

    /// Reads `remotePath` from `offset` to `length` into the open local file
    /// `fd` at the same offsets, striped over the pool. Returns bytes received.
    /// Throws if the remote file turns out shorter than `length`. Chunks land
    /// out of order; `watermark` hears each new end of the complete prefix
    /// (everything before it is written), which is where a resume may start.
    public func download(_ remotePath: String, length: UInt64, from offset: UInt64 = 0, into fd: Int32, localPath: String,
                         tuning: TransferTuning = TransferTuning(),
                         progress: (@Sendable (Int) -> Void)? = nil,
                         watermark: (@Sendable (UInt64) -> Void)? = nil) async throws -> UInt64 {
        guard length > offset else { return 0 }
        let local = LocalFile(fd: fd, path: localPath)
        let remaining = length - offset
        let channels = remaining >= tuning.stripeThreshold ? await allChannels() : self.channels
        let lanes = remaining >= tuning.stripeThreshold ? min(tuning.maxChannels ?? channels.count, channels.count) : 1
        let laneChannels = lanes == 1 ? [nextChannel()] : Array(channels[0..<lanes])
        var handles: [SFTPHandle] = []
        do {
            for channel in laneChannels { handles.append(try await channel.open(remotePath, flags: [.read])) }
        } catch {
            for handle in handles { _ = try? await handle.channel.close(handle) }
            throw error
        }
        let chunk = UInt64(laneChannels[0].limits.readChunkLength)
        let chunkCount = Int((remaining + chunk - 1) / chunk)
        let laneHandles = handles
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
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<laneHandles.count {
                    let handle = laneHandles[lane]
                    group.addTask {
                        let mine = stride(from: lane, to: chunkCount, by: laneHandles.count)
                        try await pipelined(mine, window: tuning.requestsPerChannel) { index in
                            var position = offset + UInt64(index) * chunk
                            let end = min(position + chunk, length)
                            while position < end {  // a short read asks again for the rest
                                guard let bytes = try await handle.channel.read(handle, offset: position,
                                                                                 length: UInt32(end - position)),
                                      !bytes.isEmpty else {
                                    throw SFTPError(operation: "read", path: remotePath,
                                                    status: SFTPStatus(code: .eof, message: "the file shrank while being read"))
                                }
                                try local.write(bytes, at: position)
                                position += UInt64(bytes.count)
                                progress?(bytes.count)
                            }
                            completed(index)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            for handle in handles { _ = try? await handle.channel.close(handle) }
            throw error
        }
        for handle in handles { try await handle.channel.close(handle) }
        return remaining
    }
}
