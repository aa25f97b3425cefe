import XCTest

@testable import BorgPullCore

private func worst(_ fs: [Finding]) -> Finding.Severity { fs.map(\.severity).max() ?? .ok }
private func finding(_ fs: [Finding], _ check: String) -> Finding? { fs.first { $0.check == check } }

/// `sshd -T` output of the Match block borgpull ships (abridged to the keys judged).
let goodSshdT = """
    usepam no
    streamlocalbindmask 0117
    x11forwarding no
    permittty no
    permituserrc no
    allowtcpforwarding remote
    allowagentforwarding no
    disableforwarding no
    allowstreamlocalforwarding remote
    streamlocalbindunlink yes
    forcecommand /usr/local/bin/borgpull-client trigger --via systemd
    authorizedkeyscommand none
    authorizedkeysfile /etc/ssh/authorized_keys/borg_backup/backup_server_keys
    permittunnel no
    permitopen any
    permitlisten none
    acceptenv none
    permituserenvironment no
    exposeauthinfo no
    """

final class SshdRulesTests: XCTestCase {
    func judge(_ text: String, mask: UInt32 = 0o117) -> [Finding] {
        SshdRules.check(SshdEffectiveConfig.parse(text), user: "borgpull", bindMask: mask, source: "sshd -T")
    }
    func replacing(_ key: String, _ value: String?) -> String {
        goodSshdT.split(separator: "\n").compactMap { l -> String? in
            l.hasPrefix(key + " ") ? value.map { "\(key) \($0)" } : String(l)
        }.joined(separator: "\n")
    }

    func testShippedMatchBlockIsAllOK() {
        let fs = judge(goodSshdT)
        XCTAssertEqual(worst(fs), .ok, fs.filter { $0.severity != .ok }.map(\.what).joined(separator: "; "))
    }

    func testParseKeepsRepeatedKeysAndLowercases() {
        let c = SshdEffectiveConfig.parse("HostKey /a\nhostkey /b\nforcecommand  a  b \n\n")
        XCTAssertEqual(c.values["hostkey"], ["/a", "/b"])
        XCTAssertEqual(c["forcecommand"], "a  b")
    }

    func testForceCommandMissingOrDifferentFails() {
        for v in ["none", "sudo systemctl start run-borg-backup.service", "/usr/local/bin/borgpull-client trigger --x"] {
            let f = finding(judge(replacing("forcecommand", v)), "sshd.forcecommand")
            XCTAssertEqual(f?.severity, .fail, v)
            XCTAssertEqual(f?.fix, "set `ForceCommand \(InstallLayout.packaged.forceCommand)` in the `Match User borgpull` block of /etc/ssh/sshd_config")
        }
        XCTAssertEqual(finding(judge(replacing("forcecommand", nil)), "sshd.forcecommand")?.severity, .fail)
    }

    func testDocumentedTriggerFormsAreOK() {
        for v in [
            "/usr/local/bin/borgpull-client trigger", "/usr/local/bin/borgpull-client trigger --via sudo",
            "/var/lib/demo/bin/borgpull-client trigger --via sudo-client --client /var/lib/demo/bin/borgpull-client --configs /var/lib/demo/client --result /var/lib/demo/state/last-backup.json"
        ] {
            XCTAssertEqual(finding(judge(replacing("forcecommand", v)), "sshd.forcecommand")?.severity, .ok, v)
        }
        for v in [
            "/usr/local/bin/borgpull-client trigger --via bash", "/usr/local/bin/borgpull-client borg list",
            "borgpull-client trigger", "/usr/local/bin/borgpull-client trigger --result", "/tmp/x/borgpull-client trigger --configs 'a;b'"
        ] {
            XCTAssertEqual(finding(judge(replacing("forcecommand", v)), "sshd.forcecommand")?.severity, .fail, v)
        }
    }

