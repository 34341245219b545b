// PackedNames: the entry names of one directory in one byte buffer, for the polling snapshot.
//
// Each name is stored NUL-terminated, so fstatat()/openat() take it directly as a C string:
// a poll of an unchanged directory creates no String per entry.

// MARK: - PackedNames

/// Names packed back to back, NUL-terminated, with their start offsets.
struct PackedNames: Sendable {
    private var bytes: [UInt8] = []
    private var offsets: [UInt32] = []

    /// Number of names.
    var count: Int { offsets.count }

    /// Appends a name (valid UTF-8, without NUL bytes).
    mutating func append(_ name: String) {
        offsets.append(UInt32(bytes.count))
        bytes.append(contentsOf: name.utf8)
        bytes.append(0)
    }

    /// Calls `body` with name `index` as a C string.
    func withCName<R>(_ index: Int, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return try "".withCString(body) }
            return try body((base + Int(offsets[index])).assumingMemoryBound(to: CChar.self))
        }
    }

    /// Name `index` as a String.
    func string(_ index: Int) -> String {
        let start = Int(offsets[index])
        let end = index + 1 < offsets.count ? Int(offsets[index + 1]) - 1 : bytes.count - 1
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
