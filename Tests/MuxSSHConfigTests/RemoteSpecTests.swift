import Testing
@testable import MuxSSHConfig

// MARK: - Destination parsing

@Suite("RemoteSpec")
struct RemoteSpecTests {
    @Test(arguments: [
        ("pytorch-server:/workspace/proj", RemoteSpec(host: "pytorch-server", path: "/workspace/proj")),
        ("user@host:path", RemoteSpec(user: "user", host: "host", path: "path")),
        ("host:", RemoteSpec(host: "host", path: "")),
        ("host:a:b", RemoteSpec(host: "host", path: "a:b")),
        ("[::1]:path", RemoteSpec(host: "::1", path: "path")),
        ("user@[fe80::1]:/x", RemoteSpec(user: "user", host: "fe80::1", path: "/x")),
        ("u@[fe80::1%eth0]:", RemoteSpec(user: "u", host: "fe80::1%eth0", path: "")),
        ("a@b@host:p", RemoteSpec(user: "a@b", host: "host", path: "p")),
        ("C:x", RemoteSpec(host: "C", path: "x")),
        ("ssh://host", RemoteSpec(host: "host", path: "")),
        ("ssh://me@host:2222/dir/sub", RemoteSpec(user: "me", host: "host", port: 2222, path: "dir/sub")),
        ("SSH://host//abs/path", RemoteSpec(host: "host", path: "/abs/path")),
        ("sftp://u;fp=x@[::1]:22/a%20b", RemoteSpec(user: "u", host: "::1", port: 22, path: "a b")),
        ("scp://h:/x", RemoteSpec(host: "h", path: "x")),
    ])
    func remotes(input: String, expected: RemoteSpec) throws {
        #expect(try RemoteSpec.classify(input) == expected)
        #expect(RemoteSpec.parse(input) == expected)
    }

    @Test(arguments: ["", "relative/path", "/abs/path", "./a:b", "dir/x:y", ":leading", "C:\\x", "c:/x",
                      "plain", "[::1]", "[abc"])
    func locals(input: String) throws {
        #expect(try RemoteSpec.classify(input) == nil)
        #expect(RemoteSpec.parse(input) == nil)
    }

    @Test(arguments: ["user@:path", "@host:path", "[::1:path", "u@[]:x", "-oProxyCommand=x:y",
                      "ssh://host:0/x", "ssh://host:abc", "ssh://@host", "ssh://", "ssh://[::1", "ho st:x"])
    func malformed(input: String) {
        #expect(throws: RemoteSpecError.self) { try RemoteSpec.classify(input) }
        #expect(RemoteSpec.parse(input) == nil)
    }

    @Test func errorMessageNamesInput() {
        #expect(throws: RemoteSpecError(input: "user@:p", message: "missing host name before ':'")) {
            try RemoteSpec.classify("user@:p")
        }
        let error = RemoteSpecError(input: "user@:p", message: "missing host name before ':'")
        #expect(error.description == "invalid remote 'user@:p': missing host name before ':'")
    }

    // MARK: Text that must name a remote (the project file)

    @Test(arguments: [
        ("", "no ':' found"), ("plain", "no ':' found"), (":leading", "the host before ':' is empty"),
        ("./a:b", "a '/' comes before ':'"), ("[::1]", "no ':' right after the ']'"),
        ("u@[::1]", "no ':' right after the ']'"),
    ])
    func parsingALocalPathSaysWhyItIsNotARemote(input: String, why: String) {
        #expect(throws: RemoteSpecError.self) { try RemoteSpec(parsing: input) }
        do {
            _ = try RemoteSpec(parsing: input)
        } catch {
            #expect(error.input == input)
            #expect(error.message.contains(why), "\(error)")
        }
    }

    @Test func parsingARemoteEqualsClassify() throws {
        for text in ["user@host:path", "[::1]:x", "h:", "ssh://u@h:2222/dir", "C:x"] {
            #expect(try RemoteSpec(parsing: text) == RemoteSpec.classify(text))
        }
        #expect(throws: RemoteSpecError(input: "user@:p", message: "missing host name before ':'")) {
            try RemoteSpec(parsing: "user@:p")
        }
    }

    @Test func aTextThatMustBeARemoteHasNoWindowsDrive() throws {
        #expect(try RemoteSpec.classify("h:/srv") == nil)
        #expect(try RemoteSpec(parsing: "h:/srv") == RemoteSpec(host: "h", path: "/srv"))
        #expect(try RemoteSpec(parsing: "C:\\x") == RemoteSpec(host: "C", path: "\\x"))
    }

    @Test func destinationAndPathHalves() throws {
        #expect(try RemoteSpec(destination: "me@box", path: "/srv") == RemoteSpec(user: "me", host: "box", path: "/srv"))
        #expect(try RemoteSpec(destination: "::1", path: "a:b") == RemoteSpec(host: "::1", path: "a:b"))
        #expect(try RemoteSpec(destination: "[fe80::1%eth0]", path: "") == RemoteSpec(host: "fe80::1%eth0", path: ""))
        for bad in ["", "@box", "a/b", "-x", "ho st"] {
            #expect(throws: RemoteSpecError.self) { try RemoteSpec(destination: bad, path: "/x") }
        }
    }

    @Test func aNulInThePathIsRefused() {
        let error = RemoteSpecError(input: "host:/a\u{0}b", message: "the path contains a NUL character")
        #expect(throws: error) { try RemoteSpec.classify("host:/a\u{0}b") }
        #expect(throws: RemoteSpecError.self) { try RemoteSpec(destination: "h", path: "\u{0}") }
        #expect(throws: RemoteSpecError.self) { try RemoteSpec.classify("ssh://h/a%00b") }
    }

    @Test func aTreeToSyncMustNameItsPath() throws {
        #expect(try RemoteSpec(host: "h", path: "/x").requiringPath() == RemoteSpec(host: "h", path: "/x"))
        #expect(throws: RemoteSpecError(input: "me@h:", message: "no remote path after ':'; write me@h:."
            + " for the remote home directory or give an absolute path")) {
            try RemoteSpec(user: "me", host: "h", path: "").requiringPath()
        }
        #expect(throws: RemoteSpecError.self) { try RemoteSpec(host: "h", port: 2222, path: "").requiringPath() }
    }

    @Test func descriptionRoundTrips() throws {
        for text in ["user@host:path", "[::1]:x", "h:", "ssh://u@h:2222/dir", "ssh://h:22//abs"] {
            let spec = try #require(RemoteSpec.parse(text))
            #expect(spec.description == text)
            #expect(RemoteSpec.parse(spec.description) == spec)
        }
    }
}
