/// The files of a client configuration directory (default `/etc/borgpull`), named as in the
/// original project.
public enum ClientFile: String, CaseIterable, Sendable {
    case env = "borg_env"
    case paths = "borg_paths"
    case patterns = "borg_patterns"
    case excludes = "borg_excludes"
    case hookPre = "borg_hook_pre"
    case hookPost = "borg_hook_post"
    case optionsCreate = "borg_options_create"
    case optionsPrune = "borg_options_prune"

    /// Files whose absence is a configuration error.
    public var isRequired: Bool { self == .env || self == .paths }
    public var isHook: Bool { self == .hookPre || self == .hookPost }
}

/// What the system layer read from the configuration directory: file contents (nil = absent)
/// and, for hooks, whether the file is executable. The audit of owners and modes happens
/// before this is built.
public struct ClientConfigInput: Sendable {
    public var directory: String
    public var texts: [ClientFile: String]
    /// For each hook that exists: is it executable by its owner?
    public var hookExecutable: [ClientFile: Bool]
    /// The installation the defaults come from (SECCOMP_POLICY).
    public var layout: InstallLayout

    public init(
        directory: String, texts: [ClientFile: String], hookExecutable: [ClientFile: Bool],
        layout: InstallLayout = .packaged
    ) {
        self.directory = directory
        self.texts = texts
        self.hookExecutable = hookExecutable
        self.layout = layout
    }
}

/// One `borg prune` retention rule (`--keep-daily 7` ...).
/// Source: `borg prune --help` (borg 1.2).
public struct RetentionRule: Sendable, Equatable, Codable {
    /// The borg option without leading dashes, e.g. `keep-daily`.
    public var option: String
    public var value: String
}

/// Where the passphrase comes from. It never goes into borg's environment: the helper hands
/// it over through a pipe and `BORG_PASSPHRASE_FD` (borg docs, "Environment Variables").
public enum PassphraseSource: Sendable, Equatable {
    case none
    /// `BORG_PASSPHRASE` in `borg_env` (which must then be mode 0600).
    case inline(String)
    /// `PASSPHRASE_FILE`: a root-owned 0600 file; its first line is the passphrase.
    case file(String)
    /// `BORG_PASSCOMMAND`, passed to borg unchanged (borg runs it).
    case command(String)
}

/// The validated client configuration.
public struct ClientConfig: Sendable {
    public var directory: String
    public var envFile: String
    /// `BORG_REPO`: `ssh://[user@]host[:port]/path`. borg remembers this location; keep it stable.
    public var repository: String
    public var passphrase: PassphraseSource
    /// `BACKUP_SOCKET`: the forwarded Unix socket on this machine.
    public var socketPath: String
    /// `BORG_BACKUP_USER`: the account the server logs in as; owner of the forwarded socket.
    public var sshUser: String
    /// `BORG_BACKUP_GROUP`: group of the socket directory; nil = the ssh user's primary group.
    public var sshGroup: String?
    /// `RUNNER_USER`: the unprivileged account borg runs as (see SECURITY.md).
    public var runnerUser: String
    /// `STREAM_LOCAL_BIND_MASK`: must equal sshd's StreamLocalBindMask for the ssh user.
    public var bindMask: UInt32
    /// `ARCHIVE_PREFIX`: archives are `PREFIX-{now}`; prune only touches `PREFIX-<timestamp>` (`pruneGlob`).
    public var archivePrefix: String
    public var retention: [RetentionRule]
    /// `LOCK_WAIT`: seconds borg waits for the repository lock (`--lock-wait`).
    public var lockWait: Int
    /// `HOOK_TIMEOUT`: seconds before a hook is terminated.
    public var hookTimeout: Int
    /// `MISSING_PATHS`: `error` (default) or `warn` when a `borg_paths` entry does not exist.
    public var missingPathsAreErrors: Bool
    /// `STATE_DIR`: lock, result record and borg's base directory (default /var/lib/borgpull).
    public var stateDirectory: String
    /// `RESULT_FILE`: the JSON result record (default STATE_DIR/results/last-backup.json; the
    /// results directory is setgid to the ssh user's group, so the ForceCommand may read it).
    public var resultFile: String
    /// `BORG_BINARY`: absolute path of borg (default /usr/bin/borg).
    public var borgBinary: String
    /// `SECCOMP_POLICY`: the seccomp policy borg runs under (root-owned, not group/other-writable).
    public var seccompPolicy: String
    /// `SECCOMP_RESTORE_POLICY`: the policy of the restore sandbox (default: borg-restore.policy
    /// next to SECCOMP_POLICY); the same owner/mode rules and linter.
    public var restorePolicy: String = ""
    /// `LANDLOCK`: `auto` (default; borg runs without the Landlock layer on a kernel that has
    /// none, with a warning) or `required` (it never runs without it). SECURITY.md, "Landlock".
    public var landlock: LandlockMode
    /// The line of `LANDLOCK=` in borg_env, nil when it is not set.
    public var landlockLine: Int?
    /// Exported `BORG_*` keys passed to borg unchanged, in file order.
    public var borgEnvironment: [(key: String, value: String)]
    /// `borg_paths`, in order.
    public var paths: [ListFile.Item]
    public var pathsFile: String
    /// `--patterns-from` / `--exclude-from` files, only when present and not empty.
    public var patternsFile: String?
    public var excludesFile: String?
    public var createOptions: [String]
    public var pruneOptions: [String]
    public var preHook: String?
    public var postHook: String?
    /// Things worth logging that are not errors (with file:line).
    public var notices: [String]

