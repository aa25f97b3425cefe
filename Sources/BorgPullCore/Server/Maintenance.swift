// Server-side maintenance of a client's repository: COMPACT and CHECK. Pure decisions: the
// borg argv, what a repository's `config` says, and the verdict from borg's exit and lines.
// Sources: borg 1.2 docs, "borg compact", "borg check" (--repository-only, --max-duration),
// "Repository config" (append_only), "Message IDs / exit codes".

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the server's maintenance modes run. Both need no key and no passphrase: `borg compact`
/// and `borg check --repository-only` open the repository without the manifest.
public enum MaintenancePlan {
    /// `borg compact --verbose --threshold T REPO_DIR` (verbose: borg prints its estimate of the
    /// space freed).
    public static func compactArguments(_ c: ServerConfig) -> [String] {
        [c.borgBinary, "compact", "--verbose", "--threshold", String(c.compactThreshold), "--", c.repoDir]
    }

    /// `borg check --repository-only --verbose [--max-duration N] REPO_DIR`. With a maximum
    /// duration borg checks segments for N seconds and stores where it stopped in the
    /// repository; the next run with `--max-duration` continues from there (borg check docs,
    /// "partial checks").
    public static func checkArguments(_ c: ServerConfig) -> [String] {
        var a = [c.borgBinary, "check", "--repository-only", "--verbose"]
        if c.checkMaxDuration > 0 { a += ["--max-duration", String(c.checkMaxDuration)] }
        return a + ["--", c.repoDir]
    }
}

/// The `[repository]` section of a borg repository's `config` file (INI, borg 1.x).
public struct RepositoryConfig: Equatable, Sendable {
    /// `append_only = 1`: borg itself keeps every segment; compact then frees nothing.
    public var appendOnly: Bool

    /// Parses `config`; nil when it is not a borg 1.x repository config (no `[repository]`
    /// section with a `version` and an `id`).
    public static func parse(_ text: String) -> RepositoryConfig? {
        var inRepository = false
        var keys: [String: String] = [:]
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.trimmingBlanks()
            if line.hasPrefix("[") {
                inRepository = line == "[repository]"
                continue
            }
            guard inRepository, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingBlanks().lowercased()
            keys[key] = line[line.index(after: eq)...].trimmingBlanks()
        }
        guard keys["version"] != nil, keys["id"] != nil else { return nil }
        let flag = (keys["append_only"] ?? "0").lowercased()
        return RepositoryConfig(appendOnly: flag == "1" || flag == "true" || flag == "yes")
    }
}

/// How a COMPACT or CHECK ended: the exit status and one sentence naming the next step.
public struct MaintenanceVerdict: Equatable, Sendable {
    public var exit: ServerExit
    public var message: String
    /// CHECK: borg's lines that locate the damage (segment, offset), at most 10.
    public var damage: [String]

    public init(exit: ServerExit, message: String, damage: [String] = []) {
        self.exit = exit
        self.message = message
        self.damage = damage
    }

    /// The verdict of `borg compact` (rc 0 ok, 1 warning, 2 error; 128+N: signal N).
    /// - Parameters: rc/signal from the process, `interrupted` when we forwarded SIGTERM/SIGINT,
    ///   `freed` bytes of REPO_DIR before minus after.
    public static func compact(rc: Int32?, signal: Int32?, interrupted: Bool, freed: Int64, repoDir: String) -> MaintenanceVerdict {
        if interrupted {
            return .init(exit: .interrupted, message: "COMPACT interrupted; borg stopped at a transaction boundary, the next COMPACT continues", damage: [])
        }
        switch (rc, signal) {
        case (0?, _):
            return .init(exit: .ok, message: "compacted \(repoDir): freed \(ByteCount.format(max(0, freed)))", damage: [])
        case (1?, _):
            return .init(
                exit: .warning, message: "borg compact finished with a warning (see its lines above); freed \(ByteCount.format(max(0, freed)))", damage: [])
        case (let r?, _):
            return .init(
                exit: .maintenanceFailed,
                message:
                    "borg compact failed (rc \(r)); nothing was deleted that a transaction had not freed (fix: read borg's message above; `borgpull-server CHECK` tests the repository)",
                damage: [])
        case (nil, let s):
            return .init(exit: .maintenanceFailed, message: "borg compact was killed by signal \(s ?? 0)", damage: [])
        }
    }

