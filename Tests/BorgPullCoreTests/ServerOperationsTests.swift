import XCTest

@testable import BorgPullCore

final class ServerOperationsTests: XCTestCase {
    let client = "REMOTE_HOST=c.example.org\nREPO_NAME=c\nREPO_DIR=/srv/borg/c\n"

    func defaults(_ text: String) throws -> ServerDefaults {
        try ServerDefaults.parse(text, file: "/etc/borgpull-server/defaults.conf")
    }

    func testDefaultsAndClientOverride() throws {
        let d = try defaults("MAX_CONCURRENT=4\nSLOT_WAIT_TIMEOUT=60\nNOTIFY_COMMAND=\"/usr/local/bin/mail-admin -s x\"\n")
        let c = try ServerConfig.parse(
            client + "MAX_CONCURRENT=2\nHEALTHCHECK_URL=https://hc-ping.com/abc-123/\n", file: "/etc/borgpull-server/c.conf", defaults: d)
        XCTAssertEqual(c.operations.maxConcurrent, 2)
        XCTAssertEqual(c.operations.slotWaitTimeout, 60)
        XCTAssertEqual(c.operations.notifyCommand, ["/usr/local/bin/mail-admin", "-s", "x"])
        XCTAssertEqual(c.operations.healthcheckURL, "https://hc-ping.com/abc-123")
        XCTAssertTrue(c.notices.isEmpty, "\(c.notices)")
        let plain = try ServerConfig.parse(client, file: "/x.conf")
        XCTAssertNil(plain.operations.maxConcurrent)
        XCTAssertNil(plain.operations.healthcheckURL)
    }

    func testClientMayOnlyLowerMaxConcurrent() throws {
        let d = try defaults("MAX_CONCURRENT=2\n")
        XCTAssertThrowsError(try ServerConfig.parse(client + "MAX_CONCURRENT=3\n", file: "/etc/borgpull-server/c.conf", defaults: d)) { e in
            let s = String(describing: e)
            XCTAssertTrue(s.hasPrefix("/etc/borgpull-server/c.conf:4: MAX_CONCURRENT=3 is above the server-wide MAX_CONCURRENT=2"), s)
            XCTAssertTrue(s.contains("fix: set MAX_CONCURRENT=2 or lower"), s)
        }
    }

    func testServerWideKeysAndBadValues() throws {
        XCTAssertThrowsError(try ServerConfig.parse(client + "SLOT_DIR=/tmp/x\n", file: "/c.conf")) { e in
            XCTAssertTrue(String(describing: e).hasPrefix("/c.conf:4: SLOT_DIR is a server-wide setting"), "\(e)")
        }
        XCTAssertThrowsError(try defaults("MAX_CONCURRENT=0\n")) { e in
            XCTAssertTrue(String(describing: e).contains("defaults.conf:1: MAX_CONCURRENT=0 is not a whole number in 1...1000"), "\(e)")
        }
        XCTAssertThrowsError(try defaults("HEALTHCHECK_URL=https://hc-ping.com/x\n"))
        XCTAssertThrowsError(try defaults("NOTIFY_COMMAND=mail\n"))
        for bad in ["ftp://h/x", "https://", "https://h/x?y=1", "https://h/x y", "https://h/a\"b", "https://h/a\\b"] {
            XCTAssertThrowsError(try ServerConfig.parse(client + "HEALTHCHECK_URL='\(bad)'\n", file: "/c.conf"), bad)
        }
        XCTAssertEqual(try defaults("FOO=1\n").notices.count, 1)
    }

    func testPingURLsHostAndBody() {
        XCTAssertEqual(HealthcheckPing.url("https://h/p", .start), "https://h/p/start")
        XCTAssertEqual(HealthcheckPing.url("https://h/p", .success), "https://h/p")
        XCTAssertEqual(HealthcheckPing.url("https://h/p", .fail), "https://h/p/fail")
        XCTAssertEqual(HealthcheckPing.host(of: "https://user:pw@hc.example.org:8443/secret-uuid"), "hc.example.org")
        XCTAssertEqual(HealthcheckPing.host(of: "http://127.0.0.1:8000/x"), "127.0.0.1")
        XCTAssertEqual(HealthcheckPing.host(of: "http://[::1]:8000/x"), "[::1]")
        let body = HealthcheckPing.body(.fail, status: (2, "client-backup-failed"), failedSteps: ["create", "/etc/shadow", "pre-hook"])
        XCTAssertEqual(body, "client-backup-failed (exit 2); failed step: create, pre-hook")
        XCTAssertEqual(HealthcheckPing.body(.fail, status: (70, "unit-a\"b/c")), "unit-abc (exit 70)")
        let config = HealthcheckPing.curlConfig(url: "https://h/p/fail", body: "a\"b\\c\nd", timeout: 7)
        XCTAssertTrue(config.contains("url = \"https://h/p/fail\"\n"))
        XCTAssertTrue(config.contains("data-raw = \"abcd\"\n"), config)
        XCTAssertTrue(config.contains("max-time = 7\n"))
        XCTAssertEqual(HealthcheckPing.curlArguments.first, "-q")
    }

    func testNotifyPolicy() {
        XCTAssertFalse(NotifyPolicy.backupReports(.ok, underSystemd: false))
        XCTAssertFalse(NotifyPolicy.backupReports(.warning, underSystemd: true))
        XCTAssertTrue(NotifyPolicy.backupReports(.clientFailed, underSystemd: true))
        XCTAssertTrue(NotifyPolicy.backupReports(.connectFailed, underSystemd: false))
        XCTAssertFalse(NotifyPolicy.backupReports(.connectFailed, underSystemd: true))
        let u = "borgpull-server@c.service"
        XCTAssertTrue(NotifyPolicy.notifyReports(unit: u, exitCode: "exited", exitStatus: "3"))
        XCTAssertFalse(NotifyPolicy.notifyReports(unit: u, exitCode: "exited", exitStatus: "2"))
        XCTAssertFalse(NotifyPolicy.notifyReports(unit: u, exitCode: "exited", exitStatus: "1"))
        XCTAssertTrue(NotifyPolicy.notifyReports(unit: u, exitCode: "killed", exitStatus: "KILL"))
        XCTAssertTrue(NotifyPolicy.notifyReports(unit: u, exitCode: "exited", exitStatus: "70"))
        XCTAssertTrue(NotifyPolicy.notifyReports(unit: u, exitCode: "", exitStatus: ""))
        XCTAssertTrue(NotifyPolicy.notifyReports(unit: "borgpull-compact@c.service", exitCode: "exited", exitStatus: "10"))
        XCTAssertEqual(NotifyPolicy.mode(ofUnit: "borgpull-compact@c.service"), "COMPACT")
        XCTAssertEqual(NotifyPolicy.mode(ofUnit: "borgpull-check@c.service"), "CHECK")
        XCTAssertEqual(NotifyPolicy.mode(ofUnit: u), "BACKUP")
    }
}
