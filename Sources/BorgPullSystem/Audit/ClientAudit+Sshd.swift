import BorgPullCore

/// The client audit of sshd's effective configuration for the ssh user.
extension Auditor {
    /// sshd's effective config for the ssh user; returns it when sshd answered.
    mutating func checkSshd(user: String, account: AuditOS.Account?, bindMask: UInt32) -> SshdEffectiveConfig? {
        var argv = [options.sshdBinary, "-T", "-C", "user=\(user),host=localhost,addr=127.0.0.1"]
        if let f = options.sshdConfig { argv += ["-f", f] }
        let source = "sshd -T" + (options.sshdConfig.map { " -f \($0)" } ?? "")
        let out = AuditOS.run(argv)
        guard out.launched, out.status == 0 else {
            let err = out.stderr.trimmingWhitespace()
            var fix = "sshd -t\(options.sshdConfig.map { " -f \($0)" } ?? "")   (and fix what it reports)"
            if err.contains("privilege separation directory") { fix = "mkdir -p -m 0755 /run/sshd" }
            if !out.launched { fix = "apt-get install openssh-server" }
            add(
                Finding(
                    .fail, check: "sshd.config", what: "sshd cannot evaluate its configuration", location: source,
                    expected: "exit 0", actual: err.isEmpty ? "exit \(out.status)" : err, fix: fix))
            return nil
        }
        let cfg = SshdEffectiveConfig.parse(out.stdout)
        add(
            SshdRules.check(
                cfg, user: user, bindMask: bindMask, source: source,
                configFile: options.sshdConfig ?? "/etc/ssh/sshd_config", forceCommand: options.layout.forceCommand))
        if let u = account {
            var any = false
            for entry in SshdRules.authorizedKeysFiles(cfg) {
                guard let p = SshdRules.expandKeysPath(entry, user: u.name, uid: u.uid, home: u.home) else { continue }
                guard machine.facts(p) != nil else { continue }
                any = true
                checkFile(p, role: "authorized keys file")
            }
            if !any {
                add(
                    Finding(
                        .fail, check: "sshd.authorizedkeys", what: "no authorized keys file exists: the server cannot log in",
                        location: "\(source): AuthorizedKeysFile", expected: "a root-owned file with the server's key",
                        actual: SshdRules.authorizedKeysFiles(cfg).joined(separator: " "),
                        fix: "install -D -o root -g \(u.name) -m 0640 server_key.pub /etc/ssh/authorized_keys/borg_backup/backup_server_keys"))
            }
        }
        return cfg
    }
}
