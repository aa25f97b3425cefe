/// The steps of a BACKUP, in the order they run. The raw values are the step names in the
/// result record (`steps[].name`) and in the summaries, and the server reads them from the
/// record (`ClientReport`): they never change.
public enum BackupStep: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case preHook = "pre-hook"
    /// The borg_paths check, after the pre hook (which may create a path).
    case paths
    case create
    case prune
    /// Recorded only when the privilege drop failed, so that borg did not run.
    case sandbox
    case postHook = "post-hook"

    public var description: String { rawValue }
}

extension StepStatus {
    /// failed, timeout or interrupted: what makes a step count against the run.
    public var isBad: Bool { self == .failed || self == .timeout || self == .interrupted }
}

/// A pre or post hook as BACKUP runs it: as root, stdin /dev/null, the minimal `environment`,
/// output to the log, ended after `timeout` seconds (borgpull.conf(5), borg_hook_pre,
/// borg_hook_post, HOOK_TIMEOUT).
public struct Hook: Sendable, Equatable {
    public enum Phase: String, Sendable {
        case pre, post
    }

    public var phase: Phase
    /// The hook's absolute path (`borg_hook_pre` / `borg_hook_post` in the config directory).
    public var path: String
    /// Seconds until the hook is terminated (HOOK_TIMEOUT).
    public var timeout: Int
    /// The hook's whole environment: PATH, LANG, HOME, BORGPULL_PHASE, BORGPULL_CONFIG_DIR, and
    /// for the post hook BORGPULL_STATUS.
    public var environment: [String: String]

    /// The hook of `phase` in `config`, nil when the file is absent. `status`: the exit status
    /// name so far, given to the post hook as BORGPULL_STATUS (what it may have to undo).
    public static func of(_ config: ClientConfig, _ phase: Phase, status: ClientExit? = nil) -> Hook? {
        guard let path = phase == .pre ? config.preHook : config.postHook else { return nil }
        var env = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
            "HOME": "/root", "BORGPULL_PHASE": phase.rawValue, "BORGPULL_CONFIG_DIR": config.directory
        ]
        if let status { env["BORGPULL_STATUS"] = status.name }
        return Hook(phase: phase, path: path, timeout: config.hookTimeout, environment: env)
    }

    /// The step this hook is in the record.
    public var step: BackupStep { phase == .pre ? .preHook : .postHook }

    /// Whether a stop request (SIGTERM, SIGINT) is passed on to the hook. Why not to the post
    /// hook: it is what undoes the pre hook, so it runs to its end (or its timeout).
    public var forwardsSignals: Bool { phase == .pre }

    /// The step result when the hook could not be started (the reason goes to the log).
    public var notStarted: StepResult {
        StepResult(name: step, status: .failed, message: "\(step) could not start \(BackupPipeline.seeLog)")
    }

    /// The step result of a hook that ran.
    /// - Parameters:
    ///   - exitCode: its exit code, nil when a signal ended it.
    ///   - signal: the signal that ended it, when `exitCode` is nil.
    ///   - timedOut: `timeout` elapsed and it was terminated.
    ///   - interrupted: a stop request reached BACKUP while it ran.
    ///   - seconds: wall-clock duration.
    public func result(exitCode: Int32?, signal: Int32?, timedOut: Bool, interrupted: Bool, seconds: Double) -> StepResult {
        if timedOut {
            return StepResult(name: step, status: .timeout, signal: nil, message: "\(step) timed out after \(timeout) s and was terminated", seconds: seconds)
        }
        switch exitCode {
        case 0:
            return StepResult(name: step, status: !interrupted || phase == .post ? .ok : .interrupted, rc: 0, message: "\(step) ok", seconds: seconds)
        case let rc?:
            return StepResult(name: step, status: interrupted ? .interrupted : .failed, rc: rc, message: "\(step) failed (exit \(rc))", seconds: seconds)
        case nil:
            let s = signal ?? 0
            return StepResult(name: step, status: interrupted ? .interrupted : .failed, signal: s, message: "\(step) killed by signal \(s)", seconds: seconds)
        }
    }
}

