// GlobMatchTests: the wildmatch port, case by case.
//
// Expectations follow git's wildmatch (t3070-wildmatch); the pathname cases marked
// "git" were also checked by hand with `git check-ignore` (git 2.39).

@testable import MuxIgnore
import Testing

/// One matcher case: pattern, text, expected result with WM_PATHNAME and without.
struct GlobCase: Sendable, CustomTestStringConvertible {
    let pattern: String
    let text: String
    let pathname: Bool
    let plain: Bool

    init(_ pattern: String, _ text: String, _ pathname: Bool, _ plain: Bool? = nil) {
        self.pattern = pattern
        self.text = text
        self.pathname = pathname
        self.plain = plain ?? pathname
    }

    var testDescription: String { "\(pattern.debugDescription) ~ \(text.debugDescription)" }
}

/// Runs the matcher on whole strings.
func wildmatch(_ pattern: String, _ text: String, pathname: Bool = true,
               caseFold: Bool = false) -> Bool {
    let patternBytes = Array(pattern.utf8)
    let textBytes = Array(text.utf8)
    return patternBytes.withUnsafeBufferPointer { patternBuffer in
        textBytes.withUnsafeBufferPointer { textBuffer in
            GlobMatcher(pattern: patternBuffer, patternStart: 0, patternEnd: patternBuffer.count,
                        text: textBuffer, textEnd: textBuffer.count,
                        pathname: pathname, caseFold: caseFold).matches(textStart: 0)
        }
    }
}

@Suite("GlobMatch (wildmatch port)")
struct GlobMatchTests {
    static let cases: [GlobCase] = [
        // Literals, `?`, `*`
        GlobCase("foo", "foo", true), GlobCase("foo", "bar", false),
        GlobCase("", "", true), GlobCase("???", "foo", true), GlobCase("??", "foo", false),
        GlobCase("*", "foo", true), GlobCase("f*", "foo", true), GlobCase("*f", "foo", false),
        GlobCase("*foo*", "foo", true), GlobCase("*ob*a*r*", "foobar", true),
        GlobCase("*ab", "aaaaaaabababab", true),
        // Escapes
        GlobCase("foo\\*", "foo*", true), GlobCase("foo\\*bar", "foobar", false),
        GlobCase("f\\\\oo", "f\\oo", true), GlobCase("\\#x", "#x", true),
        GlobCase("\\a", "a", true), GlobCase("foo\\", "foo", false),
        // Classes, ranges, negation, `]` first
        GlobCase("*[al]?", "ball", true), GlobCase("[ten]", "ten", false),
        GlobCase("**[!te]", "ten", true), GlobCase("**[!ten]", "ten", false),
        GlobCase("t[a-g]n", "ten", true), GlobCase("t[!a-g]n", "ten", false),
        GlobCase("t[!a-g]n", "ton", true), GlobCase("t[^a-g]n", "ton", true),
        GlobCase("[a-c]", "a", true), GlobCase("[a-c]", "c", true), GlobCase("[a-c]", "d", false),
        GlobCase("[c-c]", "c", true), GlobCase("[z-a]", "m", false),
        GlobCase("a[]]b", "a]b", true), GlobCase("a[]-]b", "a-b", true),
        GlobCase("a[]-]b", "a]b", true), GlobCase("a[]-]b", "aab", false),
        GlobCase("a[]a-]b", "aab", true), GlobCase("]", "]", true),
        GlobCase("[!]]", "a", true), GlobCase("[!]]", "]", false),
        GlobCase("[\\]]", "]", true), GlobCase("[a-]", "-", true),
        // Unterminated classes and unknown POSIX names never match
        GlobCase("[ab", "[ab", false), GlobCase("[ab", "a", false),
        GlobCase("[[:bogus:]]", "a", false), GlobCase("[[:alpha:]x", "ax", false),
        // POSIX classes
        GlobCase("[[:alpha:]]", "q", true), GlobCase("[[:alpha:]]", "1", false),
        GlobCase("[[:digit:]]", "7", true), GlobCase("[[:upper:]]", "a", false),
        GlobCase("[[:lower:]]", "a", true), GlobCase("[[:space:]]", " ", true),
        GlobCase("[[:punct:]]", "#", true), GlobCase("[[:xdigit:]]", "F", true),
        GlobCase("[[:alnum:]-]", "-", true), GlobCase("[[:digit]]", ":]", true),
        GlobCase("a[[:digit]b", "a[b", true),
        // Slashes: `*` `?` `[...]` stop at `/` with WM_PATHNAME only
        GlobCase("foo*bar", "foo/baz/bar", false, true),
        GlobCase("foo?bar", "foo/bar", false, true),
        GlobCase("foo[/]bar", "foo/bar", false, true),
        GlobCase("foo[^a-z]bar", "foo/bar", false, true),
        GlobCase("f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo/bar", false, true),
        GlobCase("f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo-bar", true),
        GlobCase("*", "a/b", false, true),
        // `**` as a whole segment crosses directories (and `**/` may match nothing); inside
        // a segment it is `*`. Without WM_PATHNAME every star matches anything, but `**/`
        // then needs a real slash.
        GlobCase("foo**bar", "foo/baz/bar", false, true), GlobCase("foo**bar", "foobazbar", true),
        GlobCase("foo/**/bar", "foo/baz/bar", true), GlobCase("foo/**/bar", "foo/b/a/z/bar", true),
        GlobCase("foo/**/bar", "foo/bar", true, false), GlobCase("foo/**/**/bar", "foo/bar", true, false),
        GlobCase("foo/**/**/bar", "foo/b/a/z/bar", true),
        GlobCase("**/foo", "foo", true, false), GlobCase("**/foo", "XXX/foo", true),
        GlobCase("**/foo", "bar/baz/foo", true), GlobCase("*/foo", "bar/baz/foo", false, true),
        GlobCase("**/bar*", "foo/bar/baz", false, true),
        GlobCase("**/bar/*", "deep/foo/bar/baz", true),
        GlobCase("**/bar/*", "deep/foo/bar/baz/", false, true),
        GlobCase("**/bar/**", "deep/foo/bar/baz/", true),
        GlobCase("**/bar/*", "deep/foo/bar", false),
        GlobCase("**/bar/**", "deep/foo/bar/", true),
        GlobCase("*/bar/**", "foo/bar/baz/x", true),
        GlobCase("*/bar/**", "deep/foo/bar/baz/x", false, true),
        GlobCase("**/bar/*/*", "deep/foo/bar/baz/x", true),
        GlobCase("a/**", "a/b/c", true), GlobCase("a/**", "a", false),
        GlobCase("**", "a/b/c", true), GlobCase("***", "a/b", true),
        GlobCase("**a", "x/ya", false, true),
        // Bytes, not characters: `?` matches one byte of a multi-byte UTF-8 sequence
        GlobCase("caf?", "café", false), GlobCase("caf??", "café", true),
        GlobCase("*é", "café", true),
    ]

