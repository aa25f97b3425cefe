import BorgPullCore
import BorgPullSystem
import XCTest

/// COMPACT and CHECK refuse a LOCAL_USER that does not exist or is root before anything runs.
final class LocalAccountTests: XCTestCase {
    func config(localUser: String) throws -> ServerConfig {
        try ServerConfig.parse(
            "REMOTE_HOST=c.example.org\nREPO_NAME=c\nREPO_DIR=/nonexistent/borg/c\nLOCAL_USER=\(localUser)\n", file: "/etc/borgpull-server/c.conf")
    }

    func testMaintenanceRefusesAMissingLocalUser() throws {
        let r = ServerMaintenance.run(config: try config(localUser: "bptest-no-such-user"), mode: .compact, log: { _ in })
        XCTAssertEqual(r.verdict.exit, .configError)
        XCTAssertTrue(r.verdict.message.contains("LOCAL_USER=bptest-no-such-user does not exist on this server"), r.verdict.message)
        XCTAssertNil(r.record)
    }

    func testMaintenanceRefusesRootAsLocalUser() throws {
        let r = ServerMaintenance.run(config: try config(localUser: "root"), mode: .check, log: { _ in })
        XCTAssertEqual(r.verdict.exit, .configError)
        XCTAssertTrue(r.verdict.message.contains("LOCAL_USER=root is root; CHECK runs borg as the repository's owner"), r.verdict.message)
        XCTAssertNil(r.record)
    }
}
