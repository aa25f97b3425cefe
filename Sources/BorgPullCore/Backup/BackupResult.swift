/// Exit statuses of `borgpull-client` (documented in README and `--help`).
///
/// BACKUP exits with the worst of its steps: interrupted > borg failed > pre hook failed >
/// post hook failed > warning > ok. Statuses 10-13 end the run before any step ran.
public enum ClientExit: Int32, Sendable, Codable, ExitTable {
    case ok = 0
    /// The backup finished but borg (or a path check) warned; see the summary and result record.
    case warning = 1
    /// `borg create` or `borg prune` failed.
    case borgFailed = 2
    /// The pre hook failed or timed out: no archive was created; the post hook ran.
    case preHookFailed = 3
    /// The post hook failed or timed out (the backup itself may be fine).
    case postHookFailed = 4
    /// SIGTERM/SIGINT: forwarded to the running step, the post hook ran.
    case interrupted = 5
    /// The forwarded socket is missing, stale, or not what sshd would create. Nothing ran.
    case socketProblem = 10
    /// Another BACKUP holds the run lock. Nothing ran.
    case busy = 11
    /// The configuration (or the audit of its files) failed. Nothing ran.
    case configError = 12
    /// The least-privilege sandbox could not be applied; borg did not run.
    case sandboxFailed = 13
    /// `restore`: borg could not restore some selected items (each named in the log, counted in
    /// the summary and the record); borg's own warning status 1 never passes for success.
    case restoreIncomplete = 14
    /// A bad command line: the argument parser's refusal, or a borg command that
    /// `borgpull-client borg` does not run (`extract`, `key export`), with the one to use.
    case usage = 64
    /// An unexpected system error (fork, pipe ...).
    case internalError = 70

