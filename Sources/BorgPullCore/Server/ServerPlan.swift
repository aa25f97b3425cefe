/// The server's modes.
public enum ServerMode: String, Sendable, CaseIterable {
    /// Forward the socket and trigger the client's BACKUP (the ForceCommand runs).
    case backup = "BACKUP"
    /// Forward the socket only (`ssh -N`), until Ctrl-C: `borg init`, list, restore, manual runs.
    case serve = "SERVE"
    /// `borg compact` of REPO_DIR, locally, as LOCAL_USER: frees what prunes marked deleted.
    case compact = "COMPACT"
    /// `borg check --repository-only` of REPO_DIR, locally, as LOCAL_USER (no key needed).
    case check = "CHECK"
    /// Report a failed server unit (run by `borgpull-notify@NAME.service`, the units' `OnFailure=`).
    case notify = "NOTIFY"
    /// One row per client from the run histories (no lock, no borg).
    case status = "STATUS"
}

/// The argv of the processes a server run starts. Pure values, built and tested here.
public enum ServerPlan {
    /// `borg serve` as socat's EXEC command (no shell: socat splits it at blanks).
    ///
    /// socat 1.7.4 `EXEC:<command-line>`: the command line is split into words at blanks, and the
    /// address parser gives `:` `,` `!!` `"` `'` `\` and brackets a meaning. `ServerConfig`
    /// allows only `[A-Za-z0-9._/-]` (and `=` in options) in every word, so no quoting is needed
    /// and none is attempted.
    ///
    /// `.borg2Beta` (the borg 2 spike): `borg serve --rest --backend FILE\:REPO_DIR` serves the
    /// repository whatever location the client names, and APPEND_ONLY becomes `--permissions
    /// no-delete` (borg 2 has no `--append-only`). `FILE:`'s colon is escaped for socat, whose
    /// address parser would split the EXEC parameter there (socat 1.7.4: "wrong number of
    /// parameters"); socat removes the backslash.
    public static func serveCommand(_ c: ServerConfig, profile: BorgProfile = .borg1) -> [String] {
        var argv = [c.borgBinary, "serve"]
        switch profile {
        case .borg1:
            if c.appendOnly { argv.append("--append-only") }
        case .borg2Beta:
            argv += ["--rest", "--backend", "FILE\\:" + c.repoDir, "--permissions", c.appendOnly ? "no-delete" : "all"]
        }
        argv += ["--restrict-to-repository", c.repoDir]
        argv += c.serveOptions
        return argv
    }

    /// socat's argv (after the program path): listen on S, one `borg serve` per connection.
    ///
    /// - `fork`: a child per connection (borg opens one connection per command).
    /// - `mode=0600`: only LOCAL_USER (who also runs ssh) may connect; the process umask is
    ///   0077 as well, so the socket is never more open, even between bind and chmod.
    /// - `unlink-close` (socat's default for UNIX-LISTEN) removes S when socat ends normally;
    ///   no `unlink-early`: a leftover S is examined first (dead: removed, live: refused).
    /// - `max-children=4`: borg's commands are sequential; a flood of connections cannot fork
    ///   unbounded `borg serve` processes.
    /// - `nofork` (socat(1), EXEC): the connection's child execs `borg serve` with the accepted
    ///   socket as its stdin and stdout, so no socat process copies the repository's bytes.
    ///   borg's RPC moves one small message at a time: a first backup of 50,000 small files made
    ///   the copying socat do ~100,000 reads and writes of ~2 KiB and 740,000 recvfrom(2) calls
    ///   of its own (1.1-1.5 CPU s). The user, the group, the limit and the socket are the same.
    public static func socatArguments(_ c: ServerConfig, profile: BorgProfile = .borg1) -> [String] {
        [
            "UNIX-LISTEN:\(c.socketPath),fork,mode=0600,max-children=4",
            "EXEC:" + serveCommand(c, profile: profile).joined(separator: " ") + ",nofork"
        ]
    }

