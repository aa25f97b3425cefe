import BorgPullCore

#if canImport(Glibc)
    import Glibc
#endif

/// What the client audit reads from the machine: file facts, file contents, directory
/// listings and accounts. `AuditOS.machine` answers from the OS; tests pass a fake, so the
/// audit's decisions on files and accounts run on staged facts without root (the root system
/// tests, CheckSystemTests, audit the real machine). Subprocess probes (sshd -T,
/// systemd-analyze, borg --version), the socket peer, groups and /etc/shadow stay OS calls.
public protocol AuditMachine: Sendable {
    /// lstat(2) of `path`, nil if it does not exist or cannot be examined.
    func facts(_ path: String) -> FileFacts?
    /// The text of the regular file `path` (final symlink not followed), at most `limit`
    /// bytes; nil on any error.
    func read(_ path: String, limit: Int) -> String?
    /// Names in the directory `dir` (no `.`/`..`), sorted; nil if it is none or cannot be opened.
    func list(_ dir: String) -> [String]?
    /// The account `name` (getpwnam_r(3)), nil if it does not exist.
    func user(_ name: String) -> Account?
}

extension AuditMachine {
    /// `read(path, limit: 4 MiB)`.
    func read(_ path: String) -> String? { read(path, limit: 4 << 20) }

    /// Whether the known_hosts `file` holds a key for `host` (`name` or `[name]:port`, hashed
    /// entries too): the file's text as this machine reads it, looked up by
    /// `ssh-keygen -F host -f /dev/stdin` (ssh-keygen(1)); false on any error.
    public func knowsHost(_ host: String, in file: String, sshKeygen: String) -> Bool {
        guard let text = read(file, limit: 16 << 20) else { return false }
        let out = AuditOS.run([sshKeygen, "-F", host, "-f", "/dev/stdin"], input: Array(text.utf8))
        return out.status == 0 && !out.stdout.isEmpty
    }
}

/// Thin OS calls used by the audits (lstat, files, accounts, processes, socket peers).
/// Every call reports absence as nil instead of throwing: the audit turns that into a finding.
enum AuditOS {
    /// lstat(2) of `path` as `FileFacts`, nil if it does not exist or cannot be examined.
    static func facts(_ path: String) -> FileFacts? { (try? Files.facts(path)) ?? nil }

    /// Reads a regular file without following a final symlink (O_NOFOLLOW); nil on any error.
    static func read(_ path: String, limit: Int = 4 << 20) -> String? { Files.readUpTo(path, limit: limit) }

    /// realpath(3): the path with every symlink resolved; nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Names in a directory (no `.`/`..`), sorted; nil if it cannot be opened.
    static func list(_ dir: String) -> [String]? { facts(dir)?.kind == .directory ? Files.entries(dir) : nil }

    typealias Account = BorgPullSystem.Account

    /// The machine the audit runs on, as an `AuditMachine`.
    static let machine: any AuditMachine = OS()

    struct OS: AuditMachine {
        func facts(_ path: String) -> FileFacts? { AuditOS.facts(path) }
        func read(_ path: String, limit: Int) -> String? { AuditOS.read(path, limit: limit) }
        func list(_ dir: String) -> [String]? { AuditOS.list(dir) }
        func user(_ name: String) -> Account? { AuditOS.user(name) }
    }

    static func user(_ name: String) -> Account? { Account.user(name) }

    static func userName(_ uid: UInt32) -> String? { Account.userName(uid) }

    static func groupName(_ gid: UInt32) -> String? { Account.groupName(gid) }

    static func groupID(_ name: String) -> UInt32? { Account.groupID(name) }

    /// Every gid of `user` (primary and supplementary), per getgrouplist(3).
    static func groups(of user: Account) -> [UInt32] {
        var n: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(n))
        if getgrouplist(user.name, user.gid, &list, &n) < 0 {
            list = [gid_t](repeating: 0, count: Int(n))
            _ = getgrouplist(user.name, user.gid, &list, &n)
        }
        return Array(list.prefix(Int(max(0, n))))
    }

    /// The /etc/shadow fields 2 (password) and 8 (expiry day) of `user`; nil if unreadable.
    static func shadow(_ user: String, file: String = "/etc/shadow") -> (readable: Bool, password: String?, expire: Int?) {
        guard let text = read(file) else { return (false, nil, nil) }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 2, f[0] == user else { continue }
            return (true, String(f[1]), f.count >= 8 ? Int(f[7]) : nil)
        }
        return (true, nil, nil)
    }

    /// Days since 1970-01-01 (shadow(5) unit).
    static func today() -> Int { Int(time(nil)) / 86400 }

    /// The result of a finished command.
    struct Output: Sendable { var status: Int32; var stdout: String; var stderr: String; var launched: Bool }

    /// A started command; `wait()` collects it (the one spawn stack, `Supervisor`: absolute
    /// path, own process group, explicit environment, nothing else inherited). Started at once, so
    /// the caller can audit other things meanwhile; its pipes are read by `wait()` (a few KiB of
    /// output fit in the pipe until then). After `timeout` seconds from the start its group gets
    /// SIGTERM, SIGKILL 5 s later. The audit's signals are left alone: Ctrl-C ends borgpull-check.
    final class Running: @unchecked Sendable {
        let supervisor = Supervisor.leavingSignalsAlone()
        let child: Child?
        let timeout: Double

        /// `input`: the command's stdin (an anonymous file), else /dev/null.
        init(_ argv: [String], timeout: Double, input: [UInt8]? = nil) {
            self.timeout = timeout
            let stdin = input.flatMap { try? Files.memoryFile($0) }
            defer { if let stdin { close(stdin) } }
            // Its own working directory: a relative path the caller gave (--sshd-config) means the same.
            let spec = SpawnSpec(
                argv: argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "SYSTEMD_COLORS": "0"],
                stdout: .capture, stderr: .capture, descriptors: stdin.map { fd -> [(child: Int32, parent: Int32)] in [(child: 0, parent: fd)] } ?? [],
                workingDirectory: nil)
            child = input != nil && stdin == nil ? nil : try? supervisor.start(spec)
        }

        /// - Returns: the exit status (the signal number if it was killed), its outputs (each at
        ///   most `OutputReader.captureLimit`); `launched` false (status 127) if it could not start.
        func wait() -> Output {
            guard let child else { return Output(status: 127, stdout: "", stderr: "cannot execute", launched: false) }
            let r = supervisor.watch(child, timeout: timeout, grace: 5)
            let status: Int32
            switch r.termination {
            case .exited(let code): status = code
            case .signaled(let signal): status = signal
            }
            return Output(
                status: status, stdout: String(decoding: r.stdout, as: UTF8.self),
                stderr: String(decoding: r.stderr, as: UTF8.self), launched: true)
        }
    }

    static func run(_ argv: [String], timeout: Double = 10, input: [UInt8]? = nil) -> Output {
        Running(argv, timeout: timeout, input: input).wait()
    }

    /// Connects to a Unix socket and returns the listener's credentials (SO_PEERCRED).
    static func peer(of path: String) -> (uid: UInt32, pid: Int32)? {
        guard case .success(let p) = UnixSocket.isListening(path) else { return nil }
        return (p.uid, p.pid)
    }
}

extension Account {
    /// The account as the audit's rules see it.
    var facts: AccountFacts { AccountFacts(name: name, uid: uid) }
}
