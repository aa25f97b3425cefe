import XCTest

@testable import BorgPullCore

/// BORG_SERVE_OPTIONS may not name, or abbreviate, an option borgpull manages. That real borg
/// expands these abbreviations is shown in SystemTests/ServeOptionAbbreviationTests.swift.
final class ServeOptionsTests: XCTestCase {
    let base = "REMOTE_HOST=h\nREPO_NAME=n\nREPO_DIR=/srv/n\n"

    func refusal(_ options: String) -> ConfigError? {
        do {
            _ = try ServerConfig.parse(base + "BORG_SERVE_OPTIONS='\(options)'\n", file: "f.conf")
            return nil
        } catch { return error }
    }

    func testAbbreviationsOfManagedOptionsAreRefused() {
        for o in [
            "--restrict-to-repo=/other", "--restrict-to-r=/other", "--restrict-to-repositor=/x",
            "--restrict-to-p=/", "--restrict-to-pa=/srv", "--restrict=/", "--re=/",
            "--append-only", "--append", "--ap", "--a", "--umask=0000", "--um=0022", "--u=0"
        ] {
            guard let e = refusal("--storage-quota=5G \(o)") else { XCTFail("`\(o)` was accepted"); continue }
            XCTAssertEqual(e.line, 4, e.description)
            XCTAssertEqual(e.file, "f.conf")
            XCTAssertTrue(e.problem.contains("`\(o)` is not allowed"), e.description)
            XCTAssertTrue(e.fix.contains("remove `\(o)`"), e.fix)
        }
        XCTAssertTrue(refusal("--restrict-to-repo=/other")?.problem.contains("borg reads it as --restrict-to-repository") ?? false)
        XCTAssertTrue(refusal("--umask=0000")?.problem.contains("0077") ?? false)
        for o in ["--umask", "--umask=0070", "--umask=x", "--umask=1777", "--um=0007"] { XCTAssertNotNil(refusal(o), o) }
    }

    func testShortOptionsSeparateValuesAndDoubleDashAreRefused() {
        XCTAssertTrue(
            refusal("--storage-quota 5G")?.problem.contains("give a value with =") ?? false,
            "a separate value word cannot be told from an option")
        for o in ["-v", "-p", "-h", "--", "-", "x"] {
            XCTAssertNotNil(refusal(o), "`\(o)` was accepted")
        }
        XCTAssertTrue(refusal("--")?.problem.contains("end borg's options") ?? false)
    }

    func testHarmlessOptionsPass() throws {
        for o in [
            "--storage-quota=500G", "--info", "--debug", "--log-json", "--upload-ratelimit=1000", "--upload-buffer=10",
            "--lock-wait=5", "--show-rc", "--remote-path=/usr/bin/borg", "--umask=077", "--umask=0277", "--um=0777"
        ] {
            let c = try ServerConfig.parse(base + "BORG_SERVE_OPTIONS='\(o)'\n", file: "f.conf")
            XCTAssertEqual(c.serveOptions, [o])
        }
    }
}
