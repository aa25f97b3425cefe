import BorgPullCore

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
            guard let facts = a.machine.facts(p) else {
                if f.isRequired {
                    a.add(
                        Finding(
                            .fail, check: "file.missing", what: "\(f.rawValue) is required", location: p,
                            expected: "a root-owned file", actual: "missing",
                            fix:
                                "create \(p) (see borgpull.conf(5); to restore the package's skeleton: apt-get install --reinstall -o Dpkg::Options::=--force-confmiss borgpull-client)"
                        ))
                }
                continue
            }
            let text = facts.kind == .regular ? a.machine.read(p) : nil
            let secret = f == .env && (text.map(holdsPassphrase) ?? false)
            a.checkFile(p, role: f.isHook ? "hook" : "config file", secret: secret, facts: facts)
            if facts.kind == .regular {
                if let text {
                    texts[f] = text
                } else {
                    a.add(
                        Finding(
                            .fail, check: "file.read", what: "cannot read \(f.rawValue)", location: p,
                            expected: "readable by root", actual: "read failed", fix: "ls -l \(p)"))
                }
                if f.isHook { hookExec[f] = facts.mode & 0o100 != 0 }
            }
        }

        // The configuration itself.
        var config: ClientConfig? = nil
        do {
            let c = try ClientConfig.build(
                ClientConfigInput(
                    directory: dir, texts: texts, hookExecutable: hookExec,
                    layout: options.layout))
            config = c
            a.add(
                Finding(
                    .ok, check: "config.parse", what: "the client configuration is valid", location: dir,
                    expected: "borg_env and list files parse", actual: "valid"))
            // The shipped skeleton parses, but it is not a configuration yet.
            let placeholder: String? =
                c.repository.contains("CHANGE-ME")
                ? "BORG_REPO"
                : (c.passphrase == .inline("CHANGE-ME") ? "BORG_PASSPHRASE" : nil)
            if let key = placeholder {
                a.add(
                    Finding(
                        .fail, check: "config.placeholder", what: "\(key) still holds the skeleton's CHANGE-ME",
                        location: c.envFile, expected: "the real value", actual: "CHANGE-ME",
                        fix: "edit \(key) in \(c.envFile) (see borgpull.conf(5)), then systemctl restart borg-backup-create-directory.service"))
            }
            for n in c.notices {
                a.add(
                    Finding(
                        .warn, check: "config.notice", what: n, location: c.envFile, expected: "no notices",
                        actual: n, fix: "edit the line named in the message"))
            }
        } catch {
            a.add(
                Finding(
                    .fail, check: "config.parse", what: error.problem,
                    location: error.line.map { "\(error.file):\($0)" } ?? error.file,
                    expected: "a valid configuration", actual: error.problem, fix: error.fix))
        }
        if let c = config { borgBinary = c.borgBinary }
        // borg runs as the runner with the passphrase, and `--version` below runs it as root:
        // the binary gets the same rule as hooks (root-owned, not writable by others, up to /).
        let failsBeforeBorg = a.findings.filter { $0.severity == .fail }.count
        if a.machine.facts(borgBinary) == nil {
            a.add(
                Finding(
                    .fail, check: "borg.binary", what: "borg is not installed", location: borgBinary,
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
            if a.machine.facts(c.stateDirectory) != nil { a.checkFile(c.stateDirectory, role: "state directory") } else { a.checkParents(of: c.stateDirectory) }
            if options.checkPaths { a.checkPaths(c) }
            if options.checkKeyExport {
                let path = KeyExport.recordPath(stateDirectory: c.stateDirectory)
                a.add(
                    KeyExport.finding(
                        recordText: a.machine.facts(path) == nil ? nil : (a.machine.read(path) ?? ""), recordPath: path,
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
                a.add(
                    SshdRules.checkAccountLock(
                        user: u.name, passwordField: shadow.password, expireDay: shadow.expire,
                        today: AuditOS.today(), usePAM: usePAM))
            } else {
                a.add(
                    Finding(
                        .warn, check: "user.locked", what: "cannot read \(options.shadowFile) to see whether the ssh user is locked",
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
        return ExposureRules.checkHome(
            home, path: u.home, homeACL: home == nil ? nil : WritableScan.acl(u.home),
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
    /// Where the files and accounts come from (`options.machine`).
    var machine: any AuditMachine { options.machine }
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
            guard let f = machine.facts(p) else { continue }
            var fs = FileRules.checkParent(f, of: path)
            if let uid = allowOwners[p], f.uid == uid { fs.removeAll { $0.check == "dir.owner" } }
            if !fs.isEmpty { safe = false }
            if seenParents.insert(p).inserted || !fs.isEmpty { add(fs) }
        }
        return safe
    }

    /// A security-relevant file or directory and its parents. One OK when all is well.
    mutating func checkFile(
        _ path: String, role: String, secret: Bool = false, required: Bool = false,
        facts: FileFacts? = nil, allowParentOwners: [String: UInt32] = [:]
    ) {
        guard let f = facts ?? machine.facts(path) else {
            if required {
                add(
                    Finding(
                        .fail, check: "file.missing", what: "the \(role) does not exist", location: path,
                        expected: "owned by root, not writable by group or other", actual: "missing",
                        fix: "install -d -o root -g root -m 0700 \(path)"))
            }
            return
        }
        let own = FileRules.check(f, role: role, secret: secret)
        add(own)
        let parentsSafe = checkParents(of: path, allowOwners: allowParentOwners)
        if own.isEmpty && parentsSafe {
            add(
                Finding(
                    .ok, check: "file.safe",
                    what: "\(role) and its parent directories are root-owned, not group/other-writable\(secret ? ", not readable by others" : "")",
                    location: path, expected: "safe_path rule", actual: "\(FileRules.octal(f.mode)) uid \(f.uid)"))
        }
    }

    mutating func checkSecrets(_ c: ClientConfig) {
        if case .file(let p) = c.passphrase {
            if machine.facts(p) == nil {
                add(
                    Finding(
                        .fail, check: "file.missing", what: "PASSPHRASE_FILE does not exist", location: p,
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

    mutating func checkPaths(_ c: ClientConfig) { add(DirectoryRules.paths(c, exists: { machine.facts($0) != nil })) }

    mutating func checkBinaries() {
        guard options.checkBinaries else { return }
        for (i, b) in options.layout.binaries.enumerated() {
            if machine.facts(b) == nil {
                if i == 0 {
                    add(
                        Finding(
                            .fail, check: "file.missing", what: "borgpull-client is not installed (sshd's ForceCommand and the units run it)",
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
        guard machine.facts(path) != nil else {
            add(
                Finding(
                    .fail, check: "policy.present", what: "the seccomp policy is missing, so BACKUP refuses to run borg",
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
            add(
                Finding(
                    .fail, check: "policy.valid", what: "the seccomp policy does not load: \(error)", location: path,
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
            add(
                Finding(
                    .fail, check: "sandbox.landlock", what: "cannot ask the kernel for its Landlock ABI: \(error)",
                    location: location, expected: "an ABI version, or ENOSYS/EOPNOTSUPP", actual: "errno \(error.errno)",
                    fix: "check the kernel (uname -r) and its seccomp/LSM setup for this process"))
        }
    }
}
