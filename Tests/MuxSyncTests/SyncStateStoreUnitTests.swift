// Tests of SyncStateStore's index: records survive a save, an index of the previous format
// still loads (its records without the local version: the plain quick check), and an index
// this muxsync cannot read is refused with a warning, never half used.

import Foundation
import MuxTestSupport
import Testing
@testable import MuxSync

@Suite("SyncStateStore")
struct SyncStateStoreUnitTests {
    // MARK: Fixture

    /// A scratch state directory, removed afterwards.
    private static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = try TemporaryDirectory.make(prefix: "muxsync-state-")
        defer { TemporaryDirectory.remove(directory) }
        try body(directory)
    }

    /// An index file as muxsync writes it: magic, `version`, `body`, CRC-32 of all that.
    private static func writeIndex(version: UInt8, body: [UInt8], in directory: String) throws {
        var bytes = Array("MXST".utf8) + [version] + body
        withUnsafeBytes(of: SyncStateStore.crc(bytes).bigEndian) { bytes += $0 }
        try SyncStateStore.writeAtomically(bytes, to: directory + "/index")
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// One format-1 record: path, remote size, remote mtime, signature key.
    private static func formatOneRecord(_ path: String, size: UInt64, mtime: Int64, key: String) -> [UInt8] {
        bigEndian(UInt32(path.utf8.count)) + Array(path.utf8) + bigEndian(size) + bigEndian(UInt64(bitPattern: mtime))
            + [UInt8(key.utf8.count)] + Array(key.utf8)
    }

    // MARK: Tests

    @Test func recordsWithAndWithoutTheLocalVersionSurviveASave() throws {
        try Self.withDirectory { directory in
            let sent = FileRecord(size: 12, mtime: 1_650_000_000, signatureKey: "k-2048",
                                  localVersion: FileVersion(size: 12, mtime: 1_650_000_000, nanoseconds: 123_456_789))
            let refreshed = FileRecord(size: 3, mtime: 7)
            let store = SyncStateStore(directory: directory)
            store.setRecord(sent, for: "src/main.c")
            store.setRecord(refreshed, for: "é/x")
            try store.save()

            let again = SyncStateStore(directory: directory)
            #expect(again.loadProblem == nil)
            #expect(again.recordCount == 2)
            #expect(again.record("src/main.c") == sent)
            #expect(again.record("é/x") == refreshed)
        }
    }

    @Test func aFormatOneIndexLoadsWithoutLocalVersions() throws {
        try Self.withDirectory { directory in
            let body = Self.bigEndian(UInt32(2))
                + Self.formatOneRecord("a.txt", size: 4, mtime: 1000, key: "")
                + Self.formatOneRecord("big.bin", size: 1 << 20, mtime: 2000, key: "abc-4096")
            try Self.writeIndex(version: 1, body: body, in: directory)

            let store = SyncStateStore(directory: directory)
            #expect(store.loadProblem == nil)
            #expect(store.record("a.txt") == FileRecord(size: 4, mtime: 1000))
            #expect(store.record("big.bin") == FileRecord(size: 1 << 20, mtime: 2000, signatureKey: "abc-4096"))
            #expect(store.record("a.txt")?.localVersion == nil)
        }
    }

    @Test func anIndexOfANewerFormatIsSetAsideWithAWarning() throws {
        try Self.withDirectory { directory in
            try Self.writeIndex(version: 9, body: Self.bigEndian(UInt32(0)), in: directory)
            let store = SyncStateStore(directory: directory)
            #expect(store.recordCount == 0)
            #expect(store.loadProblem?.contains("starting afresh") == true)
        }
    }

    @Test func aRecordCutShortDropsTheWholeIndex() throws {
        try Self.withDirectory { directory in
            // Format 2 announces a local version (flag 1) but the bytes end after its size.
            let record = Self.formatOneRecord("a", size: 1, mtime: 1, key: "") + [1] + Self.bigEndian(UInt64(1))
            try Self.writeIndex(version: 2, body: Self.bigEndian(UInt32(1)) + record, in: directory)
            let store = SyncStateStore(directory: directory)
            #expect(store.recordCount == 0)
            #expect(store.loadProblem?.contains("truncated") == true)
        }
    }
}
