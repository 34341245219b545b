import MuxDelta
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// muxsync-delta-bench [sizeMB] [runs] [only-scenarios-containing]
// muxsync-delta-bench primitives [runs]
//
// Generates files in memory and measures MuxDelta on one core: signature build and matching for
// several edit patterns, including the degenerate (one repeated byte) and adversarial (weak
// checksum collisions) cases. Prints the median of `runs` timings; MB = 10^6 bytes.
// Build with: swift build -c release

// MARK: - Arguments

let arguments = CommandLine.arguments
let primitivesOnly = arguments.count > 1 && arguments[1] == "primitives"
let sizeMB = arguments.count > 1 ? max(1, Int(arguments[1]) ?? 256) : 256
let runs = arguments.count > 2 ? max(1, Int(arguments[2]) ?? 5) : 5
let size = sizeMB << 20
/// Optional third argument: run only scenarios whose name contains it.
let only = arguments.count > 3 ? arguments[3] : nil
let chunkSize = 1 << 20

func wanted(_ scenario: String) -> Bool {
    only.map { scenario.contains($0) } ?? true
}

// MARK: - Timing

func seconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
}

/// CPU time of the calling thread: on a shared machine this is what "one core" means, wall
/// time also counts the time other processes held the CPU.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Runs `body` `runs` times; returns (wall seconds, thread CPU seconds) per run.
func measure(_ body: () -> Void) -> (wall: [Double], cpu: [Double]) {
    var wall: [Double] = []
    var cpu: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
        let cpuStart = threadCPUSeconds()
        let start = clock.now
        body()
        wall.append(seconds(clock.now - start))
        cpu.append(threadCPUSeconds() - cpuStart)
    }
    return (wall, cpu)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func feed(_ bytes: [UInt8], _ sink: (ArraySlice<UInt8>) -> Void) {
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + chunkSize)
        sink(bytes[start..<end])
        start = end
    }
}

func row(_ name: String, bytes: Int, times: (wall: [Double], cpu: [Double]), detail: String) {
    func rate(_ seconds: Double) -> String {
        String(Int(Double(bytes) / seconds / 1e6 + 0.5)).leftPadded(6)
    }
    let label = name.count >= 40 ? name : name + String(repeating: " ", count: 40 - name.count)
    let ms = String(Int(median(times.cpu) * 1000 + 0.5)).leftPadded(6)
    print("\(label) cpu \(rate(median(times.cpu))) MB/s  wall \(rate(median(times.wall))) MB/s  "
        + "\(ms) ms  \(detail)")
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

// MARK: - Scenarios

func benchSignature(_ bytes: [UInt8]) -> FileSignature {
    var signature: FileSignature?
    let times = measure {
        let builder = SignatureBuilder(expectedLength: UInt64(bytes.count))
        feed(bytes) { builder.append($0) }
        signature = builder.finish()
    }
    let result = signature ?? FileSignature(of: [])
    row("signature build", bytes: bytes.count, times: times,
        detail: "blocks \(result.blockCount) x \(result.blockSize) B, serialized \(result.serialized().count) B")
    return result
}

func benchMatch(_ name: String, old: [UInt8], oldSignature: FileSignature, new: [UInt8],
                options: DeltaMatcher.Options = .init())
{
    guard wanted(name) else { return }
    var last: DeltaResult?
    let times = measure {
        let matcher = DeltaMatcher(oldSignature: oldSignature, expectedNewLength: UInt64(new.count),
                                   options: options)
        feed(new) { matcher.append($0) }
        last = matcher.finish()
    }
    guard let result = last else { return }
    // Correctness check outside the timed runs.
    var verified = "verify FAILED"
    if let rebuilt = try? DeltaApplier.apply(result.operations, old: old, newLiteralSource: new),
       rebuilt == new, result.newSignature.fileHash == StrongHash.of(new)
    {
        verified = "ok"
    }
    let stats = result.stats
    row(name, bytes: new.count, times: times,
        detail: "ops \(result.operations.count), literal \(stats.literalBytes) B, strong \(stats.strongChecks), "
            + "false alarms \(stats.falseAlarms), skipped \(stats.skippedWeakHits), \(verified)")
}

// MARK: - Main

func runScenarios() {
    print("muxsync-delta-bench: \(sizeMB) MiB files, median of \(runs) runs, \(chunkSize >> 10) KiB chunks")
    var old = BenchData.random(size, seed: 1)
    let signature = benchSignature(old)

    benchMatch("match unchanged", old: old, oldSignature: signature, new: old)

    var inserted = old
    inserted.insert(contentsOf: BenchData.random(100, seed: 2), at: size / 2 + 77)
    benchMatch("match, 100 B inserted mid-file", old: old, oldSignature: signature, new: inserted)
    inserted = []

    var scattered = BenchData.scatteredEdits(old, count: 20, size: 1024, seed: 3)
    benchMatch("match, 20 scattered 1 KB edits", old: old, oldSignature: signature, new: scattered)
    scattered = []

    var unrelated = BenchData.random(size, seed: 6)
    benchMatch("match, unrelated file (all literal)", old: old, oldSignature: signature, new: unrelated)
    unrelated = []

    if wanted("text-like, 20 scattered 1 KB edits") {
        let text = BenchData.text(size, seed: 7)
        let textEdited = BenchData.scatteredEdits(text, count: 20, size: 1024, seed: 8)
        benchMatch("text-like, 20 scattered 1 KB edits", old: text, oldSignature: FileSignature(of: text),
                   new: textEdited)
    }

    old = [UInt8](repeating: 0x61, count: size)
    var repeated = [UInt8](repeating: 0x61, count: size + 1000)
    repeated[size / 2] = 0x62
    let repeatedSignature = SignatureBuilder(expectedLength: UInt64(size)).finishing(old)
    benchMatch("match, one repeated byte (+1 edit)", old: old, oldSignature: repeatedSignature, new: repeated)
    repeated = []

    let collisions = BenchData.rotationCollisions(blockSize: 2048, newLength: size, seed: 4)
    benchMatch("adversarial: weak hit every byte", old: collisions.old,
               oldSignature: FileSignature(of: collisions.old), new: collisions.new)

    // The same input with the false-alarm budget switched off shows the quadratic corner the
    // budget removes (plain rsync behaviour): kept to 4 MiB so it finishes.
    let unbudgeted = DeltaMatcher.Options(falseAlarmBudgetPerByte: Int.max / 4, falseAlarmBurstBytes: Int.max / 4)
    let collisionPrefix = Array(collisions.new[0..<min(size, 4 << 20)])
    benchMatch("adversarial, no budget (4 MiB only)", old: collisions.old,
               oldSignature: FileSignature(of: collisions.old), new: collisionPrefix, options: unbudgeted)

    let sameWeak = BenchData.sameWeakShuffled(length: size, seed: 5)
    benchMatch("adversarial: all blocks 1 weak, shuffled", old: sameWeak.old,
               oldSignature: FileSignature(of: sameWeak.old), new: sameWeak.new)
}

if primitivesOnly {
    benchPrimitives()
} else {
    runScenarios()
}

extension SignatureBuilder {
    /// Appends `bytes` in benchmark chunks and finishes.
    func finishing(_ bytes: [UInt8]) -> FileSignature {
        feed(bytes) { append($0) }
        return finish()
    }
}
