import XCTest

/// `help MODE` stays help (the mode rule itself: BorgPullCoreTests.ModeArgumentsTests).
final class ModeArgumentsTests: XCTestCase {
    func testHelpOfAModeShowsItsHelpAndRunsNothing() throws {
        for mode in ["restore", "backup", "setup"] {
            let r = Shell.run([Shell.product("borgpull-client"), "help", mode], env: ["PATH": "/usr/bin:/bin"])
            XCTAssertEqual(r.status, 0, "\(mode): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE: borgpull-client \(mode)"), "\(mode): \(r.stdout)")
        }
    }
}
