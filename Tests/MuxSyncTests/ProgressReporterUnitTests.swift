// Tests of HumanFormat, ProgressFormat and ProgressReporter (with a fake clock: no timing).

import Foundation
import Testing
@testable import MuxSync

// MARK: - Fakes

/// A clock the test moves by hand.
final class FakeClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 100.0
    func read() -> Double { lock.lock(); defer { lock.unlock() }; return now }
    func advance(_ seconds: Double) { lock.lock(); now += seconds; lock.unlock() }
}

/// Collects everything a reporter writes.
final class OutputSink: @unchecked Sendable {
    private let lock = NSLock()
    private var chunks: [String] = []
    func write(_ s: String) { lock.lock(); chunks.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return chunks }
    var text: String { all.joined() }
}

private func reporter(_ mode: ProgressReporter.Mode, clock: FakeClock, sink: OutputSink, width: Int = 80) -> ProgressReporter {
    ProgressReporter(mode: mode, plainInterval: 5, width: { width }, clock: { clock.read() },
                     output: { sink.write($0) })
}

// MARK: - HumanFormat

@Suite("HumanFormat")
struct HumanFormatUnitTests {
    @Test func bytes() {
        #expect(HumanFormat.bytes(0) == "0 B")
        #expect(HumanFormat.bytes(999) == "999 B")
        #expect(HumanFormat.bytes(1000) == "1.0 KB")
        #expect(HumanFormat.bytes(1234) == "1.2 KB")
        #expect(HumanFormat.bytes(1_200_000) == "1.2 MB")
        #expect(HumanFormat.bytes(99_960) == "100 KB")
        #expect(HumanFormat.bytes(123_456_789) == "123 MB")
        #expect(HumanFormat.bytes(999_960) == "1.0 MB")
        #expect(HumanFormat.bytes(5_500_000_000) == "5.5 GB")
        #expect(HumanFormat.bytes(UInt64.max) == "18.4 EB")
    }

    @Test func durations() {
        #expect(HumanFormat.duration(0.84) == "0.84 s")
        #expect(HumanFormat.duration(0) == "0.00 s")
        #expect(HumanFormat.duration(-1) == "0.00 s")
        #expect(HumanFormat.duration(.nan) == "0.00 s")
        #expect(HumanFormat.duration(9.999) == "10.00 s")
        #expect(HumanFormat.duration(42.14) == "42.1 s")
        #expect(HumanFormat.duration(59.97) == "1m00s")
        #expect(HumanFormat.duration(65) == "1m05s")
        #expect(HumanFormat.duration(3725) == "1h02m")
    }

    @Test func ratesEtasAndCounts() {
        #expect(HumanFormat.rate(3_400_000) == "3.4 MB/s")
        #expect(HumanFormat.rate(.infinity) == "0 B/s")
        #expect(HumanFormat.eta(1.2) == "2 s")
        #expect(HumanFormat.eta(125) == "2m05s")
        #expect(HumanFormat.eta(-1) == "--")
        #expect(HumanFormat.count(1, "file") == "1 file")
        #expect(HumanFormat.count(2, "file") == "2 files")
        #expect(HumanFormat.count(0, "entry", "entries") == "0 entries")
    }
}

// MARK: - ProgressFormat

@Suite("ProgressFormat")
struct ProgressFormatUnitTests {
    @Test func summaryLine() {
        #expect(ProgressFormat.summary(files: 37, bytes: 1_200_000, wireBytes: 1_300_000, seconds: 0.84, failed: 1)
            == "sent 37 files, 1.2 MB (wire 1.3 MB) in 0.84 s, 1 failed")
        #expect(ProgressFormat.summary(verb: "received", files: 1, bytes: 5, seconds: 2)
            == "received 1 file, 5 B in 2.00 s")
        #expect(ProgressFormat.summary(files: 0, bytes: 0, seconds: 0.1, extra: ["3 deleted"])
            == "sent 0 files, 0 B in 0.10 s, 3 deleted")
    }

    @Test func progressLineShowsCountsBytesRateAndEta() {
        let s = ProgressSnapshot(filesDone: 12, filesTotal: 37, bytesDone: 1_000_000, bytesTotal: 4_000_000,
                                 elapsed: 2, currentPath: "src/main.c")
        #expect(ProgressFormat.line(s, width: 200) == "12/37 files  25%  1.0 MB/4.0 MB  500 KB/s  ETA 6 s  src/main.c")
    }

    @Test func unknownEtaAndFailures() {
        let s = ProgressSnapshot(filesDone: 0, filesTotal: 3, bytesDone: 0, bytesTotal: 10, failed: 2, elapsed: 0)
        #expect(ProgressFormat.line(s, width: 200) == "0/3 files  0%  0 B/10 B  0 B/s  ETA --  2 failed")
    }

    @Test func lineIsTruncatedToTheWidthPathFirst() {
        let s = ProgressSnapshot(filesDone: 1, filesTotal: 2, bytesDone: 5, bytesTotal: 10, elapsed: 1,
                                 currentPath: "very/long/directory/name/file.txt")
        let full = ProgressFormat.line(s, width: 500)
        for width in [1, 10, 30, 45, 60, full.count] {
            let line = ProgressFormat.line(s, width: width)
            #expect(line.count <= width)
        }
        let shortened = ProgressFormat.line(s, width: full.count - 5)
        #expect(shortened.hasSuffix("name/file.txt"))
        #expect(shortened.contains("..."))
    }

    @Test func controlCharactersInPathsAreMadeVisible() {
        let s = ProgressSnapshot(filesDone: 0, filesTotal: 1, currentPath: "evil\nname\r")
        let line = ProgressFormat.line(s, width: 200)
        #expect(!line.contains("\n"))
        #expect(line.hasSuffix("evil?name?"))
    }
}

