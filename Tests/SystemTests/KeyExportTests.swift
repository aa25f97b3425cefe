import Foundation
import XCTest

/// `borgpull-client key-export` against real borg through the fixture's tunnel, and the
/// `key.export` finding of the real borgpull-check.
final class KeyExportTests: XCTestCase {
    func keyFinding(_ f: ClientFixture) throws -> [String: String] {
        let r = Shell.run([Shell.product("borgpull-check"), "-c", f.conf, "--json"], env: ["PATH": "/usr/bin:/bin"])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
        let findings = try XCTUnwrap(obj["findings"] as? [[String: String]])
        return try XCTUnwrap(findings.first { $0["check"] == "key.export" }, "\(findings)")
    }

    func testKeyExportWritesANewRootFileRecordsItAndNeverOverwrites() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        XCTAssertEqual(try keyFinding(f)["severity"], "WARN")
        let file = "\(f.root)/key.txt"
        let r = f.client(["key-export", file])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("BORG_KEY "), text)
        XCTAssertEqual(Shell.run(["stat", "-c", "%u %g %a", file]).stdout, "0 0 600\n")
        let record = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(f.state)/key-export.json"))) as? [String: Any])
        XCTAssertEqual(record["file"] as? String, file)
        XCTAssertEqual(record["format"] as? String, "text")
        XCTAssertEqual(record["repository"] as? String, "ssh://backup-server\(f.repo)")
        XCTAssertEqual(Shell.run(["stat", "-c", "%u %a", "\(f.state)/key-export.json"]).stdout, "0 600\n")
        let ok = try keyFinding(f)
        XCTAssertEqual(ok["severity"], "OK", "\(ok)")
        XCTAssertTrue(ok["actual"]?.contains("text export to \(file)") ?? false, "\(ok)")

        // Never over an existing file, nor through a symlink.
        let again = f.client(["key-export", file])
        XCTAssertEqual(again.status, 12, again.stderr)
        XCTAssertTrue(again.stderr.contains("\(file) exists"), again.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), text)
        let victim = "\(f.root)/victim"
        Shell.sh("echo keep > \(victim) && ln -s \(victim) \(f.root)/link.txt")
        XCTAssertEqual(f.client(["key-export", "\(f.root)/link.txt"]).status, 12)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "keep\n")
        // A directory others may write (not sticky) is refused; the paper format works.
        Shell.sh("install -d -m 0777 \(f.root)/open")
        let open = f.client(["key-export", "\(f.root)/open/k.txt"])
        XCTAssertEqual(open.status, 12, open.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(f.root)/open/k.txt"))
        let paper = f.client(["key-export", "--paper", "\(f.root)/key.paper"])
        XCTAssertEqual(paper.status, 0, paper.stderr)
        XCTAssertTrue(try String(contentsOfFile: "\(f.root)/key.paper", encoding: .utf8).contains("BORG PAPER KEY v1"))
        // Without SERVE: the socket-problem status, nothing written.
        f.stopServer(leaveSocket: true)
        let noServe = f.client(["key-export", "\(f.root)/k2.txt"])
        XCTAssertEqual(noServe.status, 10, noServe.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(f.root)/k2.txt"))
    }

    /// Key-only recovery of a keyfile repository (README, "The client is gone"): the client's
    /// state is gone; the exported key as BORG_KEY_FILE (root 0600 in the config directory) and
    /// the passphrase restore byte-identical. Without it the restore borg finds no key.
    func testKeyfileRepositoryRestoresOnAFreshStateWithTheExportedKeyAsBorgKeyFile() throws {
        _ = RestoreTests.restorePolicy
        let f = try ClientFixture()
        try f.startServer()
        let initialised = f.client(["borg", "init", "--encryption=keyfile-blake2"])
        XCTAssertEqual(initialised.status, 0, initialised.stderr)
        XCTAssertEqual(f.client(["BACKUP"]).status, 0)
        let escrow = "\(f.root)/escrowed-key"
        XCTAssertEqual(f.client(["key-export", escrow]).status, 0)
        // The client is gone: borg's state (and the key borg init left there) with it.
        XCTAssertEqual(Shell.sh("rm -rf \(f.state)").status, 0)
        let without = f.client(["restore", "--latest", "--to", "\(f.root)/t1"])
        XCTAssertEqual(without.status, 2, without.stderr)
        XCTAssertTrue(without.stderr.contains("No key file for repository"), without.stderr)
        XCTAssertEqual(Shell.sh("install -m 0600 \(escrow) \(f.conf)/borg_key").status, 0)
        f.writeEnv("export BORG_KEY_FILE=\(f.conf)/borg_key\n")
        let r = f.client(["restore", "--latest", "--to", "\(f.root)/t2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(RestoreTests.snapshot("\(f.root)/t2\(f.data)"), RestoreTests.snapshot(f.data))
    }
}
