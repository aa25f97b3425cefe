/// One sudoers file as read from disk (`/etc/sudoers`, `/etc/sudoers.d/NAME`).
public struct SudoersSource: Sendable, Equatable {
    public var file: String
    public var text: String
    public init(file: String, text: String) {
        self.file = file
        self.text = text
    }
}

/// The ssh user as sudo matches it (name, uid, group names and gids).
public struct SudoUser: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var groups: Set<String>
    public var gids: Set<UInt32>
    public init(name: String, uid: UInt32, groups: Set<String>, gids: Set<UInt32>) {
        self.name = name
        self.uid = uid
        self.groups = groups
        self.gids = gids
    }
}

/// sudoers(5) analysis for the ssh user (sudo 1.9).
///
/// Read: `#include`/`@include` directives are skipped (the caller passes /etc/sudoers and every
/// file of /etc/sudoers.d); `\` line continuation; comments; `User_Alias`, `Cmnd_Alias`
/// (`Cmd_Alias`), `Runas_Alias`, `Host_Alias`; `Defaults` lines; user specifications
/// `USERS HOSTS = (RUNAS) TAGS: CMND, ...` with runas and tags carried from one command to the
/// next as sudo does. A user list matches the ssh user by name, `#uid`, `%group`, `%#gid`,
/// `ALL` or an alias, the last matching item winning (`!` negates). Host lists are not
/// evaluated: every rule is taken to apply on this host.
///
/// For every rule that applies to the ssh user: OK only for exactly
/// `/usr/bin/systemctl start run-borg-backup.service` (or, for `trigger --via sudo-client`,
/// `/ABS/PATH/borgpull-client -c /ABS/DIR BACKUP`), run as root (`(root)` or no runas list),
/// with `NOPASSWD` and without `SETENV`. FAIL for `ALL`, a command without arguments (sudo then
/// allows any arguments), wildcards, other verbs or units, sudoedit, negated commands, other
/// runas users, a missing NOPASSWD, and lines the analysis cannot read. `Defaults` that keep the
/// caller's environment (`!env_reset`, `setenv`) for the ssh user are a FAIL too.
public enum SudoersRules {
    static let tags: Set<String> = [
        "NOPASSWD", "PASSWD", "NOEXEC", "EXEC", "SETENV", "NOSETENV", "LOG_INPUT", "NOLOG_INPUT",
        "LOG_OUTPUT", "NOLOG_OUTPUT", "MAIL", "NOMAIL", "FOLLOW", "NOFOLLOW", "INTERCEPT", "NOINTERCEPT"
    ]
    static let options: Set<String> = [
        "CWD", "CHROOT", "ROLE", "TYPE", "TIMEOUT", "NOTBEFORE", "NOTAFTER", "APPARMOR_PROFILE"
    ]

    struct LogicalLine { var file: String; var line: Int; var text: String }

