/// An account as the audit's rules see it: its name and uid (the system target looks it up
/// with getpwnam_r(3); tests pass fakes).
public struct AccountFacts: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public init(name: String, uid: UInt32) {
        self.name = name
        self.uid = uid
    }
}

/// The accounts borgpull runs as (SECURITY.md, "Runner and socket"): the client's ssh user and
/// borg's runner, the server's LOCAL_USER.
public enum AccountRules {
    /// The client's ssh user (`user.ssh`): it exists and is not root. `account` is nil when
    /// `name` does not exist. Why not root: the server's key logs in as it.
    public static func sshUser(_ account: AccountFacts?, name: String) -> Finding {
        guard let u = account else {
            return Finding(
                .fail, check: "user.ssh", what: "the ssh user does not exist", location: "/etc/passwd: \(name)",
                expected: "an account the server logs in as", actual: "missing",
                fix:
                    "useradd -r -M -d /var/lib/\(name)-home -s /bin/bash \(name) && usermod -p '*' \(name) && install -d -o root -g root -m 0755 /var/lib/\(name)-home"
            )
        }
        if u.uid == 0 {
            return Finding(
                .fail, check: "user.ssh", what: "the ssh user must not be root", location: "/etc/passwd: \(u.name)",
                expected: "an unprivileged account", actual: "uid 0",
                fix:
                    "set BORG_BACKUP_USER=borgpull and useradd -r -M -d /var/lib/borgpull-home -s /bin/bash borgpull && install -d -o root -g root -m 0755 /var/lib/borgpull-home"
            )
        }
        return Finding(
            .ok, check: "user.ssh", what: "the ssh user exists", location: "/etc/passwd: \(u.name)",
            expected: "an unprivileged account", actual: "uid \(u.uid)")
    }

    /// borg's runner (`user.runner`, RUNNER_USER): it exists, is not root and is not the ssh
    /// user. `account` is nil when `name` does not exist. Why its own account: borg parses
    /// what the server sends, so it must not hold root's or the ssh user's rights.
    public static func runner(_ account: AccountFacts?, name: String, sshUser: String) -> Finding {
        guard let r = account else {
            return Finding(
                .fail, check: "user.runner", what: "the runner user (borg runs as it) does not exist",
                location: "/etc/passwd: \(name)", expected: "an unprivileged account", actual: "missing",
                fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin \(name)")
        }
        if r.uid == 0 || r.name == sshUser {
            return Finding(
                .fail, check: "user.runner", what: "borg's runner must be its own unprivileged account",
                location: "/etc/passwd: \(r.name)", expected: "not root, not the ssh user", actual: "uid \(r.uid)",
                fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin borgpull-runner; set RUNNER_USER=borgpull-runner")
        }
        return Finding(
            .ok, check: "user.runner", what: "the runner user exists", location: "/etc/passwd: \(r.name)",
            expected: "an unprivileged account", actual: "uid \(r.uid)")
    }

    /// The server's LOCAL_USER (`server.user`): OK when it exists, and a WARN when it is root
    /// (borg serve and ssh then run as root). `account` is nil when `name` does not exist.
    public static func serverUser(_ account: AccountFacts?, name: String, configFile: String) -> [Finding] {
        guard let local = account else {
            return [
                Finding(
                    .fail, check: "server.user", what: "LOCAL_USER does not exist", location: "\(configFile): LOCAL_USER",
                    expected: "the account that runs borg serve and ssh", actual: name,
                    fix: "useradd -r -m -d /var/lib/borg_remote_pull -s /usr/sbin/nologin \(name)")
            ]
        }
        var findings = [
            Finding(
                .ok, check: "server.user", what: "LOCAL_USER exists", location: "\(configFile): LOCAL_USER",
                expected: "an account", actual: "\(name) uid \(local.uid)")
        ]
        if local.uid == 0 {
            findings.append(
                Finding(
                    .warn, check: "server.user", what: "borg serve and ssh run as root", location: "\(configFile): LOCAL_USER",
                    expected: "an unprivileged account", actual: "root",
                    fix: "useradd -r -m -s /usr/sbin/nologin borg; set LOCAL_USER=borg; chown -R borg: REPO_DIR"))
        }
        return findings
    }
}