    func testTcpForwarding() {
        XCTAssertEqual(finding(judge(replacing("allowtcpforwarding", "no")), "sshd.tcpforwarding")?.severity, .fail)
        XCTAssertEqual(finding(judge(replacing("allowtcpforwarding", "yes")), "sshd.tcpforwarding")?.severity, .fail)
        XCTAssertEqual(finding(judge(replacing("allowtcpforwarding", "local")), "sshd.tcpforwarding")?.severity, .fail)
        XCTAssertEqual(finding(judge(replacing("permitlisten", "any")), "sshd.permitlisten")?.severity, .fail)
        XCTAssertEqual(finding(judge(replacing("permitlisten", "localhost:9000")), "sshd.permitlisten")?.severity, .fail)
    }

    func testStreamLocal() {
        XCTAssertEqual(finding(judge(replacing("allowstreamlocalforwarding", "yes")), "sshd.streamlocalforwarding")?.severity, .fail)
        XCTAssertEqual(finding(judge(replacing("allowstreamlocalforwarding", "no")), "sshd.streamlocalforwarding")?.severity, .fail)
        let unlink = finding(judge(replacing("streamlocalbindunlink", "no")), "sshd.streamlocalbindunlink")
        XCTAssertEqual(unlink?.severity, .fail)
        XCTAssertTrue(unlink?.fix.contains("StreamLocalBindUnlink yes") ?? false)
        XCTAssertEqual(judge(replacing("disableforwarding", "yes")).first { $0.check == "sshd.disableforwarding" }?.severity, .fail)
    }

    func testBindMask() {
        XCTAssertEqual(finding(judge(replacing("streamlocalbindmask", "0177")), "sshd.streamlocalbindmask")?.severity, .fail)
        XCTAssertEqual(finding(judge(replacing("streamlocalbindmask", "0111")), "sshd.streamlocalbindmask")?.severity, .fail)
        // A runner that is the ssh user itself could use 0177, if borg_env says so.
        XCTAssertEqual(finding(judge(replacing("streamlocalbindmask", "0177"), mask: 0o177), "sshd.streamlocalbindmask")?.severity, .ok)
        // Never world-accessible, whatever borg_env says.
        XCTAssertEqual(finding(judge(replacing("streamlocalbindmask", "0110"), mask: 0o110), "sshd.streamlocalbindmask")?.severity, .fail)
    }

    func testDefenceInDepthWarns() {
        for k in ["permittty", "allowagentforwarding", "x11forwarding", "permituserrc"] {
            let fs = judge(replacing(k, "yes"))
            XCTAssertEqual(worst(fs), .warn, k)
        }
        XCTAssertEqual(worst(judge(replacing("authorizedkeysfile", ".ssh/authorized_keys"))), .warn)
        XCTAssertEqual(worst(judge(replacing("authorizedkeyscommand", "/usr/bin/keys %u"))), .warn)
    }

    func testKeysPathExpansion() {
        XCTAssertEqual(SshdRules.expandKeysPath(".ssh/authorized_keys", user: "b", uid: 9, home: "/home/b"), "/home/b/.ssh/authorized_keys")
        XCTAssertEqual(SshdRules.expandKeysPath("/etc/ssh/keys/%u.%U", user: "b", uid: 9, home: "/h"), "/etc/ssh/keys/b.9")
        XCTAssertEqual(SshdRules.expandKeysPath("%h/k%%", user: "b", uid: 9, home: "/h"), "/h/k%")
        XCTAssertNil(SshdRules.expandKeysPath("/k/%C", user: "b", uid: 9, home: "/h"))
    }

