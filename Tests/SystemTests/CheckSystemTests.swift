import BorgPullCore
import BorgPullSystem
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// borgpull-check on real files, users, sshd and borg: hostile fixtures each give a FAIL with
/// the right fix; the README layout is all OK; the JSON schema; the runtime.
final class CheckSystemTests: XCTestCase {
    var fx: CheckFixture!

    override func setUpWithError() throws {
        fx = try CheckFixture()
    }

    override func tearDown() {
        fx?.remove()
    }

    /// The first FAIL with `check` at `location`, asserting it exists.
    @discardableResult
    func expectFail(
        _ fs: [Finding], check: String, location: String, fixContains: String,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Finding? {
        let f = fs.first { $0.severity == .fail && $0.check == check && $0.location == location }
        XCTAssertNotNil(f, "no FAIL \(check) at \(location); got:\n\(describe(fs))", file: file, line: line)
        if let f { XCTAssertTrue(f.fix.contains(fixContains), "fix was: \(f.fix)", file: file, line: line) }
        return f
    }

    func testReadmeLayoutIsAllOK() throws {
        let start = DispatchTime.now()
        let r = fx.audit()
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        XCTAssertEqual(r.findings.filter { $0.check != "borg.version" }.map(\.severity).max(), .ok, describe(r.findings))
        try expectBorgVersion(r.findings)
        XCTAssertNotNil(r.config)
        XCTAssertGreaterThan(r.findings.count, 30)
        for id in [
            "sshd.forcecommand", "trigger.polkit", "socket.dir", "user.shell", "user.locked",
            "patterns.syntax", "paths.exist", "config.parse", "units.same"
        ] {
            XCTAssertTrue(r.findings.contains { $0.check == id && $0.severity == .ok }, "no OK \(id)")
        }
        print("borgpull-check: full client audit of the README fixture took \(String(format: "%.1f", ms)) ms, \(r.findings.count) findings")

        let b0 = DispatchTime.now()
        let b = ClientAudit.run(configDir: fx.configDir, options: fx.options.forBackup())
        let bms = Double(DispatchTime.now().uptimeNanoseconds - b0.uptimeNanoseconds) / 1e6
        print("borgpull-check: BACKUP's audit (.backup options) took \(String(format: "%.1f", bms)) ms")
        XCTAssertEqual(b.worst, .ok, describe(b.findings))
    }

    /// `borg.version` for the borg under test (TestBorg): Debian 12's 1.2.4 predates the fix for
    /// CVE-2023-36811 (WARN naming it and the fix), 1.4.5 from PyPI is OK.
    func expectBorgVersion(_ fs: [Finding], file: StaticString = #filePath, line: UInt = #line) throws {
        let version = Shell.run([TestBorg.binary, "--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let expected: [String: Finding.Severity] = ["borg 1.2.4": .warn, "borg 1.4.5": .ok]
        let want = try XCTUnwrap(expected[version], "no expectation for \(version) (\(TestBorg.binary))", file: file, line: line)
        let f = try XCTUnwrap(fs.first { $0.check == "borg.version" }, "no borg.version finding", file: file, line: line)
        XCTAssertEqual(f.severity, want, f.what, file: file, line: line)
        XCTAssertEqual(f.location, "\(TestBorg.binary) --version", file: file, line: line)
        if want == .warn {
            XCTAssertTrue(f.what.contains("CVE-2023-36811") && f.fix.contains("bookworm-backports"), "\(f.what) / \(f.fix)", file: file, line: line)
        }
    }

    /// `key.export`: OK with the fixture's record; WARN with the fix when there is none, or
    /// when it is of another repository.
    func testKeyExportRecordIsOKMissingOrForeignIsAWarnWithTheFix() throws {
        let record = "\(fx.root)/state/key-export.json"
        XCTAssertEqual(fx.audit().findings.first { $0.check == "key.export" }?.severity, .ok)
        unlink(record)
        let missing = try XCTUnwrap(fx.audit().findings.first { $0.check == "key.export" })
        XCTAssertEqual(missing.severity, .warn)
        XCTAssertEqual(missing.location, record)
        XCTAssertTrue(missing.fix.contains("borgpull-client -c \(fx.configDir) key-export /root/borg-key-"), missing.fix)
        try #"{"exported": "2026-01-01T00:00:00Z", "file": "/root/k", "format": "text", "repository": "ssh://old/srv/borg/x", "version": 1}"#
            .write(toFile: record, atomically: false, encoding: .utf8)
        let foreign = try XCTUnwrap(fx.audit().findings.first { $0.check == "key.export" })
        XCTAssertEqual(foreign.severity, .warn)
        XCTAssertEqual(foreign.actual, "ssh://old/srv/borg/x")
    }

    func testGroupWritableParentDirectoryFails() throws {
        let dir = "\(fx.root)/etc"
        chmod(dir, 0o775)
        expectFail(fx.audit().findings, check: "dir.writable", location: dir, fixContains: "chmod go-w \(dir)")
    }

    func testHookOwnedByNonRootFails() throws {
        let hook = "\(fx.configDir)/borg_hook_pre"
        try CheckFixture.sh("chown \(CheckFixture.sshUser) \(hook)")
        expectFail(fx.audit().findings, check: "file.owner", location: hook, fixContains: "chown root:root \(hook)")
    }

    func testWorldReadableBorgEnvWithPassphraseFails() throws {
        let env = "\(fx.configDir)/borg_env"
        chmod(env, 0o644)
        expectFail(fx.audit().findings, check: "file.secret", location: env, fixContains: "chmod 0600 \(env)")
        // Without a passphrase the same mode is fine for the secret rule.
        try CheckFixture.sh("sed -i '/BORG_PASSPHRASE/d' \(env)")
        XCTAssertFalse(fx.audit().findings.contains { $0.check == "file.secret" })
    }

    func testSymlinkedConfigFileFails() throws {
        let paths = "\(fx.configDir)/borg_paths"
        try CheckFixture.sh("mv \(paths) \(fx.root)/etc/real_paths && ln -s \(fx.root)/etc/real_paths \(paths)")
        expectFail(fx.audit().findings, check: "file.symlink", location: paths, fixContains: "cp --remove-destination")
    }

    func testSshdAllowTcpForwardingNoFails() throws {
        try fx.writeSshd(CheckFixture.matchBlock(keys: fx.keysFile, tcp: "no"))
        expectFail(
            fx.audit().findings, check: "sshd.tcpforwarding", location: "sshd -T -f \(fx.sshdConfig): AllowTcpForwarding",
            fixContains: "set `AllowTcpForwarding remote` and `PermitListen none` in the `Match User borgpull` block of \(fx.sshdConfig)")
    }

    func testSshdStreamLocalBindUnlinkNoFails() throws {
        try fx.writeSshd(CheckFixture.matchBlock(keys: fx.keysFile, unlink: "no"))
        expectFail(
            fx.audit().findings, check: "sshd.streamlocalbindunlink", location: "sshd -T -f \(fx.sshdConfig): StreamLocalBindUnlink",
            fixContains: "StreamLocalBindUnlink yes")
    }

    func testSshdWithoutForceCommandFails() throws {
        try fx.writeSshd(CheckFixture.matchBlock(keys: fx.keysFile, forceCommand: nil))
        let f = expectFail(
            fx.audit().findings, check: "sshd.forcecommand", location: "sshd -T -f \(fx.sshdConfig): ForceCommand",
            fixContains: "ForceCommand \(fx.options.layout.forceCommand)")
        XCTAssertEqual(f?.actual, "none")
    }

    func testSshdBrokenConfigFails() throws {
        try fx.writeSshd("Match User borgpull\n    NoSuchKeyword yes\n")
        expectFail(fx.audit().findings, check: "sshd.config", location: "sshd -T -f \(fx.sshdConfig)", fixContains: "sshd -t")
    }

    func testSudoersAnySystemctlFails() throws {
        let f = "\(fx.sudoersDir)/borgpull"
        try "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl\n".write(toFile: f, atomically: false, encoding: .utf8)
        chmod(f, 0o440)
        expectFail(
            fx.audit().findings, check: "trigger.sudoers", location: "\(f):1",
            fixContains: "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service")
    }

    func testNoTriggerFails() throws {
        try CheckFixture.sh("rm \(fx.root)/etc/polkit-1/rules.d/50-borgpull.rules")
        expectFail(
            fx.audit().findings, check: "trigger.missing", location: "\(fx.root)/etc/polkit-1/rules.d, \(fx.sudoersDir)",
            fixContains: "50-borgpull.rules")
    }

    func testSocketDirectoryWrongModeFails() throws {
        chmod(fx.socketDir, 0o777)
        expectFail(fx.audit().findings, check: "socket.dir", location: fx.socketDir, fixContains: "-m 0710 \(fx.socketDir)")
    }

    func testBadRegexInPatternsFails() throws {
        try "- re:([unclosed\n".write(toFile: "\(fx.configDir)/borg_patterns", atomically: false, encoding: .utf8)
        expectFail(fx.audit().findings, check: "patterns.syntax", location: "\(fx.configDir)/borg_patterns:1", fixContains: "escape")
    }

    func testMissingPathFails() throws {
        try "\(fx.root)/does-not-exist\n".write(toFile: "\(fx.configDir)/borg_paths", atomically: false, encoding: .utf8)
        expectFail(fx.audit().findings, check: "paths.exist", location: "\(fx.configDir)/borg_paths:1", fixContains: "does-not-exist")
    }

    /// The repo's shipped trigger files pass the trigger rules (skipped until they exist).
    func testShippedTriggerPoliciesAreOK() throws {
        let root = CheckFixture.packageRoot
        let user = SudoUser(name: "borgpull", uid: 998, groups: ["borgpull"], gids: [998])
        if let t = try? String(contentsOfFile: "\(root)/policy/sudoers/borgpull", encoding: .utf8) {
            let r = SudoersRules.check([SudoersSource(file: "policy/sudoers/borgpull", text: t)], user: user)
            XCTAssertTrue(r.grantsTrigger)
            XCTAssertEqual(r.findings.map(\.severity).max(), .ok, describe(r.findings))
        }
        if let t = try? String(contentsOfFile: "\(root)/policy/polkit/50-borgpull.rules", encoding: .utf8) {
            let r = try XCTUnwrap(PolkitRules.check(file: "policy/polkit/50-borgpull.rules", text: t, user: "borgpull"))
            XCTAssertTrue(r.grantsTrigger)
            XCTAssertEqual(r.findings.map(\.severity).max(), .ok, describe(r.findings))
        }
    }

    // MARK: --json and the command

    static func checkBinary() -> String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            "\(CheckFixture.packageRoot)/.build/debug"
        ]
        for d in candidates where FileManager.default.isExecutableFile(atPath: "\(d)/borgpull-check") { return "\(d)/borgpull-check" }
        return nil
    }

    func runCheck(_ args: [String]) throws -> (status: Int32, out: String, seconds: Double) {
        guard let bin = Self.checkBinary() else { XCTFail("borgpull-check binary not built"); throw XCTSkip("no binary") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        let t0 = DispatchTime.now()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), s)
    }

