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

/// The preflight audit of a backup client (borgpull-check, and the first step of BACKUP).
///
/// Usage from BACKUP:
/// ```
/// let audit = ClientAudit.run(configDir: "/etc/borgpull", options: .backup)
/// for f in audit.findings where f.severity == .warn { log.warning(...) }
/// guard audit.worst != .fail, let config = audit.config else { exit(...) }
/// ```
/// Never throws: every problem, including an unreadable directory, is a finding.
public enum ClientAudit {
    public static func run(configDir rawDir: String, options: ClientAuditOptions = .full) -> ClientAuditResult {
        var a = Auditor(options: options)
        let dir = rawDir.count > 1 && rawDir.hasSuffix("/") ? String(rawDir.dropLast()) : rawDir
        // borg --version takes ~0.4 s (Python start-up): start it first, collect it last.
        var borgProbe: BorgVersionProbe? = nil
        var borgBinary = "/usr/bin/borg"

        a.checkFile(dir, role: "config directory", required: true)
        var texts: [ClientFile: String] = [:]
        var hookExec: [ClientFile: Bool] = [:]
        for f in ClientFile.allCases {
            let p = "\(dir)/\(f.rawValue)"
            guard let facts = AuditOS.facts(p) else {
                if f.isRequired {
                    a.add(Finding(.fail, check: "file.missing", what: "\(f.rawValue) is required", location: p,
                                  expected: "a root-owned file", actual: "missing",
                                  fix: "create \(p) (see borgpull.conf(5); to restore the package's skeleton: apt-get install --reinstall -o Dpkg::Options::=--force-confmiss borgpull-client)"))
                }
                continue
            }
            let text = facts.kind == .regular ? AuditOS.read(p) : nil
            let secret = f == .env && (text.map(holdsPassphrase) ?? false)
            a.checkFile(p, role: f.isHook ? "hook" : "config file", secret: secret, facts: facts)
            if facts.kind == .regular {
                if let text { texts[f] = text } else {
                    a.add(Finding(.fail, check: "file.read", what: "cannot read \(f.rawValue)", location: p,
                                  expected: "readable by root", actual: "read failed", fix: "ls -l \(p)"))
                }
                if f.isHook { hookExec[f] = facts.mode & 0o100 != 0 }
            }
        }

        // The configuration itself.
        var config: ClientConfig? = nil
        do {
            let c = try ClientConfig.build(ClientConfigInput(directory: dir, texts: texts, hookExecutable: hookExec,
                                                             layout: options.layout))
            config = c
            a.add(Finding(.ok, check: "config.parse", what: "the client configuration is valid", location: dir,
                          expected: "borg_env and list files parse", actual: "valid"))
            // The shipped skeleton parses, but it is not a configuration yet.
            let placeholder: String? = c.repository.contains("CHANGE-ME") ? "BORG_REPO"
                : (c.passphrase == .inline("CHANGE-ME") ? "BORG_PASSPHRASE" : nil)
            if let key = placeholder {
                a.add(Finding(.fail, check: "config.placeholder", what: "\(key) still holds the skeleton's CHANGE-ME",
                              location: c.envFile, expected: "the real value", actual: "CHANGE-ME",
                              fix: "edit \(key) in \(c.envFile) (see borgpull.conf(5)), then systemctl restart borg-backup-create-directory.service"))
            }
            for n in c.notices {
                a.add(Finding(.warn, check: "config.notice", what: n, location: c.envFile, expected: "no notices",
                              actual: n, fix: "edit the line named in the message"))
            }
        } catch {
            a.add(Finding(.fail, check: "config.parse", what: error.problem,
                          location: error.line.map { "\(error.file):\($0)" } ?? error.file,
                          expected: "a valid configuration", actual: error.problem, fix: error.fix))
        }
        if let c = config { borgBinary = c.borgBinary }
        // borg runs as the runner with the passphrase, and `--version` below runs it as root:
        // the binary gets the same rule as hooks (root-owned, not writable by others, up to /).
        let failsBeforeBorg = a.findings.filter { $0.severity == .fail }.count
        if AuditOS.facts(borgBinary) == nil {
            a.add(Finding(.fail, check: "borg.binary", what: "borg is not installed", location: borgBinary,
                          expected: "a root-owned borg 1.2.x or 1.4.x", actual: "missing",
                          fix: "apt-get install borgbackup  (or set BORG_BINARY in borg_env)"))
        } else {
            a.checkFile(borgBinary, role: "borg binary")
        }
        let borgTrusted = a.findings.filter { $0.severity == .fail }.count == failsBeforeBorg
        if options.checkBorgVersion && borgTrusted { borgProbe = BorgVersionProbe(binary: borgBinary) }

        for (f, kind) in [(ClientFile.patterns, BorgPatterns.Kind.patterns), (.excludes, .excludes)] {
            if let t = texts[f] { a.add(BorgPatterns.check(t, file: "\(dir)/\(f.rawValue)", kind: kind)) }
        }

        // What borg reads silently otherwise (a yes that borg reads as no, a misspelt name ...).
        if let t = texts[.env], let env = try? EnvFile.parse(t, file: "\(dir)/\(ClientFile.env.rawValue)") {
            a.add(BorgLint.environment(env, skip: ClientConfig.knownKeys.union(ClientConfig.managedBorgKeys)))
        }
        if let c = config {
            a.checkSecrets(c)
            // STATE_DIR holds the run lock and the result record and is chowned by SETUP: it and
            // every parent must be root's (safe_path), or a planted symlink could redirect a chown.
            if AuditOS.facts(c.stateDirectory) != nil { a.checkFile(c.stateDirectory, role: "state directory") }
            else { a.checkParents(of: c.stateDirectory) }
            if options.checkPaths { a.checkPaths(c) }
            if options.checkKeyExport {
                let path = KeyExport.recordPath(stateDirectory: c.stateDirectory)
                a.add(KeyExport.finding(recordText: AuditOS.facts(path) == nil ? nil : (AuditOS.read(path) ?? ""), recordPath: path,
                                        repository: c.repository, configDirectory: c.directory, host: shortHostName()))
            }
        }
        a.checkBinaries()
        a.checkPolicy(config)
        a.checkLandlock(config)

        // Accounts and the socket.
        let sshUserName = config?.sshUser ?? "borgpull"
        let sshUser = a.checkUsers(config: config, sshUserName: sshUserName)
        var sshd: SshdEffectiveConfig? = nil
        if options.checkSshd { sshd = a.checkSshd(user: sshUserName, account: sshUser, bindMask: config?.bindMask ?? 0o117) }
        if let u = sshUser {
            let shadow = AuditOS.shadow(u.name, file: options.shadowFile)
            if shadow.readable {
                let usePAM = sshd?["usepam"].map { $0.lowercased() == "yes" }
                a.add(SshdRules.checkAccountLock(user: u.name, passwordField: shadow.password, expireDay: shadow.expire,
                                                 today: AuditOS.today(), usePAM: usePAM))
            } else {
                a.add(Finding(.warn, check: "user.locked", what: "cannot read \(options.shadowFile) to see whether the ssh user is locked",
                              location: options.shadowFile, expected: "readable by root", actual: "unreadable",
                              fix: "run borgpull-check as root"))
            }
            if let c = config, options.checkSocket { a.checkSocket(c, user: u) }
            if options.checkHome { a.checkHome(u) }
            if options.scanWritable {
                a.checkWritable(u, socketDirectory: config.flatMap { FileRules.parents(of: $0.socketPath).first })
            }
        }

        if options.checkTrigger, let u = sshUser { a.checkTrigger(user: u) }
        if options.checkUnits { a.checkUnits() }

        if let p = borgProbe { a.add(p.finding()) }
        return ClientAuditResult(findings: a.findings, config: config)
    }

