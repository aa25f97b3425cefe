import BorgPullCore
import BorgPullSystem
import Foundation

/// BACKUP: trigger the client's backup through the forward and report its outcome.
enum BackupMode {
    /// The `--json` output: the server's verdict and the client's record as received.
    struct JSONOutcome: Codable {
        var status: Int32
        var name: String
        var message: String
        var client: String?
        var repository: String?
        var record: ClientReport?
        var notices: [String]
    }

    static func run(configPath: String, defaultsPath: String?, json: Bool) -> ServerExit {
        var config: ServerConfig?
        let outcome: ServerOutcome
        var notices: [String] = []
        do {
            let c = try ServerConfigFile.load(configPath, defaults: defaultsPath)
            config = c
            for n in c.notices { report("borgpull-server: notice: \(n)", .notice) }
            Alerting.ping(c.operations, localUser: c.localUser, .start, log: report)
            notices += c.notices
            let result = try ServerRun(config: c, mode: .backup).run()
            notices += result.notices
            let record = result.stdoutOverflowed ? nil : ServerOutcome.recordLine(in: result.stdout).flatMap { line -> ClientReport? in
                try? JSONDecoder().decode(ClientReport.self, from: Data(line.utf8))
            }
            if record == nil && !result.stdout.isEmpty && !result.stdoutOverflowed {
                report("borgpull-server: the client's stdout held no result record: \(LogText.sanitize(String(result.stdout.prefix(200))))", .warning)
            }
            if result.socatDied && record == nil {
                outcome = ServerOutcome(exit: .serveFailed, message: "socat (borg serve) ended during the backup; see its message above (fix: run SERVE and borg list on the client to test the repository)")
            } else {
                outcome = ServerOutcome.backup(config: c, sshExit: result.sshExit, report: record, stderrTail: result.stderrTail,
                                               interrupted: result.interrupted, timedOut: result.timedOut,
                                               stdoutOverflowed: result.stdoutOverflowed)
            }
        } catch {
            outcome = ServerOutcome(exit: error.exit, message: error.message)
        }
        report(outcome.summary, outcome.exit.priority)
        // Built only when needed: JSONEncoder's first use costs the server several MB of memory.
        let line = { jsonLine(outcome: outcome, config: config, notices: notices) }
        if json { print(line()) }
        BackupAlerts.send(outcome, config: config, defaultsPath: defaultsPath, json: line)
        return outcome.exit
    }

    /// The `--json` line: the one shape BACKUP prints and NOTIFY_COMMAND reads on stdin.
    static func jsonLine(outcome: ServerOutcome, config: ServerConfig?, notices: [String]) -> String {
        jsonLine(status: outcome.exit.rawValue, name: outcome.exit.name, message: outcome.message, config: config,
                 record: outcome.report, notices: notices)
    }

    static func jsonLine(status: Int32, name: String, message: String, config: ServerConfig?, record: ClientReport?,
                         notices: [String]) -> String {
        let j = JSONOutcome(status: status, name: name, message: message,
                            client: config.map { "\($0.remoteUser)@\($0.remoteHost):\($0.sshPort)" },
                            repository: config?.repoDir, record: record, notices: notices)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(j) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
