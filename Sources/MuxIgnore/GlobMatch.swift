// GlobMatch: git's `wildmatch` over UTF-8 bytes.
//
// A faithful port of git's wildmatch.c (the matcher behind .gitignore), including its
// quirks, so that MuxIgnore agrees with `git check-ignore` byte for byte:
//   - `\x` matches a literal `x`; a trailing lone `\` never matches;
//   - `[...]` classes with ranges, `[!...]` / `[^...]` negation, a leading `]` taken
//     literally, POSIX `[:alpha:]`-style classes; an unterminated `[` or an unknown
//     `[:name:]` aborts the whole match (no match, not a literal `[`);
//   - with `pathname`, `*` `?` and `[...]` never match `/`; `**` is special only when it
//     is a whole path segment (`**/`, `/**`, `/**/`), otherwise it acts like `*`;
//   - case folding (git's core.ignorecase) folds ASCII only and, like git, does not fold
//     escaped characters or class members (`\A` and `[A]` then match neither `a` nor `A`).
// No Foundation, no regex engine: a small backtracking matcher with git's abort
// short-cuts, which keep `*`-heavy patterns from going exponential.

// MARK: - Result

/// Outcome of one recursive step, as in git (the aborts prune the backtracking).
enum GlobMatchResult: Equatable {
    case match
    case noMatch
    case abortAll
    case abortToStarStar
}

// MARK: - Matcher

/// Matches a glob pattern (a byte range) against a text (a byte range).
struct GlobMatcher {
    /// Pattern bytes; the pattern ends at `patternEnd` (or at a NUL byte, as in C).
    let pattern: UnsafeBufferPointer<UInt8>
    /// First pattern byte to match.
    let patternStart: Int
    let patternEnd: Int
    /// Text bytes; the text ends at `textEnd`.
    let text: UnsafeBufferPointer<UInt8>
    let textEnd: Int
    /// git's WM_PATHNAME: wildcards do not cross `/`; `**` segments do.
    let pathname: Bool
    /// git's WM_CASEFOLD (core.ignorecase).
    let caseFold: Bool

    /// Whether the pattern matches the text starting at `textStart`.
    func matches(textStart: Int) -> Bool {
        dowild(patternStart, textStart) == .match
    }

    // MARK: Byte access with C's NUL sentinel

    @inline(__always) private func pc(_ index: Int) -> UInt8 {
        index < patternEnd ? pattern[index] : 0
    }

    @inline(__always) private func tc(_ index: Int) -> UInt8 {
        index < textEnd ? text[index] : 0
    }

    @inline(__always) private func textHasSlash(from start: Int) -> Int? {
        var index = start
        while index < textEnd {
            let byte = text[index]
            if byte == 0 { return nil }
            if byte == Byte.slash { return index }
            index += 1
        }
        return nil
    }

    // MARK: The recursive matcher (git's dowild)

    private func dowild(_ patternIndex: Int, _ textIndex: Int) -> GlobMatchResult {
        var p = patternIndex
        var t = textIndex
        while true {
            var pCh = pc(p)
            if pCh == 0 { break }
            var tCh = tc(t)
            if tCh == 0 && pCh != Byte.star { return .abortAll }
            if caseFold {
                tCh = Byte.lower(tCh)
                pCh = Byte.lower(pCh)
            }
            switch pCh {
            case Byte.question:
                if pathname && tCh == Byte.slash { return .noMatch }
            case Byte.star:
                p += 1
                let matchSlash: Bool
                if pc(p) == Byte.star {
                    let previous = p - 2
                    repeat { p += 1 } while pc(p) == Byte.star
                    // As in git, "start" means the start of this recursive call.
                    let atSegmentStart = previous < patternIndex || pc(previous) == Byte.slash
                    let next = pc(p)
                    let atSegmentEnd = next == 0 || next == Byte.slash
                        || (next == Byte.backslash && pc(p + 1) == Byte.slash)
                    if !pathname {
                        matchSlash = true  // without WM_PATHNAME, `**` == `*` == anything
                    } else if atSegmentStart && atSegmentEnd {
                        // `**/` may match nothing at all: try the rest right here.
                        if next == Byte.slash && dowild(p + 1, t) == .match { return .match }
                        matchSlash = true
                    } else {
                        matchSlash = false
                    }
                } else {
                    matchSlash = !pathname
                }
                if pc(p) == 0 {
                    // Trailing `**` matches everything; trailing `*` only up to a slash.
                    if !matchSlash && textHasSlash(from: t) != nil { return .noMatch }
                    return .match
                }
                if !matchSlash && pc(p) == Byte.slash {
                    // One `*` then `/`: skip to the next slash in the text; both
                    // slashes are consumed by the loop increment below.
                    guard let slash = textHasSlash(from: t) else { return .noMatch }
                    t = slash
                    break
                }
                return starLoop(p, t, tCh, matchSlash: matchSlash)
            case Byte.openBracket:
                let (result, next) = matchClass(p, tCh)
                if let result { return result }
                p = next
            case Byte.backslash:
                // Literal match with the following byte (not case-folded, as in git).
                p += 1
                if tCh != pc(p) { return .noMatch }
            default:
                if tCh != pCh { return .noMatch }
            }
            p += 1
            t += 1
        }
        return tc(t) != 0 ? .noMatch : .match
    }

