/// What `borgpull-client borg ARGS...` does with ARGS, as a pure decision: run borg in the
/// backup sandbox (as the runner), or refuse with the mode that does the job safely and the
/// equivalent command.
///
/// Why `extract` is refused: borg would restore as the runner, so owners, modes and ACLs are
/// lost and the files belong to the runner, in a directory the runner can write. `restore`
/// keeps them in its own sandbox. `extract --stdout` writes nothing locally and stays.
/// Why `key export` is refused: it would write the key file as the runner into the current
/// directory; `key-export` writes it root's, 0600, never over an existing file, and records it.
/// Why `--unsandboxed` is refused: it ran borg as root without any sandbox; `restore` and
/// `key-export` cover what it was for (SECURITY.md, "The restore sandbox").
///
/// Sources: borg 1.2 and 1.4 usage (`borg extract`, `borg key export`, "Common options").
public enum PassthroughRules {
    public enum Decision: Equatable, Sendable {
        /// Run borg; `writesWorkingDirectory`: the current directory becomes Landlock-writable
        /// (only `export-tar` writing a file there).
        case run(writesWorkingDirectory: Bool)
        /// Do not run borg: what is wrong and the command to use instead. Exit `ClientExit.usage`.
        case refuse(problem: String, fix: String)
    }

    /// borg 1.2/1.4 commands: the first of ARGS that is one of these is the command.
    public static let commands: Set<String> = [
        "benchmark", "break-lock", "check", "compact", "config", "create", "debug", "delete", "diff", "export-tar",
        "extract", "help", "import-tar", "info", "init", "key", "list", "mount", "prune", "recreate", "rename",
        "serve", "umount", "upgrade", "with-lock", "transfer", "version"
    ]

    /// Options of `borg extract` and the common options that take a separate value word.
    static let optionsWithValue: Set<String> = [
        "-e", "--exclude", "--exclude-from", "--pattern", "--patterns-from", "--strip-components",
        "--lock-wait", "--remote-path", "--umask", "--rsh", "--upload-ratelimit", "--upload-buffer",
        "--debug-topic", "--debug-profile", "--remote-ratelimit", "--remote-buffer"
    ]

    /// borg's common options that take no value: an exact one of these is never an abbreviation.
    static let optionsWithoutValue: Set<String> = [
        "--critical", "--error", "--warning", "--info", "--verbose", "--debug", "--progress", "--iec", "--log-json",
        "--bypass-lock", "--show-version", "--show-rc", "--consider-part-files", "--help", "--version"
    ]

    /// Whether `a` takes the next word as its value, as borg's argparse reads it.
    /// Why prefixes: argparse (allow_abbrev) takes a unique prefix of a long option as that
    /// option, so borg reads `--debug-top export-tar extract ::a` as `--debug-topic=export-tar
    /// extract`; judged on the exact names only, this ran extract with the current directory
    /// writable (and `with-lock` the same way). A prefix of any option with a value is taken to
    /// have one (an ambiguous prefix makes borg exit with a usage error anyway).
    static func takesValue(_ a: String) -> Bool {
        if optionsWithValue.contains(a) { return true }
        guard a.hasPrefix("--"), a.count > 2, !a.contains("="), !optionsWithoutValue.contains(a) else { return false }
        return optionsWithValue.contains { $0.hasPrefix(a) }
    }

    /// Options of `borg extract` that carry over to `restore`, and what they become.
    static let carriedOver: [String: String] = ["--dry-run": "--dry-run", "-n": "--dry-run"]
    /// Options that only change borg's output; `restore` decides its own.
    static let outputOnly: Set<String> = ["--list", "-v", "--verbose", "--info", "--progress", "--log-json", "--debug", "--critical", "--warning", "--error"]

    /// The command word and the arguments after it; nil without a borg command (`--version`).
    public static func command(_ args: [String]) -> (name: String, index: Int)? {
        var i = 0
        while i < args.count {
            let a = args[i]
            if takesValue(a) { i += 2; continue }
            if commands.contains(a) { return (a, i) }
            i += 1
        }
        return nil
    }

