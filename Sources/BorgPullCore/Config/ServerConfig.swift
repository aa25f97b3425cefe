/// The server-side configuration of one backup client (one file per client), read with the
/// `borg_env` dialect (`EnvFile`): data, never executed.
///
/// The original project's sample (`configs/server/borgpull.conf.example`) parses unchanged;
/// its keys keep their meaning:
///
/// | key | meaning | default |
/// |---|---|---|
/// | `LOCAL_USER` | server account that runs `socat`, `borg serve` and `ssh` | `borg` |
/// | `REMOTE_USER` | account the server logs in as on the client (the client's `BORG_BACKUP_USER`) | `borgpull` |
/// | `REMOTE_HOST` | client host name, address or ssh config entry | required |
/// | `REPO_NAME` | name of this client's repository (socket and lock names) | required |
/// | `REPO_DIR` | the repository directory on the server (`--restrict-to-repository`) | required |
/// | `RUN_DIR` | directory of the server-side socket and lock | `/run/borg` |
/// | `SOCKET_PATH` | server-side socket S | `${RUN_DIR}/${REPO_NAME}.socket` |
/// | `REMOTE_SOCKET_PATH` | client-side socket C (the client's `BACKUP_SOCKET`) | `SOCKET_PATH` |
/// | `SSH_PORT` | client's sshd port | `22` |
/// | `SSH_IDENTITY` | private key file (else ssh's defaults for LOCAL_USER) | none |
/// | `SSH_KNOWN_HOSTS` | known_hosts file holding the client's host key | ssh's default |
/// | `CONNECT_TIMEOUT` | seconds for TCP connect + ssh banner (`ConnectTimeout`) | `30` |
/// | `ALIVE_INTERVAL` | `ServerAliveInterval` seconds | `15` |
/// | `ALIVE_COUNT` | `ServerAliveCountMax` | `4` |
/// | `BACKUP_TIMEOUT` | seconds a whole BACKUP may take, then it is stopped (0 = none) | `21600` |
/// | `APPEND_ONLY` | `yes`/`no`: `borg serve --append-only` | `yes` |
/// | `BORG_SERVE_OPTIONS` | extra `borg serve` options, blank-separated | none |
/// | `BORG_BINARY` / `SOCAT_BINARY` / `SSH_BINARY` | absolute paths | `/usr/bin/...` |
/// | `LOCK_FILE` | per-client lock | `${SOCKET_PATH}.lock` |
/// | `COMPACT_THRESHOLD` | COMPACT: `borg compact --threshold` (percent of a segment that must be freeable) | `10` |
/// | `CHECK_MAX_DURATION` | CHECK: `borg check --max-duration` seconds (0 = check everything in one run) | `0` |
/// | `STATE_DIR` | where COMPACT and CHECK keep their last record (`last-compact.json`, `last-check.json`) and every run its line in `history.jsonl` | `/var/lib/borgpull-server/${REPO_NAME}` |
/// | `MAX_BACKUP_AGE` | STATUS: age after which the last successful BACKUP is stale (`26h`, `3d`, `90m`; `DurationText`) | `26h` |
/// | `PROMETHEUS_TEXTFILE_DIR` | node-exporter textfile directory for `borgpull-REPO_NAME.prom`; empty disables | `/var/lib/prometheus/node-exporter` |
public struct ServerConfig: Sendable, Equatable {
    public var file: String
    public var localUser: String
    public var remoteUser: String
    public var remoteHost: String
    public var repoName: String
    public var repoDir: String
    public var runDir: String
    /// S: where socat listens on the server.
    public var socketPath: String
    /// C: where sshd binds the forward on the client.
    public var remoteSocketPath: String
    public var sshPort: Int
    public var sshIdentity: String?
    public var sshKnownHosts: String?
    public var connectTimeout: Int
    public var aliveInterval: Int
    public var aliveCount: Int
    /// Seconds; 0 means no limit.
    public var backupTimeout: Int
    public var appendOnly: Bool
    public var serveOptions: [String]
    public var borgBinary: String
    public var socatBinary: String
    public var sshBinary: String
    public var lockFile: String
    /// `borg compact --threshold PERCENT` (borg's default 10).
    public var compactThreshold: Int
    /// `borg check --max-duration SECONDS`; 0 = a full repository check.
    public var checkMaxDuration: Int
    /// The server's own records of COMPACT and CHECK runs for this client.
    public var stateDir: String
    /// STATUS: seconds after which the last successful BACKUP is stale.
    public var maxBackupAge: Int = 26 * 3600
    /// Where the metrics textfile goes; nil: no metrics.
    public var prometheusTextfileDir: String? = "/var/lib/prometheus/node-exporter"
    /// Things worth logging that are not errors (file:line: text).
    public var notices: [String]
    /// Concurrency slots, healthcheck pings, notifications (`ServerOperations`, with the defaults file).
    public var operations = ServerOperations()

