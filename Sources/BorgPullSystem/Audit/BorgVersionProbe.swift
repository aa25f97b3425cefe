import BorgPullCore

/// The `borg.version` finding of the client and the server audit (BorgVersion.check).
///
/// Debian's /usr/bin/borg is a setuptools entry script that pins its version
/// (`EASY-INSTALL-ENTRY-SCRIPT: 'borgbackup==1.2.4'`, enforced by pkg_resources at start-up):
/// it is read there. Otherwise borg is asked (about 0.4-0.8 s of Python start-up), started by
/// `init` and collected by `finding()`, so the caller can audit other things meanwhile. Run it
/// only on a binary the audit trusts (root's, safe_path): `--version` runs as root.
struct BorgVersionProbe {
    let binary: String
    let pinned: String?
    let running: AuditOS.Running?

    init(binary: String) {
        self.binary = binary
        pinned = AuditOS.read(binary, limit: 4096).flatMap(BorgVersion.pinnedVersion(entryScript:))
        running = pinned == nil ? AuditOS.Running([binary, "--version"], timeout: 20) : nil
    }

    func finding() -> Finding {
        if let v = pinned { return BorgVersion.check("borg \(v)", binary: binary) }
        guard let out = running?.wait(), out.launched else {
            return Finding(
                .fail, check: "borg.version", what: "borg is not installed or not executable",
                location: binary, expected: "borg 1.2.x or 1.4.x", actual: "cannot execute",
                fix: "apt-get install borgbackup  (or set BORG_BINARY)")
        }
        return BorgVersion.check(out.stdout + out.stderr, binary: binary)
    }
}
