/// The server-wide operations settings: `/etc/borgpull-server/defaults.conf` (same `borg_env`
/// dialect and trust rules as a client's server config), read by every mode before the
/// client's config.
///
/// | key | meaning | default |
/// |---|---|---|
/// | `MAX_CONCURRENT` | BACKUPs of all clients at once (1-1000; a client's config may only lower it) | no limit |
/// | `SLOT_DIR` | directory of the slot lock files `slot-1` ... `slot-N` | `/run/borgpull-server/slots` |
/// | `SLOT_WAIT_TIMEOUT` | seconds a BACKUP waits for a free slot, then it ends with `locked` (5) | `14400` |
/// | `NOTIFY_COMMAND` | absolute path of a program and its blank-separated arguments, run on a failed run | none |
/// | `NOTIFY_TIMEOUT` | seconds NOTIFY_COMMAND may run | `60` |
/// | `HEALTHCHECK_TIMEOUT` | seconds one healthcheck ping may take (curl `--max-time`) | `10` |
/// | `CURL_BINARY` | absolute path of curl | `/usr/bin/curl` |
public struct ServerDefaults: Sendable, Equatable {
    /// The file they were read from (nil: none exists, built-in defaults).
    public var file: String?
    public var env: EnvFile?
    public var notices: [String]

    /// The packages' LOCAL_USER (`User=` of the server units, ServerConfig's default): who runs
    /// the defaults' NOTIFY_COMMAND when a client's config could not be read.
    public static let localUser = "borg"

    /// The packages' path of the defaults file.
    public static let path = "/etc/borgpull-server/defaults.conf"

    /// No defaults file: every key has its built-in default.
    public init() {
        file = nil
        env = nil
        notices = []
    }

    /// Keys only the defaults file may set (one value for the whole server).
    public static let serverWideKeys: Set<String> = [
        "SLOT_DIR", "SLOT_WAIT_TIMEOUT", "NOTIFY_TIMEOUT", "HEALTHCHECK_TIMEOUT", "CURL_BINARY"
    ]
    /// Keys both files may set; a client's value replaces the default (MAX_CONCURRENT: only lower).
    public static let sharedKeys: Set<String> = ["MAX_CONCURRENT", "NOTIFY_COMMAND"]

    /// Parses the defaults file and checks every value (the same checks `ServerOperations.resolve`
    /// applies), so an error is reported against this file and line.
    /// - Throws: `ConfigError` (file:line, problem, fix); `HEALTHCHECK_URL` here is one (it is per client).
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ServerDefaults {
        let env = try EnvFile.parse(text, file: file)
        var d = ServerDefaults()
        d.file = file
        d.env = env
        for a in env.finalAssignments where !serverWideKeys.contains(a.key) && !sharedKeys.contains(a.key) {
            if a.key == "HEALTHCHECK_URL" {
                throw ConfigError(
                    file: file, line: a.line, problem: "HEALTHCHECK_URL is one check per client and cannot be a server-wide default",
                    fix: "move the line into each client's config (one check URL per client)")
            }
            d.notices.append("\(file):\(a.line): \(a.key) is not a setting of the defaults file and is ignored")
        }
        _ = try ServerOperations.resolve(client: nil, defaults: d)
        return d
    }
}

/// What a run does around the backup: concurrency slots, healthcheck pings, notifications.
/// Pure values, resolved from the defaults file and the client's config.
public struct ServerOperations: Sendable, Equatable {
    /// nil: no limit (no slot is taken).
    public var maxConcurrent: Int?
    public var slotDirectory: String = "/run/borgpull-server/slots"
    /// Seconds.
    public var slotWaitTimeout: Int = 14400
    /// The healthchecks.io-style ping URL of this client (a secret: never logged in full).
    public var healthcheckURL: String?
    /// Seconds (curl `--max-time`).
    public var healthcheckTimeout: Int = 10
    /// argv of NOTIFY_COMMAND (absolute program path first).
    public var notifyCommand: [String]?
    /// Seconds.
    public var notifyTimeout: Int = 60
    public var curlBinary: String = "/usr/bin/curl"

    public init() {}

    /// Keys of a client's config that belong here (added to `ServerConfig.knownKeys`).
    public static let clientKeys: Set<String> = ["MAX_CONCURRENT", "HEALTHCHECK_URL", "NOTIFY_COMMAND"]

