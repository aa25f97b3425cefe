import ArgumentParser
import BorgPullCore
import BorgPullSystem

/// `borgpull-client [-c DIR] MODE`: the client side of a pull backup.
/// Modes are case-insensitive, as in the original (`BACKUP`, `backup`, `Backup`).
struct BorgPullClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borgpull-client",
        abstract: "The client side of a pull-based BorgBackup: the backup server starts it through ssh.",
        discussion: """
        MODES (case-insensitive):
          SETUP   create the socket and state directories (at boot)
          BACKUP  audit the config, check the forwarded socket, pre hook,
                  borg create, borg prune, post hook (always), result record
          borg    run a borg command through the tunnel (init, list, extract)
          trigger sshd ForceCommand: start the BACKUP, print its record
          relay   the built-in remote shell borg uses (BORG_RSH)

        CONFIGURATION DIRECTORY: -c/--configs DIR, else $BORGPULL_CONFIG_DIR,
        else /etc/borgpull. Files: borg_env (KEY=value, parsed, never executed),
        borg_paths, borg_patterns, borg_excludes, borg_options_create,
        borg_options_prune, borg_hook_pre, borg_hook_post. See README.

        EXIT STATUS:
        \(ClientExit.table)
        """,
        version: BorgPullVersion.current,
        subcommands: [Backup.self, Setup.self, BorgPassthrough.self, RelayCommand.self, Trigger.self]
    )
}

/// The `-c/--configs DIR` option shared by the modes that read the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong("configs")],
            help: ArgumentHelp("Client configuration directory (default: $BORGPULL_CONFIG_DIR, else /etc/borgpull).", valueName: "DIR"))
    var directory: String?

    var resolved: String {
        directory ?? Environment.get("BORGPULL_CONFIG_DIR") ?? "/etc/borgpull"
    }
}

// sandbox-exec (internal: the re-exec'd child that drops privileges and execs borg) is
// dispatched before anything else: no logging, no argument parser, no thread.
let clientArguments = Array(CommandLine.arguments.dropFirst())
if clientArguments.first == "sandbox-exec" {
    SandboxExec.main(internal: Array(clientArguments.dropFirst()))
}

StderrLogHandler.bootstrap(program: "borgpull-client")
BorgPullClient.main(ModeArguments.normalize(clientArguments,
                                            modes: ["setup", "backup", "borg", "relay", "trigger"],
                                            optionsWithValue: ["-c", "--configs"]))