// MARK: - ProgressReporter

@Suite("ProgressReporter")
struct ProgressReporterUnitTests {
    @Test func terminalRedrawsAreThrottledTo100ms() {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.tty, clock: clock, sink: sink)
        r.begin(files: 3, bytes: 300)        // draws (first update)
        r.startFile("a")                     // same instant: throttled
        r.addBytes(50)                       // throttled
        clock.advance(0.05)
        r.addBytes(50)                       // 50 ms later: throttled
        #expect(sink.all.count == 1)
        clock.advance(0.06)
        r.finishFile("a")                    // 110 ms after the first draw: drawn
        #expect(sink.all.count == 2)
        #expect(sink.all.allSatisfy { $0.hasPrefix("\r\u{1B}[2K") && !$0.contains("\n") })
        #expect(sink.all[1].contains("1/3 files"))
        #expect(r.snapshot.bytesDone == 100)
    }

    @Test func terminalLineFitsTheWidth() {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.tty, clock: clock, sink: sink, width: 30)
        r.begin(files: 1, bytes: 10)
        r.startFile(String(repeating: "x", count: 100))
        clock.advance(1)
        r.addBytes(1)
        let visible = sink.all.map { $0.replacingOccurrences(of: "\r\u{1B}[2K", with: "") }
        #expect(visible.allSatisfy { $0.count <= 29 })
    }

    @Test func concludeShowsWarningsSummaryAndFailuresInEveryMode() {
        let sink = OutputSink()
        let tty = reporter(.tty, clock: FakeClock(), sink: sink)
        tty.begin(files: 2, bytes: 10)
        tty.conclude(warnings: ["w"], summary: "sent 2 files", failures: ["x: gone"], prefix: "h:/p: ")
        let text = sink.all.joined()
        #expect(text.hasSuffix("h:/p: warning: w\nh:/p: sent 2 files\nmuxsync: h:/p: failed: x: gone\n"), "\(text)")

        // Several hosts hide progress but still print each host's summary; --quiet drops only the summary.
        let quietSink = OutputSink()
        let quiet = reporter(.quiet, clock: FakeClock(), sink: quietSink)
        quiet.conclude(warnings: [], summary: "sent 1 file", failures: [], prefix: "a: ")
        quiet.conclude(warnings: [], summary: nil, failures: ["y: denied"])
        #expect(quietSink.all.joined() == "a: sent 1 file\nmuxsync: failed: y: denied\n")
    }

    @Test func finishClearsTheLineAndPrintsTheSummary() {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.tty, clock: clock, sink: sink)
        r.begin(files: 1, bytes: 1)
        r.finish(summary: "sent 1 file")
        #expect(sink.all.suffix(2) == ["\r\u{1B}[2K", "sent 1 file\n"])
    }

    @Test func printLineClearsTheProgressLineFirst() {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.tty, clock: clock, sink: sink)
        r.begin(files: 1, bytes: 1)
        r.printLine("warning: x")
        #expect(sink.all.suffix(2) == ["\r\u{1B}[2K", "warning: x\n"])
    }

    @Test func quietModePrintsNothing() {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.quiet, clock: clock, sink: sink)
        r.begin(files: 2, bytes: 10)
        r.startFile("a")
        r.addBytes(10)
        clock.advance(10)
        r.finishFile("a", failed: true)
        r.finish(summary: "sent 2 files")
        #expect(sink.all.isEmpty)
    }

    @Test func plainModePrintsWholeLinesEveryInterval() {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.plain, clock: clock, sink: sink)
        r.begin(files: 2, bytes: 10)
        clock.advance(1)
        r.addBytes(5)
        #expect(sink.all.isEmpty, "no line before the first interval has passed")
        clock.advance(5)
        r.finishFile("a")
        #expect(sink.all.count == 1)
        clock.advance(1)
        r.addBytes(1)
        #expect(sink.all.count == 1)
        clock.advance(5)
        r.addBytes(1)
        #expect(sink.all.count == 2)
        #expect(sink.all.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\u{1B}") })
        r.finish(summary: "done")
        #expect(sink.all.last == "done\n")
    }

    @Test func concurrentUpdatesAreAllCounted() async {
        let clock = FakeClock(), sink = OutputSink()
        let r = reporter(.tty, clock: clock, sink: sink)
        r.begin(files: 400, bytes: 400)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<400 {
                group.addTask {
                    r.startFile("f\(i)")
                    r.addBytes(1)
                    r.finishFile("f\(i)", failed: i % 100 == 0)
                }
            }
        }
        let s = r.snapshot
        #expect(s.filesDone == 400)
        #expect(s.bytesDone == 400)
        #expect(s.failed == 4)
    }
}