    /// ssh's argv (after the program path).
    ///
    /// `-R CLIENT_PATH:SERVER_PATH` (remote socket first: OpenSSH ssh(1) `-R
    /// remote_socket:local_socket`; the original had them swapped). `ExitOnForwardFailure=yes`
    /// makes ssh exit 255 before any command runs when sshd cannot bind C. `BatchMode=yes` never
    /// asks a person; `StrictHostKeyChecking=yes` never accepts an unknown or changed host key.
    public static func sshArguments(_ c: ServerConfig, mode: ServerMode) -> [String] {
        var a = [
            "-T",
            "-o", "BatchMode=yes",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=\(c.connectTimeout)",
            "-o", "ServerAliveInterval=\(c.aliveInterval)",
            "-o", "ServerAliveCountMax=\(c.aliveCount)",
            "-o", "ForwardAgent=no",
            "-o", "ForwardX11=no",
            "-o", "PermitLocalCommand=no",
            "-o", "ClearAllForwardings=no",
            // The tunnel's cost is ssh's CPU (bench/README.md): AES-GCM (AES-NI) before
            // chacha20-poly1305 cut ssh+sshd CPU from 1.88 to 1.56 s on 200 MB; borg
            // compresses already, so ssh compression only burns CPU (1.9-2.3x slower).
            "-o", "Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
            "-o", "Compression=no"
        ]
        if let k = c.sshKnownHosts { a += ["-o", "UserKnownHostsFile=\(k)"] }
        if let i = c.sshIdentity { a += ["-o", "IdentitiesOnly=yes", "-i", i] }
        a += ["-p", String(c.sshPort), "-R", "\(c.remoteSocketPath):\(c.socketPath)"]
        if mode == .serve { a.append("-N") }
        a.append("\(c.remoteUser)@\(c.remoteHost)")
        return a
    }
}

extension ServerExit {
    /// The syslog priority of the summary line: info when the backup succeeded, warning
    /// with warnings, error otherwise (`journalctl -p err` shows exactly the failed runs).
    public var priority: JournalLine.Priority {
        switch self {
        case .ok: return .info
        case .warning: return .warning
        default: return .error
        }
    }
}

/// Exit statuses of `borgpull-server` (documented in README.md and `--help`).
public enum ServerExit: Int32, Sendable, Codable, ExitTable {
    /// The client's BACKUP succeeded (SERVE: ended by Ctrl-C/SIGTERM or ssh ended normally).
    case ok = 0
    /// The client's BACKUP succeeded with warnings (listed in the summary).
    case warning = 1
    /// The client's BACKUP failed; the summary names the step (pre-hook, create, prune, post-hook).
    case clientFailed = 2
    /// ssh could not connect, authenticate, verify the host key or forward the socket.
    /// Nothing ran on the client.
    case connectFailed = 3
    /// The server configuration (or the server's environment: user, binaries) is wrong.
    case configError = 4
    /// Another run holds the lock: this server's per-client lock, or the client's BACKUP lock.
    case locked = 5
    /// The server received SIGINT/SIGTERM and stopped the run.
    case interrupted = 6
    /// BACKUP_TIMEOUT elapsed; ssh was stopped.
    case timeout = 7
    /// The session ended without a result record (connection lost, or the client's trigger
    /// failed before the backup ran): the outcome is unknown, see the client's log.
    case noResult = 8
    /// socat / `borg serve` could not be started or the server socket could not be prepared.
    case serveFailed = 9
    /// COMPACT or CHECK: borg could not do its work (rc 2, a signal, or it could not start).
    case maintenanceFailed = 10
    /// CHECK: borg found the repository damaged (the summary names the segment). Repairing is
    /// a person's decision: `borg check --repair`, never run by borgpull.
    case repositoryDamaged = 11

