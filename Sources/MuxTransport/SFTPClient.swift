import MuxSFTPWire

// MARK: - Several SFTP channels on one session

/// A pool of SFTP channels on one SSH session. One channel carries at most
/// about 2 MiB per round trip (sshd's channel window), and one sftp-server
/// handles requests one at a time, so bulk work spreads over several.
///
/// The first channel is ready when `open` returns; the others open in the
/// background (libssh2 opens channels one at a time, a round trip each), so
/// work starts at once and spreads as channels arrive.
public final class SFTPClient: Sendable {
    public let session: SSHSession
    private let pool: Locked<[SFTPChannel]>
    private let opening = Locked<Task<Void, Never>?>(nil)
    private let openingDone = Locked(true)
    private let cursor = Locked(0)

    private init(session: SSHSession, first: SFTPChannel) {
        self.session = session
        self.pool = Locked([first])
    }

    /// Opens `channelCount` SFTP channels (at least one) on `session`.
    public static func open(on session: SSHSession, channels channelCount: Int = 4) async throws -> SFTPClient {
        let first = try await SFTPChannel.open(on: session, index: 0)
        let client = SFTPClient(session: session, first: first)
        if channelCount > 1 {
            // All at once: libssh2 serialises only the channel-open round trip; the
            // subsystem start (sshd runs the login shell) and INIT/VERSION overlap.
            client.openingDone.withLock { $0 = false }
            let task = Task {
                defer { client.openingDone.withLock { $0 = true } }
                await withTaskGroup(of: Void.self) { group in
                    for index in 1..<channelCount {
                        group.addTask {
                            do {
                                let channel = try await SFTPChannel.open(on: session, index: index)
                                client.pool.withLock { $0.append(channel) }
                            } catch {
                                if !session.isClosed { session.logger.info("extra SFTP channel \(index) not opened: \(error)") }
                            }
                        }
                    }
                }
            }
            client.opening.withLock { $0 = task }
        }
        return client
    }

    /// True once every channel asked for is open or has failed.
    public var isFullyOpen: Bool { openingDone.withLock { $0 } }

    /// The channels open so far.
    public var channels: [SFTPChannel] { pool.withLock { $0 } }

    /// Waits until every channel asked for is open (or failed), then returns them.
    public func allChannels() async -> [SFTPChannel] {
        if let task = opening.withLock({ $0 }) { await task.value }
        return channels
    }

    /// The first channel: for ordered work that must see its own effects.
    public var primary: SFTPChannel { pool.withLock { $0[0] } }

    public var limits: SFTPLimits { primary.limits }

    /// How many files a job may have open at once, asking for `wanted`: kept under half of
    /// what one sftp-server may hold open (the first burst can land on one channel while the
    /// others are still opening).
    public func filesInFlight(upTo wanted: Int) -> Int {
        let handles = limits.maxOpenHandles
        guard handles > 0 else { return wanted }
        return max(1, min(wanted, Int(clamping: handles) / 2))
    }
    public var extensions: [String: String] { primary.extensions }
    public func supports(_ name: String) -> Bool { primary.supports(name) }

    /// The next channel in turn, to spread independent requests.
    public func nextChannel() -> SFTPChannel {
        pool.withLock { channels in
            let index = cursor.withLock { value -> Int in
                value = (value + 1) % max(channels.count, 1)
                return value
            }
            return channels[index % channels.count]
        }
    }
}