    /// An account's uid and every gid it holds (getgrouplist(3)), for ExposureRules.
    public static func credentials(_ u: Account) -> ExposureRules.Credentials {
        ExposureRules.Credentials(uid: u.uid, gid: u.gid, groups: Set(AuditOS.groups(of: u)))
    }

    /// Findings for the home of `u` (ExposureRules.checkHome): the home and its entries, and
    /// those of its .ssh, with symlinks followed (what bash, PAM and sshd would open).
    public static func checkHome(_ u: Account) -> [Finding] {
        let home = (try? Files.facts(u.home, follow: true)) ?? nil
        var entries: [FileFacts] = []
        if home?.kind == .directory {
            for name in Files.entries(u.home) {
                let p = "\(u.home)/\(name)"
                guard let f = (try? Files.facts(p, follow: true)) ?? nil else { continue }
                entries.append(f)
                if name == ".ssh", f.kind == .directory {
                    for inner in Files.entries(p) {
                        if let g = (try? Files.facts("\(p)/\(inner)", follow: true)) ?? nil { entries.append(g) }
                    }
                }
            }
        }
        return ExposureRules.checkHome(home, path: u.home, homeACL: home == nil ? nil : WritableScan.acl(u.home),
                                       entries: entries, user: u.name, credentials(u))
    }

