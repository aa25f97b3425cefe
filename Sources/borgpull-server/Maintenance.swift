import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// `borgpull-server compact [-c FILE] [--json]`.
struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Compact the client's repository on this server: frees the space of what prune deleted.",
        discussion: """
            borg compact of REPO_DIR, locally, as LOCAL_USER, with no key or passphrase: prints the repository's size before and after, keeps a record in STATE_DIR.
            Run by borgpull-compact@NAME.service; takes the client's lock like BACKUP and SERVE.
            """)

    @OptionGroup var options: ConfigFileOption
    @OptionGroup var record: RecordOption

    func validate() throws { _ = try options.path(.compact) }

    func run() throws {
        throw ExitCode(MaintenanceMode.run(configPath: try options.path(.compact), mode: .compact, json: record.json).rawValue)
    }
}

/// `borgpull-server check [-c FILE] [--json]`.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the client's repository on this server (borg check --repository-only, no key).",
        discussion: """
            borg check --repository-only of REPO_DIR, locally, as LOCAL_USER, with no key (CHECK_MAX_DURATION checks a slice per run).
            A damaged repository exits 11 and names the segment; repairing is a person's decision.
            Run by borgpull-check@NAME.service; takes the client's lock like BACKUP and SERVE.
            """)

    @OptionGroup var options: ConfigFileOption
    @OptionGroup var record: RecordOption

    func validate() throws { _ = try options.path(.check) }

    func run() throws {
        throw ExitCode(MaintenanceMode.run(configPath: try options.path(.check), mode: .check, json: record.json).rawValue)
    }
}

/// COMPACT and CHECK: maintenance of the client's repository on this server, locally, as
/// LOCAL_USER, without a key or passphrase (README, "Server maintenance").
enum MaintenanceMode {
    static func run(configPath: String, mode: ServerMode, json: Bool) -> ServerExit {
        let result: ServerMaintenance.Result
        var config: ServerConfig?
        let started = Double(time(nil))
        do {
            let c = try ServerConfigFile.load(configPath)
            config = c
            for n in c.notices { report("borgpull-server: notice: \(n)") }
            result = ServerMaintenance.run(config: c, mode: mode, log: { report($0) })
        } catch {
            result = .init(verdict: MaintenanceVerdict(exit: error.exit, message: error.message, damage: []), record: nil)
        }
        let v = result.verdict
        report(
            "borgpull-server: \(mode.rawValue) \(v.exit.name) (exit \(v.exit.rawValue)): \(v.message)",
            v.exit == .ok ? .info : v.exit == .warning ? .warning : .error)
        if let r = result.record {
            if let b = r.bytesBefore, let a = r.bytesAfter {
                report("  repository: \(ByteCount.format(b)) before, \(ByteCount.format(a)) after")
            }
            for d in r.damage ?? [] { report("  damage: \(LogText.sanitize(d))", .error) }
        }
        let record =
            result.record
            ?? RunRecord.maintenance(
                config: config, mode: mode, verdict: v, started: started,
                finished: Double(time(nil)))
        if let config { RunRecords.keep(record, config: config, log: report) }
        if json {
            print(record.json(), terminator: "")
        }
        return v.exit
    }
}
