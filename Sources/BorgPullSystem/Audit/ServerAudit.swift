import Glibc
import BorgPullCore

/// The audit of one server config file (`borgpull-check --server-config FILE`).
///
/// The file is read with `EnvFile` (the borg_env dialect) and the keys of the server's config
/// (LOCAL_USER, REMOTE_USER, REMOTE_HOST, REPO_NAME, REPO_DIR, RUN_DIR, SOCKET_PATH,
/// REMOTE_SOCKET_PATH, SSH_PORT, SSH_IDENTITY, SSH_KNOWN_HOSTS, APPEND_ONLY) with the server's
/// defaults. Kept in this one file so it can switch to the core's `ServerConfig` once that lands.
///
/// Findings: the config file is root-owned and not group/other-writable (parents too); it
/// parses and has REMOTE_HOST, REPO_NAME, REPO_DIR; LOCAL_USER exists; REPO_DIR (once
/// initialised) belongs to LOCAL_USER, not writable by group/other (FAIL) nor readable by
/// other (WARN); RUN_DIR belongs to LOCAL_USER, not group/other-writable; the identity file is
/// LOCAL_USER's and 0600/0400; known_hosts has the client (`ssh-keygen -F`, hashed entries
/// too); APPEND_ONLY is yes (WARN when explicitly no); BORG_BINARY is root's (safe_path) and its
/// version is supported and not affected by CVE-2023-36811 (`borg.version`, as on the client).
public enum ServerAudit {
    public struct Options: Sendable {
        public var sshKeygen = "/usr/bin/ssh-keygen"
        /// Where enabled units are looked for (`ROOT/etc/systemd/system/timers.target.wants`).
        public var systemdRoot = ""
        public init() {}
    }

