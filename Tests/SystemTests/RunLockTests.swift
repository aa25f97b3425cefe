import XCTest

@testable import BorgPullSystem

/// The one run lock (client BACKUP, server BACKUP/SERVE/COMPACT/CHECK) on real files.
final class RunLockTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        try Prerequisites.requireRoot()
        dir = "/var/tmp/bp-lock-\(getpid())-\(Int(monotonicSeconds() * 1000) % 100_000)"
        XCTAssertEqual(Shell.sh("rm -rf \(dir) && install -d -m 0700 \(dir)").status, 0)
    }

    override func tearDown() {
        if !dir.isEmpty { Shell.sh("rm -rf \(dir)") }
    }

    /// The lock is truncated and written: a hard link planted at its path must be refused, and
    /// the file it names kept (the client's lock did not check this, the server's did).
    func testAHardLinkIsRefusedAndItsTargetKept() throws {
        XCTAssertEqual(Shell.sh("echo important > \(dir)/victim && ln \(dir)/victim \(dir)/backup.lock").status, 0)
        XCTAssertThrowsError(try RunLock(path: "\(dir)/backup.lock"))
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/victim", encoding: .utf8), "important\n")
    }

    /// A FIFO planted at the path neither blocks the open nor is taken for the lock.
    func testAFifoIsRefused() throws {
        XCTAssertEqual(Shell.sh("mkfifo \(dir)/backup.lock").status, 0)
        XCTAssertThrowsError(try RunLock(path: "\(dir)/backup.lock"))
    }

    /// A held lock is refused at once with the holder's pid, or taken within a bounded wait once
    /// the holder releases it.
    func testAHeldLockIsBusyAndABoundedWaitTakesItWhenReleased() throws {
        let first = try RunLock(path: "\(dir)/backup.lock")
        XCTAssertThrowsError(try RunLock(path: "\(dir)/backup.lock")) { error in
            guard case RunLock.Failure.busy(_, let holder) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(holder, "\(getpid())")
        }
        let started = monotonicSeconds()
        XCTAssertThrowsError(try RunLock(path: "\(dir)/backup.lock", wait: 0.3))
        XCTAssertGreaterThanOrEqual(monotonicSeconds() - started, 0.3)
        first.release()
        XCTAssertNoThrow(try RunLock(path: "\(dir)/backup.lock", wait: 1))
    }

    /// Root taking a lock in a directory of another user (the server's RUN_DIR or SLOT_DIR,
    /// LOCAL_USER's) leaves a file that user can open again: before, a manual BACKUP as root left
    /// RUN_DIR/NAME.socket.lock (and slot-N) root 0600, and every later run as LOCAL_USER (the
    /// units) failed with "cannot open the lock file: Permission denied" (exit 9).
    func testALockRootCreatesInAnotherUsersDirectoryStaysThatUsers() throws {
        XCTAssertEqual(Shell.sh("chown nobody:nogroup \(dir)").status, 0)
        let nobody = getpwnam("nobody")!.pointee
        do { _ = try RunLock(path: "\(dir)/c.socket.lock", owner: (nobody.pw_uid, nobody.pw_gid)) }
        var st = stat()
        XCTAssertEqual(stat("\(dir)/c.socket.lock", &st), 0)
        XCTAssertEqual(st.st_uid, getpwnam("nobody")!.pointee.pw_uid, "root's lock file in nobody's directory is not nobody's")
        let asNobody = Shell.sh(
            "/usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups -- /usr/bin/python3 -c \"import fcntl;f=open('\(dir)/c.socket.lock','r+');fcntl.flock(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\""
        )
        XCTAssertEqual(asNobody.status, 0, "nobody cannot take the lock root created: \(asNobody.stderr)")
        // An existing file is never given away.
        XCTAssertEqual(Shell.sh("install -m 0600 /dev/null \(dir)/planted.lock").status, 0)
        do { _ = try RunLock(path: "\(dir)/planted.lock", owner: (nobody.pw_uid, nobody.pw_gid)) }
        XCTAssertEqual(stat("\(dir)/planted.lock", &st), 0)
        XCTAssertEqual(st.st_uid, 0)
    }
}
