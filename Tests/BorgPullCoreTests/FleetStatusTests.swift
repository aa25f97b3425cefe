import XCTest

@testable import BorgPullCore

final class FleetStatusTests: XCTestCase {
    func testDurationsParseAsPeopleWriteThem() {
        XCTAssertEqual(DurationText.seconds("26h"), 26 * 3600)
        XCTAssertEqual(DurationText.seconds("3d"), 3 * 86400)
        XCTAssertEqual(DurationText.seconds("90m"), 5400)
        XCTAssertEqual(DurationText.seconds("45s"), 45)
        XCTAssertEqual(DurationText.seconds("1w"), 7 * 86400)
        XCTAssertEqual(DurationText.seconds("1d12h"), 36 * 3600)
        XCTAssertEqual(DurationText.seconds("3600"), 3600, "a bare number is seconds")
        for bad in ["", "h", "26x", "-1h", "0", "0h", "1.5h", "26hh", "h26", "999999999999d", "11111d"] {
            XCTAssertNil(DurationText.seconds(bad), bad)
        }
        XCTAssertEqual(DurationText.format(26 * 3600), "26h")
        XCTAssertEqual(DurationText.format(5400), "1h30m")
        XCTAssertEqual(DurationText.format(4 * 86400 + 3 * 3600), "4d3h")
        XCTAssertEqual(DurationText.format(90), "1m30s")
        XCTAssertEqual(DurationText.format(0), "0s")
    }

