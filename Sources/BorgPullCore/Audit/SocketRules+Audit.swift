/// Rules for the directory sshd binds the forwarded socket in, and the socket itself.
///
/// sshd creates the socket as the ssh user with mode `0777 & ~StreamLocalBindMask` (0660 for
/// 0117); the runner reaches it through the ssh user's primary group. The directory is owned by
/// the ssh user (sshd binds as that user), group its primary group, mode 0710: the group may
/// traverse, nobody else may enter.
extension SocketRules {
    public static let directoryMode: UInt32 = 0o710

    public static func checkDirectory(
        _ f: FileFacts?, path: String, user: String, uid: UInt32, group: String,
        gid: UInt32, configDir: String
    ) -> [Finding] {
        let fix = "install -d -o \(user) -g \(group) -m 0710 \(path)   (borgpull-client -c \(configDir) SETUP does this at boot)"
        guard let f else {
            return [
                Finding(
                    .fail, check: "socket.dir", what: "the socket directory does not exist; sshd cannot bind the borg socket",
                    location: path, expected: "directory \(user):\(group) 0710", actual: "missing", fix: fix)
            ]
        }
        var problems: [String] = []
        if f.kind != .directory { problems.append("not a directory (\(f.kind.rawValue))") }
        if f.uid != uid { problems.append("owner uid \(f.uid)") }
        if f.gid != gid { problems.append("group gid \(f.gid)") }
        if f.mode != directoryMode { problems.append("mode \(FileRules.octal(f.mode))") }
        if problems.isEmpty {
            return [
                Finding(
                    .ok, check: "socket.dir", what: "the socket directory has the owner and mode sshd needs",
                    location: path, expected: "\(user):\(group) 0710", actual: "\(user):\(group) 0710")
            ]
        }
        // Writable by group/other lets someone else plant the socket: FAIL. A stricter or
        // differently owned directory breaks the bind or the runner: FAIL too.
        return [
            Finding(
                .fail, check: "socket.dir", what: "the socket directory's owner or mode is wrong", location: path,
                expected: "directory \(user):\(group) 0710", actual: problems.joined(separator: ", "), fix: fix)
        ]
    }

    /// The live socket (lstat facts), if present, judged by `problem(...)`: a socket, not a
    /// symlink, owned by the ssh user, no permission beyond `0777 & ~mask`.
    public static func checkSocket(_ f: FileFacts, user: String, uid: UInt32, mask: UInt32) -> [Finding] {
        let allowed = expectedMode(bindMask: mask)
        let expected = "socket of \(user), mode within \(FileRules.octal(allowed))"
        if let p = problem(f, path: f.path, sshUser: user, sshUID: uid, bindMask: mask) {
            return [
                Finding(
                    .fail, check: "socket.file", what: "the file at BACKUP_SOCKET is not sshd's forwarded socket: \(p)",
                    location: f.path, expected: expected,
                    actual: "\(f.kind.rawValue), uid \(f.uid), \(FileRules.octal(f.mode))",
                    fix: "rm -f \(f.path)   (sshd recreates it on the next backup; find out who made it)")
            ]
        }
        return [
            Finding(
                .ok, check: "socket.file", what: "the forwarded socket has the expected owner and mode",
                location: f.path, expected: expected, actual: "socket, uid \(f.uid), \(FileRules.octal(f.mode))")
        ]
    }
}
