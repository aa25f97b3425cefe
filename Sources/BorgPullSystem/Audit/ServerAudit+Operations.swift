import BorgPullCore

extension ServerAudit {
    /// `server.operations`: the server-wide defaults file (`ServerDefaults`, when it exists; the
    /// same file rules as a config) and this client's MAX_CONCURRENT, HEALTHCHECK_URL and
    /// NOTIFY_COMMAND resolved against it, as BACKUP would (a higher MAX_CONCURRENT, a bad URL).
    static func operationsFindings(_ a: inout Auditor, env: EnvFile, configFile: String, defaultsFile: String) {
        var defaults = ServerDefaults()
        if a.machine.facts(defaultsFile) != nil {
            a.checkFile(defaultsFile, role: "server-wide defaults file", required: true)
            guard let text = a.machine.read(defaultsFile) else { return }
            do { defaults = try ServerDefaults.parse(text, file: defaultsFile) } catch {
                a.add(
                    Finding(
                        .fail, check: "server.operations", what: error.problem,
                        location: error.line.map { "\(error.file):\($0)" } ?? error.file,
                        expected: "a valid defaults file", actual: error.problem, fix: error.fix))
                return
            }
        }
        do {
            let o = try ServerOperations.resolve(client: env, defaults: defaults)
            let limit = o.maxConcurrent.map { "MAX_CONCURRENT=\($0)" } ?? "no MAX_CONCURRENT"
            let parts = [
                limit, o.healthcheckURL.map { "healthcheck at \(HealthcheckPing.host(of: $0))" },
                o.notifyCommand.map { "NOTIFY_COMMAND \($0[0])" }
            ].compactMap { $0 }
            a.add(
                Finding(
                    .ok, check: "server.operations", what: "concurrency limit, healthcheck and notification settings are valid",
                    location: configFile, expected: "valid values", actual: parts.joined(separator: ", ")))
        } catch {
            a.add(
                Finding(
                    .fail, check: "server.operations", what: error.problem,
                    location: error.line.map { "\(error.file):\($0)" } ?? error.file,
                    expected: "a valid setting", actual: error.problem, fix: error.fix))
        }
    }
}
