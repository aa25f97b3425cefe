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
          SETUP   create the socket directory sshd needs and the state directory (at boot)
          BACKUP  audit the config, check the forwarded socket, run the pre hook, borg create,
                  borg prune, the post hook (always), write the result record
          borg    run any borg command through the tunnel with this config (init, list, extract)
          relay   the built-in remote shell borg uses (BORG_RSH); not for people

        CONFIGURATION DIRECTORY: -c/--configs DIR, else $BORGPULL_CONFIG_DIR, else /etc/borgpull.
          borg_env (KEY=value, parsed, never executed), borg_paths, borg_patterns, borg_excludes,
          borg_options_create, borg_options_prune, borg_hook_pre, borg_hook_post. See README.

        EXIT STATUS:
        \(ClientExit.table)
        """,
        subcommands: [Backup.self, Setup.self, BorgPassthrough.self, RelayCommand.self]
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

StderrLogHandler.bootstrap(program: "borgpull-client")
BorgPullClient.main(ModeArguments.normalize(Array(CommandLine.arguments.dropFirst()),
                                            modes: ["setup", "backup", "borg", "relay"],
                                            optionsWithValue: ["-c", "--configs"]))
