import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// `borgpull-server MODE [OPTIONS]`, one subcommand per mode (`backup`, `serve`, `compact`,
/// `check`, `status`, `notify`). Modes are case-insensitive and may follow the options, as in
/// the original (`borgpull-server -c FILE BACKUP`): `ModeArguments.normalize` below.
struct BorgPullServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borgpull-server",
        abstract: "Pull a Borg backup from one client through a reverse ssh socket forward",
        // No blank lines and one sentence per line: the man page (make man) is generated from
        // this text and stays lint-clean (mandoc -Tlint).
        discussion: """
            Modes are case-insensitive and may come after the options, as in the original project (borgpull-server -c FILE BACKUP); each has its own --help (borgpull-server status --help).
            One config file per client, in the borg_env dialect (KEY=value data, never executed).
            Its keys are described in borgpull.conf(5); an example is /etc/borgpull-server/borgpull.conf.example.
            COMPACT and CHECK (borgpull-compact@NAME, borgpull-check@NAME) take the same per-client lock as BACKUP and SERVE.
            Every BACKUP, COMPACT and CHECK appends its record to STATE_DIR/history.jsonl and writes PROMETHEUS_TEXTFILE_DIR/borgpull-REPO_NAME.prom; STATUS reads the histories of every client.
            Under systemd (borgpull-server@NAME.service) each line carries its syslog priority:
            journalctl -u 'borgpull-server@*' -p err shows the failed runs.
            Exit status:
            \(ServerExit.table)
            """,
        version: BorgPullVersion.current,
        subcommands: [BackupCommand.self, ServeCommand.self, CompactCommand.self, CheckCommand.self, StatusCommand.self, NotifyCommand.self])

    /// Without a mode: a usage error (exit 64), as when the old `MODE` argument was missing.
    func run() throws {
        throw ValidationError("missing MODE: backup, serve, compact, check, status or notify (case-insensitive)")
    }
}

/// `-c/--config FILE`, the config of one client, for every mode but STATUS (which has its own,
/// repeatable `-c`).
struct ConfigFileOption: ParsableArguments {
    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Server config file of one client (default: $BORGPULL_CONFIG).", valueName: "FILE"))
    var config: [String] = []

    /// The absolute path of the one config file `mode` runs with: `-c FILE`, else
    /// `$BORGPULL_CONFIG`. Throws a `ValidationError` (exit 64) for several `-c` or none at all;
    /// each mode calls it from `validate()` (the usage error names the mode) and again in `run()`.
    func path(_ mode: ServerMode) throws -> String {
        guard config.count <= 1 else { throw ValidationError("\(mode.rawValue) takes one config file (-c FILE); several are for STATUS") }
        guard let file = config.first ?? Environment.nonEmpty("BORGPULL_CONFIG") else {
            throw ValidationError("no config file: pass -c FILE or set BORGPULL_CONFIG=FILE")
        }
        return ServerConfigFile.absolute(file)
    }
}

/// `-c/--config FILE` and `--defaults FILE`: the modes that also read the server-wide defaults
/// (BACKUP, NOTIFY).
struct ConfigOptions: ParsableArguments {
    @OptionGroup var file: ConfigFileOption

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Server-wide defaults file (MAX_CONCURRENT, NOTIFY_COMMAND, ...; default: \(ServerDefaults.path), when it exists).", valueName: "FILE"))
    var defaults: String?
}

/// `--json` of BACKUP, COMPACT and CHECK.
struct RecordOption: ParsableArguments {
    @Flag(name: .long, help: "Print the run record as one JSON object on stdout (the summary still goes to stderr).")
    var json = false
}

/// Writes a line to stderr at `priority` (the journal's `<N>` prefix under systemd).
func report(_ line: String, _ priority: JournalLine.Priority = .info) {
    StderrLog.write(line, priority: priority)
}

BorgPullServer.main(
    ModeArguments.normalize(
        Array(CommandLine.arguments.dropFirst()),
        modes: Set(ServerMode.allCases.map { $0.rawValue.lowercased() }),
        optionsWithValue: ["-c", "--config", "--defaults", "--config-dir", "--max-age"]))
