import BorgPullCore
import Glibc
import Logging

/// `SETUP` (at boot): the socket directory sshd binds the forwarded socket in, and the state
/// directory. Idempotent; never "fixes" a directory someone unexpected owns, and does nothing at
/// all for a configuration whose audit has a FAIL (exit 12).
public enum SetupRunner {
    /// Mode of the socket directory: the ssh user (sshd) creates the socket; its group (the
    /// runner) may only traverse.
    public static let socketDirectoryMode: mode_t = 0o710

    /// Audit checks about what SETUP itself establishes: the socket directory (missing at boot,
    /// /run is empty). SETUP judges that directory below (it never takes over a foreign one);
    /// every other FAIL stops it.
    static let establishedBySetup: Set<String> = ["socket.dir"]

    public static func run(directory: String, log: Logger) -> ClientExit {
        let audit = ClientAudit.run(configDir: directory, options: .backup)
        // Why refuse on any FAIL: SETUP runs as root with every capability and creates and
        // chowns directories named by the configuration; a configuration that failed its audit
        // (a group-writable borg_env, an unknown socket owner ...) must not steer it.
        let fails = audit.findings.filter { $0.severity == .fail && !establishedBySetup.contains($0.check) }
        guard fails.isEmpty, let config = audit.config else {
            for f in fails { log.error("\(f.location): \(f.what) (fix: \(f.fix))") }
            log.error(
                "SETUP refused: the configuration audit failed; nothing was created or changed (fix the findings above, then run SETUP again; borgpull-check lists them)"
            )
            return .configError
        }
        guard let ssh = Account.user(config.sshUser) else {
            log.error("\(config.envFile): the ssh user \(config.sshUser) does not exist (fix: useradd -r -m -s /bin/bash \(config.sshUser))")
            return .configError
        }
        let gid = config.sshGroup.flatMap(Account.groupID) ?? ssh.gid
        let dir = FileRules.parents(of: config.socketPath).first ?? "/"
        // Why: SETUP creates and chowns as root; every directory above what it touches must be
        // one only root can change, or another user could steer it (the audit of BACKUP does
        // not look at the socket directory's parents, SETUP does).
        let results = FileRules.parents(of: config.resultFile).first ?? config.stateDirectory
        for target in [dir, config.stateDirectory, results] {
            if let bad = Files.untrustedParent(of: target) {
                log.error(
                    "\(bad) (above \(target)) is not a root-owned directory closed to group and other writes; SETUP refused and created nothing (fix: chown root:root \(bad) && chmod go-w \(bad), or choose another path in \(config.envFile))"
                )
                return .configError
            }
        }
        do {
            try Files.makeParents(dir)
            if try Files.makeDirectory(dir, mode: socketDirectoryMode, owner: (ssh.uid, gid)) {
                log.info("created socket directory \(dir) (\(config.sshUser):\(gid), \(FileRules.octal(UInt32(socketDirectoryMode))))")
            } else {
                guard let f = try Files.facts(dir) else { throw SystemError("lstat", path: dir, errno: ENOENT) }
                if f.kind != .directory {
                    log.error("\(dir) exists but is a \(f.kind.rawValue), not a directory; refusing to touch it (fix: move it away, then run SETUP again)")
                    return .configError
                }
                if f.uid != ssh.uid {
                    log.error(
                        "\(dir) is owned by uid \(f.uid), not by the ssh user \(config.sshUser) (uid \(ssh.uid)); SETUP does not take over a directory someone else made, which may hold their files (fix: choose another BACKUP_SOCKET directory, or if it is yours: chown \(config.sshUser):\(gid) \(dir))"
                    )
                    return .configError
                }
                if f.gid != gid {
                    try Files.setDirectory(dir, owner: (ssh.uid, gid), mode: nil)
                    log.notice("set the group of \(dir) to \(gid)")
                }
                if f.mode != UInt32(socketDirectoryMode) {
                    try Files.setDirectory(dir, owner: nil, mode: socketDirectoryMode)
                    log.notice("set the mode of \(dir) from \(FileRules.octal(f.mode)) to \(FileRules.octal(UInt32(socketDirectoryMode)))")
                }
                log.info("socket directory \(dir) is ready")
            }
            try StateLayout.prepare(config, sshGID: gid, runner: Account.user(config.runnerUser), log: log)
        } catch {
            log.error("SETUP failed: \(error)")
            return .internalError
        }
        return .ok
    }
}
