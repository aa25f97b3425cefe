import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// The whole chain under a real systemd, driven by `Tests/nspawn/chain-test.sh`:
/// `apt-get install ./dist/borgpull-client_*.deb` inside a booted Debian container (no sudo
/// there), `borgpull-check --json` all OK, then `borgpull-server` on the host -> the container's sshd
/// (our Match block) -> ForceCommand `trigger --via systemd` -> polkit -> run-borg-backup.service
/// -> helper -> sandboxed borg -> relay -> archive in the host's repository; restore, journal,
/// a failing pre hook fails the unit, the server exits 2 and `journalctl -p err` shows only the
/// error; `apt-get purge` keeps users and data; make install and the server package.
///
/// Needs the static release binaries and the packages (`make deb`; `make test` builds them
/// first). A missing prerequisite skips, or fails under `BORGPULL_REQUIRE_SYSTEM_TESTS=1`.
final class SystemdChainTests: XCTestCase {
    func testFullChainUnderRealSystemd() throws {
        try requireRoot()
        try Prerequisites.requireTools([
            "systemd-nspawn", "debootstrap", "nsenter", "setpriv", "borg", "socat",
            "ssh", "ssh-keygen", "python3", "ldd", "flock"
        ])
        let release = SystemdUnitsTests.repoRoot.appendingPathComponent(".build/release").path
        for b in ["borgpull-client", "borgpull-server", "borgpull-check"] {
            try requirePrerequisite(
                FileManager.default.isExecutableFile(atPath: "\(release)/\(b)"),
                "\(release)/\(b) (run `make release`)")
        }
        try SystemdUnitsTests.requirePackages()
        // First run builds the cached rootfs (80-175 s); then about a minute.
        let result = try SystemdUnitsTests.run(script: "Tests/nspawn/chain-test.sh", timeout: 1500)
        XCTAssertFalse(result.timedOut, "chain-test.sh timed out:\n\(result.output)")
        XCTAssertEqual(result.status, 0, "chain-test.sh failed:\n\(result.output)")
        XCTAssertTrue(result.output.contains(" 0 failed"), "unexpected output:\n\(result.output)")
        XCTAssertTrue(result.output.contains("ok   - borgpull-check --json after the package install: all OK"), result.output)
        XCTAssertTrue(result.output.contains("ok   - journalctl -p err shows no info line"), result.output)
        XCTAssertTrue(result.output.contains("ok   - borgpull-server BACKUP exits 0"), result.output)
    }
}
