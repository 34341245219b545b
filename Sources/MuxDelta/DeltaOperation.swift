// MARK: - Operations

/// One step of rebuilding the new file: either copy a range of the old file, or take a range of
/// the new file as literal bytes (the sender re-reads it and ships the bytes).
///
/// A delta is a list of operations in new-file order that covers the new file exactly once.
public enum DeltaOperation: Hashable, Sendable {
    /// Copy `length` bytes starting at `oldOffset` of the old file.
    case copy(oldOffset: UInt64, length: UInt64)
    /// Take `length` bytes starting at `newOffset` of the new file verbatim.
    case literal(newOffset: UInt64, length: UInt64)

    /// The number of new-file bytes this operation produces.
    public var length: UInt64 {
        switch self {
        case let .copy(_, length), let .literal(_, length): return length
        }
    }
}

/// An operation that carries its literal bytes, for small in-memory deltas (and for shipping a
/// delta to a peer that does not have the new file).
public enum MaterializedDeltaOperation: Hashable, Sendable {
    /// Copy `length` bytes starting at `oldOffset` of the old file.
    case copy(oldOffset: UInt64, length: UInt64)
    /// Append these bytes.
    case literal([UInt8])

    /// The number of new-file bytes this operation produces.
    public var length: UInt64 {
        switch self {
        case let .copy(_, length): return length
        case let .literal(bytes): return UInt64(bytes.count)
        }
    }
}

extension DeltaOperation {
    /// Replaces each literal range by the bytes it names in `newBytes`.
    ///
    /// - Throws: `DeltaError.literalSourceShort` when a literal range lies outside `newBytes`.
    public static func materialize(_ operations: [DeltaOperation], newBytes: [UInt8]) throws
        -> [MaterializedDeltaOperation]
    {
        try operations.map { operation in
            switch operation {
            case let .copy(oldOffset, length):
                return .copy(oldOffset: oldOffset, length: length)
            case let .literal(newOffset, length):
                let available = UInt64(newBytes.count)
                guard newOffset <= available, length <= available - newOffset else {
                    throw DeltaError.literalSourceShort(
                        newOffset: newOffset, expected: length,
                        actual: Int(available - min(newOffset, available)))
                }
                let start = Int(newOffset)
                return .literal(Array(newBytes[start..<(start + Int(length))]))
            }
        }
    }
}

// MARK: - Stats and result

/// Counters from one match; useful for progress reports and for tuning.
public struct DeltaStats: Hashable, Sendable {
    /// New-file bytes covered by copy operations.
    public var matchedBytes: UInt64 = 0
    /// New-file bytes covered by literal operations.
    public var literalBytes: UInt64 = 0
    /// Strong hashes computed over a window to confirm a candidate (fast-path checks included).
    public var strongChecks: UInt64 = 0
    /// Weak hits whose strong hash matched no block.
    public var falseAlarms: UInt64 = 0
    /// Weak hits not confirmed because the false-alarm budget was spent (see `DeltaMatcher.Options`).
    /// Non-zero only on pathological input; a skipped hit can only cost literal bytes, never
    /// correctness.
    public var skippedWeakHits: UInt64 = 0

    /// Creates zeroed counters.
    public init() {}
}

/// What `DeltaMatcher.finish()` returns.
public struct DeltaResult: Hashable, Sendable {
    /// Operations in new-file order; adjacent copies of contiguous old ranges and adjacent
    /// literals are coalesced.
    public var operations: [DeltaOperation]
    /// The signature of the new file, built in the same pass (what the peer holds after applying).
    public var newSignature: FileSignature
    /// Counters for this match.
    public var stats: DeltaStats
}

// MARK: - Coalescing list

/// Appends operations, merging a copy into the previous copy when the old ranges are contiguous
/// and a literal into the previous literal when the new ranges are contiguous.
struct OperationList {
    private(set) var operations: [DeltaOperation] = []

    mutating func appendCopy(oldOffset: UInt64, length: UInt64) {
        guard length > 0 else { return }
        if case let .copy(lastOffset, lastLength)? = operations.last, lastOffset + lastLength == oldOffset {
            operations[operations.count - 1] = .copy(oldOffset: lastOffset, length: lastLength + length)
        } else {
            operations.append(.copy(oldOffset: oldOffset, length: length))
        }
    }

    mutating func appendLiteral(newOffset: UInt64, length: UInt64) {
        guard length > 0 else { return }
        if case let .literal(lastOffset, lastLength)? = operations.last, lastOffset + lastLength == newOffset {
            operations[operations.count - 1] = .literal(newOffset: lastOffset, length: lastLength + length)
        } else {
            operations.append(.literal(newOffset: newOffset, length: length))
        }
    }
}
