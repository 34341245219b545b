// MARK: - Delta matcher

/// Computes the delta from an old file version (known only by its `FileSignature`) to a new
/// version streamed through `append(_:)` in chunks of any size, and builds the new version's
/// signature in the same pass.
///
///     let matcher = DeltaMatcher(oldSignature: remoteSignature, expectedNewLength: size)
///     while let chunk = try reader.next() { matcher.append(chunk) }
///     let result = matcher.finish()   // operations, newSignature, stats
///
/// Algorithm (rsync's, with a fast path):
/// - Continuation fast path: after a copy of old block `i` (and at offset 0, for block 0) the
///   window right after it is compared with block `i + 1` by strong hash alone. An unchanged file
///   is therefore one XXH3 pass with no rolling at all. This is also how the short last block is
///   matched when data was appended after it.
/// - Otherwise the weak checksum is rolled byte by byte; each window goes through the
///   `BlockIndex` filter, an exact weak hit is confirmed with the strong hash, preferring the
///   block that continues the previous copy, then any block with that strong hash.
/// - At the end of the stream the short last old block is tried against the last bytes.
///
/// Cost bounds: a confirmed match advances a whole block, so strong hashing for matches is
/// linear. Weak hits that fail the strong check ("false alarms") are the one place rsync can go
/// quadratic (each costs a block of hashing and an adversarial file can hit at every byte), so
/// they are paid from a budget of `Options.falseAlarmBudgetPerByte` hashed bytes per byte of
/// progress plus a burst allowance. When the budget is spent, weak hits are skipped (counted in
/// `DeltaStats.skippedWeakHits`): the delta stays correct, it may only carry more literal bytes.
///
/// Memory: a window buffer of about `oldBlockSize + newBlockSize + chunk` bytes, the block index
/// (about 60-80 bytes per old block), the new signature and the operation list. The new file is
/// never held whole; literal operations name ranges of it for the caller to re-read.
///
/// Not thread-safe: use one matcher from one task at a time.
public final class DeltaMatcher {
    /// Tuning knobs; the defaults suit every workload we measured.
    public struct Options: Hashable, Sendable {
        /// Bytes of strong hashing allowed for false alarms per byte the matcher advances.
        /// 8 keeps the worst case within about 2x of the no-hit rolling speed.
        public var falseAlarmBudgetPerByte: Int
        /// Budget that can be spent at once (and the starting balance), in hashed bytes.
        public var falseAlarmBurstBytes: Int

        /// Creates options; negative values are treated as 0.
        public init(falseAlarmBudgetPerByte: Int = 8, falseAlarmBurstBytes: Int = 32 << 20) {
            self.falseAlarmBudgetPerByte = max(0, falseAlarmBudgetPerByte)
            self.falseAlarmBurstBytes = max(0, falseAlarmBurstBytes)
        }
    }

    // MARK: Old side
    private let old: FileSignature
    private let blockLength: Int
    private let index: BlockIndex

    // MARK: Window buffer (absolute new-file offsets bufferBase ..< bufferBase + bufferCount)
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var bufferBase: UInt64 = 0
    private var bufferCount = 0

    // MARK: Matching state
    private var position: UInt64 = 0          // start of the current window
    private var literalStart: UInt64 = 0      // pending literal run is literalStart ..< position
    private var expected: Int?                // block that would continue the previous copy
    private var expectedPending: Bool         // continuation not yet tried at `position`
    private var cachedStrong: (offset: UInt64, hash: Hash128)?
    private var s1: UInt32 = 0
    private var s2: UInt32 = 0
    private var rollingValid = false          // s1/s2 describe the window at `position`
    private var windowChecked = false         // that window was already looked up
    private var budget: FalseAlarmBudget
    private var operations = OperationList()
    private var stats = DeltaStats()
    private var finished = false

    // MARK: New signature
    private var signature: SignatureAccumulator
    private var signaturePosition: UInt64 = 0
    private let newBlockSize: Int

    // MARK: Init

    /// A matcher against `oldSignature` whose new signature uses the block size rsync's rule picks
    /// for `expectedNewLength` (pass the length from `stat`; if the stream differs, the new
    /// signature is still correct, just cut for the expected length).
    public convenience init(oldSignature: FileSignature, expectedNewLength: UInt64, options: Options = Options()) {
        self.init(oldSignature: oldSignature, newBlockSize: DeltaBlockSize.forLength(expectedNewLength),
                  options: options)
    }

    /// A matcher against `oldSignature` whose new signature uses `newBlockSize` (at least 1).
    public init(oldSignature: FileSignature, newBlockSize: Int, options: Options = Options()) {
        precondition(newBlockSize >= 1, "DeltaMatcher: new block size must be at least 1, got \(newBlockSize)")
        old = oldSignature
        blockLength = oldSignature.blockSize
        index = BlockIndex(signature: oldSignature)
        self.newBlockSize = newBlockSize
        signature = SignatureAccumulator(blockSize: newBlockSize)
        expected = oldSignature.blockCount > 0 ? 0 : nil
        expectedPending = expected != nil
        budget = FalseAlarmBudget(perByte: options.falseAlarmBudgetPerByte, burst: options.falseAlarmBurstBytes)
        capacity = blockLength + newBlockSize + (64 << 10)
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        buffer.deallocate()
    }