    /// Keys this file may hold. Others are reported as notices (the sample's `SOCKET` is known).
    public static let knownKeys: Set<String> = Set([
        "LOCAL_USER", "REMOTE_USER", "REMOTE_HOST", "REPO_NAME", "REPO_DIR", "RUN_DIR", "SOCKET",
        "SOCKET_PATH", "REMOTE_SOCKET_PATH", "SSH_PORT", "SSH_IDENTITY", "SSH_KNOWN_HOSTS",
        "CONNECT_TIMEOUT", "ALIVE_INTERVAL", "ALIVE_COUNT", "BACKUP_TIMEOUT", "APPEND_ONLY",
        "BORG_SERVE_OPTIONS", "BORG_BINARY", "SOCAT_BINARY", "SSH_BINARY", "LOCK_FILE",
        "COMPACT_THRESHOLD", "CHECK_MAX_DURATION", "STATE_DIR", "MAX_BACKUP_AGE", "PROMETHEUS_TEXTFILE_DIR"
    ]).union(ServerOperations.clientKeys)

    /// Parses and validates a server config file; `defaults` is the server-wide defaults file.
    /// - Throws: the first `ConfigError` (file:line, problem, fix).
    public static func parse(_ text: String, file: String, defaults: ServerDefaults = ServerDefaults()) throws(ConfigError) -> ServerConfig {
        let env = try EnvFile.parse(text, file: file)
        var notices: [String] = defaults.notices
        for a in env.finalAssignments where !knownKeys.contains(a.key) {
            notices.append("\(file):\(a.line): \(a.key) is not a borgpull-server setting and is ignored")
        }

        func fail(_ key: String, _ problem: String, fix: String) -> ConfigError {
            ConfigError(file: file, line: env.assignment(key)?.line, problem: problem, fix: fix)
        }
        func value(_ key: String, default d: String) -> String {
            guard let v = env[key], !v.isEmpty else { return d }
            return v
        }
        func required(_ key: String, example: String, meaning: String) throws(ConfigError) -> String {
            guard let v = env[key], !v.isEmpty else {
                throw fail(key, "\(key) is missing or empty (\(meaning))", fix: "set \(key)=\"\(example)\"")
            }
            return v
        }
        func accountName(_ key: String, default d: String) throws(ConfigError) -> String {
            let v = value(key, default: d)
            guard ConfigValues.isAccountName(v) else {
                throw fail(key, "\(key)=\(v) is not a user name", fix: "set \(key) to an account name such as \(d)")
            }
            return v
        }
        func integer(_ key: String, default d: Int, range: ClosedRange<Int>, unit: String) throws(ConfigError) -> Int {
            guard let a = env.assignment(key), !a.value.isEmpty else { return d }
            guard let v = ConfigValues.wholeNumber(a.value, in: range) else {
                throw fail(
                    key, "\(key)=\(a.value) is not a whole number in \(range.lowerBound)...\(range.upperBound)",
                    fix: "set \(key)=\(d) (\(unit))")
            }
            return v
        }
        func absolutePath(_ key: String, _ v: String, example: String) throws(ConfigError) {
            guard ConfigValues.isAbsolutePath(v) else {
                throw fail(key, "\(key)=\(v) must be an absolute path without ..", fix: "set \(key)=\"\(example)\"")
            }
        }
        func socketPath(_ key: String, _ v: String, side: String) throws(ConfigError) {
            if let problem = ConfigValues.socketPathProblem(v) {
                let fix =
                    v.hasSuffix("/") && ConfigValues.isAbsolutePath(v)
                    ? "set \(key)=\"\(v)NAME.socket\""
                    : "choose a path of letters, digits and . _ - / for \(key) (\(side)), at most \(ConfigValues.maxSocketPathBytes) bytes, for example /run/borg/NAME.socket"
                throw fail(key, "\(key)=\(v) \(problem)", fix: fix)
            }
        }

        let localUser = try accountName("LOCAL_USER", default: "borg")
        let remoteUser = try accountName("REMOTE_USER", default: "borgpull")
        let remoteHost = try required(
            "REMOTE_HOST", example: "client.example.org",
            meaning: "the client to back up: host name, address or ssh config entry")
        guard !remoteHost.hasPrefix("-"), remoteHost.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:[]%".contains($0) }) else {
            throw fail(
                "REMOTE_HOST", "REMOTE_HOST=\(remoteHost) is not a host name, address or ssh config entry",
                fix: "set REMOTE_HOST to a name such as client.example.org (no blanks, not starting with -)")
        }
        let repoName = try required("REPO_NAME", example: "client", meaning: "the name of this client's repository")
        guard !repoName.hasPrefix("-"), !repoName.hasPrefix("."),
            repoName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else {
            throw fail(
                "REPO_NAME", "REPO_NAME=\(repoName) may only hold letters, digits, . _ - (it names the socket and the lock)",
                fix: "set REPO_NAME=\"client-a\"")
        }
        let repoDir = try required(
            "REPO_DIR", example: "/srv/borg/\(repoName)",
            meaning: "the repository directory on this server, passed to borg serve --restrict-to-repository")
        try absolutePath("REPO_DIR", repoDir, example: "/srv/borg/\(repoName)")
        if let bad = repoDir.first(where: { !ConfigValues.isSafePathCharacter($0) }) {
            throw fail(
                "REPO_DIR", "REPO_DIR=\(repoDir) contains `\(bad)`; socat's EXEC splits its command at blanks and treats : , ! \" ' as syntax",
                fix: "move the repository to a path of letters, digits and . _ - / only")
        }
        let runDir = value("RUN_DIR", default: "/run/borg")
        try absolutePath("RUN_DIR", runDir, example: "/run/borg")
        let socket = value("SOCKET_PATH", default: "\(runDir.hasSuffix("/") ? String(runDir.dropLast()) : runDir)/\(repoName).socket")
        try socketPath("SOCKET_PATH", socket, side: "server side")
        let remoteSocket = value("REMOTE_SOCKET_PATH", default: socket)
        try socketPath("REMOTE_SOCKET_PATH", remoteSocket, side: "client side; must equal the client's BACKUP_SOCKET")

