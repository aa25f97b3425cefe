import BorgPullCore
import BorgPullSystem
import Glibc

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