    func testAccountLockAndShell() {
        XCTAssertEqual(worst(SshdRules.checkAccountLock(user: "b", passwordField: "!", expireDay: nil, today: 100, usePAM: false)), .fail)
        XCTAssertEqual(worst(SshdRules.checkAccountLock(user: "b", passwordField: "!*", expireDay: nil, today: 100, usePAM: true)), .warn)
        XCTAssertEqual(worst(SshdRules.checkAccountLock(user: "b", passwordField: "*", expireDay: nil, today: 100, usePAM: false)), .ok)
        XCTAssertEqual(worst(SshdRules.checkAccountLock(user: "b", passwordField: "*", expireDay: 99, today: 100, usePAM: false)), .fail)
        let shells = ["/bin/sh", "/bin/bash", "/usr/sbin/nologin"]
        XCTAssertEqual(SshdRules.checkShell(user: "b", shell: "/bin/bash", validShells: shells).severity, .ok)
        XCTAssertEqual(SshdRules.checkShell(user: "b", shell: "", validShells: shells).severity, .ok)
        XCTAssertEqual(SshdRules.checkShell(user: "b", shell: "/usr/sbin/nologin", validShells: shells).severity, .fail)
        XCTAssertEqual(SshdRules.checkShell(user: "b", shell: "/bin/false", validShells: shells).severity, .fail)
        XCTAssertEqual(SshdRules.checkShell(user: "b", shell: "/opt/zsh", validShells: shells).severity, .fail)
    }
}

final class SudoersRulesTests: XCTestCase {
    let user = SudoUser(name: "borgpull", uid: 998, groups: ["borgpull", "backup"], gids: [998, 34])

    func judge(_ text: String) -> TriggerAnalysis {
        SudoersRules.check([SudoersSource(file: "/etc/sudoers.d/borgpull", text: text)], user: user)
    }

    func testShippedLineIsOK() {
        let r = judge("# comment\nborgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service\n")
        XCTAssertTrue(r.grantsTrigger)
        XCTAssertEqual(worst(r.findings), .ok)
        XCTAssertEqual(r.findings.count, 1)
    }

    func testSudoClientLineIsOKButNothingWider() {
        let ok = judge("borgpull ALL=(root) NOPASSWD: /usr/local/bin/borgpull-client -c /etc/borgpull BACKUP\n")
        XCTAssertTrue(ok.grantsTrigger)
        XCTAssertEqual(worst(ok.findings), .ok)
        for wide in [
            "/usr/local/bin/borgpull-client", "/usr/local/bin/borgpull-client -c /etc/borgpull borg list",
            "/usr/local/bin/borgpull-client -c * BACKUP", "/usr/local/bin/borgpull-client -c etc BACKUP"
        ] {
            XCTAssertEqual(worst(judge("borgpull ALL=(root) NOPASSWD: \(wide)\n").findings), .fail, wide)
        }
    }

    func testSeedAliasFormIsOK() {
        let r = judge(
            """
            # Borg backup command, but without any parameters!
            Cmnd_Alias     BORG_BACKUP = /usr/bin/systemctl start run-borg-backup.service

            borgpull ALL   = (root) NOPASSWD: BORG_BACKUP
            """)
        XCTAssertTrue(r.grantsTrigger)
        XCTAssertEqual(worst(r.findings), .ok)
    }

    func testBroaderRulesFail() {
        let cases = [
            "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl",  // any arguments
            "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl *",  // wildcard
            "borgpull ALL=(root) NOPASSWD: ALL",
            "borgpull ALL=(ALL:ALL) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service",  // runas
            "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl restart run-borg-backup.service",  // verb
            "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service, /usr/bin/systemctl stop ssh.service",
            "borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service ssh.service",
            "borgpull ALL=(root) /usr/bin/systemctl start run-borg-backup.service",  // no NOPASSWD
            "borgpull ALL=(root) NOPASSWD:SETENV: /usr/bin/systemctl start run-borg-backup.service",
            "%backup ALL=(root) NOPASSWD: /usr/bin/systemctl",  // via a group
            "#998 ALL=(root) NOPASSWD: sudoedit /etc/borgpull/borg_env",
            "User_Alias B = nobody, borgpull\nB ALL = NOPASSWD: /bin/sh",
            "Cmnd_Alias X = /usr/bin/systemctl *\nborgpull ALL=(root) NOPASSWD: X",
            "ALL ALL=(ALL) ALL",
            "Defaults:borgpull !env_reset\nborgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service"
        ]
        for c in cases {
            let r = judge(c)
            XCTAssertEqual(worst(r.findings), .fail, c)
            if let f = r.findings.first(where: { $0.severity == .fail && $0.check == "trigger.sudoers" }) {
                XCTAssertTrue(f.fix.contains("borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service"), c)
                XCTAssertTrue(f.location.hasPrefix("/etc/sudoers.d/borgpull:"), f.location)
            }
        }
    }