    /// Whether a borg_env text assigns a non-empty BORG_PASSPHRASE (textual, so it also works
    /// when the file does not parse).
    static func holdsPassphrase(_ text: String) -> Bool {
        if let env = try? EnvFile.parse(text, file: "borg_env") { return !(env["BORG_PASSPHRASE"] ?? "").isEmpty }
        return text.contains("BORG_PASSPHRASE=")
    }
}

/// Collects findings; remembers which parent directories were already judged.
struct Auditor {
    let options: ClientAuditOptions
    var findings: [Finding] = []
    var seenParents: Set<String> = []
    var seen: Set<String> = []

    init(options: ClientAuditOptions) { self.options = options }

    mutating func add(_ f: Finding) {
        let key = "\(f.severity.rawValue)|\(f.check)|\(f.location)|\(f.actual)"
        if seen.insert(key).inserted { findings.append(f) }
    }
    mutating func add(_ fs: [Finding]) { for f in fs { add(f) } }

    /// Parent directories of `path` (safe_path rule); returns whether all were safe.
    /// - Parameter allowOwners: uids besides root accepted as owner of specific directories.
    @discardableResult
    mutating func checkParents(of path: String, allowOwners: [String: UInt32] = [:]) -> Bool {
        var safe = true
        for p in FileRules.parents(of: path) {
            guard let f = AuditOS.facts(p) else { continue }
            var fs = FileRules.checkParent(f, of: path)
            if let uid = allowOwners[p], f.uid == uid { fs.removeAll { $0.check == "dir.owner" } }
            if !fs.isEmpty { safe = false }
            if seenParents.insert(p).inserted || !fs.isEmpty { add(fs) }
        }
        return safe
    }

    /// A security-relevant file or directory and its parents. One OK when all is well.
    mutating func checkFile(_ path: String, role: String, secret: Bool = false, required: Bool = false,
                            facts: FileFacts? = nil, allowParentOwners: [String: UInt32] = [:]) {
        guard let f = facts ?? AuditOS.facts(path) else {
            if required {
                add(Finding(.fail, check: "file.missing", what: "the \(role) does not exist", location: path,
                            expected: "owned by root, not writable by group or other", actual: "missing",
                            fix: "install -d -o root -g root -m 0700 \(path)"))
            }
            return
        }
        let own = FileRules.check(f, role: role, secret: secret)
        add(own)
        let parentsSafe = checkParents(of: path, allowOwners: allowParentOwners)
        if own.isEmpty && parentsSafe {
            add(Finding(.ok, check: "file.safe", what: "\(role) and its parent directories are root-owned, not group/other-writable\(secret ? ", not readable by others" : "")",
                        location: path, expected: "safe_path rule", actual: "\(FileRules.octal(f.mode)) uid \(f.uid)"))
        }
    }

    mutating func checkSecrets(_ c: ClientConfig) {
        if case .file(let p) = c.passphrase {
            if AuditOS.facts(p) == nil {
                add(Finding(.fail, check: "file.missing", what: "PASSPHRASE_FILE does not exist", location: p,
                            expected: "a root-owned 0600 file", actual: "missing",
                            fix: "install -o root -g root -m 0600 /dev/null \(p) and write the passphrase into it"))
            } else {
                checkFile(p, role: "passphrase file", secret: true)
            }
        }
        for (k, v) in c.borgEnvironment where k == "BORG_KEY_FILE" && v.hasPrefix("/") {
            checkFile(v, role: "borg key file", secret: true, required: true)
        }
    }

