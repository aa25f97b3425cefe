import XCTest

@testable import BorgPullCore

/// The pure half of the Landlock layer: LANDLOCK=auto|required, the ruleset per ABI version,
/// the decision on a kernel without Landlock, borgpull-check's finding, and the chmod rule of
/// the seccomp linter.
final class LandlockTests: XCTestCase {
    let base = "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\n"

    func build(_ env: String) throws -> ClientConfig {
        try ClientConfig.build(ClientConfigInput(directory: "/etc/borgpull", texts: [.env: env, .paths: "/etc\n"], hookExecutable: [:]))
    }

    // MARK: LANDLOCK in borg_env

    func testLandlockDefaultsToAutoAndAcceptsRequired() throws {
        let d = try build(base)
        XCTAssertEqual(d.landlock, .auto)
        XCTAssertNil(d.landlockLine)
        let r = try build(base + "LANDLOCK=required\n")
        XCTAssertEqual(r.landlock, .required)
        XCTAssertEqual(r.landlockLine, 3)
        XCTAssertFalse(r.notices.contains { $0.contains("LANDLOCK") }, "LANDLOCK is a known key: \(r.notices)")
        XCTAssertEqual(try build(base + "LANDLOCK=auto\n").landlock, .auto)
    }

    func testInvalidLandlockNamesFileLineAndFix() {
        for value in ["yes", "off", "", "Required"] {
            XCTAssertThrowsError(try build(base + "LANDLOCK=\(value)\n"), value) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.file, "/etc/borgpull/borg_env", value)
                XCTAssertEqual(e?.line, 3, value)
                XCTAssertTrue("\(error)".hasPrefix("/etc/borgpull/borg_env:3: LANDLOCK=\(value) must be `auto` or `required`"), "\(error)")
                XCTAssertTrue(e?.fix.contains("LANDLOCK=auto") ?? false, "\(error)")
            }
        }
    }

    func testBaseDirectoryIsStateDirBorgAndBorgsTMPDIR() throws {
        let c = try build(base + "STATE_DIR=/srv/state\n")
        XCTAssertEqual(c.borgBaseDirectory, "/srv/state/borg")
        let env = BorgCommands(config: c, relayCommand: ["/x", "relay"], baseDirectory: c.borgBaseDirectory).environment(passphraseFD: nil)
        XCTAssertEqual(env["BORG_BASE_DIR"], "/srv/state/borg")
        XCTAssertEqual(env["TMPDIR"], "/srv/state/borg", "borg's temporary files must go where Landlock lets it write")
    }

    // MARK: rights by ABI

    func testHandledRightsFollowTheABI() {
        let v1 = LandlockAccess.handledWrites(abi: 1)
        XCTAssertFalse(v1.contains(.refer))
        XCTAssertFalse(v1.contains(.truncate))
        XCTAssertTrue(
            v1.isSuperset(of: [
                .writeFile, .removeDir, .removeFile, .makeChar, .makeDir, .makeReg, .makeSock,
                .makeFifo, .makeBlock, .makeSym
            ]))
        XCTAssertTrue(LandlockAccess.handledWrites(abi: 2).contains(.refer))
        XCTAssertFalse(LandlockAccess.handledWrites(abi: 2).contains(.truncate))
        XCTAssertTrue(LandlockAccess.handledWrites(abi: 3).contains(.truncate))
        for abi in 1...9 {
            let h = LandlockAccess.handledWrites(abi: abi)
            XCTAssertTrue(h.isDisjoint(with: [.execute, .readFile, .readDir]), "reads stay global (ABI \(abi))")
            XCTAssertFalse(h.contains(.ioctlDev), "IOCTL_DEV is left to seccomp (ABI \(abi))")
        }
        XCTAssertEqual(LandlockAccess.handledWrites(abi: 7).rawValue, 0x7ff2)
        XCTAssertEqual(LandlockAccess.handledWrites(abi: 0), [])
        XCTAssertEqual(LandlockAccess([.writeFile, .truncate]).description, "WRITE_FILE|TRUNCATE")
    }

    func testBorgRulesetGivesWritesBackOnlyBeneathTheDirectoriesAndDevNull() {
        let r = LandlockRuleset.borg(abi: 7, writableDirectories: ["/var/lib/borgpull/borg"])
        XCTAssertEqual(r.handled, LandlockAccess.handledWrites(abi: 7))
        XCTAssertEqual(
            r.rules,
            [
                LandlockRule(path: "/var/lib/borgpull/borg", kind: .directory, access: LandlockAccess.handledWrites(abi: 7)),
                LandlockRule(path: "/dev/null", kind: .characterDevice, access: [.writeFile, .truncate])
            ])
        for rule in r.rules where rule.kind == .characterDevice {
            XCTAssertTrue(LandlockAccess.fileRights.isSuperset(of: rule.access), "a device rule carries file rights only")
        }
        // ABI 1: rights it lacks are dropped from the rules too (the kernel refuses unknown bits).
        let old = LandlockRuleset.borg(abi: 1, writableDirectories: [])
        XCTAssertEqual(old.rules, [LandlockRule(path: "/dev/null", kind: .characterDevice, access: [.writeFile])])
        XCTAssertEqual(r.summary, "landlock ABI 7: writes only beneath /var/lib/borgpull/borg; /dev/null")
    }

    func testDecisionWithAndWithoutLandlock() {
        let dirs = ["/var/lib/borgpull/borg"]
        XCTAssertEqual(LandlockMode.auto.decide(abi: 7, writableDirectories: dirs), .apply(.borg(abi: 7, writableDirectories: dirs)))
        XCTAssertEqual(LandlockMode.required.decide(abi: 3, writableDirectories: dirs), .apply(.borg(abi: 3, writableDirectories: dirs)))
        guard case .runWithout(let warning) = LandlockMode.auto.decide(abi: nil, writableDirectories: dirs) else {
            return XCTFail("auto without Landlock must run without it")
        }
        XCTAssertTrue(warning.contains("lsm=") && warning.contains("CONFIG_SECURITY_LANDLOCK"), warning)
        guard case .refuse(let text) = LandlockMode.required.decide(abi: nil, writableDirectories: dirs) else {
            return XCTFail("required without Landlock must refuse")
        }
        XCTAssertTrue(text.contains("LANDLOCK=required") && text.contains("fix:"), text)
    }

    // MARK: borgpull-check

    func testFindingOKWithABIWarnUnderAutoFailUnderRequired() {
        let ok = LandlockMode.auto.finding(abi: 7, location: "/etc/borgpull/borg_env")
        XCTAssertEqual(ok.severity, .ok)
        XCTAssertEqual(ok.check, "sandbox.landlock")
        XCTAssertTrue(ok.actual.hasPrefix("ABI 7"), ok.actual)
        let old = LandlockMode.required.finding(abi: 1, location: "x")
        XCTAssertEqual(old.severity, .ok)
        XCTAssertTrue(old.actual.contains("cannot restrict REFER|TRUNCATE"), old.actual)
        let warn = LandlockMode.auto.finding(abi: nil, location: "/etc/borgpull/borg_env")
        XCTAssertEqual(warn.severity, .warn)
        XCTAssertTrue(warn.fix.contains("lsm=") && warn.fix.contains("CONFIG_SECURITY_LANDLOCK"), warn.fix)
        let fail = LandlockMode.required.finding(abi: nil, location: "/etc/borgpull/borg_env:9")
        XCTAssertEqual(fail.severity, .fail)
        XCTAssertEqual(fail.location, "/etc/borgpull/borg_env:9")
        XCTAssertTrue(fail.fix.contains("LANDLOCK=auto"), fail.fix)
    }

    // MARK: the plan

    func testStepsAndWritableDirectoriesOfThePlan() {
        XCTAssertEqual(SandboxStep.landlock.rawValue, SandboxStep.noNewPrivs.rawValue + 1, "after no_new_privs")
        XCTAssertEqual(SandboxStep.seccomp.rawValue, SandboxStep.landlock.rawValue + 1, "before seccomp")
        XCTAssertEqual(SandboxStep.landlock.exitStatus, 113)
        XCTAssertEqual(SandboxStep.seccomp.exitStatus, 114)
        XCTAssertEqual(SandboxStep.execve.exitStatus, 115)
        XCTAssertEqual(SandboxStep.landlock.description, "landlock")
        let policy = SeccompPolicy(file: "p", defaultAction: .killProcess, rules: [])
        XCTAssertNoThrow(try SandboxPlan(runnerUID: 9, runnerGID: 9, policy: policy, writableDirectories: ["/var/lib/borgpull/borg"]).validate())
        for bad in ["/", "relative", "/a/../etc", ""] {
            XCTAssertThrowsError(try SandboxPlan(runnerUID: 9, runnerGID: 9, policy: policy, writableDirectories: [bad]).validate(), bad)
        }
        XCTAssertEqual(SandboxPlan(runnerUID: 9, runnerGID: 9, policy: policy).landlock, .auto)
    }

    // MARK: seccomp: no setuid/setgid chmod

    func diagnostics(_ text: String) -> [SeccompPolicyDiagnostic] {
        do { _ = try SeccompPolicy.parse(text, file: "t.policy"); return [] } catch let e as SeccompPolicyError { return e.diagnostics } catch { return [] }
    }

    func testChmodFamilyMustRefuseSetIDModes() {
        let head = "default kill_process\n# why: modes\n"
        for bad in [
            "chmod", "chmod allow if arg1 & S_ISUID == 0", "fchmod allow if arg0 & S_ISUID|S_ISGID == 0",
            "fchmodat allow if arg1 & S_ISUID|S_ISGID == 0", "fchmodat2 allow if arg2 & 0xc00 == 0x400"
        ] {
            let d = diagnostics(head + bad + "\n")
            XCTAssertEqual(d.count, 1, "\(bad): \(d)")
            XCTAssertTrue(d.first?.problem.contains("without refusing setuid/setgid modes") ?? false, "\(bad): \(d)")
            XCTAssertEqual(d.first?.line, 3)
        }
        XCTAssertEqual(
            diagnostics("default kill_process\nchmod allow if arg1 & S_ISUID|S_ISGID == 0\n").first?.problem,
            "dangerous syscall `chmod` has no reason")
        let good =
            head + """
                chmod allow if arg1 & S_ISUID|S_ISGID == 0
                chmod errno EPERM if arg1 & S_ISUID|S_ISGID == S_ISUID
                fchmodat allow if arg2 & 0xc00 == 0
                """
        XCTAssertEqual(diagnostics(good + "\n"), [])
    }

    func testShippedPolicyRefusesSetIDChmodWithEPERM() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policy/seccomp/borg.policy")
        let p = try SeccompPolicy.parse(try String(contentsOf: url, encoding: .utf8), file: url.path)
        for name in ["chmod", "fchmod"] {
            let rules = p.rules.filter { $0.syscall == name }
            XCTAssertEqual(
                rules.filter { $0.action == .allow }.map(\.conditions),
                [[SeccompCondition(argument: 1, comparison: .maskedEqual(mask: 0o6000), value: 0)]], name)
            XCTAssertEqual(
                Set(rules.filter { $0.action == .errno(1) }.map(\.conditions)),
                Set([0o4000, 0o2000, 0o6000].map { [SeccompCondition(argument: 1, comparison: .maskedEqual(mask: 0o6000), value: $0)] }),
                "\(name): every setuid/setgid combination answers EPERM")
        }
        XCTAssertFalse(p.allowedSyscalls.contains("fchmodat"))
        XCTAssertFalse(p.allowedSyscalls.contains("fchmodat2"))
    }
}
