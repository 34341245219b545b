import Foundation
import Testing
@testable import MuxSSHConfig

// MARK: - Include

@Suite("Include")
struct IncludeTests {
    private func local(_ dir: TemporaryDirectory) -> SSHLocalContext {
        SSHLocalContext(user: "me", homeDirectory: dir.path, hostName: "box", userID: 1, environment: [:])
    }

    @Test func relativeGlobUnderDotSSHInSortedOrder() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write(".ssh/config", "Include conf.d/*.conf\nHost *\n  Port 9\n")
        try home.write(".ssh/conf.d/20-b.conf", "Host gpu\n  User b\n  IdentityFile ~/b\n")
        try home.write(".ssh/conf.d/10-a.conf", "Host gpu\n  User a\n  IdentityFile ~/a\n")
        try home.write(".ssh/conf.d/.hidden.conf", "Host gpu\n  User hidden\n")
        try home.write(".ssh/conf.d/notes.txt", "Host gpu\n  User txt\n")
        let config = try SSHConfig.loadDefault(homeDirectory: home.path, systemConfigPath: nil)
        let r = try config.resolve(host: "gpu", local: local(home))
        #expect(r.user == "a")
        #expect(r.identityFiles == [home.path + "/a", home.path + "/b"])
        #expect(r.port == 9)
    }

    @Test func includeInsideHostBlockOnlyAppliesToThatHost() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write(".ssh/inc", "Port 1111\nHost inner\n  User inneruser\n")
        try home.write(".ssh/inc2", "IdentityFile ~/second\n")
        let text = "Host inc*\n  Include inc inc2\nHost *\n  Compression yes\n"
        let config = try SSHConfig.parse(text, path: home.path + "/.ssh/config", homeDirectory: home.path)
        let inc = try config.resolve(host: "inc", local: local(home))
        #expect(inc.port == 1111)
        #expect(inc.identityFiles == [home.path + "/second"])
        #expect(inc.compression)
        // The Host line inside the included file must not activate it for other hosts.
        let inner = try config.resolve(host: "inner", local: local(home))
        #expect(inner.user == "me")
        #expect(inner.port == 22)
        #expect(inner.compression)
    }

    @Test func includeCannotChangeTheIncludersState() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write(".ssh/inc", "Host nomatch\n")
        let text = "Host a\n  Include inc\n  Port 7\n"
        let config = try SSHConfig.parse(text, path: home.path + "/.ssh/config", homeDirectory: home.path)
        #expect(try config.resolve(host: "a", local: local(home)).port == 7)
    }

    @Test func absoluteAndTildePathsAndMissingFiles() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write("abs.conf", "User absuser\n")
        try home.write("tilde.conf", "Port 3333\n")
        let text = "Include \(home.path)/abs.conf ~/tilde.conf ~/missing.conf nothing/*.conf\n"
        let config = try SSHConfig.parse(text, path: "test", homeDirectory: home.path)
        let r = try config.resolve(host: "x", local: local(home))
        #expect(r.user == "absuser")
        #expect(r.port == 3333)
    }

    @Test func errorsInIncludedFilesNameThatFile() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write(".ssh/bad.conf", "\n\nPort abc\n")
        do {
            _ = try SSHConfig.parse("Include bad.conf", path: home.path + "/.ssh/config", homeDirectory: home.path)
            Issue.record("expected an error")
        } catch let error as SSHConfigError {
            #expect(error.description.hasPrefix("~/.ssh/bad.conf line 3: Port 'abc'"), "\(error)")
        }
    }

    @Test func loopsAndDepthAreBounded() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write(".ssh/self.conf", "Include self.conf\n")
        let loop = #expect(throws: SSHConfigError.self) {
            try SSHConfig.parse("Include self.conf", path: home.path + "/.ssh/config", homeDirectory: home.path)
        }
        #expect(loop?.message.contains("loop") == true)

        // A chain of 20 distinct files exceeds the depth limit of 16.
        for i in 0..<20 {
            try home.write(".ssh/chain\(i).conf", "Include chain\(i + 1).conf\n")
        }
        let deep = #expect(throws: SSHConfigError.self) {
            try SSHConfig.parse("Include chain0.conf", path: home.path + "/.ssh/config", homeDirectory: home.path)
        }
        #expect(deep?.message.contains("16 levels") == true)

        // 16 levels are fine.
        try home.write(".ssh/chain15.conf", "Port 4242\n")
        let ok = try SSHConfig.parse("Include chain0.conf", path: home.path + "/.ssh/config", homeDirectory: home.path)
        #expect(try ok.resolve(host: "x", local: local(home)).port == 4242)
    }

    @Test func directoryIsSkippedWithWarning() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try FileManager.default.createDirectory(atPath: home.path + "/.ssh/d", withIntermediateDirectories: true)
        let config = try SSHConfig.parse("Include d", path: home.path + "/.ssh/config", homeDirectory: home.path)
        #expect(config.warnings.count == 1)
    }

    @Test func systemConfigComesAfterUserConfig() throws {
        let home = try TemporaryDirectory()
        defer { home.cleanup() }
        try home.write(".ssh/config", "Host *\n  User fromuser\n")
        try home.write("etc/ssh_config", "Host *\n  User fromsystem\n  Port 2201\n")
        let config = try SSHConfig.loadDefault(homeDirectory: home.path, systemConfigPath: home.path + "/etc/ssh_config")
        let r = try config.resolve(host: "x", local: local(home))
        #expect(r.user == "fromuser")
        #expect(r.port == 2201)
        #expect(config.files.count == 2)
    }

    @Test func systemConfigRejectsTildeInclude() {
        #expect(throws: SSHConfigError.self) {
            try SSHConfig.parse("Include ~/x", path: "/etc/ssh/ssh_config", homeDirectory: "/home/me", isSystem: true)
        }
    }
}
