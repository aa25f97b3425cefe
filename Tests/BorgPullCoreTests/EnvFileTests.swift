import XCTest

@testable import BorgPullCore

/// The original project's client sample (`configs/client/borg_env`), in its structure and quoting.
let seedBorgEnv = #"""
    # BORG PULL -- Client Config
    #
    # This file configures the backup client, i.e. the one machine that is being
    # backed up.

    export BORG_BACKUP_USER="borg"
    export BORG_BACKUP_GROUP="borg"


    # Remote (server side!) repository as SSH path in the format
    # `ssh://<HOST>[:PORT]/<FULL_PATH_TO_REPO>`
    export BORG_REPO="ssh://backupserver/srv/borg/client1"

    # BORG PASSPHRASE
    # Keep it surrounded in single high ticks to avoid evaluation/expansion
    export BORG_PASSPHRASE='correct horse $battery'

    # Path to socket (on client side)
    export BACKUP_SOCKET="/run/borg/netcup.socket"

    # BORG Remote Shell
    # Usually, there's no need to change this.
    export BORG_RSH="sh -c \"exec socat STDIO UNIX-CONNECT:${BACKUP_SOCKET}\""

    # vim: set filetype=bash
    """#

final class EnvFileTests: XCTestCase {
    func parseError(_ text: String) -> ConfigError? {
        do { _ = try EnvFile.parse(text, file: "/etc/borgpull/borg_env"); return nil } catch { return error }
    }

    func testSeedSampleParsesAndMeansTheSame() throws {
        let env = try EnvFile.parse(seedBorgEnv, file: "borg_env")
        XCTAssertEqual(env["BORG_BACKUP_USER"], "borg")
        XCTAssertEqual(env["BORG_REPO"], "ssh://backupserver/srv/borg/client1")
        XCTAssertEqual(env["BORG_PASSPHRASE"], "correct horse $battery")
        XCTAssertEqual(env["BORG_RSH"], #"sh -c "exec socat STDIO UNIX-CONNECT:/run/borg/netcup.socket""#)
        XCTAssertEqual(env.assignment("BORG_RSH")?.line, 23)
        XCTAssertTrue(env.assignment("BORG_REPO")!.exported)
    }

    func testPassphraseWithEveryAwkwardCharacterSurvives() throws {
        // a b$c#d'e"f written with single quotes, with double quotes, and with escapes.
        let want = #"a b$c#d'e"f"#
        for line in [#"P='a b$c#d'"'"'e"f'"#, #"P="a b\$c#d'e\"f""#, #"P=a\ b\$c#d\'e\"f"#] {
            let env = try EnvFile.parse(line + "  # trailing comment\n", file: "f")
            XCTAssertEqual(env["P"], want, line)
        }
    }

    func testExpansionOfEarlierKeysOnly() throws {
        let env = try EnvFile.parse("A=/run/borg\nB=\"$A/x.socket\"\nC=${A}/y\nD='$A'\nE=a$\n", file: "f")
        XCTAssertEqual(env["B"], "/run/borg/x.socket")
        XCTAssertEqual(env["C"], "/run/borg/y")
        XCTAssertEqual(env["D"], "$A")
        XCTAssertEqual(env["E"], "a$")
    }

    func testHashInsideValueIsLiteral() throws {
        XCTAssertEqual(try EnvFile.parse("A=x#y # comment", file: "f")["A"], "x#y")
    }

    func testMultilineQuotedValueKeepsLineNumbers() throws {
        let env = try EnvFile.parse("A='one\ntwo'\nB=3\n", file: "f")
        XCTAssertEqual(env["A"], "one\ntwo")
        XCTAssertEqual(env.assignment("B")?.line, 3)
    }

    func testExportOfEarlierKey() throws {
        let env = try EnvFile.parse("A=1\nexport A\n", file: "f")
        XCTAssertTrue(env.assignment("A")!.exported)
    }

    func testRejectedShellWithFileAndLine() {
        let cases: [(String, Int, String)] = [
            ("A=1\nB=$(cat /etc/shadow)\n", 2, "command substitution"),
            ("A=1\n\nB=`id`\n", 3, "backticks"),
            ("A=\"unterminated\nB=2\n", 1, "unterminated double quote"),
            ("A='unterminated\n", 1, "unterminated single quote"),
            ("B=$LATER\nLATER=1\n", 1, "used before it is defined"),
            ("B=\"${HOME}/x\"\n", 1, "used before it is defined"),
            ("A=1; rm -rf /\n", 1, "shell operator"),
            ("A=hello world\n", 1, "unquoted whitespace"),
            ("source /etc/other\n", 1, "not a KEY=value line"),
            ("B=${A:-x}\n", 1, "only plain"),
            ("B=$1\n", 1, "special parameter"),
            ("B=~/x\n", 1, "~")
        ]
        for (text, line, words) in cases {
            guard let e = parseError(text) else { XCTFail("accepted: \(text)"); continue }
            XCTAssertEqual(e.line, line, text)
            XCTAssertEqual(e.file, "/etc/borgpull/borg_env")
            XCTAssertTrue(e.problem.contains(words), "\(text): \(e.problem)")
            XCTAssertFalse(e.fix.isEmpty)
            XCTAssertTrue(e.description.hasPrefix("/etc/borgpull/borg_env:\(line): "), e.description)
        }
    }
}