    func testJSONSchemaAndExitStatus() throws {
        // Make one FAIL for sure (the installed-binary default path is checked by the command).
        chmod("\(fx.configDir)/borg_env", 0o644)
        let r = try runCheck(["-c", fx.configDir, "--sshd-config", fx.sshdConfig, "--json"])
        print("borgpull-check: command run (-c fixture --json, default system paths) took \(String(format: "%.3f", r.seconds)) s")
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        XCTAssertEqual(Set(obj.keys), ["schema", "version", "exitStatus", "worst", "summary", "findings"])
        XCTAssertEqual(obj["schema"] as? String, "borgpull-check")
        XCTAssertEqual(obj["version"] as? Int, 1)
        XCTAssertEqual(obj["worst"] as? String, "FAIL")
        XCTAssertEqual(obj["exitStatus"] as? Int, 2)
        XCTAssertEqual(r.status, 2)
        let summary = try XCTUnwrap(obj["summary"] as? [String: Int])
        XCTAssertEqual(Set(summary.keys), ["ok", "warn", "fail", "total"])
        let findings = try XCTUnwrap(obj["findings"] as? [[String: String]])
        XCTAssertEqual(summary["total"], findings.count)
        XCTAssertEqual(summary["fail"], findings.filter { $0["severity"] == "FAIL" }.count)
        XCTAssertEqual(summary["ok"], findings.filter { $0["severity"] == "OK" }.count)
        for f in findings {
            XCTAssertEqual(Set(f.keys), ["severity", "check", "what", "location", "expected", "actual", "fix"])
            XCTAssertTrue(["OK", "WARN", "FAIL"].contains(f["severity"] ?? ""))
        }
        XCTAssertTrue(findings.contains { $0["check"] == "file.secret" && $0["fix"] == "chmod 0600 \(fx.configDir)/borg_env" })
    }

