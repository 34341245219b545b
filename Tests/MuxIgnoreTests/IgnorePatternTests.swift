// IgnorePatternTests: gitignore(5) syntax, one rule at a time.

import MuxIgnore
import Testing

/// Parses one line at the root or fails the test.
private func rule(_ line: String, in directory: String = "") throws -> IgnorePattern {
    try #require(IgnorePattern(line: line, baseDirectory: directory))
}

@Suite("IgnorePattern syntax")
struct IgnorePatternTests {
    // MARK: Lines that are not rules

    @Test("blank lines, comments and never-matching lines produce no rule",
          arguments: ["", "#", "# comment", "#*.o", "   ", "\r", "!", "/", "!/"])
    func noRule(_ line: String) {
        #expect(IgnorePattern(line: line) == nil)
    }

    @Test("\\# and \\! escape a leading hash or bang")
    func leadingEscapes() throws {
        let hash = try rule("\\#notes#")
        #expect(!hash.isNegated)
        #expect(hash.matches("#notes#", isDirectory: false))
        #expect(hash.matches("a/#notes#", isDirectory: false))
        let bang = try rule("\\!important")
        #expect(!bang.isNegated)
        #expect(bang.matches("!important", isDirectory: false))
        #expect(!bang.matches("important", isDirectory: false))
        // A hash elsewhere is an ordinary character.
        #expect(try rule("a#b").matches("a#b", isDirectory: false))
    }

    // MARK: Trailing spaces and line endings

    @Test("trailing spaces are trimmed unless escaped; tabs are kept")
    func trailingSpaces() throws {
        let trimmed = try rule("foo   ")
        #expect(trimmed.pattern == "foo")
        #expect(trimmed.matches("foo", isDirectory: false))
        let escaped = try rule("foo\\ ")
        #expect(escaped.pattern == "foo\\ ")
        #expect(escaped.matches("foo ", isDirectory: false))
        #expect(!escaped.matches("foo", isDirectory: false))
        // Only the spaces after the escaped one go.
        let mixed = try rule("foo\\  \\  ")
        #expect(mixed.pattern == "foo\\  \\ ")
        #expect(mixed.matches("foo   ", isDirectory: false))
        let tab = try rule("foo\t")
        #expect(tab.matches("foo\t", isDirectory: false))
        #expect(!tab.matches("foo", isDirectory: false))
        // Inner spaces are part of the name.
        #expect(try rule("my file").matches("my file", isDirectory: false))
    }

    @Test("a CR before the line end is dropped (CRLF files)")
    func carriageReturn() throws {
        let crlf = try rule("build/\r")
        #expect(crlf.pattern == "build")
        #expect(crlf.isDirectoryOnly)
        #expect(crlf.matches("build", isDirectory: true))
    }

    // MARK: Negation and directory-only

    @Test("! negates; the body and trailing slash are parsed after it")
    func negation() throws {
        let negated = try rule("!keep/")
        #expect(negated.isNegated)
        #expect(negated.isDirectoryOnly)
        #expect(negated.pattern == "keep")
        #expect(negated.description == "!keep/")
        #expect(negated.matches("keep", isDirectory: true))
        #expect(try rule("!!x").pattern == "!x")
    }

    @Test("a trailing slash matches directories only")
    func directoryOnly() throws {
        let build = try rule("build/")
        #expect(build.matches("build", isDirectory: true))
        #expect(build.matches("src/build", isDirectory: true))
        #expect(!build.matches("build", isDirectory: false))
        #expect(build.matchesNameAtAnyDepth)
        let nested = try rule("src/build/")
        #expect(nested.matches("src/build", isDirectory: true))
        #expect(!nested.matches("src/build", isDirectory: false))
        #expect(!nested.matches("x/src/build", isDirectory: true))
    }

    // MARK: Anchoring

    @Test("no slash: the name matches at any depth below the file's directory")
    func unanchored() throws {
        let name = try rule("foo")
        #expect(name.matchesNameAtAnyDepth)
        for path in ["foo", "a/foo", "a/b/c/foo"] {
            #expect(name.matches(path, isDirectory: false))
            #expect(name.matches(path, isDirectory: true))
        }
        #expect(!name.matches("foo/bar", isDirectory: false))
        #expect(!name.matches("afoo", isDirectory: false))
        let scoped = try rule("foo", in: "sub")
        #expect(scoped.matches("sub/foo", isDirectory: false))
        #expect(scoped.matches("sub/x/foo", isDirectory: false))
        #expect(!scoped.matches("foo", isDirectory: false))
        #expect(!scoped.matches("subx/foo", isDirectory: false))
        #expect(!scoped.matches("sub", isDirectory: true))
    }

