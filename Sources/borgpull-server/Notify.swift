import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

/// How a finished BACKUP is reported: the healthcheck's success or `/fail` ping, and
/// NOTIFY_COMMAND with the `--json` line on a failure (`NotifyPolicy` decides which).
enum BackupAlerts {
    static func send(_ outcome: ServerOutcome, config: ServerConfig?, defaultsPath: String?, json: () -> String) {
        let underSystemd = Environment.nonEmpty("INVOCATION_ID") != nil
        guard let c = config else {
            // No config: only the defaults file's NOTIFY_COMMAND can tell anyone, as the
            // packages' LOCAL_USER (the server unit's User=).
            guard NotifyPolicy.backupReports(outcome.exit, underSystemd: underSystemd),
                let d = try? ServerConfigFile.loadDefaults(defaultsPath),
                let o = try? ServerOperations.resolve(client: nil, defaults: d)
            else { return }
            Alerting.notify(
                o, localUser: ServerDefaults.localUser, repoName: nil,
                exit: (outcome.exit.rawValue, outcome.exit.name), json: json(), log: report)
            return
        }
        switch outcome.exit {
        case .ok, .warning:
            Alerting.ping(c.operations, localUser: c.localUser, .success, status: (outcome.exit.rawValue, outcome.exit.name), log: report)
        default:
            guard NotifyPolicy.backupReports(outcome.exit, underSystemd: underSystemd) else {
                report(
                    "borgpull-server: \(outcome.exit.name): systemd retries this run (Restart=on-failure, only for this status); borgpull-notify@ reports it when the retries are used up",
                    .notice)
                return
            }
            let steps = outcome.report?.failedSteps.compactMap(\.name) ?? []
            Alerting.ping(c.operations, localUser: c.localUser, .fail, status: (outcome.exit.rawValue, outcome.exit.name), failedSteps: steps, log: report)
            Alerting.notify(
                c.operations, localUser: c.localUser, repoName: c.repoName,
                exit: (outcome.exit.rawValue, outcome.exit.name), json: json(), log: report)
        }
    }
}

/// `borgpull-server notify [-c FILE] [--defaults FILE]`.
struct NotifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Report a failed server unit (run by borgpull-notify@NAME.service, the OnFailure= unit of the server's units).",
        discussion: """
            Reports a failure the failed unit did not report itself (a crash, systemd's timeout, COMPACT or CHECK, the last connect failure after systemd's retries) to the healthcheck and NOTIFY_COMMAND.
            Needs systemd's MONITOR_UNIT, MONITOR_SERVICE_RESULT, MONITOR_EXIT_CODE and MONITOR_EXIT_STATUS.
            """)

    @OptionGroup var options: ConfigOptions

    func validate() throws { _ = try options.file.path(.notify) }

    func run() throws {
        throw ExitCode(NotifyMode.run(configPath: try options.file.path(.notify), defaultsPath: options.defaults).rawValue)
    }
}

/// NOTIFY: run by `borgpull-notify@NAME.service`, the `OnFailure=` unit of the server's units,
/// with systemd's `$MONITOR_*` variables. Reports what the failed unit could not report itself
/// (`NotifyPolicy.notifyReports`): a crash, systemd's timeout, COMPACT/CHECK failures, the last
/// connect failure after the retries.
enum NotifyMode {
    static func run(configPath: String, defaultsPath: String?) -> ServerExit {
        let unit = Environment.nonEmpty("MONITOR_UNIT") ?? ""
        let result = Environment.nonEmpty("MONITOR_SERVICE_RESULT") ?? ""
        let code = Environment.nonEmpty("MONITOR_EXIT_CODE") ?? ""
        let status = Environment.nonEmpty("MONITOR_EXIT_STATUS") ?? ""
        guard !unit.isEmpty else {
            report(
                "borgpull-server: NOTIFY runs as the OnFailure= unit borgpull-notify@NAME.service, which systemd gives MONITOR_UNIT; it is not set (fix: systemctl start borgpull-server@NAME.service and let its OnFailure= start NOTIFY)",
                .error)
            return .configError
        }
        guard NotifyPolicy.notifyReports(unit: unit, exitCode: code, exitStatus: status) else {
            report("borgpull-server: \(unit) failed with status \(status); borgpull-server reported it itself", .info)
            return .ok
        }
        let config: ServerConfig?
        var operations: ServerOperations?
        do {
            let c = try ServerConfigFile.load(configPath, defaults: defaultsPath)
            config = c
            operations = c.operations
        } catch {
            report("borgpull-server: \(error.message)", .error)
            config = nil
            operations = (try? ServerConfigFile.loadDefaults(defaultsPath)).flatMap { try? ServerOperations.resolve(client: nil, defaults: $0) }
        }
        let known = code == "exited" ? Int32(status).flatMap(ServerExit.init(rawValue:)) : nil
        let name = known?.name ?? "unit-\(result.isEmpty ? "failed" : result)"
        let exitCode = known?.rawValue ?? 70
        let message = "\(unit) failed (result \(result), \(code) \(status)) (fix: journalctl -u \(unit))"
        report("borgpull-server: \(message)", .error)
        guard let o = operations else { return .configError }
        // The run record of the failed unit's run, as BACKUP --json prints it (NOTIFY_COMMAND's stdin).
        let mode = NotifyPolicy.mode(ofUnit: unit)
        let json = RunRecord(
            mode: mode, client: config?.repoName,
            target: config.map { "\($0.remoteUser)@\($0.remoteHost):\($0.sshPort)" }, repository: config?.repoDir,
            status: exitCode, name: name, message: LogText.sanitize(message)
        ).json()
        let user = config?.localUser ?? ServerDefaults.localUser
        if let c = config {
            Alerting.ping(o, localUser: c.localUser, .fail, status: (exitCode, name), log: report)
        }
        Alerting.notify(o, localUser: user, repoName: config?.repoName, exit: (exitCode, name), json: json, log: report)
        return config == nil ? .configError : .ok
    }
}