        let port = try integer("SSH_PORT", default: 22, range: 1...65535, unit: "TCP port")
        var identity: String?
        if let v = env["SSH_IDENTITY"], !v.isEmpty {
            try absolutePath("SSH_IDENTITY", v, example: "/var/lib/borg/.ssh/id_ed25519")
            identity = v
        }
        var knownHosts: String?
        if let v = env["SSH_KNOWN_HOSTS"], !v.isEmpty {
            try absolutePath("SSH_KNOWN_HOSTS", v, example: "/var/lib/borg/.ssh/known_hosts")
            knownHosts = v
        }
        let connectTimeout = try integer("CONNECT_TIMEOUT", default: 30, range: 1...3600, unit: "seconds")
        let aliveInterval = try integer("ALIVE_INTERVAL", default: 15, range: 1...3600, unit: "seconds")
        let aliveCount = try integer("ALIVE_COUNT", default: 4, range: 1...100, unit: "missed keepalives before ssh gives up")
        let backupTimeout = try integer("BACKUP_TIMEOUT", default: 21600, range: 0...(30 * 86400), unit: "seconds, 0 = no limit")

        let appendOnly: Bool
        switch value("APPEND_ONLY", default: "yes").lowercased() {
        case "yes", "true", "1": appendOnly = true
        case "no", "false", "0": appendOnly = false
        default:
            throw fail("APPEND_ONLY", "APPEND_ONLY=\(env["APPEND_ONLY"] ?? "") is neither yes nor no", fix: "set APPEND_ONLY=yes")
        }