    func testRulesForOthersAreIgnored() {
        let r = judge(
            """
            root ALL=(ALL:ALL) ALL
            %sudo ALL=(ALL:ALL) ALL
            alice ALL=(ALL) NOPASSWD: ALL
            ALL, !borgpull ALL=(ALL) ALL
            Defaults env_reset
            #includedir /etc/sudoers.d
            @includedir /etc/sudoers.d
            """)
        XCTAssertFalse(r.grantsTrigger)
        XCTAssertEqual(r.findings, [])
    }

    func testContinuationAndCarriedTags() {
        let r = judge("borgpull ALL=(root) NOPASSWD: \\\n  /usr/bin/systemctl start run-borg-backup.service, /usr/bin/id")
        XCTAssertTrue(r.grantsTrigger)
        XCTAssertEqual(r.findings.filter { $0.severity == .fail }.count, 1)
        XCTAssertEqual(r.findings.first { $0.severity == .fail }?.location, "/etc/sudoers.d/borgpull:1")
    }
}

final class PolkitRulesTests: XCTestCase {
    let shipped = """
        // borgpull: mentions borgpull, run-borg-backup.service || systemctl in comments
        /* polkit.Result.YES in a block comment */
        polkit.addRule(function(action, subject) {
            if (subject.user !== "borgpull") {
                return polkit.Result.NOT_HANDLED;
            }
            if (action.id === "org.freedesktop.systemd1.manage-units" &&
                action.lookup("unit") === "run-borg-backup.service" &&
                action.lookup("verb") === "start") {
                return polkit.Result.YES;
            }
            return polkit.Result.NO;
        });
        """

    func testShippedRuleIsOK() {
        let r = PolkitRules.check(file: "50-borgpull.rules", text: shipped, user: "borgpull")
        XCTAssertEqual(r?.grantsTrigger, true)
        XCTAssertEqual(r.map { worst($0.findings) }, .ok, r?.findings.map(\.actual).joined() ?? "")
    }

    func testUnrelatedRuleIsIgnored() {
        XCTAssertNil(
            PolkitRules.check(
                file: "x.rules", text: "polkit.addRule(function(a, s) { if (s.isInGroup(\"sudo\")) return polkit.Result.YES; });", user: "borgpull"))
    }

    func testBroaderRulesFail() {
        let variants = [
            shipped.replacingAll("action.lookup(\"verb\") === \"start\"", "true"),
            shipped.replacingAll("action.lookup(\"unit\") === \"run-borg-backup.service\" &&", ""),
            shipped.replacingAll("action.id === \"org.freedesktop.systemd1.manage-units\" &&", ""),
            shipped.replacingAll("=== \"start\"", "=== \"start\" || true"),
            shipped.replacingAll(
                "if (subject.user !== \"borgpull\") {\n        return polkit.Result.NOT_HANDLED;\n    }", "if (subject.isInGroup(\"borgpull\")) { }"),
            "polkit.addRule(function(action, subject) { if (subject.user == \"borgpull\") return polkit.Result.YES; });",
            shipped.replacingAll("action.lookup(\"unit\") === \"run-borg-backup.service\"", "action.lookup(\"unit\").indexOf(\"run-borg-backup.service\") >= 0")
        ]
        for v in variants {
            let r = PolkitRules.check(file: "x.rules", text: v, user: "borgpull")
            XCTAssertEqual(r.map { worst($0.findings) }, .fail, v)
            XCTAssertTrue(r?.findings.first?.fix.contains("50-borgpull.rules") ?? false)
        }
    }
}

final class BorgPatternsTests: XCTestCase {
    func testValidPatternsFile() {
        let text = """
            # comment
            R /home
            P sh
            + /home/*/Documents
            - /home/*/.cache
            ! re:^home/[^/]+/\\.local/share/Trash
            - fm:*.tmp
            - pp:/home/tmp
            + pf:/home/a/keep.txt
            p fm
            - *.o
            """
        let fs = BorgPatterns.check(text, file: "borg_patterns", kind: .patterns)
        XCTAssertEqual(worst(fs), .ok, fs.map(\.what).joined(separator: "; "))
    }

