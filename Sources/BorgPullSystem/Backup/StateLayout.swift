import BorgPullCore
import Glibc
import Logging

/// The state directory (STATE_DIR, default /var/lib/borgpull):
///
///     STATE_DIR          root:root     0711  (systemd's StateDirectoryMode for the unit)
///     STATE_DIR/results  root:SSHGROUP 2750  the result record; setgid, so new files get the
///                                            ssh user's group without CAP_CHOWN
///     STATE_DIR/borg     RUNNER        0700  borg's BORG_BASE_DIR (cache, security, keys):
///                                            only the runner writes it
///     STATE_DIR/borg-root root:root    0700  BORG_BASE_DIR of the restore borg (uid 0);
///                                            created on first use, never the runner's
///     STATE_DIR/key-export.json  root 0600  the record of the last key-export
///     STATE_DIR/backup.lock                  the run lock
///
/// SETUP creates it with full root; BACKUP (in the hardened unit, without CAP_CHOWN) only
/// creates what is missing. Every level must be a real directory: a symlink or a file planted
/// there is refused, never followed (owners and modes are changed with lchown/chmod only after
/// lstat said "directory"; the audit checks that STATE_DIR's parents are root's).
public enum StateLayout {
    public static func prepare(_ config: ClientConfig, sshGID: UInt32, runner: Account?, log: Logger) throws(SystemError) {
        try Files.makeParents(config.stateDirectory)
        try directory(config.stateDirectory, mode: 0o711)
        let results = FileRules.parents(of: config.resultFile).first ?? config.stateDirectory
        if results != config.stateDirectory {
            try Files.makeParents(results)
            let f = try directory(results, mode: 0o750)
            if f.gid != sshGID || f.mode & 0o2000 == 0 {
                do { try Files.setDirectory(results, owner: (0, sshGID), mode: 0o2750) } catch {
                    log.warning("cannot give \(results) to the ssh user's group (\(error)); run SETUP as root so the server can read the result record")
                }
            }
        }
        let base = config.borgBaseDirectory
        let f = try directory(base, mode: 0o700)
        // borg's cache and security dirs must be the runner's all the way down (an older
        // version, or borg run as root by hand, leaves root-owned files that make borg fail).
        if let runner {
            let owned = { (p: String) -> Bool in
                guard let g = try? Files.facts(p) else { return true }
                return g.uid == runner.uid && g.gid == runner.gid
            }
            if f.uid != runner.uid || f.gid != runner.gid || !Files.entries(base).allSatisfy({ owned("\(base)/\($0)") }) {
                do { try Files.chownTree(base, uid: runner.uid, gid: runner.gid) } catch {
                    throw SystemError(
                        "give \(base) to the runner \(runner.name): \(error) (run SETUP as root: borg-backup-create-directory.service)",
                        path: nil, errno: error.errno)
                }
                log.notice("gave \(base) to the runner \(runner.name)")
            }
        }
    }

    /// The base directory of the borg that runs as root (`borgpull-client restore`'s extract):
    /// `STATE_DIR/borg-root`, root:root 0700, created if missing.
    ///
    /// Why not the runner's `STATE_DIR/borg`: everything there may have been written by a
    /// compromised sandboxed borg (cache, security files, a `.local` Python site directory), and
    /// a root process never uses what the runner can change.
    /// - Throws: `SystemError` when it exists as anything but a root-owned directory closed to
    ///   group and other (it is refused, never changed).
    public static func rootBaseDirectory(_ config: ClientConfig) throws(SystemError) -> String {
        let path = "\(config.stateDirectory)/borg-root"
        try Files.makeParents(config.stateDirectory)
        let f = try directory(path, mode: 0o700)
        guard f.uid == 0, f.mode & 0o077 == 0 else {
            throw SystemError(
                "refusing \(path) as root's borg base directory: owner uid \(f.uid), mode \(FileRules.octal(f.mode)) (expected root, 0700; fix: move it away, it is recreated)",
                path: nil, errno: EPERM)
        }
        return path
    }

    /// Creates `path` if missing and returns its lstat facts; refuses anything but a directory.
    @discardableResult
    static func directory(_ path: String, mode: mode_t) throws(SystemError) -> FileFacts {
        try Files.makeDirectory(path, mode: mode)
        guard let f = try Files.facts(path), f.kind == .directory else {
            throw SystemError(
                "refusing \(path): not a directory (a symlink or file there is never followed; remove it, then run SETUP)",
                path: nil, errno: ENOTDIR)
        }
        return f
    }
}