    mutating func checkPaths(_ c: ClientConfig) {
        var missing = 0
        for item in c.paths where AuditOS.facts(item.value) == nil {
            missing += 1
            add(Finding(c.missingPathsAreErrors ? .fail : .warn, check: "paths.exist",
                        what: "a path to back up does not exist", location: "\(c.pathsFile):\(item.line)",
                        expected: "an existing path", actual: item.value,
                        fix: "create \(item.value) or remove the line from \(c.pathsFile)"))
        }
        if missing == 0 {
            add(Finding(.ok, check: "paths.exist", what: "every path in borg_paths exists", location: c.pathsFile,
                        expected: "existing paths", actual: "\(c.paths.count) path(s)"))
        }
    }

    mutating func checkBinaries() {
        guard options.checkBinaries else { return }
        for (i, b) in options.layout.binaries.enumerated() {
            if AuditOS.facts(b) == nil {
                if i == 0 {
                    add(Finding(.fail, check: "file.missing", what: "borgpull-client is not installed (sshd's ForceCommand and the units run it)",
                                location: b, expected: "root-owned 0755 binary", actual: "missing",
                                fix: "apt-get install ./borgpull-client_*.deb  (or make install-client PREFIX=\(options.layout.prefix))"))
                }
                continue
            }
            checkFile(b, role: "borgpull binary")
        }
    }

    /// The seccomp policy borg runs under (SECCOMP_POLICY): present, root-owned, not
    /// group/other-writable up to /, and it parses, lints and resolves. BACKUP refuses otherwise.
    mutating func checkPolicy(_ config: ClientConfig?) {
        let path = config?.seccompPolicy ?? options.layout.seccompPolicy
        guard AuditOS.facts(path) != nil else {
            add(Finding(.fail, check: "policy.present", what: "the seccomp policy is missing, so BACKUP refuses to run borg",
                        location: path, expected: "a root-owned policy file", actual: "missing",
                        fix: "apt-get install --reinstall borgpull-client  (or install -D -m 0644 policy/seccomp/borg.policy \(path))"))
            return
        }
        let failsBefore = findings.filter { $0.severity == .fail }.count
        checkFile(path, role: "seccomp policy")
        // An untrusted file is not worth parsing: its ownership finding says it all.
        guard findings.filter({ $0.severity == .fail }).count == failsBefore else { return }
        do {
            _ = try SeccompPolicyFile.load(path: path)
        } catch {
            add(Finding(.fail, check: "policy.valid", what: "the seccomp policy does not load: \(error)", location: path,
                        expected: "a policy that parses, lints and compiles", actual: "rejected",
                        fix: "restore it from the release: install -m 0644 policy/seccomp/borg.policy \(path)"))
        }
    }

    /// Landlock on this kernel (one syscall): OK with the ABI version; without it WARN under
    /// LANDLOCK=auto (borg runs without that layer) and FAIL under LANDLOCK=required (BACKUP
    /// refuses). In BACKUP's audit too, so the warning reaches its log and `required` stops it
    /// before the pre hook.
    mutating func checkLandlock(_ config: ClientConfig?) {
        let mode = config?.landlock ?? .auto
        let location = config.map { c in c.landlockLine.map { "\(c.envFile):\($0)" } ?? c.envFile } ?? "kernel"
        do {
            add(mode.finding(abi: try Landlock.abiVersion(), location: location))
        } catch {
            add(Finding(.fail, check: "sandbox.landlock", what: "cannot ask the kernel for its Landlock ABI: \(error)",
                        location: location, expected: "an ABI version, or ENOSYS/EOPNOTSUPP", actual: "errno \(error.errno)",
                        fix: "check the kernel (uname -r) and its seccomp/LSM setup for this process"))
        }
    }

