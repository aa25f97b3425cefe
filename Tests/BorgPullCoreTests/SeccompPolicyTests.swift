import XCTest

@testable import BorgPullCore

final class SeccompPolicyTests: XCTestCase {
    func parse(_ text: String) throws -> SeccompPolicy { try SeccompPolicy.parse(text, file: "t.policy") }

    /// The diagnostics of a policy that must be rejected.
    func diagnostics(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [SeccompPolicyDiagnostic] {
        do {
            let p = try parse(text)
            XCTFail("policy was accepted: \(p)", file: file, line: line)
            return []
        } catch let e as SeccompPolicyError {
            return e.diagnostics
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }

    func testParsesActionsConditionsAndDefaults() throws {
        let p = try parse(
            """
            # header
            default kill_process
            read
            write allow
            # why: AF_UNIX only
            socket allow if arg0 == AF_UNIX
            socket errno EAFNOSUPPORT if arg0 != AF_UNIX
            clone3 errno ENOSYS   # why: glibc falls back to clone
            # why: no namespaces
            clone allow if arg0 & CLONE_NEW_ALL == 0
            getpid log
            fchown allow if arg1 >= 0x10 and arg2 < 5
            """)
        XCTAssertEqual(p.defaultAction, .killProcess)
        XCTAssertEqual(p.rules.map(\.syscall), ["read", "write", "socket", "socket", "clone3", "clone", "getpid", "fchown"])
        XCTAssertEqual(p.rules[0].action, .allow)
        XCTAssertEqual(p.rules[0].line, 3)
        XCTAssertEqual(p.rules[2].conditions, [SeccompCondition(argument: 0, comparison: .equal, value: 1)])
        XCTAssertEqual(p.rules[2].why, "AF_UNIX only")
        XCTAssertEqual(p.rules[3].action, .errno(97))
        XCTAssertEqual(p.rules[3].conditions, [SeccompCondition(argument: 0, comparison: .notEqual, value: 1)])
        XCTAssertEqual(p.rules[4].action, .errno(38))
        XCTAssertEqual(p.rules[4].why, "glibc falls back to clone")
        XCTAssertEqual(p.rules[5].conditions, [SeccompCondition(argument: 0, comparison: .maskedEqual(mask: 0x7E02_0000), value: 0)])
        XCTAssertEqual(p.rules[6].action, .log)
        XCTAssertEqual(
            p.rules[7].conditions,
            [
                SeccompCondition(argument: 1, comparison: .greaterOrEqual, value: 16),
                SeccompCondition(argument: 2, comparison: .less, value: 5)
            ])
        XCTAssertEqual(p.allowedSyscalls, ["read", "write", "socket", "clone", "getpid", "fchown"])
    }

    func testUnknownActionNamesLineAndFix() {
        let d = diagnostics("default kill_process\nread\nwrite permit\n")
        XCTAssertEqual(d.count, 1)
        XCTAssertEqual(d.first?.line, 3)
        XCTAssertTrue(d.first?.description.hasPrefix("t.policy:3: unknown action `permit`") ?? false, "\(d)")
        XCTAssertTrue(d.first?.fix.contains("kill_process") ?? false)
    }

    func testMalformedLines() {
        let d = diagnostics(
            """
            default kill_process
            Read
            socket allow if arg0 ==
            socket allow if arg9 == 1
            ioctl allow if arg1 & 0xff = 3
            kill errno
            kill errno EWHATEVER
            read allow if arg0 == NOPE
            write allow if arg0 == 1 and arg0 == 2
            """)
        XCTAssertEqual(d.map(\.line), [2, 3, 4, 5, 6, 7, 8, 9], "\(d)")
    }

    func testMissingAndDuplicateDefault() {
        XCTAssertEqual(diagnostics("read\n").map(\.problem), ["no default action"])
        let d = diagnostics("default kill_process\ndefault errno EPERM\nread\n")
        XCTAssertEqual(d.map(\.line), [2])
        XCTAssertEqual(diagnostics("default allow\nread\n").first?.line, 1)
        XCTAssertEqual(diagnostics("default log\nread\n").first?.line, 1)
        XCTAssertEqual(try parse("default log # why: learning run\nread\n").defaultAction, .log)
    }

    func testEntryRepeatingTheDefaultIsRejected() {
        XCTAssertEqual(diagnostics("default kill_process\nread\ngetppid kill_process\n").map(\.line), [3])
    }

    func testDuplicateSyscall() {
        let d = diagnostics("default kill_process\nread\nwrite\nread\n")
        XCTAssertEqual(d.count, 1)
        XCTAssertEqual(d.first?.line, 4)
        XCTAssertTrue(d.first?.problem.contains("line 2") ?? false)
    }

    func testUnconditionalPlusConditionalIsRejected() {
        // libseccomp lets the unconditional rule replace the conditional ones: refuse to write that.
        let d = diagnostics(
            """
            default kill_process
            # why: test
            ioctl allow if arg1 == TCGETS
            ioctl errno ENOTTY
            """)
        XCTAssertEqual(d.map(\.line), [4], "\(d)")
    }

    func testDangerousEntryNeedsWhy() {
        let d = diagnostics("default kill_process\nexecve\n# a comment that is no reason\nkill\n")
        XCTAssertEqual(d.map(\.line), [2, 4])
        XCTAssertTrue(d[0].fix.contains("# why:"))
        // A why block covers the entries directly below it, not past a blank line.
        XCTAssertNoThrow(try parse("default kill_process\n# why: ioctl\n# continues\nioctl allow if arg1 == 1\nioctl allow if arg1 == 2\n"))
        XCTAssertEqual(diagnostics("default kill_process\n# why: x\nread\n\nexecve\n").map(\.line), [5])
    }

    func testNeverAllowedEvenWithWhy() {
        for name in ["ptrace", "mount", "unshare", "setns", "bpf", "keyctl", "open_by_handle_at"] {
            let d = diagnostics("default kill_process\n\(name) allow # why: because\n")
            XCTAssertEqual(d.map(\.line), [2], name)
            XCTAssertTrue(d.first?.problem.contains("never") ?? false, name)
            XCTAssertEqual(diagnostics("default kill_process\n\(name) log # why: learning\n").count, 1, name)
        }
        // Answering one with an errno is fine, with a reason.
        XCTAssertNoThrow(try parse("default kill_process\nptrace errno EPERM # why: quieter than a kill\n"))
        XCTAssertEqual(diagnostics("default kill_process\nptrace errno EPERM\n").count, 1)
    }

    func testCloneAndSocketShapes() {
        XCTAssertEqual(diagnostics("default kill_process\nclone # why: x\n").count, 1)
        XCTAssertEqual(diagnostics("default kill_process\nclone allow if arg0 & CLONE_NEWNS == 0 # why: x\n").count, 1)
        XCTAssertEqual(diagnostics("default kill_process\nsocket # why: x\n").count, 1)
        XCTAssertEqual(diagnostics("default kill_process\nsocket allow if arg0 == AF_INET # why: x\n").count, 1)
    }

    func testShippedPolicyParsesAndBlocksTheEscapes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policy/seccomp/borg.policy")
        let text = try String(contentsOf: url, encoding: .utf8)
        let p = try SeccompPolicy.parse(text, file: url.path)
        XCTAssertEqual(p.defaultAction, .killProcess)
        for name in ["ptrace", "mount", "unshare", "setns", "bpf", "keyctl", "open_by_handle_at", "execveat", "clone3"] {
            XCTAssertFalse(p.allowedSyscalls.contains(name), name)
        }
        for name in ["exit", "exit_group", "rt_sigreturn", "read", "write", "execve", "connect", "getsockopt"] {
            XCTAssertTrue(p.allowedSyscalls.contains(name), name)
        }
        XCTAssertEqual(p.rules.first { $0.syscall == "clone3" }?.action, .errno(38))
        XCTAssertEqual(p.rules.filter { $0.syscall == "socket" }.map(\.action), [.allow, .errno(97)])
    }
}

final class SandboxPlanTests: XCTestCase {
    let policy = SeccompPolicy(file: "p", defaultAction: .killProcess, rules: [])