    public var name: String {
        switch self {
        case .ok: return "ok"
        case .warning: return "ok-with-warnings"
        case .borgFailed: return "borg-failed"
        case .preHookFailed: return "pre-hook-failed"
        case .postHookFailed: return "post-hook-failed"
        case .interrupted: return "interrupted"
        case .socketProblem: return "socket-problem"
        case .busy: return "busy"
        case .configError: return "config-error"
        case .sandboxFailed: return "sandbox-failed"
        case .restoreIncomplete: return "restore-incomplete"
        case .usage: return "usage"
        case .internalError: return "internal-error"
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

/// How one step of a BACKUP ended.
public enum StepStatus: String, Sendable, Codable {
    case ok, warning, failed, skipped, timeout, interrupted
}

/// One step of a BACKUP (`BackupStep`: `pre-hook`, `paths`, `create`, `prune`, `sandbox`, `post-hook`).
public struct StepResult: Sendable, Codable, Equatable {
    public var name: BackupStep
    public var status: StepStatus
    /// Exit code, when the step's process exited.
    public var rc: Int32?
    /// Signal that ended the step's process, if any.
    public var signal: Int32?
    public var message: String
    /// Wall-clock duration in seconds.
    public var seconds: Double
    /// The known borg abort behind a failed borg step (`BorgAbort` code, e.g.
    /// `repository-relocated`); absent when borg failed otherwise. The message holds its cause and fix.
    public var cause: BorgAbort?

    public init(
        name: BackupStep, status: StepStatus, rc: Int32? = nil, signal: Int32? = nil, message: String, seconds: Double = 0,
        cause: BorgAbort? = nil
    ) {
        self.name = name
        self.status = status
        self.rc = rc
        self.signal = signal
        self.message = message
        self.seconds = seconds
        self.cause = cause
    }

    /// The step status for a borg process that ended with `outcome`; `abort` is what
    /// `BorgAbort.match` found in borg's stderr (its cause and fix go into the message).
    public static func borg(
        _ name: BackupStep, outcome: BorgOutcome, interrupted: Bool, seconds: Double, detail: String,
        abort: BorgAbort? = nil
    ) -> StepResult {
        switch outcome {
        case .success:
            return StepResult(name: name, status: .ok, rc: 0, message: "borg \(name) ok", seconds: seconds)
        case .warning(let rc):
            return StepResult(name: name, status: .warning, rc: rc, message: "borg \(name) finished with warnings (rc \(rc))\(detail)", seconds: seconds)
        case .error(let rc):
            if let a = abort, !interrupted {
                return StepResult(
                    name: name, status: .failed, rc: rc,
                    message: "borg \(name) failed (rc \(rc), \(a.rawValue)): \(a.cause); fix: \(a.fix)\(detail)",
                    seconds: seconds, cause: a)
            }
            return StepResult(
                name: name, status: interrupted ? .interrupted : .failed, rc: rc,
                message: "borg \(name) failed (rc \(rc))\(detail)", seconds: seconds)
        case .signaled(let s):
            return StepResult(
                name: name, status: interrupted ? .interrupted : .failed, signal: s,
                message: "borg \(name) was killed by signal \(s)\(detail)", seconds: seconds)
        }
    }
}

/// The decision of a BACKUP's exit status from its steps.
public enum BackupVerdict {
    /// The worst of the steps (see `ClientExit`).
    public static func exit(steps: [StepResult], interrupted: Bool, warnings: [String]) -> ClientExit {
        func failed(_ step: BackupStep) -> Bool { BackupPipeline.failed(step, in: steps) }
        if interrupted || steps.contains(where: { $0.status == .interrupted }) { return .interrupted }
        if failed(.sandbox) { return .sandboxFailed }
        if failed(.create) || failed(.prune) { return .borgFailed }
        if failed(.paths) { return .configError }
        if failed(.preHook) { return .preHookFailed }
        if failed(.postHook) { return .postHookFailed }
        if !warnings.isEmpty || steps.contains(where: { $0.status == .warning }) { return .warning }
        return .ok
    }
}

/// borg's `create --json` statistics (borg 1.2 "JSON output": archive.stats).
public struct ArchiveStats: Sendable, Codable, Equatable {
    public var originalSize: Int64?
    public var compressedSize: Int64?
    public var deduplicatedSize: Int64?
    public var files: Int64?

    enum CodingKeys: String, CodingKey {
        case originalSize = "original_size", compressedSize = "compressed_size"
        case deduplicatedSize = "deduplicated_size", files = "nfiles"
    }

    public init(originalSize: Int64? = nil, compressedSize: Int64? = nil, deduplicatedSize: Int64? = nil, files: Int64? = nil) {
        self.originalSize = originalSize
        self.compressedSize = compressedSize
        self.deduplicatedSize = deduplicatedSize
        self.files = files
    }
}

/// The result record written after every BACKUP (RESULT_FILE, default
/// /var/lib/borgpull/results/last-backup.json, mode 0640, group of the ssh user). No secret.
/// Schema version 1; the server's BACKUP reads it (printed by the ForceCommand).
public struct BackupRecord: Sendable, Codable, Equatable {
    public var version: Int = 1
    public var host: String
    /// ISO 8601 UTC.
    public var started: String
    public var finished: String
    public var status: Status
    /// The archive name borg created, if any.
    public var archive: String?
    public var repository: String
    public var steps: [StepResult]
    public var stats: ArchiveStats?
    public var warnings: [String]

    public struct Status: Sendable, Codable, Equatable {
        public var code: Int32
        public var name: String
        public var message: String
        public init(code: Int32, name: String, message: String) {
            self.code = code
            self.name = name
            self.message = message
        }
    }

    public init(
        host: String, started: String, finished: String, status: Status, archive: String?, repository: String,
        steps: [StepResult], stats: ArchiveStats?, warnings: [String]
    ) {
        self.host = host
        self.started = started
        self.finished = finished
        self.status = status
        self.archive = archive
        self.repository = repository
        self.steps = steps
        self.stats = stats
        self.warnings = warnings
    }

    /// A human summary, several lines: status, archive and sizes, each step, each warning.
    public var summary: String {
        var lines = ["BACKUP \(status.name) (exit \(status.code)): \(status.message)"]
        if let archive { lines.append("  archive: \(archive)") }
        if let s = stats {
            let parts = [
                s.files.map { "\($0) files" }, s.originalSize.map { "original \(ByteCount.format($0))" },
                s.compressedSize.map { "compressed \(ByteCount.format($0))" },
                s.deduplicatedSize.map { "deduplicated \(ByteCount.format($0))" }
            ].compactMap { $0 }
            lines.append("  stats: " + parts.joined(separator: ", "))
        }
        for s in steps { lines.append("  \(s.name.rawValue.padding(9)) \(s.status.rawValue.padding(11)) \(s.message)") }
        for w in warnings { lines.append("  warning: \(w)") }
        return lines.joined(separator: "\n")
    }
}

/// Byte counts for people (IEC units, one decimal).
public enum ByteCount {
    public static func format(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        if i == 0 { return "\(n) B" }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[i])"
    }
}

extension BackupVerdict {
    /// One sentence for the record and the log: what happened, naming the failed step.
    public static func message(status: ClientExit, steps: [StepResult], signal: Int32?) -> String {
        let bad = steps.first { $0.status.isBad }
        switch status {
        case .ok: return "backup complete"
        case .warning: return "backup complete with warnings"
        case .interrupted: return "interrupted by signal \(signal ?? 15)" + (bad.map { " during \($0.name)" } ?? "")
        default: return bad?.message ?? status.name
        }
    }
}
