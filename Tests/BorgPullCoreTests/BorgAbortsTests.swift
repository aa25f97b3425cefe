import Foundation
import XCTest

@testable import BorgPullCore

/// borg's aborts, on the stderr lines real borg printed (captured from borg 1.2.4, Debian 12,
/// and borg 1.4.5 from PyPI; paths as in the capture runs, ssh:// ones as through the tunnel).
final class BorgAbortsTests: XCTestCase {
    /// Verbatim stderr of the capture runs, per abort and version.
    static let captured: [(BorgAbort, String, [String])] = [
        (
            .repositoryRelocated, "1.2.4",
            [
                "Warning: The repository at location /tmp/bvt2/repo2 was previously located at /tmp/bvt2/repo",
                "Do you want to continue? [yN] Aborting.",
                "Repository access aborted"
            ]
        ),
        (
            .repositoryRelocated, "1.4.5",
            [
                "Warning: The repository at location /tmp/bvt4/repo2 was previously located at /tmp/bvt4/repo",
                "Do you want to continue? [yN] Aborting.",
                "Repository access aborted"
            ]
        ),
        (
            .passphraseWrong, "1.2.4",
            [
                "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."
            ]
        ),
        (
            .passphraseWrong, "1.4.5",
            [
                "Passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND, or via BORG_PASSPHRASE_FD is incorrect."
            ]
        ),
        (.repositoryMissing, "1.2.4", ["Repository /tmp/bvt2/nope does not exist."]),
        (.repositoryMissing, "1.4.5", ["Repository /tmp/bvt4/nope does not exist."]),
        (.repositoryMissing, "1.2.4", ["/tmp/bvt2/empty is not a valid repository. Check repo config."]),
        (.repositoryMissing, "1.4.5", ["/tmp/bvt4/empty is not a valid repository. Check repo config."]),
        (.repositoryPathNotAllowed, "1.2.4", ["Repository path not allowed: /var/lib/borgpull-test/9683950f/repo/nonexistent"]),
        (.lockTimeout, "1.2.4", ["Failed to create/acquire the lock /tmp/bvt2/repo2/lock.exclusive (timeout)."]),
        (.lockTimeout, "1.4.5", ["Failed to create/acquire the lock /tmp/bvt4/repo2/lock.exclusive (timeout)."]),
        (
            .cacheNewerThanRepository, "1.2.4",
            [
                "Warning: The repository at location /tmp/bvt2/repo2 was previously located at /tmp/bvt2/repo",
                "Do you want to continue? [yN] yes (from BORG_RELOCATED_REPO_ACCESS_IS_OK)",
                "Cache, or information obtained from the security directory is newer than repository - this is either an attack or unsafe (multiple repos with same ID)"
            ]
        ),
        (
            .cacheNewerThanRepository, "1.4.5",
            [
                "Warning: The repository at location /tmp/bvt4/repo2 was previously located at /tmp/bvt4/repo",
                "Do you want to continue? [yN] yes (from BORG_RELOCATED_REPO_ACCESS_IS_OK)",
                "Cache, or information obtained from the security directory is newer than repository - this is either an attack or unsafe (multiple repos with same ID)"
            ]
        ),
        (
            .unknownUnencryptedRepository, "1.2.4",
            [
                "Warning: Attempting to access a previously unknown unencrypted repository!",
                "Do you want to continue? [yN] Aborting.",
                "Cache initialization aborted"
            ]
        ),
        (
            .unknownUnencryptedRepository, "1.4.5",
            [
                "Warning: Attempting to access a previously unknown unencrypted repository!",
                "Do you want to continue? [yN] Aborting.",
                "Cache initialization aborted"
            ]
        )
    ]

    func testCapturedMessagesMapToTheirCause() {
        for (abort, version, lines) in BorgAbortsTests.captured {
            XCTAssertEqual(BorgAbort.match(lines), abort, "borg \(version): \(lines)")
            // Preceded by other output (the relay's, a file warning) it is still found.
            XCTAssertEqual(BorgAbort.match(["/srv/data/x: stat: [Errno 13] Permission denied"] + lines), abort, version)
        }
    }

    func testNoMatchForOtherFailures() {
        XCTAssertNil(BorgAbort.match(["Archive foo already exists"]))
        XCTAssertNil(BorgAbort.match([]))
        // A file name that contains a marker is not an abort (only line starts count).
        XCTAssertNil(BorgAbort.match(["/home/u/Repository access aborted: [Errno 2] No such file or directory"]))
    }

    func testStepMessageAndRecordHoldCauseAndFixButNoPath() throws {
        let lines = BorgAbortsTests.captured[0].2
        let step = StepResult.borg(
            .create, outcome: .error(rc: 2), interrupted: false, seconds: 1, detail: " (details ...)",
            abort: BorgAbort.match(lines))
        XCTAssertEqual(step.cause, .repositoryRelocated)
        XCTAssertTrue(step.message.hasPrefix("borg create failed (rc 2, repository-relocated): "), step.message)
        XCTAssertTrue(step.message.contains("fix: restore the previous BORG_REPO"), step.message)
        for a in BorgAbort.allCases { XCTAssertFalse(a.cause.contains("/tmp") || a.fix.contains("/tmp")) }
        let record = BackupRecord(
            host: "h", started: "s", finished: "f", status: .init(code: 2, name: "borg-failed", message: step.message),
            archive: nil, repository: "ssh://x/r", steps: [step], stats: nil, warnings: [])
        let json = record.json()
        XCTAssertTrue(json.contains("\"cause\" : \"repository-relocated\""), json)
        XCTAssertFalse(json.contains("bvt2"), "borg's own lines (paths) stay in the client's log")
        // Old records (no cause) still decode.
        let old = try JSONDecoder().decode(StepResult.self, from: Data(#"{"name":"create","status":"failed","rc":2,"message":"m","seconds":1}"#.utf8))
        XCTAssertNil(old.cause)
        // Without a known abort the message is as before.
        XCTAssertEqual(
            StepResult.borg(.create, outcome: .error(rc: 2), interrupted: false, seconds: 1, detail: "").message,
            "borg create failed (rc 2)")
    }
}
