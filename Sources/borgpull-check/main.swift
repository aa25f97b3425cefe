import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `borgpull-check`: the preflight audit of a backup client and/or a server config.
struct BorgPullCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borgpull-check",
        abstract: "Audit a borgpull client and/or a server config: does the pull backup work, and can it not be abused",
        discussion: """
            Each finding has a severity (OK, WARN, FAIL), what was checked, where, what was expected, what was found, and a fix to paste.
            Client checks (default, or with -c DIR): owners and modes of the config dir, every config file, hook, policy file and installed binary and of every parent directory up to / (the OpenSSH safe_path rule); secrets 0600; borg_env, borg_paths, pattern files; users, shell, lock state; socket directory and live socket; sshd's effective settings for the ssh user (sshd -T), including environment passing; the ssh user's home and every directory it can write (a bounded walk of the local file systems: the server's key can bind sockets there); the trigger's polkit rule or sudoers line; Landlock; the units systemd loads and their systemd-analyze exposure; borg's version; whether the repository key was exported (key-export, a WARN until then).
            The installation expected (binaries, units, seccomp policy, ForceCommand) is the one this borgpull-check belongs to: /usr for the Debian packages, PREFIX for make install.
            Server checks (--server-config FILE): config owner and syntax, LOCAL_USER, REPO_DIR, RUN_DIR, ssh identity, known_hosts entry for the client, APPEND_ONLY, BORG_BINARY and borg's version, the COMPACT and CHECK timers and their last records, and the defaults file (/etc/borgpull-server/defaults.conf) with this client's MAX_CONCURRENT, HEALTHCHECK_URL and NOTIFY_COMMAND resolved against it.
            Given alone, only the server is checked; with -c as well, both.
            --json prints one document (schema "borgpull-check", version 1, see README.md, section --json schema) and exits with the same status.
            Exit status:
              0   every finding is OK
              1   the worst finding is a WARN
              2   at least one FAIL
              64  usage error (no audit ran)
            """,
        version: BorgPullVersion.current)

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("The client configuration directory.", valueName: "DIR"))
    var configs: String?

    @Option(name: .customLong("server-config"), help: ArgumentHelp("A server config file to audit.", valueName: "FILE"))
    var serverConfig: String?

    @Option(name: .customLong("sshd-config"), help: ArgumentHelp("sshd config for `sshd -T -f FILE` (default: sshd's own).", valueName: "FILE"))
    var sshdConfig: String?

    @Flag(help: "Print the findings as JSON (schema in README.md, section --json schema).")
    var json = false

    @Flag(name: .long, help: "Human output: show only WARN and FAIL findings.")
    var quiet = false

    func validate() throws {
        for (name, v) in [("--configs", configs), ("--server-config", serverConfig), ("--sshd-config", sshdConfig)] {
            if let v, v.isEmpty { throw ValidationError("\(name) needs a non-empty path") }
        }
    }

    func run() throws {
        var findings: [Finding] = []
        let auditClient = configs != nil || serverConfig == nil
        if auditClient {
            var options = ClientAuditOptions.full
            options.sshdConfig = sshdConfig
            findings += ClientAudit.run(configDir: configs ?? "/etc/borgpull", options: options).findings
        }
        if let s = serverConfig {
            findings += ServerAudit.run(configFile: s)
        }
        let report = AuditReport(findings: findings)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            _ = Files.writeAll(STDOUT_FILENO, Array(try enc.encode(report)) + Array("\n".utf8))
        } else {
            _ = Files.writeAll(STDOUT_FILENO, Array(report.humanText(quietOK: quiet).utf8))
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}

BorgPullCheck.main()
