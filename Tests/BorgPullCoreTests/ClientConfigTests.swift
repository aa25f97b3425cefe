import XCTest

@testable import BorgPullCore

final class ClientConfigTests: XCTestCase {
    let base = "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\n"

    func build(
        env: String? = nil, paths: String? = "/etc\n", extra: [ClientFile: String] = [:],
        hooks: [ClientFile: Bool] = [:]
    ) throws -> ClientConfig {
        var texts = extra
        texts[.env] = env ?? base
        texts[.paths] = paths
        return try ClientConfig.build(ClientConfigInput(directory: "/etc/borgpull", texts: texts, hookExecutable: hooks))
    }

    func error(
        env: String? = nil, paths: String? = "/etc\n", extra: [ClientFile: String] = [:],
        hooks: [ClientFile: Bool] = [:]
    ) -> ConfigError? {
        do { _ = try build(env: env, paths: paths, extra: extra, hooks: hooks); return nil } catch let e as ConfigError { return e } catch { return nil }
    }

    func testSeedSampleBuildsWithRelayReplacingSocat() throws {
        let c = try build(env: seedBorgEnv)
        XCTAssertEqual(c.socketPath, "/run/borg/netcup.socket")
        XCTAssertEqual(c.sshUser, "borg")
        XCTAssertEqual(c.passphrase, .inline("correct horse $battery"))
        XCTAssertTrue(c.notices.contains { $0.contains("replaced by the built-in relay") })
        XCTAssertFalse(c.borgEnvironment.contains { $0.key == "BORG_RSH" || $0.key == "BORG_PASSPHRASE" })
    }

    func testDefaultsAndRetentionOverride() throws {
        let c = try build()
        XCTAssertEqual(
            c.retention,
            [
                .init(option: "keep-daily", value: "7"), .init(option: "keep-weekly", value: "4"),
                .init(option: "keep-monthly", value: "6")
            ])
        XCTAssertEqual(c.archiveTemplate, "{hostname}-{now}")
        XCTAssertEqual(c.pruneGlob, "{hostname}-" + ArchiveNames.timestampGlob)
        let d = try build(env: base + "KEEP_DAILY=14\nKEEP_WITHIN=2d\nARCHIVE_PREFIX=web1\n")
        XCTAssertEqual(d.retention.first, .init(option: "keep-within", value: "2d"))
        XCTAssertTrue(d.retention.contains(.init(option: "keep-daily", value: "14")))
        XCTAssertEqual(d.pruneGlob, "web1-" + ArchiveNames.timestampGlob)
    }

    func testBorgStateDirectoriesCannotBeMovedOutOfTheBaseDirectory() {
        for key in ["BORG_CACHE_DIR", "BORG_CONFIG_DIR", "BORG_SECURITY_DIR", "BORG_KEYS_DIR"] {
            let e = error(env: base + "export \(key)=/var/lib/borgpull/borg/x\n")
            XCTAssertEqual(e?.line, 3, key)
            XCTAssertTrue(e?.problem.contains(key) ?? false, key)
            XCTAssertTrue(e?.fix.contains("remove the \(key) line") ?? false, key)
        }
        XCTAssertNotNil(try? build(env: base + "export BORG_FILES_CACHE_TTL=30\n"))
    }

    func testMissingOrEmptyPaths() {
        XCTAssertEqual(error(paths: nil)?.problem, "borg_paths is missing")
        XCTAssertEqual(error(paths: "# nothing\n\n")?.problem, "borg_paths lists no path")
        XCTAssertEqual(error(paths: "/etc\nrelative\n")?.line, 2)
    }

    func testRepositoryMustBeSSH() {
        XCTAssertTrue(error(env: "BACKUP_SOCKET=/run/b.s\n")?.problem.contains("BORG_REPO is missing") ?? false)
        let e = error(env: "BORG_REPO=/srv/local\nBACKUP_SOCKET=/run/b.s\n")
        XCTAssertEqual(e?.line, 1)
        XCTAssertTrue(e?.problem.contains("not an ssh://") ?? false)
    }

    func testHookNotExecutableIsAConfigError() {
        let e = error(hooks: [.hookPre: false, .hookPost: true])
        XCTAssertEqual(e?.file, "/etc/borgpull/borg_hook_pre")
        XCTAssertTrue(e?.fix.contains("chmod 0700") ?? false)
        XCTAssertNotNil(try? build(hooks: [.hookPre: true]))
    }

