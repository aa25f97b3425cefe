import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// `borgpull-server [-c|--config FILE] [--defaults FILE] [--json] BACKUP|SERVE|COMPACT|CHECK|NOTIFY`,
/// `borgpull-server STATUS [-c FILE]... [--config-dir DIR] [--json] [--max-age DURATION]`
struct BorgPullServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borgpull-server",
        abstract: "Pull a Borg backup from one client through a reverse ssh socket forward",
        discussion: """
            One config file per client, in the borg_env dialect (KEY=value data, never executed).
            Its keys are described in borgpull.conf(5); an example is /etc/borgpull-server/borgpull.conf.example.
            COMPACT and CHECK (borgpull-compact@NAME, borgpull-check@NAME) take the same per-client lock as BACKUP and SERVE.
            Every BACKUP, COMPACT and CHECK appends its record to STATE_DIR/history.jsonl and writes PROMETHEUS_TEXTFILE_DIR/borgpull-REPO_NAME.prom; STATUS reads the histories of every client.
            Under systemd (borgpull-server@NAME.service) each line carries its syslog priority:
            journalctl -u 'borgpull-server@*' -p err shows the failed runs.
            Exit status:
            \(ServerExit.table)
            """,
        version: BorgPullVersion.current)

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Server config file of one client (default: $BORGPULL_CONFIG). STATUS: may be given several times.", valueName: "FILE"))
    var config: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Server-wide defaults file (MAX_CONCURRENT, NOTIFY_COMMAND, ...; default: \(ServerDefaults.path), when it exists).", valueName: "FILE"))
    var defaults: String?

    @Option(name: .customLong("config-dir"), help: ArgumentHelp("STATUS without -c: every *.conf in this directory.", valueName: "DIR"))
    var configDir = "/etc/borgpull-server"

    @Option(
        name: .customLong("max-age"),
        help: ArgumentHelp(
            "STATUS: a client whose last successful BACKUP is older is stale (26h, 3d, 90m; default: each config's MAX_BACKUP_AGE, 26h).", valueName: "DURATION"
        ))
    var maxAge: String?

    @Flag(
        name: .long,
        help:
            "BACKUP, COMPACT, CHECK: print the run record as one JSON object on stdout (the summary still goes to stderr). STATUS: the status document (schema borgpull-status)."
    )
    var json = false

    @Argument(
        help: ArgumentHelp(
            "BACKUP, SERVE, COMPACT, CHECK, STATUS or NOTIFY (case-insensitive).",
            discussion: """
                BACKUP: lock the client, start borg serve behind socat on SOCKET_PATH, ssh -R REMOTE_SOCKET_PATH:SOCKET_PATH to the client, whose ForceCommand runs its BACKUP and sends back the result record; print a summary; stop everything.
                SERVE: the same forward with ssh -N (no backup) until Ctrl-C or SIGTERM, for borg init, borg list, restores and manual BACKUPs;
                COMPACT: borg compact of REPO_DIR, locally, as LOCAL_USER, with no key or passphrase: frees the space of what prune deleted, prints the repository's size before and after, keeps a record in STATE_DIR;
                CHECK: borg check --repository-only of REPO_DIR, locally, as LOCAL_USER, with no key (CHECK_MAX_DURATION checks a slice per run); a damaged repository exits 11 and names the segment; repairing is a person's decision.
                STATUS: one row per client from its history: last successful backup (time and age), last outcome, archive, sizes, duration, repository size, last COMPACT and CHECK; exit 0 when every client's last BACKUP succeeded within the maximum age, 1 when one is stale, failed or never ran, 2 on a configuration error.
                NOTIFY: run by borgpull-notify@NAME.service, the OnFailure= unit of the server's units: reports a failure the failed unit did not report itself (a crash, systemd's timeout, COMPACT or CHECK, the last connect failure after systemd's retries) to the healthcheck and NOTIFY_COMMAND.
                """, valueName: "MODE"), completion: .list(ServerMode.allCases.map(\.rawValue)))
    var mode: ServerMode

    func validate() throws {
        if mode == .status {
            if let maxAge, DurationText.seconds(maxAge) == nil {
                throw ValidationError("--max-age \(maxAge) is not a duration: a number with s, m, h, d or w, e.g. 26h, 3d, 90m")
            }
            return
        }
        guard config.count <= 1 else { throw ValidationError("\(mode.rawValue) takes one config file (-c FILE); several are for STATUS") }
        guard config.first ?? Environment.nonEmpty("BORGPULL_CONFIG") != nil else {
            throw ValidationError("no config file: pass -c FILE or set BORGPULL_CONFIG=FILE")
        }
    }

    func run() throws {
        if mode == .status {
            throw ExitCode(StatusMode.run(configs: config, configDir: configDir, json: json, maxAge: maxAge.flatMap(DurationText.seconds)))
        }
        let path = ServerConfigFile.absolute(config.first ?? Environment.nonEmpty("BORGPULL_CONFIG") ?? "")
        let status: ServerExit
        switch mode {
        case .backup: status = BackupMode.run(configPath: path, defaultsPath: defaults, json: json)
        case .notify: status = NotifyMode.run(configPath: path, defaultsPath: defaults)
        case .serve: status = ServeMode.run(configPath: path)
        case .compact, .check: status = MaintenanceMode.run(configPath: path, mode: mode, json: json)
        case .status: status = .ok
        }
        throw ExitCode(status.rawValue)
    }
}

/// The modes, parsed case-insensitively (`ServerMode(argument:)`). Described in the argument's
/// discussion rather than as enumerated values: the man page generator leaves a stray
/// paragraph macro after such a list (mandoc -Tlint warns).
extension ServerMode: ExpressibleByArgument {
    public static var allValueStrings: [String] { [] }
}

/// Writes a line to stderr at `priority` (the journal's `<N>` prefix under systemd).
func report(_ line: String, _ priority: JournalLine.Priority = .info) {
    StderrLog.write(line, priority: priority)
}

BorgPullServer.main()
