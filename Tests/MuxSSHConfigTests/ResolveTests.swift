import Testing
@testable import MuxSSHConfig

// MARK: - Host blocks and precedence

@Suite("Resolving a host")
struct ResolveTests {
    static let sample = """
        # My config
        Host pytorch-server
            HostName 10.0.0.5
            User ubuntu
            Port 2222
            IdentityFile ~/.ssh/gpu_key
            IdentitiesOnly yes

        Host gpu-?? !gpu-13
            User gpuuser
            HostName %h.cluster.internal

        Host *.corp web* db*
            User corp

        Host *
            User fallback
            Port 2200
            IdentityFile ~/.ssh/id_ed25519
            ServerAliveInterval 30
        """

    @Test func aliasBlockThenStar() throws {
        let r = try resolve(Self.sample, "pytorch-server")
        #expect(r.alias == "pytorch-server")
        #expect(r.hostName == "10.0.0.5")
        #expect(r.user == "ubuntu")
        #expect(r.port == 2222)
        #expect(r.identityFiles == ["/home/me/.ssh/gpu_key", "/home/me/.ssh/id_ed25519"])
        #expect(r.identityFilesExplicit)
        #expect(r.identitiesOnly)
        #expect(r.serverAliveInterval == 30)
    }

    @Test func wildcardAndHostnameToken() throws {
        let r = try resolve(Self.sample, "gpu-07")
        #expect(r.hostName == "gpu-07.cluster.internal")
        #expect(r.user == "gpuuser")
        #expect(r.port == 2200)
    }

    @Test func negatedPatternExcludesTheBlock() throws {
        let r = try resolve(Self.sample, "gpu-13")
        #expect(r.hostName == "gpu-13")
        #expect(r.user == "fallback")
    }

    @Test func severalPatternsPerLine() throws {
        #expect(try resolve(Self.sample, "a.corp").user == "corp")
        #expect(try resolve(Self.sample, "webserver").user == "corp")
        #expect(try resolve(Self.sample, "db1").user == "corp")
        #expect(try resolve(Self.sample, "other").user == "fallback")
    }

    @Test func hostPatternsAreCaseSensitiveButHostNameIsLowercased() throws {
        let text = "Host Foo\n  Port 1\nHost *\n  HostName %h.EXAMPLE.com\n"
        #expect(try resolve(text, "foo").port == 22)
        let r = try resolve(text, "Foo")
        #expect(r.port == 1)
        #expect(r.hostName == "foo.example.com")
        #expect(try resolve("Host *\n HostName FE80::ABCD\n", "x").hostName == "FE80::ABCD")
    }

    @Test func firstValueWinsAcrossBlocks() throws {
        let text = """
            Port 1000
            Host a
              Port 2000
              User first
              User second
            Host *
              User third
            """
        let r = try resolve(text, "a")
        #expect(r.port == 1000)
        #expect(r.user == "first")
    }

    @Test func commandLineUserAndPortWin() throws {
        let r = try resolve(Self.sample, "pytorch-server", user: "root", port: 22)
        #expect(r.user == "root")
        #expect(r.port == 22)
    }

    @Test func identityFilesAccumulateAndDeduplicate() throws {
        let text = "Host *\n IdentityFile ~/a\n IdentityFile ~/b\n IdentityFile ~/a\nHost x\n IdentityFile ~/c\n"
        #expect(try resolve(text, "x").identityFiles == ["/home/me/a", "/home/me/b", "/home/me/c"])
        #expect(try resolve("IdentityFile none\n", "x").identityFiles == [])
        #expect(try resolve("IdentityFile none\n", "x").identityFilesExplicit)
    }

    // MARK: Defaults