    func testOptionsFiles() throws {
        let c = try build(extra: [.optionsCreate: "--compression=zstd,3\n--one-file-system\n# c\n--comment\nmy comment\n"])
        XCTAssertEqual(c.createOptions, ["--compression=zstd,3", "--one-file-system", "--comment", "my comment"])
        XCTAssertEqual(error(extra: [.optionsCreate: "--exclude-caches\n--compression zstd,3\n"])?.line, 2)
        XCTAssertTrue(error(extra: [.optionsPrune: "--keep-daily=30\n"])?.problem.contains("retention belongs in borg_env") ?? false)
        XCTAssertTrue(error(extra: [.optionsPrune: "--prefix=x\n"])?.problem.contains("this host's archives") ?? false)
    }

    func testArgparseAbbreviationsAndShortFormsAreCaught() {
        for (file, line) in [
            (ClientFile.optionsCreate, "--rs=/bin/sh"), (.optionsCreate, "--remote-pat=x"),
            (.optionsCreate, "--lock-w=0"), (.optionsCreate, "--js"), (.optionsPrune, "-d1"),
            (.optionsPrune, "--glob-a=*"), (.optionsPrune, "-a*"), (.optionsPrune, "--pre=x"),
            (.optionsPrune, "--keep-d=9")
        ] {
            XCTAssertNotNil(error(extra: [file: line + "\n"]), line)
        }
        XCTAssertNotNil(try? build(extra: [.optionsCreate: "--stats\n--exclude-caches\n", .optionsPrune: "--stats\n--save-space\n"]))
    }

    /// Account names follow the one rule of both configs (ConfigValues.isAccountName): ASCII,
    /// at most 32 bytes (useradd(8)); the client used to accept any letters of any length.
    func testAccountNamesFollowTheServersRule() {
        XCTAssertNotNil(error(env: base + "BORG_BACKUP_USER=b\u{F6}rgpull\n"), "non-ASCII")
        XCTAssertNotNil(error(env: base + "RUNNER_USER=" + String(repeating: "r", count: 33) + "\n"), "33 bytes")
        XCTAssertNotNil(error(env: base + "BORG_BACKUP_GROUP=-g\n"))
        XCTAssertNil(error(env: base + "RUNNER_USER=" + String(repeating: "r", count: 32) + "\n"))
        XCTAssertNil(error(env: base + "BORG_BACKUP_USER=backup.user_1\n"))
    }

    func testHostileValuesAreRefused() {
        XCTAssertNotNil(error(env: "BORG_REPO=ssh://--peer-uid=0/r\nBACKUP_SOCKET=/run/b.s\n"))
        XCTAssertNotNil(error(env: "BORG_REPO=ssh://b/srv/r\nBACKUP_SOCKET='/run/a b.s'\n"))
        XCTAssertNotNil(error(env: "BORG_REPO=ssh://b/srv/r\nBACKUP_SOCKET=/run/../etc/x\n"))
        XCTAssertNotNil(error(env: "BORG_REPO=ssh://b/srv/r\nBACKUP_SOCKET=/run/" + String(repeating: "x", count: 110) + "\n"))
        XCTAssertNotNil(error(env: base + "RUNNER_USER=nobody\n"))
        XCTAssertNotNil(error(env: base + "ARCHIVE_PREFIX=-x\n"))
        XCTAssertEqual(error(env: "\u{FEFF}" + base)?.line, 1)
        XCTAssertEqual(error(env: base + "A=x\u{0}y\n")?.line, 3)
        XCTAssertTrue((try? build(env: base + "KEEP_DAILY=3\nKEEP_DAILY=4\n"))?.notices.contains { $0.contains("assigned again") } ?? false)
    }

    func testArchivePrefixRules() {
        XCTAssertNotNil(error(env: base + "ARCHIVE_PREFIX={now}\n"))
        XCTAssertNotNil(error(env: base + "ARCHIVE_PREFIX='a*'\n"))
        XCTAssertNotNil(error(env: base + "ARCHIVE_PREFIX=''\n"))
    }