    /// borg's base directory (`BORG_BASE_DIR`: cache, security, keys, temporary files): the only
    /// directory the sandboxed borg of a BACKUP may write beneath.
    public var borgBaseDirectory: String { "\(stateDirectory)/borg" }

    /// The archive name template passed to `borg create`.
    public var archiveTemplate: String { "\(archivePrefix)-{now}" }
    /// The `--glob-archives` pattern for `borg prune`: `PREFIX-` and exactly what `{now}` renders.
    ///
    /// Not `PREFIX-*`: in a repository shared by several hosts, `web-*` also matches `web-db-...`
    /// (borg's shell pattern `*` matches any characters but `/`), so host `web` would prune host
    /// `web-db`'s archives. Anchored on the timestamp, `web-<timestamp>` cannot match `web-db-...`
    /// for any pair of prefixes. borg prune itself adds `(\.checkpoint(\.N)?)?` to the pattern
    /// (borg 1.2 `do_prune`), so this host's checkpoints are still pruned.
    public var pruneGlob: String { "\(archivePrefix)-\(ArchiveNames.timestampGlob)" }

    /// Keys this helper reads from `borg_env` (others: `BORG_*` go to borg, the rest is reported).
    public static let knownKeys: Set<String> = Set([
        "BORG_REPO", "BORG_PASSPHRASE", "PASSPHRASE_FILE", "BORG_PASSCOMMAND", "BACKUP_SOCKET",
        "BORG_RSH", "BORG_BACKUP_USER", "BORG_BACKUP_GROUP", "RUNNER_USER", "STREAM_LOCAL_BIND_MASK",
        "ARCHIVE_PREFIX", "LOCK_WAIT", "HOOK_TIMEOUT", "MISSING_PATHS", "STATE_DIR", "RESULT_FILE",
        "BORG_BINARY", "SECCOMP_POLICY", "SECCOMP_RESTORE_POLICY", "LANDLOCK"
    ]).union(retentionKeys.map(\.key))

    /// `KEEP_*` keys and their borg options; defaults 7 daily, 4 weekly, 6 monthly.
    public static let retentionKeys: [(key: String, option: String, defaultValue: String?)] = [
        ("KEEP_WITHIN", "keep-within", nil), ("KEEP_LAST", "keep-last", nil),
        ("KEEP_MINUTELY", "keep-minutely", nil), ("KEEP_HOURLY", "keep-hourly", nil),
        ("KEEP_DAILY", "keep-daily", "7"), ("KEEP_WEEKLY", "keep-weekly", "4"),
        ("KEEP_MONTHLY", "keep-monthly", "6"), ("KEEP_YEARLY", "keep-yearly", nil)
    ]