    /// The backtracking loop after a `*` (git's `while (1)` block).
    private func starLoop(_ p: Int, _ start: Int, _ firstByte: UInt8, matchSlash: Bool)
        -> GlobMatchResult {
        var t = start
        var tCh = firstByte
        while true {
            if tCh == 0 { break }
            let next = pc(p)
            if !Byte.isGlobSpecial(next) {
                // Fast-forward to the literal that follows the star.
                let literal = caseFold ? Byte.lower(next) : next
                while true {
                    tCh = tc(t)
                    if tCh == 0 || (!matchSlash && tCh == Byte.slash) { break }
                    if caseFold { tCh = Byte.lower(tCh) }
                    if tCh == literal { break }
                    t += 1
                }
                if tCh != literal { return .noMatch }
            }
            let matched = dowild(p, t)
            if matched != .noMatch {
                if !matchSlash || matched != .abortToStarStar { return matched }
            } else if !matchSlash && tCh == Byte.slash {
                return .abortToStarStar
            }
            t += 1
            tCh = tc(t)
        }
        return .abortAll
    }

    /// Matches `[...]` at `open` against `tCh`. Returns a final result (no match / abort)
    /// or nil with the index of the closing `]` when the class matched.
    private func matchClass(_ open: Int, _ tCh: UInt8) -> (GlobMatchResult?, Int) {
        var p = open + 1
        var pCh = pc(p)
        if pCh == Byte.caret { pCh = Byte.bang }
        let negated = pCh == Byte.bang
        if negated {
            p += 1
            pCh = pc(p)
        }
        var previous: UInt8 = 0
        var matched = false
        repeat {
            if pCh == 0 { return (.abortAll, p) }
            if pCh == Byte.backslash {
                p += 1
                pCh = pc(p)
                if pCh == 0 { return (.abortAll, p) }
                if tCh == pCh { matched = true }
            } else if pCh == Byte.dash && previous != 0 && pc(p + 1) != 0
                        && pc(p + 1) != Byte.closeBracket {
                p += 1
                pCh = pc(p)
                if pCh == Byte.backslash {
                    p += 1
                    pCh = pc(p)
                    if pCh == 0 { return (.abortAll, p) }
                }
                if tCh <= pCh && tCh >= previous {
                    matched = true
                } else if caseFold && Byte.isLower(tCh) {
                    let upper = tCh - 32
                    if upper <= pCh && upper >= previous { matched = true }
                }
                pCh = 0  // a range end cannot start another range
            } else if pCh == Byte.openBracket && pc(p + 1) == Byte.colon {
                let nameStart = p + 2
                p = nameStart
                while pc(p) != 0 && pc(p) != Byte.closeBracket { p += 1 }
                pCh = pc(p)
                if pCh == 0 { return (.abortAll, p) }
                let nameLength = p - nameStart - 1
                if nameLength < 0 || pc(p - 1) != Byte.colon {
                    // No ":]": an ordinary `[` member.
                    p = nameStart - 2
                    pCh = Byte.openBracket
                    if tCh == pCh { matched = true }
                } else {
                    guard let inClass = namedClass(nameStart, nameLength, tCh) else {
                        return (.abortAll, p)
                    }
                    if inClass { matched = true }
                    pCh = 0
                }
            } else if tCh == pCh {
                matched = true
            }
            previous = pCh
            p += 1
            pCh = pc(p)
        } while pCh != Byte.closeBracket
        if matched == negated || (pathname && tCh == Byte.slash) { return (.noMatch, p) }
        return (nil, p)
    }

    /// `[:name:]` membership; nil for an unknown name (git aborts the match).
    private func namedClass(_ start: Int, _ length: Int, _ ch: UInt8) -> Bool? {
        var name: [UInt8] = []
        name.reserveCapacity(length)
        for index in start..<(start + length) { name.append(pc(index)) }
        switch String(decoding: name, as: UTF8.self) {
        case "alnum": return Byte.isAlpha(ch) || Byte.isDigit(ch)
        case "alpha": return Byte.isAlpha(ch)
        case "blank": return ch == Byte.space || ch == Byte.tab
        case "cntrl": return ch < 0x20 || ch == 0x7F
        case "digit": return Byte.isDigit(ch)
        case "graph": return ch > 0x20 && ch < 0x7F
        case "lower": return Byte.isLower(ch)
        case "print": return ch >= 0x20 && ch < 0x7F
        case "punct": return ch > 0x20 && ch < 0x7F && !Byte.isAlpha(ch) && !Byte.isDigit(ch)
        case "space": return ch == Byte.space || ch == Byte.tab || ch == 0x0A || ch == 0x0D
        case "upper": return Byte.isUpper(ch) || (caseFold && Byte.isLower(ch))
        case "xdigit":
            return Byte.isDigit(ch) || (ch >= 0x41 && ch <= 0x46) || (ch >= 0x61 && ch <= 0x66)
        default: return nil
        }
    }
}

// MARK: - Byte constants and ASCII classes

/// ASCII bytes and predicates used by the matcher and the pattern parser.
enum Byte {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let bang: UInt8 = 0x21
    static let hash: UInt8 = 0x23
    static let star: UInt8 = 0x2A
    static let dash: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let question: UInt8 = 0x3F
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let caret: UInt8 = 0x5E

    @inline(__always) static func isUpper(_ ch: UInt8) -> Bool { ch >= 0x41 && ch <= 0x5A }
    @inline(__always) static func isLower(_ ch: UInt8) -> Bool { ch >= 0x61 && ch <= 0x7A }
    @inline(__always) static func isAlpha(_ ch: UInt8) -> Bool { isUpper(ch) || isLower(ch) }
    @inline(__always) static func isDigit(_ ch: UInt8) -> Bool { ch >= 0x30 && ch <= 0x39 }
    @inline(__always) static func lower(_ ch: UInt8) -> UInt8 { isUpper(ch) ? ch + 32 : ch }

    /// git's GIT_GLOB_SPECIAL: the bytes that make a pattern a glob.
    @inline(__always) static func isGlobSpecial(_ ch: UInt8) -> Bool {
        ch == star || ch == question || ch == openBracket || ch == backslash
    }
}