    public var name: String {
        switch self {
        case .ok: return "ok"
        case .warning: return "ok-with-warnings"
        case .clientFailed: return "client-backup-failed"
        case .connectFailed: return "connect-failed"
        case .configError: return "config-error"
        case .locked: return "locked"
        case .interrupted: return "interrupted"
        case .timeout: return "timeout"
        case .noResult: return "no-result"
        case .serveFailed: return "serve-failed"
        case .maintenanceFailed: return "maintenance-failed"
        case .repositoryDamaged: return "repository-damaged"
        }
    }
}

/// A lenient reader of the client's result record (schema version 1, written by
/// `borgpull-client BACKUP` and printed by `borgpull-client trigger`). Every field is optional
/// so that a newer or older client still yields a summary.
public struct ClientReport: Sendable, Codable, Equatable {
    public struct Status: Sendable, Codable, Equatable {
        public var code: Int32?
        public var name: String?
        public var message: String?
    }
    public struct Step: Sendable, Codable, Equatable {
        public var name: String?
        public var status: String?
        public var rc: Int32?
        public var message: String?
        public var seconds: Double?
    }
    public struct Stats: Sendable, Codable, Equatable {
        public var originalSize: Int64?
        public var compressedSize: Int64?
        public var deduplicatedSize: Int64?
        public var files: Int64?
        enum CodingKeys: String, CodingKey {
            case originalSize = "original_size", compressedSize = "compressed_size"
            case deduplicatedSize = "deduplicated_size", files = "nfiles"
        }
    }

    public var version: Int?
    public var host: String?
    public var started: String?
    public var finished: String?
    public var status: Status?
    public var archive: String?
    public var steps: [Step]?
    public var stats: Stats?
    public var warnings: [String]?

    /// Steps that did not end well (failed, timeout, interrupted).
    public var failedSteps: [Step] {
        (steps ?? []).filter { ["failed", "timeout", "interrupted"].contains($0.status ?? "") }
    }
}

/// What ssh's stderr says went wrong (OpenSSH 9.x messages).
public enum SSHDiagnosis: Sendable, Equatable {
    case hostKeyUnknown, hostKeyChanged, hostKeyFailed
    case authenticationFailed
    case unreachable(String)
    case forwardFailed
    case connectionLost
    case other

    public static func classify(_ stderr: String) -> SSHDiagnosis {
        let s = stderr
        if s.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") { return .hostKeyChanged }
        if s.contains("No ED25519 host key is known") || s.contains("host key is known for")
            || s.contains("No RSA host key is known") || s.contains("No ECDSA host key is known")
        {
            return .hostKeyUnknown
        }
        if s.contains("Host key verification failed") { return .hostKeyFailed }
        if s.contains("Permission denied (") { return .authenticationFailed }
        if s.contains("remote port forwarding failed") || s.contains("forwarding failed for listen path") { return .forwardFailed }
        for marker in [
            "Connection timed out", "Connection refused", "No route to host", "Network is unreachable",
            "Could not resolve hostname", "Name or service not known", "Temporary failure in name resolution",
            "banner exchange", "Operation timed out"
        ] where s.contains(marker) {
            return .unreachable(marker)
        }
        for marker in ["closed by remote host", "Broken pipe", "Connection reset", "Timeout, server", "client_loop:"]
        where s.contains(marker) {
            return .connectionLost
        }
        return .other
    }
}

/// The verdict of one server run: status, a one-line message with the fix, and the report.
public struct ServerOutcome: Sendable, Equatable {
    public var exit: ServerExit
    public var message: String
    public var report: ClientReport?

    public init(exit: ServerExit, message: String, report: ClientReport? = nil) {
        self.exit = exit
        self.message = message
        self.report = report
    }

    /// 4 MiB, in bytes: the most of ssh's stdout the server reads. The trigger prints one result
    /// record there (one JSON line of a few KiB, even with many warnings); more means the output
    /// is not the trigger's, and a client must not make the server grow without end.
    public static let stdoutLimit = 4 << 20