        var serveOptions: [String] = []
        if let v = env["BORG_SERVE_OPTIONS"], !v.isEmpty {
            serveOptions = v.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            for o in serveOptions {
                if let why = managedServeOption(o) {
                    throw fail(
                        "BORG_SERVE_OPTIONS", "`\(o)` is not allowed in BORG_SERVE_OPTIONS: \(why)",
                        fix: "remove `\(o)` from BORG_SERVE_OPTIONS")
                }
                if let bad = o.first(where: { !(ConfigValues.isSafePathCharacter($0) || $0 == "=") }) {
                    throw fail(
                        "BORG_SERVE_OPTIONS", "`\(o)` contains `\(bad)`, which socat's EXEC address would interpret",
                        fix: "use only letters, digits, = and . _ - / in borg serve options")
                }
            }
        }

        var binaries: [String] = []
        for (key, d) in [("BORG_BINARY", "/usr/bin/borg"), ("SOCAT_BINARY", "/usr/bin/socat"), ("SSH_BINARY", "/usr/bin/ssh")] {
            let v = value(key, default: d)
            try absolutePath(key, v, example: d)
            if key == "BORG_BINARY", let bad = v.first(where: { !ConfigValues.isSafePathCharacter($0) }) {
                throw fail(
                    key, "\(key)=\(v) contains `\(bad)`, which socat's EXEC address would interpret",
                    fix: "set \(key)=\(d)")
            }
            binaries.append(v)
        }
        let lockFile = value("LOCK_FILE", default: "\(socket).lock")
        try absolutePath("LOCK_FILE", lockFile, example: "\(socket).lock")
        guard lockFile != socket else {
            throw fail("LOCK_FILE", "LOCK_FILE is the same path as SOCKET_PATH", fix: "remove the LOCK_FILE line")
        }

        let compactThreshold = try integer("COMPACT_THRESHOLD", default: 10, range: 0...99, unit: "percent, borg compact --threshold")
        let checkMaxDuration = try integer("CHECK_MAX_DURATION", default: 0, range: 0...(366 * 86400), unit: "seconds, 0 = full check")
        let stateDir = value("STATE_DIR", default: "/var/lib/borgpull-server/\(repoName)")
        try absolutePath("STATE_DIR", stateDir, example: "/var/lib/borgpull-server/\(repoName)")

        var maxBackupAge = 26 * 3600
        if let a = env.assignment("MAX_BACKUP_AGE"), !a.value.isEmpty {
            guard let v = DurationText.seconds(a.value) else {
                throw fail(
                    "MAX_BACKUP_AGE", "MAX_BACKUP_AGE=\(a.value) is not a duration (a number with s, m, h, d or w, e.g. 26h, 3d, 90m)",
                    fix: "set MAX_BACKUP_AGE=26h")
            }
            maxBackupAge = v
        }
        // Present and empty: no metrics. Absent: Debian's node-exporter textfile directory.
        var textfileDir: String? = "/var/lib/prometheus/node-exporter"
        if let a = env.assignment("PROMETHEUS_TEXTFILE_DIR") {
            if a.value.isEmpty {
                textfileDir = nil
            } else {
                try absolutePath("PROMETHEUS_TEXTFILE_DIR", a.value, example: "/var/lib/prometheus/node-exporter")
                textfileDir = a.value
            }
        }