    @Test("wildmatch with and without WM_PATHNAME", arguments: cases)
    func wildmatchCase(_ glob: GlobCase) {
        #expect(wildmatch(glob.pattern, glob.text, pathname: true) == glob.pathname)
        #expect(wildmatch(glob.pattern, glob.text, pathname: false) == glob.plain)
    }

    @Test("case folding is ASCII only and, like git, skips escapes and class members")
    func caseFolding() {
        #expect(wildmatch("FOO", "foo", caseFold: true))
        #expect(wildmatch("f*O", "FOO", caseFold: true))
        #expect(!wildmatch("FOO", "foo", caseFold: false))
        #expect(wildmatch("[a-z]", "Q", caseFold: true))
        #expect(wildmatch("[A-Z]", "q", caseFold: true))
        #expect(wildmatch("[[:upper:]]", "q", caseFold: true))
        #expect(!wildmatch("\\A", "A", caseFold: true))
        #expect(!wildmatch("\\A", "a", caseFold: true))
        #expect(wildmatch("\\A", "A", caseFold: false))
        #expect(!wildmatch("[A]", "A", caseFold: true))
        #expect(!wildmatch("É", "é", caseFold: true))
    }

    @Test("star-heavy patterns stay fast thanks to git's abort short-cuts")
    func pathologicalPattern() {
        let text = String(repeating: "a", count: 60)
        let pattern = String(repeating: "*a", count: 20) + "b"
        #expect(!wildmatch(pattern, text))
        #expect(!wildmatch("**/" + String(repeating: "*/", count: 8) + "z",
                           String(repeating: "a/", count: 30) + "y"))
    }
}
