/// Healthcheck pings in the healthchecks.io protocol (healthchecks.io docs, "Pinging API":
/// `URL/start` when a job starts, `URL` on success, `URL/fail` on failure; a POST body, up to
/// 100 kB, is shown in the check's log). Pure: the URL, the body and curl's config.
public enum HealthcheckPing {
    public enum Kind: String, Sendable, CaseIterable {
        case start, success, fail
    }

    /// The URL to ping: `base/start`, `base`, `base/fail`.
    public static func url(_ base: String, _ kind: Kind) -> String {
        switch kind {
        case .start: return base + "/start"
        case .success: return base
        case .fail: return base + "/fail"
        }
    }

    /// `value` as a ping base URL (a trailing `/` removed), or nil: http(s), a host, and none of
    /// blanks, quotes, backslash, control characters, `?` or `#` (the kind is appended as a path;
    /// curl's config syntax needs no escaping then).
    public static func validURL(_ value: String) -> String? {
        var v = value
        while v.hasSuffix("/") { v.removeLast() }
        guard v.hasPrefix("https://") || v.hasPrefix("http://"), !host(of: v).isEmpty else { return nil }
        guard v.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f && !"\"'\\`?#<>{}|^".unicodeScalars.contains($0) }) else { return nil }
        return v
    }

    /// The host of `url` (no scheme, user info, port or path), for the log: the path of a ping
    /// URL is its secret (the check's UUID), so only the host is ever written.
    public static func host(of url: String) -> String {
        var rest = Substring(url)
        if rest.hasPrefix("https://") { rest = rest.dropFirst(8) } else if rest.hasPrefix("http://") { rest = rest.dropFirst(7) } else { return "" }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("[") { return String(rest.prefix { $0 != "]" }) + "]" }
        if let colon = rest.firstIndex(of: ":") { rest = rest[..<colon] }
        return String(rest)
    }

    /// The client's step names a body may hold (its record's `steps[].name`); anything else
    /// the client sends is left out, so no client text reaches the ping.
    public static let knownSteps: Set<String> = ["pre-hook", "paths", "create", "prune", "post-hook"]

    /// The short body: the server's status name and code and, for a failed client backup, the
    /// names of the failed steps. Never a file name, a message or other text from the client.
    /// - Parameter status: the run's exit status and its name (`ServerExit.name`, or NOTIFY's
    ///   `unit-RESULT` for a unit that failed without one).
    public static func body(_ kind: Kind, status: (code: Int32, name: String)?, failedSteps: [String] = []) -> String {
        switch kind {
        case .start: return "borgpull-server BACKUP started"
        case .success, .fail:
            guard let s = status else { return "" }
            let name = String(s.name.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }.prefix(40))
            let steps = failedSteps.filter { knownSteps.contains($0) }
            return "\(name) (exit \(s.code))" + (steps.isEmpty ? "" : "; failed step: " + steps.joined(separator: ", "))
        }
    }

    /// curl's argv after the program: read everything else from the config on stdin (`-q`
    /// first: no `~/.curlrc`), so the URL never appears in /proc/PID/cmdline.
    public static let curlArguments = ["-q", "--config", "-"]

    /// The curl config (curl(1) `--config`: `name = "value"` lines) for one ping: POST `body` to
    /// `url`, http(s) only, no redirect followed, `--max-time`, output discarded, a failed HTTP
    /// status (4xx/5xx) is an error (exit 22).
    public static func curlConfig(url: String, body: String, timeout: Int) -> String {
        let quoted = body.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f && $0 != "\"" && $0 != "\\" }
        return """
            url = "\(url)"
            data-raw = "\(String(String.UnicodeScalarView(quoted)))"
            proto = "=http,https"
            max-time = \(timeout)
            connect-timeout = \(timeout)
            output = "/dev/null"
            silent
            fail
            user-agent = "borgpull-server"

            """
    }

    /// What curl's exit status means (curl(1) "EXIT CODES"), for the log line.
    public static func describeCurlExit(_ code: Int32) -> String {
        switch code {
        case 0: return "ok"
        case 6: return "could not resolve the host"
        case 7: return "could not connect"
        case 22: return "the server answered with an HTTP error status"
        case 28: return "timed out"
        case 35, 60: return "TLS handshake or certificate failed"
        case 52: return "empty reply"
        case 56: return "connection reset while receiving"
        default: return "curl exit \(code)"
        }
    }
}

/// When a run's failure is reported (NOTIFY_COMMAND, the healthcheck's `/fail`), and by whom.
///
/// BACKUP reports its own failures, except a connect failure when it runs under systemd
/// (`$INVOCATION_ID` set): `borgpull-server@.service` retries those (`Restart=on-failure` narrowed to status 3),
/// and only the last one, when the retries are used up, reaches the `OnFailure=` unit
/// `borgpull-notify@.service`, whose NOTIFY mode reports it. NOTIFY also reports what the
/// server could not report itself: a crash (a signal, a core dump), systemd's timeout, and the
/// failures of COMPACT and CHECK.
public enum NotifyPolicy {
    /// Whether BACKUP itself reports this outcome.
    public static func backupReports(_ exit: ServerExit, underSystemd: Bool) -> Bool {
        switch exit {
        case .ok, .warning: return false
        case .connectFailed: return !underSystemd
        default: return true
        }
    }

    /// The server mode the failed `unit` ran (`MONITOR_UNIT`): `borgpull-compact@NAME.service`
    /// COMPACT, `borgpull-check@NAME.service` CHECK, anything else (`borgpull-server@`) BACKUP;
    /// the `mode` of NOTIFY's run record.
    public static func mode(ofUnit unit: String) -> String {
        if unit.hasPrefix("borgpull-compact@") { return ServerMode.compact.rawValue }
        if unit.hasPrefix("borgpull-check@") { return ServerMode.check.rawValue }
        return ServerMode.backup.rawValue
    }

    /// Whether NOTIFY reports the failure of `unit`, from the `$MONITOR_*` variables systemd
    /// gives `OnFailure=` units (systemd.exec(5), "Environment Variables Set or Propagated by
    /// the Service Manager": `MONITOR_SERVICE_RESULT`, `MONITOR_EXIT_CODE`, `MONITOR_EXIT_STATUS`).
    /// - Parameters:
    ///   - unit: `MONITOR_UNIT`, e.g. `borgpull-server@client-a.service`.
    ///   - exitCode: `MONITOR_EXIT_CODE`: `exited`, `killed` or `dumped` (empty when no process ran).
    ///   - exitStatus: `MONITOR_EXIT_STATUS`: the exit status, or the signal name.
    public static func notifyReports(unit: String, exitCode: String, exitStatus: String) -> Bool {
        guard unit.hasPrefix("borgpull-server@"), exitCode == "exited",
            let n = Int32(exitStatus), let e = ServerExit(rawValue: n)
        else { return true }
        // BACKUP reported every other status itself (or, 0 and 1, it was no failure).
        return e == .connectFailed
    }
}
