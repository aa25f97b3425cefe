import BorgPullCore
import CCap
import Glibc

/// COMPACT and CHECK of one client's repository, on the server, locally, as LOCAL_USER.
///
/// Order: the config's accounts and binary → the run directory (for the per-client lock) and
/// STATE_DIR exist → the per-client lock of BACKUP and SERVE, refused at once when held → the
/// process drops to LOCAL_USER for good (when started as root) → the repository is what it
/// must be (a real directory of LOCAL_USER holding a borg `config`; for COMPACT not
/// `append_only = 1`) → size of REPO_DIR → borg → size again → the record in STATE_DIR.
/// SIGTERM/SIGINT are forwarded to borg, which stops at a transaction boundary; the lock is
/// released when the process ends. No passphrase or key is read or passed: the environment is
/// LOCAL_USER's minimal one (`ServerChildren.environment`).
public enum ServerMaintenance {
    /// The outcome and the record (nil when nothing ran).
    public struct Result: Sendable {
        public var verdict: MaintenanceVerdict
        public var record: RunRecord?

        public init(verdict: MaintenanceVerdict, record: RunRecord?) {
            self.verdict = verdict
            self.record = record
        }
    }

    /// Runs `mode` (`.compact` or `.check`) for `config`; progress lines go to `log`.
    public static func run(config c: ServerConfig, mode: ServerMode, log: (String) -> Void) -> Result {
        do {
            return try runChecked(config: c, mode: mode, log: log)
        } catch {
            return Result(verdict: MaintenanceVerdict(exit: error.exit, message: error.message, damage: []), record: nil)
        }
    }

    static func runChecked(config c: ServerConfig, mode: ServerMode, log: (String) -> Void) throws(ServerFailure) -> Result {
        // Why never root: borg compact rewrites segments; as root it would leave root-owned
        // files that LOCAL_USER's borg serve then cannot write, and a bug in borg would be root's.
        let local = try ServerRun.localAccount(c) { account in
            account.uid != 0
                ? nil
                : "\(c.file): LOCAL_USER=\(c.localUser) is root; \(mode.rawValue) runs borg as the repository's owner, never as root (fix: set LOCAL_USER to the account that owns REPO_DIR, e.g. borg)"
        }
        guard access(c.borgBinary, X_OK) == 0 else {
            throw ServerFailure(
                .configError, "\(c.file): \(c.borgBinary) is not an executable file: \(errnoText()) (fix: apt-get install -y borgbackup, or set BORG_BINARY)")
        }
        // The run directory holds the lock (shared with BACKUP and SERVE); created as BACKUP does.
        try ServerRun(config: c, mode: mode).prepareRunDirectory(local)
        try prepareStateDirectory(c, local)
        // The lock before the drop, given to LOCAL_USER when root takes it (a file left by an
        // older run as root stays openable); the descriptor survives the drop.
        let lock = try RunLock.server(c.lockFile, owner: local)
        defer { lock.release() }
        if geteuid() == 0 {
            try dropTo(local)
            try prepareStateDirectory(c, local)
        }

        let repoConfig = try checkRepository(c, local)
        if mode == .compact && repoConfig.appendOnly {
            throw ServerFailure(
                .configError,
                "\(c.repoDir)/config says append_only = 1: borg compact frees nothing in such a repository (borg docs, \"append_only mode\"). borgpull makes the tunnel append-only itself (APPEND_ONLY=yes: borg serve --append-only), so the repository's own flag can be 0 (fix, as \(c.localUser): borg config \(c.repoDir) append_only 0)"
            )
        }

        let started = Double(time(nil))
        let before = Files.treeBytes(c.repoDir)
        let argv = mode == .compact ? MaintenancePlan.compactArguments(c) : MaintenancePlan.checkArguments(c)
        log("borgpull-server: \(mode.rawValue) \(c.repoName): \(argv.joined(separator: " ")) (as \(local.name), no key or passphrase)")
        let supervisor: Supervisor
        do { supervisor = try Supervisor() } catch {
            throw ServerFailure(.maintenanceFailed, "cannot set up signal handling: \(error)")
        }
        var lines: [String] = []
        let spec = SpawnSpec(
            argv: argv, environment: ServerChildren.environment(for: local),
            stdout: .lines(prefix: ""), stderr: .lines(prefix: ""), workingDirectory: "/")
        let r: ProcessResult
        do {
            r = try supervisor.run(spec) { line in
                if lines.count < 2000 { lines.append(line) }
                log("  | " + LogText.sanitize(line))
            }
        } catch {
            throw ServerFailure(.maintenanceFailed, "cannot start \(c.borgBinary): \(error) (fix: apt-get install -y borgbackup)")
        }
        let after = Files.treeBytes(c.repoDir)
        var rc: Int32?
        var signal: Int32?
        switch r.termination {
        case .exited(let code): rc = code
        case .signaled(let s): signal = s
        }
        let interrupted = r.interruptedBy != nil
        let partial = mode == .check && c.checkMaxDuration > 0
        let verdict =
            mode == .compact
            ? MaintenanceVerdict.compact(rc: rc, signal: signal, interrupted: interrupted, freed: (before ?? 0) - (after ?? 0), repoDir: c.repoDir)
            : MaintenanceVerdict.check(rc: rc, signal: signal, interrupted: interrupted, lines: lines, partial: partial, repoDir: c.repoDir)
        let finished = Double(time(nil))
        let record = RunRecord(
            mode: mode.rawValue, client: c.repoName, repository: c.repoDir, started: RunRecord.timestamp(started),
            finished: RunRecord.timestamp(finished), verdict: verdict, borgRC: rc, bytesBefore: before,
            bytesAfter: after, partial: partial, seconds: finished - started)
        let file = recordPath(c, mode)
        do { try Files.writeAtomically(file, contents: record.json(pretty: true), mode: 0o640) } catch {
            log("borgpull-server: warning: cannot write the record \(file): \(error) (fix: STATE_DIR must be a directory of \(local.name))")
        }
        return Result(verdict: verdict, record: record)
    }

