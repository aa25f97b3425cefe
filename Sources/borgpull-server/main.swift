import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// `borgpull-server [-c|--config FILE] SERVE|BACKUP`
struct BorgPullServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borgpull-server",
        abstract: "Pull a Borg backup from one client through a reverse ssh socket forward.",
        discussion: """
        MODE (case-insensitive):
          BACKUP  lock the client, start borg serve behind socat on SOCKET_PATH,
                  ssh -R REMOTE_SOCKET_PATH:SOCKET_PATH to the client, whose
                  ForceCommand runs its BACKUP and sends back the result record;
                  print a summary; stop everything.
          SERVE   the same forward with ssh -N (no backup) until Ctrl-C/SIGTERM:
                  for borg init, borg list, restores and manual BACKUPs.

        One config file per client, in the borg_env dialect (KEY=value data,
        never executed). Keys: README.md, "Server config reference";
        a sample: configs/server/borgpull.conf.example.

        Exit statuses:
        \(ServerExit.table)
        """,
        version: BorgPullVersion.current)

    @Option(name: [.short, .long], help: ArgumentHelp("Server config file of one client (default: $BORGPULL_CONFIG).", valueName: "FILE"))
    var config: String?

    @Flag(name: .long, help: "BACKUP: print the outcome as one JSON object on stdout (the summary still goes to stderr).")
    var json = false

    @Argument(help: ArgumentHelp("BACKUP or SERVE (case-insensitive).", valueName: "MODE"))
    var mode: String

    func validate() throws {
        guard ServerMode(argument: mode) != nil else {
            throw ValidationError("unknown mode `\(mode)`: use BACKUP or SERVE")
        }
        guard config ?? ProcessEnv.get("BORGPULL_CONFIG") != nil else {
            throw ValidationError("no config file: pass -c FILE or set BORGPULL_CONFIG=FILE")
        }
    }

    func run() throws {
        let path = ServerConfigFile.absolute(config ?? ProcessEnv.get("BORGPULL_CONFIG") ?? "")
        let mode = ServerMode(argument: mode) ?? .backup
        let status: ServerExit
        switch mode {
        case .backup: status = BackupMode.run(configPath: path, json: json)
        case .serve: status = ServeMode.run(configPath: path)
        }
        throw ExitCode(status.rawValue)
    }
}

enum ProcessEnv {
    static func get(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        let v = String(cString: p)
        return v.isEmpty ? nil : v
    }
}

/// Writes a line to stderr at `priority` (the journal's `<N>` prefix under systemd).
func report(_ line: String, _ priority: JournalLine.Priority = .info) {
    StderrLog.write(line, priority: priority)
}

BorgPullServer.main()
