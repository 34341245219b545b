// MARK: - False-alarm budget

/// Pays for the strong hashes of weak-checksum hits, so that matching stays linear in the new
/// file's length whatever the data.
///
/// A weak hit whose strong hash then matches no block (a "false alarm") costs a whole window of
/// hashing and moves the matcher only one byte. rsync's weak checksum is easy to collide (and
/// collides naturally on some low-entropy data), so a file can produce a hit at every byte, which
/// makes plain rsync matching `O(length * blockSize)`. Here the matcher earns `perByte` bytes of
/// hashing credit for every byte it advances, up to `burst` saved; a strong check of a window
/// costs the window length. When the credit is short, hits are skipped: the delta stays correct
/// and may only carry more literal bytes. Total false-alarm hashing is therefore at most
/// `perByte * length + burst` bytes.
///
/// Credit is accrued lazily from positions, so the outcome depends only on the data, not on how
/// the stream was chunked.
struct FalseAlarmBudget {
    let perByte: Int
    let burst: Int
    private var credit: Int
    private var creditPosition: UInt64 = 0
    /// The first new-file offset at which a check of `cost` bytes is affordable; hits before it
    /// can be skipped without touching the budget.
    private(set) var affordableFrom: UInt64 = 0

    init(perByte: Int, burst: Int) {
        self.perByte = max(0, perByte)
        self.burst = max(0, burst)
        credit = self.burst
    }

    /// Accrues credit up to offset `at` and reports whether a check of `cost` bytes is affordable.
    /// When it is not, `affordableFrom` is moved to where it will be.
    mutating func canAfford(_ cost: Int, at: UInt64) -> Bool {
        let advanced = Int(min(at - creditPosition, UInt64(burst)))
        let (gain, overflow) = advanced.multipliedReportingOverflow(by: perByte)
        credit = overflow || gain >= burst - credit ? burst : credit + gain
        creditPosition = at
        if credit >= cost { return true }
        refresh(cost)
        return false
    }

    /// Pays for a check that turned out to be a false alarm.
    mutating func charge(_ cost: Int) {
        credit = max(0, credit - cost)
        refresh(cost)
    }

    private mutating func refresh(_ cost: Int) {
        if credit >= cost {
            affordableFrom = 0
        } else if perByte == 0 {
            affordableFrom = UInt64.max
        } else {
            affordableFrom = creditPosition + UInt64((cost - credit + perByte - 1) / perByte)
        }
    }
}