    /// What ssh's end means for a BACKUP.
    /// - Parameters:
    ///   - sshExit: ssh's exit code, nil if ssh was killed by a signal.
    ///   - report: the result record found on ssh's stdout, if any.
    ///   - stderrTail: the last lines ssh (and the client) wrote on stderr.
    ///   - interrupted: this server received SIGINT/SIGTERM and stopped ssh.
    ///   - timedOut: BACKUP_TIMEOUT elapsed and ssh was stopped.
    ///   - stdoutOverflowed: ssh's stdout passed `stdoutLimit`; ssh was stopped, `report` is ignored.
    public static func backup(
        config c: ServerConfig, sshExit: Int32?, report: ClientReport?, stderrTail: String,
        interrupted: Bool, timedOut: Bool, stdoutOverflowed: Bool = false
    ) -> ServerOutcome {
        let target = "\(c.remoteUser)@\(c.remoteHost):\(c.sshPort)"
        // Whatever the first 4 MiB held, a record among them is not believed.
        if stdoutOverflowed {
            return ServerOutcome(
                exit: .noResult,
                message:
                    "the client \(target) sent more than \(stdoutLimit >> 20) MiB on ssh's stdout, where only its one-line result record belongs; ssh was stopped and the output was not read as a record, so the outcome of the backup is unknown (fix: on the client, make sshd's ForceCommand `borgpull-client trigger` and check that the ssh user's shell startup files print nothing; look at the client's log)"
            )
        }
        if let r = report, let code = r.status?.code {
            // An honest trigger exits with the record's code, and an ok record has no failed
            // step. Anything else is not believed: the run counts as failed.
            if let e = sshExit, e != code {
                return ServerOutcome(
                    exit: .clientFailed,
                    message:
                        "the client's result record says status \(code) but its trigger exited \(e); not trusting the record (fix: look at the client's log; check that sshd's ForceCommand is `borgpull-client trigger`)",
                    report: r)
            }
            if code <= 1, let bad = r.failedSteps.first {
                return ServerOutcome(
                    exit: .clientFailed,
                    message:
                        "the client's result record says status \(code) but lists the failed step \(bad.name ?? "?"); not trusting it (fix: look at the client's log)",
                    report: r)
            }
            return fromClient(code: code, report: r, target: target)
        }
        if timedOut {
            return ServerOutcome(
                exit: .timeout,
                message:
                    "the BACKUP of \(target) did not end within BACKUP_TIMEOUT=\(c.backupTimeout) s (\(c.file)); ssh was stopped, the client's backup is interrupted by sshd closing the session (fix: raise BACKUP_TIMEOUT or look at the client's log)"
            )
        }
        if interrupted {
            return ServerOutcome(exit: .interrupted, message: "interrupted by a signal; ssh, socat and borg serve were stopped")
        }
        // The trigger announces itself on stderr first thing: after that marker the session was up.
        let sessionStarted = stderrTail.contains(ServerOutcome.triggerMarker)
        if sshExit == 255 && !sessionStarted {
            return connectFailure(config: c, stderrTail: stderrTail, target: target)
        }
        if sshExit == 255 {
            return ServerOutcome(
                exit: .noResult,
                message: "the connection to \(target) was lost during the backup: \(lastLines(stderrTail, 2)) (fix: look at the client's log; run BACKUP again)"
            )
        }
        guard let code = sshExit else {
            return ServerOutcome(
                exit: .noResult,
                message:
                    "ssh to \(target) was killed before the client's result arrived; the client's backup may still be running or was cut off (fix: look at the client's log and run BACKUP again)"
            )
        }
        // The trigger exits with the client's status but printed no record (e.g. it could not read
        // RESULT_FILE, or the client stopped before writing one).
        if code == 0 || code == 1 {
            return ServerOutcome(
                exit: .noResult,
                message:
                    "the client reported status \(code) but sent no result record (fix: check that the ssh user on \(c.remoteHost) can read the client's RESULT_FILE, and that sshd's ForceCommand is `borgpull-client trigger`)"
            )
        }
        return fromClient(code: code, report: nil, target: target)
    }

