// MARK: - Block size rule

/// The block size used to cut a file version into signature blocks.
///
/// This is rsync's rule (`sum_sizes_sqroot` in rsync's generator): 700 bytes for files up to
/// 490,000 bytes (700 * 700), then the integer square root of the length rounded *down* to a
/// multiple of 8, never below 700 and never above 128 KiB.
///
/// Small blocks find small edits precisely; large blocks keep the signature small. With the square
/// root rule the signature of an `n`-byte file has about `sqrt(n)` blocks, so a 1 GB file has about
/// 32,000 blocks (about 640 KB of signature) and an insert costs about one block of literal bytes.
public enum DeltaBlockSize {
    /// The block size for files up to 490,000 bytes.
    public static let minimum = 700

    /// The largest block size the rule produces (128 KiB, rsync's `MAX_BLOCK_SIZE`).
    public static let maximum = 1 << 17

    /// The largest block size a serialized signature may declare. Larger values are rejected as
    /// corrupt input so that a hostile signature cannot make the matcher allocate huge windows.
    public static let serializationLimit = 1 << 22

    /// The block size rsync would choose for a file of `length` bytes.
    ///
    /// - Parameter length: The file length in bytes.
    /// - Returns: A block size in `minimum...maximum`; for lengths above 490,000 a multiple of 8.
    public static func forLength(_ length: UInt64) -> Int {
        let minimumSquared = UInt64(minimum * minimum)
        if length < minimumSquared { return minimum }

        // Same bit walk as rsync: `c` starts at the power of two just above sqrt(length) ...
        var c: UInt64 = 1
        var shifted = length
        while true {
            shifted >>= 2
            if shifted == 0 { break }
            c <<= 1
        }
        if c >= UInt64(maximum) { return maximum }

        // ... then bits are set from the top while blockLength^2 <= length, stopping at 8 so the
        // result is a multiple of 8.
        var blockLength: UInt64 = 0
        repeat {
            blockLength |= c
            let (square, overflow) = blockLength.multipliedReportingOverflow(by: blockLength)
            if overflow || length < square { blockLength &= ~c }
            c >>= 1
        } while c >= 8
        return Int(max(blockLength, UInt64(minimum)))
    }

    /// The block size rsync would choose for a file of `length` bytes (negative lengths count as 0).
    public static func forLength(_ length: Int) -> Int {
        forLength(UInt64(max(length, 0)))
    }
}
