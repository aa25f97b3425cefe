import Foundation
import XCTest

/// borg's known aborts and what borg accepts silently, end to end: real borg (TestBorg) behind
/// real socat, BACKUP's summary (stderr) and its result record.
final class BorgAbortSystemTests: XCTestCase {
    func testRenamedRepositoryLabelNamesTheCauseAndTheFix() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        XCTAssertEqual(f.client(["BACKUP"]).status, 0)
        // The host part of BORG_REPO is only a label (the tunnel decides where it goes), but
        // borg remembers the whole URL: a new label is a "relocated" repository.
        let renamed = "export BORG_REPO=\"ssh://renamed-server\(f.repo)\"\n"
        f.writeEnv(renamed)
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(f.step("create")?["cause"] as? String, "repository-relocated")
        let message = f.step("create")?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("fix: restore the previous BORG_REPO"), message)
        XCTAssertTrue(r.stderr.contains("create    failed      borg create failed (rc 2, repository-relocated): "), r.stderr)
        XCTAssertTrue(r.stderr.contains("export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes"), r.stderr)
        // borg's own line (it names both locations) is in the client's log, not in the record.
        XCTAssertTrue(r.stderr.contains("was previously located at"), r.stderr)
        let record = try String(contentsOfFile: "\(f.state)/results/last-backup.json", encoding: .utf8)
        XCTAssertFalse(record.contains("previously located"), record)

        // The fix as written works: once with the variable, then without it.
        f.writeEnv(renamed + "export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes\n")
        XCTAssertEqual(f.client(["BACKUP"]).status, 0)
        f.writeEnv(renamed)
        XCTAssertEqual(f.client(["BACKUP"]).status, 0)
    }

    func testWrongPassphraseNamesTheCauseAndTheFix() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        f.writeEnv("export BORG_PASSPHRASE='not the passphrase'\n")
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(f.step("create")?["cause"] as? String, "passphrase-wrong")
        XCTAssertTrue(
            r.stderr.contains(
                "borg create failed (rc 2, passphrase-wrong): the passphrase does not open the repository key; fix: put the repository's passphrase into BORG_PASSPHRASE or PASSPHRASE_FILE"
            ), r.stderr)
        let record = try String(contentsOfFile: "\(f.state)/results/last-backup.json", encoding: .utf8)
        XCTAssertFalse(record.contains("not the passphrase"))
    }

    func testMissingRepositoryNamesTheCause() throws {
        let f = try ClientFixture()
        try f.startServer()
        // The fixture's repository directory exists but was never initialised.
        var r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(f.step("create")?["cause"] as? String, "repository-missing")
        XCTAssertTrue(r.stderr.contains("borgpull-client borg init --encryption=repokey-blake2"), r.stderr)
        // Not the path the server serves (borg serve --restrict-to-repository).
        f.writeEnv("export BORG_REPO=\"ssh://backup-server\(f.repo)/elsewhere\"\n")
        r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(f.step("create")?["cause"] as? String, "repository-path-not-allowed")
        // No repository directory at all.
        f.writeEnv()
        Shell.sh("rm -rf \(f.repo)")
        r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(f.step("create")?["cause"] as? String, "repository-missing", r.stderr)
    }

    /// BACKUP's audit: a yes borg reads as no stops BACKUP before anything ran (FAIL naming the
    /// line and `yes`); a re:^/ pattern is a WARN naming borg_patterns:LINE and the backup runs.
    func testLintInBackupsAudit() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        f.write("borg_patterns", "R \(f.data)\n- re:^/home/[^/]+/\\.cache\n")
        let ok = f.client(["BACKUP"])
        XCTAssertEqual(ok.status, 0, ok.stderr)  // an audit WARN is logged; the backup runs
        XCTAssertTrue(ok.stderr.contains("\(f.conf)/borg_patterns:2: this re: pattern never matches"), ok.stderr)
        XCTAssertTrue(ok.stderr.contains("write the line as: - re:^home/[^/]+/\\.cache"), ok.stderr)

        f.write("borg_patterns", "R \(f.data)\n")
        f.writeEnv("export BORG_RELOCATED_REPO_ACCESS_IS_OK=true\n")
        let line = try String(contentsOfFile: "\(f.conf)/borg_env", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("BORG_RELOCATED_REPO_ACCESS_IS_OK") }.map { $0 + 1 }
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(f.conf)/borg_env:\(line ?? 0): borg reads BORG_RELOCATED_REPO_ACCESS_IS_OK=\"true\" as no"), r.stderr)
        XCTAssertTrue(r.stderr.contains("fix: write the line as: export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes"), r.stderr)
        f.writeEnv()
        XCTAssertEqual(f.archives().count, 1, "nothing ran after the FAIL")
    }
}
