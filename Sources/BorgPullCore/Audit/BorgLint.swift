/// What borg accepts silently in `borg_env` although it does not do what the line says.
///
/// Sources (borg 1.2.4 and 1.4.5, read and tried): `borg/helpers/yes.py` (`yes()` compares the
/// environment value with exact strings, no trimming, no case folding), `borg/cache.py`,
/// `borg/archiver.py` and `borg/crypto/key.py` (which variables go through `yes()`, and with
/// which accepted answers), `borg/helpers/errors.py` (`BORG_EXIT_CODES` is compared with
/// `modern`), `borg/cache.py` (`int(BORG_FILES_CACHE_TTL)`), and "Environment Variables" in
/// borg's documentation. Pattern files: `BorgPatterns.check`.
public enum BorgLint {
    /// `yes()` answers (borg/helpers/yes.py, identical in 1.2 and 1.4).
    public static let truish = ["Yes", "YES", "yes", "Y", "y", "1"]
    public static let falsish = ["No", "NO", "no", "N", "n", "0"]
    /// Values `yes()` reads as "take the default" (which is no for every variable below).
    public static let defaultish = ["Default", "DEFAULT", "default", "D", "d", ""]

    /// Variables borg answers a question with, and what it reads as yes. Any other value is
    /// read as no (an invalid answer with `retry=False` returns the default, False).
    public static let yesNoVariables: [String: [String]] = [
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": truish,
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": truish,
        "BORG_DISPLAY_PASSPHRASE": truish,
        // `truish=('YES',)` in archiver.py: only the upper-case word.
        "BORG_CHECK_I_KNOW_WHAT_I_AM_DOING": ["YES"],
        "BORG_DELETE_I_KNOW_WHAT_I_AM_DOING": ["YES"]
    ]

    /// Every variable borg 1.2.4 or 1.4.5 reads (its source, tests and build variables left out).
    /// Any other `BORG_*` name is ignored by borg without a word.
    public static let borgVariables: Set<String> = [
        "BORG_BASE_DIR", "BORG_CACHE_DIR", "BORG_CONFIG_DIR", "BORG_SECURITY_DIR", "BORG_KEYS_DIR", "BORG_KEY_FILE",
        "BORG_REPO", "BORG_PASSPHRASE", "BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD", "BORG_NEW_PASSPHRASE",
        "BORG_DISPLAY_PASSPHRASE", "BORG_HOST_ID", "BORG_HOSTNAME", "BORG_USERNAME", "BORG_LOGGING_CONF",
        "BORG_RSH", "BORG_REMOTE_PATH", "BORG_FILES_CACHE_SUFFIX", "BORG_FILES_CACHE_TTL", "BORG_SHOW_SYSINFO",
        "BORG_FUSE_IMPL", "BORG_SELFTEST", "BORG_WORKAROUNDS", "BORG_EXIT_CODES", "BORG_MSGPACK_VERSION_CHECK",
        "BORG_USE_CHUNKS_ARCHIVE", "BORG_JSON_INDENT", "BORG_MOUNT_DATA_CACHE_ENTRIES",
        "BORG_RELOCATED_REPO_ACCESS_IS_OK", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK",
        "BORG_CHECK_I_KNOW_WHAT_I_AM_DOING", "BORG_DELETE_I_KNOW_WHAT_I_AM_DOING"
    ]

    /// Findings for the `BORG_*` assignments of `borg_env` that borg reads differently from what
    /// they say. `skip`: keys borgpull reads or manages itself (never passed to borg as written).
    public static func environment(_ env: EnvFile, skip: Set<String>) -> [Finding] {
        var out: [Finding] = []
        for a in env.finalAssignments where a.key.hasPrefix("BORG_") && !skip.contains(a.key) {
            let loc = "\(env.file):\(a.line)"
            let shown = LogText.sanitize(a.value)
            let export = a.exported ? "export " : ""
            if let yes = yesNoVariables[a.key] {
                guard !yes.contains(a.value), !falsish.contains(a.value), !defaultish.contains(a.value) else { continue }
                let meantYes = looksLikeYes(a.value)
                let corrected = "\(export)\(a.key)=\(meantYes ? (yes.contains("yes") ? "yes" : yes[0]) : "no")"
                out.append(
                    Finding(
                        .fail, check: "env.yesno",
                        what: "borg reads \(a.key)=\"\(shown)\" as no: it accepts only \(yes.joined(separator: " ")) as yes (exact, case and blanks count)",
                        location: loc, expected: yes.joined(separator: ", ") + " (or " + falsish.joined(separator: ", ") + ")",
                        actual: "\"\(shown)\"", fix: "write the line as: \(corrected)"))
                continue
            }
            switch a.key {
            case "BORG_FILES_CACHE_TTL", "BORG_MOUNT_DATA_CACHE_ENTRIES":
                if Int(a.value.trimmingBlanks()) == nil {
                    out.append(
                        Finding(
                            .fail, check: "env.integer",
                            what: "borg converts \(a.key) with int(): \"\(shown)\" stops every borg run with a ValueError traceback",
                            location: loc, expected: "a whole number", actual: "\"\(shown)\"",
                            fix: "write the line as: \(export)\(a.key)=\(a.key == "BORG_FILES_CACHE_TTL" ? "20" : "8")"))
                }
            case "BORG_EXIT_CODES":
                if a.value != "modern" && a.value != "legacy" {
                    out.append(
                        Finding(
                            .warn, check: "env.exitcodes",
                            what: "borg 1.4 compares BORG_EXIT_CODES with `modern` exactly; \"\(shown)\" means legacy (rc 2 for every error)",
                            location: loc, expected: "modern or legacy", actual: "\"\(shown)\"",
                            fix: "write the line as: \(export)BORG_EXIT_CODES=\(a.value.lowercased().contains("mod") ? "modern" : "legacy")"))
                }
            default:
                guard !borgVariables.contains(a.key) else { continue }
                let near = nearest(a.key)
                out.append(
                    Finding(
                        .warn, check: "env.unknown",
                        what: "borg reads no variable \(a.key); it ignores the line without a word",
                        location: loc, expected: near.map { "\($0) (a name borg reads)" } ?? "a variable from borg's \"Environment Variables\"",
                        actual: a.key,
                        fix: near.map { "write the line as: \(export)\($0)=\(quoted(a.value))" }
                            ?? "remove the line (see `borg help` / borg docs, Environment Variables)"))
            }
        }
        return out
    }

    /// `v` as borg_env would need it written (single quotes unless plain).
    static func quoted(_ v: String) -> String {
        if !v.isEmpty, v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._/-:@%+,".contains($0)) }) { return v }
        return "'" + v.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// Words people write for yes that borg does not read as yes.
    static func looksLikeYes(_ v: String) -> Bool {
        let t = v.trimmingBlanks().lowercased()
        return truish.map { $0.lowercased() }.contains(t) || ["true", "on", "enable", "enabled", "ok", "t"].contains(t)
    }

    /// The borg variable one or two edits away from `key`, if exactly that is a likely typo.
    static func nearest(_ key: String) -> String? {
        var best: (name: String, d: Int)? = nil
        for name in borgVariables.sorted() {
            let d = distance(name, key)
            if d <= 2 && d < (best?.d ?? Int.max) { best = (name, d) }
        }
        return best?.name
    }

    /// Levenshtein distance (short ASCII names).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        var row = Array(0...y.count)
        for i in 1...max(1, x.count) where !x.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(1, y.count) where !y.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return x.isEmpty ? y.count : row[y.count]
    }
}
