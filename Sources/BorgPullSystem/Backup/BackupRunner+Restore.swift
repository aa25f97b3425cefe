import BorgPullCore
import Glibc
import Logging

extension BackupRunner {
    /// Runs one `borgpull-client restore`: config and socket (as for BACKUP) → archive list (in the
    /// backup sandbox) → plan (`RestorePlan`) → target checks → borg extract in the restore sandbox
    /// (`SandboxPlan.restore`) → summary and record. Every decision comes from the core.
    /// Returns the exit status and the record (nil when it ended before a plan).
    public func restore(_ request: RestoreRequest) -> (ClientExit, RestoreRecord?) {
        let startedAt = Double(time(nil))
        var plan: RestorePlan?
        var outcome = RestoreOutcome()
        func finish(_ status: ClientExit, _ message: String) -> (ClientExit, RestoreRecord?) {
            let record = RestoreRecord(
                host: shortHostName(), started: BackupRecord.timestamp(startedAt), finished: BackupRecord.timestamp(Double(time(nil))),
                archive: plan?.archive, target: plan?.target, inPlace: request.inPlace, dryRun: request.dryRun,
                restored: outcome.restored.count, failed: outcome.problems.count, status: status, message: message)
            return (status, record)
        }
        func refuse(_ e: RestoreError) -> (ClientExit, RestoreRecord?) {
            log.error("\(e)")
            return finish(e.status, e.description)
        }

        // Socket, config audit, passphrase, state directory: refused exactly as for BACKUP
        // (a missing or stale forward is the socket-problem status, and nothing is written).
        let p: BackupRunner.Prepared
        do { p = try prepare() } catch {
            log.error("\(error.message)")
            return finish(error.status, error.message)
        }
        let config = p.config
        let policy: SeccompPolicy
        let baseDirectory: String
        do {
            policy = try SeccompPolicyFile.load(path: config.restorePolicy)
            // Why root's own base directory: the restore borg is uid 0 and must never read a
            // cache, security file or Python site directory the runner could have written.
            baseDirectory = try StateLayout.rootBaseDirectory(config)
        } catch {
            return refuse(
                RestoreError(
                    "\(error)", fix: "install policy/seccomp/borg-restore.policy root-owned at \(config.restorePolicy) (SECCOMP_RESTORE_POLICY), then retry"))
        }

        // The archive list is read in the ordinary (runner) sandbox: it needs no privilege.
        let archives: [String]
        do {
            let argv = [config.borgBinary, "list", "--short", "--lock-wait", String(config.lockWait)]
            let run = try runBorg(p, argv: argv, stdout: .capture, stderr: .lines(prefix: "[borg list] "))
            if let step = run.sandboxFailure {
                return finish(.sandboxFailed, "sandbox step \(step) failed, so borg list did not run")
            }
            guard run.process.termination == .exited(0), !run.process.stdoutOverflowed else {
                let headline = BorgMessages.headline(run.process.tail) ?? "no message"
                return refuse(
                    RestoreError(
                        .borgFailed, "borg list failed: \(LogText.sanitize(headline))",
                        fix: "check the repository and the passphrase: borgpull-client borg list"))
            }
            archives = String(decoding: run.process.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        } catch {
            return refuse(RestoreError(.internalError, "borg list could not start: \(error)", fix: "see the log"))
        }

        let decided: RestorePlan
        // borg renders {hostname} in the archive name as the short host name (borg 1.2
        // "Placeholders"), so this host's names start with the rendered prefix.
        do {
            decided = try RestorePlan.decide(
                request, archives: archives, stateDirectory: config.stateDirectory,
                prefix: config.archivePrefix.replacing("{hostname}", with: shortHostName()), stamp: "\(Int(startedAt))-\(getpid())")
        } catch { return refuse(error) }
        plan = decided

        // The target: checked (never a symlink, never merged silently), then made root's 0700
        // when missing, so no local user can reach restored files before the admin moves them.
        var workingDirectory = decided.target
        var writable: [String]
        do {
            let state = try targetState(decided.target)
            try decided.checkTarget(state, force: request.force)
            writable = try decided.writableDirectories { path in (try? Files.facts(path))??.kind == .directory }
            if decided.dryRun {
                // --dry-run writes nothing: borg runs in its base directory, with only that writable.
                workingDirectory = baseDirectory
                writable = []
            } else if state == .missing {
                do {
                    try Files.makeParents(decided.target)
                    try Files.makeDirectory(decided.target, mode: 0o700)
                } catch {
                    return refuse(
                        RestoreError(.internalError, "cannot create the target: \(error)", fix: "create \(decided.target) as root, or choose another --to"))
                }
            }
        } catch let e as RestoreError {
            return refuse(e)
        } catch {
            return refuse(RestoreError(.internalError, "cannot inspect the target \(decided.target): \(error)", fix: "check the path"))
        }

        let sandbox = SandboxPlan.restore(policy: policy, writableDirectories: writable + [baseDirectory], landlock: config.landlock)
        do { try sandbox.validate() } catch {
            return refuse(RestoreError(.sandboxFailed, "\(error)", fix: "restore --to a directory below /"))
        }
        var prepared = p
        prepared.commands.baseDirectory = baseDirectory
        log.info(
            "restore of \(decided.archive)\(decided.paths.isEmpty ? "" : " (\(decided.paths.count) path(s))") \(decided.inPlace ? "in place" : "to \(decided.target)")\(decided.dryRun ? " (dry run)" : "")"
        )
        let run: BackupRunner.BorgRun
        do {
            run = try runBorg(
                prepared, argv: decided.extractArguments(borgBinary: config.borgBinary, lockWait: config.lockWait),
                stdout: .lines(prefix: "[borg extract] "), stderr: .lines(prefix: ""),
                workingDirectory: workingDirectory, plan: (sandbox, config.restorePolicy)
            ) { line in
                outcome.add(line)
                if outcome.other.last == line { self.log.info("[borg extract] \(LogText.sanitize(line))") }
            }
        } catch {
            return refuse(RestoreError(.internalError, "borg extract could not start: \(error)", fix: "see the log"))
        }
        if let step = run.sandboxFailure {
            log.error("sandbox step \(step) failed; borg extract did not run: \(LogText.sanitize(run.process.tail.last ?? "no message"))")
            return finish(.sandboxFailed, "sandbox step \(step) failed, so borg extract did not run")
        }
        for item in outcome.restored where decided.dryRun { print(item) }
        for problem in outcome.problems { log.error("not restored: \(LogText.sanitize(problem))") }
        let status: ClientExit
        switch run.process.termination {
        case .exited(let rc): status = outcome.status(rc: rc)
        case .signaled: status = run.process.interruptedBy == nil ? .borgFailed : .interrupted
        }
        let verb = decided.dryRun ? "would restore" : "restored"
        let message =
            "\(verb) \(outcome.restored.count) item(s) of \(decided.archive) \(decided.inPlace ? "in place" : "to \(decided.target)"); \(outcome.problems.count) not restored"
            + (status == .ok ? "" : " (\(status.name); the items are named in the log)")
        if status == .ok { log.info("\(message)") } else { log.error("\(message)") }
        return finish(status, message)
    }

    func targetState(_ path: String) throws -> TargetState {
        guard let f = try Files.facts(path) else { return .missing }
        switch f.kind {
        case .symlink: return .symlink
        case .directory: return Files.entries(path).isEmpty ? .emptyDirectory : .nonEmptyDirectory
        default: return .other
        }
    }
}