    func record(_ mode: ServerMode, _ exit: ServerExit, finished: Double, archive: String? = nil, bytes: Int64? = nil) -> RunRecord {
        var report: ClientReport?
        if let archive {
            report = try? JSONDecoder().decode(
                ClientReport.self, from: Data(#"{"archive":"\#(archive)","stats":{"original_size":2048,"deduplicated_size":512}}"#.utf8))
        }
        return RunRecord(
            mode: mode.rawValue, client: "c", started: RunRecord.timestamp(finished - 60), finished: RunRecord.timestamp(finished),
            seconds: 60, status: exit.rawValue, name: exit.name, message: "m", record: report, bytesAfter: bytes)
    }

    func testHistorySkipsDamagedLinesAndKeepsTheRest() {
        let a = record(.backup, .ok, finished: 1_000_000, archive: "c-1").json()
        let b = record(.compact, .ok, finished: 1_000_100, bytes: 77).json()
        let text =
            a + "{\"version\":1,\"mode\":\"BAC" + "\n" + b + "not json\n"
            + "{\"version\":2,\"mode\":\"BACKUP\",\"status\":0,\"name\":\"ok\",\"message\":\"\"}\n"
        let h = RunHistory.parse([(name: "/s/history.jsonl", text: text, partialFirst: false)])
        XCTAssertEqual(h.records.count, 2)
        XCTAssertEqual(h.skipped.count, 3)
        XCTAssertTrue(h.skipped[0].hasPrefix("/s/history.jsonl:2:"), h.skipped[0])
        XCTAssertEqual(h.last(.backup)?.record?.archive, "c-1")
        XCTAssertEqual(h.repositoryBytes, 77)
        // A tail read starts inside a line: that fragment is no warning.
        let tail = RunHistory.parse([(name: "f", text: "ion\":1}\n" + a, partialFirst: true)])
        XCTAssertEqual(tail.records.count, 1)
        XCTAssertEqual(tail.skipped, [])
        XCTAssertTrue(RunHistory.needsRotation(size: RunHistory.rotateBytes))
        XCTAssertFalse(RunHistory.needsRotation(size: RunHistory.rotateBytes - 1))
    }

    func testStatesAndExitStatus() {
        let now = 2_000_000.0
        let day = 86400.0
        func judge(_ records: [RunRecord], maxAge: Int = 26 * 3600) -> ClientStatus {
            ClientStatus.judge(client: "c", config: "/etc/borgpull-server/c.conf", history: RunHistory(records: records), maxAgeSeconds: maxAge, now: now)
        }
        let ok = judge([record(.backup, .ok, finished: now - 3600, archive: "c-1")])
        XCTAssertEqual(ok.state, .ok)
        XCTAssertEqual(ok.ageSeconds, 3600)
        XCTAssertEqual(judge([record(.backup, .warning, finished: now - 3600)]).state, .ok, "warnings: the archive exists")
        XCTAssertEqual(judge([record(.backup, .ok, finished: now - 2 * day)]).state, .stale)
        XCTAssertEqual(judge([record(.backup, .ok, finished: now - 2 * day)], maxAge: 3 * 86400).state, .ok, "--max-age")
        let failed = judge([record(.backup, .ok, finished: now - 7200, archive: "c-1"), record(.backup, .clientFailed, finished: now - 60)])
        XCTAssertEqual(failed.state, .failed)
        XCTAssertEqual(failed.lastSuccess?.record?.archive, "c-1", "the last good archive stays visible")
        XCTAssertEqual(judge([record(.compact, .ok, finished: now)]).state, .never)
        XCTAssertEqual(FleetStatus(clients: [ok], now: now).exitStatus, 0)
        XCTAssertEqual(FleetStatus(clients: [ok, failed], now: now).exitStatus, 1)
        XCTAssertEqual(FleetStatus(clients: [ok, judge([])], now: now).exitStatus, 1, "never backed up")
        let broken = ClientStatus.failure(client: "x", config: "/etc/borgpull-server/x.conf", message: "x.conf:3: bad", maxAgeSeconds: 0)
        XCTAssertEqual(FleetStatus(clients: [ok, failed, broken], now: now).exitStatus, 2)
    }

    func testTableFitsOneHundredColumnsAndJSONIsVersioned() throws {
        let now = 2_000_000.0
        let long = String(repeating: "n", count: 40)
        let rows = [
            ClientStatus.judge(
                client: long, config: "/e/\(long).conf",
                history: RunHistory(records: [
                    record(.backup, .ok, finished: now - 7200, archive: "\(long)-2026-12-01T03:00:01", bytes: 5 << 30),
                    record(.backup, .clientFailed, finished: now - 60),
                    record(.check, .repositoryDamaged, finished: now - 86400)
                ]), maxAgeSeconds: 93600, now: now),
            ClientStatus.judge(client: "b", config: "/e/b.conf", history: RunHistory(), maxAgeSeconds: 93600, now: now)
        ]
        let s = FleetStatus(clients: rows, now: now)
        let table = s.table(width: 100, color: false)
        for line in table.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 100, String(line)) }
        XCTAssertTrue(table.contains("\n  b: never: "), "attention lines are indented:\n\(table)")
        XCTAssertTrue(table.contains("FAILED"), table)
        XCTAssertTrue(table.contains("NEVER"), table)
        XCTAssertTrue(table.contains("T03:00:01"), "the archive keeps its timestamp end:\n\(table)")
        XCTAssertTrue(table.contains("24h!"), "a damaged CHECK is marked:\n\(table)")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.json().utf8)) as? [String: Any])
        XCTAssertEqual(doc["schema"] as? String, "borgpull-status")
        XCTAssertEqual(doc["version"] as? Int, 1)
        XCTAssertEqual(doc["exitStatus"] as? Int, 1)
        let clients = try XCTUnwrap(doc["clients"] as? [[String: Any]])
        XCTAssertEqual(clients.map { $0["state"] as? String }, ["failed", "never"])
        XCTAssertEqual(clients[0]["archive"] as? String, "\(long)-2026-12-01T03:00:01")
        XCTAssertEqual(clients[0]["repositoryBytes"] as? Int, 5 << 30)
        XCTAssertEqual((clients[0]["lastCheck"] as? [String: Any])?["name"] as? String, "repository-damaged")
    }

    func testMetricsComeFromTheHistory() {
        let h = RunHistory(records: [
            record(.backup, .ok, finished: 1_000_000, archive: "c-1", bytes: 4096),
            record(.backup, .clientFailed, finished: 1_000_500),
            record(.compact, .ok, finished: 1_000_600, bytes: 3000)
        ])
        let v = RunMetrics.values(history: h, maxAgeSeconds: 3600)
        XCTAssertEqual(v["borgpull_last_success_timestamp_seconds"], 1_000_000)
        XCTAssertEqual(v["borgpull_last_run_timestamp_seconds"], 1_000_500)
        XCTAssertEqual(v["borgpull_last_run_status"], 2)
        XCTAssertEqual(v["borgpull_last_archive_original_bytes"], 2048)
        XCTAssertEqual(v["borgpull_repository_disk_bytes"], 3000)
        XCTAssertEqual(v["borgpull_last_compact_timestamp_seconds"], 1_000_600)
        XCTAssertEqual(v["borgpull_last_check_success_timestamp_seconds"], 0, "no CHECK yet")
        let text = RunMetrics.text(client: "c", history: h, maxAgeSeconds: 3600)
        XCTAssertTrue(text.contains("# TYPE borgpull_last_run_status gauge"), text)
        XCTAssertTrue(text.contains(#"borgpull_last_run_status{client="c"} 2"#), text)
        XCTAssertFalse(text.contains("borgpull_last_check_status"), "absent until a CHECK ran")
    }

    func testMetricsDirectoryFinding() {
        let dir = FileFacts(path: "/m", kind: .directory, uid: 0, gid: 0, mode: 0o755)
        let link = FileFacts(path: "/m", kind: .symlink, uid: 0, gid: 0, mode: 0o777)
        XCTAssertEqual(MetricsAudit.finding(configFile: "c.conf", dir: nil, facts: nil).severity, .ok)
        XCTAssertEqual(MetricsAudit.finding(configFile: "c.conf", dir: "/m", facts: nil).severity, .warn)
        XCTAssertEqual(MetricsAudit.finding(configFile: "c.conf", dir: "/m", facts: link).severity, .warn)
        XCTAssertEqual(MetricsAudit.finding(configFile: "c.conf", dir: "/m", facts: dir).severity, .ok)
    }
}

final class FleetConfigKeysTests: XCTestCase {
    let base = "REMOTE_HOST=h\nREPO_NAME=c\nREPO_DIR=/srv/borg/c\n"

    func testMaxBackupAgeAndTextfileDirectory() throws {
        let d = try ServerConfig.parse(base, file: "/e/c.conf")
        XCTAssertEqual(d.maxBackupAge, 26 * 3600)
        XCTAssertEqual(d.prometheusTextfileDir, "/var/lib/prometheus/node-exporter")
        let set = try ServerConfig.parse(base + "MAX_BACKUP_AGE=3d\nPROMETHEUS_TEXTFILE_DIR=/srv/metrics\n", file: "/e/c.conf")
        XCTAssertEqual(set.maxBackupAge, 3 * 86400)
        XCTAssertEqual(set.prometheusTextfileDir, "/srv/metrics")
        XCTAssertNil(try ServerConfig.parse(base + "PROMETHEUS_TEXTFILE_DIR=\n", file: "/e/c.conf").prometheusTextfileDir, "empty: off")
        XCTAssertTrue(set.notices.isEmpty, "known keys: \(set.notices)")
        XCTAssertThrowsError(try ServerConfig.parse(base + "MAX_BACKUP_AGE=soon\n", file: "/e/c.conf")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("/e/c.conf:4") && text.contains("MAX_BACKUP_AGE=26h"), text)
        }
        XCTAssertThrowsError(try ServerConfig.parse(base + "PROMETHEUS_TEXTFILE_DIR=metrics\n", file: "/e/c.conf"))
    }
}