    /// Joins continuation lines and drops comments and blank lines.
    static func logicalLines(_ src: SudoersSource) -> [LogicalLine] {
        var out: [LogicalLine] = []
        var pending = ""
        var start = 0
        for (i, raw) in src.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var l = String(raw)
            if pending.isEmpty { start = i + 1 }
            if l.hasSuffix("\\") {
                l.removeLast()
                pending += l + " "
                continue
            }
            let full = stripComment(pending + l).trimmingBlanks()
            pending = ""
            if full.isEmpty { continue }
            out.append(LogicalLine(file: src.file, line: start, text: full))
        }
        return out
    }

    /// Removes a `#` comment; keeps `#include`-style directives and `#uid` / `%#gid` items.
    static func stripComment(_ s: String) -> String {
        let t = s.trimmingBlanks()
        if t.hasPrefix("#include") || t.hasPrefix("#includedir") { return t }
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            if chars[i] == "#" {
                let next = i + 1 < chars.count ? chars[i + 1] : " "
                let prev = i > 0 ? chars[i - 1] : " "
                let isId = next.isNumber && (prev == " " || prev == "\t" || prev == "," || prev == "%" || prev == "(" || prev == "=" || prev == ":")
                if !isId && (i == 0 || prev == " " || prev == "\t") { return String(chars[..<i]) }
            }
            i += 1
        }
        return s
    }

    /// Splits on `sep` outside parentheses, honouring `\` escapes.
    static func split(_ s: String, on sep: Character) -> [String] {
        var out: [String] = []
        var cur = ""
        var depth = 0
        var escaped = false
        for c in s {
            if escaped { cur.append(c); escaped = false; continue }
            if c == "\\" { cur.append(c); escaped = true; continue }
            if c == "(" { depth += 1 } else if c == ")" { depth = max(0, depth - 1) }
            if c == sep && depth == 0 { out.append(cur); cur = "" } else { cur.append(c) }
        }
        out.append(cur)
        return out.map { $0.trimmingBlanks() }
    }

    /// Items of a comma-separated list (`a, b,c`).
    static func items(_ s: String) -> [String] { split(s, on: ",").filter { !$0.isEmpty } }

    struct Aliases {
        var user: [String: [String]] = [:]
        var cmnd: [String: [String]] = [:]
        var runas: [String: [String]] = [:]
    }

    /// Does a user list match `u`? nil = no item matched.
    static func userListMatches(_ list: [String], _ u: SudoUser, _ aliases: Aliases, depth: Int = 0) -> Bool? {
        if depth > 8 { return nil }
        for raw in list.reversed() {
            var item = raw
            var negated = false
            while item.hasPrefix("!") { negated.toggle(); item = String(item.dropFirst()).trimmingBlanks() }
            var m: Bool?
            if item == "ALL" || item == u.name || item == "#\(u.uid)" {
                m = true
            } else if item.hasPrefix("%#") {
                m = UInt32(item.dropFirst(2)).map { u.gids.contains($0) } ?? false
            } else if item.hasPrefix("%") {
                m = u.groups.contains(String(item.dropFirst()))
            } else if let a = aliases.user[item] {
                m = userListMatches(a, u, aliases, depth: depth + 1)
            }
            if m == true { return !negated }
        }
        return nil
    }

    /// Expands Cmnd_Alias names in a command list item.
    static func expandCommand(_ cmd: String, _ aliases: Aliases, depth: Int = 0) -> [String] {
        var c = cmd
        var neg = ""
        while c.hasPrefix("!") { neg += "!"; c = String(c.dropFirst()).trimmingBlanks() }
        if depth < 8, let a = aliases.cmnd[c] {
            return a.flatMap { expandCommand(neg + $0, aliases, depth: depth + 1) }
        }
        return [cmd]
    }

    /// Why `cmd` (one expanded command) is not exactly the trigger, or nil if it is.
    static func commandProblem(_ cmd: String) -> String? {
        var c = cmd
        // A digest prefix (sha256:BASE64) pins the binary; it does not widen anything.
        if let colon = c.firstIndex(of: ":"), c[..<colon].hasPrefix("sha"),
            let sp = c.firstIndex(of: " "), colon < sp
        {
            c = String(c[c.index(after: sp)...]).trimmingBlanks()
        }
        if c.hasPrefix("!") { return "a negated command (`\(cmd)`): an allow-list with exceptions is broader than one command" }
        let words = c.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let prog = words.first else { return "an empty command" }
        if prog == "ALL" { return "ALL allows every command as root" }
        if prog == "sudoedit" { return "sudoedit lets the user edit files as root" }
        if c.contains(where: { "*?[".contains($0) }) { return "wildcards in `\(c)` match more than one command" }
        if words.count == 1 { return "`\(prog)` without arguments allows it with any arguments" }
        if words == ["/usr/bin/systemctl", "start", TriggerRules.unit] { return nil }
        // `trigger --via sudo-client` (hosts without systemd): exactly one BACKUP of one config dir.
        if words.count == 4, prog.hasPrefix("/"), prog.hasSuffix("/borgpull-client"), words[1] == "-c",
            words[2].hasPrefix("/"), words[3] == "BACKUP"
        {
            return nil
        }
        if prog.hasSuffix("/systemctl") && words.count >= 2 && words[1] != "start" {
            return "verb `\(words[1])` (only `start` is needed)"
        }
        if prog.hasSuffix("/systemctl") && words.count >= 3 && words[1] == "start" && words.dropFirst(2).joined(separator: " ") != TriggerRules.unit {
            return "units `\(words.dropFirst(2).joined(separator: " "))` (only \(TriggerRules.unit))"
        }
        return "`\(c)` is not exactly `\(TriggerRules.sudoCommand)`"
    }

    /// Analyses `sources` (in the order sudo reads them) for `user`.
    public static func check(_ sources: [SudoersSource], user: SudoUser) -> TriggerAnalysis {
        var result = TriggerAnalysis()
        var aliases = Aliases()
        let fixLine = "\(user.name) ALL=(root) NOPASSWD: \(TriggerRules.sudoCommand)"
        for src in sources {
            for ll in logicalLines(src) {
                let t = ll.text
                let loc = "\(ll.file):\(ll.line)"
                let first = t.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
                if t.hasPrefix("#include") || t.hasPrefix("@include") { continue }
                // Aliases: TYPE NAME = a, b : NAME2 = c
                if ["User_Alias", "Cmnd_Alias", "Cmd_Alias", "Runas_Alias", "Host_Alias"].contains(first) {
                    let body = String(t.dropFirst(first.count))
                    for def in split(body, on: ":") {
                        guard let eq = def.firstIndex(of: "=") else { continue }
                        let name = String(def[..<eq]).trimmingBlanks()
                        let members = items(String(def[def.index(after: eq)...]))
                        switch first {
                        case "User_Alias": aliases.user[name] = members
                        case "Runas_Alias": aliases.runas[name] = members
                        case "Host_Alias": break
                        default: aliases.cmnd[name] = members
                        }
                    }
                    continue
                }
                if first.hasPrefix("Defaults") {
                    let applies: Bool
                    if first == "Defaults" {
                        applies = true
                    } else if first.hasPrefix("Defaults:") {
                        applies = userListMatches(items(String(first.dropFirst("Defaults:".count))), user, aliases) == true
                    } else {
                        applies = false
                    }
                    let settings = items(String(t.dropFirst(first.count)))
                    for s in settings where applies {
                        let name = s.split(separator: "=").first.map { String($0).trimmingBlanks() } ?? s
                        if name == "!env_reset" || name == "setenv" {
                            result.findings.append(
                                Finding(
                                    .fail, check: "trigger.sudoers.defaults",
                                    what: "`Defaults \(s)` lets the caller's environment reach commands run as root",
                                    location: loc, expected: "env_reset, no setenv", actual: t,
                                    fix: "remove `\(s)` from this Defaults line (visudo -f \(ll.file))"))
                        }
                    }
                    continue
                }
                // User specification.
                guard let eq = t.firstIndex(of: "=") else {
                    if userListMatches([first], user, aliases) == true {
                        result.findings.append(
                            Finding(
                                .fail, check: "trigger.sudoers.unreadable",
                                what: "a sudoers line for the ssh user that this audit cannot read", location: loc,
                                expected: fixLine, actual: t, fix: "rewrite it as `\(fixLine)` (visudo -f \(ll.file))"))
                    }
                    continue
                }
                let head = String(t[..<eq])
                var normalized = ""
                for part in head.split(separator: ",", omittingEmptySubsequences: false) {
                    if !normalized.isEmpty { normalized += "," }
                    normalized += String(part).trimmingBlanks()
                }
                let headWords = normalized.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard headWords.count == 2 else { continue }
                guard userListMatches(items(headWords[0]), user, aliases) == true else { continue }
                let body = String(t[t.index(after: eq)...])
                // `: HOSTS = ...` continuations are not read: conservative FAIL.
                let bodyEqualsOutsideOptions =
                    body.filter { $0 == "=" }.count
                    - options.reduce(0) { $0 + body.components(separatedByWord: $1 + "=") }
                if bodyEqualsOutsideOptions > 0 {
                    result.findings.append(
                        Finding(
                            .fail, check: "trigger.sudoers.unreadable",
                            what: "a sudoers rule for the ssh user with several host specifications; this audit does not read them",
                            location: loc, expected: fixLine, actual: t, fix: "write one rule per line: `\(fixLine)` (visudo -f \(ll.file))"))
                    continue
                }
                var runas: String? = nil
                var tagSet: Set<String> = []
                for var entry in items(body) {
                    if entry.hasPrefix("("), let close = entry.firstIndex(of: ")") {
                        runas = String(entry[entry.index(after: entry.startIndex)..<close]).trimmingBlanks()
                        entry = String(entry[entry.index(after: close)...]).trimmingBlanks()
                    }
                    // TAG: and OPTION=value prefixes.
                    while true {
                        if let colon = entry.firstIndex(of: ":"), tags.contains(String(entry[..<colon])) {
                            let tag = String(entry[..<colon])
                            // A tag overrides its opposite (NOPASSWD vs PASSWD ...).
                            let opposite = tag.hasPrefix("NO") ? String(tag.dropFirst(2)) : "NO" + tag
                            tagSet.remove(opposite)
                            tagSet.insert(tag)
                            entry = String(entry[entry.index(after: colon)...]).trimmingBlanks()
                            continue
                        }
                        if let eqIdx = entry.firstIndex(of: "="), options.contains(String(entry[..<eqIdx])),
                            let sp = entry.firstIndex(where: { $0 == " " || $0 == "\t" })
                        {
                            entry = String(entry[sp...]).trimmingBlanks()
                            continue
                        }
                        break
                    }
                    for cmd in expandCommand(entry, aliases) {
                        var problems: [String] = []
                        if let p = commandProblem(cmd) { problems.append(p) }
                        let rs = (runas ?? "root")
                        let runUsers = items(rs.split(separator: ":", omittingEmptySubsequences: false).first.map(String.init) ?? "")
                        let runGroups = rs.contains(":") ? String(rs.split(separator: ":", omittingEmptySubsequences: false)[1]).trimmingBlanks() : ""
                        if runUsers != ["root"] || !runGroups.isEmpty {
                            problems.append("runs as (\(rs)) instead of (root)")
                        }
                        if tagSet.contains("SETENV") { problems.append("SETENV lets the caller pass environment variables to a root command") }
                        if !tagSet.contains("NOPASSWD") && problems.isEmpty {
                            problems.append("no NOPASSWD: sudo would ask the ForceCommand for a password")
                        }
                        let isTrigger = commandProblem(cmd) == nil
                        if isTrigger { result.grantsTrigger = true }
                        if problems.isEmpty {
                            result.findings.append(
                                Finding(
                                    .ok, check: "trigger.sudoers",
                                    what: "sudoers allows the ssh user exactly the trigger", location: loc,
                                    expected: fixLine, actual: t))
                        } else {
                            result.findings.append(
                                Finding(
                                    .fail, check: "trigger.sudoers",
                                    what: "sudoers allows the ssh user more than `start` of \(TriggerRules.unit): " + problems.joined(separator: "; "),
                                    location: loc, expected: fixLine, actual: t,
                                    fix: "replace the line with `\(fixLine)` (visudo -f \(ll.file))"))
                        }
                    }
                }
            }
        }
        return result
    }
}
