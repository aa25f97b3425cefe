import BorgPullCore
import Glibc

/// Healthcheck pings (curl) and NOTIFY_COMMAND. Both run as LOCAL_USER (setpriv when the server
/// is root; under `borgpull-server@.service` the server already is LOCAL_USER), with a small
/// fixed environment, no shell, stdin from an anonymous file, and a timeout. Neither can change
/// a run's outcome: every failure is logged and otherwise ignored.
public enum Alerting {
    public typealias Log = (String, JournalLine.Priority) -> Void

    /// Pings `HEALTHCHECK_URL` (`HealthcheckPing`); does nothing when it is not set.
    /// The URL goes to curl on stdin (its config), never on the command line, and the log names
    /// only its host: the path is the check's secret.
    public static func ping(
        _ o: ServerOperations, localUser: String, _ kind: HealthcheckPing.Kind,
        status: (code: Int32, name: String)? = nil, failedSteps: [String] = [], log: Log
    ) {
        guard let base = o.healthcheckURL else { return }
        let host = HealthcheckPing.host(of: base)
        let config = HealthcheckPing.curlConfig(
            url: HealthcheckPing.url(base, kind),
            body: HealthcheckPing.body(kind, status: status, failedSteps: failedSteps),
            timeout: o.healthcheckTimeout)
        do {
            let t = try runAsUser(
                localUser, [o.curlBinary] + HealthcheckPing.curlArguments, stdin: config,
                extraEnvironment: [:], timeout: Double(o.healthcheckTimeout) + 5, output: .null, log: log)
            switch t {
            case .exited(0): log("borgpull-server: healthcheck \(kind.rawValue) ping to \(host) sent", .info)
            case .exited(let code):
                log(
                    "borgpull-server: healthcheck \(kind.rawValue) ping to \(host) failed: \(HealthcheckPing.describeCurlExit(code)); the backup's outcome is not affected (fix: check HEALTHCHECK_URL and the network path to \(host))",
                    .warning)
            case .signaled(let s):
                log(
                    "borgpull-server: healthcheck \(kind.rawValue) ping to \(host) did not finish within HEALTHCHECK_TIMEOUT=\(o.healthcheckTimeout) s (curl ended by signal \(s)); the backup's outcome is not affected",
                    .warning)
            }
        } catch {
            log(
                "borgpull-server: healthcheck \(kind.rawValue) ping to \(host) not sent: \(error) (fix: apt-get install -y curl, or set CURL_BINARY in the defaults file)",
                .warning)
        }
    }

    /// Runs NOTIFY_COMMAND with `json` (the run's `--json` record) on stdin and
    /// `BORGPULL_STATUS` (name), `BORGPULL_EXIT` (code), `BORGPULL_REPO_NAME` in its environment;
    /// its output goes to the log prefixed `[notify]`. Does nothing when it is not set.
    public static func notify(
        _ o: ServerOperations, localUser: String, repoName: String?, exit: (code: Int32, name: String),
        json: @autoclosure () -> String, log: Log
    ) {
        guard let argv = o.notifyCommand, let program = argv.first else { return }
        // Why: the command runs as LOCAL_USER, who owns every repository; a program another
        // account could replace would hand that account the repositories. Judging the file alone
        // (stat through symlinks) let an account owning a directory on the way swap the program
        // or plant a symlink to any root-owned one. So the path is the one trusted open's: no
        // symlink in any component, every directory and the file root's or LOCAL_USER's and not
        // group/other-writable (Files.openTrusted); then nobody else can change what runs.
        let owner = Account.user(localUser)?.uid
        let fd: Int32
        do { fd = try Files.openTrusted(program, owners: owner.map { [$0] } ?? []) } catch {
            log(
                "borgpull-server: NOTIFY_COMMAND \(program) may be changed by another account or is not a file (\(error)); not run, nobody was notified", .error
            )
            return
        }
        var st = stat()
        let judged = fstat(fd, &st) == 0
        close(fd)
        guard judged, st.st_mode & 0o111 != 0 else {
            log("borgpull-server: NOTIFY_COMMAND \(program) is not an executable file; nobody was notified (fix: chmod 0755 \(program))", .error)
            return
        }
        var env = ["BORGPULL_STATUS": exit.name, "BORGPULL_EXIT": String(exit.code)]
        if let r = repoName { env["BORGPULL_REPO_NAME"] = r }
        do {
            let t = try runAsUser(
                localUser, argv, stdin: json() + "\n", extraEnvironment: env, timeout: Double(o.notifyTimeout),
                output: .lines(prefix: "  [notify] "), log: log)
            switch t {
            case .exited(0): log("borgpull-server: NOTIFY_COMMAND ran for \(exit.name)", .info)
            case .exited(let code): log("borgpull-server: NOTIFY_COMMAND \(program) exited \(code); the notification may not have gone out", .error)
            case .signaled(let s):
                log("borgpull-server: NOTIFY_COMMAND \(program) was stopped (signal \(s)) after NOTIFY_TIMEOUT=\(o.notifyTimeout) s or by a signal", .error)
            }
        } catch {
            log("borgpull-server: NOTIFY_COMMAND \(program) could not be started: \(error); nobody was notified", .error)
        }
    }

    /// `argv` as `localUser` (through setpriv when root), stdin = `stdin`, to its end or `timeout`
    /// (then SIGTERM to its group, SIGKILL 5 s later).
    static func runAsUser(
        _ localUser: String, _ argv: [String], stdin: String, extraEnvironment: [String: String],
        timeout: Double, output: SpawnSpec.Output, log: Log
    ) throws(SystemError) -> Termination {
        guard let account = Account.user(localUser) else {
            throw SystemError("getpwnam (LOCAL_USER=\(localUser) does not exist)", path: nil, errno: ENOENT)
        }
        if geteuid() == 0 && account.uid == 0 {
            throw SystemError("run as LOCAL_USER (refused: LOCAL_USER is root)", path: nil, errno: EPERM)
        }
        let fd = try Files.memoryFile(Array(stdin.utf8))
        defer { close(fd) }
        var env = ServerChildren.environment(for: account)
        for (k, v) in extraEnvironment { env[k] = v }
        let supervisor = try Supervisor()
        let spec = SpawnSpec(
            argv: ServerChildren.asUser(account, argv), environment: env, stdout: output,
            stderr: output == .null ? .null : output, descriptors: [(child: 0, parent: fd)])
        let r = try supervisor.run(spec, timeout: timeout, grace: 5) { line in log(LogText.sanitize(line), .info) }
        return r.termination
    }
}
