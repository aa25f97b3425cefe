/// The directories the audit judges by owner and mode beyond the safe_path rule: the server's
/// repository and socket directory, and the client's borg_paths entries.
public enum DirectoryRules {
    /// REPO_DIR (`server.repo`): a directory of LOCAL_USER (`localName`, uid `localUID`), not
    /// writable by group or other (FAIL), not readable by other (WARN); a WARN when it does not
    /// exist yet. `facts`: lstat(2) of `path`, nil when absent. Why: whoever may write there can
    /// destroy the archives, whoever may read there holds the encrypted repository.
    public static func repository(
        _ facts: FileFacts?, path repo: String, localName: String, localUID: UInt32,
        configFile: String
    ) -> [Finding] {
        guard let f = facts else {
            return [
                Finding(
                    .warn, check: "server.repo", what: "the repository does not exist yet", location: repo,
                    expected: "an initialised repository", actual: "missing",
                    fix: "borgpull-server -c \(configFile) SERVE, then on the client: borg init --encryption=repokey-blake2")
            ]
        }
        var problems: [(Finding.Severity, String, String)] = []
        if f.kind != .directory { problems.append((.fail, "not a directory", "")) }
        if f.uid != localUID { problems.append((.fail, "owner uid \(f.uid)", "chown -R \(localName): \(repo)")) }
        if f.mode & 0o022 != 0 { problems.append((.fail, "group/other may write (\(FileRules.octal(f.mode)))", "chmod go-w \(repo)")) }
        if f.mode & 0o007 != 0 && f.mode & 0o022 == 0 {
            problems.append((.warn, "other users may read (\(FileRules.octal(f.mode)))", "chmod 0700 \(repo)"))
        }
        if problems.isEmpty {
            return [
                Finding(
                    .ok, check: "server.repo", what: "the repository belongs to LOCAL_USER", location: repo,
                    expected: "\(localName), 0700", actual: FileRules.octal(f.mode))
            ]
        }
        return problems.map { p in
            Finding(
                p.0, check: "server.repo", what: "the repository directory's owner or mode", location: repo,
                expected: "owned by \(localName), mode 0700", actual: p.1, fix: p.2)
        }
    }

    /// RUN_DIR (`server.rundir`), where socat listens as LOCAL_USER: a directory of LOCAL_USER
    /// not writable by group or other (FAIL otherwise); a WARN when it does not exist (the first
    /// BACKUP creates it). Why: whoever may write there can plant or remove the socket.
    public static func runDirectory(_ facts: FileFacts?, path runDir: String, localName: String, localUID: UInt32) -> Finding {
        guard let f = facts else {
            return Finding(
                .warn, check: "server.rundir", what: "the socket directory does not exist", location: runDir,
                expected: "directory of \(localName), 0750", actual: "missing",
                fix: "install -d -o \(localName) -m 0750 \(runDir)   (or let the first BACKUP create it)")
        }
        if f.kind == .directory && f.uid == localUID && f.mode & 0o022 == 0 {
            return Finding(
                .ok, check: "server.rundir", what: "the socket directory belongs to LOCAL_USER", location: runDir,
                expected: "\(localName), no group/other write", actual: FileRules.octal(f.mode))
        }
        return Finding(
            .fail, check: "server.rundir", what: "the socket directory's owner or mode lets others plant or remove the socket",
            location: runDir, expected: "directory of \(localName), no group/other write (the server creates it 0750)",
            actual: "\(f.kind.rawValue), uid \(f.uid), \(FileRules.octal(f.mode))",
            fix: "install -d -o \(localName) -m 0750 \(runDir)")
    }

    /// Every borg_paths entry exists (`paths.exist`): one finding per missing entry, FAIL, or
    /// WARN under MISSING_PATHS=warn; one OK when none is missing. `exists` answers for one
    /// path (lstat(2) on the machine, a fake in tests).
    public static func paths(_ c: ClientConfig, exists: (String) -> Bool) -> [Finding] {
        var findings: [Finding] = []
        for item in c.paths where !exists(item.value) {
            findings.append(
                Finding(
                    c.missingPathsAreErrors ? .fail : .warn, check: "paths.exist",
                    what: "a path to back up does not exist", location: "\(c.pathsFile):\(item.line)",
                    expected: "an existing path", actual: item.value,
                    fix: "create \(item.value) or remove the line from \(c.pathsFile)"))
        }
        if findings.isEmpty {
            findings.append(
                Finding(
                    .ok, check: "paths.exist", what: "every path in borg_paths exists", location: c.pathsFile,
                    expected: "existing paths", actual: "\(c.paths.count) path(s)"))
        }
        return findings
    }
}
