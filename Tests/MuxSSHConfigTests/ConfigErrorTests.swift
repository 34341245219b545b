import Testing
@testable import MuxSSHConfig

// MARK: - Malformed values and warnings

@Suite("Config errors and warnings")
struct ConfigErrorTests {
    @Test(arguments: [
        ("Host a\n  Port abc", "~/.ssh/config line 2: Port 'abc' is not a number (expected 1-65535)"),
        ("\n\nPort 0", "~/.ssh/config line 3: Port '0' is out of range (expected 1-65535)"),
        ("Port 65536", "~/.ssh/config line 1: Port '65536' is out of range (expected 1-65535)"),
        ("ConnectTimeout -1", "~/.ssh/config line 1: ConnectTimeout '-1' is not a valid time"),
        ("connecttimeout 5x", "~/.ssh/config line 1: ConnectTimeout '5x' is not a valid time"),
        ("ServerAliveInterval 99999999999", "ServerAliveInterval '99999999999' is not a valid time"),
        ("ServerAliveCountMax 1m", "ServerAliveCountMax '1m' is not a whole number"),
        ("StrictHostKeyChecking maybe", "StrictHostKeyChecking 'maybe' is not valid (expected yes, no, ask, accept-new or off)"),
        ("Compression true", "Compression 'true' is not valid (expected yes or no)"),
        ("IdentitiesOnly sometimes", "IdentitiesOnly 'sometimes' is not valid (expected yes or no)"),
        ("Port 22 23", "Port takes one value, but extra text follows '22': '23'"),
        ("User a b", "User takes one value"),
        ("Port", "~/.ssh/config line 1: Port needs a value"),
        ("HostName #comment", "HostName needs a value"),
        ("User \"\"", "User needs a value"),
        ("User \"abc", "~/.ssh/config line 1: unterminated quote"),
        ("Host a \"\"", "Host pattern 2 is empty"),
        ("UserKnownHostsFile a none", "UserKnownHostsFile 'none' must appear alone"),
        ("Match", "Match needs a value"),
        ("Match #x", "Match needs at least one criterion"),
        ("Match host", "Match host needs a pattern list"),
        ("Match all host x", "Match 'all' cannot be combined"),
        ("Include \"\"", "Include argument is empty"),
    ])
    func malformedValueNamesFileLineAndExpectation(text: String, expected: String) throws {
        let error = try #require(parseError(text))
        #expect(error.description.contains(expected), "\(error)")
        #expect(error.location != nil)
    }

    @Test func errorInsideInactiveBlockStillReported() throws {
        // OpenSSH validates values even in blocks that do not apply.
        let error = try #require(parseError("Host never-used\n  Port abc\n"))
        #expect(error.location?.line == 2)
    }

    @Test func locationUsesTildeOnlyForTheHomeDirectory() {
        let a = SSHConfigLocation(file: "/home/me/.ssh/config", line: 3, homeDirectory: "/home/me/")
        #expect(a.description == "~/.ssh/config line 3")
        let b = SSHConfigLocation(file: "/home/meow/config", line: 1, homeDirectory: "/home/me")
        #expect(b.description == "/home/meow/config line 1")
        let c = SSHConfigLocation(file: "/etc/ssh/ssh_config", line: 1, homeDirectory: "/")
        #expect(c.description == "/etc/ssh/ssh_config line 1")
    }

    @Test func unknownKeywordsAreIgnoredAndRecorded() throws {
        let text = """
            FrobnicateLevel 11
            Host x
              SendEnv LANG LC_*
              ForwardAgent yes
              CertificateFile ~/.ssh/cert.pub
              NotARealOption
              Port 2
            =weird
            """
        let config = try SSHConfig.parse(text, path: "/home/me/.ssh/config", homeDirectory: "/home/me")
        #expect(config.warnings.map(\.location.line) == [1, 6, 8])
        #expect(config.warnings[0].description == "~/.ssh/config line 1: unknown keyword 'FrobnicateLevel' ignored")
        #expect(try config.resolve(host: "x", local: testLocal).port == 2)
    }

    @Test func timeFormats() {
        #expect(ConfigValueParser.parseTime("30") == 30)
        #expect(ConfigValueParser.parseTime("30s") == 30)
        #expect(ConfigValueParser.parseTime("1h30m") == 5400)
        #expect(ConfigValueParser.parseTime("1W1d") == 691200)
        #expect(ConfigValueParser.parseTime("0") == 0)
        #expect(ConfigValueParser.parseTime("") == nil)
        #expect(ConfigValueParser.parseTime("m") == nil)
        #expect(ConfigValueParser.parseTime("1x") == nil)
        #expect(ConfigValueParser.parseTime("+1") == nil)
        #expect(ConfigValueParser.parseTime("5000w") == nil)
    }

    @Test func loadMissingFile() throws {
        let missing = "/nonexistent-muxsync/config"
        #expect(try SSHConfig.load(path: missing, homeDirectory: "/home/me").isEmpty)
        #expect(throws: SSHConfigError.self) {
            try SSHConfig.load(path: missing, homeDirectory: "/home/me", mustExist: true)
        }
    }
}
