import XCTest

@testable import BorgPullCore

/// The prune filter matches only this host's own archive names (`PREFIX-{now}`), whatever the
/// prefixes of the other hosts in the repository. Real borg runs it in
/// SystemTests/PruneSharedRepositoryTests.swift.
final class PruneGlobTests: XCTestCase {
    func config(prefix: String) throws -> ClientConfig {
        let env = "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\nARCHIVE_PREFIX='\(prefix)'\n"
        return try ClientConfig.build(
            ClientConfigInput(
                directory: "/etc/borgpull", texts: [.env: env, .paths: "/etc\n"],
                hookExecutable: [:]))
    }

    func testGlobIsPrefixDashAndTheTimestampOfNow() throws {
        // `{now}` renders as %Y-%m-%dT%H:%M:%S in borg 1.2: 4-2-2 T 2:2:2 digits.
        XCTAssertEqual(
            ArchiveNames.timestampGlob,
            "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]")
        for prefix in ["web", "web-db", "{hostname}", "{fqdn}-daily"] {
            let c = try config(prefix: prefix)
            XCTAssertEqual(c.pruneGlob, "\(prefix)-\(ArchiveNames.timestampGlob)")
            XCTAssertFalse(c.pruneGlob.contains("*"), "a * after the prefix matches other hosts' archives")
            let prune = BorgCommands(config: c, relayCommand: ["/r"], baseDirectory: "/b").prune()
            XCTAssertEqual(prune.filter { $0.hasPrefix("--glob-archives") }, ["--glob-archives=\(c.pruneGlob)"])
        }
    }

    func testGlobCharactersInThePrefixAreRefused() throws {
        for bad in ["web*", "web?", "web[12]", "we[b", "web]", #"web\x"#] {
            let p = ArchiveNames.prefixProblem(bad)
            XCTAssertNotNil(p, "ARCHIVE_PREFIX=\(bad) must be refused: it would widen prune's filter")
            XCTAssertThrowsError(try config(prefix: bad)) { e in
                XCTAssertTrue((e as? ConfigError)?.problem.contains("glob characters") ?? false, "\(e)")
            }
        }
        // Stable placeholders stay allowed; borg expands them in --glob-archives (GlobSpec =
        // replace_placeholders, borg/helpers/parseformat.py).
        for good in ["{hostname}", "{fqdn}", "{user}-{hostname}", "web-db"] {
            XCTAssertNil(ArchiveNames.prefixProblem(good), good)
        }
        XCTAssertNotNil(ArchiveNames.prefixProblem("{hostname}-{borgpatch}"), "changes with every borg upgrade")
    }
}
