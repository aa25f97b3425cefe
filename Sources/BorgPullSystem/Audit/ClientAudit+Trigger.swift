import BorgPullCore

/// The client audit of the trigger authorization (sudoers, polkit).
extension Auditor {
    mutating func checkTrigger(user u: AuditOS.Account) {
        let gids = AuditOS.groups(of: u)
        let sudoUser = SudoUser(name: u.name, uid: u.uid, groups: Set(gids.compactMap(AuditOS.groupName)), gids: Set(gids))
        var sources: [SudoersSource] = []
        if let t = machine.read(options.sudoersFile) {
            sources.append(SudoersSource(file: options.sudoersFile, text: t))
        }
        // sudoers(5) @includedir: names ending in ~ or containing a dot are skipped.
        for name in machine.list(options.sudoersDirectory) ?? [] where !name.hasSuffix("~") && !name.contains(".") {
            let p = "\(options.sudoersDirectory)/\(name)"
            if let t = machine.read(p) { sources.append(SudoersSource(file: p, text: t)) }
        }
        let sudo = SudoersRules.check(sources, user: sudoUser)
        add(sudo.findings)
        if sudo.grantsTrigger {
            for s in sources { checkFile(s.file, role: "sudoers file") }
        }
        var polkitGrants = false
        let polkitd = machine.user("polkitd")?.uid
        for d in options.polkitRulesDirectories {
            for name in machine.list(d) ?? [] where name.hasSuffix(".rules") {
                let p = "\(d)/\(name)"
                guard let t = machine.read(p), let r = PolkitRules.check(file: p, text: t, user: u.name) else { continue }
                add(r.findings)
                if r.grantsTrigger {
                    polkitGrants = true
                    // Debian's /etc/polkit-1/rules.d is polkitd:root 0700: polkitd may own it.
                    checkFile(p, role: "polkit rule", allowParentOwners: polkitd.map { [d: $0] } ?? [:])
                }
            }
        }
        if !sudo.grantsTrigger && !polkitGrants {
            add(
                Finding(
                    .fail, check: "trigger.missing",
                    what: "nothing allows the ssh user to start \(TriggerRules.unit); the ForceCommand will fail",
                    location: (options.polkitRulesDirectories + [options.sudoersDirectory]).joined(separator: ", "),
                    expected: "the polkit rule or the sudoers line", actual: "neither",
                    fix: "install -o root -g root -m 0644 policy/polkit/50-borgpull.rules /etc/polkit-1/rules.d/50-borgpull.rules"))
        }
    }
}
