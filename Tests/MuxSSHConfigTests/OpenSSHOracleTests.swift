import MuxTestSupport
import Foundation
import Testing
@testable import MuxSSHConfig

// MARK: - Oracle: compare with `ssh -G`

/// The OpenSSH client used as the oracle.
let openSSHClientPath = "/usr/bin/ssh"

/// Runs the installed OpenSSH client's `ssh -G -F FILE dest` and compares the fields muxsync
/// uses. Skipped when `/usr/bin/ssh` is absent.
@Suite("OpenSSH ssh -G oracle", .enabled(if: FileManager.default.isExecutableFile(atPath: openSSHClientPath)))
struct OpenSSHOracleTests {
    static let ssh = openSSHClientPath

    /// `ssh -G` output as key -> values (keys repeat for identityfile).
    private func sshG(config: String, destination: String) throws -> [String: [String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ssh)
        process.arguments = ["-G", "-F", config, destination]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "ssh -G failed for \(destination)")
        var result: [String: [String]] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            result[String(parts[0]), default: []].append(String(parts[1]))
        }
        return result
    }

    /// The local user and home as ssh sees them (pw_name, pw_dir).
    private func sshLocal(_ dir: TemporaryDirectory) throws -> SSHLocalContext {
        try dir.write("empty", "")
        let g = try sshG(config: dir.path + "/empty", destination: "x")
        let user = try #require(g["user"]?.first)
        let knownHosts = try #require(g["userknownhostsfile"]?.first)
        let home = String(try #require(knownHosts.components(separatedBy: "/.ssh/known_hosts").first))
        return SSHLocalContext(user: user, homeDirectory: home)
    }

    /// Our result in `ssh -G` vocabulary.
    private func fields(_ r: ResolvedHost) -> [String: String] {
        [
            "hostname": r.hostName, "user": r.user, "port": String(r.port),
            "identityfile": r.identityFiles.joined(separator: "|"),
            "userknownhostsfile": r.userKnownHostsFiles.joined(separator: " "),
            "stricthostkeychecking": r.strictHostKeyChecking.rawValue,
            "connecttimeout": r.connectTimeout.map(String.init) ?? "none",
            "serveraliveinterval": String(r.serverAliveInterval),
            "serveralivecountmax": String(r.serverAliveCountMax),
            "compression": r.compression ? "yes" : "no",
            "identitiesonly": r.identitiesOnly ? "yes" : "no",
            "proxyjump": r.proxyJump ?? "-", "proxycommand": r.proxyCommand ?? "-",
        ]
    }

    /// ssh's output normalised the same way (identity files tilde-expanded, `none` dropped,
    /// `false`/`true` spelled as our enum, ConnectTimeout 0 as none).
    private func fields(_ g: [String: [String]], home: String) -> [String: String] {
        func one(_ k: String) -> String { g[k]?.first ?? "-" }
        let ids = (g["identityfile"] ?? []).filter { $0 != "none" }
            .map { $0.hasPrefix("~/") ? home + $0.dropFirst() : $0 }
        let strict = ["true": "yes", "false": "no"][one("stricthostkeychecking")] ?? one("stricthostkeychecking")
        let timeout = one("connecttimeout") == "0" ? "none" : one("connecttimeout")
        let knownHosts = one("userknownhostsfile") == "none" ? "" : one("userknownhostsfile")
        return [
            "hostname": one("hostname"), "user": one("user"), "port": one("port"),
            "identityfile": ids.joined(separator: "|"), "userknownhostsfile": knownHosts,
            "stricthostkeychecking": strict, "connecttimeout": timeout,
            "serveraliveinterval": one("serveraliveinterval"),
            "serveralivecountmax": one("serveralivecountmax"), "compression": one("compression"),
            "identitiesonly": one("identitiesonly"), "proxyjump": one("proxyjump"),
            "proxycommand": one("proxycommand"),
        ]
    }

    private func compare(_ text: String, destinations: [String], dir: TemporaryDirectory,
                         local knownLocal: SSHLocalContext? = nil) throws {
        let local = try knownLocal ?? sshLocal(dir)
        try dir.write("config", text)
        let config = try SSHConfig.parse(text, path: dir.path + "/config", homeDirectory: local.homeDirectory)
        for destination in destinations {
            var user: String?
            var host = destination
            if let at = destination.lastIndex(of: "@") {
                user = String(destination[..<at])
                host = String(destination[destination.index(after: at)...])
            }
            let ours = fields(try config.resolve(host: host, user: user, local: local))
            let theirs = fields(try sshG(config: dir.path + "/config", destination: destination), home: local.homeDirectory)
            for key in theirs.keys.sorted() {
                #expect(ours[key] == theirs[key], "\(destination): \(key)")
            }
        }
    }

    @Test func hostPatternsNegationAndPrecedence() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let text = """
            Host pytorch-server
              HostName GPU-Box.Example.com
              User ubuntu
              Port 2222
              IdentityFile ~/.ssh/gpu_key
              IdentitiesOnly yes
            Host gpu-?? !gpu-13
              HostName %h.cluster
              User=gpuuser
            Host *.corp web* Foo
              User corp
              StrictHostKeyChecking accept-new
              ConnectTimeout 1m30s
            Host *
              Port 2200
              IdentityFile ~/.ssh/id_ed25519
              IdentityFile "/opt/keys/with space"
              ServerAliveInterval 2m
              ServerAliveCountMax 7
              Compression yes
            """
        try compare(text, destinations: ["pytorch-server", "root@pytorch-server", "gpu-07", "gpu-13",
                                         "a.corp", "web1", "Foo", "foo", "other"], dir: dir)
    }

    @Test func matchBlocksAndTokens() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let text = """
            Host short
              HostName real.example.com
            Match host *.example.com
              Port 4444
            Match originalhost other
              HostName 10.9.8.7
            Match user alice,bob
              ServerAliveInterval 5
            Match !host real.*,10.*
              StrictHostKeyChecking no
            Match all
              UserKnownHostsFile ~/kh/%h_%p_%r_%u_%n %d/kh2 ${HOME}/kh3 /x/100%%
              ConnectTimeout 0
            """
        try compare(text, destinations: ["short", "alice@short", "other", "bob@other", "third"], dir: dir)
    }

    @Test func matchFinalSecondPass() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let text = """
            Host short
              HostName Real.Example.com
            Match canonical
              ServerAliveInterval 9
            Match final host real.*
              Port 5555
            Host real.example.com
              User finaluser
            Match !final
              IdentityFile ~/first
            Match final
              IdentityFile ~/final
            Host short
              Compression yes
            """
        try compare(text, destinations: ["short", "other", "u@real.example.com"], dir: dir)
    }

    @Test func proxiesAndNoneValues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let text = """
            Host a
              ProxyCommand nc %h %p # passed to the shell
              ProxyJump ignored
            Host b
              ProxyJump u@j1:22,j2
              ProxyCommand ignored
            Host c
              ProxyJump none
              IdentityFile none
              UserKnownHostsFile none
              StrictHostKeyChecking off
            Host d
              ProxyCommand none
            Host e
              ProxyJump none
            Host *
              ProxyCommand nc %h
              ProxyJump bastion
            """
        try compare(text, destinations: ["a", "b", "c", "d", "e", "f"], dir: dir)
    }

    @Test func includeWithAbsoluteGlob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try dir.write("conf.d/10-a.conf", "Port 1111\nHost inner\n  User inneruser\n")
        try dir.write("conf.d/20-b.conf", "Port 2222\nIdentityFile ~/b\n")
        let text = "Host inc*\n  Include \(dir.path)/conf.d/*.conf\nHost *\n  Compression yes\n"
        try compare(text, destinations: ["inc", "inner", "x"], dir: dir)
    }

    // MARK: Differential

    /// Random configurations built from valid lines must resolve exactly as `ssh -G` does.
    @Test func randomConfigurationsAgree() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let local = try sshLocal(dir)
        try dir.write("inc1", "Host a*\n Port 7\n User incuser\nMatch final\n IdentityFile ~/incfinal\n")
        try dir.write("inc2", "HostName %h.inc\nHost c\n IdentityFile ~/cinc\n")
        var rng = SeededGenerator(seed: 0xD1FF)
        func pick(_ choices: [String]) -> String { choices[Int.random(in: 0..<choices.count, using: &rng)] }
        let patterns = ["a", "b*", "!b1", "*", "?1", "a1", "A1", "!a*", "*.x", "c", "r*"]
        let lists = ["a*,b*", "!b1,*", "a1", "*.x", "r*", "c,!c"]
        for _ in 0..<20 {
            var text = ""
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                switch Int.random(in: 0..<15, using: &rng) {
                case 0, 1:
                    text += "Host " + (0..<Int.random(in: 1...3, using: &rng)).map { _ in pick(patterns) }.joined(separator: " ")
                case 2:
                    text += "Match " + pick(["all", "host " + pick(lists), "originalhost " + pick(lists),
                                             "user " + pick(["u", "!u,*"]), "!host " + pick(lists), "final",
                                             "canonical", "final host " + pick(lists), "!final"])
                case 3: text += "  HostName " + pick(["r.x", "%h.x", "R%h", "10.0.0.1", "c"])
                case 4: text += "  User " + pick(["u", "v"])
                case 5: text += "  Port" + pick([" ", "=", " = "]) + pick(["1", "2", "3"])
                case 6: text += "  IdentityFile " + pick(["~/k1", "/k2", "\"~/k 3\""])
                case 7: text += "  ProxyJump " + pick(["j", "none"])
                case 8: text += "  ProxyCommand " + pick(["nc %h", "none"])
                case 9: text += "  StrictHostKeyChecking " + pick(["yes", "no", "off", "accept-new", "ask"])
                case 10: text += "  ConnectTimeout " + pick(["0", "5", "1m"])
                case 11: text += "  UserKnownHostsFile " + pick(["~/a", "~/b %d/c", "none", "/k/%h_%n_%p_%r"])
                case 12: text += "  Compression " + pick(["yes", "no"])
                case 13:
                    text += pick(["  serveralivecountmax=1", "  SERVERALIVECOUNTMAX \"9\"",
                                  "\tServerAliveCountMax = 1 # c", "  IdentitiesOnly yes"])
                default: text += "Include " + dir.path + "/inc" + pick(["1", "2", "*"]) + pick(["", " #x"])
                }
                text += "\n"
            }
            try compare(text, destinations: ["a", "a1", "b1", "b2", "u@a1", "c", "r.x", "A1"], dir: dir, local: local)
        }
    }
}
