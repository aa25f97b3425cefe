import BorgPullCore
import Glibc

extension RunLock {
    /// The per-client lock (LOCK_FILE, in RUN_DIR, which belongs to LOCAL_USER), refused at
    /// once when held, with the server's messages and exit statuses.
    /// - Parameter owner: LOCAL_USER: the file is LOCAL_USER's even when root takes the lock.
    static func server(_ path: String, owner: Account) throws(ServerFailure) -> RunLock {
        do { return try RunLock(path: path, owner: (owner.uid, owner.gid)) } catch {
            switch error {
            case .busy(_, let holder):
                let fix =
                    holder == nil
                    ? "wait for it to finish; `fuser -v \(path)` shows the holder" : "wait for it to finish, or stop it with kill -TERM \(holder!)"
                throw ServerFailure(
                    .locked,
                    "\(path): another borgpull-server run for this client holds the lock\(holder.map { " (pid \($0))" } ?? ""); nothing was started (fix: \(fix))"
                )
            case _ where error.isNotRegularFile:
                throw ServerFailure(.serveFailed, "\(path) is not a regular file with one link (fix: remove it; borgpull-server recreates it)")
            case .system(let e) where e.operation == "flock":
                throw ServerFailure(.serveFailed, "\(path): flock: \(errnoText(e.errno))")
            case .system(let e):
                throw ServerFailure(
                    .serveFailed,
                    "\(path): cannot open the lock file: \(errnoText(e.errno)) (fix: make sure the directory exists and is not a link; remove \(path) if it is not a regular file)"
                )
            }
        }
    }
}

/// The server socket S before socat binds it.
public enum ServerSocket {
    public enum State: Equatable, Sendable { case absent, removedDead }

    /// Removes a dead socket left behind (connect(2) answers ECONNREFUSED); refuses a live one
    /// and anything that is not a socket.
    public static func prepare(_ path: String) throws(ServerFailure) -> State {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return .absent }
            throw ServerFailure(.serveFailed, "\(path): lstat: \(errnoText()) (fix: check the permissions of its directory)")
        }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw ServerFailure(
                .serveFailed,
                "\(path) exists and is not a socket; borgpull-server does not remove it (fix: look at it and remove it by hand if it is not needed: rm -i \(path))"
            )
        }
        switch connectResult(path) {
        case 0:
            throw ServerFailure(
                .locked,
                "\(path) is a live socket: another process (a SERVE or BACKUP of this client, or a manual socat) serves it (fix: stop that process first; `ss -xlp | grep \(path)` shows it)"
            )
        case ECONNREFUSED:
            guard unlink(path) == 0 || errno == ENOENT else {
                throw ServerFailure(.serveFailed, "\(path): cannot remove the dead socket: \(errnoText()) (fix: rm \(path))")
            }
            return .removedDead
        case let e:
            throw ServerFailure(.serveFailed, "\(path): cannot test the socket: \(errnoText(e)) (fix: rm \(path) if no process serves it)")
        }
    }

    /// 0 if a connection succeeds, else errno.
    static func connectResult(_ path: String) -> Int32 {
        do {
            close(try UnixSocket.connect(path))
            return 0
        } catch {
            return error.errno
        }
    }

    /// Whether a socket listens on `path` (`UnixSocket.listedAsListening`): no connection is
    /// made, so the readiness probe does not make socat start a `borg serve`.
    public static func isListening(_ path: String) -> Bool { UnixSocket.listedAsListening(path) }
}

/// What a server run produced, for the command to report.
public struct ServerRunResult: Sendable {
    /// ssh's exit code; nil if ssh was killed by a signal (`sshSignal`) or never started.
    public var sshExit: Int32?
    public var sshSignal: Int32?
    /// ssh's stdout (the trigger's result record), at most `ServerOutcome.stdoutLimit` (4 MiB).
    public var stdout: String
    /// ssh's stdout passed `ServerOutcome.stdoutLimit`; ssh was stopped and `stdout` is not a record.
    public var stdoutOverflowed: Bool
    /// The last 64 KiB of ssh's stderr (ssh's errors and the client's log), raw.
    public var stderrTail: String
    public var interrupted: Bool
    public var timedOut: Bool
    /// socat ended while ssh still ran (borg serve was no longer available).
    public var socatDied: Bool
    public var notices: [String]
}

/// One BACKUP or SERVE: lock, socket, socat, ssh, cleanup on every path.
public final class ServerRun {
    public let config: ServerConfig
    public let mode: ServerMode
    /// Where the server writes progress lines, with their priority (stderr by default).
    public var log: (String, JournalLine.Priority) -> Void = { line, priority in StderrLog.write(line, priority: priority) }
    /// Lines of ssh's stderr are forwarded live with this prefix (nil: kept, not shown).
    public var forwardStderrPrefix: String? = "  | "