    func testUsageErrorExits64() throws {
        XCTAssertEqual(try runCheck(["--no-such-option"]).status, 64)
        XCTAssertEqual(try runCheck(["--help"]).status, 0)
        XCTAssertTrue(try runCheck(["--help"]).out.contains("64  usage error"))
    }

    // MARK: server

    /// A server config for the fixture's client (port `port`) with its repository, run
    /// directory and identity; the client's host key goes into `\(root)/server/KNOWN_HOSTS`.
    /// - Returns: the config file.
    func writeServerConfig(port: Int, knownHosts: String, extra: String) throws -> String {
        let r = fx.root
        try CheckFixture.sh(
            """
            getent passwd borg >/dev/null || useradd -r -m -d /var/lib/borg_remote_pull -s /usr/sbin/nologin borg
            install -d -o borg -m 0700 \(r)/srv \(r)/srv/repo \(r)/run/server
            chown root \(r)/srv
            install -d -m 0755 \(r)/server
            install -o borg -m 0600 \(r)/etc/ssh/server_key \(r)/server/id
            printf '[127.0.0.1]:\(port) %s\\n' "$(cut -d' ' -f1,2 \(r)/etc/ssh/host_key.pub)" > \(r)/server/\(knownHosts)
            chmod 0644 \(r)/server/\(knownHosts)
            cat > \(r)/server/client1.conf <<'EOF'
            LOCAL_USER=borg
            REMOTE_HOST=127.0.0.1
            SSH_PORT=\(port)
            REPO_NAME=client1
            REPO_DIR=\(r)/srv/repo
            RUN_DIR=\(r)/run/server
            SSH_IDENTITY=\(r)/server/id
            \(extra)
            EOF
            chmod 0644 \(r)/server/client1.conf
            """)
        return "\(r)/server/client1.conf"
    }

