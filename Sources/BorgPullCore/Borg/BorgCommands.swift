/// The borg command-line dialects this type can speak. The product uses `.borg1` only
/// (README "borg versions": borg 2 is not supported, `borg.version` FAILs); `.borg2Beta` is
/// the borg 2 spike's profile, used by its system test (README "Borg 2").
public enum BorgProfile: String, Sendable, CaseIterable {
    /// borg 1.2 / 1.4: `ssh://` repositories spoken to with borg's RPC over the remote shell,
    /// `borg serve --append-only`, archives as `::NAME`, prune's `--glob-archives`.
    case borg1
    /// borg 2.0.0b23: `rest://HOST/PATH` repositories, served by `borg serve --rest --backend
    /// FILE:PATH` (HTTP over the remote shell's stdin/stdout), `--permissions` instead of
    /// `--append-only`, the archive as a plain NAME argument, prune's `--match-archives`.
    /// (2.0.0b25 spells the same URL `ssh://`; b24 and later need OpenSSL >= 3.2.)
    case borg2Beta
}

/// The one place that decides borg's argv and environment for the client.
///
/// Sources: borg 1.2 usage (`borg create`, `borg prune`, "Environment Variables",
/// "Placeholders"); for `.borg2Beta` borg 2.0.0b23's usage of the same commands.
public struct BorgCommands: Sendable {
    public var config: ClientConfig
    /// The dialect of the argv built here (default `.borg1`, the only one the product runs).
    public var profile: BorgProfile
    /// argv of the relay borg starts as its remote shell, e.g. `["/usr/local/bin/borgpull-client", "relay", ...]`.
    public var relayCommand: [String]
    /// The directory borg keeps its cache, security and key files in (`BORG_BASE_DIR`).
    public var baseDirectory: String
    /// Set when AF_INET is blocked, so borg's stale-lock detection still has a stable host id.
    public var hostID: String?

    public init(
        config: ClientConfig, relayCommand: [String], baseDirectory: String, hostID: String? = nil,
        profile: BorgProfile = .borg1
    ) {
        self.config = config
        self.profile = profile
        self.relayCommand = relayCommand
        self.baseDirectory = baseDirectory
        self.hostID = hostID
    }

    /// `borg create --json --lock-wait N OPTIONS [--patterns-from F] [--exclude-from F] ::PREFIX-{now} PATHS...`
    /// (the repository comes from `BORG_REPO`). `paths` are the borg_paths entries to archive.
    public func create(paths: [String]) -> [String] {
        var argv = [config.borgBinary, "create", "--json", "--lock-wait", String(config.lockWait)]
        argv += config.createOptions
        if let p = config.patternsFile { argv += ["--patterns-from", p] }
        if let e = config.excludesFile { argv += ["--exclude-from", e] }
        // borg 2 takes the archive name as a word of its own (no `::`); placeholders still expand.
        argv.append(profile == .borg1 ? "::" + config.archiveTemplate : config.archiveTemplate)
        // `--` ends options: a path starting with '-' is still a path.
        argv.append("--")
        argv += paths
        return argv
    }

    /// `borg prune --lock-wait N --list --glob-archives=PREFIX-<timestamp> --keep-... OPTIONS`.
    /// The archive filter is always present and matches only this host's own archive names
    /// (`ClientConfig.pruneGlob`): without it prune would delete other hosts' archives.
    public func prune() -> [String] {
        // borg 2 dropped --glob-archives; --match-archives=sh:GLOB is the same shell pattern.
        let filter = profile == .borg1 ? "--glob-archives=\(config.pruneGlob)" : "--match-archives=sh:\(config.pruneGlob)"
        var argv = [config.borgBinary, "prune", "--lock-wait", String(config.lockWait), "--list", filter]
        for r in config.retention { argv += ["--\(r.option)", r.value] }
        argv += config.pruneOptions
        return argv
    }

    /// `BORG_REPO` as this profile's borg spells the configured `ssh://HOST/PATH` (borg 2.0.0b23
    /// serves the same location as `rest://HOST/PATH`; either way the relay ignores the host).
    public var repositoryURL: String {
        switch profile {
        case .borg1: return config.repository
        case .borg2Beta: return "rest://" + config.repository.dropFirst("ssh://".count)
        }
    }

    /// Any other borg command for `borgpull-client borg ...` (the admin's throw-away shell).
    public func passthrough(_ args: [String]) -> [String] { [config.borgBinary] + args }

    /// The environment borg runs with: nothing inherited (only `BORG_*` keys of `borg_env`, then
    /// the values below, which win).
    ///
    /// Why `PYTHONNOUSERSITE=1`: Debian's `/usr/bin/borg` starts `python3` without `-s`/`-I`, so
    /// Python would load `*.pth` files (code) from `$HOME/.local/lib/python3.X/site-packages`
    /// (Python docs, `site` module). HOME is borg's base directory, which the runner writes: a
    /// planted `.pth` would run in every later borg. No `PYTHON*` variable is ever inherited
    /// (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME), since the environment is built from nothing.
    /// - Parameter passphraseFD: the descriptor number borg reads the passphrase from, if any.
    public func environment(passphraseFD: Int32?) -> [String: String] {
        var env: [String: String] = [:]
        for (k, v) in config.borgEnvironment { env[k] = v }
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        env["LANG"] = "C.UTF-8"
        env["PYTHONNOUSERSITE"] = "1"
        env["HOME"] = baseDirectory
        env["BORG_BASE_DIR"] = baseDirectory
        // Python's tempfile (borg's cache-sync index, the remote repository cache) would use
        // /tmp, which Landlock keeps read-only to borg: its temporary files go beneath the base
        // directory, the one place it may write (measured: borg create makes /tmp/tmpXXXX/idx).
        env["TMPDIR"] = baseDirectory
        env["BORG_REPO"] = repositoryURL
        env["BORG_RSH"] = ShellQuote.join(relayCommand)
        if let passphraseFD { env["BORG_PASSPHRASE_FD"] = String(passphraseFD) }
        if case .command(let c) = config.passphrase { env["BORG_PASSCOMMAND"] = c }
        if let hostID { env["BORG_HOST_ID"] = hostID }
        return env
    }
}

/// POSIX shell single-quoting, which borg's `shlex.split` of BORG_RSH undoes exactly.
public enum ShellQuote {
    public static func quote(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/._-=:,+@".contains($0)) }) {
            return s
        }
        return "'" + s.replacing("'", with: "'\\''") + "'"
    }

    public static func join(_ argv: [String]) -> String { argv.map(quote).joined(separator: " ") }
}
