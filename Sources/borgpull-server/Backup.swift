import ArgumentParser
import BorgPullCore
import BorgPullSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `borgpull-server backup [-c FILE] [--defaults FILE] [--json]`.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Pull one backup: trigger the client's BACKUP through the reverse forward and report its outcome.",
        discussion: """
            Lock the client, start borg serve behind socat on SOCKET_PATH, ssh -R REMOTE_SOCKET_PATH:SOCKET_PATH to the client, whose ForceCommand runs its BACKUP and sends back the result record; print a summary; stop everything.
            Run by borgpull-server@NAME.service (borgpull-server -c /etc/borgpull-server/NAME.conf BACKUP).
            """)

    @OptionGroup var options: ConfigOptions
    @OptionGroup var record: RecordOption

    func validate() throws { _ = try options.file.path(.backup) }

    func run() throws {
        let path = try options.file.path(.backup)
        throw ExitCode(BackupMode.run(configPath: path, defaultsPath: options.defaults, json: record.json).rawValue)
    }
}

/// BACKUP: trigger the client's backup through the forward and report its outcome; `--json`
/// prints its `RunRecord`.
enum BackupMode {
    static func run(configPath: String, defaultsPath: String?, json: Bool) -> ServerExit {
        var config: ServerConfig?
        let outcome: ServerOutcome
        var notices: [String] = []
        let started = Date().timeIntervalSince1970
        do {
            let c = try ServerConfigFile.load(configPath, defaults: defaultsPath)
            config = c
            for n in c.notices { report("borgpull-server: notice: \(n)", .notice) }
            Alerting.ping(c.operations, localUser: c.localUser, .start, log: report)
            notices += c.notices
            let result = try ServerRun(config: c, mode: .backup).run()
            notices += result.notices
            let record =
                result.stdoutOverflowed
                ? nil
                : ServerOutcome.recordLine(in: result.stdout).flatMap { line -> ClientReport? in
                    try? JSONDecoder().decode(ClientReport.self, from: Data(line.utf8))
                }
            if record == nil && !result.stdout.isEmpty && !result.stdoutOverflowed {
                report("borgpull-server: the client's stdout held no result record: \(LogText.sanitize(String(result.stdout.prefix(200))))", .warning)
            }
            if result.socatDied && record == nil {
                outcome = ServerOutcome(
                    exit: .serveFailed,
                    message:
                        "socat (borg serve) ended during the backup; see its message above (fix: run SERVE and borg list on the client to test the repository)")
            } else {
                outcome = ServerOutcome.backup(
                    config: c, sshExit: result.sshExit, report: record, stderrTail: result.stderrTail,
                    interrupted: result.interrupted, timedOut: result.timedOut,
                    stdoutOverflowed: result.stdoutOverflowed)
            }
        } catch {
            outcome = ServerOutcome(exit: error.exit, message: error.message)
        }
        report(outcome.summary, outcome.exit.priority)
        let record = RunRecord.backup(
            config: config, outcome: outcome, started: started, finished: Date().timeIntervalSince1970,
            notices: notices, repositoryBytes: config.flatMap { Files.treeBytes($0.repoDir) })
        if let config { RunRecords.keep(record, config: config, log: report) }
        if json { print(record.json(), terminator: "") }
        BackupAlerts.send(outcome, config: config, defaultsPath: defaultsPath, json: { record.json() })
        return outcome.exit
    }

}
