// Tests of ProjectConfig (.muxsync.toml), its remote included (parsed by MuxSSHConfig.RemoteSpec).

import MuxSSHConfig
import Testing
@testable import MuxSync

private let file = "/p/.muxsync.toml"

private func parse(_ text: String) throws -> ProjectConfig {
    try ProjectConfig.parse(text, file: file, directory: "/p")
}

/// The error `text` produces, or nil when it parses.
private func failure(_ text: String) -> ProjectConfigError? {
    do {
        _ = try parse(text)
        return nil
    } catch let error as ProjectConfigError {
        return error
    } catch {
        return nil
    }
}

@Suite("ProjectConfig")
struct ProjectConfigUnitTests {
    // MARK: Valid files

    @Test func fullFileParses() throws {
        let config = try parse("""
            # project settings
            remote = "devbox:/srv/app"
            exclude = [".git/", "*.o"]
            delete = true
            max_delete = 100
            checksum = false
            poll_interval = 0.5
            persist = 120

            [pull]
            include = ["logs/*.txt"]
            dest = "pulled"

            [watch]
            debounce = 0.2
            """)
        #expect(config.remote == RemoteSpec(host: "devbox", path: "/srv/app"))
        #expect(config.exclude == [".git/", "*.o"])
        #expect(config.delete == true)
        #expect(config.maxDelete == 100)
        #expect(config.checksum == false)
        #expect(config.pollInterval == 0.5)
        #expect(config.persist == 120)
        #expect(config.pull == PullSettings(include: ["logs/*.txt"], dest: "pulled"))
        #expect(config.watch.debounce == 0.2)
        #expect(config.directory == "/p")
        #expect(config.file == file)
    }

    @Test func emptyFileLeavesEverythingUnset() throws {
        let config = try parse("")
        #expect(config.remote == nil)
        #expect(config.exclude.isEmpty)
        #expect(config.delete == nil)
        #expect(config.maxDelete == nil)
        #expect(config.pollInterval == nil)
    }

    @Test func remoteAsATableOrInlineTable() throws {
        let table = try parse("[remote]\nhost = \"me@box\"\npath = \"/home/me/app\"\n")
        #expect(table.remote == RemoteSpec(user: "me", host: "box", path: "/home/me/app"))
        let inline = try parse("remote = { host = \"box\", path = \"rel/dir\" }")
        #expect(inline.remote == RemoteSpec(host: "box", path: "rel/dir"))
    }

    @Test func integerPollIntervalIsAccepted() throws {
        #expect(try parse("poll_interval = 2").pollInterval == 2)
    }

    // MARK: Errors with lines

