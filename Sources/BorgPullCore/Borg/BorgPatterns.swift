/// Syntax check of borg pattern files, as borg 1.2/1.4 reads them (`borg help patterns`;
/// borg/patterns.py: `clean_lines`, `parse_inclexcl_command`, `parse_pattern`).
///
/// - Every line is stripped of surrounding whitespace; empty lines and lines starting with `#`
///   are skipped.
/// - `--patterns-from` files (`borg_patterns`): each line starts with a command character:
///   `R`/`r` root path, `P`/`p` default style for the following lines, `+` include, `-`
///   exclude, `!` exclude without recursing; the rest (after optional blanks) must not be
///   empty. The default style there is `sh:`.
/// - `--exclude-from` files (`borg_excludes`): each line is one pattern, default style `fm:`.
/// - A pattern may start with a style prefix: two alphanumerics and `:`; only `fm`, `sh`, `re`,
///   `pp`, `pf` exist, anything else is borg's "Unknown pattern style" error. `re:` patterns
///   must compile as regular expressions (Python `re`; checked here with Swift's `Regex`, whose
///   syntax is a superset for what pattern files use; a pattern Swift rejects is reported).
/// - Paths are matched without their leading slash (borg 1.2 changed this); borg strips a
///   leading slash from fm:, sh:, pp: and pf: patterns, not from re: ones: `re:^/...` is a WARN.
public enum BorgPatterns {
    public enum Kind: Sendable { case patterns, excludes }

    public static let styles: Set<String> = ["fm", "sh", "re", "pp", "pf"]

    /// Findings for one file: FAIL per line borg would reject, WARN for lines that are legal but
    /// almost certainly not meant, one OK when the file is clean.
    public static func check(_ text: String, file: String, kind: Kind) -> [Finding] {
        var out: [Finding] = []
        var fallback = kind == .patterns ? "sh" : "fm"
        let cmdChars: [Character: String] = [
            "-": "exclude", "!": "exclude-norecurse", "+": "include",
            "R": "root", "r": "root", "P": "style", "p": "style"
        ]
        var lines = 0
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw).trimmingBlanks()
            if line.isEmpty || line.hasPrefix("#") { continue }
            lines += 1
            let loc = "\(file):\(i + 1)"
            func fail(_ what: String, expected: String, fix: String) {
                out.append(
                    Finding(
                        .fail, check: "patterns.syntax", what: what, location: loc,
                        expected: expected, actual: line, fix: fix))
            }
            func warn(_ what: String, expected: String, fix: String) {
                out.append(
                    Finding(
                        .warn, check: "patterns.syntax", what: what, location: loc,
                        expected: expected, actual: line, fix: fix))
            }
            var pattern = line
            if kind == .patterns {
                guard let first = line.first, let cmd = cmdChars[first] else {
                    fail(
                        "a pattern-file line must start with R, P, +, - or !", expected: "e.g. `- sh:/home/*/.cache`",
                        fix: "prefix the line with - (exclude) or + (include), or move plain excludes to borg_excludes")
                    continue
                }
                let rest = String(line.dropFirst()).trimmingBlanks()
                if rest.isEmpty {
                    fail("`\(first)` without a value", expected: "`\(first) VALUE`", fix: "add the value or remove the line")
                    continue
                }
                if cmd == "style" {
                    if styles.contains(rest) {
                        fallback = rest
                    } else {
                        fail(
                            "unknown pattern style `\(rest)`", expected: "one of fm, sh, re, pp, pf",
                            fix: "write e.g. `P sh`")
                    }
                    continue
                }
                if cmd == "root" {
                    if !rest.hasPrefix("/") {
                        warn(
                            "root path `\(rest)` is relative; borg resolves it against its working directory",
                            expected: "an absolute path", fix: "write `R /\(rest)`")
                    }
                    continue
                }
                pattern = rest
            } else if let f = line.first, "+-!".contains(f), line.dropFirst().first == " " {
                warn(
                    "this looks like a patterns-file line, but in an exclude file it is a literal pattern",
                    expected: "a pattern such as `/home/*/.cache`", fix: "move it to borg_patterns or drop the `\(f) ` prefix")
            }
            // Style prefix.
            var style = fallback
            var body = pattern
            let p = Array(pattern)
            if p.count > 2, p[2] == ":", p[0].isASCII, p[1].isASCII, p[0].isLetter || p[0].isNumber, p[1].isLetter || p[1].isNumber {
                let s = String(p[0...1])
                guard styles.contains(s) else {
                    fail(
                        "unknown pattern style `\(s):` (borg stops with \"Unknown pattern style\")",
                        expected: "fm:, sh:, re:, pp: or pf:", fix: "use one of the five styles, e.g. `sh:\(String(p[3...]))`")
                    continue
                }
                style = s
                body = String(p[3...])
            }
            if body.isEmpty {
                warn("empty \(style): pattern", expected: "a pattern", fix: "complete or remove the line")
                continue
            }
            if style == "re" {
                do { _ = try Regex(body) } catch {
                    fail(
                        "the regular expression does not compile, so borg refuses the pattern file",
                        expected: "a valid regular expression (borg help patterns, re:)",
                        fix: "fix the expression, or escape metacharacters with \\")
                    continue
                }
                // borg 1.2 and later match paths without the leading slash (`home/u/.cache`) and
                // strip it from fm:, sh:, pp: and pf: patterns, but not from re: ones, so
                // `^/` can never match (measured with borg 1.2.4 and 1.4.5, create --dry-run --list).
                for anchor in ["^/", "^\\/"] where body.hasPrefix(anchor) {
                    let corrected = String(line.dropLast(body.count)) + "^" + body.dropFirst(anchor.count)
                    out.append(
                        Finding(
                            .warn, check: "patterns.anchor",
                            what:
                                "this re: pattern never matches: borg matches paths without their leading slash, and strips it only from fm:, sh:, pp: and pf: patterns",
                            location: loc, expected: "the pattern without the slash after ^", actual: line,
                            fix: "write the line as: \(corrected)"))
                    break
                }
            }
        }
        if !out.contains(where: { $0.severity == .fail }) {
            out.append(
                Finding(
                    .ok, check: "patterns.syntax", what: "borg can read the pattern file", location: file,
                    expected: "valid \(kind == .patterns ? "--patterns-from" : "--exclude-from") syntax",
                    actual: "\(lines) pattern line(s)"))
        }
        return out
    }
}

