/// sshd's effective configuration for one connection, as printed by
/// `sshd -T -C user=U,host=H,addr=A [-f FILE]`.
///
/// Shape of the input (sshd(8) `-T`, OpenSSH 9.2): one setting per line, the keyword in lower
/// case, one space, then the value exactly as sshd uses it (`forcecommand none` when unset,
/// `authorizedkeysfile` with its space-separated list, `permitlisten none` or a list). A keyword
/// that can repeat (`hostkey`, `listenaddress` ...) appears on several lines; all values are kept.
public struct SshdEffectiveConfig: Sendable, Equatable {
    /// Lower-case keyword to the values of its lines, in output order.
    public var values: [String: [String]]

    public init(values: [String: [String]]) { self.values = values }

    /// Parses `sshd -T` output. Blank lines are skipped; a line without a value maps to "".
    public static func parse(_ text: String) -> SshdEffectiveConfig {
        var values: [String: [String]] = [:]
        for raw in text.split(separator: "\n") {
            let line = String(raw).trimmingBlanks()
            if line.isEmpty { continue }
            let key: String
            let value: String
            if let sp = line.firstIndex(where: { $0 == " " || $0 == "\t" }) {
                key = String(line[..<sp]).lowercased()
                value = String(line[sp...]).trimmingBlanks()
            } else {
                key = line.lowercased()
                value = ""
            }
            values[key, default: []].append(value)
        }
        return SshdEffectiveConfig(values: values)
    }

    /// The first value of `key` (lower case), if printed.
    public subscript(key: String) -> String? { values[key]?.first }
}

