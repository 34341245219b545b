import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - DelayProxy

/// A TCP proxy on 127.0.0.1 that delays each direction by a one-way delay without limiting
/// throughput, counts bytes, and injects faults (cuts, refusals, stalls) and a poor link
/// (`jitter`: bursts with random pauses; `bandwidth`: a cap): the kernel here has no netem,
/// so tests and benches put this between a client and the private sshd instead.
///
/// Threads: one accept thread, plus two per connection (one per direction; see
/// `ProxyConnection`). Blocking-style threads keep each direction's loop trivial (one source,
/// one destination, one queue) and let the two directions of a connection, and separate
/// connections, run on both cores; the connections a test or bench opens number in the
/// tens at most, so a thread pair each costs nothing that matters.
///
/// Example: `let proxy = try DelayProxy(targetPort: sshd.port, delay: 0.025)`, then point the
/// client at `proxy.port`.
public final class DelayProxy: Sendable {
    // MARK: Types

    /// A direction of traffic.
    public enum Direction: Sendable, Equatable {
        /// Client to server.
        case up
        /// Server to client.
        case down
        /// Either direction (for `cutAfter`).
        case either
    }

    /// Counters since start or the last `resetCounters()`.
    public struct Statistics: Sendable, Equatable, Codable {
        /// Bytes forwarded client -> server.
        public var up: Int
        /// Bytes forwarded server -> client.
        public var down: Int
        /// Client connections accepted and forwarded.
        public var connections: Int
        /// Client connections currently open.
        public var active: Int
        /// Client connections reset at once because `refuseNew` was set.
        public var refused: Int

        /// Builds a value (for comparisons in tests).
        public init(up: Int, down: Int, connections: Int, active: Int, refused: Int) {
            self.up = up
            self.down = down
            self.connections = connections
            self.active = active
            self.refused = refused
        }
    }

    // MARK: Properties

    /// Always "127.0.0.1".
    public let host = "127.0.0.1"
    /// The port clients connect to.
    public let port: UInt16
    /// Where connections are forwarded.
    public let targetHost: String
    /// Where connections are forwarded.
    public let targetPort: UInt16
    private let core: ProxyCore

    // MARK: Lifecycle

    /// Starts listening and forwarding.
    /// - Parameters:
    ///   - targetHost: an IPv4 address.
    ///   - listenPort: 0 lets the kernel choose; read `port`.
    ///   - delay: one-way delay in seconds, added to each direction (RTT grows by twice this).
    ///   - maxQueuedBytes: per direction and connection; reading stops while this much waits.
    public init(targetHost: String = "127.0.0.1", targetPort: UInt16, listenPort: UInt16 = 0,
                delay: TimeInterval = 0.025, maxQueuedBytes: Int = 64 << 20) throws {
        guard delay >= 0, maxQueuedBytes > 0 else {
            throw LabError.invalidArgument("delay must be >= 0 and maxQueuedBytes > 0")
        }
        _ = try LabSocket.address(host: targetHost, port: targetPort)
        let listener = try LabSocket.listen(host: "127.0.0.1", port: listenPort)
        LabSocket.setNonBlocking(listener, true)
        do {
            port = try LabSocket.localPort(of: listener)
            core = try ProxyCore(listener: listener, targetHost: targetHost, targetPort: targetPort,
                                 control: ProxyControl(delayNanoseconds: Self.nanoseconds(delay),
                                                       maxQueuedBytes: maxQueuedBytes))
        } catch {
            close(listener)
            throw error
        }
        self.targetHost = targetHost
        self.targetPort = targetPort
        core.start()
    }

    deinit {
        core.stop()
    }

    /// Stops accepting, resets every connection, waits for all threads. Safe to call twice.
    public func stop() {
        core.stop()
    }

    // MARK: Delay and counters

    /// The one-way delay in seconds; changing it affects bytes read from then on.
    public var delay: TimeInterval {
        get { Double(core.control.delayNanoseconds) / 1e9 }
        set { core.updateControl { $0.delayNanoseconds = Self.nanoseconds(newValue) } }
    }

    /// Current counters.
    public var statistics: Statistics { core.statistics }
    /// Bytes forwarded client -> server.
    public var bytesUp: Int { core.statistics.up }
    /// Bytes forwarded server -> client.
    public var bytesDown: Int { core.statistics.down }
    /// Client connections accepted and forwarded.
    public var connectionCount: Int { core.statistics.connections }

    /// Zeroes the byte and connection counters.
    public func resetCounters() {
        core.withTraffic { $0.resetCounters() }
    }

    // MARK: Faults

    /// Resets every open connection (RST to both sides) and waits until they are closed.
    public func cutAll() {
        core.cutAll()
    }

    /// Once `bytes` more bytes have been forwarded in `direction` (counted over all
    /// connections), resets the connection that carried the last of them. One-shot; calling it
    /// again re-arms it. Bytes the kernel still buffered when the reset happens are discarded.
    public func cutAfter(bytes: Int, direction: Direction = .either) {
        core.withTraffic { $0.armCut(after: bytes, direction: direction) }
    }

    /// True while a `cutAfter` trigger has not fired.
    public var isCutPending: Bool { core.withTraffic { $0.isCutArmed } }

    /// While true, new client connections are accepted and reset at once (counted in
    /// `statistics.refused`); open connections are not touched.
    public var refuseNew: Bool {
        get { core.control.refuseNew }
        set { core.updateControl { $0.refuseNew = newValue } }
    }