    /// The ssh user and the runner; returns the ssh user's account.
    mutating func checkUsers(config: ClientConfig?, sshUserName: String) -> AuditOS.Account? {
        let runnerName = config?.runnerUser ?? "borgpull-runner"
        let ssh = AuditOS.user(sshUserName)
        if let u = ssh {
            if u.uid == 0 {
                add(Finding(.fail, check: "user.ssh", what: "the ssh user must not be root", location: "/etc/passwd: \(u.name)",
                            expected: "an unprivileged account", actual: "uid 0",
                            fix: "set BORG_BACKUP_USER=borgpull and useradd -r -M -d /var/lib/borgpull-home -s /bin/bash borgpull && install -d -o root -g root -m 0755 /var/lib/borgpull-home"))
            } else {
                add(Finding(.ok, check: "user.ssh", what: "the ssh user exists", location: "/etc/passwd: \(u.name)",
                            expected: "an unprivileged account", actual: "uid \(u.uid)"))
            }
            let shells = (AuditOS.read(options.shellsFile) ?? "").split(separator: "\n").map { String($0).auditTrimmed() }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            add(SshdRules.checkShell(user: u.name, shell: u.shell, validShells: shells))
        } else {
            add(Finding(.fail, check: "user.ssh", what: "the ssh user does not exist", location: "/etc/passwd: \(sshUserName)",
                        expected: "an account the server logs in as", actual: "missing",
                        fix: "useradd -r -M -d /var/lib/\(sshUserName)-home -s /bin/bash \(sshUserName) && usermod -p '*' \(sshUserName) && install -d -o root -g root -m 0755 /var/lib/\(sshUserName)-home"))
        }
        if let r = AuditOS.user(runnerName) {
            if r.uid == 0 || r.name == sshUserName {
                add(Finding(.fail, check: "user.runner", what: "borg's runner must be its own unprivileged account",
                            location: "/etc/passwd: \(r.name)", expected: "not root, not the ssh user", actual: "uid \(r.uid)",
                            fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin borgpull-runner; set RUNNER_USER=borgpull-runner"))
            } else {
                add(Finding(.ok, check: "user.runner", what: "the runner user exists", location: "/etc/passwd: \(r.name)",
                            expected: "an unprivileged account", actual: "uid \(r.uid)"))
            }
        } else {
            add(Finding(.fail, check: "user.runner", what: "the runner user (borg runs as it) does not exist",
                        location: "/etc/passwd: \(runnerName)", expected: "an unprivileged account", actual: "missing",
                        fix: "useradd -r -M -d /nonexistent -s /usr/sbin/nologin \(runnerName)"))
        }
        return ssh
    }

    mutating func checkSocket(_ c: ClientConfig, user: AuditOS.Account) {
        let dir = FileRules.parents(of: c.socketPath).first ?? "/"
        let gid = c.sshGroup.flatMap(AuditOS.groupID) ?? user.gid
        let group = AuditOS.groupName(gid) ?? String(gid)
        add(SocketRules.checkDirectory(AuditOS.facts(dir), path: dir, user: user.name, uid: user.uid, group: group,
                                       gid: gid, configDir: c.directory))
        checkParents(of: dir)
        guard let s = AuditOS.facts(c.socketPath) else {
            add(Finding(.ok, check: "socket.file", what: "no forwarded socket now (normal between backups)",
                        location: c.socketPath, expected: "absent or sshd's socket", actual: "absent"))
            return
        }
        let fs = SocketRules.checkSocket(s, user: user.name, uid: user.uid, mask: c.bindMask)
        add(fs)
        guard options.probeLiveSocket, s.kind == .socket, !fs.contains(where: { $0.severity == .fail }) else { return }
        if let peer = AuditOS.peer(of: c.socketPath) {
            if peer.uid == user.uid {
                add(Finding(.ok, check: "socket.peer", what: "the live socket is served by a process of the ssh user (sshd)",
                            location: c.socketPath, expected: "peer uid \(user.uid)", actual: "peer uid \(peer.uid), pid \(peer.pid)"))
            } else {
                add(Finding(.fail, check: "socket.peer", what: "the live socket is served by another user's process",
                            location: c.socketPath, expected: "peer uid \(user.uid) (\(user.name))",
                            actual: "peer uid \(peer.uid), pid \(peer.pid)",
                            fix: "kill \(peer.pid) && rm -f \(c.socketPath)   (and find out who created it)"))
            }
        } else {
            add(Finding(.warn, check: "socket.peer", what: "a stale socket: nobody accepts on it",
                        location: c.socketPath, expected: "sshd accepting, or no socket", actual: "connect failed",
                        fix: "rm -f \(c.socketPath)   (StreamLocalBindUnlink yes also replaces it on the next backup)"))
        }
    }

    /// The ssh user's home (ExposureRules.checkHome).
    mutating func checkHome(_ u: AuditOS.Account) { add(ClientAudit.checkHome(u)) }

    /// The bounded walk for directories the ssh user can create entries in.
    mutating func checkWritable(_ u: AuditOS.Account, socketDirectory: String?) {
        let scan = WritableScan.run(roots: options.writableRoots, credentials: ClientAudit.credentials(u), socketDirectory: socketDirectory,
                                    limits: options.writableLimits, mountInfo: options.mountInfo)
        add(ExposureRules.findings(scan, user: u.name, primaryGID: u.gid, groupName: AuditOS.groupName))
    }

    /// sshd's effective config for the ssh user; returns it when sshd answered.
    mutating func checkSshd(user: String, account: AuditOS.Account?, bindMask: UInt32) -> SshdEffectiveConfig? {
        var argv = [options.sshdBinary, "-T", "-C", "user=\(user),host=localhost,addr=127.0.0.1"]
        if let f = options.sshdConfig { argv += ["-f", f] }
        let source = "sshd -T" + (options.sshdConfig.map { " -f \($0)" } ?? "")
        let out = AuditOS.run(argv)
        guard out.launched, out.status == 0 else {
            let err = out.stderr.auditTrimmed()
            var fix = "sshd -t\(options.sshdConfig.map { " -f \($0)" } ?? "")   (and fix what it reports)"
            if err.contains("privilege separation directory") { fix = "mkdir -p -m 0755 /run/sshd" }
            if !out.launched { fix = "apt-get install openssh-server" }
            add(Finding(.fail, check: "sshd.config", what: "sshd cannot evaluate its configuration", location: source,
                        expected: "exit 0", actual: err.isEmpty ? "exit \(out.status)" : err, fix: fix))
            return nil
        }
        let cfg = SshdEffectiveConfig.parse(out.stdout)
        add(SshdRules.check(cfg, user: user, bindMask: bindMask, source: source,
                            configFile: options.sshdConfig ?? "/etc/ssh/sshd_config", forceCommand: options.layout.forceCommand))
        if let u = account {
            var any = false
            for entry in SshdRules.authorizedKeysFiles(cfg) {
                guard let p = SshdRules.expandKeysPath(entry, user: u.name, uid: u.uid, home: u.home) else { continue }
                guard AuditOS.facts(p) != nil else { continue }
                any = true
                checkFile(p, role: "authorized keys file")
            }
            if !any {
                add(Finding(.fail, check: "sshd.authorizedkeys", what: "no authorized keys file exists: the server cannot log in",
                            location: "\(source): AuthorizedKeysFile", expected: "a root-owned file with the server's key",
                            actual: SshdRules.authorizedKeysFiles(cfg).joined(separator: " "),
                            fix: "install -D -o root -g \(u.name) -m 0640 server_key.pub /etc/ssh/authorized_keys/borg_backup/backup_server_keys"))
            }
        }
        return cfg
    }

    mutating func checkTrigger(user u: AuditOS.Account) {
        let gids = AuditOS.groups(of: u)
        let sudoUser = SudoUser(name: u.name, uid: u.uid, groups: Set(gids.compactMap(AuditOS.groupName)), gids: Set(gids))
        var sources: [SudoersSource] = []
        if let t = AuditOS.read(options.sudoersFile) {
            sources.append(SudoersSource(file: options.sudoersFile, text: t))
        }
        // sudoers(5) @includedir: names ending in ~ or containing a dot are skipped.
        for name in AuditOS.list(options.sudoersDirectory) ?? [] where !name.hasSuffix("~") && !name.contains(".") {
            let p = "\(options.sudoersDirectory)/\(name)"
            if let t = AuditOS.read(p) { sources.append(SudoersSource(file: p, text: t)) }
        }
        let sudo = SudoersRules.check(sources, user: sudoUser)
        add(sudo.findings)
        if sudo.grantsTrigger {
            for s in sources { checkFile(s.file, role: "sudoers file") }
        }
        var polkitGrants = false
        let polkitd = AuditOS.user("polkitd")?.uid
        for d in options.polkitRulesDirectories {
            for name in AuditOS.list(d) ?? [] where name.hasSuffix(".rules") {
                let p = "\(d)/\(name)"
                guard let t = AuditOS.read(p), let r = PolkitRules.check(file: p, text: t, user: u.name) else { continue }
                add(r.findings)
                if r.grantsTrigger {
                    polkitGrants = true
                    // Debian's /etc/polkit-1/rules.d is polkitd:root 0700: polkitd may own it.
                    checkFile(p, role: "polkit rule", allowParentOwners: polkitd.map { [d: $0] } ?? [:])
                }
            }
        }
        if !sudo.grantsTrigger && !polkitGrants {
            add(Finding(.fail, check: "trigger.missing",
                        what: "nothing allows the ssh user to start \(TriggerRules.unit); the ForceCommand will fail",
                        location: (options.polkitRulesDirectories + [options.sudoersDirectory]).joined(separator: ", "),
                        expected: "the polkit rule or the sudoers line", actual: "neither",
                        fix: "install -o root -g root -m 0644 policy/polkit/50-borgpull.rules /etc/polkit-1/rules.d/50-borgpull.rules"))
        }
    }

    mutating func checkUnits() {
        for unit in UnitRules.clientUnits {
            let shipped = "\(options.layout.unitDirectory)/\(unit)"
            // The one systemd loads: the first on the search path (an /etc/systemd/system copy
            // overrides the installation's).
            let loaded = options.unitSearchPath.map { "\($0)/\(unit)" }.first { AuditOS.facts($0) != nil }
            let installed = loaded ?? shipped
            let facts = AuditOS.facts(installed)
            if facts != nil { checkFile(installed, role: "systemd unit", facts: facts) }
            let text = facts?.kind == .regular ? AuditOS.read(installed) : nil
            // /lib/systemd/system is /usr/lib/systemd/system on a merged-/usr system.
            let same = AuditOS.realPath(installed).map { $0 == AuditOS.realPath(shipped) } ?? false
            add(UnitRules.compare(unit: unit, installedPath: installed, installed: text,
                                  shippedPath: shipped, shipped: same ? text : AuditOS.read(shipped)))
            for d in options.unitSearchPath {
                let dropins = "\(d)/\(unit).d"
                for name in AuditOS.list(dropins) ?? [] where name.hasSuffix(".conf") {
                    let p = "\(dropins)/\(name)"
                    checkFile(p, role: "unit drop-in")
                    add(Finding(.warn, check: "units.dropin", what: "a drop-in changes \(unit); review it", location: p,
                                expected: "no drop-in, or one that only adds paths", actual: "present",
                                fix: "systemctl cat \(unit)"))
                }
            }
            if unit == "run-borg-backup.service", options.checkExposure, facts?.kind == .regular {
                let out = AuditOS.run(["/usr/bin/systemd-analyze", "security", "--offline=true", installed])
                let text = out.stdout + out.stderr
                add(UnitRules.checkExposure(UnitRules.exposure(in: text), unit: unit, path: installed, output: text,
                                            threshold: options.exposureThreshold))
            }
        }
    }
}

/// The `borg.version` finding of the client and the server audit (BorgVersion.check).
///
/// Debian's /usr/bin/borg is a setuptools entry script that pins its version
/// (`EASY-INSTALL-ENTRY-SCRIPT: 'borgbackup==1.2.4'`, enforced by pkg_resources at start-up):
/// it is read there. Otherwise borg is asked (about 0.4-0.8 s of Python start-up), started by
/// `init` and collected by `finding()`, so the caller can audit other things meanwhile. Run it
/// only on a binary the audit trusts (root's, safe_path): `--version` runs as root.
struct BorgVersionProbe {
    let binary: String
    let pinned: String?
    let running: AuditOS.Running?

    init(binary: String) {
        self.binary = binary
        pinned = AuditOS.read(binary, limit: 4096).flatMap(BorgVersion.pinnedVersion(entryScript:))
        running = pinned == nil ? AuditOS.Running([binary, "--version"], timeout: 20) : nil
    }

    func finding() -> Finding {
        if let v = pinned { return BorgVersion.check("borg \(v)", binary: binary) }
        guard let out = running?.wait(), out.launched else {
            return Finding(.fail, check: "borg.version", what: "borg is not installed or not executable",
                           location: binary, expected: "borg 1.2.x or 1.4.x", actual: "cannot execute",
                           fix: "apt-get install borgbackup  (or set BORG_BINARY)")
        }
        return BorgVersion.check(out.stdout + out.stderr, binary: binary)
    }
}