    /// The line prefix `borgpull-client trigger` writes to stderr when it starts (ssh passes it on).
    public static let triggerMarker = "borgpull-client trigger: starting"

    /// Maps the client's exit status (see borgpull-client's exit statuses).
    static func fromClient(code: Int32, report: ClientReport?, target: String) -> ServerOutcome {
        let clientMessage = report?.status?.message.map { ": \($0)" } ?? ""
        let failed =
            report?.failedSteps.compactMap { s -> String? in
                guard let n = s.name else { return nil }
                return "\(n) \(s.status ?? "failed")" + (s.message.map { " (\($0))" } ?? "")
            } ?? []
        let stepText = failed.isEmpty ? "" : "; failed step: " + failed.joined(separator: ", ")
        let name = report?.status?.name ?? clientStatusName(code)
        switch code {
        case 0:
            return ServerOutcome(exit: .ok, message: "backup of \(target) ok", report: report)
        case 1:
            let n = report?.warnings?.count ?? 0
            return ServerOutcome(exit: .warning, message: "backup of \(target) ok with \(n) warning(s)\(clientMessage)", report: report)
        case 11:
            return ServerOutcome(
                exit: .locked,
                message: "the client \(target) is already running a BACKUP (client status 11 \(name)); nothing was started (fix: wait for it to finish)",
                report: report)
        default:
            return ServerOutcome(
                exit: .clientFailed, message: "backup of \(target) failed: client status \(code) \(name)\(clientMessage)\(stepText)", report: report)
        }
    }

    /// Names of borgpull-client's exit statuses (for when no record arrived).
    public static func clientStatusName(_ code: Int32) -> String {
        if let status = ClientExit(rawValue: code) { return status.name }
        if code == 126 || code == 127 { return "trigger-not-runnable (sshd's ForceCommand could not run)" }
        return "unknown"
    }

    /// ssh ended with 255 (or died while connecting): which step failed and the fix.
    public static func connectFailure(config c: ServerConfig, stderrTail: String, target: String) -> ServerOutcome {
        let known = c.sshKnownHosts ?? "~\(c.localUser)/.ssh/known_hosts"
        let hostEntry = c.sshPort == 22 ? c.remoteHost : "[\(c.remoteHost)]:\(c.sshPort)"
        let detail = lastLines(stderrTail, 3)
        switch SSHDiagnosis.classify(stderrTail) {
        case .hostKeyUnknown, .hostKeyFailed:
            return ServerOutcome(
                exit: .connectFailed,
                message:
                    "host key verification of \(target) failed: \(known) has no matching key for \(hostEntry); nothing was started on the client (fix: verify the client's host key out of band, then add `\(hostEntry) <type> <key>` to \(known))"
            )
        case .hostKeyChanged:
            return ServerOutcome(
                exit: .connectFailed,
                message:
                    "the host key of \(target) does NOT match \(known); nothing was started on the client (fix: find out why the key changed; only if the change is expected, replace the entry for \(hostEntry) in \(known))"
            )
        case .authenticationFailed:
            return ServerOutcome(
                exit: .connectFailed,
                message:
                    "\(c.remoteUser)@\(c.remoteHost) refused our key; nothing was started on the client (fix: put the public key of \(c.sshIdentity ?? "~\(c.localUser)/.ssh/id_*") into the client's AuthorizedKeysFile for \(c.remoteUser), and check that the account is not locked: usermod -p '*' \(c.remoteUser))"
            )
        case .unreachable(let why):
            return ServerOutcome(
                exit: .connectFailed,
                message:
                    "cannot reach \(target): \(why) (CONNECT_TIMEOUT=\(c.connectTimeout) s); nothing was started on the client (fix: check REMOTE_HOST and SSH_PORT in \(c.file), that sshd runs on the client, and the network path)"
            )
        case .forwardFailed:
            return ServerOutcome(
                exit: .connectFailed,
                message:
                    "sshd on \(c.remoteHost) refused to bind \(c.remoteSocketPath); nothing was started on the client (fix: on the client use our Match block (AllowStreamLocalForwarding remote, AllowTcpForwarding remote, StreamLocalBindUnlink yes) and make sure the directory of \(c.remoteSocketPath) exists and is writable by \(c.remoteUser): borgpull-client -c /etc/borgpull SETUP)"
            )
        case .connectionLost:
            return ServerOutcome(
                exit: .noResult,
                message: "the connection to \(target) was lost before the result arrived: \(detail) (fix: look at the client's log; run BACKUP again)")
        case .other:
            return ServerOutcome(
                exit: .connectFailed,
                message:
                    "ssh to \(target) failed (exit 255): \(detail.isEmpty ? "no message" : detail) (fix: run the same ssh by hand as \(c.localUser) with -v)")
        }
    }