    @Test("a leading or middle slash anchors to the file's directory")
    func anchored() throws {
        let leading = try rule("/foo")
        #expect(!leading.matchesNameAtAnyDepth)
        #expect(leading.matches("foo", isDirectory: false))
        #expect(!leading.matches("a/foo", isDirectory: false))
        let middle = try rule("doc/frotz")
        #expect(middle.matches("doc/frotz", isDirectory: false))
        #expect(!middle.matches("a/doc/frotz", isDirectory: false))
        let scoped = try rule("/foo", in: "a/b")
        #expect(scoped.matches("a/b/foo", isDirectory: false))
        #expect(!scoped.matches("a/b/c/foo", isDirectory: false))
        #expect(!scoped.matches("foo", isDirectory: false))
        let scopedMiddle = try rule("c/foo", in: "a/b")
        #expect(scopedMiddle.matches("a/b/c/foo", isDirectory: false))
        #expect(!scopedMiddle.matches("a/b/x/c/foo", isDirectory: false))
    }

    // MARK: Wildcards

    @Test("* and ? do not cross slashes; [..] classes, ranges and negations")
    func wildcards() throws {
        let star = try rule("*.o")
        #expect(star.matches("main.o", isDirectory: false))
        #expect(star.matches("src/lib/main.o", isDirectory: false))
        #expect(!star.matches("main.oo", isDirectory: false))
        let anchoredStar = try rule("src/*.c")
        #expect(anchoredStar.matches("src/a.c", isDirectory: false))
        #expect(!anchoredStar.matches("src/sub/a.c", isDirectory: false))
        let question = try rule("/a?c")
        #expect(question.matches("abc", isDirectory: false))
        #expect(!question.matches("a/c", isDirectory: false))
        #expect(try rule("file[0-9].txt").matches("file7.txt", isDirectory: false))
        #expect(try !rule("file[0-9].txt").matches("filex.txt", isDirectory: false))
        #expect(try rule("file[!0-9]").matches("filex", isDirectory: false))
        #expect(try !rule("file[!0-9]").matches("file1", isDirectory: false))
        #expect(try rule("file[^0-9]").matches("filex", isDirectory: false))
        #expect(try rule("[[:digit:]]*").matches("9lives", isDirectory: false))
        #expect(try !rule("x[ab").matches("x[ab", isDirectory: false))
    }

    @Test("**/ leading, /** trailing, /**/ middle; ** elsewhere is a plain *")
    func doubleStar() throws {
        let leading = try rule("**/foo")
        #expect(leading.matches("foo", isDirectory: false))
        #expect(leading.matches("a/b/foo", isDirectory: false))
        let leadingPath = try rule("**/foo/bar")
        #expect(leadingPath.matches("foo/bar", isDirectory: false))
        #expect(leadingPath.matches("x/foo/bar", isDirectory: false))
        let trailing = try rule("abc/**")
        #expect(trailing.matches("abc/x", isDirectory: false))
        #expect(trailing.matches("abc/x/y", isDirectory: true))
        #expect(!trailing.matches("abc", isDirectory: true))
        let middle = try rule("a/**/b")
        for path in ["a/b", "a/x/b", "a/x/y/b"] { #expect(middle.matches(path, isDirectory: false)) }
        #expect(!middle.matches("a/xb", isDirectory: false))
        let inner = try rule("/a**b")
        #expect(inner.matches("axyb", isDirectory: false))
        #expect(!inner.matches("ax/yb", isDirectory: false))
        // git quirk: the literal prefix is matched first, so `a**/b` acts like `a` + `**/b`.
        #expect(try rule("a**/b").matches("ax/y/b", isDirectory: false))
    }

    // MARK: Case folding

    @Test("caseInsensitive folds ASCII letters")
    func caseInsensitive() throws {
        let upper = try rule("*.JPG")
        #expect(!upper.matches("photo.jpg", isDirectory: false))
        #expect(upper.matches("photo.jpg", isDirectory: false, caseInsensitive: true))
        #expect(try rule("Build/").matches("BUILD", isDirectory: true, caseInsensitive: true))
    }

    // MARK: Whole files

    @Test("files: line numbers count every line; BOM, CRLF, missing final newline")
    func parseFile() {
        let text = "\u{FEFF}# header\r\n\r\n*.o\r\n!keep.o\r\nbuild/"
        let patterns = IgnorePattern.parse(fileContents: text, baseDirectory: "sub/")
        #expect(patterns.map(\.description) == ["*.o", "!keep.o", "build/"])
        #expect(patterns.map(\.lineNumber) == [3, 4, 5])
        #expect(patterns.allSatisfy { $0.baseDirectory == "sub" })
        #expect(IgnorePattern.parse(fileContents: "").isEmpty)
        #expect(IgnorePattern.parse(fileContents: "\n\n# only comments\n").isEmpty)
    }

    @Test("--exclude values are taken verbatim")
    func excludeValues() throws {
        let hash = try #require(IgnorePattern(exclude: "#scratch#"))
        #expect(hash.matches("#scratch#", isDirectory: false))
        let spaced = try #require(IgnorePattern(exclude: "name "))
        #expect(spaced.matches("name ", isDirectory: false))
        #expect(!spaced.matches("name", isDirectory: false))
        #expect(IgnorePattern(exclude: "") == nil)
        #expect(try #require(IgnorePattern(exclude: "!x")).isNegated)
    }
}
