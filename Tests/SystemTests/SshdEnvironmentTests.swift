import BorgPullCore
import BorgPullSystem
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Environment passing judged on real `sshd -T -f FILE -C user=borgpull,...` output: a config
/// that accepts variables from the server FAILs; the shipped Match block on top of Debian's stock
/// sshd_config (with its `AcceptEnv LANG LC_*`) is all OK.
final class SshdEnvironmentTests: XCTestCase {
    var fx: CheckFixture!

    override func setUpWithError() throws {
        fx = try CheckFixture()
    }

    override func tearDown() {
        fx?.remove()
    }

    var source: String { "sshd -T -f \(fx.sshdConfig)" }

    func fail(_ fs: [Finding], _ check: String) -> [Finding] { fs.filter { $0.check == check && $0.severity == .fail } }

    /// Debian's stock sshd_config as the package ships it (the pristine copy ucf compares with).
    static let stockConfig = "/usr/share/openssh/sshd_config"

    /// The fixture's loopback header, then Debian's stock config whose Include reads `dropIn`
    /// (the shipped policy/sshd/borgpull.conf with the fixture's keys file) from the fixture.
    func writeStockWithShippedBlock(_ edit: (String) -> String = { $0 }) throws {
        guard let stock = try? String(contentsOfFile: Self.stockConfig, encoding: .utf8) else {
            throw XCTSkip("\(Self.stockConfig) missing (openssh-server not installed)")
        }
        XCTAssertTrue(stock.contains("\nAcceptEnv LANG LC_*\n"), "Debian's stock config changed")
        XCTAssertTrue(stock.contains("\nInclude /etc/ssh/sshd_config.d/*.conf\n"), "Debian's stock config changed")
        let dropIns = "\(fx.root)/etc/ssh/sshd_config.d"
        try CheckFixture.sh("install -d -m 0755 \(dropIns)")
        let shipped = try String(contentsOfFile: "\(CheckFixture.packageRoot)/policy/sshd/borgpull.conf", encoding: .utf8)
        let block = edit(shipped.replacingOccurrences(of: "/etc/ssh/authorized_keys/borgpull/backup_server_keys", with: fx.keysFile))
        try block.write(toFile: "\(dropIns)/borgpull.conf", atomically: false, encoding: .utf8)
        let header = """
            Port 2222
            ListenAddress 127.0.0.1
            HostKey \(fx.root)/etc/ssh/host_key
            PidFile \(fx.root)/run/sshd.pid

            """
        let text = header + stock.replacingOccurrences(of: "Include /etc/ssh/sshd_config.d/*.conf", with: "Include \(dropIns)/*.conf")
        try text.write(toFile: fx.sshdConfig, atomically: false, encoding: .utf8)
        chmod(fx.sshdConfig, 0o644)
    }

    func testShippedBlockOnDebianStockConfigIsAllOK() throws {
        try writeStockWithShippedBlock()
        let r = fx.audit()
        // Debian 12's borg 1.2.4 is WARNed for CVE-2023-36811; everything else must be OK.
        XCTAssertEqual(r.findings.filter { $0.check != "borg.version" }.map(\.severity).max(), .ok, describe(r.findings))
        let accept = r.findings.first { $0.check == "sshd.acceptenv" }
        XCTAssertEqual(accept?.severity, .ok)
        XCTAssertEqual(accept?.actual, "none")
    }

    /// Without the block's `AcceptEnv none`, Debian's `AcceptEnv LANG LC_*` reaches the ssh user.
    func testDebianStockAcceptEnvWithoutTheLineFails() throws {
        try writeStockWithShippedBlock { $0.replacingOccurrences(of: "    AcceptEnv none\n", with: "") }
        let f = try XCTUnwrap(fail(fx.audit().findings, "sshd.acceptenv").first)
        XCTAssertEqual(f.location, "\(source): AcceptEnv")
        XCTAssertEqual(f.actual, "LANG LC_*")
        XCTAssertTrue(f.fix.hasPrefix("set `AcceptEnv none` in the `Match User borgpull` block of \(fx.sshdConfig)"), f.fix)
    }

    func testAcceptEnvInTheMatchBlockFails() throws {
        try fx.writeSshd(CheckFixture.matchBlock(keys: fx.keysFile) + "\n    AcceptEnv BASH_ENV LD_*")
        XCTAssertEqual(fail(fx.audit().findings, "sshd.acceptenv").first?.actual, "BASH_ENV LD_*")
    }

    func testPermitUserEnvironmentFails() throws {
        try fx.writeSshd("PermitUserEnvironment yes\n" + CheckFixture.matchBlock(keys: fx.keysFile))
        let f = try XCTUnwrap(fail(fx.audit().findings, "sshd.permituserenvironment").first)
        XCTAssertEqual(f.actual, "yes")
        XCTAssertEqual(f.fix, "set `PermitUserEnvironment no` in \(fx.sshdConfig) (a global setting: not allowed in a Match block)")
    }

    func testDangerousSetEnvFails() throws {
        try fx.writeSshd("SetEnv TZ=UTC BASH_ENV=/tmp/x\n" + CheckFixture.matchBlock(keys: fx.keysFile))
        let fs = fail(fx.audit().findings, "sshd.setenv")
        XCTAssertEqual(fs.map(\.actual), ["BASH_ENV=/tmp/x"])
        XCTAssertEqual(fs.first?.fix, "remove BASH_ENV from the SetEnv lines of \(fx.sshdConfig) and its included files")
    }
}
