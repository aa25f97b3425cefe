import BorgPullCore
import Glibc
import Logging

/// Runs one client BACKUP: config → socket → lock → pre hook → create → prune → post hook →
/// result record. Every decision comes from the core (`BackupPipeline`, `Hook`, `BackupVerdict`);
/// this type only performs the steps.
public final class BackupRunner {
    let directory: String
    let supervisor: Supervisor
    let log: Logger
    /// The helper's own executable (for the relay and the sandbox re-exec).
    let selfPath: String

    public init(directory: String, supervisor: Supervisor, log: Logger) {
        self.directory = directory
        self.supervisor = supervisor
        self.log = log
        self.selfPath = Installation.executablePath()
    }

    /// What preparation produced: everything a borg invocation needs.
    public struct Prepared {
        public var config: ClientConfig
        public var commands: BorgCommands
        public var sshUser: Account
        public var sshGID: UInt32
        public var runner: Account
        public var passphrase: String?
        /// The least-privilege plan every borg runs under (SECURITY.md, "The borg sandbox").
        public var sandbox: SandboxPlan
    }

    /// A failure before any step ran: the status and the message.
    public struct EarlyExit: Error {
        public var status: ClientExit
        public var message: String
    }

    /// Loads the configuration, audits it, plans the sandbox, checks the forwarded socket and
    /// makes sure the state directory exists.
    public func prepare(checkSocket: Bool = true) throws(EarlyExit) -> Prepared {
        // The same audit as borgpull-check (the BACKUP subset): refuse on any FAIL.
        let audit = ClientAudit.run(configDir: directory, options: .backup)
        for f in audit.findings where f.severity == .warn {
            log.warning("\(f.what.hasPrefix(f.location) ? f.what : "\(f.location): \(f.what)") (fix: \(f.fix))")
        }
        let fails = audit.findings.filter { $0.severity == .fail }
        guard fails.isEmpty, let config = audit.config else {
            let lines = fails.map { "  \($0.location): \($0.what) (expected \($0.expected), found \($0.actual); fix: \($0.fix))" }
            throw EarlyExit(status: .configError, message: "the configuration audit failed; nothing ran:\n" + lines.joined(separator: "\n"))
        }
        guard let ssh = Account.user(config.sshUser) else {
            throw EarlyExit(
                status: .configError,
                message:
                    "\(config.envFile): the ssh user \(config.sshUser) (BORG_BACKUP_USER) does not exist (fix: create it, see README, or set BORG_BACKUP_USER)")
        }
        var gid = ssh.gid
        if let g = config.sshGroup {
            guard let id = Account.groupID(g) else {
                throw EarlyExit(
                    status: .configError,
                    message: "\(config.envFile): the group \(g) (BORG_BACKUP_GROUP) does not exist (fix: groupadd \(g), or remove the key)")
            }
            gid = id
        }
        let passphrase: String?
        do { passphrase = try PassphraseReader.read(config) } catch {
            throw EarlyExit(status: .configError, message: error.description)
        }
        // The sandbox is decided before anything runs: a bad policy file or a missing runner
        // stops here, before the pre hook (fail closed; borg never runs unconfined).
        guard let runner = Account.user(config.runnerUser) else {
            throw EarlyExit(
                status: .configError,
                message:
                    "\(config.envFile): the runner user \(config.runnerUser) (RUNNER_USER) does not exist; borg never runs as root (fix: useradd -r -M -d /nonexistent -s /usr/sbin/nologin -G \(ssh.name) \(config.runnerUser))"
            )
        }
        let sandbox: SandboxPlan
        do {
            let policy = try SeccompPolicyFile.load(path: config.seccompPolicy)
            // Why the ssh user's group: the runner must reach the socket sshd creates 0660.
            // Why only the base directory is writable: borg keeps everything it writes there
            // (cache, security, keys, TMPDIR); the repository is behind the socket.
            sandbox = SandboxPlan(
                runnerUID: runner.uid, runnerGID: runner.gid, supplementaryGIDs: [gid], policy: policy,
                writableDirectories: [config.borgBaseDirectory], landlock: config.landlock)
            try sandbox.validate()
        } catch {
            throw EarlyExit(status: .configError, message: "\(error)")
        }
        if checkSocket { try self.checkSocket(config, ssh: ssh) }
        // `--`: what borg appends (host, remote command) can never become the relay's options.
        let relay = [selfPath, "relay", "--socket", config.socketPath, "--peer-uid", String(ssh.uid), "--"]
        // BORG_HOST_ID: borg derives it from the MAC through an AF_INET socket, which the
        // filter refuses; without a stable id borg could never remove its own stale locks.
        let commands = BorgCommands(
            config: config, relayCommand: relay, baseDirectory: config.borgBaseDirectory,
            hostID: BackupRunner.hostID())
        let prepared = Prepared(
            config: config, commands: commands, sshUser: ssh, sshGID: gid, runner: runner,
            passphrase: passphrase, sandbox: sandbox)
        try prepareState(prepared)
        return prepared
    }

