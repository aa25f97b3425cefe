import XCTest

@testable import BorgPullCore

/// What borg accepts silently: yes/no values it reads as no, re:^/ patterns that never match,
/// misspelt variable names. Each finding names file:line and the corrected line.
final class BorgLintTests: XCTestCase {
    let skip = ClientConfig.knownKeys.union(ClientConfig.managedBorgKeys)

    func lint(_ text: String) throws -> [Finding] {
        BorgLint.environment(try EnvFile.parse(text, file: "/etc/borgpull/borg_env"), skip: skip)
    }

    func testRelocatedTrueIsAFailNamingTheLineAndYes() throws {
        let fs = try lint("BORG_REPO=ssh://h/r\n# accept moves\nexport BORG_RELOCATED_REPO_ACCESS_IS_OK=true\n")
        XCTAssertEqual(fs.count, 1)
        let f = try XCTUnwrap(fs.first)
        XCTAssertEqual(f.severity, .fail)
        XCTAssertEqual(f.check, "env.yesno")
        XCTAssertEqual(f.location, "/etc/borgpull/borg_env:3")
        XCTAssertEqual(f.fix, "write the line as: export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes")
        XCTAssertTrue(f.expected.hasPrefix("Yes, YES, yes, Y, y, 1"), f.expected)
    }

    func testValuesBorgReadsAsNo() throws {
        // borg/helpers/yes.py: exact strings, so a blank or a case change is no.
        for v in ["on", "TRUE", "\"1 \"", "\" yes\"", "yES", "enabled"] {
            let fs = try lint("export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=\(v)\n")
            XCTAssertEqual(fs.map(\.severity), [.fail], v)
            XCTAssertEqual(fs.first?.fix, "write the line as: export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes", v)
        }
        let off = try lint("export BORG_RELOCATED_REPO_ACCESS_IS_OK=off\n")
        XCTAssertEqual(off.first?.fix, "write the line as: export BORG_RELOCATED_REPO_ACCESS_IS_OK=no")
        // What borg reads as intended: no finding.
        for v in ["yes", "Yes", "YES", "y", "Y", "1", "no", "NO", "n", "0", "''"] {
            XCTAssertEqual(try lint("export BORG_RELOCATED_REPO_ACCESS_IS_OK=\(v)\n"), [], v)
        }
        // borg check --repair / borg delete: only the upper-case YES.
        let check = try lint("export BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=yes\n")
        XCTAssertEqual(check.map(\.severity), [.fail])
        XCTAssertEqual(check.first?.fix, "write the line as: export BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=YES")
        XCTAssertEqual(try lint("export BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES\n"), [])
    }

    func testOtherVariables() throws {
        let typo = try lint("export BORG_RELOCATED_REPO_ACCES_IS_OK=yes\n")
        XCTAssertEqual(typo.map(\.severity), [.warn])
        XCTAssertEqual(typo.first?.check, "env.unknown")
        XCTAssertEqual(typo.first?.fix, "write the line as: export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes")
        XCTAssertEqual(try lint("export BORG_FILES_CACHE_TTL=20s\n").map(\.severity), [.fail])
        XCTAssertEqual(try lint("export BORG_FILES_CACHE_TTL=40\n"), [])
        XCTAssertEqual(try lint("export BORG_EXIT_CODES=Modern\n").first?.fix, "write the line as: export BORG_EXIT_CODES=modern")
        XCTAssertEqual(try lint("export BORG_EXIT_CODES=modern\nexport BORG_SHOW_SYSINFO=no\n"), [])
        // Keys borgpull reads itself are not borg's business here.
        XCTAssertEqual(try lint("BORG_BACKUP_USER=borgpull\nBORG_BINARY=/usr/bin/borg\n"), [])
    }

    func testRegexAnchoredAtSlashNeverMatches() throws {
        // Measured (borg 1.2.4 and 1.4.5, create --dry-run --list): `- re:^/tmp/x` excludes
        // nothing, `- re:^tmp/x`, `- sh:/tmp/x`, `- fm:/tmp/x`, `- pp:/tmp/x` exclude /tmp/x.
        let text = "R /home\n# caches\n- re:^/home/[^/]+/\\.cache\n- sh:/home/*/.local\n- pp:/home/tmp\n"
        let fs = BorgPatterns.check(text, file: "/etc/borgpull/borg_patterns", kind: .patterns)
        let warns = fs.filter { $0.severity == .warn }
        XCTAssertEqual(warns.count, 1, "\(fs)")
        XCTAssertEqual(warns.first?.check, "patterns.anchor")
        XCTAssertEqual(warns.first?.location, "/etc/borgpull/borg_patterns:3")
        XCTAssertEqual(warns.first?.fix, "write the line as: - re:^home/[^/]+/\\.cache")
        let ex = BorgPatterns.check("re:^/var/tmp/\nre:^\\/srv/x\nre:/\\.cache/\n", file: "e", kind: .excludes)
        XCTAssertEqual(ex.filter { $0.severity == .warn }.map(\.fix), ["write the line as: re:^var/tmp/", "write the line as: re:^srv/x"])
        let styled = BorgPatterns.check("P re\n- ^/proc\n", file: "p", kind: .patterns)
        XCTAssertEqual(styled.filter { $0.severity == .warn }.map(\.fix), ["write the line as: - ^proc"])
    }
}
