// MARK: - PathHierarchy

/// Every path registered so far, linked to its parent directories (registered along with
/// it), so that the paths below a directory are found without scanning them all. Pure
/// bookkeeping for the watch's event checks; paths are compared byte for byte.
struct PathHierarchy: Sendable {
    private var children: [BytePath: [String]] = [:]
    private var registered: Set<BytePath> = []

    /// Whether `path` (or something below it) was registered.
    func contains(_ path: String) -> Bool { registered.contains(BytePath(path)) }

    /// Registers `path` and every parent up to the root ("").
    mutating func register(_ path: String) {
        var node = path
        while registered.insert(BytePath(node)).inserted {
            let parent = ByteExact.parent(of: node)
            children[BytePath(parent), default: []].append(node)
            if parent.isEmpty { break }
            node = parent
        }
    }

    /// The registered paths strictly inside `path`.
    func descendants(of path: String) -> [String] {
        var result: [String] = []
        var stack = children[BytePath(path)] ?? []
        while let next = stack.popLast() {
            result.append(next)
            stack.append(contentsOf: children[BytePath(next)] ?? [])
        }
        return result
    }
}