    func testForeignRSHAndPassphraseConflicts() {
        XCTAssertTrue(error(env: base + "BORG_RSH='ssh -i key'\n")?.problem.contains("managed by borgpull") ?? false)
        XCTAssertTrue(error(env: base + "BORG_RSH=\"sh -c 'exec socat STDIO UNIX-CONNECT:/run/other'\"\n")?.problem.contains("but BACKUP_SOCKET is") ?? false)
        XCTAssertTrue(error(env: base + "BORG_PASSPHRASE=x\nPASSPHRASE_FILE=/etc/p\n")?.problem.contains("more than one passphrase") ?? false)
    }

    func testPassThroughOnlyExportedBorgKeys() throws {
        let c = try build(env: base + "export BORG_RELOCATED_REPO_ACCESS_IS_OK=no\nBORG_FILES_CACHE_TTL=30\nFOO=1\n")
        XCTAssertEqual(c.borgEnvironment.map(\.key), ["BORG_RELOCATED_REPO_ACCESS_IS_OK"])
        XCTAssertTrue(c.notices.contains { $0.contains("BORG_FILES_CACHE_TTL is not exported") })
        XCTAssertTrue(c.notices.contains { $0.contains("unknown key FOO") })
    }

    func testBorgArgv() throws {
        let c = try build(extra: [.patterns: "R /\n", .excludes: "\n# none\n"])
        let cmds = BorgCommands(
            config: c, relayCommand: ["/usr/local/bin/borgpull-client", "relay", "--socket", "/run/my sock"],
            baseDirectory: "/var/lib/borgpull/borg")
        let create = cmds.create(paths: ["/etc", "-odd"])
        XCTAssertEqual(Array(create.suffix(4)), ["::{hostname}-{now}", "--", "/etc", "-odd"])
        XCTAssertTrue(create.contains("--patterns-from"))
        XCTAssertFalse(create.contains("--exclude-from"), "an empty excludes file is not passed")
        let prune = cmds.prune()
        XCTAssertTrue(prune.contains("--glob-archives={hostname}-" + ArchiveNames.timestampGlob), "one argument: a prefix can never become an option")
        XCTAssertFalse(prune.contains("--prefix"))
        let env = cmds.environment(passphraseFD: 3)
        XCTAssertEqual(env["BORG_RSH"], "/usr/local/bin/borgpull-client relay --socket '/run/my sock'")
        XCTAssertEqual(env["BORG_PASSPHRASE_FD"], "3")
        XCTAssertNil(env["BORG_PASSPHRASE"])
    }
}

final class OutcomeTests: XCTestCase {
    func testBorgReturnCodes() {
        XCTAssertEqual(BorgOutcome(exitCode: 0), .success)
        XCTAssertEqual(BorgOutcome(exitCode: 1), .warning(rc: 1))
        XCTAssertEqual(BorgOutcome(exitCode: 2), .error(rc: 2))
        XCTAssertEqual(BorgOutcome(exitCode: 13), .error(rc: 13))  // modern: an error
        XCTAssertEqual(BorgOutcome(exitCode: 107), .warning(rc: 107))  // modern: a warning
        XCTAssertEqual(BorgOutcome(exitCode: 143), .signaled(15))
    }

    func testBorgHeadlineSkipsTheEnvironmentBlock() {
        let tail = [
            "Traceback (most recent call last):", "  File \"x.py\", line 1", "PermissionError: [Errno 13] Permission denied: '/var/lib/borgpull/borg/.cache'",
            "", "Platform: Linux vm 6.1", "Borg: 1.2.4  Python: CPython 3.11.2", "PID: 12  CWD: /", "sys.argv: ['borg']", "SSH_ORIGINAL_COMMAND: None"
        ]
        XCTAssertEqual(BorgMessages.headline(tail), "PermissionError: [Errno 13] Permission denied: '/var/lib/borgpull/borg/.cache'")
        XCTAssertEqual(
            BorgMessages.headline(["Connection closed by remote host. Is borg working on the server?"]),
            "Connection closed by remote host. Is borg working on the server?")
        XCTAssertNil(BorgMessages.headline([]))
        XCTAssertEqual(LogText.sanitize("a\u{1b}]0;x\u{7}\nb\tc"), "a\\x1b]0;x\\x07\\x0ab\tc")
    }