    func testBadPatternLinesFail() {
        for (line, hint) in [
            ("/home/*/.cache", "start with"), ("- xx:foo", "unknown pattern style"), ("P zz", "unknown pattern style"),
            ("+", "without a value"), ("- re:([unclosed", "does not compile"), ("- re:a(b", "does not compile")
        ] {
            let fs = BorgPatterns.check(line, file: "p", kind: .patterns)
            let f = fs.first { $0.severity == .fail }
            XCTAssertNotNil(f, line)
            XCTAssertTrue(f?.what.contains(hint) ?? false, "\(line): \(f?.what ?? "")")
            XCTAssertEqual(f?.location, "p:1")
        }
    }

    func testExcludesFile() {
        XCTAssertEqual(worst(BorgPatterns.check("/home/*/.cache\nsh:**/node_modules\nre:\\.pyc$\n", file: "e", kind: .excludes)), .ok)
        XCTAssertEqual(worst(BorgPatterns.check("re:(\n", file: "e", kind: .excludes)), .fail)
        XCTAssertEqual(worst(BorgPatterns.check("- /home/x\n", file: "e", kind: .excludes)), .warn)
    }

    func testBorgVersion() {
        // CVE-2023-36811: fixed in 1.2.5; Debian 12's 1.2.4 gets a WARN with the CVE and the fix.
        let old = BorgVersion.check("borg 1.2.4\n", binary: "/usr/bin/borg")
        XCTAssertEqual(old.severity, .warn)
        XCTAssertTrue(old.what.contains("CVE-2023-36811"), old.what)
        XCTAssertTrue(old.fix.contains("bookworm-backports") && old.fix.contains("1.2.8") && old.fix.contains("1.4"), old.fix)
        XCTAssertEqual(old.location, "/usr/bin/borg --version")
        XCTAssertEqual(BorgVersion.check("borg 1.2.0\n", binary: "borg").severity, .warn)
        XCTAssertEqual(BorgVersion.check("borg 1.2\n", binary: "borg").severity, .warn)
        XCTAssertEqual(BorgVersion.check("borg 1.2.5\n", binary: "borg").severity, .ok)
        XCTAssertEqual(BorgVersion.check("borg 1.2.8\n", binary: "borg").severity, .ok)
        XCTAssertEqual(BorgVersion.check("borg 1.2.10\n", binary: "borg").severity, .ok)
        XCTAssertEqual(BorgVersion.check("borg 1.4.5\n", binary: "borg").severity, .ok)
        XCTAssertEqual(BorgVersion.check("borg 1.4.0\n", binary: "borg").severity, .ok)
        XCTAssertEqual(BorgVersion.check("borg 1.4.1b1\n", binary: "borg").severity, .ok)
        XCTAssertEqual(BorgVersion.check("borg 2.0.0b8\n", binary: "borg").severity, .fail)
        XCTAssertEqual(BorgVersion.check("borg 1.1.18\n", binary: "borg").severity, .fail)
        XCTAssertEqual(BorgVersion.check("Traceback ...", binary: "borg").severity, .fail)
        XCTAssertEqual(
            BorgVersion.pinnedVersion(entryScript: "#!/usr/bin/python3\n# EASY-INSTALL-ENTRY-SCRIPT: 'borgbackup==1.2.4','console_scripts','borg'\n"), "1.2.4")
        XCTAssertNil(BorgVersion.pinnedVersion(entryScript: "#!/usr/bin/python3\nfrom borg.archiver import main\n"))
    }
}

