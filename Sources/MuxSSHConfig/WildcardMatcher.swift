// MARK: - Wildcard matching

/// Byte-wise wildcard matching as used by OpenSSH (`match_pattern`, `match_pattern_list`)
/// and, with bracket classes, by `glob(3)` for `Include`.
///
/// The matcher is iterative with single-star backtracking, so it runs in O(pattern × string)
/// even on hostile input such as `*a*a*a*a*b` (OpenSSH's recursive version is exponential).
enum WildcardMatcher {
    static let star: UInt8 = 0x2A
    static let question: UInt8 = 0x3F
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let bang: UInt8 = 0x21
    static let caret: UInt8 = 0x5E
    static let dash: UInt8 = 0x2D
    static let comma: UInt8 = 0x2C

    /// `*` matches any run of bytes, `?` exactly one byte; with `brackets`, `[abc]`, `[a-z]`,
    /// `[!x]` / `[^x]` match one byte (an unterminated `[` is literal).
    static func matches(_ string: String, pattern: String, brackets: Bool = false) -> Bool {
        matches(Array(string.utf8), pattern: Array(pattern.utf8), brackets: brackets)
    }

    /// Byte-array form of ``matches(_:pattern:brackets:)``.
    static func matches(_ s: [UInt8], pattern p: [UInt8], brackets: Bool) -> Bool {
        var si = 0
        var pi = 0
        var starPattern = -1
        var starString = 0
        while si < s.count {
            if pi < p.count {
                let c = p[pi]
                if c == star {
                    starPattern = pi
                    starString = si
                    pi += 1
                    continue
                }
                if c == question {
                    si += 1
                    pi += 1
                    continue
                }
                if brackets && c == openBracket, let (hit, next) = matchBracket(p, at: pi, byte: s[si]) {
                    if hit {
                        si += 1
                        pi = next
                        continue
                    }
                } else if c == s[si] {
                    si += 1
                    pi += 1
                    continue
                }
            }
            guard starPattern >= 0 else { return false }
            pi = starPattern + 1
            starString += 1
            si = starString
        }
        while pi < p.count && p[pi] == star { pi += 1 }
        return pi == p.count
    }

    /// Evaluates the bracket expression starting at `p[start] == '['` against `byte`.
    /// Returns nil when the bracket is unterminated (then `[` is a literal).
    private static func matchBracket(_ p: [UInt8], at start: Int, byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == bang || p[i] == caret) {
            negate = true
            i += 1
        }
        var hit = false
        var first = true
        while i < p.count {
            let c = p[i]
            if c == closeBracket && !first {
                return (hit != negate, i + 1)
            }
            first = false
            if i + 2 < p.count && p[i + 1] == dash && p[i + 2] != closeBracket {
                if c <= byte && byte <= p[i + 2] { hit = true }
                i += 3
            } else {
                if c == byte { hit = true }
                i += 1
            }
        }
        return nil
    }

    // MARK: Pattern lists

    /// OpenSSH `match_pattern_list`: comma-separated patterns, each optionally negated with
    /// `!`. Returns `.negated` if a negated pattern matches, `.matched` if a positive one does.
    static func matchList(_ string: String, list: String, lowercase: Bool) -> ListMatch {
        let subject = lowercase ? ConfigLineTokenizer.asciiLowercased(string) : string
        let listBytes = Array((lowercase ? ConfigLineTokenizer.asciiLowercased(list) : list).utf8)
        let subjectBytes = Array(subject.utf8)
        var gotPositive = false
        var elements = listBytes.split(separator: comma, omittingEmptySubsequences: false)
        // Like OpenSSH, a trailing comma (or an empty list) adds no empty pattern.
        if elements.last?.isEmpty == true { elements.removeLast() }
        for element in elements {
            var sub = Array(element)
            var negated = false
            if sub.first == bang {
                negated = true
                sub.removeFirst()
            }
            // OpenSSH refuses sub-patterns of 1024 bytes or more as "no match".
            if sub.count >= 1023 { return .noMatch }
            if matches(subjectBytes, pattern: sub, brackets: false) {
                if negated { return .negated }
                gotPositive = true
            }
        }
        return gotPositive ? .matched : .noMatch
    }

    /// Result of ``matchList(_:list:lowercase:)``.
    enum ListMatch: Sendable, Equatable {
        case matched
        case noMatch
        case negated
    }
}
