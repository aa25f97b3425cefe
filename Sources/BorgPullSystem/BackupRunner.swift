import Glibc
import Logging
import CLinux
import BorgPullCore

/// Runs one client BACKUP: config → socket → lock → pre hook → create → prune → post hook →
/// result record. Every decision comes from the core; this type only performs the steps.
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
        self.selfPath = BackupRunner.executablePath()
    }

    /// `/proc/self/exe` resolved: the relay must be this exact binary.
    public static func executablePath() -> String {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { readlink("/proc/self/exe", $0, p.count - 1) }
        }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : CommandLine.arguments[0]
    }

    /// What preparation produced: everything a borg invocation needs.
    public struct Prepared {
        public var config: ClientConfig
        public var commands: BorgCommands
        public var sshUser: Account
        public var sshGID: UInt32
        public var passphrase: String?
    }

    /// A failure before any step ran: the status and the message.
    public struct EarlyExit: Error {
        public var status: ClientExit
        public var message: String
    }

    /// Loads the configuration, audits it and checks the forwarded socket.
    public func prepare(checkSocket: Bool = true) throws(EarlyExit) -> Prepared {
        let loaded: ClientConfigLoader.Loaded
        do { loaded = try ClientConfigLoader.load(directory: directory) } catch {
            throw EarlyExit(status: .configError, message: error.description)
        }
        let config = loaded.config
        for n in config.notices { log.notice("\(n)") }
        let fails = loaded.findings.filter { $0.severity == .fail }
        for f in loaded.findings where f.severity == .warn { log.warning("\(f.location): \(f.what) (fix: \(f.fix))") }
        if !fails.isEmpty {
            let lines = fails.map { "  \($0.location): \($0.what) (expected \($0.expected), found \($0.actual); fix: \($0.fix))" }
            throw EarlyExit(status: .configError, message: "the configuration audit failed; nothing ran:\n" + lines.joined(separator: "\n"))
        }
        guard let ssh = Account.user(config.sshUser) else {
            throw EarlyExit(status: .configError, message: "\(config.envFile): the ssh user \(config.sshUser) (BORG_BACKUP_USER) does not exist (fix: create it, see README, or set BORG_BACKUP_USER)")
        }
        var gid = ssh.gid
        if let g = config.sshGroup {
            guard let id = Account.groupID(g) else {
                throw EarlyExit(status: .configError, message: "\(config.envFile): the group \(g) (BORG_BACKUP_GROUP) does not exist (fix: groupadd \(g), or remove the key)")
            }
            gid = id
        }
        let passphrase: String?
        do { passphrase = try ClientConfigLoader.passphrase(config) } catch {
            throw EarlyExit(status: .configError, message: error.description)
        }
        if checkSocket { try self.checkSocket(config, ssh: ssh) }
        let relay = [selfPath, "relay", "--socket", config.socketPath, "--peer-uid", String(ssh.uid)]
        let commands = BorgCommands(config: config, relayCommand: relay, baseDirectory: "\(config.stateDirectory)/borg")
        return Prepared(config: config, commands: commands, sshUser: ssh, sshGID: gid, passphrase: passphrase)
    }

    func checkSocket(_ config: ClientConfig, ssh: Account) throws(EarlyExit) {
        let facts: FileFacts?
        do { facts = try Files.facts(config.socketPath) } catch {
            throw EarlyExit(status: .socketProblem, message: "cannot inspect the socket: \(error)")
        }
        if let problem = SocketRules.problem(facts, path: config.socketPath, sshUser: ssh.name, sshUID: ssh.uid, bindMask: config.bindMask) {
            throw EarlyExit(status: .socketProblem, message: problem)
        }
        switch UnixSocket.isListening(config.socketPath) {
        case .success(let peer) where peer.uid != ssh.uid:
            throw EarlyExit(status: .socketProblem, message: "the listener behind \(config.socketPath) runs as uid \(peer.uid), not the ssh user \(ssh.name) (uid \(ssh.uid)); refusing to send the backup there")
        case .success:
            break
        case .failure(let e) where e.errno == ECONNREFUSED:
            throw EarlyExit(status: .socketProblem, message: "stale socket \(config.socketPath): the file exists but nobody listens (a dead ssh session left it). The server must forward it again; sshd replaces it when StreamLocalBindUnlink is yes")
        case .failure(let e):
            throw EarlyExit(status: .socketProblem, message: "cannot connect to \(config.socketPath): \(e)")
        }
    }

    /// Makes the state directory (root, 0750, group of the ssh user: it may read the record) and borg's base dir.
    func prepareState(_ p: Prepared) throws(EarlyExit) {
        do {
            try Files.makeParents(p.config.stateDirectory)
            if try Files.makeDirectory(p.config.stateDirectory, mode: 0o750) {
                _ = chown(p.config.stateDirectory, 0, p.sshGID)
            }
            try Files.makeDirectory(p.commands.baseDirectory, mode: 0o700)
        } catch {
            throw EarlyExit(status: .internalError, message: "cannot prepare the state directory: \(error)")
        }
    }

    /// Runs borg with the prepared environment and the passphrase on descriptor 3.
    /// This is the one place borg is started (the sandbox wraps it here).
    public func runBorg(_ p: Prepared, argv: [String], stdout: SpawnSpec.Output, stderr: SpawnSpec.Output,
                        timeout: Double? = nil) throws(SystemError) -> ProcessResult {
        var descriptors: [(child: Int32, parent: Int32)] = []
        var readEnd: Int32 = -1
        if let pass = p.passphrase {
            var fds: [Int32] = [0, 0]
            guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SystemError("pipe2") }
            let bytes = Array(pass.utf8)
            let n = bytes.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            close(fds[1])
            guard n == bytes.count else {
                close(fds[0])
                throw SystemError("write passphrase pipe (passphrase longer than a pipe buffer?)", errno: EMSGSIZE)
            }
            readEnd = fds[0]
            descriptors.append((3, readEnd))
        }
        defer { if readEnd >= 0 { close(readEnd) } }
        let env = p.commands.environment(passphraseFD: p.passphrase == nil ? nil : 3)
        let spec = SpawnSpec(argv: argv, environment: env, stdout: stdout, stderr: stderr, descriptors: descriptors)
        return try supervisor.run(spec, timeout: timeout) { line in self.log.info("\(line)") }
    }

    /// Runs a hook as root: stdin /dev/null, a minimal environment, output to the log, a timeout.
    func runHook(_ path: String, phase: String, config: ClientConfig, extra: [String: String]) -> StepResult {
        let name = "\(phase)-hook"
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                   "HOME": "/root", "BORGPULL_PHASE": phase, "BORGPULL_CONFIG_DIR": config.directory]
        env.merge(extra) { $1 }
        log.info("running \(name) \(path) (timeout \(config.hookTimeout) s)")
        let spec = SpawnSpec(argv: [path], environment: env, stdout: .lines(prefix: "[\(name)] "), stderr: .lines(prefix: "[\(name)] "))
        let r: ProcessResult
        do { r = try supervisor.run(spec, timeout: Double(config.hookTimeout)) { line in self.log.info("\(line)") } } catch {
            return StepResult(name: name, status: .failed, message: "\(name) could not start: \(error)")
        }
        if r.timedOut {
            return StepResult(name: name, status: .timeout, signal: nil, message: "\(name) timed out after \(config.hookTimeout) s and was terminated", seconds: r.seconds)
        }
        switch r.termination {
        case .exited(0):
            return StepResult(name: name, status: r.interruptedBy == nil ? .ok : .interrupted, rc: 0, message: "\(name) ok", seconds: r.seconds)
        case .exited(let rc):
            return StepResult(name: name, status: r.interruptedBy == nil ? .failed : .interrupted, rc: rc, message: "\(name) failed (exit \(rc))", seconds: r.seconds)
        case .signaled(let s):
            return StepResult(name: name, status: r.interruptedBy == nil ? .failed : .interrupted, signal: s, message: "\(name) killed by signal \(s)", seconds: r.seconds)
        }
    }

    /// The whole BACKUP. Returns the exit status; the record is written unless the run ended early.
    public func backup() -> (ClientExit, BackupRecord?) {
        let startedAt = Double(time(nil))
        let p: Prepared
        do {
            p = try prepare()
            try prepareState(p)
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
        func failed(_ name: String) -> Bool { steps.contains { $0.name == name && [.failed, .timeout, .interrupted].contains($0.status) } }

        if let pre = config.preHook, !interrupted() {
            steps.append(runHook(pre, phase: "pre", config: config, extra: [:]))
        }
        var proceed = !failed("pre-hook") && !interrupted()
        if !proceed, config.preHook != nil, failed("pre-hook") {
            log.error("the pre hook failed: no backup is made; the post hook still runs")
        }

        // Paths: missing ones are an error unless MISSING_PATHS=warn.
        var paths: [String] = []
        if proceed {
            var missing: [String] = []
            for item in config.paths {
                if Files.exists(item.value) { paths.append(item.value) } else {
                    missing.append("\(item.value) (\(config.pathsFile):\(item.line)) does not exist")
                }
            }
            if !missing.isEmpty && (config.missingPathsAreErrors || paths.isEmpty) {
                steps.append(StepResult(name: "paths", status: .failed, message: missing.joined(separator: "; ") + " (fix: correct borg_paths, or set MISSING_PATHS=warn)"))
                proceed = false
            } else {
                warnings += missing
            }
        }

        if proceed {
            log.info("borg create \(config.archiveTemplate) (\(paths.count) path(s))")
            let result: ProcessResult
            do {
                result = try runBorg(p, argv: p.commands.create(paths: paths), stdout: .capture, stderr: .lines(prefix: "[borg create] "))
                let parsed = BorgCreateJSON.parse(result.stdout)
                archive = parsed?.archiveName
                stats = parsed?.stats
                let outcome = result.termination.borgOutcome
                if case .warning = outcome { warnings += result.tail.suffix(20).map { "borg create: \($0)" } }
                let detail = outcome.isFailure ? ": " + (result.tail.last ?? "see the log") : ""
                steps.append(.borg("create", outcome: outcome, interrupted: result.interruptedBy != nil, seconds: result.seconds, detail: detail))
            } catch {
                steps.append(StepResult(name: "create", status: .failed, message: "borg create could not start: \(error)"))
            }
            if failed("create") || interrupted() {
                steps.append(StepResult(name: "prune", status: .skipped, message: "skipped: borg create did not succeed"))
            } else {
                log.info("borg prune --glob-archives '\(config.pruneGlob)'")
                do {
                    let r = try runBorg(p, argv: p.commands.prune(), stdout: .lines(prefix: "[borg prune] "), stderr: .lines(prefix: "[borg prune] "))
                    let outcome = r.termination.borgOutcome
                    if case .warning = outcome { warnings += r.tail.suffix(20).map { "borg prune: \($0)" } }
                    let detail = outcome.isFailure ? ": " + (r.tail.last ?? "see the log") : ""
                    steps.append(.borg("prune", outcome: outcome, interrupted: r.interruptedBy != nil, seconds: r.seconds, detail: detail))
                } catch {
                    steps.append(StepResult(name: "prune", status: .failed, message: "borg prune could not start: \(error)"))
                }
            }
        }

        // The post hook always runs: after a pre-hook failure, a borg error, or a signal.
        if let post = config.postHook {
            let sofar = BackupVerdict.exit(steps: steps, interrupted: supervisor.receivedSignal != nil, warnings: warnings)
            steps.append(runHook(post, phase: "post", config: config, extra: ["BORGPULL_STATUS": sofar.name]))
        }

        let status = BackupVerdict.exit(steps: steps, interrupted: supervisor.receivedSignal != nil, warnings: warnings)
        let message = BackupVerdict.message(status: status, steps: steps, signal: supervisor.receivedSignal)
        let record = BackupRecord(
            host: shortHostName(), started: BackupRecord.timestamp(startedAt), finished: BackupRecord.timestamp(Double(time(nil))),
            status: .init(code: status.rawValue, name: status.name, message: message), archive: archive,
            repository: config.repository, steps: steps, stats: stats, warnings: warnings)
        do {
            try Files.writeAtomically(config.resultFile, contents: record.json(), mode: 0o640, uid: 0, gid: p.sshGID)
        } catch {
            log.error("cannot write the result record \(config.resultFile): \(error)")
        }
        return (status, record)
    }
}
