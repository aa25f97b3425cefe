/// Rules for the forwarded Unix socket sshd binds for `ssh -R` (sshd_config(5): StreamLocalBindMask,
/// StreamLocalBindUnlink). sshd creates it as the ssh user with mode `0777 & ~StreamLocalBindMask`.
public enum SocketRules {
    /// The mode sshd gives the socket for `mask`.
    public static func expectedMode(bindMask: UInt32) -> UInt32 { 0o777 & ~bindMask }

    /// Why the socket at `facts` must not be used (nil: it may be used).
    /// `facts == nil` means lstat found nothing there.
    public static func problem(
        _ facts: FileFacts?, path: String, sshUser: String, sshUID: UInt32,
        bindMask: UInt32
    ) -> String? {
        guard let f = facts else {
            return "socket \(path) does not exist: no forwarded connection from the backup server (start `borgpull-server SERVE` or `BACKUP` there)"
        }
        switch f.kind {
        case .socket: break
        case .symlink: return "\(path) is a symbolic link, not the socket sshd creates; refusing to follow it"
        case .regular: return "\(path) is a regular file, not a socket"
        case .directory: return "\(path) is a directory, not a socket"
        case .other: return "\(path) is not a socket"
        }
        if f.uid != sshUID {
            return "socket \(path) is owned by uid \(f.uid), not by the ssh user \(sshUser) (uid \(sshUID)); it was not created by sshd for the backup server"
        }
        let allowed = expectedMode(bindMask: bindMask)
        if f.mode & ~allowed != 0 {
            return
                "socket \(path) has mode \(FileRules.octal(f.mode)), wider than \(FileRules.octal(allowed)) allowed by StreamLocalBindMask \(FileRules.octal(bindMask))"
        }
        return nil
    }
}
