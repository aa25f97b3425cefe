import Glibc
import Logging
import BorgPullCore

/// `SETUP` (at boot): the socket directory sshd binds the forwarded socket in, and the state
/// directory. Idempotent; never "fixes" a directory someone unexpected owns.
public enum SetupRunner {
    /// Mode of the socket directory: the ssh user (sshd) creates the socket; its group (the
    /// runner) may only traverse.
    public static let socketDirectoryMode: mode_t = 0o710

    public static func run(directory: String, log: Logger) -> ClientExit {
        let loaded: ClientConfigLoader.Loaded
        do { loaded = try ClientConfigLoader.load(directory: directory) } catch {
            log.error("\(error)")
            return .configError
        }
        let config = loaded.config
        for f in loaded.findings where f.severity == .fail {
            log.warning("\(f.location): \(f.what) (fix: \(f.fix)); BACKUP will refuse to run until this is fixed")
        }
        guard let ssh = Account.user(config.sshUser) else {
            log.error("\(config.envFile): the ssh user \(config.sshUser) does not exist (fix: useradd -r -m -s /bin/bash \(config.sshUser))")
            return .configError
        }
        let gid = config.sshGroup.flatMap(Account.groupID) ?? ssh.gid
        let dir = FileRules.parents(of: config.socketPath).first ?? "/"
        do {
            try Files.makeParents(dir)
            if try Files.makeDirectory(dir, mode: socketDirectoryMode) {
                guard chown(dir, ssh.uid, gid) == 0 else { throw SystemError("chown", path: dir) }
                log.info("created socket directory \(dir) (\(config.sshUser):\(gid), \(FileRules.octal(UInt32(socketDirectoryMode))))")
            } else {
                guard let f = try Files.facts(dir) else { throw SystemError("lstat", path: dir, errno: ENOENT) }
                if f.kind != .directory {
                    log.error("\(dir) exists but is a \(f.kind.rawValue), not a directory; refusing to touch it (fix: move it away, then run SETUP again)")
                    return .configError
                }
                if f.uid != ssh.uid {
                    log.error("\(dir) is owned by uid \(f.uid), not by the ssh user \(config.sshUser) (uid \(ssh.uid)); SETUP does not take over a directory someone else made, which may hold their files (fix: choose another BACKUP_SOCKET directory, or if it is yours: chown \(config.sshUser):\(gid) \(dir))")
                    return .configError
                }
                if f.gid != gid {
                    guard chown(dir, ssh.uid, gid) == 0 else { throw SystemError("chown", path: dir) }
                    log.notice("set the group of \(dir) to \(gid)")
                }
                if f.mode != UInt32(socketDirectoryMode) {
                    guard chmod(dir, socketDirectoryMode) == 0 else { throw SystemError("chmod", path: dir) }
                    log.notice("set the mode of \(dir) from \(FileRules.octal(f.mode)) to \(FileRules.octal(UInt32(socketDirectoryMode)))")
                }
                log.info("socket directory \(dir) is ready")
            }
            try Files.makeParents(config.stateDirectory)
            if try Files.makeDirectory(config.stateDirectory, mode: 0o750) {
                guard chown(config.stateDirectory, 0, gid) == 0 else { throw SystemError("chown", path: config.stateDirectory) }
            }
            try Files.makeDirectory("\(config.stateDirectory)/borg", mode: 0o700)
        } catch {
            log.error("SETUP failed: \(error)")
            return .internalError
        }
        return .ok
    }
}
