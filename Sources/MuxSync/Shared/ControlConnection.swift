#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MuxTransport

// MARK: - One control connection (blocking I/O on its own thread)

/// Frames over a connected Unix socket. Reads block, so they run on a
/// dedicated thread, never on the Swift concurrency pool.
public final class ControlConnection: @unchecked Sendable {
    public let fd: Int32
    private let writeLock = PlainLock()
    private var pending: [UInt8] = []
    /// Interrupt frames that came after the request (Ctrl-C in the client), and who handles them.
    private let interrupts = Locked((count: 0, handler: nil as (@Sendable () -> Void)?))

    public init(fd: Int32) {
        self.fd = fd
        #if canImport(Darwin)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    deinit { close(fd) }

    /// Sends one frame; false when the other side is gone.
    @discardableResult
    public func send<T: ControlMessage>(_ value: T) -> Bool {
        let bytes = ControlFraming.encode(value)
        writeLock.lock()
        defer { writeLock.unlock() }
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            #else
            let n = bytes.withUnsafeBytes { Darwin.send(fd, $0.baseAddress! + done, bytes.count - done, 0) }
            #endif
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Blocks for the next frame; nil at end of stream.
    public func receive<T: ControlMessage>(_ type: T.Type) throws(ControlError) -> T? {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            if let frame = try ControlFraming.decode(type, from: &pending) { return frame }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            pending += chunk[0..<n]
        }
    }

    /// Half-closes: tells the other side no more frames come.
    public func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    // MARK: Interrupts (the server's connection thread reads them while the request runs)

    /// An interrupt frame arrived: the handler runs now, or when one is set.
    func noteInterrupt() {
        let handler = interrupts.withLock { state -> (@Sendable () -> Void)? in
            state.count += 1
            return state.handler
        }
        handler?()
    }

    /// Runs `handler` for every interrupt frame of this connection, those that came already included.
    public func onInterrupt(_ handler: @escaping @Sendable () -> Void) {
        let missed = interrupts.withLock { state -> Int in
            state.handler = handler
            return state.count
        }
        for _ in 0..<missed { handler() }
    }
}

/// Runs a blocking closure on a new thread and awaits it.
func onOwnThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        PlainThread.start(name: name) { continuation.resume(returning: body()) }
    }
}
