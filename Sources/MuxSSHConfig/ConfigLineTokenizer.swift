// MARK: - Tokenized line

/// One configuration line split the way OpenSSH's `readconf.c` splits it: a keyword
/// (delimited by whitespace or a single `=`) followed by arguments split like `argv_split`
/// (double and single quotes, backslash escapes, `#` at the start of a word ends the line).
struct ConfigLine: Sendable, Equatable {
    /// The keyword lowercased (ASCII), for dispatch.
    var keyword: String
    /// The keyword as written, for messages.
    var spelledKeyword: String
    /// Everything after the keyword with leading whitespace and `=` removed, unsplit.
    /// `ProxyCommand` takes its value this way.
    var rawArgument: String
    /// The arguments after quote removal.
    var arguments: [String]
}

/// Why a line could not be tokenized.
enum ConfigLineProblem: Sendable, Equatable {
    /// A keyword with nothing after it.
    case missingArgument(keyword: String)
    /// An unterminated `"` or `'`.
    case invalidQuotes
}

/// The outcome of tokenizing one line.
enum ConfigLineResult: Sendable, Equatable {
    /// A blank or comment line.
    case empty
    case line(ConfigLine)
    case problem(ConfigLineProblem)
}

// MARK: - Tokenizer

/// Splits configuration text into lines and lines into keyword + arguments. Works on UTF-8
/// bytes so that `\r\n`, NUL bytes and invalid UTF-8 are handled like OpenSSH does (byte-wise),
/// in linear time.
enum ConfigLineTokenizer {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let carriageReturn: UInt8 = 0x0D
    static let newline: UInt8 = 0x0A
    static let formFeed: UInt8 = 0x0C
    static let equals: UInt8 = 0x3D
    static let doubleQuote: UInt8 = 0x22
    static let singleQuote: UInt8 = 0x27
    static let backslash: UInt8 = 0x5C
    static let hash: UInt8 = 0x23

    /// `WHITESPACE` in OpenSSH: space, tab, CR, LF.
    static func isWhitespace(_ b: UInt8) -> Bool {
        b == space || b == tab || b == carriageReturn || b == newline
    }

    /// Splits text into lines on `\n`, keeping line numbering (the last line may lack `\n`).
    static func lines(of text: String) -> [ArraySlice<UInt8>] {
        let bytes = Array(text.utf8)
        return bytes.split(separator: newline, omittingEmptySubsequences: false).map { $0 }
    }

    /// Tokenizes one line (without its `\n`).
    static func tokenize(_ line: ArraySlice<UInt8>) -> ConfigLineResult {
        // Strip trailing whitespace (and form feed) like process_config_line_depth.
        var end = line.endIndex
        while end > line.startIndex {
            let b = line[end - 1]
            guard isWhitespace(b) || b == formFeed else { break }
            end -= 1
        }
        var i = line.startIndex
        while i < end && isWhitespace(line[i]) { i += 1 }
        guard i < end else { return .empty }

        // MARK: Keyword (strdelim with '=' splitting)
        let keywordStart = i
        while i < end && !isWhitespace(line[i]) && line[i] != equals {
            i += 1
        }
        let keywordBytes = line[keywordStart..<i]
        if keywordBytes.first == hash { return .empty }
        let spelled = String(decoding: keywordBytes, as: UTF8.self)
        let keyword = asciiLowercased(spelled)

        // Skip whitespace, at most one '=', whitespace.
        var sawEquals = false
        if i < end && line[i] == equals { sawEquals = true; i += 1 }
        while i < end && isWhitespace(line[i]) { i += 1 }
        if !sawEquals && i < end && line[i] == equals {
            i += 1
            while i < end && isWhitespace(line[i]) { i += 1 }
        }
        if keywordBytes.isEmpty {
            // A line starting with '=': treat it as an unknown keyword so it is reported
            // but harmless.
            return .line(ConfigLine(keyword: "", spelledKeyword: String(decoding: line[keywordStart..<end], as: UTF8.self),
                                    rawArgument: "", arguments: []))
        }
        guard i < end else { return .problem(.missingArgument(keyword: spelled)) }

        let rest = line[i..<end]
        var rawStart = rest.startIndex
        while rawStart < rest.endIndex && (isWhitespace(rest[rawStart]) || rest[rawStart] == equals) {
            rawStart += 1
        }
        let raw = String(decoding: rest[rawStart...], as: UTF8.self)
        guard let arguments = splitArguments(rest) else { return .problem(.invalidQuotes) }
        return .line(ConfigLine(keyword: keyword, spelledKeyword: spelled, rawArgument: raw, arguments: arguments))
    }

    // MARK: argv_split

    /// Splits arguments like OpenSSH `argv_split(s, ..., terminate_on_comment=1)`.
    /// Returns nil on an unterminated quote.
    static func splitArguments(_ s: ArraySlice<UInt8>) -> [String]? {
        var result: [String] = []
        var i = s.startIndex
        let end = s.endIndex
        while i < end {
            let c = s[i]
            if c == space || c == tab { i += 1; continue }
            if c == hash { break }
            var quote: UInt8 = 0
            var token: [UInt8] = []
            while i < end {
                let b = s[i]
                if b == backslash {
                    let next: UInt8? = i + 1 < end ? s[i + 1] : nil
                    if let next, next == singleQuote || next == doubleQuote || next == backslash
                        || (quote == 0 && next == space) {
                        token.append(next)
                        i += 2
                    } else {
                        token.append(b)
                        i += 1
                    }
                    continue
                }
                if quote == 0 && (b == space || b == tab) { break }
                if quote == 0 && (b == doubleQuote || b == singleQuote) {
                    quote = b
                } else if quote != 0 && b == quote {
                    quote = 0
                } else {
                    token.append(b)
                }
                i += 1
            }
            if quote != 0 { return nil }
            result.append(String(decoding: token, as: UTF8.self))
        }
        return result
    }

    // MARK: Helpers

    /// Lowercases ASCII letters only (OpenSSH `lowercase`, locale independent).
    static func asciiLowercased(_ s: String) -> String {
        var bytes = Array(s.utf8)
        for k in bytes.indices where bytes[k] >= 0x41 && bytes[k] <= 0x5A { bytes[k] += 0x20 }
        return String(decoding: bytes, as: UTF8.self)
    }
}