/// Judgement of sshd's effective settings for the ssh user (sshd_config(5), OpenSSH 9.2).
///
/// FAIL: what breaks the pull backup or gives whoever holds the server's key more than the
/// forwarded socket and the trigger (ForceCommand, stream-local and TCP forwarding, PermitListen,
/// StreamLocalBindUnlink, StreamLocalBindMask, DisableForwarding, environment passing: AcceptEnv,
/// PermitUserEnvironment, a SetEnv of a variable that changes what the login shell runs). WARN:
/// defence in depth that the ForceCommand already covers (PermitTTY, agent and X11 forwarding,
/// PermitUserRC, PermitTunnel, ExposeAuthInfo, keys from the user's home or a command).
public enum SshdRules {
    /// Whether `command` is borgpull's trigger with only its documented options (README, "Client
    /// side: sshd and the trigger"): an absolute `.../borgpull-client trigger`, then `--via
    /// systemd|sudo|sudo-client|direct`, `--result FILE`, `--configs DIR`, `--client PATH` (absolute)
    /// and `--unit NAME.service`, as `--opt value` or `--opt=value`. Anything else may run more.
    public static func isTrigger(_ command: String) -> Bool {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count >= 2, words[0].hasPrefix("/"), words[0].hasSuffix("/borgpull-client"),
            words[1] == "trigger"
        else { return false }
        var pairs: [(String, String)] = []
        var i = 2
        while i < words.count {
            let w = words[i]
            if let eq = w.firstIndex(of: "=") {
                pairs.append((String(w[..<eq]), String(w[w.index(after: eq)...])))
                i += 1
            } else {
                guard i + 1 < words.count else { return false }
                pairs.append((w, words[i + 1]))
                i += 2
            }
        }
        for (option, value) in pairs {
            switch option {
            case "--via": guard ["systemd", "sudo", "sudo-client", "direct"].contains(value) else { return false }
            case "--result", "--configs", "--client":
                guard value.hasPrefix("/"), !value.contains(where: { "*?[$`;&|<>".contains($0) }) else { return false }
            case "--unit":
                guard value.hasSuffix(".service"), value.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }) else { return false }
            default: return false
            }
        }
        return true
    }

    /// Findings for the effective config of `user`.
    /// - Parameters:
    ///   - config: parsed `sshd -T -C user=...` output.
    ///   - user: the ssh user (`BORG_BACKUP_USER`), for messages and fixes.
    ///   - bindMask: the StreamLocalBindMask the runner needs (`STREAM_LOCAL_BIND_MASK`, 0117).
    ///   - source: where the config came from, e.g. `sshd -T -f /etc/ssh/sshd_config`.
    ///   - configFile: the sshd_config file named in fixes.
    ///   - forceCommand: the expected ForceCommand, borgpull's own (policy/sshd/borgpull.conf;
    ///     `InstallLayout.forceCommand`). It never reads SSH_ORIGINAL_COMMAND.
    public static func check(
        _ config: SshdEffectiveConfig, user: String, bindMask: UInt32 = 0o117,
        source: String, configFile: String = "/etc/ssh/sshd_config",
        forceCommand: String = InstallLayout.packaged.forceCommand
    ) -> [Finding] {
        var out: [Finding] = []
        let matchBlock = "the `Match User \(user)` block of \(configFile)"
        func add(
            _ sev: Finding.Severity, _ id: String, _ what: String, key: String, expected: String,
            actual: String?, fix: String
        ) {
            out.append(
                Finding(
                    sev, check: "sshd.\(id)", what: what, location: "\(source): \(key)",
                    expected: expected, actual: actual ?? "(not printed)",
                    fix: sev == .ok ? "" : fix))
        }
        func norm(_ s: String?) -> String? {
            s.map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
        }

        // ForceCommand: exactly ours.
        let fc = norm(config["forcecommand"])
        add(
            fc == norm(forceCommand) || fc.map(isTrigger) == true ? .ok : .fail, "forcecommand",
            "the ssh user may only run borgpull's trigger", key: "ForceCommand", expected: forceCommand,
            actual: fc, fix: "set `ForceCommand \(forceCommand)` in \(matchBlock)")

        // DisableForwarding overrides every other forwarding setting.
        let disable = config["disableforwarding"]?.lowercased()
        if disable == "yes" {
            add(
                .fail, "disableforwarding", "DisableForwarding yes blocks the forwarded borg socket",
                key: "DisableForwarding", expected: "no", actual: disable,
                fix: "set `DisableForwarding no` in \(matchBlock)")
        }

        // Allow…Forwarding: remote only. OK for `remote`, a FAIL naming what local forwarding
        // (`yes`, `all`) would grant, a FAIL from `other` (given the value) for anything else.
        func remoteOnly(
            _ id: String, key: String, granted: String, local: String, other: (String?) -> String,
            failExpected: String, fix: String
        ) {
            let value = config[key.lowercased()]?.lowercased()
            switch value {
            case "remote": add(.ok, id, granted, key: key, expected: "remote", actual: value, fix: "")
            case "yes", "all": add(.fail, id, local, key: key, expected: failExpected, actual: value, fix: fix)
            default: add(.fail, id, other(value), key: key, expected: failExpected, actual: value, fix: fix)
            }
        }
        remoteOnly(
            "streamlocalforwarding", key: "AllowStreamLocalForwarding",
            granted: "the server may bind the borg socket here (-R)",
            local: "local Unix-socket forwarding (-L) lets the server's key reach every socket the ssh user can open",
            other: { _ in "the server cannot bind the borg socket (-R) here" }, failExpected: "remote",
            fix: "set `AllowStreamLocalForwarding remote` in \(matchBlock)")

        // AllowTcpForwarding remote (no and local block stream-local -R too, measured on 9.2p1),
        // with PermitListen none so no TCP port can be bound.
        remoteOnly(
            "tcpforwarding", key: "AllowTcpForwarding",
            granted: "TCP forwarding is limited to remote (needed for stream-local -R)",
            local: "local TCP forwarding (-L) lets the server's key open connections from this host",
            other: { "AllowTcpForwarding \($0 ?? "?") also blocks the stream-local -R the backup needs" },
            failExpected: "remote (with PermitListen none)",
            fix: "set `AllowTcpForwarding remote` and `PermitListen none` in \(matchBlock)")
        let pl = norm(config["permitlisten"])?.lowercased()
        add(
            pl == "none" ? .ok : .fail, "permitlisten", "no TCP port may be bound by the server's -R",
            key: "PermitListen", expected: "none", actual: pl,
            fix: "set `PermitListen none` in \(matchBlock)")

        let unlink = config["streamlocalbindunlink"]?.lowercased()
        add(
            unlink == "yes" ? .ok : .fail, "streamlocalbindunlink",
            "sshd must replace a stale socket, or the next backup fails with \"Address already in use\"",
            key: "StreamLocalBindUnlink", expected: "yes", actual: unlink,
            fix: "set `StreamLocalBindUnlink yes` in \(matchBlock)")

        let maskText = config["streamlocalbindmask"]
        let mask = maskText.flatMap { UInt32($0, radix: 8) }
        let expectedMask = FileRules.octal(bindMask)
        if let mask, mask == bindMask, mask & 0o007 == 0o007 {
            add(
                .ok, "streamlocalbindmask", "the socket is reachable by the ssh user's group only",
                key: "StreamLocalBindMask", expected: expectedMask, actual: maskText, fix: "")
        } else if let mask, mask & 0o007 != 0o007 {
            add(
                .fail, "streamlocalbindmask", "the forwarded socket would be reachable by every local user",
                key: "StreamLocalBindMask", expected: expectedMask, actual: maskText,
                fix: "set `StreamLocalBindMask \(expectedMask)` in \(matchBlock)")
        } else {
            add(
                .fail, "streamlocalbindmask",
                "the runner user reaches the socket through the ssh user's group; the mask must match STREAM_LOCAL_BIND_MASK",
                key: "StreamLocalBindMask", expected: expectedMask, actual: maskText,
                fix: "set `StreamLocalBindMask \(expectedMask)` in \(matchBlock) (and STREAM_LOCAL_BIND_MASK=\(expectedMask) in borg_env)")
        }

        // Defence in depth.
        func mustBeNo(_ key: String, _ name: String, _ id: String, _ what: String) {
            let v = config[key]?.lowercased()
            add(
                v == "no" ? .ok : .warn, id, what, key: name, expected: "no", actual: v,
                fix: "set `\(name) no` in \(matchBlock)")
        }
        mustBeNo("permittty", "PermitTTY", "permittty", "the ssh user needs no terminal")
        mustBeNo("allowagentforwarding", "AllowAgentForwarding", "agentforwarding", "no agent forwarding for the ssh user")
        mustBeNo("x11forwarding", "X11Forwarding", "x11forwarding", "no X11 forwarding for the ssh user")
        mustBeNo("permituserrc", "PermitUserRC", "permituserrc", "~/.ssh/rc of the ssh user must not run before the ForceCommand")
        mustBeNo("permittunnel", "PermitTunnel", "permittunnel", "no tun/tap forwarding for the ssh user")

        out += checkEnvironment(config, matchBlock: matchBlock, configFile: configFile, source: source)

        // Keys: one root-owned file outside the user's home, no command.
        let akf = norm(config["authorizedkeysfile"]) ?? ""
        let files = authorizedKeysFiles(config)
        let relative = files.filter { !$0.hasPrefix("/") && !$0.hasPrefix("%h") && !$0.hasPrefix("~") }
        let inHome = files.filter { $0.hasPrefix("%h") || $0.hasPrefix("~") || !$0.hasPrefix("/") }
        if files.isEmpty {
            add(
                .warn, "authorizedkeysfile", "no authorized keys file: the server cannot log in",
                key: "AuthorizedKeysFile", expected: "/etc/ssh/authorized_keys/borg_backup/backup_server_keys",
                actual: akf, fix: "set `AuthorizedKeysFile /etc/ssh/authorized_keys/borg_backup/backup_server_keys` in \(matchBlock)")
        } else if !inHome.isEmpty || !relative.isEmpty {
            add(
                .warn, "authorizedkeysfile",
                "keys in the ssh user's home can be changed by that user; keep them in a root-owned file",
                key: "AuthorizedKeysFile", expected: "/etc/ssh/authorized_keys/borg_backup/backup_server_keys",
                actual: akf, fix: "set `AuthorizedKeysFile /etc/ssh/authorized_keys/borg_backup/backup_server_keys` in \(matchBlock)")
        } else {
            add(
                .ok, "authorizedkeysfile", "the server's key is read from a file outside the ssh user's home",
                key: "AuthorizedKeysFile", expected: "absolute path(s)", actual: akf, fix: "")
        }
        let akc = config["authorizedkeyscommand"]
        if let akc, akc.lowercased() != "none" {
            add(
                .warn, "authorizedkeyscommand", "keys also come from a command; the audit cannot judge them",
                key: "AuthorizedKeysCommand", expected: "none", actual: akc,
                fix: "set `AuthorizedKeysCommand none` in \(matchBlock)")
        }
        return out
    }

    /// The AcceptEnv value the Match block sets (policy/sshd/borgpull.conf).
    ///
    /// OpenSSH 9.2 has no empty AcceptEnv. A Match block's list replaces the global one
    /// (servconf.c `copy_set_server_options`, `M_CP_STRARRAYOPT(accept_env)`), so this line
    /// cancels Debian's stock `AcceptEnv LANG LC_*` for the ssh user. Without `*` or `?` the
    /// pattern is a literal name (session.c `session_env_req`, `match_pattern`): only a variable
    /// called `none` passes, and nothing (bash, glibc, the Swift runtime, the trigger) reads it.
    public static let acceptEnvNone = "none"

    /// Why `SetEnv NAME=VALUE` is dangerous for the ssh user, or nil when it is not.
    ///
    /// sshd applies SetEnv after its own USER, HOME and PATH (session.c `do_setup_env`), then
    /// runs the ForceCommand as `bash -c COMMAND`; borgpull-client starts systemctl and sudo with
    /// a fixed environment, so what matters is what bash, the dynamic loader, glibc and the Swift
    /// runtime read at start-up (and interpreters, should an admin wrap the ForceCommand in a
    /// script). Every entry names the program that would run other code because of it.
    public static func dangerousSetEnv(name: String, value: String) -> String? {
        // bash: startup files and options (bash(1) INVOCATION, SHELLOPTS, BASHOPTS, PS4 with
        // xtrace runs command substitutions, exported functions BASH_FUNC_*); Debian's bash
        // sources $HOME/.bashrc when SSH_CLIENT is set, so HOME picks the file it runs.
        let exact: [String: String] = [
            "BASH_ENV": "bash -c runs the file it names", "ENV": "sh and bash in POSIX mode run the file it names",
            "SHELLOPTS": "sets bash options (xtrace, ...) before the command", "BASHOPTS": "sets bash shopt options before the command",
            "PS4": "bash expands it (command substitution) for every traced command",
            "BASH_XTRACEFD": "redirects bash's trace output to any descriptor",
            "HOME": "Debian's bash sources $HOME/.bashrc for a command sshd runs",
            // glibc: gconv modules, locale and message catalogues loaded from a path, host
            // aliases, tunables (CVE-2023-4911 was an overflow in their parser).
            "GCONV_PATH": "glibc loads iconv modules (shared objects) from it", "LOCPATH": "glibc loads locales from it",
            "NLSPATH": "glibc reads message catalogues from it", "HOSTALIASES": "glibc's resolver reads the file it names",
            "GLIBC_TUNABLES": "the dynamic loader parses it before anything runs",
            "NODE_OPTIONS": "node runs the modules it names"
        ]
        if let why = exact[name] { return why }
        // The dynamic loader (ld.so(8): LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT ...), bash's
        // exported functions, the Swift runtime (SWIFT_BACKTRACE can name a program it starts
        // on a crash), interpreters (PYTHONPATH, PYTHONSTARTUP, PERL5LIB, PERL5OPT, RUBYOPT ...).
        let prefixes: [(String, String)] = [
            ("LD_", "the dynamic loader loads or audits code because of it"),
            ("BASH_FUNC_", "bash imports it as a function"),
            ("SWIFT_", "the Swift runtime of borgpull-client reads it"),
            ("PYTHON", "python loads code because of it"), ("PERL", "perl loads code because of it"),
            ("RUBY", "ruby loads code because of it")
        ]
        if let p = prefixes.first(where: { name.hasPrefix($0.0) }) { return p.1 }
        // A locale name with a slash is a path glibc loads the locale from.
        if (name == "LANG" || name == "LANGUAGE" || name.hasPrefix("LC_")) && value.contains("/") {
            return "a locale name with a slash makes glibc load locale files from that path"
        }
        // PATH: bash looks commands up in it; only the standard root-owned directories.
        if name == "PATH" {
            let standard: Set<String> = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            let extra = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init).filter { !standard.contains($0) }
            if !extra.isEmpty { return "bash looks commands up in \(extra.joined(separator: ":"))" }
        }
        return nil
    }

    /// Findings for environment passing (sshd_config(5) AcceptEnv, PermitUserEnvironment,
    /// SetEnv, ExposeAuthInfo). The ForceCommand runs through the login shell, so a variable the
    /// server's key may set (AcceptEnv, authorized_keys `environment=`, ~/.ssh/environment with
    /// PermitUserEnvironment) can make that shell run other code before the trigger.
    /// - Parameters:
    ///   - config: parsed `sshd -T` output (`acceptenv PATTERN` and `setenv NAME=VALUE`, one per line).
    ///   - matchBlock: words naming the Match block, for fixes.
    ///   - configFile: the sshd_config named for global-only settings.
    public static func checkEnvironment(
        _ config: SshdEffectiveConfig, matchBlock: String, configFile: String,
        source: String
    ) -> [Finding] {
        var out: [Finding] = []
        let accepted = (config.values["acceptenv"] ?? []).filter { $0 != acceptEnvNone }
        if accepted.isEmpty {
            let printed = (config.values["acceptenv"] ?? []).joined(separator: " ")
            out.append(
                Finding(
                    .ok, check: "sshd.acceptenv", what: "sshd accepts no environment variable from the server",
                    location: "\(source): AcceptEnv", expected: acceptEnvNone,
                    actual: printed.isEmpty ? "(none)" : printed))
        } else {
            out.append(
                Finding(
                    .fail, check: "sshd.acceptenv",
                    what: "the server's key may set these variables in the login shell that runs the ForceCommand",
                    location: "\(source): AcceptEnv", expected: acceptEnvNone,
                    actual: accepted.joined(separator: " "),
                    fix: "set `AcceptEnv \(acceptEnvNone)` in \(matchBlock) (a Match block's AcceptEnv replaces the global list)"))
        }
        let pue = config["permituserenvironment"]
        out.append(
            Finding(
                pue?.lowercased() == "no" ? .ok : .fail, check: "sshd.permituserenvironment",
                what: "authorized_keys environment= and ~/.ssh/environment must not reach the login shell",
                location: "\(source): PermitUserEnvironment", expected: "no", actual: pue ?? "(not printed)",
                fix: pue?.lowercased() == "no" ? "" : "set `PermitUserEnvironment no` in \(configFile) (a global setting: not allowed in a Match block)"))
        var dangerous: [String] = []
        for entry in config.values["setenv"] ?? [] {
            let name = entry.firstIndex(of: "=").map { String(entry[..<$0]) } ?? entry
            let value = entry.firstIndex(of: "=").map { String(entry[entry.index(after: $0)...]) } ?? ""
            guard let why = dangerousSetEnv(name: name, value: value) else { continue }
            dangerous.append(name)
            out.append(
                Finding(
                    .fail, check: "sshd.setenv", what: "SetEnv \(name) for the ssh user: \(why)",
                    location: "\(source): SetEnv", expected: "no SetEnv of \(name)", actual: entry,
                    fix: "remove \(name) from the SetEnv lines of \(configFile) and its included files"))
        }
        if dangerous.isEmpty {
            let names = (config.values["setenv"] ?? []).map { $0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? $0 }
            out.append(
                Finding(
                    .ok, check: "sshd.setenv", what: "SetEnv sets nothing the login shell or the loader acts on",
                    location: "\(source): SetEnv", expected: "no dangerous variable",
                    actual: names.isEmpty ? "(none)" : names.joined(separator: " ")))
        }
        let expose = config["exposeauthinfo"]?.lowercased()
        out.append(
            Finding(
                expose == "no" ? .ok : .warn, check: "sshd.exposeauthinfo",
                what: "the trigger needs no SSH_USER_AUTH file", location: "\(source): ExposeAuthInfo",
                expected: "no", actual: expose ?? "(not printed)",
                fix: expose == "no" ? "" : "set `ExposeAuthInfo no` in \(matchBlock)"))
        return out
    }

    /// The AuthorizedKeysFile entries (`none` yields none), tokens not expanded.
    public static func authorizedKeysFiles(_ config: SshdEffectiveConfig) -> [String] {
        let v = config["authorizedkeysfile"] ?? ""
        return v.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init).filter { $0.lowercased() != "none" }
    }

    /// Expands the sshd_config(5) TOKENS `%%`, `%h`, `%U`, `%u` of an AuthorizedKeysFile entry;
    /// a relative entry is taken relative to `home`. Returns nil for tokens it cannot expand.
    public static func expandKeysPath(_ entry: String, user: String, uid: UInt32, home: String) -> String? {
        var out = ""
        var it = entry.makeIterator()
        while let c = it.next() {
            guard c == "%" else { out.append(c); continue }
            switch it.next() {
            case "%": out.append("%")
            case "h": out += home
            case "u": out += user
            case "U": out += String(uid)
            default: return nil
            }
        }
        if out.hasPrefix("~/") { out = home + out.dropFirst() }
        if !out.hasPrefix("/") { out = (home.hasSuffix("/") ? home : home + "/") + out }
        return out
    }

    /// The lock rule for the ssh user's shadow password field (shadow(5)).
    ///
    /// Without PAM, OpenSSH refuses an account whose password field starts with `!` (auth.c,
    /// `allowed_user`); `useradd` leaves new accounts that way. `*` (no password can match) is
    /// the right state for a key-only account and is not locked. With `UsePAM yes`, sshd leaves
    /// the decision to PAM and key logins of a `!` account still work: WARN there.
    /// - Parameters:
    ///   - passwordField: the second field of the user's /etc/shadow line (nil: no shadow entry).
    ///   - expireDay: the eighth field (days since 1970-01-01), nil if empty.
    ///   - today: days since 1970-01-01.
    ///   - usePAM: sshd's effective UsePAM, nil if unknown.
    public static func checkAccountLock(
        user: String, passwordField: String?, expireDay: Int?, today: Int,
        usePAM: Bool?
    ) -> [Finding] {
        var out: [Finding] = []
        let loc = "/etc/shadow: \(user)"
        if let p = passwordField, p.hasPrefix("!") {
            out.append(
                Finding(
                    usePAM == true ? .warn : .fail, check: "user.locked",
                    what: "the ssh user's account is locked, so sshd (without PAM) refuses the server's login",
                    location: loc, expected: "`*` (no password, key login only)",
                    actual: "starts with !", fix: "usermod -p '*' \(user)"))
        } else {
            out.append(
                Finding(
                    .ok, check: "user.locked", what: "the ssh user's account is not locked", location: loc,
                    expected: "not starting with !", actual: passwordField == nil ? "no shadow entry" : "not locked"))
        }
        if let e = expireDay, e <= today {
            out.append(
                Finding(
                    .fail, check: "user.expired", what: "the ssh user's account has expired", location: loc,
                    expected: "no expiry", actual: "expired on day \(e)", fix: "chage -E -1 \(user)"))
        }
        return out
    }

    /// The ssh user's login shell: sshd runs the ForceCommand through it, so it must be a real
    /// shell listed in /etc/shells (shells(5)), not nologin or false.
    public static func checkShell(user: String, shell: String, validShells: [String]) -> Finding {
        // An empty field means /bin/sh (passwd(5)).
        let shell = shell.isEmpty ? "/bin/sh" : shell
        let base = shell.split(separator: "/").last.map(String.init) ?? shell
        let listed = validShells.contains(shell)
        let refusing = ["nologin", "false", "true"].contains(base)
        if listed && !refusing {
            return Finding(
                .ok, check: "user.shell", what: "the ssh user has a login shell that can run the ForceCommand",
                location: "/etc/passwd: \(user)", expected: "a shell from /etc/shells", actual: shell)
        }
        return Finding(
            .fail, check: "user.shell",
            what: "sshd runs the ForceCommand through the login shell; this one cannot run it",
            location: "/etc/passwd: \(user)", expected: "a shell from /etc/shells (e.g. /bin/sh)",
            actual: shell + (listed ? "" : " (not in /etc/shells)"),
            fix: "usermod -s /bin/sh \(user)")
    }
}