    func testServerConfig() throws {
        let r = fx.root
        let conf = try writeServerConfig(
            port: 2222, knownHosts: "known_hosts",
            extra: "\(TestBorg.envLine)\nSSH_KNOWN_HOSTS=\(r)/server/known_hosts")
        var options = ServerAudit.Options()
        options.systemdRoot = r
        // Without the maintenance timers: WARN, with the command that enables them.
        var fs = ServerAudit.run(configFile: conf, options: options)
        XCTAssertTrue(
            fs.contains { $0.check == "server.maintenance.timer" && $0.severity == .warn && $0.fix == "systemctl enable --now borgpull-compact@client1.timer" },
            describe(fs))
        try CheckFixture.sh(
            """
            mkdir -p \(r)/etc/systemd/system/timers.target.wants
            ln -sf /etc/systemd/system/borgpull-compact@.timer \(r)/etc/systemd/system/timers.target.wants/borgpull-compact@client1.timer
            ln -sf /etc/systemd/system/borgpull-check@.timer \(r)/etc/systemd/system/timers.target.wants/borgpull-check@client1.timer
            """)
        fs = ServerAudit.run(configFile: conf, options: options)
        XCTAssertEqual(fs.filter { $0.check != "borg.version" }.map(\.severity).max(), .ok, describe(fs))
        try expectBorgVersion(fs)
        chmod("\(r)/server/id", 0o644)
        try CheckFixture.sh("echo APPEND_ONLY=no >> \(conf)")
        fs = ServerAudit.run(configFile: conf)
        expectFail(fs, check: "server.identity", location: "\(r)/server/id", fixContains: "chmod 0600")
        XCTAssertTrue(fs.contains { $0.check == "server.appendonly" && $0.severity == .warn })
        try CheckFixture.sh("sed -i 's/^SSH_PORT=2222/SSH_PORT=2223/' \(conf)")
        expectFail(ServerAudit.run(configFile: conf), check: "server.knownhosts", location: "\(r)/server/known_hosts", fixContains: "ssh-keyscan -p 2223")
        // server.operations: a client's MAX_CONCURRENT above the defaults file's fails, naming file:line.
        try CheckFixture.sh("printf 'MAX_CONCURRENT=2\\n' > \(r)/server/defaults.conf && chmod 0644 \(r)/server/defaults.conf")
        options.defaultsFile = "\(r)/server/defaults.conf"
        XCTAssertTrue(ServerAudit.run(configFile: conf, options: options).contains { $0.check == "server.operations" && $0.severity == .ok })
        try CheckFixture.sh("echo MAX_CONCURRENT=3 >> \(conf)")
        fs = ServerAudit.run(configFile: conf, options: options)
        XCTAssertTrue(
            fs.contains {
                $0.check == "server.operations" && $0.severity == .fail && $0.location.hasPrefix(conf + ":")
                    && $0.fix.contains("MAX_CONCURRENT=2 or lower")
            }, describe(fs))
    }

    /// Without SSH_KNOWN_HOSTS ssh still accepts the client's key from the global known_hosts
    /// (GlobalKnownHostsFile, ssh_config(5)): the audit judges what ssh reads, not one default file.
    func testServerKnownHostsFromTheGlobalFile() throws {
        let r = fx.root
        let conf = try writeServerConfig(port: 2291, knownHosts: "global_known_hosts", extra: "")
        var options = ServerAudit.Options()
        options.globalKnownHosts = ["\(r)/server/global_known_hosts"]
        let fs = ServerAudit.run(configFile: conf, options: options)
        XCTAssertFalse(fs.contains { $0.check == "server.knownhosts" && $0.severity == .fail }, describe(fs))
        XCTAssertTrue(fs.contains { $0.check == "server.knownhosts" && $0.severity == .ok && $0.location == "\(r)/server/global_known_hosts" }, describe(fs))
    }
}
