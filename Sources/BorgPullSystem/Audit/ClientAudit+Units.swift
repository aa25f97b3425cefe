import BorgPullCore

/// The client audit of the installed systemd units.
extension Auditor {
    mutating func checkUnits() {
        for unit in UnitRules.clientUnits {
            let shipped = "\(options.layout.unitDirectory)/\(unit)"
            // The one systemd loads: the first on the search path (an /etc/systemd/system copy
            // overrides the installation's).
            let loaded = options.unitSearchPath.map { "\($0)/\(unit)" }.first { machine.facts($0) != nil }
            let installed = loaded ?? shipped
            let facts = machine.facts(installed)
            if facts != nil { checkFile(installed, role: "systemd unit", facts: facts) }
            let text = facts?.kind == .regular ? machine.read(installed) : nil
            // /lib/systemd/system is /usr/lib/systemd/system on a merged-/usr system.
            let same = AuditOS.realPath(installed).map { $0 == AuditOS.realPath(shipped) } ?? false
            add(
                UnitRules.compare(
                    unit: unit, installedPath: installed, installed: text,
                    shippedPath: shipped, shipped: same ? text : machine.read(shipped)))
            for d in options.unitSearchPath {
                let dropins = "\(d)/\(unit).d"
                for name in machine.list(dropins) ?? [] where name.hasSuffix(".conf") {
                    let p = "\(dropins)/\(name)"
                    checkFile(p, role: "unit drop-in")
                    add(
                        Finding(
                            .warn, check: "units.dropin", what: "a drop-in changes \(unit); review it", location: p,
                            expected: "no drop-in, or one that only adds paths", actual: "present",
                            fix: "systemctl cat \(unit)"))
                }
            }
            if unit == "run-borg-backup.service", options.checkExposure, facts?.kind == .regular {
                let out = AuditOS.run(["/usr/bin/systemd-analyze", "security", "--offline=true", installed])
                let text = out.stdout + out.stderr
                add(
                    UnitRules.checkExposure(
                        UnitRules.exposure(in: text), unit: unit, path: installed, output: text,
                        threshold: options.exposureThreshold))
            }
        }
    }
}