    func checkSocket(_ config: ClientConfig, ssh: Account) throws(EarlyExit) {
        let facts: FileFacts?
        do { facts = try Files.facts(config.socketPath) } catch {
            throw EarlyExit(status: .socketProblem, message: "cannot inspect the socket: \(error)")
        }
        if let problem = SocketRules.problem(facts, path: config.socketPath, sshUser: ssh.name, sshUID: ssh.uid, bindMask: config.bindMask) {
            throw EarlyExit(status: .socketProblem, message: problem)
        }
        // Connecting (not just reading /proc/net/unix) tells who listens, so a socket served by
        // anyone but sshd is refused before the pre hook. The price: the server starts one
        // `borg serve` for this probe, which is stopped at once (it may log a SigTerm traceback).
        switch UnixSocket.isListening(config.socketPath, as: (ssh.uid, ssh.gid)) {
        case .success(let peer) where peer.uid != ssh.uid:
            throw EarlyExit(
                status: .socketProblem,
                message:
                    "the listener behind \(config.socketPath) runs as uid \(peer.uid), not the ssh user \(ssh.name) (uid \(ssh.uid)); refusing to send the backup there"
            )
        case .success:
            break
        case .failure(let e) where e.errno == ECONNREFUSED:
            throw EarlyExit(
                status: .socketProblem,
                message:
                    "stale socket \(config.socketPath): the file exists but nobody listens (a dead ssh session left it). The server must forward it again; sshd replaces it when StreamLocalBindUnlink is yes"
            )
        case .failure(let e):
            throw EarlyExit(status: .socketProblem, message: "cannot connect to \(config.socketPath): \(e)")
        }
    }

    /// `HOSTNAME@MACHINE-ID` (borg docs, BORG_HOST_ID: unique and stable per machine).
    static func hostID() -> String {
        let id = (try? Files.read("/etc/machine-id", limit: 256))?.trimmingWhitespace() ?? ""
        return id.isEmpty ? "\(shortHostName())@borgpull" : "\(shortHostName())@\(id)"
    }

    func prepareState(_ p: Prepared) throws(EarlyExit) {
        do { try StateLayout.prepare(p.config, sshGID: p.sshGID, runner: p.runner, log: log) } catch {
            throw EarlyExit(status: .internalError, message: "cannot prepare the state directory: \(error) (run SETUP as root)")
        }
    }

    /// How a borg run ended: borg's own result, or the sandbox step that refused to start it.
    public struct BorgRun {
        public var process: ProcessResult
        /// Set when a step of the privilege drop failed: borg did not run.
        public var sandboxFailure: SandboxStep?
    }

    /// Runs borg with the prepared environment and the passphrase on descriptor 3, inside the
    /// sandbox: this client re-executes itself as `sandbox-exec`, which drops to the runner and
    /// execs borg (no Swift code between fork and exec). This is the one place borg is started.
    /// - Parameters:
    ///   - plan: the sandbox, with the policy file it was loaded from; default `p.sandbox` under
    ///     SECCOMP_POLICY. `restore` passes `SandboxPlan.restore` under SECCOMP_RESTORE_POLICY.
    ///   - lineSink: receives each line of a `.lines` output; default: the log.
    public func runBorg(
        _ p: Prepared, argv: [String], stdout: SpawnSpec.Output, stderr: SpawnSpec.Output,
        workingDirectory: String = "/",
        plan: (sandbox: SandboxPlan, policyPath: String)? = nil,
        lineSink: ((String) -> Void)? = nil
    ) throws(SystemError) -> BorgRun {
        let sink = lineSink ?? { line in self.log.info("\(LogText.sanitize(line))") }
        let (sandbox, policyPath) = plan ?? (p.sandbox, p.config.seccompPolicy)
        var descriptors: [(child: Int32, parent: Int32)] = []
        var parentEnds: [Int32] = []
        defer { for fd in parentEnds { close(fd) } }
        if let pass = p.passphrase {
            let pipe = try cloexecPipe()
            let bytes = Array(pass.utf8)
            let n = bytes.withUnsafeBytes { write(pipe.write, $0.baseAddress, $0.count) }
            close(pipe.write)
            parentEnds.append(pipe.read)
            guard n == bytes.count else {
                throw SystemError("write passphrase pipe (passphrase longer than a pipe buffer?)", errno: EMSGSIZE)
            }
            descriptors.append((3, pipe.read))
        }
        // Status pipe: sandbox-exec writes the failed step's number, or nothing (close-on-exec).
        let statusPipe = try cloexecPipe()
        parentEnds.append(statusPipe.read)
        descriptors.append((4, statusPipe.write))
        let command =
            [selfPath]
            + sandbox.sandboxExecArguments(
                policyPath: policyPath, executable: argv[0],
                arguments: Array(argv.dropFirst()), statusFD: 4)
        let env = p.commands.environment(passphraseFD: p.passphrase == nil ? nil : 3)
        let spec = SpawnSpec(
            argv: command, environment: env, stdout: stdout, stderr: stderr, descriptors: descriptors,
            workingDirectory: workingDirectory)
        let child: ProcessResult
        do { child = try supervisor.run(spec, lineSink: sink) } catch {
            close(statusPipe.write)
            throw error
        }
        // The child is gone: with our write end closed, the pipe holds the byte or EOF.
        close(statusPipe.write)
        var byte: UInt8 = 0
        let n = read(statusPipe.read, &byte, 1)
        return BorgRun(process: child, sandboxFailure: n == 1 ? SandboxStep(rawValue: Int32(byte)) : nil)
    }