/// The rules that order a BACKUP: pre hook → paths → create → prune → post hook (always).
/// The runner performs the steps; these decide which run.
public enum BackupPipeline {
    /// Where the details of a step are: the client's log, never the record the server reads.
    public static let seeLog = "(details in the client's log: journalctl -u run-borg-backup, or syslog)"

    /// Whether `step` is among `steps` and counts against the run (`StepStatus.isBad`).
    public static func failed(_ step: BackupStep, in steps: [StepResult]) -> Bool {
        steps.contains { $0.name == step && $0.status.isBad }
    }

    /// Whether the backup proper (paths, create, prune) runs: the pre hook did not fail and no
    /// stop request came. `interrupted` is asked only when the pre hook did not fail (asking
    /// reads the pending signals).
    public static func proceeds(after steps: [StepResult], interrupted: @autoclosure () -> Bool) -> Bool {
        !failed(.preHook, in: steps) && !interrupted()
    }

    /// The skipped `prune` step when prune must not run (create failed, or a stop request
    /// came; `interrupted` is asked only when create did not fail); nil when prune runs. Why:
    /// after a failed create, prune would thin out the old archives with no new one among them.
    public static func skippedPrune(after steps: [StepResult], interrupted: @autoclosure () -> Bool) -> StepResult? {
        guard failed(.create, in: steps) || interrupted() else { return nil }
        return StepResult(name: .prune, status: .skipped, message: "skipped: borg create did not succeed")
    }

    /// The `sandbox` step when the privilege drop of a borg run failed; nil otherwise.
    public static func sandboxStep(failed: Bool) -> StepResult? {
        guard failed else { return nil }
        return StepResult(name: .sandbox, status: .failed, message: "the least-privilege sandbox could not be applied; borg did not run unconfined")
    }

    /// The `create` or `prune` step when the privilege drop failed at `failedStep`, so borg
    /// did not run (the sandbox-exec status pipe; the reason is in the log).
    public static func sandboxRefused(_ step: BackupStep, at failedStep: SandboxStep, seconds: Double) -> StepResult {
        StepResult(name: step, status: .failed, message: "sandbox step \(failedStep) failed, so borg \(step) did not run \(seeLog)", seconds: seconds)
    }

    /// The record's warning for a borg step that exited with warning status `rc`. Why counts
    /// only: the record goes to the server, and borg's lines (`tail`) name the client's files.
    public static func borgWarning(_ step: BackupStep, rc: Int32, tail: [String]) -> String {
        let lines = tail.filter { !$0.allSatisfy(\.isWhitespace) }.count
        return "borg \(step) warned (rc \(rc), \(lines) message line(s)) \(seeLog)"
    }

    /// What the borg_paths check decided (MISSING_PATHS, borgpull.conf(5)).
    public struct Paths: Sendable, Equatable {
        /// The paths borg create gets: the existing ones, in borg_paths order.
        public var existing: [String]
        /// One line per missing entry, `PATH (FILE:LINE) does not exist`: for the log only (the
        /// record reaches the server, and the paths are the client's).
        public var missing: [String]
        /// The failed `paths` step: backup stops (create and prune do not run).
        public var failure: StepResult?
        /// The record's warning when missing entries are tolerated (MISSING_PATHS=warn).
        public var warning: String?
    }

    /// The borg_paths check: a missing entry fails the run unless MISSING_PATHS=warn, and
    /// even then when no entry exists. `exists` answers for one path (the OS, or a fake).
    public static func paths(_ config: ClientConfig, exists: (String) -> Bool) -> Paths {
        var existing: [String] = []
        var missing: [String] = []
        for item in config.paths {
            if exists(item.value) {
                existing.append(item.value)
            } else {
                missing.append("\(item.value) (\(config.pathsFile):\(item.line)) does not exist")
            }
        }
        var result = Paths(existing: existing, missing: missing, failure: nil, warning: nil)
        guard !missing.isEmpty else { return result }
        let summary = "\(missing.count) borg_paths entr\(missing.count == 1 ? "y does" : "ies do") not exist"
        if config.missingPathsAreErrors || existing.isEmpty {
            result.failure = StepResult(name: .paths, status: .failed, message: "\(summary) (fix: correct borg_paths, or set MISSING_PATHS=warn) \(seeLog)")
        } else {
            result.warning = "\(summary) (MISSING_PATHS=warn) \(seeLog)"
        }
        return result
    }
}