    /// The signalfd, spawning and reaping of the run (created once the lock is held).
    var supervisor: Supervisor?
    var socat: Child?
    var ssh: Child?

    public init(config: ServerConfig, mode: ServerMode) {
        self.config = config
        self.mode = mode
    }

    /// LOCAL_USER's account, the one borg serve (and COMPACT's and CHECK's borg) runs as.
    /// - Parameter refuse: a problem with the account itself (a sentence with its fix), checked
    ///   after the lookup and before the process's own uid; nil when there is none.
    /// - Throws: `ServerFailure` (config-error) when LOCAL_USER does not exist, when `refuse`
    ///   names a problem, or when this process runs neither as root nor as LOCAL_USER.
    static func localAccount(_ c: ServerConfig, refuse: (Account) -> String? = { _ in nil }) throws(ServerFailure) -> Account {
        guard let local = Account.user(c.localUser) else {
            throw ServerFailure(
                .configError,
                "\(c.file): LOCAL_USER=\(c.localUser) does not exist on this server (fix: useradd --system --create-home --home-dir /var/lib/\(c.localUser) --shell /usr/sbin/nologin \(c.localUser), or set LOCAL_USER)"
            )
        }
        if let problem = refuse(local) { throw ServerFailure(.configError, problem) }
        if geteuid() != 0 && geteuid() != local.uid {
            throw ServerFailure(
                .configError, "\(c.file): borgpull-server runs as uid \(geteuid()) but LOCAL_USER=\(c.localUser) (fix: run it as root, or as \(c.localUser))")
        }
        return local
    }

    /// Checks the accounts, binaries and directories a run needs. Runs as part of `run`.
    public func checkEnvironment() throws(ServerFailure) -> Account {
        let c = config
        let local = try Self.localAccount(c)
        var binaries = [c.socatBinary, c.sshBinary, c.borgBinary]
        if geteuid() == 0 && local.uid != 0 { binaries.append(ServerChildren.setpriv) }
        for b in binaries where access(b, X_OK) != 0 {
            let pkg = b.hasSuffix("socat") ? "socat" : b.hasSuffix("ssh") ? "openssh-client" : b.hasSuffix("borg") ? "borgbackup" : "util-linux"
            throw ServerFailure(
                .configError, "\(c.file): \(b) is not an executable file: \(errnoText()) (fix: apt-get install -y \(pkg), or set the *_BINARY key)")
        }
        for (key, p) in [("SSH_IDENTITY", c.sshIdentity), ("SSH_KNOWN_HOSTS", c.sshKnownHosts)] {
            guard let p else { continue }
            if access(p, R_OK) != 0 {
                throw ServerFailure(
                    .configError, "\(c.file): \(key)=\(p) cannot be read: \(errnoText()) (fix: create it; it must be readable by \(c.localUser), who runs ssh)")
            }
        }
        var st = stat()
        if mode == .backup {
            if stat(c.repoDir + "/config", &st) != 0 {
                throw ServerFailure(
                    .configError,
                    "\(c.file): REPO_DIR=\(c.repoDir) is not a borg repository yet (no \(c.repoDir)/config) (fix: start `borgpull-server -c \(c.file) SERVE` and run `borg init --encryption=repokey-blake2` on the client, see README)"
                )
            }
        } else {
            let parent = FileRulesPath.parent(c.repoDir)
            if stat(c.repoDir, &st) != 0 && stat(parent, &st) != 0 {
                throw ServerFailure(
                    .configError,
                    "\(c.file): neither REPO_DIR=\(c.repoDir) nor its parent \(parent) exists (fix: install -d -o \(c.localUser) -m 0700 \(parent))")
            }
        }
        return local
    }

    /// RUN_DIR: created for LOCAL_USER when missing; must be a real directory LOCAL_USER can write.
    func prepareRunDirectory(_ local: Account) throws(ServerFailure) {
        let dirs = [FileRulesPath.parent(config.socketPath), FileRulesPath.parent(config.lockFile)]
        for dir in Set(dirs) {
            var st = stat()
            if lstat(dir, &st) != 0 {
                // By descriptor (mkdirat + fchown): a symlink swapped in is never followed.
                do {
                    guard errno == ENOENT else { throw SystemError("lstat", path: dir) }
                    try Files.makeDirectory(dir, mode: 0o750, owner: geteuid() == 0 ? (local.uid, local.gid) : nil)
                } catch {
                    throw ServerFailure(.serveFailed, "\(dir): cannot create the run directory: \(error) (fix: install -d -o \(local.name) -m 0750 \(dir))")
                }
                continue
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ServerFailure(
                    .serveFailed,
                    "\(dir) is not a directory (or is a symbolic link) (fix: remove it; borgpull-server creates it as a directory of \(local.name))")
            }
            if st.st_uid != local.uid && st.st_mode & 0o002 == 0 && !(st.st_gid == local.gid && st.st_mode & 0o020 != 0) {
                throw ServerFailure(
                    .serveFailed, "\(dir) is not writable by LOCAL_USER=\(local.name), who runs socat (fix: chown \(local.name) \(dir) && chmod 0750 \(dir))")
            }
        }
    }