    func testVerdictIsTheWorstStep() {
        let ok = StepResult(name: .create, status: .ok, message: "")
        let warn = StepResult(name: .create, status: .warning, message: "")
        let preFail = StepResult(name: .preHook, status: .failed, message: "")
        let postFail = StepResult(name: .postHook, status: .timeout, message: "")
        let pruneFail = StepResult(name: .prune, status: .failed, message: "")
        XCTAssertEqual(BackupVerdict.exit(steps: [ok], interrupted: false, warnings: []), .ok)
        XCTAssertEqual(BackupVerdict.exit(steps: [warn], interrupted: false, warnings: []), .warning)
        XCTAssertEqual(BackupVerdict.exit(steps: [ok], interrupted: false, warnings: ["x"]), .warning)
        XCTAssertEqual(BackupVerdict.exit(steps: [preFail, postFail], interrupted: false, warnings: []), .preHookFailed)
        XCTAssertEqual(BackupVerdict.exit(steps: [ok, pruneFail, postFail], interrupted: false, warnings: []), .borgFailed)
        XCTAssertEqual(BackupVerdict.exit(steps: [ok, postFail], interrupted: false, warnings: []), .postHookFailed)
        XCTAssertEqual(BackupVerdict.exit(steps: [pruneFail], interrupted: true, warnings: []), .interrupted)
    }

    func testSocketRules() {
        let good = FileFacts(path: "/run/borg/s", kind: .socket, uid: 990, gid: 990, mode: 0o660)
        XCTAssertNil(SocketRules.problem(good, path: "/run/borg/s", sshUser: "borgpull", sshUID: 990, bindMask: 0o117))
        XCTAssertNotNil(SocketRules.problem(good, path: "/run/borg/s", sshUser: "borgpull", sshUID: 990, bindMask: 0o177))
        XCTAssertTrue(SocketRules.problem(nil, path: "/x", sshUser: "u", sshUID: 1, bindMask: 0o117)!.contains("does not exist"))
        for kind in [FileFacts.Kind.symlink, .regular, .directory] {
            var f = good; f.kind = kind
            XCTAssertNotNil(SocketRules.problem(f, path: "/x", sshUser: "u", sshUID: 990, bindMask: 0o117), "\(kind)")
        }
        var other = good; other.uid = 0
        XCTAssertTrue(SocketRules.problem(other, path: "/x", sshUser: "u", sshUID: 990, bindMask: 0o117)!.contains("not by the ssh user"))
    }

    func testShellQuoteRoundTripsThroughShlex() {
        XCTAssertEqual(ShellQuote.quote("a'b"), "'a'\\''b'")
        XCTAssertEqual(ShellQuote.quote("/usr/bin/x"), "/usr/bin/x")
    }

    func testRecordRoundTrip() {
        let r = BackupRecord(
            host: "h", started: "2026-01-01T00:00:00Z", finished: "2026-01-01T00:01:00Z",
            status: .init(code: 1, name: "ok-with-warnings", message: "m"), archive: "h-1",
            repository: "ssh://x/r", steps: [StepResult(name: .create, status: .warning, rc: 1, message: "w")],
            stats: ArchiveStats(originalSize: 2048, files: 3), warnings: ["/x: Permission denied"])
        XCTAssertEqual(BackupRecord.decode(r.json()), r)
        XCTAssertTrue(r.summary.contains("warning: /x: Permission denied"))
        XCTAssertTrue(r.summary.contains("original 2.0 KiB"))
        let parsed = BorgCreateJSON.parse(Array(#"{"archive": {"name": "h-2", "stats": {"original_size": 10, "nfiles": 1}}}"#.utf8))
        XCTAssertEqual(parsed?.archiveName, "h-2")
        XCTAssertEqual(parsed?.stats?.files, 1)
    }
}

final class ShippedFilesTests: XCTestCase {
    func testTheShippedClientSkeletonIsValid() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/client")
        var texts: [ClientFile: String] = [:]
        for f in ClientFile.allCases {
            if let t = try? String(contentsOf: dir.appendingPathComponent(f.rawValue), encoding: .utf8) { texts[f] = t }
        }
        XCTAssertNotNil(texts[.env])
        let c = try ClientConfig.build(ClientConfigInput(directory: "/etc/borgpull", texts: texts, hookExecutable: [:]))
        XCTAssertEqual(c.sshUser, "borgpull")
        XCTAssertEqual(c.paths.map(\.value), ["/etc"])
        XCTAssertNil(c.excludesFile, "a comment-only excludes file is not passed to borg")
    }
}