/// Supported borg versions: 1.2.x (Debian 12) and 1.4.x. borg 2 drops `--append-only` and the
/// repository URLs borgpull uses; 1.1 and older lack options borgpull passes.
public enum BorgVersion {
    /// Parses `borg --version` output (`borg 1.2.4`, `borg 1.4.0b1`, `borg 2.0.0b8`). `patch` is
    /// the leading digits of the third part (0 when absent: `1.4.0b1` is patch 0).
    public static func parse(_ output: String) -> (major: Int, minor: Int, patch: Int, text: String)? {
        let words = output.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard let v = words.last(where: { $0.first?.isNumber == true }) else { return nil }
        let parts = v.split(separator: ".")
        guard parts.count >= 2, let major = Int(parts[0]) else { return nil }
        let minorDigits = parts[1].prefix { $0.isNumber }
        guard let minor = Int(minorDigits) else { return nil }
        let patch = parts.count > 2 ? Int(parts[2].prefix { $0.isNumber }) ?? 0 : 0
        return (major, minor, patch, String(v))
    }

    /// The version pinned by a setuptools entry script (`# EASY-INSTALL-ENTRY-SCRIPT:
    /// 'borgbackup==1.2.4','console_scripts','borg'`), as Debian's /usr/bin/borg has; nil if
    /// the text is not such a script.
    public static func pinnedVersion(entryScript text: String) -> String? {
        guard text.hasPrefix("#!"), let r = text.firstRange(of: "EASY-INSTALL-ENTRY-SCRIPT: 'borgbackup==") else { return nil }
        let v = text[r.upperBound...].prefix { $0 != "'" && $0 != "\n" }
        return v.isEmpty || v.count > 40 ? nil : String(v)
    }

    /// The first 1.2 release with the fix for CVE-2023-36811 (borg changelog, 1.2.5: "archive
    /// spoofing vulnerability"); every 1.4 release has it.
    public static let cveFixedPatch = 5

    /// One finding for `borg --version` output from `binary`: FAIL when unsupported, WARN for
    /// 1.2.0-1.2.4 (CVE-2023-36811), OK otherwise. Used by the client and the server audit.
    public static func check(_ output: String, binary: String) -> Finding {
        let location = "\(binary) --version"
        guard let v = parse(output) else {
            return Finding(
                .fail, check: "borg.version", what: "cannot read borg's version", location: location,
                expected: "borg 1.2.x or 1.4.x", actual: output.trimmingBlanks().isEmpty ? "(no output)" : output.trimmingBlanks(),
                fix: "apt-get install borgbackup  (or set BORG_BINARY)")
        }
        if v.major == 1 && v.minor == 2 && v.patch < cveFixedPatch {
            return Finding(
                .warn, check: "borg.version",
                what:
                    "borg \(v.text) is affected by CVE-2023-36811 (archive spoofing: someone who can write to the repository can make borg accept a forged archive; fixed in 1.2.5)",
                location: location, expected: "1.2.5 or later, or 1.4.x", actual: v.text,
                fix:
                    "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list && apt-get update && apt-get install -t bookworm-backports borgbackup  (1.2.8; or borg 1.4.x with BORG_BINARY); then once per repository, as borg's 1.2.5 upgrade notes say: borg upgrade --check-archives-tam, and borg upgrade --archives-tam if it reports archives without TAM"
            )
        }
        if v.major == 1 && (v.minor == 2 || v.minor == 4) {
            return Finding(
                .ok, check: "borg.version", what: "borg version is supported", location: location,
                expected: "1.2.5 or later, or 1.4.x", actual: v.text)
        }
        let why =
            v.major >= 2
            ? "borg 2 has no --append-only and new repository URLs; borgpull speaks the 1.x protocol"
            : "borgpull needs borg 1.2 or 1.4"
        return Finding(
            .fail, check: "borg.version", what: "unsupported borg version: \(why)", location: location,
            expected: "1.2.x or 1.4.x", actual: v.text,
            fix: "apt-get install borgbackup  (Debian 12 ships 1.2; or pip install 'borgbackup>=1.4,<2' and set BORG_BINARY)")
    }
}
