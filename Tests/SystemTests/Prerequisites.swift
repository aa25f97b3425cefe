// Prerequisites of the system tests (real kernel, real borg, root).
// A missing prerequisite skips the test, unless BORGPULL_REQUIRE_SYSTEM_TESTS=1 (CI): then it is
// a failure, so a CI machine that silently lost root or borg cannot pass by skipping.

import Foundation
import XCTest

struct PrerequisiteMissing: Error, CustomStringConvertible {
    var description: String
}

/// True when CI demands that system tests run.
var systemTestsRequired: Bool { ProcessInfo.processInfo.environment["BORGPULL_REQUIRE_SYSTEM_TESTS"] == "1" }

/// Skips (XCTSkip) or, with BORGPULL_REQUIRE_SYSTEM_TESTS=1, fails (XCTFail + throw) when `ok` is false.
func requirePrerequisite(_ ok: Bool, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    if ok { return }
    if systemTestsRequired {
        XCTFail("system test prerequisite missing: \(what) (BORGPULL_REQUIRE_SYSTEM_TESTS=1)", file: file, line: line)
        throw PrerequisiteMissing(description: what)
    }
    throw XCTSkip("system test prerequisite missing: \(what)")
}

/// Requires uid 0 (the sandbox drops from root).
func requireRoot(file: StaticString = #filePath, line: UInt = #line) throws {
    try requirePrerequisite(getuid() == 0, "must run as root", file: file, line: line)
}

/// Requires an executable file at `path`.
func requireExecutable(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try requirePrerequisite(FileManager.default.isExecutableFile(atPath: path), "\(path) not installed", file: file, line: line)
}
