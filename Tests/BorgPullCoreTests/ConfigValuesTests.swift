import XCTest

@testable import BorgPullCore

/// The value rules both configs share: the same value is valid or not in both.
final class ConfigValuesTests: XCTestCase {
    func testAccountNames() {
        XCTAssertTrue(ConfigValues.isAccountName("borgpull-runner"))
        XCTAssertTrue(ConfigValues.isAccountName(String(repeating: "a", count: 32)))
        XCTAssertFalse(ConfigValues.isAccountName(String(repeating: "a", count: 33)))
        XCTAssertFalse(ConfigValues.isAccountName("-x"))
        XCTAssertFalse(ConfigValues.isAccountName("b\u{F6}rg"))
        XCTAssertFalse(ConfigValues.isAccountName(""))
    }

    func testSocketPaths() {
        XCTAssertNil(ConfigValues.socketPathProblem("/run/borg/a.socket"))
        XCTAssertNotNil(ConfigValues.socketPathProblem("run/a"))
        XCTAssertNotNil(ConfigValues.socketPathProblem("/run/../a"))
        XCTAssertNotNil(ConfigValues.socketPathProblem("/run/a:b"))
        XCTAssertNotNil(ConfigValues.socketPathProblem("/run/borg/"))
        XCTAssertNil(ConfigValues.socketPathProblem("/" + String(repeating: "x", count: 106)))
        XCTAssertNotNil(ConfigValues.socketPathProblem("/" + String(repeating: "x", count: 107)))
    }

    func testWholeNumbers() {
        XCTAssertEqual(ConfigValues.wholeNumber("22", in: 1...65535), 22)
        XCTAssertNil(ConfigValues.wholeNumber("0", in: 1...65535))
        XCTAssertNil(ConfigValues.wholeNumber(" 1", in: 0...9))
    }
}
