import XCTest

@testable import BorgPullCore

final class MaintenancePlanTests: XCTestCase {
    func config(_ extra: String = "") throws -> ServerConfig {
        try ServerConfig.parse("REMOTE_HOST=c.example.org\nREPO_NAME=c\nREPO_DIR=/srv/borg/c\n\(extra)\n", file: "/etc/borgpull-server/c.conf")
    }

    func testArgumentsCarryThresholdAndMaxDurationAndEndOptionsBeforeTheRepository() throws {
        XCTAssertEqual(
            MaintenancePlan.compactArguments(try config()),
            ["/usr/bin/borg", "compact", "--verbose", "--threshold", "10", "--", "/srv/borg/c"])
        XCTAssertEqual(MaintenancePlan.compactArguments(try config("COMPACT_THRESHOLD=25")).dropFirst(3).first, "--threshold")
        XCTAssertTrue(MaintenancePlan.compactArguments(try config("COMPACT_THRESHOLD=25")).contains("25"))
        XCTAssertEqual(
            MaintenancePlan.checkArguments(try config()),
            ["/usr/bin/borg", "check", "--repository-only", "--verbose", "--", "/srv/borg/c"])
        XCTAssertEqual(
            MaintenancePlan.checkArguments(try config("CHECK_MAX_DURATION=3600")),
            ["/usr/bin/borg", "check", "--repository-only", "--verbose", "--max-duration", "3600", "--", "/srv/borg/c"])
    }

    func testConfigKeysHaveRangesAndDefaults() throws {
        let c = try config()
        XCTAssertEqual(c.compactThreshold, 10)
        XCTAssertEqual(c.checkMaxDuration, 0)
        XCTAssertEqual(c.stateDir, "/var/lib/borgpull-server/c")
        for bad in ["COMPACT_THRESHOLD=100", "COMPACT_THRESHOLD=-1", "CHECK_MAX_DURATION=1h", "STATE_DIR=relative"] {
            XCTAssertThrowsError(try config(bad), bad) { e in
                let text = "\(e)"
                XCTAssertTrue(text.contains("c.conf:4") && text.contains("fix"), text)
            }
        }
    }

    func testRepositoryConfigReadsAppendOnlyAndRefusesWhatIsNoRepository() {
        let repo = "[repository]\nversion = 1\nsegments_per_dir = 1000\nappend_only = 0\nid = 2beb42\nkey = abc\n"
        XCTAssertEqual(RepositoryConfig.parse(repo), RepositoryConfig(appendOnly: false))
        XCTAssertEqual(
            RepositoryConfig.parse(repo.replacingOccurrences(of: "append_only = 0", with: "append_only = 1")),
            RepositoryConfig(appendOnly: true))
        XCTAssertNil(RepositoryConfig.parse("[cache]\nversion = 1\nid = 1\n"))
        XCTAssertNil(RepositoryConfig.parse("hello"))
    }

    func testCheckVerdicts() {
        let damaged = [
            "Data integrity error: Segment entry checksum mismatch [segment 6, offset 8]", "Index object count mismatch.",
            "Finished full repository check, errors found."
        ]
        let v = MaintenanceVerdict.check(
            rc: 1, signal: nil, interrupted: false, lines: ["Starting repository check"] + damaged,
            partial: false, repoDir: "/srv/borg/c")
        XCTAssertEqual(v.exit, .repositoryDamaged)
        XCTAssertTrue(v.message.contains("segment 6") && v.message.contains("--repair"), v.message)
        XCTAssertEqual(v.damage.first, damaged[0])
        let ok = MaintenanceVerdict.check(
            rc: 0, signal: nil, interrupted: false,
            lines: [
                "Starting repository check", "finished segment check at segment 17",
                "Repository check complete, no problems found."
            ], partial: true, repoDir: "/r")
        XCTAssertEqual(ok.exit, .ok)
        XCTAssertTrue(ok.message.contains("slice"), ok.message)
        XCTAssertEqual(
            MaintenanceVerdict.check(
                rc: 2, signal: nil, interrupted: false, lines: ["Failed to create/acquire the lock"],
                partial: false, repoDir: "/r"
            ).exit, .maintenanceFailed)
        XCTAssertEqual(MaintenanceVerdict.check(rc: nil, signal: 15, interrupted: true, lines: [], partial: false, repoDir: "/r").exit, .interrupted)
    }

    func testCompactVerdicts() {
        let v = MaintenanceVerdict.compact(rc: 0, signal: nil, interrupted: false, freed: 3 << 20, repoDir: "/r")
        XCTAssertEqual(v.exit, .ok)
        XCTAssertTrue(v.message.contains("3.0 MiB"), v.message)
        XCTAssertEqual(MaintenanceVerdict.compact(rc: 2, signal: nil, interrupted: false, freed: 0, repoDir: "/r").exit, .maintenanceFailed)
        XCTAssertEqual(MaintenanceVerdict.compact(rc: nil, signal: 9, interrupted: false, freed: 0, repoDir: "/r").exit, .maintenanceFailed)
        XCTAssertEqual(MaintenanceVerdict.compact(rc: 1, signal: nil, interrupted: false, freed: 0, repoDir: "/r").exit, .warning)
    }

    func testMaintenanceAuditJudgesTimersAndRecords() {
        func record(_ status: ServerExit, finished: String) -> RunRecord {
            RunRecord(
                mode: "CHECK", client: "c", repository: "/r", started: finished, finished: finished,
                verdict: MaintenanceVerdict(exit: status, message: "m", damage: status == .repositoryDamaged ? ["[segment 6, offset 8]"] : []),
                borgRC: 0, bytesBefore: 1, bytesAfter: 1, partial: false)
        }
        let now = 1_800_000_000.0  // 2027-01-15
        func worst(_ enabled: Bool, _ r: RunRecord?) -> Finding.Severity? {
            MaintenanceAudit.findings(
                configFile: "/etc/borgpull-server/c.conf", instance: "c", enabled: [.compact: enabled, .check: enabled],
                records: r.map { [.check: $0] } ?? [:], recordPaths: [:], now: now
            ).map(\.severity).max()
        }
        XCTAssertEqual(worst(true, nil), .ok)
        XCTAssertEqual(worst(false, nil), .warn)
        XCTAssertEqual(worst(true, record(.ok, finished: "2027-01-10T00:00:00Z")), .ok)
        XCTAssertEqual(worst(true, record(.ok, finished: "2026-09-01T00:00:00Z")), .warn, "older than 62 days")
        XCTAssertEqual(worst(true, record(.maintenanceFailed, finished: "2027-01-10T00:00:00Z")), .warn)
        let damaged = MaintenanceAudit.findings(
            configFile: "/etc/borgpull-server/c.conf", instance: "c", enabled: [.compact: true, .check: true],
            records: [.check: record(.repositoryDamaged, finished: "2027-01-10T00:00:00Z")], recordPaths: [:], now: now)
        XCTAssertTrue(damaged.contains { $0.severity == .fail && $0.what.contains("segment 6") })
    }
}