    /// Matches a whole in-memory new file (tests and small files).
    public static func match(old: FileSignature, new: [UInt8], options: Options = Options()) -> DeltaResult {
        let matcher = DeltaMatcher(oldSignature: old, expectedNewLength: UInt64(new.count), options: options)
        matcher.append(new)
        return matcher.finish()
    }

    // MARK: Streaming input

    /// Feeds the next bytes of the new file (any chunk size, including empty).
    public func append(_ chunk: UnsafeRawBufferPointer) {
        precondition(!finished, "DeltaMatcher: append after finish(); create a new matcher")
        guard chunk.count > 0, let source = chunk.baseAddress else { return }
        signature.hashFileBytes(chunk)
        reserve(chunk.count)
        UnsafeMutableRawPointer(buffer + bufferCount).copyMemory(from: source, byteCount: chunk.count)
        bufferCount += chunk.count
        process(final: false)
    }

    /// Feeds the next bytes of the new file.
    public func append(_ chunk: [UInt8]) {
        chunk.withUnsafeBytes { append($0) }
    }

    /// Feeds the next bytes of the new file.
    public func append(_ chunk: ArraySlice<UInt8>) {
        chunk.withUnsafeBytes { append($0) }
    }

    /// Ends the stream: matches the tail, returns the operations, the new signature and stats.
    /// Call once.
    public func finish() -> DeltaResult {
        precondition(!finished, "DeltaMatcher: finish() called twice")
        finished = true
        process(final: true)
        let end = streamEnd
        flushLiteral(upTo: end)
        advanceSignature(upTo: end)
        if signaturePosition < end {
            signature.addBlock(pointer(at: signaturePosition), count: Int(end - signaturePosition))
            signaturePosition = end
        }
        return DeltaResult(operations: operations.operations,
                           newSignature: signature.finish(length: end),
                           stats: stats)
    }

    // MARK: Buffer

    private var streamEnd: UInt64 { bufferBase + UInt64(bufferCount) }

    @inline(__always)
    private func pointer(at offset: UInt64) -> UnsafeMutablePointer<UInt8> {
        buffer + Int(offset - bufferBase)
    }

    /// Makes room for `incoming` more bytes, dropping bytes both the matcher and the signature
    /// builder are done with. Compacts only when full, so tiny chunks stay cheap.
    private func reserve(_ incoming: Int) {
        if bufferCount + incoming <= capacity { return }
        let drop = Int(min(position, signaturePosition) - bufferBase)
        if drop > 0 {
            UnsafeMutableRawPointer(buffer).copyMemory(from: buffer + drop, byteCount: bufferCount - drop)
            bufferBase += UInt64(drop)
            bufferCount -= drop
        }
        if bufferCount + incoming > capacity {
            let newCapacity = max(capacity * 2, bufferCount + incoming)
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            grown.initialize(from: buffer, count: bufferCount)
            buffer.deallocate()
            buffer = grown
            capacity = newCapacity
        }
    }

    // MARK: Driver

    /// Runs the matcher as far as the buffered bytes allow (to the end when `final`).
    private func process(final: Bool) {
        let end = streamEnd
        while true {
            // 1. Continuation fast path.
            if expectedPending, let next = expected {
                let length = old.length(ofBlock: next)
                if position + UInt64(length) <= end {
                    expectedPending = false
                    let strong = StrongHash.of(pointer(at: position), count: length)
                    stats.strongChecks += 1
                    let block = old.blocks[next]
                    if strong == block.strong {
                        accept(block: next, at: position, length: length, checksums: block)
                        continue
                    }
                    if length == blockLength { cachedStrong = (position, strong) }
                } else if final {
                    expectedPending = false
                } else {
                    break  // wait for enough bytes to try the continuation
                }
            }

            // 2. Rolling search.
            if index.isEmpty {
                // Nothing to roll for; keep only what the end-of-stream tail check needs.
                let keep = UInt64(blockLength - 1)
                if end > position + keep { position = end - keep }
                if final { matchTail(end: end) }
                break
            }
            if position + UInt64(blockLength) > end {
                if final { matchTail(end: end) }
                break
            }
            if !rollingValid {
                let weak = WeakChecksum(pointer(at: position), count: blockLength)
                s1 = weak.s1
                s2 = weak.s2
                rollingValid = true
                windowChecked = false
            }
            if scan() { continue }
            if final { matchTail(end: end) }
            break
        }
        advanceSignature(upTo: position)
    }

    // MARK: Rolling scan (hot loop)

