import XCTest

@testable import BorgPullCore

final class JournalLineTests: XCTestCase {
    func testJournalStreamMustNameStderr() {
        XCTAssertTrue(JournalLine.isJournal("8:12345", device: 8, inode: 12345))
        // Inherited by a child whose stderr is something else: not the journal.
        XCTAssertFalse(JournalLine.isJournal("8:12345", device: 8, inode: 99))
        XCTAssertFalse(JournalLine.isJournal("9:12345", device: 8, inode: 12345))
        for bad in [nil, "", "8", "8:", ":1", "8:1:2", "x:1", "-1:2"] {
            XCTAssertFalse(JournalLine.isJournal(bad, device: 8, inode: 1), bad ?? "nil")
        }
    }

    func testEveryLineCarriesThePriorityInTheJournal() {
        XCTAssertEqual(
            JournalLine.format("borgpull-client: error: pre hook failed", priority: .error, journal: true),
            "<3>borgpull-client: error: pre hook failed\n")
        XCTAssertEqual(
            JournalLine.format("audit failed:\n  /etc/borgpull/borg_env: 0644\n", priority: .error, journal: true),
            "<3>audit failed:\n<3>  /etc/borgpull/borg_env: 0644\n")
        XCTAssertEqual(JournalLine.format("x", priority: .debug, journal: true), "<7>x\n")
        XCTAssertEqual(JournalLine.format("x", priority: .info, journal: true), "<6>x\n")
        XCTAssertEqual(JournalLine.format("x", priority: .warning, journal: true), "<4>x\n")
    }

    func testOnATerminalLinesStayPlain() {
        XCTAssertEqual(
            JournalLine.format("borgpull-client: info: BACKUP ok\n  archive: a", priority: .info, journal: false),
            "borgpull-client: info: BACKUP ok\n  archive: a\n")
        XCTAssertEqual(JournalLine.format("", priority: .info, journal: false), "\n")
    }

    func testServerSummaryPriority() {
        XCTAssertEqual(ServerExit.ok.priority, .info)
        XCTAssertEqual(ServerExit.warning.priority, .warning)
        for e in ServerExit.allCases where e != .ok && e != .warning { XCTAssertEqual(e.priority, .error, "\(e)") }
    }
}
