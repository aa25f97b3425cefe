import XCTest

@testable import BorgPullCore

/// The original project's `configs/server/borgpull.conf.example`, verbatim.
let originalServerSample = """
    # BORG PULL -- Backup Server Config
    #
    # This file configures the backup server, i.e. the one
    # that "pulls" the backup.
    # "local" and "remote" are as seen from the backup
    # server's perspective


    # Local borg user.
    LOCAL_USER="borg"

    # Remote borg user.
    REMOTE_USER="borg"

    # This can either be a fully qualified domain, an IP address or an SSH config
    # entry
    REMOTE_HOST=""

    # Name of the repository to backup to.
    REPO_NAME=""

    # Destination of the Borg Repository
    REPO_DIR=""

    # Runtime configuration
    # Usually, no change needed here.
    RUN_DIR="/run/borg"
    SOCKET="${REPO_NAME}.socket"
    SOCKET_PATH="${RUN_DIR}/${SOCKET}"
    REMOTE_SOCKET_PATH="${SOCKET_PATH}"


    # vim: set filetype=bash
    """

final class ServerConfigTests: XCTestCase {
    func filled(_ s: String = originalServerSample) -> String {
        s.replacingOccurrences(of: "REMOTE_HOST=\"\"", with: "REMOTE_HOST=\"client.example.org\"")
            .replacingOccurrences(of: "REPO_NAME=\"\"", with: "REPO_NAME=\"clienta\"")
            .replacingOccurrences(of: "REPO_DIR=\"\"", with: "REPO_DIR=\"/srv/borg/clienta\"")
    }

    func testOriginalSampleParsesAsData() throws {
        let env = try EnvFile.parse(originalServerSample, file: "s.conf")
        XCTAssertEqual(env["SOCKET_PATH"], "/run/borg/.socket")
        // As shipped it is a template: the first empty required key is named with its line.
        XCTAssertThrowsError(try ServerConfig.parse(originalServerSample, file: "s.conf")) { e in
            let e = e as! ConfigError
            XCTAssertEqual(e.line, 17)
            XCTAssertTrue(e.problem.contains("REMOTE_HOST"), e.description)
            XCTAssertTrue(e.description.hasPrefix("s.conf:17: "), e.description)
        }
    }

    func testFilledSampleKeepsTheOriginalMeaning() throws {
        let c = try ServerConfig.parse(filled(), file: "s.conf")
        XCTAssertEqual(c.localUser, "borg")
        XCTAssertEqual(c.remoteUser, "borg")
        XCTAssertEqual(c.remoteHost, "client.example.org")
        XCTAssertEqual(c.repoDir, "/srv/borg/clienta")
        XCTAssertEqual(c.socketPath, "/run/borg/clienta.socket")
        XCTAssertEqual(c.remoteSocketPath, "/run/borg/clienta.socket")
        XCTAssertEqual(c.lockFile, "/run/borg/clienta.socket.lock")
        XCTAssertTrue(c.appendOnly)
        XCTAssertEqual(c.sshPort, 22)
        XCTAssertEqual(c.connectTimeout, 30)
        XCTAssertTrue(c.notices.isEmpty, "\(c.notices)")
    }

    func testDefaults() throws {
        let c = try ServerConfig.parse("REMOTE_HOST=h\nREPO_NAME=n\nREPO_DIR=/srv/n\n", file: "f")
        XCTAssertEqual(c.localUser, "borg")
        XCTAssertEqual(c.remoteUser, "borgpull")
        XCTAssertEqual(c.socketPath, "/run/borg/n.socket")
        XCTAssertEqual(c.backupTimeout, 21600)
    }

    func expectError(_ text: String, line: Int?, contains: String, file: StaticString = #filePath, l: UInt = #line) {
        XCTAssertThrowsError(try ServerConfig.parse(text, file: "f.conf"), file: file, line: l) { e in
            let e = e as! ConfigError
            XCTAssertEqual(e.line, line, e.description, file: file, line: l)
            XCTAssertTrue(e.description.contains(contains), e.description, file: file, line: l)
            XCTAssertFalse(e.fix.isEmpty, file: file, line: l)
        }
    }

    func testRejections() {
        let base = "REMOTE_HOST=h\nREPO_NAME=n\nREPO_DIR=/srv/n\n"
        expectError(base + "REPO_DIR=relative\n", line: 4, contains: "absolute")
        expectError(base + "REPO_DIR='/srv/a b'\n", line: 4, contains: "socat")
        expectError(base + "REPO_DIR=/srv/a,b\n", line: 4, contains: "socat")
        expectError(base + "SOCKET_PATH=/run/a:b\n", line: 4, contains: "`:`")
        expectError(base + "SOCKET_PATH=/run/" + String(repeating: "x", count: 120) + "\n", line: 4, contains: "at most 107")
        expectError(base + "SSH_PORT=70000\n", line: 4, contains: "SSH_PORT")
        expectError(base + "APPEND_ONLY=maybe\n", line: 4, contains: "APPEND_ONLY")
        expectError(base + "BORG_SERVE_OPTIONS=--restrict-to-path=/\n", line: 4, contains: "restricts")
        expectError(base + "BORG_SERVE_OPTIONS=--append-only\n", line: 4, contains: "APPEND_ONLY")
        expectError(base + "REMOTE_HOST=-oProxyCommand=x\n", line: 4, contains: "REMOTE_HOST")
        expectError(base + "LOCAL_USER='a b'\n", line: 4, contains: "LOCAL_USER")
        expectError(base + "CONNECT_TIMEOUT=$(echo 3)\n", line: 4, contains: "command substitution")
        expectError("REMOTE_HOST=h\nREPO_DIR=/x\n", line: nil, contains: "REPO_NAME")
    }

    func testUnknownKeysAreNotices() throws {
        let c = try ServerConfig.parse("REMOTE_HOST=h\nREPO_NAME=n\nREPO_DIR=/srv/n\nFOO=1\n", file: "f")
        XCTAssertEqual(c.notices, ["f:4: FOO is not a borgpull-server setting and is ignored"])
    }
}