    public static func run(configFile: String, options: Options = Options()) -> [Finding] {
        var a = Auditor(options: .backup)
        a.checkFile(configFile, role: "server config file", required: true)
        guard let facts = AuditOS.facts(configFile), facts.kind == .regular, let text = AuditOS.read(configFile) else {
            return a.findings
        }
        let env: EnvFile
        do { env = try EnvFile.parse(text, file: configFile) } catch {
            a.add(Finding(.fail, check: "server.parse", what: error.problem,
                          location: error.line.map { "\(error.file):\($0)" } ?? error.file,
                          expected: "a valid server config", actual: error.problem, fix: error.fix))
            return a.findings
        }
        func value(_ k: String, _ d: String? = nil) -> String? {
            if let v = env[k], !v.isEmpty { return v }
            return d
        }
        var missing: [String] = []
        for k in ["REMOTE_HOST", "REPO_NAME", "REPO_DIR"] where value(k) == nil { missing.append(k) }
        if missing.isEmpty {
            a.add(Finding(.ok, check: "server.parse", what: "the server config parses and has its required keys",
                          location: configFile, expected: "REMOTE_HOST, REPO_NAME, REPO_DIR", actual: "present"))
        } else {
            a.add(Finding(.fail, check: "server.parse", what: "required keys are missing", location: configFile,
                          expected: "REMOTE_HOST, REPO_NAME, REPO_DIR", actual: "missing " + missing.joined(separator: ", "),
                          fix: "add " + missing.map { "\($0)=..." }.joined(separator: ", ")))
        }

        // borg --version takes ~0.4 s: started here, collected at the end (as in the client audit).
        let borgBinary = value("BORG_BINARY", "/usr/bin/borg")!
        var borgProbe: BorgVersionProbe? = nil
        if AuditOS.facts(borgBinary) == nil {
            a.add(Finding(.fail, check: "borg.binary", what: "borg is not installed", location: "\(configFile): BORG_BINARY=\(borgBinary)",
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

        let localName = value("LOCAL_USER", "borg")!
        guard let local = AuditOS.user(localName) else {
            a.add(Finding(.fail, check: "server.user", what: "LOCAL_USER does not exist", location: "\(configFile): LOCAL_USER",
                          expected: "the account that runs borg serve and ssh", actual: localName,
                          fix: "useradd -r -m -d /var/lib/borg_remote_pull -s /usr/sbin/nologin \(localName)"))
            return done()
        }
        a.add(Finding(.ok, check: "server.user", what: "LOCAL_USER exists", location: "\(configFile): LOCAL_USER",
                      expected: "an account", actual: "\(localName) uid \(local.uid)"))
        if local.uid == 0 {
            a.add(Finding(.warn, check: "server.user", what: "borg serve and ssh run as root", location: "\(configFile): LOCAL_USER",
                          expected: "an unprivileged account", actual: "root",
                          fix: "useradd -r -m -s /usr/sbin/nologin borg; set LOCAL_USER=borg; chown -R borg: REPO_DIR"))
        }

        // REPO_DIR.
        if let repo = value("REPO_DIR") {
            if let f = AuditOS.facts(repo) {
                var problems: [(Finding.Severity, String, String)] = []
                if f.kind != .directory { problems.append((.fail, "not a directory", "")) }
                if f.uid != local.uid { problems.append((.fail, "owner uid \(f.uid)", "chown -R \(localName): \(repo)")) }
                if f.mode & 0o022 != 0 { problems.append((.fail, "group/other may write (\(FileRules.octal(f.mode)))", "chmod go-w \(repo)")) }
                if f.mode & 0o007 != 0 && f.mode & 0o022 == 0 {
                    problems.append((.warn, "other users may read (\(FileRules.octal(f.mode)))", "chmod 0700 \(repo)"))
                }
                if problems.isEmpty {
                    a.add(Finding(.ok, check: "server.repo", what: "the repository belongs to LOCAL_USER", location: repo,
                                  expected: "\(localName), 0700", actual: FileRules.octal(f.mode)))
                }
                for p in problems {
                    a.add(Finding(p.0, check: "server.repo", what: "the repository directory's owner or mode", location: repo,
                                  expected: "owned by \(localName), mode 0700", actual: p.1, fix: p.2))
                }
                a.checkOwnedParents(of: repo, owners: [0, local.uid])
            } else {
                a.add(Finding(.warn, check: "server.repo", what: "the repository does not exist yet", location: repo,
                              expected: "an initialised repository", actual: "missing",
                              fix: "borgpull-server -c \(configFile) SERVE, then on the client: borg init --encryption=repokey-blake2"))
            }
        }

        // RUN_DIR: socat listens there as LOCAL_USER.
        let runDir = value("RUN_DIR", "/run/borg")!
        if let f = AuditOS.facts(runDir) {
            if f.kind == .directory && f.uid == local.uid && f.mode & 0o022 == 0 {
                a.add(Finding(.ok, check: "server.rundir", what: "the socket directory belongs to LOCAL_USER", location: runDir,
                              expected: "\(localName), no group/other write", actual: FileRules.octal(f.mode)))
            } else {
                a.add(Finding(.fail, check: "server.rundir", what: "the socket directory's owner or mode lets others plant or remove the socket",
                              location: runDir, expected: "directory of \(localName), no group/other write (the server creates it 0750)",
                              actual: "\(f.kind.rawValue), uid \(f.uid), \(FileRules.octal(f.mode))",
                              fix: "install -d -o \(localName) -m 0750 \(runDir)"))
            }
            a.checkParents(of: runDir)
        } else {
            a.add(Finding(.warn, check: "server.rundir", what: "the socket directory does not exist", location: runDir,
                          expected: "directory of \(localName), 0750", actual: "missing",
                          fix: "install -d -o \(localName) -m 0750 \(runDir)   (or let the first BACKUP create it)"))
        }

        // ssh identity.
        let home = local.home.hasSuffix("/") ? String(local.home.dropLast()) : local.home
        let identities = value("SSH_IDENTITY").map { [$0] } ?? ["id_ed25519", "id_ecdsa", "id_rsa"].map { "\(home)/.ssh/\($0)" }
        var foundIdentity = false
        for id in identities {
            guard let f = AuditOS.facts(id) else { continue }
            foundIdentity = true
            if f.kind == .regular && f.uid == local.uid && f.mode & 0o077 == 0 {
                a.add(Finding(.ok, check: "server.identity", what: "the ssh identity is private to LOCAL_USER", location: id,
                              expected: "\(localName), 0600", actual: FileRules.octal(f.mode)))
            } else {
                a.add(Finding(.fail, check: "server.identity", what: "the ssh identity must be a file of LOCAL_USER that nobody else can read",
                              location: id, expected: "regular file of \(localName), mode 0600",
                              actual: "\(f.kind.rawValue), uid \(f.uid), \(FileRules.octal(f.mode))",
                              fix: "chown \(localName) \(id) && chmod 0600 \(id)"))
            }
        }
        if !foundIdentity {
            a.add(Finding(.fail, check: "server.identity", what: "no ssh identity for LOCAL_USER",
                          location: identities.joined(separator: ", "), expected: "a private key", actual: "missing",
                          fix: "sudo -u \(localName) ssh-keygen -t ed25519 -N '' -f \(identities[0])"))
        }

        // known_hosts has the client.
        let knownHosts = value("SSH_KNOWN_HOSTS", "\(home)/.ssh/known_hosts")!
        if let host = value("REMOTE_HOST") {
            let port = value("SSH_PORT", "22")!
            let name = port == "22" ? host : "[\(host)]:\(port)"
            if let f = AuditOS.facts(knownHosts) {
                if f.mode & 0o022 != 0 || (f.uid != 0 && f.uid != local.uid) {
                    a.add(Finding(.fail, check: "server.knownhosts", what: "known_hosts can be changed by others", location: knownHosts,
                                  expected: "owned by root or \(localName), no group/other write",
                                  actual: "uid \(f.uid), \(FileRules.octal(f.mode))", fix: "chown \(localName) \(knownHosts) && chmod 0644 \(knownHosts)"))
                }
                let out = AuditOS.run([options.sshKeygen, "-F", name, "-f", knownHosts])
                if out.status == 0 && !out.stdout.isEmpty {
                    a.add(Finding(.ok, check: "server.knownhosts", what: "known_hosts has the client's host key", location: knownHosts,
                                  expected: "an entry for \(name)", actual: "found"))
                } else {
                    a.add(Finding(.fail, check: "server.knownhosts", what: "known_hosts has no key for the client; ssh (StrictHostKeyChecking=yes) refuses",
                                  location: knownHosts, expected: "an entry for \(name)", actual: "none",
                                  fix: "ssh-keyscan -p \(port) \(host) >> \(knownHosts)   (then compare the fingerprint with the client's: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)"))
                }
            } else {
                a.add(Finding(.fail, check: "server.knownhosts", what: "the known_hosts file does not exist", location: knownHosts,
                              expected: "an entry for \(name)", actual: "missing",
                              fix: "ssh-keyscan -p \(port) \(host) >> \(knownHosts)   (then verify the fingerprint)"))
            }
        }

        // borg serve options.
        let appendOnly = value("APPEND_ONLY", "yes")!.lowercased()
        switch appendOnly {
        case "yes", "true", "1":
            a.add(Finding(.ok, check: "server.appendonly", what: "borg serve runs with --append-only", location: "\(configFile): APPEND_ONLY",
                          expected: "yes", actual: appendOnly))
        case "no", "false", "0":
            a.add(Finding(.warn, check: "server.appendonly",
                          what: "append-only is off: a compromised client can delete or overwrite its archives",
                          location: "\(configFile): APPEND_ONLY", expected: "yes", actual: appendOnly,
                          fix: "set APPEND_ONLY=yes (prune/compact then run on the server)"))
        default:
            a.add(Finding(.fail, check: "server.appendonly", what: "APPEND_ONLY must be yes or no", location: "\(configFile): APPEND_ONLY",
                          expected: "yes or no", actual: appendOnly, fix: "set APPEND_ONLY=yes"))
        }

        // Maintenance: the COMPACT and CHECK timers of this client, and their last records.
        if let config = try? ServerConfig.parse(text, file: configFile) {
            let base = configFile.split(separator: "/").last.map(String.init) ?? configFile
            let instance = base.hasSuffix(".conf") ? String(base.dropLast(5)) : base
            var enabled: [ServerMode: Bool] = [:]
            var records: [ServerMode: RunRecord] = [:]
            var paths: [ServerMode: String] = [:]
            for mode in [ServerMode.compact, .check] {
                let link = "\(options.systemdRoot)/etc/systemd/system/timers.target.wants/borgpull-\(mode.rawValue.lowercased())@\(instance).timer"
                enabled[mode] = AuditOS.facts(link) != nil
                paths[mode] = ServerMaintenance.recordPath(config, mode)
                records[mode] = ServerMaintenance.lastRecord(config, mode)
            }
            a.add(MaintenanceAudit.findings(configFile: configFile, instance: instance, enabled: enabled, records: records,
                                            recordPaths: paths, now: Double(time(nil))))
            a.add(MetricsAudit.finding(configFile: configFile, dir: config.prometheusTextfileDir,
                                       facts: config.prometheusTextfileDir.flatMap { AuditOS.facts($0) }))
        }
        return done()
    }
}

extension Auditor {
    /// Parents of `path` must be owned by one of `owners` and not group/other-writable.
    mutating func checkOwnedParents(of path: String, owners: Set<UInt32>) {
        for p in FileRules.parents(of: path) {
            guard let f = AuditOS.facts(p) else { continue }
            var fs = FileRules.checkParent(f, of: path)
            if owners.contains(f.uid) { fs.removeAll { $0.check == "dir.owner" } }
            add(fs)
        }
    }
}
