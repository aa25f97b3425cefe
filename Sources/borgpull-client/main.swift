import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Logging

/// `borgpull-client [-c DIR] MODE`: the client side of a pull backup.
/// Modes are case-insensitive, as in the original (`BACKUP`, `backup`, `Backup`).
struct BorgPullClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borgpull-client",
        abstract: "The client side of a pull-based BorgBackup, started by the backup server through ssh",
        // No blank lines and one sentence per line: the man page (make man) is generated from
        // this text and stays lint-clean (mandoc -Tlint); indented lines keep their line breaks.
        discussion: """
            Modes are case-insensitive, as in the original project (BACKUP, backup).
            The configuration directory is -c/--configs DIR, else $BORGPULL_CONFIG_DIR, else /etc/borgpull.
            Its files (borg_env, read as data and never executed, borg_paths, borg_patterns, borg_excludes, borg_options_create, borg_options_prune, borg_hook_pre, borg_hook_post) are described in borgpull.conf(5).
            Exit status:
            \(ClientExit.table)
            """,
        version: BorgPullVersion.current,
        subcommands: [Backup.self, Setup.self, Restore.self, KeyExportCommand.self, BorgPassthrough.self, RelayCommand.self, Trigger.self]
    )
}

/// The `-c/--configs DIR` option shared by the modes that read the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: [.customShort("c"), .customLong("configs")],
        help: ArgumentHelp("Client configuration directory (default: $BORGPULL_CONFIG_DIR, else /etc/borgpull).", valueName: "DIR"))
    var directory: String?

    var resolved: String {
        directory ?? Environment.get("BORGPULL_CONFIG_DIR") ?? "/etc/borgpull"
    }

    /// The runner of this configuration on a new `Supervisor` (signalfd for the signals it
    /// forwards to the running step); exits 70 (internal error) when that cannot be set up.
    func runner(log: Logger) throws -> BackupRunner {
        let supervisor: Supervisor
        do { supervisor = try Supervisor() } catch {
            log.error("\(error)")
            throw ExitCode(ClientExit.internalError.rawValue)
        }
        return BackupRunner(directory: resolved, supervisor: supervisor, log: log)
    }
}

// sandbox-exec (internal: the re-exec'd child that drops privileges and execs borg) is
// dispatched before anything else: no logging, no argument parser, no thread.
let clientArguments = Array(CommandLine.arguments.dropFirst())
if clientArguments.first == "sandbox-exec" {
    SandboxExec.main(internal: Array(clientArguments.dropFirst()))
}

StderrLogHandler.bootstrap(program: "borgpull-client")
BorgPullClient.main(
    ModeArguments.normalize(
        clientArguments,
        modes: ["setup", "backup", "restore", "key-export", "borg", "relay", "trigger"],
        optionsWithValue: ["-c", "--configs"]))
