/// A parsed `borg_env` (or server config) file: `KEY=value` data, never executed.
///
/// The dialect is the subset of POSIX shell assignments that the original project's sample
/// files use, so the same file can still be `source`d by a person in a throw-away shell:
///
/// - one assignment per line, `KEY=value`, optionally prefixed by `export`; `export KEY` alone
///   marks an earlier key as exported;
/// - `#` starts a comment at the start of a line or after whitespace (`a#b` is a literal `#`);
/// - single quotes are literal; double quotes allow `\"`, `\\`, `\$`, `` \` `` and
///   `$NAME` / `${NAME}` of keys defined **earlier in the same file**; unquoted text allows the
///   same expansions and `\x` escapes; quoted values may span lines;
/// - everything else that a shell would *do* is rejected with file:line and the fix: command
///   substitution `$(...)` and backticks, `${NAME:-x}` and other parameter operators, special
///   parameters (`$1`, `$@`, `$?` ...), `$'...'`, unquoted `; & | < > ( )`, a leading `~`,
///   unquoted whitespace inside a value, and any line that is not an assignment.
///
/// Source of the semantics: POSIX.1-2017 Shell Command Language, 2.2 Quoting and 2.6 Word
/// Expansions (bash behaves the same for this subset).
public struct EnvFile: Sendable, Equatable {
    /// One `KEY=value` line.
    public struct Assignment: Sendable, Equatable {
        public var key: String
        /// The value after quote removal and expansion.
        public var value: String
        /// Whether the key was exported (`export KEY=...` or a later `export KEY`).
        public var exported: Bool
        /// 1-based line of the assignment.
        public var line: Int
    }

    /// The file name used in error messages.
    public var file: String
    /// Every assignment, in file order (a key assigned twice appears twice).
    public var assignments: [Assignment]

    /// The last assignment of `key`, if any.
    public func assignment(_ key: String) -> Assignment? {
        assignments.last { $0.key == key }
    }

    /// The value of the last assignment of `key`, if any.
    public subscript(key: String) -> String? { assignment(key)?.value }

    /// The distinct keys in order of first appearance, each with its final assignment.
    public var finalAssignments: [Assignment] {
        var seen: [String: Int] = [:]
        var result: [Assignment] = []
        for a in assignments {
            if let i = seen[a.key] { result[i] = a } else { seen[a.key] = result.count; result.append(a) }
        }
        return result
    }

