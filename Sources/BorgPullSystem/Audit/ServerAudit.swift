import BorgPullCore
import Glibc

/// The audit of one server config file (`borgpull-check --server-config FILE`).
///
/// It judges the parsed `ServerConfig` (what borgpull-server would run with, defaults included).
///
/// Findings: the config file is root-owned and not group/other-writable (parents too); it
/// parses (`ServerConfig.parse`: REMOTE_HOST, REPO_NAME, REPO_DIR and every value valid); LOCAL_USER exists; REPO_DIR (once
/// initialised) belongs to LOCAL_USER, not writable by group/other (FAIL) nor readable by
/// other (WARN); RUN_DIR belongs to LOCAL_USER, not group/other-writable; the identity file is
/// LOCAL_USER's and 0600/0400; one of the known_hosts files ssh reads (SSH_KNOWN_HOSTS or
/// ~/.ssh/known_hosts{,2}, and /etc/ssh/ssh_known_hosts{,2}) has the client (`ssh-keygen -F`,
/// hashed entries too), and none of them can be changed by others; APPEND_ONLY is yes (WARN when explicitly no); BORG_BINARY is root's (safe_path) and its
/// version is supported and not affected by CVE-2023-36811 (`borg.version`, as on the client).
public enum ServerAudit {
    public struct Options: Sendable {
        public var sshKeygen = "/usr/bin/ssh-keygen"
        /// Where enabled units are looked for (`ROOT/etc/systemd/system/timers.target.wants`).
        public var systemdRoot = ""
        /// ssh's GlobalKnownHostsFile (ssh_config(5) default), read besides the user's files.
        public var globalKnownHosts = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]
        /// The server-wide defaults file (`ServerDefaults.path`).
        public var defaultsFile = ServerDefaults.path
        /// Where the files, accounts and known host keys come from (the OS by default; a staged
        /// machine in the tests).
        public var machine: any AuditMachine = AuditOS.machine
        public init() {}
    }

    public static func run(configFile: String, options: Options = Options()) -> [Finding] {
        var fileOptions = ClientAuditOptions.backup
        fileOptions.machine = options.machine
        var a = Auditor(options: fileOptions)
        let m = options.machine
        a.checkFile(configFile, role: "server config file", required: true)
        guard let facts = m.facts(configFile), facts.kind == .regular, let text = m.read(configFile) else {
            return a.findings
        }
        // The audit judges what the server would run with: the parsed config, its defaults included.
        let c: ServerConfig
        do { c = try ServerConfig.parse(text, file: configFile) } catch {
            a.add(
                Finding(
                    .fail, check: "server.parse", what: error.problem,
                    location: error.line.map { "\(error.file):\($0)" } ?? error.file,
                    expected: "a valid server config", actual: error.problem, fix: error.fix))
            return a.findings
        }
        a.add(
            Finding(
                .ok, check: "server.parse", what: "the server config parses and has its required keys",
                location: configFile, expected: "REMOTE_HOST, REPO_NAME, REPO_DIR", actual: "present"))

        // The config parsed, so its assignments do too; judged against the defaults file as BACKUP does.
        if let env = try? EnvFile.parse(text, file: configFile) {
            operationsFindings(&a, env: env, configFile: configFile, defaultsFile: options.defaultsFile)
        }

        // borg --version takes ~0.4 s: started here, collected at the end (as in the client audit).
        let borgBinary = c.borgBinary
        var borgProbe: BorgVersionProbe? = nil
        if m.facts(borgBinary) == nil {
            a.add(
                Finding(
                    .fail, check: "borg.binary", what: "borg is not installed", location: "\(configFile): BORG_BINARY=\(borgBinary)",
                    expected: "a root-owned borg 1.2.x or 1.4.x", actual: "missing",
                    fix: "apt-get install borgbackup  (or set BORG_BINARY in \(configFile))"))
        } else {
            let failsBefore = a.findings.filter { $0.severity == .fail }.count
            a.checkFile(borgBinary, role: "borg binary")
            if a.findings.filter({ $0.severity == .fail }).count == failsBefore { borgProbe = BorgVersionProbe(binary: borgBinary) }
        }
        func done() -> [Finding] {
            if let p = borgProbe { a.add(p.finding()) }
            return a.findings
        }

        let localName = c.localUser
        let localAccount = m.user(localName)
        a.add(AccountRules.serverUser(localAccount?.facts, name: localName, configFile: configFile))
        guard let local = localAccount else { return done() }

        // REPO_DIR.
        let repo = c.repoDir
        let repoFacts = m.facts(repo)
        a.add(DirectoryRules.repository(repoFacts, path: repo, localName: localName, localUID: local.uid, configFile: configFile))
        if repoFacts != nil { a.checkOwnedParents(of: repo, owners: [0, local.uid]) }

        // RUN_DIR: socat listens there as LOCAL_USER.
        let runDir = c.runDir
        let runDirFacts = m.facts(runDir)
        a.add(DirectoryRules.runDirectory(runDirFacts, path: runDir, localName: localName, localUID: local.uid))
        if runDirFacts != nil { a.checkParents(of: runDir) }

        // ssh identity.
        let home = local.home.hasSuffix("/") ? String(local.home.dropLast()) : local.home
        let identities = c.sshIdentity.map { [$0] } ?? ["id_ed25519", "id_ecdsa", "id_rsa"].map { "\(home)/.ssh/\($0)" }
        var foundIdentity = false
        for id in identities {
            guard let f = m.facts(id) else { continue }
            foundIdentity = true
            if f.kind == .regular && f.uid == local.uid && f.mode & 0o077 == 0 {
                a.add(
                    Finding(
                        .ok, check: "server.identity", what: "the ssh identity is private to LOCAL_USER", location: id,
                        expected: "\(localName), 0600", actual: FileRules.octal(f.mode)))
            } else {
                a.add(
                    Finding(
                        .fail, check: "server.identity", what: "the ssh identity must be a file of LOCAL_USER that nobody else can read",
                        location: id, expected: "regular file of \(localName), mode 0600",
                        actual: "\(f.kind.rawValue), uid \(f.uid), \(FileRules.octal(f.mode))",
                        fix: "chown \(localName) \(id) && chmod 0600 \(id)"))
            }
        }
        if !foundIdentity {
            a.add(
                Finding(
                    .fail, check: "server.identity", what: "no ssh identity for LOCAL_USER",
                    location: identities.joined(separator: ", "), expected: "a private key", actual: "missing",
                    fix: "sudo -u \(localName) ssh-keygen -t ed25519 -N '' -f \(identities[0])"))
        }

        // known_hosts has the client. ssh reads the user's files (UserKnownHostsFile: SSH_KNOWN_HOSTS,
        // else ~/.ssh/known_hosts and known_hosts2) and the global ones (GlobalKnownHostsFile), ssh_config(5).
        let userFiles = c.sshKnownHosts.map { [$0] } ?? ["\(home)/.ssh/known_hosts", "\(home)/.ssh/known_hosts2"]
        let name = c.sshPort == 22 ? c.remoteHost : "[\(c.remoteHost)]:\(c.sshPort)"
        let keyscan = "ssh-keyscan -p \(c.sshPort) \(c.remoteHost) >> \(userFiles[0])"
        var present: [String] = []
        var holder: String?
        for file in userFiles + options.globalKnownHosts {
            guard let f = m.facts(file) else { continue }
            present.append(file)
            if f.mode & 0o022 != 0 || (f.uid != 0 && f.uid != local.uid) {
                a.add(
                    Finding(
                        .fail, check: "server.knownhosts", what: "known_hosts can be changed by others", location: file,
                        expected: "owned by root or \(localName), no group/other write",
                        actual: "uid \(f.uid), \(FileRules.octal(f.mode))", fix: "chown \(localName) \(file) && chmod 0644 \(file)"))
            }
            if holder == nil && m.knowsHost(name, in: file, sshKeygen: options.sshKeygen) { holder = file }
        }
        if let holder {
            a.add(
                Finding(
                    .ok, check: "server.knownhosts", what: "known_hosts has the client's host key", location: holder,
                    expected: "an entry for \(name)", actual: "found"))
        } else if present.isEmpty {
            a.add(
                Finding(
                    .fail, check: "server.knownhosts", what: "the known_hosts file does not exist", location: userFiles[0],
                    expected: "an entry for \(name)", actual: "missing",
                    fix: keyscan + "   (then verify the fingerprint)"))
        } else {
            a.add(
                Finding(
                    .fail, check: "server.knownhosts", what: "known_hosts has no key for the client; ssh (StrictHostKeyChecking=yes) refuses",
                    location: userFiles[0], expected: "an entry for \(name) in \(present.joined(separator: ", "))", actual: "none",
                    fix: keyscan + "   (then compare the fingerprint with the client's: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)"))
        }

        // borg serve options.
        if c.appendOnly {
            a.add(
                Finding(
                    .ok, check: "server.appendonly", what: "borg serve runs with --append-only", location: "\(configFile): APPEND_ONLY",
                    expected: "yes", actual: "yes"))
        } else {
            a.add(
                Finding(
                    .warn, check: "server.appendonly",
                    what: "append-only is off: a compromised client can delete or overwrite its archives",
                    location: "\(configFile): APPEND_ONLY", expected: "yes", actual: "no",
                    fix: "set APPEND_ONLY=yes (prune/compact then run on the server)"))
        }

        // Maintenance: the COMPACT and CHECK timers of this client, and their last records.
        do {
            let config = c
            let base = configFile.split(separator: "/").last.map(String.init) ?? configFile
            let instance = base.hasSuffix(".conf") ? String(base.dropLast(5)) : base
            var enabled: [ServerMode: Bool] = [:]
            var records: [ServerMode: RunRecord] = [:]
            var paths: [ServerMode: String] = [:]
            for mode in [ServerMode.compact, .check] {
                let link = "\(options.systemdRoot)/etc/systemd/system/timers.target.wants/borgpull-\(mode.rawValue.lowercased())@\(instance).timer"
                enabled[mode] = m.facts(link) != nil
                paths[mode] = ServerMaintenance.recordPath(config, mode)
                records[mode] = m.read(ServerMaintenance.recordPath(config, mode), limit: 1 << 20).flatMap(RunRecord.decode)
            }
            a.add(
                MaintenanceAudit.findings(
                    configFile: configFile, instance: instance, enabled: enabled, records: records,
                    recordPaths: paths, now: Double(time(nil))))
            a.add(
                MetricsAudit.finding(
                    configFile: configFile, dir: config.prometheusTextfileDir,
                    facts: config.prometheusTextfileDir.flatMap { m.facts($0) }))
        }
        return done()
    }
}

extension Auditor {
    /// Parents of `path` must be owned by one of `owners` and not group/other-writable.
    mutating func checkOwnedParents(of path: String, owners: Set<UInt32>) {
        for p in FileRules.parents(of: path) {
            guard let f = machine.facts(p) else { continue }
            var fs = FileRules.checkParent(f, of: path)
            if owners.contains(f.uid) { fs.removeAll { $0.check == "dir.owner" } }
            add(fs)
        }
    }
}
