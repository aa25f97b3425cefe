import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// `borgpull-server [-c|--config FILE] [--json] BACKUP|SERVE|COMPACT|CHECK`
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
          COMPACT borg compact of REPO_DIR, locally, as LOCAL_USER (no key, no
                  passphrase): frees the space of what prune deleted. Prints the
                  repository's size before and after; record in STATE_DIR.
          CHECK   borg check --repository-only of REPO_DIR, locally, as LOCAL_USER
                  (no key): CHECK_MAX_DURATION checks a slice per run. A damaged
                  repository exits 11 and names the segment; repairing is yours.
        COMPACT and CHECK take the same per-client lock as BACKUP and SERVE.

        One config file per client, in the borg_env dialect (KEY=value data,
        never executed). Keys: README.md, "Server config reference";
        a sample: configs/server/borgpull.conf.example.

        Exit statuses:
        \(ServerExit.table)
        """)

    @Option(name: [.short, .long], help: ArgumentHelp("Server config file of one client (default: $BORGPULL_CONFIG).", valueName: "FILE"))
    var config: String?

    @Flag(name: .long, help: "BACKUP, COMPACT, CHECK: print the outcome as one JSON object on stdout (the summary still goes to stderr).")
    var json = false

    @Argument(help: ArgumentHelp("BACKUP, SERVE, COMPACT or CHECK (case-insensitive).", valueName: "MODE"))
    var mode: String

    func validate() throws {
        guard ServerMode(argument: mode) != nil else {
            throw ValidationError("unknown mode `\(mode)`: use BACKUP, SERVE, COMPACT or CHECK")
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
        case .compact, .check: status = MaintenanceMode.run(configPath: path, mode: mode, json: json)
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

/// Writes a line to stderr.
func report(_ line: String) {
    var l = line + "\n"
    l.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

BorgPullServer.main()