    /// borg's own directory variables (borg docs, "Environment Variables": directories): borgpull
    /// keeps them all below BORG_BASE_DIR, so borg_env may not set them.
    public static let stateDirectoryKeys: Set<String> = ["BORG_CACHE_DIR", "BORG_CONFIG_DIR", "BORG_SECURITY_DIR", "BORG_KEYS_DIR"]

    /// `BORG_*` keys the helper manages itself; they are never passed through.
    public static let managedBorgKeys: Set<String> = [
        "BORG_REPO", "BORG_PASSPHRASE", "BORG_PASSPHRASE_FD", "BORG_PASSCOMMAND", "BORG_RSH",
        "BORG_BACKUP_USER", "BORG_BACKUP_GROUP", "BORG_BINARY", "BORG_BASE_DIR", "BORG_HOST_ID"
    ]

    /// Builds and validates the configuration.
    /// - Throws: the first `ConfigError` (file:line, problem, fix).
    public static func build(_ input: ClientConfigInput) throws(ConfigError) -> ClientConfig {
        let dir =
            input.directory.hasSuffix("/") && input.directory.count > 1
            ? String(input.directory.dropLast()) : input.directory
        func path(_ f: ClientFile) -> String { "\(dir)/\(f.rawValue)" }
        let envPath = path(.env)

        guard let envText = input.texts[.env] else {
            throw ConfigError(
                file: envPath, problem: "borg_env is missing",
                fix: "create it from the sample in README (chmod 0600, owner root)")
        }
        let env = try EnvFile.parse(envText, file: envPath)
        var notices: [String] = []

        func required(_ key: String, hint: String) throws(ConfigError) -> EnvFile.Assignment {
            guard let a = env.assignment(key), !a.value.isEmpty else {
                throw ConfigError(
                    file: envPath, line: env.assignment(key)?.line,
                    problem: "\(key) is missing or empty", fix: "set \(key)=\(hint)")
            }
            return a
        }
        func integer(_ key: String, default d: Int, min: Int = 0) throws(ConfigError) -> Int {
            guard let a = env.assignment(key) else { return d }
            guard let v = ConfigValues.wholeNumber(a.value, in: min...Int.max) else {
                throw ConfigError(
                    file: envPath, line: a.line,
                    problem: "\(key)=\(a.value) is not a whole number >= \(min)",
                    fix: "set \(key)=\(d) (seconds)")
            }
            return v
        }
        func absolutePath(_ key: String, default d: String) throws(ConfigError) -> String {
            guard let a = env.assignment(key) else { return d }
            guard ConfigValues.isAbsolutePath(a.value) else {
                throw ConfigError(
                    file: envPath, line: a.line, problem: "\(key) must be an absolute path without ..",
                    fix: "set \(key)=\(d)")
            }
            return a.value
        }

        // Repository: only ssh:// URLs reach the forwarded socket through BORG_RSH.
        let repo = try required("BORG_REPO", hint: "ssh://borg@backup-server/srv/borg/HOST")
        guard repo.value.hasPrefix("ssh://"), repo.value.count > "ssh://x/".count,
            repo.value.dropFirst("ssh://".count).contains("/")
        else {
            throw ConfigError(
                file: envPath, line: repo.line,
                problem: "BORG_REPO=\(repo.value) is not an ssh:// repository URL",
                fix: "set BORG_REPO=ssh://HOST/FULL/PATH/TO/REPO (the host part is only a label; the tunnel decides where it goes)")
        }
        let repoHost = repo.value.dropFirst("ssh://".count).prefix { $0 != "/" }
        guard !repoHost.hasPrefix("-"), !repoHost.split(separator: "@").contains(where: { $0.hasPrefix("-") }),
            !repo.value.contains(where: { $0.isWhitespace || ($0.asciiValue ?? 32) < 32 })
        else {
            throw ConfigError(
                file: envPath, line: repo.line,
                problem:
                    "BORG_REPO's host part `\(LogText.sanitize(String(repoHost)))` starts with `-` or the URL holds whitespace: borg passes the host to the remote shell as an argument",
                fix: "set BORG_REPO=ssh://backup-server/FULL/PATH/TO/REPO")
        }

        let socket = try required("BACKUP_SOCKET", hint: "/run/borg/HOST.socket")
        // The same rule as the server's socket paths: they reach ssh -R and sockaddr_un.
        if let problem = ConfigValues.socketPathProblem(socket.value) {
            throw ConfigError(
                file: envPath, line: socket.line,
                problem: "BACKUP_SOCKET=\(LogText.sanitize(socket.value)) \(problem)",
                fix: "set BACKUP_SOCKET=/run/borg/HOST.socket (the same path as the server's REMOTE_SOCKET_PATH)")
        }

        // BORG_RSH: the seed's socat line is understood and replaced by the built-in relay.
        if let rsh = env.assignment("BORG_RSH") {
            guard let seedPath = SeedRSH.socketPath(in: rsh.value) else {
                throw ConfigError(
                    file: envPath, line: rsh.line,
                    problem: "BORG_RSH is managed by borgpull (its built-in relay checks the socket's peer)",
                    fix: "remove the BORG_RSH line")
            }
            guard seedPath == socket.value else {
                throw ConfigError(
                    file: envPath, line: rsh.line,
                    problem: "BORG_RSH connects to \(seedPath) but BACKUP_SOCKET is \(socket.value)",
                    fix: "remove the BORG_RSH line (the relay uses BACKUP_SOCKET)")
            }
            notices.append("\(envPath):\(rsh.line): BORG_RSH (socat) is replaced by the built-in relay to \(seedPath)")
        }

        // Passphrase: at most one source.
        let sources = ["BORG_PASSPHRASE", "PASSPHRASE_FILE", "BORG_PASSCOMMAND"].compactMap { env.assignment($0) }
            .filter { !$0.value.isEmpty }
        if sources.count > 1 {
            throw ConfigError(
                file: envPath, line: sources[1].line,
                problem: "more than one passphrase source (\(sources.map(\.key).joined(separator: ", ")))",
                fix: "keep exactly one of BORG_PASSPHRASE, PASSPHRASE_FILE, BORG_PASSCOMMAND")
        }
        var passphrase = PassphraseSource.none
        if let s = sources.first {
            switch s.key {
            case "BORG_PASSPHRASE": passphrase = .inline(s.value)
            case "PASSPHRASE_FILE":
                guard ConfigValues.isAbsolutePath(s.value) else {
                    throw ConfigError(
                        file: envPath, line: s.line, problem: "PASSPHRASE_FILE must be an absolute path without ..",
                        fix: "set PASSPHRASE_FILE=/etc/borgpull/passphrase")
                }
                passphrase = .file(s.value)
            default: passphrase = .command(s.value)
            }
        }
        if let fd = env.assignment("BORG_PASSPHRASE_FD") {
            throw ConfigError(
                file: envPath, line: fd.line, problem: "BORG_PASSPHRASE_FD is managed by borgpull",
                fix: "remove it and set BORG_PASSPHRASE or PASSPHRASE_FILE")
        }

        let sshUser = env["BORG_BACKUP_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "borgpull"
        let sshGroup = env["BORG_BACKUP_GROUP"].flatMap { $0.isEmpty ? nil : $0 }
        let runner = env["RUNNER_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "borgpull-runner"
        for (key, name) in [("BORG_BACKUP_USER", sshUser), ("BORG_BACKUP_GROUP", sshGroup ?? "x"), ("RUNNER_USER", runner)] {
            guard ConfigValues.isAccountName(name) else {
                throw ConfigError(
                    file: envPath, line: env.assignment(key)?.line, problem: "\(key)=\(name) is not a user or group name",
                    fix: "set \(key) to an account name such as borgpull")
            }
        }

        if runner == "nobody" || runner == "root" || runner == sshUser {
            throw ConfigError(
                file: envPath, line: env.assignment("RUNNER_USER")?.line,
                problem: "RUNNER_USER=\(runner) must be an account of its own (not root, nobody or the ssh user): borg's state and its processes belong to it",
                fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin -G \(sshUser) borgpull-runner; set RUNNER_USER=borgpull-runner")
        }

        var bindMask: UInt32 = 0o117
        if let m = env.assignment("STREAM_LOCAL_BIND_MASK") {
            guard let v = UInt32(m.value, radix: 8), v <= 0o777 else {
                throw ConfigError(
                    file: envPath, line: m.line, problem: "STREAM_LOCAL_BIND_MASK=\(m.value) is not an octal mask",
                    fix: "set STREAM_LOCAL_BIND_MASK=0117 (the same value as sshd's StreamLocalBindMask)")
            }
            bindMask = v
        }

        let prefix = env["ARCHIVE_PREFIX"] ?? "{hostname}"
        if let problem = ArchiveNames.prefixProblem(prefix) {
            throw ConfigError(
                file: envPath, line: env.assignment("ARCHIVE_PREFIX")?.line,
                problem: "ARCHIVE_PREFIX=\(prefix): \(problem)", fix: "set ARCHIVE_PREFIX={hostname}")
        }

        var retention: [RetentionRule] = []
        for (key, option, d) in retentionKeys {
            guard let value = env[key] ?? d else { continue }
            let valid = key == "KEEP_WITHIN" ? ArchiveNames.isInterval(value) : (Int(value).map { $0 >= 0 } ?? false)
            guard valid else {
                throw ConfigError(
                    file: envPath, line: env.assignment(key)?.line,
                    problem: "\(key)=\(value) is not valid for --\(option)",
                    fix: key == "KEEP_WITHIN" ? "use a number and unit, e.g. KEEP_WITHIN=2d" : "use a whole number, e.g. \(key)=\(d ?? "3")")
            }
            retention.append(RetentionRule(option: option, value: value))
        }

        let missing = env["MISSING_PATHS"] ?? "error"
        guard missing == "error" || missing == "warn" else {
            throw ConfigError(
                file: envPath, line: env.assignment("MISSING_PATHS")?.line,
                problem: "MISSING_PATHS=\(missing) must be `error` or `warn`", fix: "set MISSING_PATHS=error")
        }

        let stateDir = try absolutePath("STATE_DIR", default: "/var/lib/borgpull")
        let resultFile = try absolutePath("RESULT_FILE", default: "\(stateDir)/results/last-backup.json")
        let borgBinary = try absolutePath("BORG_BINARY", default: "/usr/bin/borg")
        let seccompPolicy = try absolutePath("SECCOMP_POLICY", default: input.layout.seccompPolicy)
        let policyDir = seccompPolicy.split(separator: "/").dropLast().joined(separator: "/")
        let restorePolicy = try absolutePath("SECCOMP_RESTORE_POLICY", default: "/\(policyDir)/borg-restore.policy")
        let landlockAssignment = env.assignment("LANDLOCK")
        guard let landlock = LandlockMode(rawValue: landlockAssignment?.value ?? LandlockMode.auto.rawValue) else {
            throw ConfigError(
                file: envPath, line: landlockAssignment?.line,
                problem: "LANDLOCK=\(LogText.sanitize(landlockAssignment?.value ?? "")) must be `auto` or `required`",
                fix: "set LANDLOCK=auto (Landlock whenever the kernel has it) or LANDLOCK=required (borg never runs without it)")
        }

        var firstLine: [String: Int] = [:]
        for a in env.assignments {
            if let first = firstLine[a.key] {
                notices.append("\(envPath):\(a.line): \(a.key) is assigned again (first at line \(first)); the last value wins")
            } else {
                firstLine[a.key] = a.line
            }
        }

        var borgEnv: [(key: String, value: String)] = []
        for a in env.finalAssignments where stateDirectoryKeys.contains(a.key) {
            throw ConfigError(
                file: envPath, line: a.line,
                problem:
                    "\(a.key) moves borg's state out of STATE_DIR/borg, the only place the sandbox lets borg write (and the restore borg, root, would read state kept elsewhere by another user)",
                fix: "remove the \(a.key) line; set STATE_DIR to move all of borg's state")
        }
        for a in env.finalAssignments where !knownKeys.contains(a.key) {
            if a.key.hasPrefix("BORG_") && !managedBorgKeys.contains(a.key) {
                if a.exported {
                    borgEnv.append((a.key, a.value))
                } else {
                    notices.append("\(envPath):\(a.line): \(a.key) is not exported, so borg does not see it (as in the original); write `export \(a.key)=...`")
                }
            } else if !managedBorgKeys.contains(a.key) {
                notices.append("\(envPath):\(a.line): unknown key \(a.key) is ignored (see README, configuration reference)")
            }
        }

        // borg_paths: required, not empty.
        guard let pathsText = input.texts[.paths] else {
            throw ConfigError(
                file: path(.paths), problem: "borg_paths is missing",
                fix: "create it with one path to back up per line")
        }
        let paths = ListFile.parse(pathsText, file: path(.paths))
        guard !paths.items.isEmpty else {
            throw ConfigError(file: path(.paths), problem: "borg_paths lists no path", fix: "add one absolute path per line")
        }
        for item in paths.items where !item.value.hasPrefix("/") {
            throw ConfigError(
                file: path(.paths), line: item.line, problem: "`\(item.value)` is not an absolute path",
                fix: "write the full path, starting with /")
        }

        let createOptions = try OptionsList.validate(input.texts[.optionsCreate], file: path(.optionsCreate), command: .create)
        let pruneOptions = try OptionsList.validate(input.texts[.optionsPrune], file: path(.optionsPrune), command: .prune)

        func nonEmptyList(_ f: ClientFile) -> String? {
            guard let t = input.texts[f], !ListFile.parse(t, file: path(f)).items.isEmpty else { return nil }
            return path(f)
        }

        func hook(_ f: ClientFile) throws(ConfigError) -> String? {
            guard let executable = input.hookExecutable[f] else { return nil }
            guard executable else {
                throw ConfigError(
                    file: path(f), problem: "the hook exists but is not executable, so nothing runs (not even the other hook)",
                    fix: "chmod 0700 \(path(f))  (or remove the file to have no \(f.rawValue))")
            }
            return path(f)
        }

        var config = ClientConfig(
            directory: dir, envFile: envPath, repository: repo.value, passphrase: passphrase,
            socketPath: socket.value, sshUser: sshUser, sshGroup: sshGroup, runnerUser: runner,
            bindMask: bindMask, archivePrefix: prefix, retention: retention,
            lockWait: try integer("LOCK_WAIT", default: 60),
            hookTimeout: try integer("HOOK_TIMEOUT", default: 1800, min: 1),
            missingPathsAreErrors: missing == "error", stateDirectory: stateDir, resultFile: resultFile,
            borgBinary: borgBinary, seccompPolicy: seccompPolicy, landlock: landlock, landlockLine: landlockAssignment?.line,
            borgEnvironment: borgEnv, paths: paths.items, pathsFile: path(.paths),
            patternsFile: nonEmptyList(.patterns), excludesFile: nonEmptyList(.excludes),
            createOptions: createOptions, pruneOptions: pruneOptions,
            preHook: try hook(.hookPre), postHook: try hook(.hookPost), notices: notices)
        config.restorePolicy = restorePolicy
        return config
    }
}

/// Recognises the original project's `BORG_RSH="sh -c \"exec socat STDIO UNIX-CONNECT:PATH\""`.
public enum SeedRSH {
    /// The socket path of a seed-style socat BORG_RSH, or nil if `value` is something else.
    public static func socketPath(in value: String) -> String? {
        guard value.contains("socat") else { return nil }
        for marker in ["UNIX-CONNECT:", "UNIX-CLIENT:", "UNIX:"] {
            guard let r = value.firstRange(of: marker) else { continue }
            let rest = value[r.upperBound...]
            let path = rest.prefix { !" \t\"',".contains($0) }
            return path.isEmpty ? nil : String(path)
        }
        return nil
    }
}

/// Archive naming rules (borg 1.2 "borg help placeholders", "borg help patterns").
public enum ArchiveNames {
    /// What `{now}` renders to, as a borg shell pattern: `%Y-%m-%dT%H:%M:%S` (borg 1.2
    /// `DatetimeWrapper` with `ISO_FORMAT_NO_USECS`, borg/helpers/parseformat.py), one `[0-9]`
    /// class per digit (borg/shellpattern.py `translate` supports `[...]` classes).
    public static let timestampGlob = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"

    /// Why `prefix` cannot be an archive prefix, or nil if it can.
    public static func prefixProblem(_ prefix: String) -> String? {
        if prefix.isEmpty { return "it is empty, so prune would match every archive of the repository" }
        if prefix.hasPrefix("-") { return "it starts with `-`, which borg would read as an option" }
        // The prefix is part of prune's --glob-archives pattern: a glob character in it would
        // widen what prune may delete (borg/shellpattern.py: * ? [ ]; a backslash is kept out as well).
        if prefix.contains(where: { "*?[]/\\\n\t ".contains($0) }) || prefix.contains("::") {
            return "it may not contain spaces, /, ::, \\, or glob characters * ? [ ]"
        }
        for p in ["{now", "{utcnow", "{uuid4", "{pid", "{borgversion", "{borgmajor", "{borgminor", "{borgpatch"] where prefix.contains(p) {
            return "\(p)} changes between runs, so prune could never match older archives"
        }
        return nil
    }

    /// `--keep-within` intervals: a number followed by H, d, w, m or y (borg 1.2 also accepts S, M).
    public static func isInterval(_ s: String) -> Bool {
        guard let unit = s.last, "HdwmySM".contains(unit), s.count > 1 else { return false }
        return Int(s.dropLast()).map { $0 > 0 } ?? false
    }
}

/// Validation of `borg_options_create` / `borg_options_prune`.
public enum OptionsList {
    public enum Command: Sendable { case create, prune }

    /// Long options borgpull decides itself, per command, with the reason.
    static func managedLong(for command: Command) -> [(name: String, why: String)] {
        var out: [(String, String)] = [
            ("--rsh", "the transport is borgpull's relay"), ("--remote-path", "the transport is borgpull's relay"),
            ("--json", "borgpull sets it"), ("--lock-wait", "borgpull sets it (see LOCK_WAIT)")
        ]
        if command == .prune {
            let keep = "retention belongs in borg_env (KEEP_DAILY=..., KEEP_WEEKLY=...), where it wins over the defaults"
            for k in ["within", "last", "secondly", "minutely", "hourly", "daily", "weekly", "monthly", "yearly"] {
                out.append(("--keep-\(k)", keep))
            }
            let filter = "prune is always limited to this host's archives (ARCHIVE_PREFIX)"
            out += [("--prefix", filter), ("--glob-archives", filter)]
        }
        return out
    }

    /// Why `option` may not appear in the options file, or nil.
    ///
    /// argparse (which borg uses) accepts any unambiguous prefix of a long option (`--rs` for
    /// `--rsh`) and short options with their value attached (`-d1`, `-a*`): both are matched.
    static func managed(_ option: String, for command: Command) -> String? {
        let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
        if name.hasPrefix("--") && name.count > 2 {
            if let m = managedLong(for: command).first(where: { $0.name.hasPrefix(name) }) { return m.why }
            return nil
        }
        if command == .prune, name.hasPrefix("-"), name.count >= 2 {
            let flag = String(name.prefix(2))
            if ["-d", "-w", "-m", "-y", "-H"].contains(flag) {
                return "retention belongs in borg_env (KEEP_DAILY=..., KEEP_WEEKLY=...), where it wins over the defaults"
            }
            if ["-P", "-a"].contains(flag) { return "prune is always limited to this host's archives (ARCHIVE_PREFIX)" }
        }
        return nil
    }

    /// Returns the options, one argv item per line.
    /// - Throws: `ConfigError` for an option with an unquoted space before `=` (write `--opt=value`
    ///   or put the value on the next line) or an option borgpull manages.
    public static func validate(_ text: String?, file: String, command: Command) throws(ConfigError) -> [String] {
        guard let text else { return [] }
        var out: [String] = []
        for item in ListFile.parse(text, file: file).items {
            let v = item.value
            if v.hasPrefix("-") {
                let head = v.split(separator: "=", maxSplits: 1).first.map(String.init) ?? v
                if head.contains(" ") || head.contains("\t") {
                    let parts = head.split(whereSeparator: { $0 == " " || $0 == "\t" })
                    throw ConfigError(
                        file: file, line: item.line,
                        problem: "`\(v)` holds an option and its value on one line; it would reach borg as one argument",
                        fix: "write `\(parts[0])=\(String(v.dropFirst(parts[0].count)).trimmingBlanks())` or put the value on its own line")
                }
                if let why = managed(v, for: command) {
                    throw ConfigError(
                        file: file, line: item.line, problem: "`\(head)` is not allowed here: \(why)",
                        fix: "remove this line")
                }
            }
            out.append(v)
        }
        return out
    }
}