    @Test func unknownTopLevelKeyNamesTheLineAndValidKeys() throws {
        let error = try #require(failure("delete = true\n\nexclud = [\"a\"]\n"))
        #expect(error == .unknownKey(file: file, line: 3, key: "exclud", validKeys: ProjectConfigSchema.topLevel))
        #expect(error.description.hasPrefix(
            "/p/.muxsync.toml:3: unknown key 'exclud' (did you mean 'exclude'?); valid keys here: remote, exclude,"))
    }

    @Test func unknownKeyInATableNamesTheTable() throws {
        let error = try #require(failure("remote = \"h:/p\"\n[pull]\ninclude = []\ndestination = \"x\"\n"))
        #expect(error == .unknownKey(file: file, line: 4, key: "pull.destination", validKeys: ["include", "dest"]))
        #expect(!error.description.contains("did you mean"))
    }

    @Test func unknownTableIsAnUnknownKey() throws {
        let error = try #require(failure("delete = false\n[server]\nport = 22\n"))
        #expect(error.line == 2)
        #expect(error.description.contains("unknown key 'server'"))
    }

    @Test func firstUnknownKeyInFileOrderIsReported() throws {
        let error = try #require(failure("zzz = 1\naaa = 2\n"))
        #expect(error.line == 1)
        #expect(error.description.contains("'zzz'"))
    }

    @Test func negativeMaxDelete() throws {
        let error = try #require(failure("delete = true\nmax_delete = -1\n"))
        #expect(error == .badValue(file: file, line: 2, key: "max_delete", problem: "must be a non-negative integer, got -1"))
        #expect(error.description == "/p/.muxsync.toml:2: max_delete must be a non-negative integer, got -1")
    }

    @Test func wrongTypes() throws {
        #expect(failure("delete = \"yes\"")?.description.contains("delete must be true or false, got a string") == true)
        #expect(failure("checksum = 1")?.description.contains("checksum must be true or false, got an integer") == true)
        #expect(failure("max_delete = 1.5")?.description.contains("max_delete must be a non-negative integer") == true)
        #expect(failure("exclude = \"*.o\"")?.description.contains("exclude must be an array of strings, got a string") == true)
        #expect(failure("pull = 3")?.description.contains("pull must be a table") == true)
    }

    @Test func badArrayElementNamesItsPosition() throws {
        let error = try #require(failure("\n\nexclude = [\"a\", 3]\n"))
        #expect(error.line == 3)
        #expect(error.description.contains("element 2 is an integer"))
    }

    @Test func nonPositivePollIntervalAndNegativeDebounce() throws {
        #expect(failure("poll_interval = 0")?.description.contains("greater than zero") == true)
        #expect(try parse("persist = 0").persist == 0, "0: never keep the session open")
        #expect(failure("persist = -5")?.description.contains("persist must be a number of seconds zero or more") == true)
        let debounce = try #require(failure("[watch]\ndebounce = -1.0\n"))
        #expect(debounce.line == 2)
        #expect(debounce.description.contains("watch.debounce must be a number of seconds zero or more"))
    }

    @Test func badRemoteValues() throws {
        let noColon = try #require(failure("exclude = []\nremote = \"just-a-host\"\n"))
        #expect(noColon.line == 2)
        #expect(noColon.description.contains("remote must be \"host:/path\""))
        let missingPath = try #require(failure("[remote]\nhost = \"box\"\n"))
        #expect(missingPath.description.contains("needs path"))
        let inlineBad = try #require(failure("\nremote = { host = 3, path = \"/x\" }\n"))
        #expect(inlineBad.line == 2)
        #expect(inlineBad.description.contains("remote.host must be a string"))
    }

    @Test func syntaxErrorCarriesLineAndColumn() throws {
        let error = try #require(failure("delete = true\nexclude = [\"a\",\n\nmax_delete = = 3\n"))
        guard case let .syntax(errorFile, line, column, message) = error else {
            Issue.record("expected a syntax error, got \(error)")
            return
        }
        #expect(errorFile == file)
        #expect(line >= 2)
        #expect(column >= 1)
        #expect(!message.isEmpty)
        #expect(error.description.hasPrefix("/p/.muxsync.toml:\(line):\(column): TOML syntax error:"))
    }

    // MARK: Files on disk

    @Test func loadReturnsNilWhenAbsentAndParsesWhenPresent() throws {
        let t = try ScratchTree()
        #expect(try ProjectConfig.load(directory: t.root) == nil)
        t.file(".muxsync.toml", "remote = \"box:/srv\"\nmax_delete = 5\n")
        let config = try #require(try ProjectConfig.load(directory: t.root))
        #expect(config.maxDelete == 5)
        #expect(config.file == t.root + "/.muxsync.toml")
        #expect(config.directory == t.root)
    }

    @Test func loadReportsBadValuesWithThePathOfTheFile() throws {
        let t = try ScratchTree()
        t.file(".muxsync.toml", "checksum = \"no\"\n")
        #expect(throws: ProjectConfigError.self) { try ProjectConfig.load(directory: t.root) }
        do {
            _ = try ProjectConfig.load(directory: t.root)
        } catch {
            #expect("\(error)".hasPrefix(t.root + "/.muxsync.toml:1: checksum"))
        }
    }

    @Test func findWalksUpToTheProjectRoot() throws {
        let t = try ScratchTree()
        t.file(".muxsync.toml", "remote = \"box:/srv\"\n")
        t.dir("a")
        t.dir("a/b")
        let found = try #require(try ProjectConfig.find(startingAt: t.path("a/b")))
        #expect(found.directory == ProjectConfig.absoluteLexical(t.root))
        #expect(found.remote?.host == "box")
        let viaDots = try #require(try ProjectConfig.find(startingAt: t.path("a/b/../b/./")))
        #expect(viaDots.directory == found.directory)
    }

    @Test func findReturnsNilWithoutAProjectFile() throws {
        let t = try ScratchTree()
        t.dir("x")
        // No .muxsync.toml in the scratch tree; its parents (the temp dir, /) have none either
        // on a sane machine, which the result reflects.
        let found = try ProjectConfig.find(startingAt: t.path("x"))
        #expect(found == nil || !found!.directory.hasPrefix(t.root))
    }

    @Test func lineFinderUnderstandsQuotedAndDottedKeys() {
        let text = "a = 1\n\"quoted key\" = 2\npull.dest = \"x\"\n[ watch ]\n  debounce=1\n"
        #expect(TOMLLineFinder.line(of: ["quoted key"], in: text) == 2)
        #expect(TOMLLineFinder.line(of: ["pull", "dest"], in: text) == 3)
        #expect(TOMLLineFinder.line(of: ["watch"], in: text) == 4)
        #expect(TOMLLineFinder.line(of: ["watch", "debounce"], in: text) == 5)
        #expect(TOMLLineFinder.line(of: ["missing"], in: text) == nil)
    }
}

