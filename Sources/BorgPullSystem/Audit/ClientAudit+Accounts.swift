import BorgPullCore

/// The client audit of the accounts: the ssh user and the runner, the ssh user's home, and the
/// directories it can write to.
extension Auditor {
    /// The ssh user and the runner; returns the ssh user's account.
    mutating func checkUsers(config: ClientConfig?, sshUserName: String) -> AuditOS.Account? {
        let runnerName = config?.runnerUser ?? "borgpull-runner"
        let ssh = machine.user(sshUserName)
        add(AccountRules.sshUser(ssh?.facts, name: sshUserName))
        if let u = ssh {
            let shells = (machine.read(options.shellsFile) ?? "").split(separator: "\n").map { String($0).trimmingWhitespace() }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            add(SshdRules.checkShell(user: u.name, shell: u.shell, validShells: shells))
        }
        add(AccountRules.runner(machine.user(runnerName)?.facts, name: runnerName, sshUser: sshUserName))
        return ssh
    }

    /// The ssh user's home (ExposureRules.checkHome).
    mutating func checkHome(_ u: AuditOS.Account) { add(ClientAudit.checkHome(u)) }

    /// The bounded walk for directories the ssh user can create entries in.
    mutating func checkWritable(_ u: AuditOS.Account, socketDirectory: String?) {
        let scan = WritableScan.run(
            roots: options.writableRoots, credentials: ClientAudit.credentials(u), socketDirectory: socketDirectory,
            limits: options.writableLimits, mountInfo: options.mountInfo)
        add(ExposureRules.findings(scan, user: u.name, primaryGID: u.gid, groupName: AuditOS.groupName))
    }
}