    /// Parses `text`; `file` names the file in errors.
    /// - Throws: `ConfigError` with the line of the first problem.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> EnvFile {
        if text.unicodeScalars.first == "\u{FEFF}" {
            throw ConfigError(
                file: file, line: 1, problem: "the file starts with an invisible UTF-8 byte-order mark",
                fix: "remove it: sed -i '1s/^\\xEF\\xBB\\xBF//' \(file)")
        }
        if let nul = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex(where: { $0.contains("\u{0}") }) {
            throw ConfigError(
                file: file, line: nul + 1, problem: "the line holds a NUL byte, which no program argument or environment can carry",
                fix: "remove the NUL byte (cat -v \(file) shows it as ^@)")
        }
        var parser = Parser(chars: Array(text.unicodeScalars), file: file)
        return EnvFile(file: file, assignments: try parser.run())
    }

    private struct Parser {
        let chars: [Unicode.Scalar]
        let file: String
        var pos = 0
        var line = 1
        var result: [Assignment] = []

        init(chars: [Unicode.Scalar], file: String) {
            self.chars = chars
            self.file = file
        }

        var current: Unicode.Scalar? { pos < chars.count ? chars[pos] : nil }
        func peek(_ offset: Int = 1) -> Unicode.Scalar? {
            pos + offset < chars.count ? chars[pos + offset] : nil
        }

        func error(_ problem: String, fix: String, at errorLine: Int? = nil) -> ConfigError {
            ConfigError(file: file, line: errorLine ?? line, problem: problem, fix: fix)
        }

        static func isBlank(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\r" }
        static func isNameStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
        }
        static func isNameChar(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || ("0"..."9").contains(c) }

        mutating func skipBlanks() {
            while let c = current, Parser.isBlank(c) { pos += 1 }
        }

        mutating func skipToEndOfLine() {
            while let c = current, c != "\n" { pos += 1 }
        }

        mutating func readWord() -> String {
            var s = String.UnicodeScalarView()
            while let c = current, Parser.isNameChar(c) { s.append(c); pos += 1 }
            return String(s)
        }

        mutating func run() throws(ConfigError) -> [Assignment] {
            while true {
                skipBlanks()
                guard let c = current else { break }
                if c == "\n" { pos += 1; line += 1; continue }
                if c == "#" { skipToEndOfLine(); continue }
                try statement()
            }
            return result
        }

        mutating func statement() throws(ConfigError) {
            let startLine = line
            var word = readWord()
            var exported = false
            if word == "export", let c = current, Parser.isBlank(c) {
                skipBlanks()
                exported = true
                word = readWord()
                if word.isEmpty {
                    throw error("`export` must be followed by a KEY or KEY=value", fix: "write `export KEY=value`")
                }
            }
            guard !word.isEmpty, current == "=" || exported else {
                let rest =
                    String(String.UnicodeScalarView(chars[pos..<min(chars.count, pos + 40)]))
                    .split(separator: "\n").first.map(String.init) ?? ""
                let shown = (word + rest).trimmingBlanks()
                throw error(
                    "`\(shown)` is not a KEY=value line; this file is read as data and never executed",
                    fix: "keep only KEY=value lines (optionally with `export`) and # comments")
            }
            guard let first = word.unicodeScalars.first, Parser.isNameStart(first) else {
                throw error("`\(word)` is not a valid key name", fix: "key names start with a letter or _")
            }
            if current != "=" {
                // `export KEY`: mark an earlier assignment exported.
                try endOfStatement()
                guard let i = result.lastIndex(where: { $0.key == word }) else {
                    throw error(
                        "`export \(word)` names a key that is not assigned above",
                        fix: "write `export \(word)=value`", at: startLine)
                }
                result[i].exported = true
                return
            }
            pos += 1  // '='
            let value = try readValue()
            try endOfStatement()
            result.append(Assignment(key: word, value: value, exported: exported, line: startLine))
        }

        mutating func endOfStatement() throws(ConfigError) {
            skipBlanks()
            guard let c = current else { return }
            if c == "\n" { return }
            if c == "#" { skipToEndOfLine(); return }
            throw error(
                "unquoted whitespace inside a value (a shell would run the rest as a command)",
                fix: "quote the whole value: KEY=\"a b\" or KEY='a b'")
        }

        mutating func readValue() throws(ConfigError) -> String {
            var out = String.UnicodeScalarView()
            if current == "~" {
                throw error(
                    "a value starting with `~` depends on the shell's home directory",
                    fix: "write the full path, for example /root/...")
            }
            while let c = current {
                if Parser.isBlank(c) || c == "\n" { break }
                switch c {
                case "'":
                    let open = line
                    pos += 1
                    while true {
                        guard let q = current else {
                            throw error("unterminated single quote", fix: "close the quote with '", at: open)
                        }
                        pos += 1
                        if q == "'" { break }
                        if q == "\n" { line += 1 }
                        out.append(q)
                    }
                case "\"":
                    try readDoubleQuoted(into: &out)
                case "\\":
                    pos += 1
                    guard let e = current else { break }
                    pos += 1
                    if e == "\n" { line += 1 } else { out.append(e) }
                case "$":
                    try expand(into: &out, quoted: false)
                case "`":
                    throw error("backticks (command substitution) are not allowed", fix: "write the value itself; this file is never executed")
                case ";", "&", "|", "<", ">", "(", ")":
                    throw error("unquoted `\(c)` is a shell operator", fix: "quote the value if `\(c)` is part of it, or remove the command")
                default:
                    out.append(c)
                    pos += 1
                }
            }
            return String(out)
        }

        mutating func readDoubleQuoted(into out: inout String.UnicodeScalarView) throws(ConfigError) {
            let open = line
            pos += 1
            while true {
                guard let c = current else {
                    throw error("unterminated double quote", fix: "close the quote with \"", at: open)
                }
                switch c {
                case "\"":
                    pos += 1
                    return
                case "\\":
                    guard let e = peek() else { pos += 1; continue }
                    if e == "$" || e == "`" || e == "\"" || e == "\\" {
                        out.append(e); pos += 2
                    } else if e == "\n" {
                        pos += 2; line += 1
                    } else {
                        out.append(c); pos += 1
                    }
                case "$":
                    try expand(into: &out, quoted: true)
                case "`":
                    throw error("backticks (command substitution) are not allowed", fix: "write the value itself; this file is never executed")
                default:
                    if c == "\n" { line += 1 }
                    out.append(c)
                    pos += 1
                }
            }
        }

        /// At a `$`: appends the value of `$NAME` / `${NAME}`, or a literal `$`.
        mutating func expand(into out: inout String.UnicodeScalarView, quoted: Bool) throws(ConfigError) {
            guard let n = peek() else { out.append("$"); pos += 1; return }
            let name: String
            if n == "(" {
                throw error("`$(...)` (command substitution) is not allowed", fix: "write the value itself; this file is never executed")
            } else if n == "{" {
                pos += 2
                name = readWord()
                guard current == "}", !name.isEmpty else {
                    throw error(
                        "only plain `${NAME}` is supported (no operators such as :- or #)",
                        fix: "write the value itself or `${NAME}` of a key defined above")
                }
                pos += 1
            } else if Parser.isNameStart(n) {
                pos += 1
                name = readWord()
            } else if !quoted && (n == "'" || n == "\"") {
                throw error("`$'...'` and `$\"...\"` quoting is not supported", fix: "use plain single or double quotes")
            } else if ("0"..."9").contains(n) || "@*#?-$!".unicodeScalars.contains(n) {
                throw error("the special parameter `$\(n)` is not allowed", fix: "write the value itself; escape a literal $ as \\$ or use single quotes")
            } else {
                out.append("$"); pos += 1
                return
            }
            guard let value = result.last(where: { $0.key == name })?.value else {
                throw error(
                    "`$\(name)` is used before it is defined in this file (the environment is not read)",
                    fix: "define \(name)=... above this line, or write the value itself")
            }
            out.append(contentsOf: value.unicodeScalars)
        }
    }
}
