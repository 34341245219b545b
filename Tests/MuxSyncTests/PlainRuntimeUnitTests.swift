import Foundation
import MuxTransport
import Testing
@testable import MuxSync

/// The Foundation-free pieces muxsync uses instead of Thread, NSLock, JSONSerialization and
/// DateFormatter (see docs/benchmarks.md, "exec start-up").
struct PlainRuntimeUnitTests {
    @Test func threadsRunAndLocksExclude() {
        let counter = Locked(0)
        let done = DispatchSemaphore(value: 0)
        let threads = 8
        for index in 0..<threads {
            PlainThread.start(name: "muxsync-test-\(index)-with-a-long-name") {
                for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
                done.signal()
            }
        }
        for _ in 0..<threads { done.wait() }
        #expect(counter.withLock { $0 } == threads * 10_000)
    }

    @Test func threadIdentity() {
        let here = PlainThread.current
        #expect(here == PlainThread.current)
        let other = Locked<PlainThread.Identity?>(nil)
        let done = DispatchSemaphore(value: 0)
        PlainThread.start(name: "muxsync-id") {
            other.withLock { $0 = PlainThread.current }
            done.signal()
        }
        done.wait()
        #expect(other.withLock { $0 } != nil)
        #expect(other.withLock { $0 } != here)
    }

    @Test func watchJSONIsWhatJSONSerializationWrote() throws {
        let line = WatchStatus.json(.sent(path: "a/b \"c\".txt", bytes: 5769, latency: 0.0123, delta: true), host: "gpu")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["event"] as? String == "sent")
        #expect(object["path"] as? String == "a/b \"c\".txt")
        #expect(object["bytes"] as? Int == 5769)
        #expect(object["latency_ms"] as? Double == 12)
        #expect(object["delta"] as? Bool == true)
        #expect(object["destination"] as? String == "gpu")
        #expect(object["time"] is Double)
        // Sorted keys, integral numbers without a fraction, "/" escaped: as before.
        let fixed = JSONScalar.object(["b": .init(2.0), "a": .init("x/y"), "c": .init(UInt64(7)), "d": .init(false)])
        #expect(fixed == #"{"a":"x\/y","b":2,"c":7,"d":false}"#)
    }

    @Test func plainTextOfEvents() {
        #expect(WatchStatus.plainText(.reconnecting(attempt: 2, delay: 1.5)) == "reconnecting (attempt 2) in 1.5 s")
        #expect(WatchStatus.milliseconds(0.0123) == "12 ms")
        #expect(WatchStatus.milliseconds(1.234) == "1.23 s")
        let stamp = WatchStatus.timestamp()
        #expect(stamp.count == 12, "HH:mm:ss.SSS, got \(stamp)")
        #expect(stamp.utf8.enumerated().allSatisfy { index, byte in
            [2, 5].contains(index) ? byte == UInt8(ascii: ":") : index == 8 ? byte == UInt8(ascii: ".") : (48...57).contains(byte)
        }, "\(stamp)")
    }
}