    /// `STATE_DIR/last-compact.json` or `STATE_DIR/last-check.json`.
    public static func recordPath(_ c: ServerConfig, _ mode: ServerMode) -> String {
        "\(c.stateDir)/last-\(mode.rawValue.lowercased()).json"
    }

    /// The last record of `mode` for this client, if there is a readable one.
    public static func lastRecord(_ c: ServerConfig, _ mode: ServerMode) -> RunRecord? {
        (try? Files.read(recordPath(c, mode), limit: 1 << 20)).flatMap(RunRecord.decode)
    }

    /// STATE_DIR: a real directory of LOCAL_USER. Called twice: as root before the drop, it
    /// creates missing root-owned parents and STATE_DIR itself only where its parent is root's
    /// and closed to others (by descriptor: `Files.makeDirectory`); after the drop, as
    /// LOCAL_USER, it creates STATE_DIR in a parent LOCAL_USER owns (systemd's `StateDirectory=`
    /// for the units) and checks the result. Why not as root there: LOCAL_USER could swap
    /// STATE_DIR for a symlink between root's mkdir and chmod.
    static func prepareStateDirectory(_ c: ServerConfig, _ local: Account) throws(ServerFailure) {
        do {
            if geteuid() == 0 {
                try Files.makeParents(c.stateDir)
                if Files.untrustedParent(of: c.stateDir) == nil {
                    try Files.makeDirectory(c.stateDir, mode: 0o750, owner: (local.uid, local.gid))
                }
                return
            }
            try Files.makeDirectory(c.stateDir, mode: 0o750)
            guard let f = try Files.facts(c.stateDir), f.kind == .directory, f.uid == local.uid else {
                throw ServerFailure(
                    .configError,
                    "\(c.file): STATE_DIR=\(c.stateDir) is not a directory of \(local.name) (fix: install -d -o \(local.name) -g \(local.name) -m 0750 \(c.stateDir))"
                )
            }
        } catch let e as ServerFailure {
            throw e
        } catch {
            throw ServerFailure(
                .configError, "\(c.file): STATE_DIR=\(c.stateDir): \(error) (fix: install -d -o \(local.name) -g \(local.name) -m 0750 \(c.stateDir))")
        }
    }

    /// REPO_DIR is a real directory of LOCAL_USER with a borg repository `config`.
    static func checkRepository(_ c: ServerConfig, _ local: Account) throws(ServerFailure) -> RepositoryConfig {
        let facts: FileFacts?
        do { facts = try Files.facts(c.repoDir) } catch {
            throw ServerFailure(.configError, "\(c.file): REPO_DIR=\(c.repoDir): \(error)")
        }
        guard let f = facts else {
            throw ServerFailure(
                .configError,
                "\(c.file): REPO_DIR=\(c.repoDir) does not exist (fix: correct REPO_DIR, or create the repository: SERVE, then borg init on the client, see README)"
            )
        }
        guard f.kind == .directory else {
            throw ServerFailure(
                .configError,
                "\(c.file): REPO_DIR=\(c.repoDir) is a \(f.kind.rawValue), not a directory (a symlink is never followed; fix: set REPO_DIR to the repository directory itself)"
            )
        }
        guard f.uid == local.uid else {
            throw ServerFailure(
                .configError,
                "\(c.file): REPO_DIR=\(c.repoDir) is owned by uid \(f.uid), not by LOCAL_USER=\(local.name) (fix: chown -R \(local.name): \(c.repoDir), or set LOCAL_USER to its owner)"
            )
        }
        guard let text = try? Files.read("\(c.repoDir)/config", limit: 1 << 20), let config = RepositoryConfig.parse(text) else {
            throw ServerFailure(
                .configError,
                "\(c.file): REPO_DIR=\(c.repoDir) is not a borg repository (no readable [repository] section in \(c.repoDir)/config) (fix: correct REPO_DIR)")
        }
        return config
    }

    /// Becomes LOCAL_USER for the rest of the process: supplementary groups from the group
    /// database (initgroups(3)), then gid, then uid (real, effective, saved), then no_new_privs;
    /// each verified. Why the whole process and not only borg: the run directory, the lock and
    /// STATE_DIR are LOCAL_USER's, and a root process never works in a directory another user
    /// can change. setresuid(2), initgroups(3), prctl(2).
    static func dropTo(_ a: Account) throws(ServerFailure) {
        guard initgroups(a.name, a.gid) == 0, borgpull_setresgid(a.gid, a.gid, a.gid) == 0,
            borgpull_setresuid(a.uid, a.uid, a.uid) == 0
        else {
            throw ServerFailure(.maintenanceFailed, "cannot become LOCAL_USER=\(a.name): \(errnoText())")
        }
        guard getuid() == a.uid, geteuid() == a.uid, getgid() == a.gid, getegid() == a.gid,
            borgpull_setresuid(0, 0, 0) != 0, borgpull_set_no_new_privs() == 0
        else {
            throw ServerFailure(.maintenanceFailed, "the change to LOCAL_USER=\(a.name) did not hold; nothing ran")
        }
    }
}