    /// The step result of a borg run (`create`, `prune`), with warnings collected.
    ///
    /// Why the record gets counts and codes only: the record goes to the server (the trigger
    /// prints it into the ssh session), and borg's lines name the client's files. The full text
    /// is logged here, on the client (its journal), and the record says so.
    func borgStep(_ name: BackupStep, _ run: BorgRun, warnings: inout [String]) -> StepResult {
        let r = run.process
        if let step = run.sandboxFailure {
            log.error("sandbox step \(step) failed, so borg \(name) did not run: \(LogText.sanitize(r.tail.last ?? "no message"))")
            return BackupPipeline.sandboxRefused(name, at: step, seconds: r.seconds)
        }
        let outcome = r.termination.borgOutcome
        if case .warning(let rc) = outcome {
            warnings.append(BackupPipeline.borgWarning(name, rc: rc, tail: r.tail))
        }
        var abort: BorgAbort? = nil
        if outcome.isFailure {
            abort = BorgAbort.match(r.tail)
            log.error("borg \(name): \(LogText.sanitize(BorgMessages.headline(r.tail) ?? "no message"))")
            if let a = abort { log.error("borg \(name): \(a.rawValue): \(a.cause); fix: \(a.fix)") }
        }
        let detail = r.termination == .exited(0) ? "" : " \(BackupPipeline.seeLog)"
        return .borg(name, outcome: outcome, interrupted: r.interruptedBy != nil, seconds: r.seconds, detail: detail, abort: abort)
    }

    /// Runs `hook` as root: stdin /dev/null, the hook's environment, output to the log, its
    /// timeout; a stop request reaches it only when `hook.forwardsSignals`.
    func runHook(_ hook: Hook) -> StepResult {
        let name = hook.step.rawValue
        log.info("running \(name) \(hook.path) (timeout \(hook.timeout) s)")
        let spec = SpawnSpec(argv: [hook.path], environment: hook.environment, stdout: .lines(prefix: "[\(name)] "), stderr: .lines(prefix: "[\(name)] "))
        let r: ProcessResult
        do {
            r = try supervisor.run(spec, timeout: Double(hook.timeout), forwardSignals: hook.forwardsSignals) { line in
                self.log.info("\(LogText.sanitize(line))")
            }
        } catch {
            log.error("\(name) could not start: \(error)")
            return hook.notStarted
        }
        var exitCode: Int32? = nil
        var signal: Int32? = nil
        switch r.termination {
        case .exited(let rc): exitCode = rc
        case .signaled(let s): signal = s
        }
        return hook.result(exitCode: exitCode, signal: signal, timedOut: r.timedOut, interrupted: r.interruptedBy != nil, seconds: r.seconds)
    }