    /// Runs the whole thing. Throws only before anything was started; afterwards every path
    /// ends in cleanup and a result.
    public func run() throws(ServerFailure) -> ServerRunResult {
        let local = try checkEnvironment()
        umask(0o077)
        // Children run as LOCAL_USER, who may not be able to enter the caller's directory.
        _ = chdir("/")
        try prepareRunDirectory(local)
        let lock = try RunLock.server(config.lockFile, owner: local)
        defer { lock.release() }
        // MAX_CONCURRENT: held until after cleanup() (defers run in reverse), so no borg serve
        // of this run outlives its slot.
        let slot = mode == .backup ? try ConcurrencySlots.acquire(config.operations, local: local, log: log) : nil
        defer { withExtendedLifetime(slot) {} }
        var notices: [String] = []
        if try ServerSocket.prepare(config.socketPath) == .removedDead {
            notices.append("removed a dead socket left behind at \(config.socketPath)")
            log("borgpull-server: removed a dead socket left behind at \(config.socketPath)", .notice)
        }
        let supervisor: Supervisor
        do { supervisor = try Supervisor() } catch {
            throw ServerFailure(.serveFailed, "cannot set up signal handling: \(error)")
        }
        // A closed pipe to a child must be an EPIPE, not the end of the server.
        signal(SIGPIPE, SIG_IGN)
        supervisor.becomeSubreaper()
        self.supervisor = supervisor
        defer { cleanup() }
        return try supervise(supervisor, local: local, notices: notices)
    }