    /// Rolls the weak checksum over every complete window in the buffer. Returns true after a
    /// match (state already advanced past it), false when the buffer is exhausted.
    ///
    /// The loop body is the roll plus one bit test in the block index filter; everything else
    /// (exact weak lookup, budget, strong hash) is in `weakFilterHit`, reached for about 1.5 % of
    /// positions on unrelated data.
    private func scan() -> Bool {
        let base = UnsafePointer(buffer)
        let length = blockLength
        let lastWindow = bufferCount - length
        let filter = UnsafePointer(index.filter)
        let shift = index.filterShift
        let multiplier = BlockIndex.multiplier
        let windowLength = UInt32(truncatingIfNeeded: length)
        var p = Int(position - bufferBase)
        var a = s1
        var b = s2

        if !windowChecked {
            let weak = (a & 0xffff) | (b << 16)
            let bit = Int(truncatingIfNeeded: (weak &* multiplier) &>> shift)
            if filter[bit &>> 6] & (1 &<< UInt64(truncatingIfNeeded: bit & 63)) != 0,
               weakFilterHit(windowAt: p, weak: weak)
            {
                return true
            }
        }
        while p < lastWindow {
            let outgoing = UInt32(base[p])
            let incoming = UInt32(base[p &+ length])
            a = a &- outgoing &+ incoming
            b = b &- windowLength &* outgoing &+ a
            p &+= 1
            let weak = (a & 0xffff) | (b << 16)
            let bit = Int(truncatingIfNeeded: (weak &* multiplier) &>> shift)
            if filter[bit &>> 6] & (1 &<< UInt64(truncatingIfNeeded: bit & 63)) != 0,
               weakFilterHit(windowAt: p, weak: weak)
            {
                return true
            }
        }
        s1 = a
        s2 = b
        position = bufferBase + UInt64(p)
        windowChecked = true
        return false
    }

    /// Slow path of `scan` after the filter bit was set: exact weak lookup, then (budget
    /// permitting) the strong confirmation. Returns true after a match.
    @inline(never)
    private func weakFilterHit(windowAt p: Int, weak: UInt32) -> Bool {
        guard index.containsWeak(weak) else { return false }
        let at = bufferBase + UInt64(p)
        if at < budget.affordableFrom && cachedStrong?.offset != at {
            // Budget spent: skip cheaply (keeps the adversarial case near rolling speed).
            stats.skippedWeakHits += 1
            return false
        }
        return confirm(windowAt: p, weak: weak)
    }

    /// Confirms an exact weak hit for the window at buffer index `p` with the strong hash.
    private func confirm(windowAt p: Int, weak: UInt32) -> Bool {
        let at = bufferBase + UInt64(p)
        let strong: Hash128
        var charged = false
        if let cached = cachedStrong, cached.offset == at {
            strong = cached.hash
        } else {
            guard budget.canAfford(blockLength, at: at) else {
                stats.skippedWeakHits += 1
                return false
            }
            strong = StrongHash.of(buffer + p, count: blockLength)
            stats.strongChecks += 1
            charged = true
        }
        if let next = expected, next < index.count {
            let block = old.blocks[next]
            if block.weak == weak && block.strong == strong {
                accept(block: next, at: at, length: blockLength, checksums: block)
                return true
            }
        }
        if let found = index.block(strong: strong, weak: weak) {
            accept(block: found, at: at, length: blockLength, checksums: old.blocks[found])
            return true
        }
        if charged {
            budget.charge(blockLength)
            stats.falseAlarms += 1
        }
        return false
    }

    // MARK: Match bookkeeping

    /// Records a copy of old block `block` at new offset `at`, reusing its checksums for the new
    /// signature when the copied range is exactly the next new-signature block.
    private func accept(block: Int, at: UInt64, length: Int, checksums: BlockSignature) {
        flushLiteral(upTo: at)
        operations.appendCopy(oldOffset: old.offset(ofBlock: block), length: UInt64(length))
        stats.matchedBytes += UInt64(length)
        advanceSignature(upTo: at)
        if signaturePosition == at && length == newBlockSize {
            signature.addBlock(checksums)
            signaturePosition += UInt64(length)
        }
        position = at + UInt64(length)
        literalStart = position
        expected = block + 1 < old.blockCount ? block + 1 : nil
        expectedPending = expected != nil
        rollingValid = false
    }

    private func flushLiteral(upTo end: UInt64) {
        guard literalStart < end else { return }
        operations.appendLiteral(newOffset: literalStart, length: end - literalStart)
        stats.literalBytes += end - literalStart
        literalStart = end
    }

    /// End of stream: tries the short last old block against the last bytes, then consumes all.
    private func matchTail(end: UInt64) {
        if let tail = old.shortTailLength, end >= UInt64(tail), end - UInt64(tail) >= position {
            let at = end - UInt64(tail)
            let last = old.blockCount - 1
            let block = old.blocks[last]
            if WeakChecksum(pointer(at: at), count: tail).value == block.weak {
                stats.strongChecks += 1
                if StrongHash.of(pointer(at: at), count: tail) == block.strong {
                    accept(block: last, at: at, length: tail, checksums: block)
                }
            }
        }
        position = end
    }

    /// Hashes new-signature blocks that lie entirely before `limit`.
    private func advanceSignature(upTo limit: UInt64) {
        let size = UInt64(newBlockSize)
        while signaturePosition + size <= limit {
            signature.addBlock(pointer(at: signaturePosition), count: newBlockSize)
            signaturePosition += size
        }
    }
}
