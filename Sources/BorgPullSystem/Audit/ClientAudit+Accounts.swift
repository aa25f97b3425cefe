import BorgPullCore

/// The client audit of the accounts: the ssh user and the runner, the ssh user's home, and the
/// directories it can write to.
extension Auditor {
    /// The ssh user and the runner; returns the ssh user's account.
    mutating func checkUsers(config: ClientConfig?, sshUserName: String) -> AuditOS.Account? {
        let runnerName = config?.runnerUser ?? "borgpull-runner"
        let ssh = AuditOS.user(sshUserName)
        if let u = ssh {
            if u.uid == 0 {
                add(Finding(.fail, check: "user.ssh", what: "the ssh user must not be root", location: "/etc/passwd: \(u.name)",
                            expected: "an unprivileged account", actual: "uid 0",
                            fix: "set BORG_BACKUP_USER=borgpull and useradd -r -M -d /var/lib/borgpull-home -s /bin/bash borgpull && install -d -o root -g root -m 0755 /var/lib/borgpull-home"))
            } else {
                add(Finding(.ok, check: "user.ssh", what: "the ssh user exists", location: "/etc/passwd: \(u.name)",
                            expected: "an unprivileged account", actual: "uid \(u.uid)"))
            }
            let shells = (AuditOS.read(options.shellsFile) ?? "").split(separator: "\n").map { String($0).auditTrimmed() }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            add(SshdRules.checkShell(user: u.name, shell: u.shell, validShells: shells))
        } else {
            add(Finding(.fail, check: "user.ssh", what: "the ssh user does not exist", location: "/etc/passwd: \(sshUserName)",
                        expected: "an account the server logs in as", actual: "missing",
                        fix: "useradd -r -M -d /var/lib/\(sshUserName)-home -s /bin/bash \(sshUserName) && usermod -p '*' \(sshUserName) && install -d -o root -g root -m 0755 /var/lib/\(sshUserName)-home"))
        }
        if let r = AuditOS.user(runnerName) {
            if r.uid == 0 || r.name == sshUserName {
                add(Finding(.fail, check: "user.runner", what: "borg's runner must be its own unprivileged account",
                            location: "/etc/passwd: \(r.name)", expected: "not root, not the ssh user", actual: "uid \(r.uid)",
                            fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin borgpull-runner; set RUNNER_USER=borgpull-runner"))
            } else {
                add(Finding(.ok, check: "user.runner", what: "the runner user exists", location: "/etc/passwd: \(r.name)",
                            expected: "an unprivileged account", actual: "uid \(r.uid)"))
            }
        } else {
            add(Finding(.fail, check: "user.runner", what: "the runner user (borg runs as it) does not exist",
                        location: "/etc/passwd: \(runnerName)", expected: "an unprivileged account", actual: "missing",
                        fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin \(runnerName)"))
        }
        return ssh
    }

    /// The ssh user's home (ExposureRules.checkHome).
    mutating func checkHome(_ u: AuditOS.Account) { add(ClientAudit.checkHome(u)) }

    /// The bounded walk for directories the ssh user can create entries in.
    mutating func checkWritable(_ u: AuditOS.Account, socketDirectory: String?) {
        let scan = WritableScan.run(roots: options.writableRoots, credentials: ClientAudit.credentials(u), socketDirectory: socketDirectory,
                                    limits: options.writableLimits, mountInfo: options.mountInfo)
        add(ExposureRules.findings(scan, user: u.name, primaryGID: u.gid, groupName: AuditOS.groupName))
    }
}
