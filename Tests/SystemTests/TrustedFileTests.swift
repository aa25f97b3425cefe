import BorgPullCore
import XCTest

@testable import BorgPullSystem

/// The one safe_path open (`Files.openTrusted`) behind the server config, the seccomp policy and
/// the passphrase file, on real files: the judged file is the read file.
final class TrustedFileTests: XCTestCase {
    var dir = ""
    let config = "REMOTE_HOST=client\nREPO_NAME=c\nREPO_DIR=/srv/borg/c\n"

    override func setUpWithError() throws {
        try Prerequisites.requireRoot()
        dir = "/var/lib/borgpull-test/trusted-\(getpid())"
        XCTAssertEqual(Shell.sh("install -d -m 0755 /var/lib/borgpull-test && rm -rf \(dir) && install -d -m 0755 \(dir)").status, 0)
    }

    override func tearDown() {
        if !dir.isEmpty { Shell.sh("rm -rf \(dir)") }
    }

    func write(_ path: String, _ text: String, mode: String = "0644") {
        XCTAssertEqual(Shell.sh("printf '%s' '\(text)' > \(path) && chmod \(mode) \(path)").status, 0)
    }

    /// Root reads the server config: a directory above it that others may write lets them swap
    /// the file, so it is refused (the loader judged only the file, and through stat(2)).
    func testServerConfigBelowAnOtherWritableDirectoryIsRefused() throws {
        XCTAssertEqual(Shell.sh("install -d -m 0777 \(dir)/open").status, 0)
        write("\(dir)/open/c.conf", config)
        XCTAssertThrowsError(try ServerConfigFile.load("\(dir)/open/c.conf")) { error in
            XCTAssertTrue("\(error)".contains("\(dir)/open"), "\(error)")
        }
        write("\(dir)/c.conf", config)
        XCTAssertEqual(try ServerConfigFile.load("\(dir)/c.conf").repoName, "c")
    }

    /// A symlink to a good config is refused with a message that says so (stat(2) followed it,
    /// then the O_NOFOLLOW read failed and the fix said chmod).
    func testServerConfigSymlinkIsRefusedAsSuch() throws {
        write("\(dir)/c.conf", config)
        XCTAssertEqual(Shell.sh("ln -s \(dir)/c.conf \(dir)/link.conf").status, 0)
        XCTAssertThrowsError(try ServerConfigFile.load("\(dir)/link.conf")) { error in
            XCTAssertFalse("\(error)".contains("chmod 0644"), "\(error)")
        }
    }

    func testOpenTrustedJudgesEveryComponentByDescriptor() throws {
        write("\(dir)/f", "x")
        let fd = try Files.openTrusted("\(dir)/f")
        close(fd)
        XCTAssertEqual(try Files.readTrusted("\(dir)/f", limit: 10), "x")
        XCTAssertThrowsError(try Files.readTrusted("\(dir)/f", limit: 0))
        chmod("\(dir)/f", 0o664)
        XCTAssertThrowsError(try Files.openTrusted("\(dir)/f")) { XCTAssertTrue("\($0)".contains("writable by group or other"), "\($0)") }
        chmod("\(dir)/f", 0o644)
        chown("\(dir)/f", 1, 1)
        XCTAssertThrowsError(try Files.openTrusted("\(dir)/f")) { XCTAssertTrue("\($0)".contains("owned by uid 1"), "\($0)") }
        XCTAssertNoThrow(try { close(try Files.openTrusted("\(dir)/f", owners: [1])) }())
        XCTAssertEqual(Shell.sh("mkfifo \(dir)/fifo").status, 0)
        XCTAssertThrowsError(try Files.openTrusted("\(dir)/fifo")) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        XCTAssertEqual(Shell.sh("ln -s \(dir) \(dir)/up").status, 0)
        XCTAssertThrowsError(try Files.openTrusted("\(dir)/up/f")) { XCTAssertEqual(($0 as? Files.Untrusted)?.errno, ENOTDIR) }
    }
}