@Suite("ProjectConfig remote")
struct ProjectConfigRemoteUnitTests {
    @Test(arguments: [
        ("box:/srv/app", RemoteSpec(host: "box", path: "/srv/app")),
        ("me@box:rel", RemoteSpec(user: "me", host: "box", path: "rel")),
        ("[::1]:/tmp/x", RemoteSpec(host: "::1", path: "/tmp/x")),
        ("me@[fe80::1]:/a:b", RemoteSpec(user: "me", host: "fe80::1", path: "/a:b")),
        ("box:/a:b", RemoteSpec(host: "box", path: "/a:b")),
        ("box:.", RemoteSpec(host: "box", path: ".")),
        ("h:/p", RemoteSpec(host: "h", path: "/p")),
        ("ssh://me@box:2222/srv", RemoteSpec(user: "me", host: "box", port: 2222, path: "srv")),
    ])
    func remoteStringsUseTheCommandLineGrammar(text: String, expected: RemoteSpec) throws {
        #expect(try parse("remote = \"\(text)\"").remote == expected)
    }

    @Test func tableHostMayBeABareOrBracketedIPv6Address() throws {
        for host in ["::1", "[::1]"] {
            #expect(try parse("[remote]\nhost = \"\(host)\"\npath = \"/x\"\n").remote == RemoteSpec(host: "::1", path: "/x"))
        }
        #expect(try parse("[remote]\nhost = \"me@[::1]\"\npath = \"/x\"\n").remote
            == RemoteSpec(user: "me", host: "::1", path: "/x"))
    }

    @Test(arguments: [
        ("nocolon", "no ':' found"),
        (":/x", "the host before ':' is empty"),
        ("box:", "write box:. for the remote home directory"),
        ("./a:b", "a '/' comes before ':'"),
        ("/abs/path:x", "a '/' comes before ':'"),
        ("bad host:/x", "contains a character that is not allowed"),
        ("-oProxyCommand=x:y", "may not start with '-'"),
        ("user@:/x", "missing host name before ':'"),
    ])
    func badRemoteStringsNameTheFileLineAndCause(text: String, cause: String) throws {
        let error = try #require(failure("delete = true\nremote = \"\(text)\"\n"))
        #expect(error.line == 2)
        #expect(error.description.hasPrefix("/p/.muxsync.toml:2: remote must be \"host:/path\": "))
        #expect(error.description.contains(cause), "\(error)")
    }

    @Test func badTableRemotesNameTheKeyAndLine() throws {
        let host = try #require(failure("[remote]\nhost = \"a/b\"\npath = \"/x\"\n"))
        #expect(host.line == 2)
        #expect(host.description.contains("remote.host"))
        let home = try #require(failure("[remote]\nhost = \"box\"\npath = \"\"\n"))
        #expect(home.line == 3)
        #expect(home.description.contains("remote.path must name a path: no remote path after ':'; write box:."))
    }
}
