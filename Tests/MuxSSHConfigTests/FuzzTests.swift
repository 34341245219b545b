import MuxTestSupport
import Foundation
import Testing
@testable import MuxSSHConfig

// MARK: - Robustness

/// Random input must never crash, hang or loop; errors are fine.
@Suite("Fuzzing")
struct FuzzTests {
    /// A home that does not exist, so no random `Include` can read real files.
    static let home = "/nonexistent-muxsync-fuzz-home"

    private func exercise(_ text: String, rng: inout SeededGenerator) -> Bool {
        let local = SSHLocalContext(user: "me", homeDirectory: Self.home, hostName: "h", userID: 1, environment: [:])
        guard let config = try? SSHConfig.parse(text, path: Self.home + "/.ssh/config", homeDirectory: Self.home) else {
            return false
        }
        for host in ["a", "gpu-01", "x.corp", String(decoding: (0..<4).map { _ in UInt8.random(in: 33...126, using: &rng) }, as: UTF8.self)] {
            _ = try? config.resolve(host: host, user: Bool.random(using: &rng) ? "u" : nil, local: local)
        }
        _ = RemoteSpec.parse(text)
        return true
    }

    @Test func randomBytes() {
        var rng = SeededGenerator(seed: 0x5EED_0001)
        var parsed = 0
        for _ in 0..<3000 {
            let count = Int.random(in: 0...200, using: &rng)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if exercise(String(decoding: bytes, as: UTF8.self), rng: &rng) { parsed += 1 }
        }
        // Mostly unknown keywords: many inputs parse (with warnings), some fail; none crash.
        #expect(parsed > 0)
    }

    @Test func structuredMutations() {
        let words = ["Host", "Match", "HostName", "User", "Port", "IdentityFile", "IdentitiesOnly",
                     "UserKnownHostsFile", "StrictHostKeyChecking", "ConnectTimeout", "ServerAliveInterval",
                     "ServerAliveCountMax", "Compression", "ProxyJump", "ProxyCommand", "HostKeyAlias",
                     "all", "host", "originalhost", "user", "localuser", "exec", "!", "*", "?", "a*", "!a",
                     "gpu-??", "22", "0", "-1", "1m", "yes", "no", "ask", "accept-new", "none", "%h", "%%",
                     "%", "%C", "${HOME}", "${", "~", "~/x", "~x/y", "\"", "'", "\\", "=", "#", ",", " ",
                     "\t", "\n", "\r\n", "x.corp", "a,b", "[", "]", "@", ":"]
        var rng = SeededGenerator(seed: 0x5EED_0002)
        var parsed = 0
        for _ in 0..<3000 {
            var text = ""
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                text += words[Int.random(in: 0..<words.count, using: &rng)]
                if Int.random(in: 0..<3, using: &rng) == 0 { text += " " }
                if Int.random(in: 0..<6, using: &rng) == 0 { text += "\n" }
            }
            if exercise(text, rng: &rng) { parsed += 1 }
        }
        #expect(parsed > 0)
    }

    @Test func remoteSpecRandomStrings() {
        let alphabet = Array("ab@:[]/\\.%-C~ 1")
        var rng = SeededGenerator(seed: 0x5EED_0003)
        var remotes = 0
        for _ in 0..<5000 {
            let s = String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
            if let spec = RemoteSpec.parse(s) {
                remotes += 1
                #expect(!spec.host.isEmpty)
            }
            _ = RemoteSpec.parse("ssh://" + s)
        }
        #expect(remotes > 0)
    }

    @Test func hugeLineAndManyLines() throws {
        let long = "# " + String(repeating: "x", count: 100_000) + "\nHost " + String(repeating: "*a", count: 2000) + "\n Port 1\n"
        let r = try SSHConfig.parse(long, path: "x", homeDirectory: Self.home)
            .resolve(host: String(repeating: "a", count: 3000), local: testLocal)
        #expect(r.port == 1)
        let many = String(repeating: "Host *\n IdentityFile ~/k\n", count: 20000)
        let r2 = try SSHConfig.parse(many, path: "x", homeDirectory: Self.home).resolve(host: "h", local: testLocal)
        #expect(r2.identityFiles == ["/home/me/k"])
    }
}
