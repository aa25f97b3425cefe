import XCTest

@testable import BorgPullCore

/// Environment passing in `sshd -T` output: AcceptEnv, PermitUserEnvironment, SetEnv,
/// ExposeAuthInfo (SshdRules.checkEnvironment, run by SshdRules.check).
final class SshdEnvironmentRulesTests: XCTestCase {
    /// `goodSshdT` (the shipped Match block) with every `key` line removed and `lines` added.
    func text(without keys: [String] = [], adding lines: [String] = []) -> String {
        (goodSshdT.split(separator: "\n").map(String.init).filter { l in !keys.contains { l.hasPrefix($0 + " ") } } + lines)
            .joined(separator: "\n")
    }
    func judge(_ text: String) -> [Finding] {
        SshdRules.check(SshdEffectiveConfig.parse(text), user: "borgpull", source: "sshd -T")
    }
    func only(_ fs: [Finding], _ check: String) -> [Finding] { fs.filter { $0.check == check } }

    func testShippedAcceptEnvNoneIsOK() {
        let fs = judge(goodSshdT)
        XCTAssertEqual(only(fs, "sshd.acceptenv").map(\.severity), [.ok])
        XCTAssertEqual(only(fs, "sshd.permituserenvironment").map(\.severity), [.ok])
        XCTAssertEqual(only(fs, "sshd.setenv").map(\.severity), [.ok])
        XCTAssertEqual(only(fs, "sshd.exposeauthinfo").map(\.severity), [.ok])
        // No AcceptEnv at all (sshd's default) prints no line: also OK.
        XCTAssertEqual(only(judge(text(without: ["acceptenv"])), "sshd.acceptenv").map(\.severity), [.ok])
    }

    /// Debian's stock `AcceptEnv LANG LC_*` as sshd -T prints it (one pattern a line).
    func testDebianStockAcceptEnvFails() {
        let f = only(judge(text(without: ["acceptenv"], adding: ["acceptenv LANG", "acceptenv LC_*"])), "sshd.acceptenv")
        XCTAssertEqual(f.map(\.severity), [.fail])
        XCTAssertEqual(f.first?.actual, "LANG LC_*")
        XCTAssertEqual(f.first?.location, "sshd -T: AcceptEnv")
        XCTAssertEqual(
            f.first?.fix, "set `AcceptEnv none` in the `Match User borgpull` block of /etc/ssh/sshd_config (a Match block's AcceptEnv replaces the global list)"
        )
        for p in ["*", "BASH_ENV", "none LANG", "NONE"] {
            let lines = p.split(separator: " ").map { "acceptenv \($0)" }
            XCTAssertEqual(only(judge(text(without: ["acceptenv"], adding: lines)), "sshd.acceptenv").first?.severity, .fail, p)
        }
    }

    func testPermitUserEnvironmentMustBeNo() {
        for v in ["yes", "LANG,LC_*", nil] as [String?] {
            let lines = v.map { ["permituserenvironment \($0)"] } ?? []
            let f = only(judge(text(without: ["permituserenvironment"], adding: lines)), "sshd.permituserenvironment").first
            XCTAssertEqual(f?.severity, .fail, v ?? "nil")
            XCTAssertEqual(f?.fix, "set `PermitUserEnvironment no` in /etc/ssh/sshd_config (a global setting: not allowed in a Match block)")
        }
    }

    func testDangerousSetEnvFails() {
        for entry in [
            "BASH_ENV=/tmp/x", "ENV=/tmp/x", "LD_PRELOAD=/tmp/x.so", "LD_LIBRARY_PATH=/tmp", "SHELLOPTS=xtrace",
            "BASHOPTS=extdebug", "PS4=$(id)", "PYTHONPATH=/tmp", "PERL5OPT=-d", "HOME=/tmp", "GCONV_PATH=/tmp",
            "GLIBC_TUNABLES=x", "SWIFT_BACKTRACE=enable=yes", "BASH_FUNC_x%%=() { id; }", "PATH=/tmp:/usr/bin",
            "PATH=/usr/bin:", "LANG=/tmp/locale", "LC_ALL=../../tmp/x"
        ] {
            let fs = only(judge(text(adding: ["setenv \(entry)"])), "sshd.setenv")
            let name = String(entry.split(separator: "=", maxSplits: 1)[0])
            XCTAssertEqual(fs.map(\.severity), [.fail], entry)
            XCTAssertEqual(fs.first?.actual, entry)
            XCTAssertEqual(fs.first?.fix, "remove \(name) from the SetEnv lines of /etc/ssh/sshd_config and its included files", entry)
        }
        // Two dangerous ones: two findings, no OK.
        XCTAssertEqual(only(judge(text(adding: ["setenv BASH_ENV=/x", "setenv LD_AUDIT=/y"])), "sshd.setenv").map(\.severity), [.fail, .fail])
    }

    func testHarmlessSetEnvIsOK() {
        for entry in ["TZ=UTC", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin:/bin", "http_proxy=http://proxy:3128", "A=b=c"] {
            let fs = only(judge(text(adding: ["setenv \(entry)"])), "sshd.setenv")
            XCTAssertEqual(fs.map(\.severity), [.ok], entry)
        }
        XCTAssertEqual(only(judge(text(adding: ["setenv TZ=UTC", "setenv A=1"])), "sshd.setenv").first?.actual, "TZ A")
    }

    func testExposeAuthInfoWarns() {
        let f = only(judge(text(without: ["exposeauthinfo"], adding: ["exposeauthinfo yes"])), "sshd.exposeauthinfo").first
        XCTAssertEqual(f?.severity, .warn)
        XCTAssertEqual(f?.fix, "set `ExposeAuthInfo no` in the `Match User borgpull` block of /etc/ssh/sshd_config")
    }
}
