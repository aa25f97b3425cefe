import Foundation
import XCTest

@testable import BorgPullCore

/// Real borg on a local repository shared by hosts whose prefixes are prefixes of each other
/// (`web`, `web-db`, `web-2`): the exact argv `BorgCommands.prune()` builds prunes only the
/// archives of its own host. Needs borg; no root, no network.
final class PruneSharedRepositoryTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        try Prerequisites.requireTools(["borg"])
        dir = "/var/tmp/bp-prune-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/data/f", contents: Data("x\n".utf8))
        let r = borg(["init", "--encryption=none"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    override func tearDown() {
        if !dir.isEmpty { try? FileManager.default.removeItem(atPath: dir) }
    }

    var environment: [String: String] {
        [
            "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": dir, "BORG_BASE_DIR": dir + "/base",
            "BORG_REPO": dir + "/repo", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes"
        ]
    }

    @discardableResult
    func borg(_ args: [String]) -> Shell.Output { Shell.run(["/usr/bin/borg"] + args, env: environment) }

    /// An archive named `name` whose time is the `yyyy-mm-ddThh:mm:ss` in it (keep-daily needs it).
    func create(_ name: String) {
        let ts = name.firstMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}/).map { String($0.output) } ?? ""
        let r = borg(["create", "--timestamp", ts, "::" + name, dir + "/data"])
        XCTAssertEqual(r.status, 0, "create \(name): \(r.stderr)")
    }

    func archives() -> Set<String> {
        Set(borg(["list", "--short"]).stdout.split(separator: "\n").map(String.init))
    }

    /// The client's own prune argv for ARCHIVE_PREFIX=`prefix`, keeping one archive per day.
    func prune(prefix: String) throws -> Shell.Output {
        let env =
            "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\nARCHIVE_PREFIX=\(prefix)\n"
            + "KEEP_DAILY=1\nKEEP_WEEKLY=0\nKEEP_MONTHLY=0\n"
        let c = try ClientConfig.build(
            ClientConfigInput(
                directory: "/etc/borgpull", texts: [.env: env, .paths: "/etc\n"],
                hookExecutable: [:]))
        let argv = BorgCommands(config: c, relayCommand: ["/r"], baseDirectory: dir + "/base").prune()
        XCTAssertEqual(argv.first, "/usr/bin/borg")
        // The repository comes from BORG_REPO, as on the client; here it is the local one.
        return Shell.run(argv, env: environment)
    }

    func testPruneOfOneHostLeavesTheArchivesOfHostsWithLongerPrefixes() throws {
        let web = ["web-2026-01-01T10:00:00", "web-2026-01-02T10:00:00", "web-2026-01-03T10:00:00"]
        let webCheckpoint = "web-2026-01-02T11:00:00.checkpoint"
        let webDB = ["web-db-2026-01-01T10:00:00", "web-db-2026-01-02T10:00:00"]
        let web2 = ["web-2-2026-01-01T10:00:00", "web-2026-01-01T09:00:00-manual"]
        for n in web + [webCheckpoint] + webDB + web2 { create(n) }

        let r = try prune(prefix: "web")
        XCTAssertEqual(r.status, 0, r.stderr)
        let left = archives()
        XCTAssertEqual(left.intersection(webDB), Set(webDB), "prune of host web deleted host web-db's archives:\n\(r.stderr)")
        XCTAssertEqual(left.intersection(web2), Set(web2), "prune of host web deleted archives that are not web-{now}:\n\(r.stderr)")
        XCTAssertEqual(
            left.intersection(web + [webCheckpoint]), ["web-2026-01-03T10:00:00"],
            "host web keeps its newest daily archive and prunes its older ones and its checkpoint:\n\(r.stderr)")

        let r2 = try prune(prefix: "web-db")
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(archives(), Set(["web-2026-01-03T10:00:00", "web-db-2026-01-02T10:00:00"] + web2), r2.stderr)
    }

    func testPlaceholderPrefixIsExpandedByBorgInTheFilter() throws {
        // `{hostname}` is expanded by borg in the archive name and in --glob-archives alike.
        for n in ["{hostname}-2026-01-01T10:00:00", "{hostname}-2026-01-02T10:00:00", "{hostname}-db-2026-01-01T10:00:00"] {
            create(n)
        }
        let names = archives()
        XCTAssertEqual(names.count, 3)
        XCTAssertFalse(names.contains { $0.contains("{") }, "borg did not expand {hostname}: \(names)")
        let r = try prune(prefix: "{hostname}")
        XCTAssertEqual(r.status, 0, r.stderr)
        let left = archives()
        XCTAssertEqual(left.count, 2, "expected the newest own archive and the -db one: \(left)\n\(r.stderr)")
        XCTAssertTrue(left.contains { $0.hasSuffix("-db-2026-01-01T10:00:00") }, "\(left)")
        XCTAssertTrue(left.contains { $0.hasSuffix("-2026-01-02T10:00:00") && !$0.contains("-db-") }, "\(left)")
    }
}