    /// The whole BACKUP. Returns the exit status; the record is written unless the run ended early.
    public func backup() -> (ClientExit, BackupRecord?) {
        let startedAt = Double(time(nil))
        let p: Prepared
        do {
            p = try prepare()
        } catch {
            log.error("\(error.message)")
            return (error.status, nil)
        }
        let config = p.config
        let lock: RunLock
        do { lock = try RunLock(path: "\(config.stateDirectory)/backup.lock") } catch {
            switch error {
            case .busy:
                log.error("\(error); this BACKUP exits without doing anything")
                return (.busy, nil)
            case .system:
                log.error("\(error)")
                return (.internalError, nil)
            }
        }
        defer { withExtendedLifetime(lock) {} }
        log.info("BACKUP of \(config.paths.count) path(s) to \(config.repository) through \(config.socketPath)")

        var steps: [StepResult] = []
        var warnings: [String] = []
        var archive: String?
        var stats: ArchiveStats?
        func interrupted() -> Bool { !supervisor.takeSignals().isEmpty || supervisor.receivedSignal != nil }

        if let pre = Hook.of(config, .pre), !interrupted() {
            steps.append(runHook(pre))
        }
        var proceed = BackupPipeline.proceeds(after: steps, interrupted: interrupted())
        if !proceed, config.preHook != nil, BackupPipeline.failed(.preHook, in: steps) {
            log.error("the pre hook failed: no backup is made; the post hook still runs")
        }

        // Paths: missing ones are an error unless MISSING_PATHS=warn.
        var paths: [String] = []
        if proceed {
            let checked = BackupPipeline.paths(config, exists: Files.exists)
            paths = checked.existing
            // The paths themselves go to the log only (the record reaches the server).
            if let failure = checked.failure {
                for m in checked.missing { log.error("\(LogText.sanitize(m)) (fix: correct borg_paths, or set MISSING_PATHS=warn)") }
                steps.append(failure)
                proceed = false
            } else if let warning = checked.warning {
                for m in checked.missing { log.warning("\(LogText.sanitize(m)); MISSING_PATHS=warn, the others are backed up") }
                warnings.append(warning)
            }
        }

        if proceed {
            log.info("borg create \(config.archiveTemplate) (\(paths.count) path(s))")
            var sandboxFailed = false
            do {
                let run = try runBorg(p, argv: p.commands.create(paths: paths), stdout: .capture, stderr: .lines(prefix: "[borg create] "))
                sandboxFailed = run.sandboxFailure != nil
                // Cut output is not borg's JSON, even if its first bytes parse.
                let parsed = run.process.stdoutOverflowed ? nil : BorgCreateJSON.parse(run.process.stdout)
                if run.process.stdoutOverflowed {
                    warnings.append(
                        "borg create printed more than \(OutputReader.captureLimit >> 20) MiB on stdout, where --json prints a few KiB; it was not read, so the record has no archive name or stats (fix: check BORG_BINARY and borg_options_create: borg create --json prints one JSON object)"
                    )
                }
                archive = parsed?.archiveName
                stats = parsed?.stats
                steps.append(borgStep(.create, run, warnings: &warnings))
            } catch {
                log.error("borg create could not start: \(error)")
                steps.append(StepResult(name: .create, status: .failed, message: "borg create could not start \(BackupPipeline.seeLog)"))
            }
            if let skipped = BackupPipeline.skippedPrune(after: steps, interrupted: interrupted()) {
                steps.append(skipped)
            } else {
                log.info("borg prune --glob-archives '\(config.pruneGlob)'")
                do {
                    let run = try runBorg(p, argv: p.commands.prune(), stdout: .lines(prefix: "[borg prune] "), stderr: .lines(prefix: "[borg prune] "))
                    sandboxFailed = sandboxFailed || run.sandboxFailure != nil
                    steps.append(borgStep(.prune, run, warnings: &warnings))
                } catch {
                    log.error("borg prune could not start: \(error)")
                    steps.append(StepResult(name: .prune, status: .failed, message: "borg prune could not start \(BackupPipeline.seeLog)"))
                }
            }
            if let sandbox = BackupPipeline.sandboxStep(failed: sandboxFailed) { steps.append(sandbox) }
        }

        // The post hook always runs: after a pre-hook failure, a borg error, or a signal.
        let sofar = BackupVerdict.exit(steps: steps, interrupted: supervisor.receivedSignal != nil, warnings: warnings)
        if let post = Hook.of(config, .post, status: sofar) {
            steps.append(runHook(post))
        }

        let status = BackupVerdict.exit(steps: steps, interrupted: supervisor.receivedSignal != nil, warnings: warnings)
        let message = BackupVerdict.message(status: status, steps: steps, signal: supervisor.receivedSignal)
        let record = BackupRecord(
            host: shortHostName(), started: BackupRecord.timestamp(startedAt), finished: BackupRecord.timestamp(Double(time(nil))),
            status: .init(code: status.rawValue, name: status.name, message: message), archive: archive,
            repository: config.repository, steps: steps, stats: stats, warnings: warnings)
        do {
            try Files.writeAtomically(config.resultFile, contents: record.json(), mode: 0o640, gid: p.sshGID)
        } catch {
            log.error("cannot write the result record \(config.resultFile): \(error)")
        }
        return (status, record)
    }
}
