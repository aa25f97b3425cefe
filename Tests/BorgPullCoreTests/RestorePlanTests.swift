import Foundation
import XCTest

@testable import BorgPullCore

final class RestorePlanTests: XCTestCase {
    let archives = [
        "web-2026-01-01T00:00:00", "web-2026-02-01T00:00:00", "web-db-2026-03-01T00:00:00",
        "web-2026-02-02T00:00:00.checkpoint"
    ]

    func decide(_ r: RestoreRequest) throws -> RestorePlan {
        try RestorePlan.decide(r, archives: archives, stateDirectory: "/var/lib/borgpull", prefix: "web", stamp: "1-2")
    }

    func testLatestIsThisHostsNewestCompleteArchive() throws {
        let p = try decide(RestoreRequest(latest: true, paths: ["/etc/hosts", "etc/passwd"]))
        XCTAssertEqual(p.archive, "web-2026-02-01T00:00:00")
        XCTAssertEqual(p.paths, ["etc/hosts", "etc/passwd"])
        XCTAssertEqual(p.target, "/var/lib/borgpull/restore/web-2026-02-01T00:00:00-1-2")
        XCTAssertEqual(
            p.extractArguments(borgBinary: "/usr/bin/borg", lockWait: 5),
            [
                "/usr/bin/borg", "extract", "--lock-wait", "5", "--log-json", "--list",
                "::web-2026-02-01T00:00:00", "--", "etc/hosts", "etc/passwd"
            ])
    }

    func testRefusals() {
        XCTAssertThrowsError(try decide(RestoreRequest(archive: "web-db-2026-03-01T00:00:00")))
        XCTAssertNoThrow(try decide(RestoreRequest(archive: "web-db-2026-03-01T00:00:00", anyHost: true)))
        XCTAssertThrowsError(try decide(RestoreRequest(latest: true, inPlace: true)))
        XCTAssertThrowsError(try decide(RestoreRequest(latest: true, paths: ["etc/../shadow"])))
        XCTAssertThrowsError(try decide(RestoreRequest(latest: true, to: "relative")))
        XCTAssertThrowsError(try decide(RestoreRequest(archive: "x", latest: true)))
        let p = try? decide(RestoreRequest(latest: true, to: "/home/alice/restore", paths: ["home/alice"]))
        XCTAssertThrowsError(try p?.checkTarget(.missing, force: false))
        XCTAssertNoThrow(try p?.checkTarget(.missing, force: true))
        XCTAssertThrowsError(try p?.checkTarget(.symlink, force: true))
        XCTAssertThrowsError(try decide(RestoreRequest(latest: true, to: "/x")).checkTarget(.nonEmptyDirectory, force: false))
    }

    func testInPlaceWritesOnlyBeneathTheDeepestExistingParents() throws {
        let p = try decide(RestoreRequest(latest: true, inPlace: true, paths: ["etc/ssh/sshd_config", "etc/new/dir/f", "srv"]))
        XCTAssertThrowsError(try p.writableDirectories { ["/etc", "/etc/ssh"].contains($0) })
        let q = try decide(RestoreRequest(latest: true, inPlace: true, paths: ["etc/ssh/sshd_config", "etc/new/dir/f"]))
        XCTAssertEqual(try q.writableDirectories { ["/etc", "/etc/ssh"].contains($0) }, ["/etc/ssh", "/etc"])
    }

    func testOutcomeCountsItemsAndWarnings() {
        var o = RestoreOutcome()
        o.add(#"{"type": "log_message", "name": "borg.output.list", "levelname": "INFO", "message": "etc/hosts"}"#)
        XCTAssertEqual(o.status(rc: 0), .ok)
        o.add(#"{"type": "log_message", "name": "borg.archiver", "levelname": "WARNING", "message": "etc/x: attrs: [Errno 1]"}"#)
        XCTAssertEqual(o.restored, ["etc/hosts"])
        XCTAssertEqual(o.status(rc: 1), .restoreIncomplete)
        XCTAssertEqual(o.status(rc: 2), .borgFailed)
    }

    func testRestorePlanAndPolicy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policy/seccomp/borg-restore.policy")
        let policy = try SeccompPolicy.parse(String(contentsOf: url, encoding: .utf8), file: url.path)
        XCTAssertFalse(policy.rules.contains { $0.syscall == "kill" && $0.conditions.isEmpty })
        let plan = SandboxPlan.restore(policy: policy, writableDirectories: ["/srv/r", "/var/lib/borgpull/borg-root"], landlock: .auto)
        XCTAssertNoThrow(try plan.validate())
        XCTAssertEqual(Capability.statusHex(plan.keptCapabilities), "000000008800000b")
        XCTAssertEqual(
            Array(plan.sandboxExecArguments(policyPath: "/p", executable: "/usr/bin/borg", arguments: []).prefix(2)),
            ["sandbox-exec", "--restore"])
        var widened = plan
        widened.keptCapabilities.append(Capability(rawValue: 21))  // CAP_SYS_ADMIN
        XCTAssertThrowsError(try widened.validate())
        var backup = plan
        backup.purpose = .backup
        XCTAssertThrowsError(try backup.validate())  // uid 0 is never a backup runner
        XCTAssertThrowsError(try SandboxPlan.restore(policy: policy, writableDirectories: ["/"], landlock: .auto).validate())
    }
}
