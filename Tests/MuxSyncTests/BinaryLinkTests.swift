import Foundation
import MuxTestSupport
import Testing

/// The muxsync binary must not use Foundation proper (Thread, NSLock, FileHandle, NSString,
/// ObjCBool, String(format:), ...): in the static release build any one of them links
/// swift-corelibs-foundation, CoreFoundation and ICU, and every start pays for it
/// (docs/benchmarks.md, "exec start-up"). FoundationEssentials is fine. Use PlainThread,
/// PlainLock, StandardStream, PathText, PlainFile and friends instead.
struct BinaryLinkTests {
    @Test func muxsyncUsesNoFoundationProper() throws {
        let result = try ProcessRunner.run("nm", ["-D", "--undefined-only", SyncLab.muxsyncBinary])
        try #require(result.succeeded, "nm (binutils) failed: \(result.stderr)")
        // Swift symbols of the module Foundation (not FoundationEssentials) carry "10Foundation".
        let offenders = result.stdout.split(separator: "\n").filter { $0.contains("10Foundation") }
        #expect(offenders.isEmpty, "muxsync uses Foundation proper: \(offenders.prefix(10).joined(separator: "\n"))")
    }
}