    /// The effective settings: the defaults file's values, then the client's.
    /// - Throws: `ConfigError` naming the file and line: a value out of range, a client
    ///   MAX_CONCURRENT above the server-wide one, a server-wide key in a client's config, a
    ///   HEALTHCHECK_URL that is not `http(s)://HOST/...` without query, blanks or quotes.
    public static func resolve(client: EnvFile?, defaults: ServerDefaults) throws(ConfigError) -> ServerOperations {
        var o = ServerOperations()
        if let d = defaults.env {
            func int(_ key: String, _ range: ClosedRange<Int>, _ unit: String) throws(ConfigError) -> Int? {
                try integer(d, key, range, unit)
            }
            o.maxConcurrent = try int("MAX_CONCURRENT", 1...1000, "BACKUPs at once")
            o.slotWaitTimeout = try int("SLOT_WAIT_TIMEOUT", 1...(7 * 86400), "seconds") ?? o.slotWaitTimeout
            o.notifyTimeout = try int("NOTIFY_TIMEOUT", 1...3600, "seconds") ?? o.notifyTimeout
            o.healthcheckTimeout = try int("HEALTHCHECK_TIMEOUT", 1...300, "seconds") ?? o.healthcheckTimeout
            if let a = d.assignment("SLOT_DIR"), !a.value.isEmpty {
                try absolute(d, "SLOT_DIR", a.value, example: o.slotDirectory)
                o.slotDirectory = a.value
            }
            if let a = d.assignment("CURL_BINARY"), !a.value.isEmpty {
                try absolute(d, "CURL_BINARY", a.value, example: o.curlBinary)
                o.curlBinary = a.value
            }
            o.notifyCommand = try command(d)
        }
        guard let c = client else { return o }
        for a in c.finalAssignments where ServerDefaults.serverWideKeys.contains(a.key) {
            throw ConfigError(
                file: c.file, line: a.line, problem: "\(a.key) is a server-wide setting and cannot be set per client",
                fix: "remove the line and set \(a.key) in \(defaults.file ?? ServerDefaults.path)")
        }
        if let n = try integer(c, "MAX_CONCURRENT", 1...1000, "BACKUPs at once") {
            // Why only lower: the server-wide limit protects the server (CPU, disks, memory); a
            // client's file must not be able to lift it for itself.
            if let limit = o.maxConcurrent, n > limit {
                throw ConfigError(
                    file: c.file, line: c.assignment("MAX_CONCURRENT")?.line,
                    problem:
                        "MAX_CONCURRENT=\(n) is above the server-wide MAX_CONCURRENT=\(limit) of \(defaults.file ?? ServerDefaults.path); a client may only lower it",
                    fix: "set MAX_CONCURRENT=\(limit) or lower, or remove the line")
            }
            o.maxConcurrent = n
        }
        if let cmd = try command(c) { o.notifyCommand = cmd }
        if let a = c.assignment("HEALTHCHECK_URL"), !a.value.isEmpty {
            guard let url = HealthcheckPing.validURL(a.value) else {
                throw ConfigError(
                    file: c.file, line: a.line,
                    problem:
                        "HEALTHCHECK_URL is not an http:// or https:// URL with a host, without blanks, quotes, backslashes, a query (?) or a fragment (#)",
                    fix: "set HEALTHCHECK_URL=\"https://hc-ping.com/YOUR-CHECK-UUID\"")
            }
            o.healthcheckURL = url
        }
        return o
    }

    static func integer(_ env: EnvFile, _ key: String, _ range: ClosedRange<Int>, _ unit: String) throws(ConfigError) -> Int? {
        guard let a = env.assignment(key), !a.value.isEmpty else { return nil }
        guard let v = Int(a.value), range.contains(v) else {
            throw ConfigError(
                file: env.file, line: a.line, problem: "\(key)=\(a.value) is not a whole number in \(range.lowerBound)...\(range.upperBound)",
                fix: "set \(key) to a number in \(range.lowerBound)...\(range.upperBound) (\(unit)), or remove the line")
        }
        return v
    }

    static func absolute(_ env: EnvFile, _ key: String, _ v: String, example: String) throws(ConfigError) {
        guard v.hasPrefix("/"), !v.split(separator: "/").contains(".."), !v.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw ConfigError(
                file: env.file, line: env.assignment(key)?.line, problem: "\(key)=\(v) must be an absolute path without ..",
                fix: "set \(key)=\"\(example)\"")
        }
    }

    /// NOTIFY_COMMAND as argv: blank-separated words (no shell, no quoting), the first an
    /// absolute path.
    static func command(_ env: EnvFile) throws(ConfigError) -> [String]? {
        guard let a = env.assignment("NOTIFY_COMMAND"), !a.value.isEmpty else { return nil }
        let argv = a.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = argv.first, first.hasPrefix("/"), !first.split(separator: "/").contains(".."),
            !a.value.contains(where: { $0.isNewline || $0 == "\0" })
        else {
            throw ConfigError(
                file: env.file, line: a.line,
                problem: "NOTIFY_COMMAND must start with the absolute path of a program (it is run without a shell, its words split at blanks)",
                fix: "set NOTIFY_COMMAND=\"/usr/local/bin/borgpull-mail admin@example.org\"")
        }
        return argv
    }
}
