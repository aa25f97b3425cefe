import BorgPullCore

/// The client audit of the forwarded socket and its directory.
extension Auditor {
    mutating func checkSocket(_ c: ClientConfig, user: AuditOS.Account) {
        let dir = FileRules.parents(of: c.socketPath).first ?? "/"
        let gid = c.sshGroup.flatMap(AuditOS.groupID) ?? user.gid
        let group = AuditOS.groupName(gid) ?? String(gid)
        add(
            SocketRules.checkDirectory(
                machine.facts(dir), path: dir, user: user.name, uid: user.uid, group: group,
                gid: gid, configDir: c.directory))
        checkParents(of: dir)
        guard let s = machine.facts(c.socketPath) else {
            add(
                Finding(
                    .ok, check: "socket.file", what: "no forwarded socket now (normal between backups)",
                    location: c.socketPath, expected: "absent or sshd's socket", actual: "absent"))
            return
        }
        let fs = SocketRules.checkSocket(s, user: user.name, uid: user.uid, mask: c.bindMask)
        add(fs)
        guard options.probeLiveSocket, s.kind == .socket, !fs.contains(where: { $0.severity == .fail }) else { return }
        if let peer = AuditOS.peer(of: c.socketPath) {
            if peer.uid == user.uid {
                add(
                    Finding(
                        .ok, check: "socket.peer", what: "the live socket is served by a process of the ssh user (sshd)",
                        location: c.socketPath, expected: "peer uid \(user.uid)", actual: "peer uid \(peer.uid), pid \(peer.pid)"))
            } else {
                add(
                    Finding(
                        .fail, check: "socket.peer", what: "the live socket is served by another user's process",
                        location: c.socketPath, expected: "peer uid \(user.uid) (\(user.name))",
                        actual: "peer uid \(peer.uid), pid \(peer.pid)",
                        fix: "kill \(peer.pid) && rm -f \(c.socketPath)   (and find out who created it)"))
            }
        } else {
            add(
                Finding(
                    .warn, check: "socket.peer", what: "a stale socket: nobody accepts on it",
                    location: c.socketPath, expected: "sshd accepting, or no socket", actual: "connect failed",
                    fix: "rm -f \(c.socketPath)   (StreamLocalBindUnlink yes also replaces it on the next backup)"))
        }
    }
}
