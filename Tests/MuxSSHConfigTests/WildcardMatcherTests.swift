import Testing
@testable import MuxSSHConfig

// MARK: - Wildcards

@Suite("Wildcard matching")
struct WildcardMatcherTests {
    @Test(arguments: [
        ("*", "anything", true), ("*", "", true), ("", "", true), ("", "x", false),
        ("?", "a", true), ("?", "", false), ("?", "ab", false),
        ("*.corp", "a.corp", true), ("*.corp", "a.corp.x", false), ("*.corp", ".corp", true),
        ("gpu-??", "gpu-01", true), ("gpu-??", "gpu-1", false),
        ("a*b*c", "aXXbYYc", true), ("a*b*c", "aXXcYYb", false),
        ("**x", "x", true), ("pytorch-*", "pytorch-server", true), ("Foo", "foo", false),
    ])
    func hostPatterns(pattern: String, subject: String, expected: Bool) {
        #expect(WildcardMatcher.matches(subject, pattern: pattern) == expected)
    }

    @Test func bracketsOnlyForGlob() {
        #expect(WildcardMatcher.matches("a1", pattern: "a[0-9]", brackets: true))
        #expect(!WildcardMatcher.matches("ax", pattern: "a[0-9]", brackets: true))
        #expect(WildcardMatcher.matches("ax", pattern: "a[!0-9]", brackets: true))
        #expect(WildcardMatcher.matches("a]", pattern: "a[]]", brackets: true))
        #expect(WildcardMatcher.matches("a[", pattern: "a[", brackets: true))
        #expect(!WildcardMatcher.matches("a1", pattern: "a[0-9]", brackets: false))
        #expect(WildcardMatcher.matches("a[0-9]", pattern: "a[0-9]", brackets: false))
    }

    @Test func pathologicalPatternIsFast() {
        let subject = String(repeating: "a", count: 5000)
        let pattern = String(repeating: "*a", count: 200) + "b"
        // Exponential in a naive recursive matcher; must return (false) promptly here.
        #expect(!WildcardMatcher.matches(subject, pattern: pattern))
    }

    @Test func patternLists() {
        #expect(WildcardMatcher.matchList("web1", list: "web*,db*", lowercase: true) == .matched)
        #expect(WildcardMatcher.matchList("WEB1", list: "web*", lowercase: true) == .matched)
        #expect(WildcardMatcher.matchList("WEB1", list: "web*", lowercase: false) == .noMatch)
        #expect(WildcardMatcher.matchList("web1", list: "*,!web1", lowercase: true) == .negated)
        #expect(WildcardMatcher.matchList("web2", list: "*,!web1", lowercase: true) == .matched)
        #expect(WildcardMatcher.matchList("web2", list: "!web1", lowercase: true) == .noMatch)
        #expect(WildcardMatcher.matchList("x", list: "", lowercase: true) == .noMatch)
        #expect(WildcardMatcher.matchList("x", list: "x,", lowercase: true) == .matched)
    }
}