        var config = ServerConfig(
            file: file, localUser: localUser, remoteUser: remoteUser, remoteHost: remoteHost, repoName: repoName,
            repoDir: repoDir, runDir: runDir, socketPath: socket, remoteSocketPath: remoteSocket, sshPort: port,
            sshIdentity: identity, sshKnownHosts: knownHosts, connectTimeout: connectTimeout,
            aliveInterval: aliveInterval, aliveCount: aliveCount, backupTimeout: backupTimeout,
            appendOnly: appendOnly, serveOptions: serveOptions, borgBinary: binaries[0], socatBinary: binaries[1],
            sshBinary: binaries[2], lockFile: lockFile, compactThreshold: compactThreshold,
            checkMaxDuration: checkMaxDuration, stateDir: stateDir, notices: notices)
        config.operations = try ServerOperations.resolve(client: env, defaults: defaults)
        config.maxBackupAge = maxBackupAge
        config.prometheusTextfileDir = textfileDir
        return config
    }

    /// `borg serve` long options borgpull decides itself or that would widen what the client
    /// may reach, with the reason (borg 1.2 `borg serve --help`).
    ///
    /// `--storage-quota` and the logging/ratelimit options stay allowed. `--bypass-lock` needs
    /// no entry: borg refuses it for `serve` itself ("Not allowed to bypass locking mechanism").
    static let managedServeOptions: [(name: String, why: String)] = [
        ("--append-only", "it is set by APPEND_ONLY=yes (the default)"),
        // Both can be given several times (argparse action=append): one more widens the client's reach.
        ("--restrict-to-repository", "borgpull restricts borg serve to REPO_DIR; another one would let the client reach a second repository"),
        ("--restrict-to-path", "borgpull restricts borg serve to REPO_DIR; a path would let the client reach every repository under it"),
        // borg's default 0077 keeps the repository's files private to LOCAL_USER; a stricter
        // value (one that still masks 0077) is accepted.
        (
            "--umask",
            "only a umask that keeps group and other out (--umask=0077 or stricter) is accepted: a wider one would let other accounts on this server read the repository"
        )
    ]

    /// Why `option` (one blank-separated word of BORG_SERVE_OPTIONS) is not allowed, or nil.
    ///
    /// borg parses with Python's argparse, which accepts any unambiguous prefix of a long
    /// option (`--restrict-to-repo=/other` is `--restrict-to-repository /other`; Python docs,
    /// argparse "allow_abbrev", on by default and not turned off by borg). So every word that
    /// is a prefix of a managed option is refused, even an ambiguous one (`--re`), which another
    /// borg version could make unambiguous. Only `--name` and `--name=value` words are accepted:
    /// no managed option has a short form, and a separate value word could not be checked as
    /// a value (argparse reads a word starting with `-` as an option, never as a value).
    static func managedServeOption(_ option: String) -> String? {
        let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
        guard option.hasPrefix("--"), name.count > 2 else {
            if option == "--" || name == "--" { return "`--` would end borg's options" }
            return "only --long-options are accepted here; give a value with = (e.g. --storage-quota=500G)"
        }
        if let m = managedServeOptions.first(where: { $0.name.hasPrefix(name) }) {
            let value = option.split(separator: "=", maxSplits: 1).dropFirst().first.flatMap { Int($0, radix: 8) }
            if m.name == "--umask", let mask = value, mask & 0o077 == 0o077, mask <= 0o777 { return nil }
            return name == m.name ? m.why : "borg reads it as \(m.name) (it accepts any unambiguous prefix of a long option): \(m.why)"
        }
        return nil
    }
}