    static func lastLines(_ s: String, _ n: Int) -> String {
        s.split(separator: "\n").suffix(n).map { $0.trimmingBlanks() }.joined(separator: " | ")
    }

    /// Finds the result record in the trigger's stdout: the last line that is a JSON object.
    /// Lines before it (a login shell's noise) are ignored.
    public static func recordLine(in stdout: String) -> String? {
        stdout.split(separator: "\n").reversed().map { $0.trimmingBlanks() }
            .first { $0.hasPrefix("{") && $0.hasSuffix("}") }
    }
}

extension ServerOutcome {
    /// Steps and warnings the summary lists at most (each), each cut at 1000 characters.
    public static let summaryItems = 20

    /// The human summary BACKUP prints: verdict, archive, stats, steps, warnings.
    public var summary: String {
        var lines = ["borgpull-server: \(exit.name) (exit \(exit.rawValue)): \(message)"]
        guard let r = report else { return lines.map(LogText.sanitize).joined(separator: "\n") }
        if let h = r.host { lines.append("  client:   \(h)") }
        if let a = r.archive { lines.append("  archive:  \(a)") }
        if let s = r.stats {
            let parts = [
                s.files.map { "\($0) files" }, s.originalSize.map { "original \(ByteCount.format($0))" },
                s.compressedSize.map { "compressed \(ByteCount.format($0))" },
                s.deduplicatedSize.map { "deduplicated \(ByteCount.format($0))" }
            ].compactMap { $0 }
            if !parts.isEmpty { lines.append("  stats:    " + parts.joined(separator: ", ")) }
        }
        if let st = r.started, let fi = r.finished { lines.append("  time:     \(st) .. \(fi)") }
        // At most `summaryItems` steps and warnings each: the record is the client's text, and a
        // hostile client must not turn one run into megabytes of log.
        let steps = r.steps ?? []
        for s in steps.prefix(Self.summaryItems) {
            let name = (s.name ?? "?").padding(9) + " "
            let status = (s.status ?? "?").padding(11) + " "
            let secs = s.seconds.map { " [\(Int($0.rounded())) s]" } ?? ""
            lines.append("  step:     \(name)\(status)\(String((s.message ?? "").prefix(1000)))\(secs)")
        }
        if steps.count > Self.summaryItems { lines.append("  step:     ... \(steps.count - Self.summaryItems) more (see --json)") }
        let warnings = r.warnings ?? []
        for w in warnings.prefix(Self.summaryItems) { lines.append("  warning:  \(String(w.prefix(1000)))") }
        if warnings.count > Self.summaryItems { lines.append("  warning:  ... \(warnings.count - Self.summaryItems) more (see --json)") }
        // Every field came from the client: nothing in it may drive the admin's terminal.
        return lines.map(LogText.sanitize).joined(separator: "\n")
    }
}