    func testValidate() {
        XCTAssertNoThrow(try SandboxPlan(runnerUID: 990, runnerGID: 990, policy: policy).validate())
        XCTAssertThrowsError(try SandboxPlan(runnerUID: 0, runnerGID: 990, policy: policy).validate())
        XCTAssertThrowsError(try SandboxPlan(runnerUID: 990, runnerGID: 0, policy: policy).validate())
        XCTAssertThrowsError(try SandboxPlan(runnerUID: 990, runnerGID: 990, supplementaryGIDs: [5, 0], policy: policy).validate())
        XCTAssertThrowsError(
            try SandboxPlan(
                runnerUID: 990, runnerGID: 990, keptCapabilities: [.dacReadSearch, Capability(rawValue: 21)],
                policy: policy
            ).validate())
    }

    func testCapabilityMasks() {
        XCTAssertEqual(Capability.mask([.dacReadSearch]), 4)
        XCTAssertEqual(Capability.statusHex([.dacReadSearch]), "0000000000000004")
        XCTAssertEqual(Capability.statusHex([]), "0000000000000000")
        XCTAssertEqual(Capability.dacReadSearch.description, "CAP_DAC_READ_SEARCH")
    }

    func testStepStatusesAreDistinctAndRoundTrip() {
        let statuses = SandboxStep.allCases.map(\.exitStatus)
        XCTAssertEqual(Set(statuses).count, SandboxStep.allCases.count)
        XCTAssertTrue(statuses.allSatisfy { $0 >= 100 && $0 < 126 })
        for step in SandboxStep.allCases { XCTAssertEqual(SandboxStep(exitStatus: step.exitStatus), step) }
        XCTAssertNil(SandboxStep(exitStatus: 2))
        XCTAssertEqual(SandboxStep.setresuid.exitStatus, 106)
        XCTAssertEqual(SandboxStep.noNewPrivs.description, "no_new_privs")
    }

    func testSandboxExecArguments() {
        let plan = SandboxPlan(
            runnerUID: 990, runnerGID: 991, supplementaryGIDs: [5, 6], policy: policy,
            writableDirectories: ["/var/lib/borgpull/borg"], landlock: .required)
        XCTAssertEqual(
            plan.sandboxExecArguments(
                policyPath: "/etc/borgpull/borg.policy", executable: "/usr/bin/borg",
                arguments: ["create", "--", "::a"], statusFD: 7),
            [
                "sandbox-exec", "--runner-uid", "990", "--runner-gid", "991", "--groups", "5,6",
                "--landlock", "required", "--writable", "/var/lib/borgpull/borg", "--policy", "/etc/borgpull/borg.policy", "--status-fd", "7", "--",
                "/usr/bin/borg", "create", "--", "::a"
            ])
        XCTAssertFalse(
            SandboxPlan(runnerUID: 1, runnerGID: 1, policy: policy)
                .sandboxExecArguments(policyPath: "p", executable: "/x", arguments: []).contains("--groups"))
    }
}
