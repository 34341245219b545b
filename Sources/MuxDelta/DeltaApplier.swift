// MARK: - Delta applier

/// Rebuilds a new file version in memory from the old bytes and a delta.
///
/// Meant for tests and small files; a receiver of a large file applies the same operations by
/// copying ranges of the old file and writing literal bytes into a temporary file.
public enum DeltaApplier {
    /// Applies `operations` to `old`, asking `newLiteralSource(newOffset, length)` for the bytes
    /// of each literal range.
    ///
    /// - Throws: `DeltaError.copyOutOfRange` when a copy reads outside `old`,
    ///   `DeltaError.literalSourceShort` when the source returns the wrong number of bytes, and
    ///   anything `newLiteralSource` throws.
    public static func apply(
        _ operations: [DeltaOperation],
        old: [UInt8],
        newLiteralSource: (_ newOffset: UInt64, _ length: Int) throws -> [UInt8]
    ) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(Int(clamping: operations.reduce(UInt64(0)) { $0 &+ $1.length }))
        for operation in operations {
            switch operation {
            case let .copy(oldOffset, length):
                try appendCopy(oldOffset: oldOffset, length: length, from: old, to: &output)
            case let .literal(newOffset, length):
                guard length <= UInt64(Int.max) else {
                    throw DeltaError.literalSourceShort(newOffset: newOffset, expected: length, actual: 0)
                }
                let bytes = try newLiteralSource(newOffset, Int(length))
                guard UInt64(bytes.count) == length else {
                    throw DeltaError.literalSourceShort(newOffset: newOffset, expected: length, actual: bytes.count)
                }
                output.append(contentsOf: bytes)
            }
        }
        return output
    }

    /// Applies `operations` to `old`, taking literal ranges from `newLiteralSource` (the new file).
    public static func apply(_ operations: [DeltaOperation], old: [UInt8], newLiteralSource: [UInt8]) throws
        -> [UInt8]
    {
        try apply(operations, old: old) { newOffset, length in
            let available = UInt64(newLiteralSource.count)
            guard newOffset <= available, UInt64(length) <= available - newOffset else {
                let actual = Int(available - min(newOffset, available))
                throw DeltaError.literalSourceShort(newOffset: newOffset, expected: UInt64(length), actual: actual)
            }
            let start = Int(newOffset)
            return Array(newLiteralSource[start..<(start + length)])
        }
    }

    /// Applies operations that carry their literal bytes.
    ///
    /// - Throws: `DeltaError.copyOutOfRange` when a copy reads outside `old`.
    public static func apply(_ operations: [MaterializedDeltaOperation], old: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(Int(clamping: operations.reduce(UInt64(0)) { $0 &+ $1.length }))
        for operation in operations {
            switch operation {
            case let .copy(oldOffset, length):
                try appendCopy(oldOffset: oldOffset, length: length, from: old, to: &output)
            case let .literal(bytes):
                output.append(contentsOf: bytes)
            }
        }
        return output
    }

    /// Checks a reconstructed file against the signature of the version it should equal (length
    /// and whole-file XXH3-128), like rsync's whole-file checksum.
    ///
    /// - Throws: `DeltaError.reconstructionMismatch` naming what differs.
    public static func verify(_ bytes: [UInt8], against signature: FileSignature) throws {
        guard UInt64(bytes.count) == signature.fileLength else {
            throw DeltaError.reconstructionMismatch(
                "length \(bytes.count) but the signature says \(signature.fileLength)")
        }
        let hash = StrongHash.of(bytes)
        guard hash == signature.fileHash else {
            throw DeltaError.reconstructionMismatch("file hash \(hash) but the signature says \(signature.fileHash)")
        }
    }

    // MARK: Helpers

    private static func appendCopy(oldOffset: UInt64, length: UInt64, from old: [UInt8], to output: inout [UInt8])
        throws
    {
        let oldLength = UInt64(old.count)
        guard oldOffset <= oldLength, length <= oldLength - oldOffset else {
            throw DeltaError.copyOutOfRange(oldOffset: oldOffset, length: length, oldLength: old.count)
        }
        let start = Int(oldOffset)
        output.append(contentsOf: old[start..<(start + Int(length))])
    }
}