    /// While true, nothing is forwarded (reads and writes pause, connections stay open and
    /// bytes already read wait); setting it back to false resumes.
    public var stall: Bool {
        get { core.control.stalled }
        set { core.updateControl { $0.stalled = newValue } }
    }

    // MARK: Link quality

    /// Bursts with random pauses: after each burst it forwards, a direction of a connection
    /// holds what it reads for a random 0...`jitter` seconds (seeded: `jitterSeed`), then
    /// forwards everything due at once. 0 turns it off. TCP hides packet loss from both ends;
    /// what they see of a lossy, jittery link is this: data in bursts, pauses of varying length.
    public var jitter: TimeInterval {
        get { Double(core.control.jitterMaxNanoseconds) / 1e9 }
        set { core.updateControl { $0.jitterMaxNanoseconds = Self.nanoseconds(newValue) } }
    }

    /// The seed of the jitter pauses (mixed with each connection's number and direction).
    public var jitterSeed: UInt64 {
        get { core.control.jitterSeed }
        set { core.updateControl { $0.jitterSeed = newValue } }
    }

    /// Caps each direction of each connection at this many bytes per second (a token bucket
    /// of 20 ms, a buffer of about 250 ms so TCP's flow control pushes back on the sender);
    /// nil: unlimited.
    public var bandwidth: Int? {
        get { core.control.bytesPerSecond > 0 ? core.control.bytesPerSecond : nil }
        set { core.updateControl { $0.bytesPerSecond = max(0, newValue ?? 0) } }
    }

    private static func nanoseconds(_ seconds: TimeInterval) -> UInt64 {
        UInt64(max(0, seconds) * 1_000_000_000)
    }
}

// MARK: - ProxyCore

/// The shared state of one proxy: the listener and its accept thread, the control knobs, the
/// traffic counters and the registry of open connections. Owned by `DelayProxy` (whose
/// deinit stops it); threads hold it, never the public object.
final class ProxyCore: @unchecked Sendable {
    let targetHost: String
    let targetPort: UInt16
    private let listener: Int32
    private let wake: (read: Int32, write: Int32)
    private let controlState: LabLock<ProxyControl>
    private let traffic = LabLock(ProxyTraffic())
    private let registry = LabLock((next: 0, open: [Int: ProxyConnection](), listenerClosed: false))
    private let acceptDone = DispatchSemaphore(value: 0)

    init(listener: Int32, targetHost: String, targetPort: UInt16, control: ProxyControl) throws {
        self.listener = listener
        self.targetHost = targetHost
        self.targetPort = targetPort
        controlState = LabLock(control)
        wake = try LabSocket.makePipe()
    }

    var control: ProxyControl { controlState.snapshot }

    func updateControl(_ change: (inout ProxyControl) -> Void) {
        controlState.withLock(change)
    }

    func withTraffic<Result>(_ body: (inout ProxyTraffic) -> Result) -> Result {
        traffic.withLock(body)
    }

    var statistics: DelayProxy.Statistics {
        let active = registry.withLock { $0.open.count }
        return traffic.withLock {
            DelayProxy.Statistics(up: $0.up, down: $0.down, connections: $0.connections, active: active,
                                  refused: $0.refused)
        }
    }

    func reserve(_ wanted: Int, direction: DelayProxy.Direction) -> ProxyTraffic.Reservation {
        traffic.withLock { $0.reserve(wanted, direction: direction) }
    }

    func settle(granted: Int, charged: Bool, written: Int, direction: DelayProxy.Direction) -> Bool {
        traffic.withLock { $0.settle(granted: granted, charged: charged, written: written, direction: direction) }
    }

    // MARK: Accepting

    func start() {
        let thread = Thread { [self] in
            acceptLoop()
            acceptDone.signal()
        }
        thread.name = "muxsync-proxy-accept"
        thread.start()
    }

    private func acceptLoop() {
        while !control.stopped {
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            guard poll(&entries, 2, 200) > 0, entries[1].revents == 0 else { continue }
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE { sleepSeconds(0.01) }
                continue
            }
            LabSocket.setCloseOnExec(fd)
            #if canImport(Darwin)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            if control.refuseNew {
                LabSocket.setResetOnClose(fd)
                close(fd)
                traffic.withLock { $0.refused += 1 }
                continue
            }
            accepted(fd)
        }
    }

    private func accepted(_ fd: Int32) {
        let id = registry.withLock { state -> Int in
            state.next += 1
            return state.next
        }
        guard let connection = try? ProxyConnection(id: id, clientFD: fd, core: self) else {
            LabSocket.setResetOnClose(fd)
            close(fd)
            return
        }
        registry.withLock { $0.open[id] = connection }
        traffic.withLock { $0.connections += 1 }
        connection.start()
    }

    func connectionFinished(_ id: Int) {
        registry.withLock { _ = $0.open.removeValue(forKey: id) }
    }

    // MARK: Cutting and stopping

    func cutAll() {
        let connections = registry.withLock { Array($0.open.values) }
        for connection in connections { connection.abort() }
        for connection in connections { connection.waitUntilFinished(timeout: 10) }
    }

    func stop() {
        let first = controlState.withLock { control -> Bool in
            defer { control.stopped = true }
            return !control.stopped
        }
        guard first else { return }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        acceptDone.wait()
        close(listener)
        close(wake.read)
        close(wake.write)
        cutAll()
    }
}
