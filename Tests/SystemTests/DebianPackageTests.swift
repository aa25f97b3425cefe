import Foundation
import XCTest

/// The Debian packages of `make deb`, driven by `Tests/deb/package-test.sh`: lintian without
/// errors, every man page renders (`man -l`) and is lint-clean (`mandoc -Tlint -W warning`,
/// `groff -ww`) and has every option of its parser, the completions load in bash, zsh and
/// fish, and `--version` is the package's version. Installing them is the chain test's part
/// (SystemdChainTests).
///
/// Needs the packages (`make deb`; `make test` builds them first). A missing prerequisite
/// skips, or fails under `BORGPULL_REQUIRE_SYSTEM_TESTS=1`.
final class DebianPackageTests: XCTestCase {
    func testPackagesManPagesCompletionsAndVersion() throws {
        try Prerequisites.requireTools(["lintian", "mandoc", "man", "groff", "zsh", "fish", "dpkg-deb", "python3"])
        try SystemdUnitsTests.requirePackages()
        let result = try SystemdUnitsTests.run(script: "Tests/deb/package-test.sh", timeout: 300)
        XCTAssertFalse(result.timedOut, "package-test.sh timed out:\n\(result.output)")
        XCTAssertEqual(result.status, 0, "package-test.sh failed:\n\(result.output)")
        XCTAssertTrue(result.output.contains(" 0 failed"), "unexpected output:\n\(result.output)")
        XCTAssertTrue(result.output.contains("ok   - lintian: no errors"), result.output)
        print(result.output)
    }
}