    @Test func defaultsWhenNothingIsSet() throws {
        let r = try SSHConfig.empty.resolve(host: "Box", local: testLocal)
        #expect(r.hostName == "box")
        #expect(r.user == "me")
        #expect(r.port == 22)
        #expect(!r.identityFilesExplicit)
        #expect(r.identityFiles == [
            "/home/me/.ssh/id_rsa", "/home/me/.ssh/id_ecdsa", "/home/me/.ssh/id_ecdsa_sk",
            "/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_ed25519_sk", "/home/me/.ssh/id_xmss",
            "/home/me/.ssh/id_dsa",
        ])
        #expect(r.userKnownHostsFiles == ["/home/me/.ssh/known_hosts", "/home/me/.ssh/known_hosts2"])
        #expect(r.strictHostKeyChecking == .ask)
        #expect(!r.strictHostKeyChecking.acceptsUnknownHostKey)
        #expect(r.connectTimeout == nil)
        #expect(r.serverAliveInterval == 0)
        #expect(r.serverAliveCountMax == 3)
        #expect(!r.compression)
        #expect(!r.identitiesOnly)
        #expect(r.proxyJump == nil && r.proxyCommand == nil && !r.usesProxy)
        #expect(r.knownHostsName == "box")
    }

    @Test func scalarOptions() throws {
        let text = """
            Host x
              ConnectTimeout 1m30s
              ServerAliveInterval=15
              ServerAliveCountMax 5
              Compression yes
              StrictHostKeyChecking accept-new
              UserKnownHostsFile ~/kh1 "/tmp/kh 2" %d/kh3
              HostKeyAlias x-key
              Port 2022
            """
        let r = try resolve(text, "x")
        #expect(r.connectTimeout == 90)
        #expect(r.serverAliveInterval == 15)
        #expect(r.serverAliveCountMax == 5)
        #expect(r.compression)
        #expect(r.strictHostKeyChecking == .acceptNew)
        #expect(r.strictHostKeyChecking.acceptsUnknownHostKey)
        #expect(!r.strictHostKeyChecking.acceptsChangedHostKey)
        #expect(r.userKnownHostsFiles == ["/home/me/kh1", "/tmp/kh 2", "/home/me/kh3"])
        #expect(r.knownHostsName == "x-key")
        #expect(try resolve("Port 2022", "h").knownHostsName == "[h]:2022")
        #expect(try resolve("UserKnownHostsFile none", "h").userKnownHostsFiles == [])
        #expect(try resolve("ConnectTimeout 0", "h").connectTimeout == nil)
    }

    @Test(arguments: [("yes", StrictHostKeyChecking.yes), ("TRUE", .yes), ("no", .no), ("off", .no),
                      ("false", .no), ("ask", .ask), ("Accept-New", .acceptNew)])
    func strictHostKeyCheckingValues(value: String, expected: StrictHostKeyChecking) throws {
        #expect(try resolve("StrictHostKeyChecking \(value)", "h").strictHostKeyChecking == expected)
    }

    // MARK: Proxies

    @Test func proxyJumpAndProxyCommandExcludeEachOther() throws {
        let jumpFirst = try resolve("ProxyJump bastion\nProxyCommand nc %h %p\n", "h")
        #expect(jumpFirst.proxyJump == "bastion")
        #expect(jumpFirst.proxyCommand == nil)
        let commandFirst = try resolve("ProxyCommand ssh -W %h:%p bastion\nProxyJump b2\n", "h")
        #expect(commandFirst.proxyCommand == "ssh -W %h:%p bastion")
        #expect(commandFirst.proxyJump == nil)
        #expect(commandFirst.usesProxy)
        let none = try resolve("Host h\n ProxyJump none\nHost *\n ProxyJump bastion\n", "h")
        #expect(none.proxyJump == nil)
        #expect(!none.usesProxy)
        // OpenSSH 9: ProxyJump none does not block a later ProxyCommand; ProxyCommand none blocks both.
        #expect(try resolve("ProxyJump none\nProxyCommand nc %h\n", "h").proxyCommand == "nc %h")
        #expect(!(try resolve("ProxyCommand none\nProxyJump j\nProxyCommand nc\n", "h").usesProxy))
    }

    // MARK: Match

    @Test func matchHostSeesHostName() throws {
        let text = """
            Host short
              HostName real.example.com
            Match host *.EXAMPLE.com
              Port 4444
            Match originalhost SHORT
              User orig
            Match all
              Compression yes
            """
        let r = try resolve(text, "short")
        #expect(r.port == 4444)
        #expect(r.user == "orig")
        #expect(r.compression)
        let other = try resolve(text, "elsewhere")
        #expect(other.port == 22)
        #expect(other.user == "me")
        #expect(other.compression)
    }

    @Test func matchUserNegationAndLists() throws {
        let text = """
            Match user alice,bob
              Port 1001
            Match !localuser me
              Port 1002
            Match host !bad*,*
              User good
            """
        #expect(try resolve(text, "h", user: "bob").port == 1001)
        #expect(try resolve(text, "h").port == 22)
        #expect(try resolve(text, "h").user == "good")
        #expect(try resolve(text, "badhost").user == "me")
    }

    @Test func unsupportedMatchIsSkippedWithWarning() throws {
        let text = "Match exec \"true\"\n  Port 9\nMatch tagged t\n  Port 8\nMatch localnetwork 10.0.0.0/8\n  Port 7\n"
        let config = try SSHConfig.parse(text, path: "/home/me/.ssh/config", homeDirectory: "/home/me")
        #expect(try config.resolve(host: "x", local: testLocal).port == 22)
        #expect(config.warnings.count == 3)
        #expect(config.warnings.first?.description.contains("~/.ssh/config line 1") == true)
        #expect(config.warnings.first?.description.contains("exec") == true)
    }

    @Test func matchFinalMakesASecondPassAgainstTheHostName() throws {
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
            """
        let config = try SSHConfig.parse(text, path: "/home/me/.ssh/config", homeDirectory: "/home/me")
        #expect(config.warnings.isEmpty)
        let r = try config.resolve(host: "short", local: testLocal)
        #expect(r.user == "finaluser")
        #expect(r.port == 5555)
        #expect(r.serverAliveInterval == 9)
        #expect(r.identityFiles == ["/home/me/first", "/home/me/final"])
        // Without any Match final there is no second pass: Host lines see only the alias.
        let single = try resolve("Host short\n HostName real\nHost real\n User x\nMatch canonical\n Port 1\n", "short")
        #expect(single.user == "me")
        #expect(single.port == 22)
    }

    // MARK: Tokens and tilde

    @Test func tokensInIdentityFile() throws {
        let text = """
            Host gpu
              HostName GPU.example.com
              User ubuntu
              Port 2200
              IdentityFile ~/.ssh/%r@%h:%p
              IdentityFile %d/keys/%u-%n-%k
              IdentityFile /k/%l/%L/%i/100%%
              IdentityFile ${HOME}/.ssh/${PROJ}_key
              IdentityFile ~me/own
            """
        let r = try resolve(text, "gpu")
        #expect(r.identityFiles == [
            "/home/me/.ssh/ubuntu@gpu.example.com:2200",
            "/home/me/keys/me-gpu-gpu",
            "/k/box.example.org/box/1000/100%",
            "/home/me/.ssh/proj_key",
            "/home/me/own",
        ])
    }

    @Test func tokenErrorsNameKeywordAndLine() throws {
        let cases: [(String, String)] = [
            ("Host *\n IdentityFile ~/%C", "IdentityFile '~/%C': token %C is not supported"),
            ("IdentityFile ~/%z", "unknown token %z"),
            ("IdentityFile ~/x%", "lone %"),
            ("IdentityFile ${NOPE}/x", "environment variable NOPE is not set"),
            ("IdentityFile ${HOME", "without a closing"),
            ("IdentityFile ~bob/key", "~bob"),
            ("HostName %p.example", "HostName '%p.example': unknown token %p"),
        ]
        for (text, fragment) in cases {
            do {
                _ = try resolve(text, "h")
                Issue.record("expected an error for \(text)")
            } catch let error as SSHConfigError {
                #expect(error.description.contains(fragment), "\(error)")
                #expect(error.description.hasPrefix("~/.ssh/config line "), "\(error)")
            }
        }
    }

    @Test func tildeExpansion() throws {
        #expect(try TokenExpander.expandTilde("~", homeDirectory: "/h/", localUser: "u") == "/h")
        #expect(try TokenExpander.expandTilde("~/x", homeDirectory: "/h/", localUser: "u") == "/h/x")
        #expect(try TokenExpander.expandTilde("~u/x", homeDirectory: "/h", localUser: "u") == "/h/x")
        #expect(try TokenExpander.expandTilde("a/~/x", homeDirectory: "/h", localUser: "u") == "a/~/x")
        #expect(try TokenExpander.expandTilde("~/x", homeDirectory: "/", localUser: "u") == "/x")
        #expect(throws: TokenExpander.Failure.otherUsersHome("v")) {
            try TokenExpander.expandTilde("~v/x", homeDirectory: "/h", localUser: "u")
        }
    }

    @Test func emptyHostAndBadPortOverrideAreRejected() {
        #expect(throws: SSHConfigError.self) { try SSHConfig.empty.resolve(host: "", local: testLocal) }
        #expect(throws: SSHConfigError.self) { try SSHConfig.empty.resolve(host: "h", port: 0, local: testLocal) }
    }

    @Test func resolveRemoteSpec() throws {
        let config = try SSHConfig.parse("Host pytorch-server\n HostName 10.1.1.1\n User u\n",
                                         path: "/home/me/.ssh/config", homeDirectory: "/home/me")
        let spec = try #require(RemoteSpec.parse("root@pytorch-server:/workspace/proj"))
        let r = try config.resolve(spec, local: testLocal)
        #expect(r.hostName == "10.1.1.1")
        #expect(r.user == "root")
    }
}
