import Foundation

// MARK: - ProxyTraffic

/// Byte counters of a `DelayProxy` and its one-shot "cut after N more bytes" trigger, kept
/// together so that one lock per `send` both counts the bytes and charges the trigger.
struct ProxyTraffic: Sendable {
    /// Bytes written towards the server.
    var up = 0
    /// Bytes written towards the client.
    var down = 0
    /// Client connections accepted and forwarded.
    var connections = 0
    /// Client connections reset at once because `refuseNew` was set.
    var refused = 0

    private var cutArmed = false
    private var cutDirection = DelayProxy.Direction.either
    private var cutRemaining = 0
    private var cutOutstanding = 0

    // MARK: Cut trigger

    /// What a pump may send next.
    enum Reservation: Equatable {
        /// Send up to this many bytes; `charged` when they count against the trigger.
        case granted(Int, charged: Bool)
        /// The trigger's last bytes are reserved by another send: wait and retry.
        case wait
        /// The trigger fired on this pump: reset its connection now.
        case cut
    }

    /// Arms the trigger: the connection whose send crosses `bytes` more bytes in `direction`
    /// is reset. Re-arming replaces an armed trigger.
    mutating func armCut(after bytes: Int, direction: DelayProxy.Direction) {
        cutArmed = true
        cutDirection = direction
        cutRemaining = max(0, bytes)
        cutOutstanding = 0
    }

    /// True while a trigger is armed.
    var isCutArmed: Bool { cutArmed }

    /// Reserves up to `wanted` bytes for one send in `direction` (.up or .down).
    mutating func reserve(_ wanted: Int, direction: DelayProxy.Direction) -> Reservation {
        guard cutArmed, cutDirection == .either || cutDirection == direction else {
            return .granted(wanted, charged: false)
        }
        if cutRemaining == 0 {
            guard cutOutstanding == 0 else { return .wait }
            cutArmed = false
            return .cut
        }
        let granted = min(wanted, cutRemaining)
        cutRemaining -= granted
        cutOutstanding += 1
        return .granted(granted, charged: true)
    }

    /// Records a finished send of `written` bytes out of `granted`.
    /// - Returns: true when this send used up the trigger (its connection must be reset).
    mutating func settle(granted: Int, charged: Bool, written: Int, direction: DelayProxy.Direction) -> Bool {
        if direction == .up { up += written } else { down += written }
        guard charged, cutArmed else { return false }
        cutOutstanding -= 1
        cutRemaining += granted - written
        if cutRemaining == 0 && cutOutstanding == 0 {
            cutArmed = false
            return true
        }
        return false
    }

    /// Zeroes the counters (not the trigger).
    mutating func resetCounters() {
        up = 0
        down = 0
        connections = 0
        refused = 0
    }
}

// MARK: - ProxyControl

/// The knobs a `DelayProxy` reads before each step of each pump.
struct ProxyControl: Sendable {
    /// One-way delay in nanoseconds.
    var delayNanoseconds: UInt64
    /// Bytes a direction may hold before it stops reading from its source.
    var maxQueuedBytes: Int
    /// Forward nothing (but keep connections open).
    var stalled = false
    /// Reset new client connections at once.
    var refuseNew = false
    /// The proxy is shutting down.
    var stopped = false
    /// Longest pause after a burst, in nanoseconds (0: no jitter).
    var jitterMaxNanoseconds: UInt64 = 0
    /// Seed of the pauses (mixed with the connection id and direction).
    var jitterSeed: UInt64 = 0x6A17_7E55
    /// Bytes per second per direction and connection (0: unlimited).
    var bytesPerSecond = 0

    /// True when bytes must go through the queue (jitter or a bandwidth cap).
    var isShaped: Bool { jitterMaxNanoseconds > 0 || bytesPerSecond > 0 }

    /// What a direction may hold before it stops reading: with a bandwidth cap, about a
    /// quarter second of traffic (a link's buffer, so TCP's flow control reaches the sender
    /// instead of megabytes piling up behind the cap).
    var queueBound: Int {
        bytesPerSecond > 0 ? min(maxQueuedBytes, max(64 << 10, bytesPerSecond / 4)) : maxQueuedBytes
    }
}

// MARK: - LinkShaper

/// The jitter and bandwidth state of one direction of one connection: when the next burst
/// may go, and how many bytes the token bucket allows now.
struct LinkShaper {
    private var holdUntil: UInt64 = 0
    private var tokens = 0.0
    private var refilled: UInt64 = 0
    private var random: SeededGenerator

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// Bytes that may be written at `now` (0 while holding; Int.max when nothing limits).
    mutating func budget(now: UInt64, control: ProxyControl) -> Int {
        if now < holdUntil { return 0 }
        guard control.bytesPerSecond > 0 else { return Int.max }
        let rate = Double(control.bytesPerSecond)
        let burst = max(16_384, rate / 50)  // at most 20 ms of traffic at once
        if refilled == 0 { tokens = burst }
        if refilled > 0, now > refilled { tokens = min(burst, tokens + rate * Double(now - refilled) / 1e9) }
        refilled = now
        return Int(tokens)
    }

    /// Charges `written` bytes; after a burst that moved bytes, draws the next pause.
    mutating func spent(_ written: Int, now: UInt64, control: ProxyControl) {
        guard written > 0 else { return }
        if control.bytesPerSecond > 0 { tokens -= Double(written) }
        if control.jitterMaxNanoseconds > 0 {
            holdUntil = now &+ random.next() % (control.jitterMaxNanoseconds + 1)
        }
    }
}

// MARK: - ChunkQueue

/// Bytes read from one side, each chunk stamped with the time it may be written to the other.
struct ChunkQueue {
    private struct Chunk {
        var bytes: [UInt8]
        var offset: Int
        let due: UInt64
    }

    private var chunks: [Chunk] = []
    private var head = 0
    /// Bytes waiting.
    private(set) var byteCount = 0

    /// True when nothing waits.
    var isEmpty: Bool { head == chunks.count }

    /// When the oldest chunk may be written.
    var headDue: UInt64? { isEmpty ? nil : chunks[head].due }

    /// Queues a copy of `count` bytes at `base`.
    mutating func append(_ base: UnsafeRawPointer, count: Int, due: UInt64) {
        let bytes = [UInt8](UnsafeRawBufferPointer(start: base, count: count))
        chunks.append(Chunk(bytes: bytes, offset: 0, due: due))
        byteCount += count
    }

    /// Calls `body` with the unwritten bytes of the oldest chunk; it returns how many it wrote.
    mutating func withHead(_ body: (UnsafeRawBufferPointer) -> Int) -> Int {
        guard !isEmpty else { return 0 }
        let offset = chunks[head].offset
        let written = chunks[head].bytes.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[offset...]))
        }
        if written > 0 { consume(written) }
        return written
    }

    private mutating func consume(_ count: Int) {
        chunks[head].offset += count
        byteCount -= count
        if chunks[head].offset >= chunks[head].bytes.count {
            chunks[head].bytes = []
            head += 1
            if head == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 {
                chunks.removeFirst(head)
                head = 0
            }
        }
    }
}
