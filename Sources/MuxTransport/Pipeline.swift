// MARK: - Bounded concurrency for pipelined requests

/// Runs `body` for each element of `items` with at most `window` running at
/// once, in order of start. The first error cancels the rest and is thrown.
/// This is how requests are kept in flight: each body awaits one reply.
public func pipelined<Item: Sendable>(_ items: some Sequence<Item>, window: Int,
                                      _ body: @escaping @Sendable (Item) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var running = 0
        for item in items {
            if running >= max(1, window) {
                try await group.next()
                running -= 1
            }
            group.addTask { try await body(item) }
            running += 1
        }
        try await group.waitForAll()
    }
}
