import BorgPullCore

/// What the client audit looks at, and where. Every path is explicit so tests can point the
/// audit at fixtures; the defaults are the installation of the running binary (`/usr` for the
/// Debian packages, `PREFIX` for make install; README, "Install").
public struct ClientAuditOptions: Sendable {
    /// The installation whose binaries, seccomp policy, units and ForceCommand are expected.
    public var layout: InstallLayout = Installation.layout
    /// Run `sshd -T -C user=...` and judge the ssh user's effective settings (about 15 ms).
    public var checkSshd = true
    /// `-f FILE` for `sshd -T`; nil = sshd's default /etc/ssh/sshd_config.
    public var sshdConfig: String? = nil
    public var sshdBinary = "/usr/sbin/sshd"
    /// Judge the trigger authorization (polkit rules, sudoers).
    public var checkTrigger = true
    public var sudoersFile = "/etc/sudoers"
    public var sudoersDirectory = "/etc/sudoers.d"
    public var polkitRulesDirectories = ["/etc/polkit-1/rules.d", "/usr/share/polkit-1/rules.d"]
    /// Compare the units systemd loads (the first found on `unitSearchPath`) with the ones in
    /// the installation's unit directory (`layout.unitDirectory`).
    public var checkUnits = true
    public var unitSearchPath = UnitSearchPath.system
    /// Run `systemd-analyze security --offline=true` on the installed run-borg-backup.service
    /// (about 20 ms).
    public var checkExposure = true
    public var exposureThreshold = UnitRules.exposureThreshold
    /// Run `borg --version` (about 0.4 s; started first and collected last).
    public var checkBorgVersion = true
    /// Connect to a live BACKUP_SOCKET and check its peer (SO_PEERCRED). sshd then opens a
    /// forwarded channel that closes at once; harmless, but skip it while a backup runs.
    public var probeLiveSocket = true
    /// Our installed binaries (`layout.binaries`): the client must exist (sshd's ForceCommand
    /// and the units run it), the others are checked when present.
    public var checkBinaries = true
    public var shellsFile = "/etc/shells"
    public var shadowFile = "/etc/shadow"
    /// Every borg_paths entry exists. BACKUP checks this itself after the pre hook (which may
    /// create a path), honouring MISSING_PATHS.
    public var checkPaths = true
    /// The record of the last `key-export` (STATE_DIR/key-export.json): `key.export`.
    public var checkKeyExport = true
    /// The socket directory and a present socket. BACKUP checks the socket itself, so that a
    /// socket problem has its own exit status (10).
    public var checkSocket = true
    /// The ssh user's home: root's, holding nothing the user can change (a few lstat calls).
    public var checkHome = true
    /// Walk the local file systems for directories the ssh user can create entries in, where
    /// the server's key could bind (or, with StreamLocalBindUnlink, replace) sockets. Bounded
    /// by `writableLimits`; 40 ms for a fresh Debian 12 tree, 0.6-2.2 s for the 23,000
    /// reachable directories of a build machine (README, "Speed").
    public var scanWritable = true
    public var writableRoots = ["/"]
    public var writableLimits = WritableScan.Limits()
    public var mountInfo = "/proc/self/mountinfo"
    /// Where the audit's files (lstat, contents, listings) and accounts come from: the OS, or
    /// a fake in tests (no root needed to stage root-owned files or uid-0 accounts).
    public var machine: any AuditMachine = AuditOS.machine

    public init() {}

    /// Everything (borgpull-check's default).
    public static let full = ClientAuditOptions()

    /// What `borgpull-client BACKUP` runs before anything else: files, owners, modes, secrets,
    /// the configuration, users. No subprocess, no socket, no paths (BACKUP checks those itself
    /// at their step), no trigger or unit review (the unit is already running). A few ms.
    public static var backup: ClientAuditOptions { ClientAuditOptions().forBackup() }

    /// These options (paths kept) with the checks BACKUP skips turned off.
    public func forBackup() -> ClientAuditOptions {
        var o = self
        o.checkSshd = false
        o.checkTrigger = false
        o.checkUnits = false
        o.checkExposure = false
        o.checkBorgVersion = false
        o.probeLiveSocket = false
        o.checkPaths = false
        o.checkKeyExport = false
        o.checkSocket = false
        o.checkHome = false
        o.scanWritable = false
        // The running binary is audited by its caller (it may live outside PREFIX/bin).
        o.checkBinaries = false
        return o
    }
}

/// The outcome of a client audit.
public struct ClientAuditResult: Sendable {
    public var findings: [Finding]
    /// The validated configuration, when it parsed (even if other checks failed).
    public var config: ClientConfig?
    public var worst: Finding.Severity { findings.map(\.severity).max() ?? .ok }
    public var report: AuditReport { AuditReport(findings: findings) }
}
