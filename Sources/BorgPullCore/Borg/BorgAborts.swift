/// borg's known aborts: the cause behind borg's last line, and the next step.
///
/// borg's own lines name the repository's location and the client's paths, so they stay in the
/// client's log; the result record (which goes to the server) gets the `code` and our own
/// `cause` and `fix` sentences, which hold no path.
///
/// The marker texts are borg's, captured from real runs of borg 1.2.4 (Debian 12) and 1.4.5
/// (PyPI): `Tests/BorgPullCoreTests/BorgAbortsTests.swift` holds them verbatim. Matching is on
/// the start or a fixed part of a line, case-insensitive (1.4 capitalised "Passphrase"), never
/// on a file name that a warning might print.
public enum BorgAbort: String, Sendable, Codable, CaseIterable {
    case repositoryRelocated = "repository-relocated"
    case passphraseWrong = "passphrase-wrong"
    case repositoryMissing = "repository-missing"
    case repositoryPathNotAllowed = "repository-path-not-allowed"
    case lockTimeout = "lock-timeout"
    case cacheNewerThanRepository = "cache-newer-than-repository"
    case unknownUnencryptedRepository = "unknown-unencrypted-repository"
    case connectionClosed = "connection-closed"

    /// The first abort whose marker is in borg's stderr tail (newest line first), or nil.
    public static func match(_ tail: [String]) -> BorgAbort? {
        for line in tail.reversed() {
            let t = line.trimmingBlanks().lowercased()
            for a in allCases where a.matches(t) { return a }
        }
        return nil
    }

    func matches(_ t: String) -> Bool {
        switch self {
        case .repositoryRelocated:
            // "Warning: The repository at location X was previously located at Y", then
            // "Do you want to continue? [yN] Aborting." and "Repository access aborted".
            return (t.hasPrefix("warning: the repository at location ") && t.contains(" was previously located at "))
                || t == "repository access aborted"
        case .passphraseWrong:
            // 1.2: "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."
            // 1.4: "Passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND, or via BORG_PASSPHRASE_FD is incorrect."
            return t.hasPrefix("passphrase supplied in borg_passphrase") && t.hasSuffix("is incorrect.")
        case .repositoryMissing:
            // "Repository ssh://host/path does not exist.", or for a directory without a
            // repository "/path is not a valid repository. Check repo config."
            return (t.hasPrefix("repository ") && t.hasSuffix(" does not exist."))
                || t.hasSuffix(" is not a valid repository. check repo config.")
        case .repositoryPathNotAllowed:
            // borg serve --restrict-to-repository: "Repository path not allowed: /path" (remote.py).
            return t.hasPrefix("repository path not allowed: ")
        case .lockTimeout:
            // "Failed to create/acquire the lock /path/lock.exclusive (timeout)."
            return t.hasPrefix("failed to create/acquire the lock ") && t.hasSuffix("(timeout).")
        case .cacheNewerThanRepository:
            // "Cache, or information obtained from the security directory is newer than repository - ..."
            return t.hasPrefix("cache, or information obtained from the security directory is newer than repository")
        case .unknownUnencryptedRepository:
            // "Warning: Attempting to access a previously unknown unencrypted repository!", then
            // "Do you want to continue? [yN] Aborting." and "Cache initialization aborted".
            return t.hasPrefix("warning: attempting to access a previously unknown unencrypted repository")
                || t == "cache initialization aborted"
        case .connectionClosed:
            // borg's remote.py when the remote side ends: "Connection closed by remote host".
            return t.hasPrefix("connection closed by remote host")
        }
    }

    /// What happened, without a path.
    public var cause: String {
        switch self {
        case .repositoryRelocated:
            return
                "borg remembers the repository under its BORG_REPO URL and refuses a different one: BORG_REPO (its host label or path) changed since the last backup"
        case .passphraseWrong:
            return "the passphrase does not open the repository key"
        case .repositoryMissing:
            return "there is no borg repository at BORG_REPO's path on the server (no such directory, or one that was never initialised)"
        case .repositoryPathNotAllowed:
            return "BORG_REPO's path is not the repository the server serves (borg serve --restrict-to-repository REPO_DIR)"
        case .lockTimeout:
            return "another borg process (a BACKUP, or the server's COMPACT/CHECK) held the repository lock for longer than LOCK_WAIT"
        case .cacheNewerThanRepository:
            return
                "the repository is older than what this client saw last time: it was rolled back or replaced (after an append-only rollback this is expected; otherwise treat it as an attack)"
        case .unknownUnencryptedRepository:
            return "the repository is unencrypted and this client has never used it, so borg refuses it"
        case .connectionClosed:
            return "the server side of the tunnel (borg serve) closed the connection"
        }
    }

    /// The exact next step.
    public var fix: String {
        switch self {
        case .repositoryRelocated:
            return
                "restore the previous BORG_REPO in borg_env; if the change is meant, add `export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes` to borg_env for one BACKUP, then remove the line"
        case .passphraseWrong:
            return "put the repository's passphrase into BORG_PASSPHRASE or PASSPHRASE_FILE (borg_env); check it with: borgpull-client borg info"
        case .repositoryMissing:
            return "compare BORG_REPO's path with the server's REPO_DIR; for a new repository run once: borgpull-client borg init --encryption=repokey-blake2"
        case .repositoryPathNotAllowed:
            return "set the path of BORG_REPO in borg_env to the server's REPO_DIR (borgpull-check --server-config on the server shows it)"
        case .lockTimeout:
            return
                "run BACKUP again later, or raise LOCK_WAIT in borg_env; if nothing runs, the server can remove a stale lock with: borg break-lock REPO_DIR (as LOCAL_USER)"
        case .cacheNewerThanRepository:
            return
                "if the server's admin rolled the repository back on purpose, remove this repository's entries under STATE_DIR/borg/.config/borg/security and STATE_DIR/borg/.cache/borg on the client, then run BACKUP; if not, stop and compare the repository with the server's copy"
        case .unknownUnencryptedRepository:
            return
                "if the unencrypted repository is meant, add `export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes` to borg_env for one BACKUP, then remove the line; better: a new repository with borg init --encryption=repokey-blake2"
        case .connectionClosed:
            return "on the server: journalctl -u borgpull-server@CLIENT shows why borg serve ended; check REPO_DIR and BORG_SERVE_OPTIONS"
        }
    }
}
