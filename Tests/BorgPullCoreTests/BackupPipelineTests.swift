import XCTest

@testable import BorgPullCore

/// The BACKUP pipeline's rules: step names, hooks, which steps run, the borg_paths check.
final class BackupPipelineTests: XCTestCase {
    func config(env: String = "", paths: String = "/etc\n", hooks: [ClientFile: Bool] = [:]) throws -> ClientConfig {
        var texts: [ClientFile: String] = [.env: "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\n" + env, .paths: paths]
        for h in hooks.keys { texts[h] = "#!/bin/sh\n" }
        return try ClientConfig.build(ClientConfigInput(directory: "/etc/borgpull", texts: texts, hookExecutable: hooks))
    }

    func testStepNamesAreTheRecordsAndTheServerReadsThem() throws {
        XCTAssertEqual(BackupStep.allCases.map(\.rawValue), ["pre-hook", "paths", "create", "prune", "sandbox", "post-hook"])
        XCTAssertEqual("\(BackupStep.postHook)", "post-hook")
        let step = StepResult(name: .prune, status: .skipped, message: "m")
        let json = String(decoding: try JSONEncoder().encode(step), as: UTF8.self)
        XCTAssertTrue(json.contains(#""name":"prune""#), json)
        let report = try JSONDecoder().decode(ClientReport.Step.self, from: Data(json.utf8))
        XCTAssertEqual(report.name, "prune")
    }

    func testHooksCarryPhaseTimeoutAndEnvironment() throws {
        let c = try config(env: "HOOK_TIMEOUT=7\n", hooks: [.hookPre: true, .hookPost: true])
        let pre = try XCTUnwrap(Hook.of(c, .pre))
        XCTAssertEqual(pre.path, "/etc/borgpull/borg_hook_pre")
        XCTAssertEqual(pre.timeout, 7)
        XCTAssertEqual(pre.step, .preHook)
        XCTAssertTrue(pre.forwardsSignals)
        XCTAssertEqual(pre.environment["BORGPULL_PHASE"], "pre")
        XCTAssertNil(pre.environment["BORGPULL_STATUS"])
        let post = try XCTUnwrap(Hook.of(c, .post, status: .borgFailed))
        XCTAssertFalse(post.forwardsSignals, "the post hook undoes the pre hook: a stop request does not end it")
        XCTAssertEqual(post.environment["BORGPULL_STATUS"], "borg-failed")
        XCTAssertEqual(Set(post.environment.keys), ["PATH", "LANG", "HOME", "BORGPULL_PHASE", "BORGPULL_CONFIG_DIR", "BORGPULL_STATUS"])
        XCTAssertNil(Hook.of(try config(), .pre))
    }

    func testHookResults() throws {
        let c = try config(env: "HOOK_TIMEOUT=2\n", hooks: [.hookPre: true, .hookPost: true])
        let pre = try XCTUnwrap(Hook.of(c, .pre)), post = try XCTUnwrap(Hook.of(c, .post))
        XCTAssertEqual(pre.result(exitCode: 0, signal: nil, timedOut: false, interrupted: false, seconds: 1).status, .ok)
        XCTAssertEqual(pre.result(exitCode: 0, signal: nil, timedOut: false, interrupted: true, seconds: 1).status, .interrupted)
        XCTAssertEqual(post.result(exitCode: 0, signal: nil, timedOut: false, interrupted: true, seconds: 1).status, .ok)
        let failed = pre.result(exitCode: 3, signal: nil, timedOut: false, interrupted: false, seconds: 1)
        XCTAssertEqual([failed.status.rawValue, failed.message], ["failed", "pre-hook failed (exit 3)"])
        XCTAssertEqual(failed.rc, 3)
        let killed = post.result(exitCode: nil, signal: 9, timedOut: false, interrupted: false, seconds: 1)
        XCTAssertEqual([killed.status.rawValue, killed.message], ["failed", "post-hook killed by signal 9"])
        let late = pre.result(exitCode: nil, signal: 15, timedOut: true, interrupted: false, seconds: 2)
        XCTAssertEqual([late.status.rawValue, late.message], ["timeout", "pre-hook timed out after 2 s and was terminated"])
        XCTAssertEqual(pre.notStarted.status, .failed)
        XCTAssertEqual(pre.notStarted.name, .preHook)
    }

    func testWhichStepsRun() {
        let preFailed = StepResult(name: .preHook, status: .timeout, message: "")
        let preOK = StepResult(name: .preHook, status: .ok, message: "")
        XCTAssertTrue(BackupPipeline.proceeds(after: [], interrupted: false))
        XCTAssertTrue(BackupPipeline.proceeds(after: [preOK], interrupted: false))
        XCTAssertFalse(BackupPipeline.proceeds(after: [preFailed], interrupted: false))
        XCTAssertFalse(BackupPipeline.proceeds(after: [preOK], interrupted: true))

        let created = StepResult(name: .create, status: .warning, message: "")
        let createFailed = StepResult(name: .create, status: .failed, message: "")
        XCTAssertNil(BackupPipeline.skippedPrune(after: [preOK, created], interrupted: false))
        let skipped = BackupPipeline.skippedPrune(after: [createFailed], interrupted: false)
        XCTAssertEqual(skipped?.name, .prune)
        XCTAssertEqual(skipped?.status, .skipped)
        XCTAssertNotNil(BackupPipeline.skippedPrune(after: [created], interrupted: true))

        XCTAssertNil(BackupPipeline.sandboxStep(failed: false))
        XCTAssertEqual(BackupPipeline.sandboxStep(failed: true)?.name, .sandbox)
        XCTAssertTrue(BackupPipeline.failed(.create, in: [createFailed]))
        XCTAssertFalse(BackupPipeline.failed(.prune, in: [createFailed]))

        let first = SandboxStep.allCases[0]
        let refused = BackupPipeline.sandboxRefused(.prune, at: first, seconds: 0)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertTrue(refused.message.hasPrefix("sandbox step \(first) failed, so borg prune did not run"), refused.message)
        XCTAssertEqual(
            BackupPipeline.borgWarning(.create, rc: 1, tail: ["a", " ", "b"]),
            "borg create warned (rc 1, 2 message line(s)) \(BackupPipeline.seeLog)")
    }

    func testMissingPathsFailUnlessWarnAndSomethingIsLeft() throws {
        let present: Set<String> = ["/etc", "/srv"]
        let exists = { (p: String) in present.contains(p) }
        let all = BackupPipeline.paths(try config(paths: "/etc\n/srv\n"), exists: exists)
        XCTAssertEqual(all, BackupPipeline.Paths(existing: ["/etc", "/srv"], missing: [], failure: nil, warning: nil))

        let strict = BackupPipeline.paths(try config(paths: "/etc\n/gone\n"), exists: exists)
        XCTAssertEqual(strict.missing, ["/gone (/etc/borgpull/borg_paths:2) does not exist"])
        XCTAssertEqual(strict.failure?.name, .paths)
        XCTAssertTrue(strict.failure?.message.hasPrefix("1 borg_paths entry does not exist") ?? false)
        XCTAssertFalse(strict.failure?.message.contains("/gone") ?? true, "the record reaches the server: no paths in it")
        XCTAssertNil(strict.warning)

        let tolerant = BackupPipeline.paths(try config(env: "MISSING_PATHS=warn\n", paths: "/etc\n/gone\n/lost\n"), exists: exists)
        XCTAssertNil(tolerant.failure)
        XCTAssertEqual(tolerant.existing, ["/etc"])
        XCTAssertTrue(tolerant.warning?.hasPrefix("2 borg_paths entries do not exist (MISSING_PATHS=warn)") ?? false)

        let nothingLeft = BackupPipeline.paths(try config(env: "MISSING_PATHS=warn\n", paths: "/gone\n"), exists: exists)
        XCTAssertNotNil(nothingLeft.failure, "with no path left there is nothing to back up")
    }
}
