import Foundation
import Testing
@testable import MuxSSHConfig

// MARK: - The Foundation-free text helpers, against Foundation itself

/// PathText and the StringProtocol helpers replace NSString/Foundation calls (to keep
/// Foundation proper out of the binary): they must give what Foundation gave for muxsync's inputs.
@Suite("Plain text helpers")
struct PlainTextTests {
    // Foundation traps on a relative single component ("a" -> deletingLastPathComponent),
    // so those are checked against the documented NSString results instead.
    @Test(arguments: ["", "/", "/a", "/a/", "/a/b", "/a/b/", "a/b", "/a//b//", "~/.ssh/known_hosts", "/a/b.txt",
                      "rel/dir/file"])
    func pathsAsNSString(path: String) {
        #expect(PathText.parent(of: path) == (path as NSString).deletingLastPathComponent)
        #expect(PathText.lastComponent(of: path) == (path as NSString).lastPathComponent)
    }

    @Test func pathsNSStringCannotTake() {
        #expect(PathText.parent(of: "a") == "")
        #expect(PathText.parent(of: "a/") == "")
        #expect(PathText.lastComponent(of: "a") == "a")
        #expect(PathText.parent(of: "//") == "/")
        #expect(PathText.lastComponent(of: "//") == "/")
    }

    @Test(arguments: ["  a b \t", "\r\n x \u{00A0}\n", "   ", "x", "", "\u{2003}y\u{2028}", "\t\n"])
    func trimmingAsFoundation(text: String) {
        #expect(text.trimmingBlanks() == text.trimmingCharacters(in: .whitespaces))
        #expect(text.trimmingBlanks(newlines: true) == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(text[...].trimmingBlanks() == text.trimmingCharacters(in: .whitespaces), "Substring too")
    }

    @Test(arguments: ["a%20b", "%zz", "%4", "%C3%A9", "%c3%a9", "%FF", "plain", "100%", "%25", "a%2Fb", ""])
    func percentDecodingAsFoundation(text: String) {
        #expect(text.percentDecoded == text.removingPercentEncoding)
    }

    @Test func containsTextIsByteExact() {
        #expect("-----BEGIN OPENSSH PRIVATE KEY-----\nabc".containsText("BEGIN OPENSSH"))
        #expect("abc".containsText("bc"))
        #expect(!"abc".containsText("x"))
        #expect(!"a".containsText("abc"))
        #expect("éa".containsText("a"))
        #expect("x".containsText(""))
    }
}
