/// Rules for the installed systemd units and the forwarded socket.
public enum UnitRules {
    /// The client units borgpull ships in units/; installed to the installation's unit
    /// directory (`InstallLayout.unitDirectory`).
    public static let clientUnits = ["run-borg-backup.service", "borg-backup-create-directory.service"]

    /// Highest `systemd-analyze security --offline=true` exposure accepted for
    /// run-borg-backup.service. The shipped unit measures 1.4 on systemd 252; 2.0 leaves room
    /// for a site drop-in, anything above means hardening was removed.
    public static let exposureThreshold = 2.0

    /// The unit's meaningful lines: comments, blank lines and surrounding blanks removed.
    public static func normalized(_ text: String) -> [String] {
        text.split(separator: "\n").map { String($0).trimmingBlanks() }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix(";") }
    }

    /// Compares the unit systemd loads (`installedPath`, the first on the unit search path) with
    /// the one the installation ships (comments and blank lines ignored).
    public static func compare(
        unit: String, installedPath: String, installed: String?, shippedPath: String,
        shipped: String?
    ) -> Finding {
        guard let installed else {
            return Finding(
                .fail, check: "units.installed", what: "\(unit) is not installed", location: installedPath,
                expected: "the unit at \(shippedPath)", actual: "missing",
                fix: "apt-get install --reinstall borgpull-client  (or make install-client), then systemctl daemon-reload")
        }
        guard let shipped else {
            return Finding(
                .warn, check: "units.same", what: "cannot compare \(unit) with borgpull's copy", location: installedPath,
                expected: "the shipped unit at \(shippedPath)", actual: "shipped copy not found",
                fix: "apt-get install --reinstall borgpull-client  (or make install-client)")
        }
        let a = normalized(installed), b = normalized(shipped)
        if a == b {
            return Finding(
                .ok, check: "units.same", what: "\(unit) is the shipped unit", location: installedPath,
                expected: "same as \(shippedPath)", actual: "same")
        }
        let firstDiff = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        let got = firstDiff < a.count ? a[firstDiff] : "(end of file)"
        let want = firstDiff < b.count ? b[firstDiff] : "(end of file)"
        return Finding(
            .warn, check: "units.same", what: "\(unit) differs from the shipped unit", location: installedPath,
            expected: want, actual: got,
            fix: "diff \(shippedPath) \(installedPath); keep local changes in a drop-in (systemctl edit \(unit)) and remove \(installedPath)")
    }

    /// Reads "Overall exposure level for UNIT: 1.4 OK" from `systemd-analyze security` output.
    public static func exposure(in output: String) -> Double? {
        // "→ ... 1.4 OK 🙂" in UTF-8 locales, "-> ... 1.4 OK :-)" with LC_ALL=C: take the
        // first ": " after the marker.
        for line in output.split(separator: "\n") {
            guard let m = line.firstRange(of: "Overall exposure level for"),
                let colon = line[m.upperBound...].firstRange(of: ": ")
            else { continue }
            let rest = line[colon.upperBound...].split(separator: " ")
            if let first = rest.first, let v = Double(first) { return v }
        }
        return nil
    }

    /// Judges the exposure of `unit` measured at `path`.
    public static func checkExposure(
        _ value: Double?, unit: String, path: String, output: String,
        threshold: Double = exposureThreshold
    ) -> Finding {
        let loc = "systemd-analyze security --offline=true \(path)"
        guard let value else {
            return Finding(
                .warn, check: "units.exposure", what: "cannot read the exposure level of \(unit)", location: loc,
                expected: "<= \(threshold)", actual: String(output.split(separator: "\n").last ?? "(no output)"),
                fix: "run `systemd-analyze security --offline=true \(path)` and fix what it reports")
        }
        if value <= threshold {
            return Finding(
                .ok, check: "units.exposure", what: "\(unit) is hardened", location: loc,
                expected: "<= \(threshold)", actual: "\(value)")
        }
        return Finding(
            .fail, check: "units.exposure", what: "\(unit) lost hardening (exposure above what borgpull ships)",
            location: loc, expected: "<= \(threshold)", actual: "\(value)",
            fix: "reinstall the shipped unit and review drop-ins: systemctl cat \(unit)")
    }
}
