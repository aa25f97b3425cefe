import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// `borgpull-server status [-c FILE]... [--config-dir DIR] [--max-age DURATION] [--json]`.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One row per client from its run history (no lock, no borg).",
        discussion: """
            Each row: last successful backup (time and age), last outcome, archive, sizes, duration, repository size, last COMPACT and CHECK.
            Exit status: 0 when every client's last BACKUP succeeded within the maximum age, 1 when one is stale, failed or never ran, 2 on a configuration error.
            """)

    @Option(name: [.short, .long], help: ArgumentHelp("Server config file of one client; may be given several times.", valueName: "FILE"))
    var config: [String] = []

    @Option(name: .customLong("config-dir"), help: ArgumentHelp("Without -c: every *.conf in this directory.", valueName: "DIR"))
    var configDir = "/etc/borgpull-server"

    @Option(
        name: .customLong("max-age"),
        help: ArgumentHelp(
            "A client whose last successful BACKUP is older is stale (26h, 3d, 90m; default: each config's MAX_BACKUP_AGE, 26h).", valueName: "DURATION"))
    var maxAge: String?

    @Flag(name: .long, help: "Print the status document (schema borgpull-status) instead of the table.")
    var json = false

    func validate() throws {
        if let maxAge, DurationText.seconds(maxAge) == nil {
            throw ValidationError("--max-age \(maxAge) is not a duration: a number with s, m, h, d or w, e.g. 26h, 3d, 90m")
        }
    }

    func run() throws {
        throw ExitCode(StatusMode.run(configs: config, configDir: configDir, json: json, maxAge: maxAge.flatMap(DurationText.seconds)))
    }
}

/// STATUS: one row per client from its run history (README, "Running a fleet").
enum StatusMode {
    /// - Parameters: `configs` the `-c` files; without any, every `*.conf` in `configDir`;
    ///   `maxAge` seconds from `--max-age`, else each config's MAX_BACKUP_AGE.
    /// - Returns: 0 all ok, 1 a client is stale, failed or never ran, 2 a configuration error.
    static func run(configs: [String], configDir: String, json: Bool, maxAge: Int?) -> Int32 {
        var files = configs.map(ServerConfigFile.absolute)
        if files.isEmpty {
            var st = stat()
            guard stat(configDir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                report(
                    "borgpull-server: STATUS: \(configDir): \(String(cString: strerror(errno))): no config directory (fix: pass --config-dir DIR or -c FILE)",
                    .error)
                return 2
            }
            files = Files.entries(configDir).filter { $0.hasSuffix(".conf") }.map { "\(configDir)/\($0)" }
            guard !files.isEmpty else {
                report(
                    "borgpull-server: STATUS: no *.conf in \(configDir) (fix: one config per client, see \(configDir)/borgpull.conf.example, or pass -c FILE)",
                    .error)
                return 2
            }
        }
        let now = Double(time(nil))
        var rows: [ClientStatus] = []
        for file in files {
            let c: ServerConfig
            do { c = try ServerConfigFile.load(file) } catch {
                rows.append(.failure(client: ClientStatus.instance(file), config: file, message: error.message, maxAgeSeconds: maxAge ?? 0))
                continue
            }
            let limit = maxAge ?? c.maxBackupAge
            do {
                let h = try RunRecords.history(c)
                for s in h.skipped { report("borgpull-server: warning: \(s)", .warning) }
                rows.append(
                    .judge(
                        client: c.repoName, config: file, history: h, maxAgeSeconds: limit, now: now,
                        compact: ServerMaintenance.lastRecord(c, .compact), check: ServerMaintenance.lastRecord(c, .check)))
            } catch {
                rows.append(
                    .failure(
                        client: c.repoName, config: file,
                        message: "cannot read the history: \(error) (fix: run STATUS as root or as LOCAL_USER=\(c.localUser))",
                        maxAgeSeconds: limit))
            }
        }
        let status = FleetStatus(clients: rows, now: now)
        if json {
            print(status.json(), terminator: "")
        } else {
            let color = isatty(1) == 1 && Environment.nonEmpty("NO_COLOR") == nil
            print(status.table(width: 100, color: color), terminator: "")
        }
        return status.exitStatus
    }
}
