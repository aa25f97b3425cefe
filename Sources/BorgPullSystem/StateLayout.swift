import Glibc
import Logging
import BorgPullCore

/// The state directory (STATE_DIR, default /var/lib/borgpull):
///
///     STATE_DIR          root:root     0711  (systemd's StateDirectoryMode for the unit)
///     STATE_DIR/results  root:SSHGROUP 2750  the result record; setgid, so new files get the
///                                            ssh user's group without CAP_CHOWN
///     STATE_DIR/borg     root          0700  borg's BORG_BASE_DIR (cache, security, keys)
///     STATE_DIR/backup.lock                  the run lock
///
/// SETUP creates it with full root; BACKUP (in the hardened unit, without CAP_CHOWN) only
/// creates what is missing.
public enum StateLayout {
    public static func prepare(_ config: ClientConfig, sshGID: UInt32, log: Logger) throws(SystemError) {
        try Files.makeParents(config.stateDirectory)
        try Files.makeDirectory(config.stateDirectory, mode: 0o711)
        let results = FileRules.parents(of: config.resultFile).first ?? config.stateDirectory
        if results != config.stateDirectory {
            try Files.makeParents(results)
            try Files.makeDirectory(results, mode: 0o750)
            if let f = try Files.facts(results), f.gid != sshGID || f.mode & 0o2000 == 0 {
                if chown(results, 0, sshGID) != 0 || chmod(results, 0o2750) != 0 {
                    log.warning("cannot give \(results) to the ssh user's group (\(SystemError("chown", path: results))); run SETUP as root so the server can read the result record")
                }
            }
        }
        try Files.makeDirectory("\(config.stateDirectory)/borg", mode: 0o700)
    }
}