final class AuditReportTests: XCTestCase {
    func testExitStatusFollowsWorst() {
        let ok = Finding(.ok, check: "a.b", what: "w", location: "l", expected: "e", actual: "a")
        var warn = ok; warn.severity = .warn
        var fail = ok; fail.severity = .fail
        XCTAssertEqual(AuditReport(findings: []).exitStatus, 0)
        XCTAssertEqual(AuditReport(findings: [ok]).exitStatus, 0)
        XCTAssertEqual(AuditReport(findings: [ok, warn]).exitStatus, 1)
        XCTAssertEqual(AuditReport(findings: [warn, fail, ok]).exitStatus, 2)
        let r = AuditReport(findings: [warn, fail, ok])
        XCTAssertEqual(r.summary, AuditReport.Summary(ok: 1, warn: 1, fail: 1, total: 3))
        XCTAssertTrue(r.humanText().hasSuffix("borgpull-check: 1 FAIL, 1 WARN, 1 OK -> FAIL (exit 2)\n"))
        XCTAssertFalse(r.humanText(quietOK: true).contains("OK   w"))
    }

    func testUnitsCompareAndExposure() {
        let unit = "# c\n[Service]\nExecStart=/x\n"
        XCTAssertEqual(
            UnitRules.compare(unit: "u", installedPath: "/i", installed: "[Service]\n  ExecStart=/x\n\n", shippedPath: "/s", shipped: unit).severity, .ok)
        XCTAssertEqual(
            UnitRules.compare(unit: "u", installedPath: "/i", installed: "[Service]\nExecStart=/y\n", shippedPath: "/s", shipped: unit).severity, .warn)
        XCTAssertEqual(UnitRules.compare(unit: "u", installedPath: "/i", installed: nil, shippedPath: "/s", shipped: unit).severity, .fail)
        XCTAssertEqual(UnitRules.exposure(in: "x\n→ Overall exposure level for run-borg-backup.service: 1.4 OK 🙂\n"), 1.4)
        XCTAssertEqual(UnitRules.exposure(in: "-> Overall exposure level for run-borg-backup.service: 9.6 UNSAFE :-{\n"), 9.6)
        XCTAssertEqual(UnitRules.exposure(in: "-> Overall exposure level for run-borg-backup.service: 1.4 OK :-)\n"), 1.4)
        XCTAssertEqual(UnitRules.checkExposure(9.6, unit: "u", path: "/p", output: "").severity, .fail)
        XCTAssertEqual(UnitRules.checkExposure(1.4, unit: "u", path: "/p", output: "").severity, .ok)
    }

    func testSocketDirectory() {
        let good = FileFacts(path: "/run/borg", kind: .directory, uid: 998, gid: 998, mode: 0o710)
        XCTAssertEqual(worst(SocketRules.checkDirectory(good, path: "/run/borg", user: "b", uid: 998, group: "b", gid: 998, configDir: "/etc/borgpull")), .ok)
        var wide = good; wide.mode = 0o1777
        XCTAssertEqual(worst(SocketRules.checkDirectory(wide, path: "/run/borg", user: "b", uid: 998, group: "b", gid: 998, configDir: "/etc/borgpull")), .fail)
        XCTAssertEqual(worst(SocketRules.checkDirectory(nil, path: "/run/borg", user: "b", uid: 998, group: "b", gid: 998, configDir: "/etc/borgpull")), .fail)
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: a) { out += rest[..<r.lowerBound]; out += b; rest = rest[r.upperBound...] }
        return out + rest
    }
}

final class ParentRuleFixTests: XCTestCase {
    func testStickySharedDirectoryIsNeverToldToChmod() {
        let tmp = FileFacts(path: "/tmp", kind: .directory, uid: 0, gid: 0, mode: 0o1777)
        let f = FileRules.checkParent(tmp, of: "/tmp/x/borg.policy")
        XCTAssertEqual(f.first?.check, "dir.writable")
        XCTAssertTrue(f.first?.fix.hasPrefix("move /tmp/x/borg.policy out of /tmp") ?? false, "\(f)")
        let shared = FileFacts(path: "/srv", kind: .directory, uid: 0, gid: 0, mode: 0o775)
        XCTAssertEqual(FileRules.checkParent(shared, of: "/srv/p").first?.fix, "chmod go-w /srv")
    }
}