    /// The verdict of `borg check --repository-only`: rc 0 no problems; rc 1 with borg's
    /// "errors found" (or any integrity line) means a damaged repository; rc >= 2 means the
    /// check itself could not run (lock, permissions, not a repository).
    public static func check(
        rc: Int32?, signal: Int32?, interrupted: Bool, lines: [String], partial: Bool,
        repoDir: String
    ) -> MaintenanceVerdict {
        let damage = damageLines(lines)
        if interrupted {
            return .init(exit: .interrupted, message: "CHECK interrupted; run it again (with CHECK_MAX_DURATION it continues where it stopped)", damage: damage)
        }
        switch (rc, signal) {
        case (0?, _) where damage.isEmpty:
            let scope = partial ? "this slice of the repository (CHECK_MAX_DURATION): the next CHECK continues" : "the whole repository"
            return .init(exit: .ok, message: "no problems found in \(scope) of \(repoDir)", damage: [])
        case (0?, _), (1?, _):
            let location = damage.first.map { ": \($0)" } ?? ""
            return .init(
                exit: .repositoryDamaged,
                message:
                    "the repository \(repoDir) is damaged\(location). Next: keep a copy of REPO_DIR, find the cause (disk, memory: dmesg, smartctl), then decide on `borg check --repair` yourself (README, \"When CHECK finds damage\"); borgpull never repairs",
                damage: damage)
        case (let r?, _):
            return .init(exit: .maintenanceFailed, message: "borg check could not check \(repoDir) (rc \(r)); see borg's message above", damage: damage)
        case (nil, let s):
            return .init(exit: .maintenanceFailed, message: "borg check was killed by signal \(s ?? 0)", damage: damage)
        }
    }

    /// borg's lines that name damage: integrity errors, segment/offset, "errors found".
    public static func damageLines(_ lines: [String]) -> [String] {
        let keys = ["integrity error", "checksum mismatch", "[segment", "segment ", "errors found", "corrupt", "mismatch"]
        let hits = lines.filter { line in
            let l = line.lowercased()
            return keys.contains { l.contains($0) } && !l.contains("no problems found") && !l.contains("finished segment check")
                && !l.contains("checking segments")
        }
        return Array(hits.prefix(10))
    }
}

/// The audit of a client's maintenance on the server (`borgpull-check --server-config`): are
/// the COMPACT and CHECK timers of this client enabled, and how old and how good are the last
/// records. Findings `server.maintenance.timer` and `server.maintenance.last`.
public enum MaintenanceAudit {
    /// Ages after which a record is stale: twice the timers' intervals (weekly, monthly).
    public static let staleAfter: [ServerMode: Double] = [.compact: 15 * 86400, .check: 62 * 86400]

    /// - Parameters: `instance` is the config file's name without `.conf` (the timers'
    ///   instance), `enabled` whether each timer is enabled, `records` the last record of each
    ///   mode (nil: none yet), `now` seconds since 1970.
    public static func findings(
        configFile: String, instance: String, enabled: [ServerMode: Bool],
        records: [ServerMode: RunRecord], recordPaths: [ServerMode: String],
        now: Double
    ) -> [Finding] {
        var out: [Finding] = []
        for mode in [ServerMode.compact, .check] {
            let unit = "borgpull-\(mode.rawValue.lowercased())@\(instance).timer"
            if enabled[mode] == true {
                out.append(
                    Finding(
                        .ok, check: "server.maintenance.timer", what: "\(unit) is enabled", location: unit,
                        expected: "enabled", actual: "enabled"))
            } else {
                out.append(
                    Finding(
                        .warn, check: "server.maintenance.timer",
                        what: mode == .compact
                            ? "no weekly COMPACT: what the client prunes is never freed and the repository grows"
                            : "no monthly CHECK: damage to the repository goes unnoticed until a restore",
                        location: unit, expected: "enabled", actual: "not enabled",
                        fix: "systemctl enable --now \(unit)"))
            }
            let path = recordPaths[mode] ?? configFile
            guard let r = records[mode] else {
                out.append(
                    Finding(
                        .ok, check: "server.maintenance.last", what: "no \(mode.rawValue) has run yet for this client",
                        location: path, expected: "a record after the first run", actual: "none"))
                continue
            }
            let finished = r.finishedSeconds
            let age = finished.map { max(0, now - $0) }
            let ageText = age.map { "\(Int($0 / 86400)) day(s) ago" } ?? "at an unreadable time"
            if r.status == ServerExit.repositoryDamaged.rawValue {
                out.append(
                    Finding(
                        .fail, check: "server.maintenance.last", what: "the last CHECK found the repository damaged: \(r.damage?.first ?? r.message)",
                        location: path, expected: "no problems found", actual: "\(r.name), \(ageText)",
                        fix: "see README, \"When CHECK finds damage\"; then run borgpull-server -c \(configFile) CHECK"))
            } else if r.status != 0 {
                out.append(
                    Finding(
                        .warn, check: "server.maintenance.last", what: "the last \(mode.rawValue) did not succeed: \(r.message)",
                        location: path, expected: "ok", actual: "\(r.name), \(ageText)",
                        fix: "borgpull-server -c \(configFile) \(mode.rawValue)"))
            } else if let age, age > (staleAfter[mode] ?? .infinity) {
                out.append(
                    Finding(
                        .warn, check: "server.maintenance.last", what: "the last successful \(mode.rawValue) is old",
                        location: path, expected: "within \(Int((staleAfter[mode] ?? 0) / 86400)) days", actual: ageText,
                        fix: "systemctl status \(unit); borgpull-server -c \(configFile) \(mode.rawValue)"))
            } else {
                out.append(
                    Finding(
                        .ok, check: "server.maintenance.last", what: "the last \(mode.rawValue) succeeded", location: path,
                        expected: "ok", actual: "ok, \(ageText)"))
            }
        }
        return out
    }
}
