import Testing
@testable import MuxSSHConfig

// MARK: - Line tokenizing

@Suite("Config line tokenizer")
struct ConfigLineTokenizerTests {
    private func line(_ s: String) -> ConfigLineResult {
        ConfigLineTokenizer.tokenize(ArraySlice(Array(s.utf8)))
    }

    private func parsed(_ s: String) throws -> ConfigLine {
        guard case .line(let l) = line(s) else {
            Issue.record("expected a line for \(s)")
            throw CancellationError()
        }
        return l
    }

    @Test func keywordIsLowercasedAndValueSplit() throws {
        let l = try parsed("  HostName   example.com  ")
        #expect(l.keyword == "hostname")
        #expect(l.spelledKeyword == "HostName")
        #expect(l.arguments == ["example.com"])
    }

    @Test(arguments: ["Port=22", "Port = 22", "Port= 22", "Port =22", "Port\t=\t22", "port 22"])
    func equalsSyntax(_ text: String) throws {
        let l = try parsed(text)
        #expect(l.keyword == "port")
        #expect(l.arguments == ["22"])
    }

    @Test func onlyOneEqualsIsSkipped() throws {
        let l = try parsed("Port==22")
        #expect(l.arguments == ["=22"])
    }

    @Test func quotesAndEscapes() throws {
        #expect(try parsed(#"IdentityFile "/a b/c""#).arguments == ["/a b/c"])
        #expect(try parsed("IdentityFile '/a b/c'").arguments == ["/a b/c"])
        #expect(try parsed(#"User a\ b"#).arguments == ["a b"])
        #expect(try parsed(#"User "a\"b""#).arguments == [#"a"b"#])
        #expect(try parsed(#"User a\xb"#).arguments == [#"a\xb"#])
        #expect(try parsed(#"Host "x y" z"#).arguments == ["x y", "z"])
        #expect(try parsed(#"Host a"b c"d"#).arguments == ["ab cd"])
    }

    @Test func commentsEndTheLineOnlyAtWordStart() throws {
        #expect(line("# a comment") == .empty)
        #expect(line("   #Port 22") == .empty)
        #expect(line("") == .empty)
        #expect(line(" \t \r") == .empty)
        #expect(try parsed("Port 22 # trailing").arguments == ["22"])
        #expect(try parsed("Port 22#x").arguments == ["22#x"])
        #expect(try parsed(##"User "#x""##).arguments == ["#x"])
    }

    @Test func carriageReturnAndFormFeedAreStripped() throws {
        #expect(try parsed("Port 22\r").arguments == ["22"])
        #expect(try parsed("Port 22\u{0C}").arguments == ["22"])
    }

    @Test func rawArgumentKeepsTheRestOfTheLine() throws {
        let l = try parsed("ProxyCommand = nc -X 5 %h %p # not a comment for the shell")
        #expect(l.rawArgument == "nc -X 5 %h %p # not a comment for the shell")
        #expect(l.arguments.first == "nc")
    }

    @Test func problems() {
        #expect(line("Port") == .problem(.missingArgument(keyword: "Port")))
        #expect(line("Port   ") == .problem(.missingArgument(keyword: "Port")))
        #expect(line("Port =") == .problem(.missingArgument(keyword: "Port")))
        #expect(line(#"User "abc"#) == .problem(.invalidQuotes))
        #expect(line("User 'abc") == .problem(.invalidQuotes))
    }

    @Test func linesKeepNumberingAcrossCRLF() {
        let lines = ConfigLineTokenizer.lines(of: "a\r\nb\n\nc")
        #expect(lines.count == 4)
        #expect(String(decoding: lines[3], as: UTF8.self) == "c")
    }
}
