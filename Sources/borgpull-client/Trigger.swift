import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `borgpull-client trigger`: sshd's ForceCommand for the ssh user (see policy/sshd/borgpull.conf).
///
/// It starts the BACKUP, waits for it, prints the result record on stdout as ONE line of JSON
/// (only a record written after the trigger started) and exits with the client's status.
/// The server reads ssh's stdout, and shows the trigger's own stderr messages as the client's.
/// The BACKUP's output names the client's files and hook output, so it never goes to the
/// server: under systemd it is in the unit's journal; with `--via sudo-client` or `direct` the
/// trigger sends it to syslog (`journalctl -t borgpull-client`). The record carries counts,
/// codes and step outcomes only.
///
/// It never reads SSH_ORIGINAL_COMMAND: whatever command the server asks for, the only thing
/// that happens is the configured BACKUP.
struct Trigger: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger",
        abstract: "sshd ForceCommand: start the BACKUP, print its result record, exit with its status.",
        discussion: """
            The server's command line (SSH_ORIGINAL_COMMAND) is never read.
            """)

    enum Via: String, ExpressibleByArgument {
        case systemd, sudo, sudoClient = "sudo-client", direct
    }

    @Option(help: ArgumentHelp("The client's result record (its RESULT_FILE).", valueName: "FILE"))
    var result = "/var/lib/borgpull/results/last-backup.json"

    // The ways are listed in the discussion, not as enumerated values: the man page generator
    // leaves a stray paragraph macro before such a list (mandoc -Tlint warns).
    @Option(
        help: ArgumentHelp(
            "How to start the BACKUP: systemd, sudo, sudo-client or direct.",
            discussion: """
                systemd: systemctl start UNIT, authorised by the polkit rule; the unit runs the BACKUP as root.
                sudo: sudo -n systemctl start UNIT, for hosts without polkit (the policy's sudoers file).
                sudo-client: sudo -n CLIENT -c DIR BACKUP, for hosts without systemd (a sudoers line allowing exactly that).
                direct: run the BACKUP as a child; only when already root.
                """), completion: .list(["systemd", "sudo", "sudo-client", "direct"]))
    var via: Via = .systemd

    @Option(help: ArgumentHelp("The client's configuration directory (sudo, direct).", valueName: "DIR"))
    var configs = "/etc/borgpull"

    @Option(help: ArgumentHelp("The systemd unit that runs the BACKUP (systemd).", valueName: "UNIT"))
    var unit = "run-borg-backup.service"

    @Option(help: ArgumentHelp("Absolute path of borgpull-client as written in sudoers (sudo).", valueName: "PATH"))
    var client = Installation.layout.client

    func validate() throws {
        guard result.hasPrefix("/"), configs.hasPrefix("/"), client.hasPrefix("/") else {
            throw ValidationError("--result, --configs and --client must be absolute paths")
        }
        guard unit.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }), unit.hasSuffix(".service") else {
            throw ValidationError("--unit must be a unit name such as run-borg-backup.service")
        }
    }

    func run() throws {
        let started = TriggerClock.now()
        let argv: [String]
        let systemctl = TriggerClock.firstExecutable(["/usr/bin/systemctl", "/bin/systemctl"])
        switch via {
        case .systemd:
            argv = [systemctl, "start", unit]
        case .sudo:
            argv = ["/usr/bin/sudo", "-n", systemctl, "start", unit]
        case .sudoClient:
            argv = ["/usr/bin/sudo", "-n", client, "-c", configs, "BACKUP"]
        case .direct:
            guard geteuid() == 0 else {
                say(
                    "--via direct needs root, but this runs as uid \(geteuid()) (fix: in sshd's ForceCommand use --via systemd with the polkit rule, or --via sudo with the sudoers drop-in)"
                )
                throw ExitCode(ClientExit.configError.rawValue)
            }
            argv = [Installation.executablePath(), "-c", configs, "BACKUP"]
        }

        // The server recognises this line (ServerOutcome.triggerMarker): the session is up.
        say("starting BACKUP via \(via.rawValue)")
        // stdin /dev/null; SIGHUP (the ssh session died), SIGINT and SIGTERM are passed on.
        // systemctl's and sudo's own messages go to our stderr (the server); a BACKUP run as
        // our child (sudo-client, direct) logs to syslog instead: its lines name the client's
        // files, which the server must not learn.
        let backupIsChild = via == .sudoClient || via == .direct
        if backupIsChild { SystemLog.open(program: "borgpull-client") }
        let code: Int32
        do {
            let supervisor = try Supervisor()
            let env = ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"]
            let spec =
                backupIsChild
                ? SpawnSpec(argv: argv, environment: env, stdout: .lines(prefix: ""), stderr: .lines(prefix: ""))
                : SpawnSpec(argv: argv, environment: env, stdout: .stderr, stderr: .inherit)
            let r = try supervisor.run(spec) { line in SystemLog.write(line) }
            switch r.termination {
            case .exited(let rc): code = rc
            case .signaled(let s):
                say("\(argv[0]) was killed by signal \(s)")
                code = 5
            }
        } catch {
            say("cannot start \(argv[0]): \(error) (fix: install it, or choose another --via)")
            throw ExitCode(ClientExit.internalError.rawValue)
        }

        // The record, if this BACKUP wrote one.
        guard let record = freshRecord(since: started) else {
            if code == 0 || code == 1 {
                // sudo and systemctl also use status 1 for their own failures: never pass that
                // on as "ok with warnings" without the record that says so.
                say(
                    "\(argv.joined(separator: " ")) exited \(code) but \(result) was not written by this run (fix: make \(result) readable by \(userName()), e.g. mode 0640 with the ssh user's group, and check the client's log)"
                )
                throw ExitCode(ClientExit.internalError.rawValue)
            }
            say("\(argv.joined(separator: " ")) exited \(code); no new result record in \(result)")
            throw ExitCode(code)
        }
        _ = Files.writeAll(STDOUT_FILENO, Array((record.line + "\n").utf8))
        throw ExitCode(record.code ?? code)
    }

    /// The result record if it was modified at or after `since`: one line of JSON and its status code.
    func freshRecord(since: timespec) -> (line: String, code: Int32?)? {
        var st = stat()
        guard stat(result, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let m = st.st_mtim
        guard m.tv_sec > since.tv_sec || (m.tv_sec == since.tv_sec && m.tv_nsec >= since.tv_nsec) else { return nil }
        guard st.st_size < 4 << 20, let data = FileManager.default.contents(atPath: result),
            let value = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let object) = value,
            let compact = try? Self.compactEncoder.encode(value)
        else {
            say("\(result) is not a JSON object; not sent")
            return nil
        }
        var code: Int32?
        if case .object(let status)? = object["status"], case .integer(let c)? = status["code"] { code = Int32(exactly: c) }
        return (String(decoding: compact, as: UTF8.self), code)
    }

    func say(_ text: String) {
        StderrLog.plain("borgpull-client trigger: \(text)")
    }

    /// One line, keys sorted (as JSONSerialization's `.sortedKeys` did before).
    static var compactEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    func userName() -> String { Account.userName(geteuid()) ?? "uid \(geteuid())" }
}

enum TriggerClock {
    static func now() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }

    static func firstExecutable(_ candidates: [String]) -> String {
        candidates.first { access($0, X_OK) == 0 } ?? candidates[0]
    }
}
