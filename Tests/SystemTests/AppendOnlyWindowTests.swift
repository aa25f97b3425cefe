import Foundation
import XCTest

/// The append-only window (README, "Server maintenance"): a `borg delete` a misbehaving client
/// sends through the pull tunnel (`borg serve --append-only`) can be rolled back on the server
/// with borg's documented procedure, until the next COMPACT makes it permanent.
final class AppendOnlyWindowTests: XCTestCase {
    typealias H = ServerHarness

    override class func tearDown() {
        ServerHarness.shutdown()
        super.tearDown()
    }

    /// Segment files of the repository: number -> path.
    func segments() -> [Int: String] {
        let out = SrvShell.sh("cd \(H.repo)/data && find . -type f -name '[0-9]*'").stdout
        var map: [Int: String] = [:]
        for line in out.split(separator: "\n") {
            let path = String(line.dropFirst(2))
            if let n = Int(path.split(separator: "/").last ?? "") { map[n] = path }
        }
        return map
    }

    /// The last `transaction N` of the repository's `transactions` log (append-only mode).
    func lastTransaction() -> Int? {
        let text = (try? String(contentsOfFile: "\(H.repo)/transactions", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap {
            Int($0.trimmingCharacters(in: CharacterSet(charactersIn: ",")))
        }
    }

    /// A `borg delete ::ARCHIVE` from the client through SERVE's tunnel (append-only serve).
    func deleteThroughTheTunnel(_ archive: String) throws {
        let serve = try SrvShell.start(["\(H.bin)/borgpull-server", "-c", H.serverConf, "SERVE"], log: "\(H.root)/serve-delete.log")
        defer {
            serve.signal(SIGINT)
            _ = serve.wait()
        }
        XCTAssertTrue(
            SrvShell.waitFor(20) { serve.isRunning && FileManager.default.fileExists(atPath: H.clientSocket) && ServerHarness.shared?.sshConnected() == true })
        let r = SrvShell.run(["\(H.bin)/borgpull-client", "-c", H.clientDir, "borg", "delete", "::\(archive)"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// The server-side reader forgets what it saw (borg docs: after a rollback, clear the cache
    /// and the security directory's manifest-timestamp).
    func forgetLocalState() {
        SrvShell.sh("rm -rf \(H.home)/.cache/borg \(H.home)/.config/borg/security/*/manifest-timestamp")
    }

    /// The client's side of a rollback: its cache and manifest-timestamp describe the newer
    /// (deleted) state, which borg would take for a replay attack.
    func forgetClientState() {
        SrvShell.sh("rm -rf \(H.state)/borg/.cache/borg \(H.state)/borg/.config/borg/security/*/manifest-timestamp")
    }

    func testDeleteThroughTheTunnelRollsBackUntilCompactMakesItPermanent() throws {
        let h = try H.get()
        defer { h.writeServerConfig() }
        h.writeServerConfig(["STATE_DIR": "\(H.root)/server-state"])
        XCTAssertEqual(h.server().status, 0)
        XCTAssertEqual(h.server().status, 0)
        let before = h.archives()
        XCTAssertGreaterThanOrEqual(before.count, 2, "\(before)")
        let victim = before[before.count - 2]
        let good = try XCTUnwrap(lastTransaction(), "an append-only serve logs its transactions")
        let segmentsBefore = segments()

        // 1. The misbehaving client deletes an archive; the server sees it gone.
        try deleteThroughTheTunnel(victim)
        forgetLocalState()
        XCTAssertFalse(h.archives().contains(victim))
        let bad = try XCTUnwrap(lastTransaction())
        XCTAssertGreaterThan(bad, good)

        // 2. The documented rollback, as LOCAL_USER: index/hints/integrity of the newer
        //    transactions and every segment after the last good transaction go.
        let rollback = SrvShell.run([
            "/usr/bin/setpriv", "--reuid=\(H.localUser)", "--regid=\(H.localUser)", "--init-groups", "--",
            "/bin/sh", "-c",
            """
            set -e
            cd \(H.repo)
            for n in $(seq \(good + 1) \(bad)); do rm -f index.$n hints.$n integrity.$n data/*/$n; done
            """
        ])
        XCTAssertEqual(rollback.status, 0, rollback.stderr)
        forgetLocalState()
        forgetClientState()
        XCTAssertTrue(h.archives().contains(victim), "the rolled-back repository lists \(victim) again: \(h.archives())")
        let check = h.localBorg(["check", H.repo])
        XCTAssertEqual(check.status, 0, "the rolled-back repository checks clean: \(check.stderr)")

        // 3. The same delete, then COMPACT: the segments that held the archive are gone, so
        //    no rollback can bring it back.
        try deleteThroughTheTunnel(victim)
        let compact = h.server("COMPACT")
        XCTAssertEqual(compact.status, 0, compact.stderr)
        let survivors = Set(segments().keys.filter { $0 <= good })
        XCTAssertTrue(
            survivors.isStrictSubset(of: Set(segmentsBefore.keys)),
            "COMPACT removed segments of the last good transaction: \(segmentsBefore.keys.sorted()) -> \(survivors.sorted())")
        forgetLocalState()
        XCTAssertFalse(h.archives().contains(victim))
    }
}