    func supervise(_ supervisor: Supervisor, local: Account, notices: [String]) throws(ServerFailure) -> ServerRunResult {
        let c = config
        let env = ServerChildren.environment(for: local)
        var result = ServerRunResult(
            sshExit: nil, sshSignal: nil, stdout: "", stdoutOverflowed: false, stderrTail: "",
            interrupted: false, timedOut: false, socatDied: false, notices: notices)
        // 1. socat + borg serve, as LOCAL_USER.
        let socatArgv = ServerChildren.asUser(local, [c.socatBinary] + ServerPlan.socatArguments(c))
        let socat = try ServerChildren.start(supervisor, socatArgv, environment: env, stdout: .null, stderr: .inherit)
        self.socat = socat
        let readyBy = monotonicSeconds() + 10
        while !ServerSocket.isListening(c.socketPath) {
            supervisor.reapChildren()
            if socat.termination != nil {
                throw ServerFailure(
                    .serveFailed,
                    "socat ended before listening on \(c.socketPath) (its message is above) (fix: check that \(local.name) can write \(FileRulesPath.parent(c.socketPath)) and that nothing else uses the path)"
                )
            }
            if !supervisor.takeSignals().isEmpty {
                result.interrupted = true
                return result
            }
            if monotonicSeconds() > readyBy {
                throw ServerFailure(
                    .serveFailed, "socat did not listen on \(c.socketPath) within 10 s (fix: run `\(socatArgv.joined(separator: " "))` by hand to see why)")
            }
            // Listening has no descriptor to wait on: look again every 20 ms (or when socat ends).
            supervisor.wait(children: [socat], timeout: 0.02)
        }

        // 2. ssh, as LOCAL_USER; stdout = the result record (the first `ServerOutcome.stdoutLimit`
        // bytes, `.capture`), stderr = ssh's and the client's messages (lines, and the last 64 KiB).
        // Both bounded: the client (or anyone on its side of the tunnel) decides what comes through.
        let sshArgv = ServerChildren.asUser(local, [c.sshBinary] + ServerPlan.sshArguments(c, mode: mode))
        log(
            "borgpull-server: \(mode.rawValue) \(c.repoName): \(c.remoteUser)@\(c.remoteHost):\(c.sshPort), client socket \(c.remoteSocketPath) -> \(c.socketPath) -> borg serve \(c.repoDir)\(c.appendOnly ? " (append-only)" : "")",
            .info)
        let ssh = try ServerChildren.start(supervisor, sshArgv, environment: env, stdout: .capture, stderr: .lines(prefix: ""))
        self.ssh = ssh
        if mode == .serve {
            log(
                "borgpull-server: serving; on the client, as root: borgpull-client borg list | borg init, borgpull-client restore, borgpull-client key-export FILE, borgpull-client BACKUP (see README). Ctrl-C ends SERVE.",
                .info)
        }

        // 3. Wait for ssh; forward SIGINT/SIGTERM/SIGHUP; enforce BACKUP_TIMEOUT.
        let deadline = mode == .backup && c.backupTimeout > 0 ? monotonicSeconds() + Double(c.backupTimeout) : Double.infinity
        var stopSentAt: Double?
        // At most this many client lines per run reach the server's log (then one notice): the
        // trigger sends only its own few lines, more is a client flooding the journal.
        let maxForwardedLines = 10_000
        var forwarded = 0
        func show(_ line: String) {
            guard let prefix = forwardStderrPrefix else { return }
            forwarded += 1
            if forwarded == maxForwardedLines + 1 { log(prefix + "[further client lines are not shown: more than \(maxForwardedLines)]", .warning) }
            guard forwarded <= maxForwardedLines else { return }
            // The client (or anyone on its side of the tunnel) wrote this: make it inert.
            log(prefix + LogText.sanitize(line), .info)
        }
        func stop() {
            ssh.signalGroup(SIGTERM)
            stopSentAt = monotonicSeconds()
        }
        while ssh.termination == nil {
            // Wakes on output, on a signal, and when ssh or socat ends (their pidfds); else after
            // at most 1 s for the deadlines.
            let wakeBy = min(deadline, stopSentAt.map { $0 + 10 } ?? .infinity) - monotonicSeconds()
            supervisor.wait(readable: ssh.openOutputs, children: [ssh, socat], timeout: min(1, max(0.05, wakeBy)))
            ssh.drain(show)
            if ssh.stdoutOverflowed && !result.stdoutOverflowed {
                // A record is one line of a few KiB; whatever this is, it is not one.
                log(
                    "borgpull-server: the client sent more than \(ServerOutcome.stdoutLimit >> 20) MiB on stdout, where only its result record belongs; stopping ssh",
                    .error)
                result.stdoutOverflowed = true
                if stopSentAt == nil { stop() }
            }
            for s in supervisor.takeSignals() {
                if stopSentAt == nil {
                    log("borgpull-server: received signal \(s); stopping ssh, socat and borg serve", .warning)
                    result.interrupted = true
                    stop()
                } else {
                    ssh.signalGroup(SIGKILL)
                }
            }
            // Every child that ended, also orphans re-parented to the server (the subreaper).
            supervisor.reapChildren()
            if socat.termination != nil && ssh.termination == nil && stopSentAt == nil {
                log("borgpull-server: socat ended unexpectedly; stopping ssh", .error)
                result.socatDied = true
                stop()
            }
            let now = monotonicSeconds()
            if now > deadline && stopSentAt == nil && ssh.termination == nil {
                log("borgpull-server: BACKUP_TIMEOUT=\(c.backupTimeout) s elapsed; stopping ssh", .error)
                result.timedOut = true
                stop()
            }
            if let t = stopSentAt, now - t > 10 { ssh.signalGroup(SIGKILL) }
        }
        // ssh ended: collect what is still in the pipes (bounded: a grandchild may hold them).
        ssh.finish(linger: 2, show)
        result.stdoutOverflowed = result.stdoutOverflowed || ssh.stdoutOverflowed
        switch ssh.termination {
        case .exited(let code): result.sshExit = code
        case .signaled(let signal): result.sshSignal = signal
        case nil: break
        }
        result.stdout = String(decoding: ssh.stdout, as: UTF8.self)
        result.stderrTail = String(decoding: ssh.stderrRawTail, as: UTF8.self)
        return result
    }

    /// Every path ends here: ssh's and socat's process groups (socat, its per-connection children
    /// and every `borg serve`) get SIGTERM, then SIGKILL after 10 s; all are reaped; S is removed.
    func cleanup() {
        let groups = [socat, ssh].compactMap { $0 }
        for g in groups { _ = kill(-g.pid, SIGTERM) }
        let killAt = monotonicSeconds() + 10
        var killed = false
        while true {
            supervisor?.reapChildren()
            let alive = groups.filter(\.groupAlive)
            if alive.isEmpty { break }
            if monotonicSeconds() > killAt {
                if killed { break }
                for g in alive { _ = kill(-g.pid, SIGKILL) }
                killed = true
            }
            // A group has no descriptor to wait on: look again every 20 ms (at once when a leader ends).
            supervisor?.wait(children: alive, timeout: 0.02)
        }
        supervisor?.reapChildren()
        var st = stat()
        if lstat(config.socketPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK {
            _ = unlink(config.socketPath)
        }
    }
}

/// Path helpers (pure string work on absolute paths).
enum FileRulesPath {
    static func parent(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return "/" + parts.dropLast().joined(separator: "/")
    }
}
