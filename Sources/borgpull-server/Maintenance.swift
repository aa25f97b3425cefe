import BorgPullCore
import BorgPullSystem
import Glibc

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