    /// - Parameters:
    ///   - args: borg's arguments as given (a leading `--` already removed).
    ///   - workingDirectory: where the admin stands (`borg extract` wrote there).
    ///   - configDirectory: for the suggested command's `-c DIR`.
    public static func decide(_ args: [String], workingDirectory: String, configDirectory: String) -> Decision {
        if args.first == "--unsandboxed" {
            return .refuse(
                problem: "--unsandboxed was removed: borg never runs as root outside a sandbox",
                fix:
                    "restore with owners and modes: borgpull-client -c \(configDirectory) restore --archive NAME --to DIR [PATH...] (or --latest; README, \"Restore\"); the key: borgpull-client key-export FILE"
            )
        }
        guard let (name, index) = command(args) else { return .run(writesWorkingDirectory: false) }
        let rest = Array(args[(index + 1)...])
        switch name {
        case "extract":
            if rest.contains("--stdout") { return .run(writesWorkingDirectory: false) }
            return .refuse(
                problem: "borg extract is not run through `borgpull-client borg`: it would restore as the runner, losing owners, modes and ACLs",
                fix: restoreEquivalent(rest, workingDirectory: workingDirectory, configDirectory: configDirectory))
        case "key" where rest.first == "export":
            let words = rest.dropFirst()
            let paper = words.contains("--paper")
            let file = words.filter { !$0.hasPrefix("-") && !$0.contains("::") && !$0.hasPrefix("ssh://") }.last
            let target = file.map { $0.hasPrefix("/") ? $0 : workingDirectory + "/" + $0 } ?? "FILE"
            return .refuse(
                problem: "borg key export is not run through `borgpull-client borg`: the key file would be written by the runner and not recorded",
                fix: "borgpull-client -c \(configDirectory) key-export\(paper ? " --paper" : "") \(ShellQuote.quote(target))")
        case "export-tar":
            return .run(writesWorkingDirectory: true)
        default:
            return .run(writesWorkingDirectory: false)
        }
    }

    /// `borgpull-client -c DIR restore --archive NAME --to CWD [--dry-run] [PATH...]`, plus the
    /// options that do not carry over, named.
    static func restoreEquivalent(_ rest: [String], workingDirectory: String, configDirectory: String) -> String {
        var archive: String?
        var paths: [String] = []
        var dropped: [String] = []
        var flags: [String] = []
        var i = 0
        var afterDashDash = false
        while i < rest.count {
            let a = rest[i]
            i += 1
            if !afterDashDash && a == "--" { afterDashDash = true; continue }
            if !afterDashDash && a.hasPrefix("-") {
                let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
                if let f = carriedOver[name] {
                    if !flags.contains(f) { flags.append(f) }
                } else if outputOnly.contains(name) {
                } else if optionsWithValue.contains(a) && i < rest.count {
                    dropped.append("\(a) \(rest[i])"); i += 1
                } else {
                    dropped.append(a)
                }
                continue
            }
            if archive == nil, let r = a.firstRange(of: "::") {
                archive = String(a[r.upperBound...])
                continue
            }
            paths.append(a)
        }
        var words = ["borgpull-client", "-c", configDirectory, "restore"]
        words += archive.map { ["--archive", $0.isEmpty ? "NAME" : $0] } ?? ["--latest"]
        words += ["--to", workingDirectory == "/" ? "DIR" : workingDirectory]
        words += flags
        let command =
            words.map(ShellQuote.quote).joined(separator: " ")
            + (paths.isEmpty ? "" : " " + paths.map(ShellQuote.quote).joined(separator: " "))
        return command
            + (dropped.isEmpty
                ? "" : " (not carried over: \(dropped.joined(separator: " ")); restore keeps borg's paths below DIR, move what you need from there)")
    }
}
