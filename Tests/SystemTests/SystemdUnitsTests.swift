import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the shell harnesses for the systemd layer:
/// - `Tests/units/check-units.sh`: `systemd-analyze verify`, the exposure threshold
///   (<= 1.5), `visudo -cf` of the sudoers fallback, the shape of the polkit rule;
/// - `Tests/nspawn/trigger-test.sh`: a real systemd in a systemd-nspawn container,
///   the polkit trigger, the hardened unit, the path socket, the journal.
///
/// A missing prerequisite (root, systemd-nspawn, debootstrap, ...) skips the test,
/// unless `BORGPULL_REQUIRE_SYSTEM_TESTS=1`, where it fails instead (CI sets it, so
/// a CI machine without the tools cannot pass by skipping).
final class SystemdUnitsTests: XCTestCase {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SystemTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repo

    static var systemTestsRequired: Bool {
        ProcessInfo.processInfo.environment["BORGPULL_REQUIRE_SYSTEM_TESTS"] == "1"
    }

    /// Skips (or fails, when required) if `condition` is false. Returns whether to go on.
    func prerequisite(_ condition: Bool, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        if condition { return true }
        if Self.systemTestsRequired {
            XCTFail("prerequisite missing: \(what) (BORGPULL_REQUIRE_SYSTEM_TESTS=1)", file: file, line: line)
            return false
        }
        throw XCTSkip("prerequisite missing: \(what)")
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in (path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]) {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The three packages of `make deb` are in `dist/` (else skip, or fail under
    /// BORGPULL_REQUIRE_SYSTEM_TESTS=1).
    static func requirePackages(file: StaticString = #filePath, line: UInt = #line) throws {
        let dist = repoRoot.appendingPathComponent("dist").path
        let debs = (try? FileManager.default.contentsOfDirectory(atPath: dist)) ?? []
        for p in ["borgpull-client", "borgpull-server", "borgpull-check"] {
            try requirePrerequisite(
                debs.contains { $0.hasPrefix("\(p)_") && $0.hasSuffix(".deb") }, "\(dist)/\(p)_*.deb (run `make deb`)",
                file: file, line: line)
        }
    }

    /// Runs `script` with bash; output goes to a temporary file (no pipe deadlock).
    static func run(script: String, timeout: TimeInterval) throws -> (status: Int32, output: String, timedOut: Bool) {
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("borgpull-systemtest-\(getpid())-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repoRoot.appendingPathComponent(script).path]
        process.currentDirectoryURL = repoRoot
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                process.terminate()  // SIGTERM: the scripts' EXIT traps stop the container
                let grace = Date().addingTimeInterval(60)
                while process.isRunning && Date() < grace { usleep(200_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            usleep(200_000)
        }
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output, timedOut)
    }

    func testUnitsVerifyExposureAndPolicyFiles() throws {
        guard try prerequisite(Self.findExecutable("systemd-analyze") != nil, "systemd-analyze (apt-get install systemd)"),
            try prerequisite(Self.findExecutable("visudo") != nil, "visudo (apt-get install sudo)")
        else { return }
        let result = try Self.run(script: "Tests/units/check-units.sh", timeout: 300)
        XCTAssertFalse(result.timedOut, "check-units.sh timed out")
        XCTAssertEqual(result.status, 0, "check-units.sh failed:\n\(result.output)")
    }

    func testTriggerUnderRealSystemd() throws {
        guard try prerequisite(geteuid() == 0, "root"),
            try prerequisite(Self.findExecutable("systemd-nspawn") != nil, "systemd-nspawn (apt-get install systemd-container)"),
            try prerequisite(Self.findExecutable("debootstrap") != nil, "debootstrap (apt-get install debootstrap)"),
            try prerequisite(Self.findExecutable("nsenter") != nil, "nsenter (util-linux)")
        else { return }
        // First run builds the cached rootfs (80-175 s here); later runs take ~10 s.
        let result = try Self.run(script: "Tests/nspawn/trigger-test.sh", timeout: 1200)
        XCTAssertFalse(result.timedOut, "trigger-test.sh timed out:\n\(result.output)")
        XCTAssertEqual(result.status, 0, "trigger-test.sh failed:\n\(result.output)")
        XCTAssertTrue(result.output.contains(" 0 failed"), "unexpected output:\n\(result.output)")
    }
}
