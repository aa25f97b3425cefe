import Foundation
import XCTest

/// The fleet layer with real sshd, borg, promtool and prometheus-node-exporter: four server
/// configs on this machine (`ok` and `stale` pull real backups through the harness's sshd,
/// `failed` cannot connect, `never` never ran), each with its own REPO_NAME, socket, STATE_DIR
/// and metrics file. STATUS must list each correctly in both outputs and exit 1; the `.prom`
/// files pass `promtool check metrics` and a real node-exporter serves them.
final class FleetStatusSystemTests: XCTestCase {
    typealias H = ServerHarness

    override class func tearDown() {
        ServerHarness.shutdown()
        super.tearDown()
    }

    func testStatusHistoryAndMetricsOfSeveralClients() throws {
        let h = try H.get()
        try requirePrerequisite(FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "needs promtool (apt-get install prometheus)")
        try requirePrerequisite(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus-node-exporter"),
            "needs prometheus-node-exporter (apt-get install prometheus-node-exporter)")
        let id = "f" + UUID().uuidString.prefix(6).lowercased()
        let base = "/var/lib/borgpull-test/\(id)"
        let confDir = "\(base)/conf"
        let metrics = "\(base)/textfile"
        XCTAssertEqual(
            SrvShell.sh("mkdir -p -m 0755 /var/lib/borgpull-test && install -d -m 0755 \(base) \(confDir) && install -d -o \(H.localUser) -m 0755 \(metrics)")
                .status, 0)
        defer { SrvShell.sh("rm -rf \(base)") }

        func conf(_ name: String, _ extra: [String: String] = [:]) -> String {
            let path = "\(confDir)/\(name).conf"
            var keys = ["REPO_NAME": "\(id)-\(name)", "STATE_DIR": "\(base)/state/\(name)", "PROMETHEUS_TEXTFILE_DIR": metrics]
            for (k, v) in extra { keys[k] = v }
            h.writeServerConfig(keys, to: path)
            return path
        }
        let ok = conf("ok")
        let stale = conf("stale", ["MAX_BACKUP_AGE": "1s"])
        let failed = conf("failed", ["SSH_PORT": String(SrvShell.freePort()), "CONNECT_TIMEOUT": "2"])
        let never = conf("never")

        let okRun = h.server(config: ok, json: true)
        XCTAssertEqual(okRun.status, 0, okRun.stderr)
        XCTAssertTrue(h.waitClientIdle())
        XCTAssertEqual(h.server(config: stale).status, 0)
        XCTAssertTrue(h.waitClientIdle())
        let failedRun = h.server(config: failed)
        XCTAssertEqual(failedRun.status, 3, "connect-failed:\n\(failedRun.stderr)")
        XCTAssertEqual(h.server("COMPACT", config: ok).status, 0)

        // --json of BACKUP is the history's line.
        let okHistory = "\(base)/state/ok/history.jsonl"
        let lines = try String(contentsOfFile: okHistory, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "BACKUP and COMPACT")
        XCTAssertEqual(String(lines[0]) + "\n", okRun.stdout)
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(record["mode"] as? String, "BACKUP")
        XCTAssertNotNil((record["record"] as? [String: Any])?["archive"] as? String)
        XCTAssertNotNil(record["bytes_after"] as? Int)
        let attrs = try FileManager.default.attributesOfItem(atPath: okHistory)
        XCTAssertEqual((attrs[.posixPermissions] as? Int), 0o600, "readable by root and LOCAL_USER only")
        XCTAssertEqual(attrs[.ownerAccountName] as? String, H.localUser)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(base)/state/never/history.jsonl"))

        sleep(2)  // the stale client's 1 s limit passes; ok's 26 h does not
        let all = ["-c", ok, "-c", stale, "-c", failed, "-c", never]
        let human = status(all)
        XCTAssertEqual(human.status, 1, human.stdout + human.stderr)
        for l in human.stdout.split(separator: "\n") { XCTAssertLessThanOrEqual(l.count, 100, String(l)) }
        func row(_ name: String) -> String { human.stdout.split(separator: "\n").first { $0.hasPrefix("\(id)-\(name)") }.map(String.init) ?? "" }
        XCTAssertTrue(row("ok").contains(" ok "), human.stdout)
        XCTAssertTrue(row("stale").contains("STALE"), human.stdout)
        XCTAssertTrue(row("failed").contains("FAILED") && row("failed").contains("connect-failed"), human.stdout)
        XCTAssertTrue(row("never").contains("NEVER"), human.stdout)

        let json = status(all + ["--json"])
        XCTAssertEqual(json.status, 1)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        XCTAssertEqual(doc["schema"] as? String, "borgpull-status")
        XCTAssertEqual(doc["exitStatus"] as? Int, 1)
        let clients = try XCTUnwrap(doc["clients"] as? [[String: Any]])
        XCTAssertEqual(clients.map { $0["state"] as? String }, ["ok", "stale", "failed", "never"])
        XCTAssertNotNil(clients[0]["archive"] as? String)
        XCTAssertNotNil(clients[0]["lastCompact"] as? [String: Any])
        XCTAssertEqual((clients[2]["lastRun"] as? [String: Any])?["name"] as? String, "connect-failed")

        // --max-age and --config-dir.
        XCTAssertEqual(status(["-c", ok]).status, 0)
        XCTAssertEqual(status(["-c", ok, "--max-age", "1s"]).status, 1)
        XCTAssertEqual(status(["-c", ok, "-c", stale, "--max-age", "3d"]).status, 0)
        let fromDir = status(["--config-dir", confDir, "--json"])
        XCTAssertEqual(fromDir.status, 1)
        let dirDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(fromDir.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(
            (dirDoc["clients"] as? [[String: Any]])?.map { $0["state"] as? String }, ["failed", "never", "ok", "stale"],
            "every *.conf of the directory, in name order")
        XCTAssertNotEqual(status(["--max-age", "soon", "-c", ok]).status, 0)

        // A damaged line is skipped with a warning, never fatal.
        SrvShell.sh("printf '{\"version\":1,\"mo' >> \(okHistory)")
        let damaged = status(["-c", ok])
        XCTAssertEqual(damaged.status, 0, damaged.stderr)
        XCTAssertTrue(damaged.stderr.contains("\(okHistory):3"), damaged.stderr)
        XCTAssertEqual(h.server("COMPACT", config: ok).status, 0, "the next record goes on a line of its own")
        XCTAssertEqual(status(["-c", ok, "--json"]).stdout.contains("\"skippedLines\" : 1"), true)

        // A config error is exit 2.
        SrvShell.sh("printf 'REPO_NAME=$(id)\\n' > \(confDir)/bad.conf")
        XCTAssertEqual(status(["--config-dir", confDir]).status, 2)

        // The metrics: promtool accepts them, node-exporter serves them.
        for name in ["ok", "stale", "failed"] {
            let prom = "\(metrics)/borgpull-\(id)-\(name).prom"
            let check = SrvShell.sh("/usr/bin/promtool check metrics < \(prom)")
            XCTAssertEqual(check.status, 0, "promtool: \(check.stdout)\(check.stderr)")
        }
        let okProm = try String(contentsOfFile: "\(metrics)/borgpull-\(id)-ok.prom", encoding: .utf8)
        XCTAssertTrue(okProm.contains("borgpull_last_compact_timestamp_seconds{client=\"\(id)-ok\"}"), okProm)
        XCTAssertFalse(okProm.contains("borgpull_last_compact_timestamp_seconds{client=\"\(id)-ok\"} 0.0"), "COMPACT ran:\n\(okProm)")
        let failedProm = try String(contentsOfFile: "\(metrics)/borgpull-\(id)-failed.prom", encoding: .utf8)
        XCTAssertTrue(failedProm.contains("borgpull_last_run_status{client=\"\(id)-failed\"} 3.0"), failedProm)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(metrics)/borgpull-\(id)-never.prom"))

        // The shipped alert rule loads.
        let rules = SrvShell.run(["/usr/bin/promtool", "check", "rules", H.packageRoot + "/configs/prometheus/borgpull.rules.yml"])
        XCTAssertEqual(rules.status, 0, rules.stdout + rules.stderr)

        let port = SrvShell.freePort()
        let exporter = try SrvShell.start(
            [
                "/usr/bin/prometheus-node-exporter", "--web.listen-address=127.0.0.1:\(port)",
                "--collector.disable-defaults", "--collector.textfile",
                "--collector.textfile.directory=\(metrics)"
            ], log: "\(base)/exporter.log")
        defer { exporter.signal(SIGTERM); exporter.wait() }
        var served = ""
        _ = SrvShell.waitFor(10) {
            served =
                SrvShell.run([
                    "/usr/bin/python3", "-c",
                    "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:\(port)/metrics',timeout=2).read().decode())"
                ]).stdout
            return served.contains("borgpull_")
        }
        XCTAssertTrue(served.contains("borgpull_last_success_timestamp_seconds{client=\"\(id)-ok\"}"), served)
        XCTAssertTrue(served.contains("borgpull_last_run_status{client=\"\(id)-failed\"} 3"), served)
        XCTAssertTrue(served.contains("node_textfile_scrape_error 0"), served)
    }

    func status(_ args: [String]) -> SrvShell.Output {
        SrvShell.run(["\(ServerHarness.bin)/borgpull-server", "STATUS"] + args)
    }
}
