import XCTest

@testable import BorgPullCore

final class InstallLayoutTests: XCTestCase {
    func testPrefixComesFromTheBinarysBinDirectory() {
        XCTAssertEqual(InstallLayout.of(executable: "/usr/bin/borgpull-client").prefix, "/usr")
        XCTAssertEqual(InstallLayout.of(executable: "/usr/local/bin/borgpull-check").prefix, "/usr/local")
        XCTAssertEqual(InstallLayout.of(executable: "/opt/borgpull/bin/borgpull-server").prefix, "/opt/borgpull")
        XCTAssertEqual(InstallLayout.of(executable: "/bin/borgpull-client").prefix, "/")
        // A build directory, a relative path or no path: the packages' layout.
        XCTAssertEqual(InstallLayout.of(executable: "/work/x/.build/release/borgpull-client"), .packaged)
        XCTAssertEqual(InstallLayout.of(executable: "bin/borgpull-client"), .packaged)
        XCTAssertEqual(InstallLayout.of(executable: ""), .packaged)
    }

    func testPathsOfBothLayouts() {
        let deb = InstallLayout.packaged
        XCTAssertEqual(deb.client, "/usr/bin/borgpull-client")
        XCTAssertEqual(deb.binaries, ["/usr/bin/borgpull-client", "/usr/bin/borgpull-check", "/usr/bin/borgpull-server"])
        XCTAssertEqual(deb.seccompPolicy, "/usr/share/borgpull/policy/seccomp/borg.policy")
        XCTAssertEqual(deb.unitDirectory, "/usr/lib/systemd/system")
        XCTAssertEqual(deb.forceCommand, "/usr/bin/borgpull-client trigger --via systemd")
        let local = InstallLayout(prefix: "/usr/local/")
        XCTAssertEqual(local.prefix, "/usr/local")
        XCTAssertEqual(local.forceCommand, "/usr/local/bin/borgpull-client trigger --via systemd")
        XCTAssertEqual(local.seccompPolicy, "/usr/local/share/borgpull/policy/seccomp/borg.policy")
        XCTAssertEqual(local.unitDirectory, "/usr/local/lib/systemd/system")
        // systemd loads /usr/local/lib/systemd/system (make install) and /usr/lib (packages).
        XCTAssertTrue(UnitSearchPath.system.contains(local.unitDirectory))
        XCTAssertTrue(UnitSearchPath.system.contains(deb.unitDirectory))
        XCTAssertEqual(UnitSearchPath.system.first, "/etc/systemd/system")
    }

    func testEveryForceCommandIsATrigger() {
        for l in [InstallLayout.packaged, InstallLayout(prefix: "/usr/local")] {
            XCTAssertTrue(SshdRules.isTrigger(l.forceCommand), l.forceCommand)
        }
    }

    func testTheSeccompDefaultFollowsTheLayout() throws {
        let texts: [ClientFile: String] = [.env: "BORG_REPO=ssh://h/r\nBACKUP_SOCKET=/run/borg/s\n", .paths: "/etc\n"]
        let local = try ClientConfig.build(
            ClientConfigInput(
                directory: "/etc/borgpull", texts: texts, hookExecutable: [:],
                layout: InstallLayout(prefix: "/usr/local")))
        XCTAssertEqual(local.seccompPolicy, "/usr/local/share/borgpull/policy/seccomp/borg.policy")
        let deb = try ClientConfig.build(ClientConfigInput(directory: "/etc/borgpull", texts: texts, hookExecutable: [:]))
        XCTAssertEqual(deb.seccompPolicy, "/usr/share/borgpull/policy/seccomp/borg.policy")
    }

    func testVersionIsTheChangelogs() {
        // Generated from debian/changelog's first line (scripts/version-swift.sh).
        XCTAssertFalse(BorgPullVersion.current.isEmpty)
        XCTAssertTrue(BorgPullVersion.current.first?.isNumber ?? false, BorgPullVersion.current)
    }
}
