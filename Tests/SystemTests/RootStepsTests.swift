import BorgPullSystem
import Foundation
import XCTest

/// What runs as root outside the borg sandbox (SETUP, the hand-over of borg's base directory,
/// the restore borg) and what the server learns: each test reproduces a way a runner, a
/// compromised borg or a hostile server could gain from it, on the real kernel and borg.
final class RootStepsTests: XCTestCase {
    override class func tearDown() {
        ServerHarness.shutdown()
        super.tearDown()
    }

    /// `python3 -c` answer: the X.Y of Debian's python3, which names the user site directory.
    func pythonVersion() -> String {
        Shell.run(["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A `.pth` file in borg's HOME (the runner's base directory) is Python code run at start-up.
    /// Neither the sandboxed borg of BACKUP nor the restore borg (uid 0) may run it.
    func testPlantedPthInBorgsHomeRunsNeitherInBackupNorInTheRestoreBorg() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        let base = "\(f.state)/borg"
        let site = "\(base)/.local/lib/python\(pythonVersion())/site-packages"
        // What a compromised borg (running as the runner) could leave behind.
        Shell.sh(
            """
            mkdir -p \(site)
            echo "import os; open('\(base)/pth-ran-' + str(os.getuid()), 'w').close()" > \(site)/zz-planted.pth
            chown -R \(ClientFixture.runnerUser): \(base)/.local
            """)
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let runnerUID = Shell.uid(ClientFixture.runnerUser)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(base)/pth-ran-\(runnerUID)"),
            "the planted .pth ran in the BACKUP's borg as the runner")

        _ = RestoreTests.restorePolicy
        let u = f.client(["restore", "--latest", "--dry-run"])
        XCTAssertEqual(u.status, 0, u.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(base)/pth-ran-0"), "the planted .pth ran as root")
        // --unsandboxed is gone: refused with the usage status, nothing runs.
        let gone = f.client(["borg", "--unsandboxed", "--", "--version"])
        XCTAssertEqual(gone.status, 64, gone.stderr)
        XCTAssertTrue(gone.stderr.contains("--unsandboxed was removed") && gone.stderr.contains("restore"), gone.stderr)
        // The root borg has a base directory of its own, root's only.
        let own = Shell.run(["stat", "-c", "%u %a", "\(f.state)/borg-root"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(own, "0 700")
    }

    /// A hard link in borg's base directory is the same inode as a file elsewhere: the hand-over
    /// to the runner must refuse it and leave that file root's.
    func testHandOverRefusesAHardLinkAndChangesNothingOutside() throws {
        let f = try ClientFixture()
        try f.startServer()
        let victim = "\(f.root)/victim"
        Shell.sh(
            """
            set -e
            echo secret > \(victim) && chmod 0600 \(victim)
            mkdir -p \(f.state)/borg/.cache
            ln \(victim) \(f.state)/borg/.cache/looks-like-a-cache-file
            chown root:root \(f.state)/borg/.cache
            """)
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 70, r.stderr)
        XCTAssertTrue(r.stderr.contains("looks-like-a-cache-file") && r.stderr.contains("links"), r.stderr)
        let owner = Shell.run(["stat", "-c", "%u", victim]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(owner, "0", "the hand-over gave a file outside the base directory to the runner")
    }

    /// The runner swaps a directory of its base directory for a symlink to a root-owned tree
    /// while root hands the base directory over: nothing in that tree may change owner.
    func testHandOverRacingASymlinkSwapNeverChownsOutside() throws {
        try requireRoot()
        let root = "/var/lib/borgpull-test/race-\(UUID().uuidString.prefix(8).lowercased())"
        defer { Shell.sh("rm -rf \(root)") }
        let runnerUID = Shell.uid(ClientFixture.runnerUser)
        XCTAssertEqual(
            Shell.sh(
                """
                set -e
                mkdir -p -m 0755 \(root)/victim \(root)/base/d
                for i in $(seq 1 200); do echo x > \(root)/victim/f$i; echo y > \(root)/base/d/f$i; done
                chown -R root:root \(root)
                """
            ).status, 0)
        // The swapper: what a runner owning base/ can do (rename and symlink), as fast as it can.
        let swapper = Process()
        swapper.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        swapper.arguments = [
            "-c",
            """
            import os, time
            b = '\(root)/base'
            end = time.time() + 8
            while time.time() < end:
                try:
                    os.rename(b + '/d', b + '/d.real'); os.symlink('\(root)/victim', b + '/d')
                    os.unlink(b + '/d'); os.rename(b + '/d.real', b + '/d')
                except OSError:
                    pass
            """
        ]
        try swapper.run()
        var walks = 0
        while swapper.isRunning {
            try? Files.chownTree("\(root)/base", uid: runnerUID, gid: runnerUID)
            walks += 1
        }
        let changed = Shell.sh("find \(root)/victim ! -uid 0 | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(changed, "0", "\(changed) file(s) outside the base directory were given to the runner in \(walks) walks")
        XCTAssertGreaterThan(walks, 10)
    }

    /// SETUP runs as root with every capability: a configuration whose audit failed must not
    /// make it create or chown anything.
    func testSetupRefusesAConfigWhoseAuditFailedAndCreatesNothing() throws {
        let f = try ClientFixture()
        Shell.sh("rm -rf \(f.socketDir) \(f.state)")
        // A FAIL that still parses: borg_env readable by others (it holds the passphrase).
        chmod("\(f.conf)/borg_env", 0o644)
        let r = f.client(["SETUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("borg_env") && r.stderr.contains("nothing was created"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.socketDir), "SETUP created the socket directory")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.state), "SETUP created the state directory")
        // The missing socket directory itself is no reason to refuse: SETUP is what creates it.
        chmod("\(f.conf)/borg_env", 0o600)
        let ok = f.client(["SETUP"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.socketDir))
    }

    /// The result record goes to the server: it carries counts, codes and outcomes, never the
    /// client's file names (they stay in the client's log).
    func testResultRecordNamesNoClientPath() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        let secret = "\(f.root)/secret-name-leak-check"
        f.writeEnv("MISSING_PATHS=warn\n")
        f.write("borg_paths", "\(f.data)\n\(secret)\n")
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let text = String(decoding: FileManager.default.contents(atPath: "\(f.state)/results/last-backup.json") ?? Data(), as: UTF8.self)
        XCTAssertTrue(text.contains("borg_paths"), text)
        XCTAssertFalse(text.contains("secret-name-leak-check"), "the record names a client path: \(text)")
        XCTAssertTrue(r.stderr.contains("secret-name-leak-check"), "the client's own log lost the detail: \(r.stderr)")
    }

    /// End to end: what the server prints (the client's messages and the summary) names neither
    /// a client path nor a hook's output.
    func testServerLearnsNoClientPathNorHookOutput() throws {
        typealias H = ServerHarness
        let h = try H.get()
        defer {
            h.writeClientConfig()
            Shell.sh("rm -f \(H.clientDir)/borg_hook_pre")
        }
        h.writeClientConfig(extra: "MISSING_PATHS=warn")
        h.write(H.clientDir + "/borg_paths", "\(H.data)\n\(H.root)/secret-name-leak-check\n", mode: 0o600)
        h.write(H.clientDir + "/borg_hook_pre", "#!/bin/sh\necho hook-output-leak-check\necho hook-output-leak-check >&2\n", mode: 0o700)
        let r = h.server(json: true)
        XCTAssertEqual(r.status, 1, r.stderr)
        for secret in ["secret-name-leak-check", "hook-output-leak-check"] {
            XCTAssertFalse(r.stdout.contains(secret) || r.stderr.contains(secret), "the server learnt `\(secret)`:\n\(r.stderr)\n\(r.stdout)")
        }
        XCTAssertTrue(r.stderr.contains("1 borg_paths entry does not exist"), r.stderr)
    }

    /// SETUP creates and chowns as root: a socket directory below a directory another user owns
    /// is refused (that user could swap it for a symlink between SETUP's steps).
    func testSetupRefusesASocketDirectoryBelowAnotherUsersDirectory() throws {
        let f = try ClientFixture()
        let theirs = "\(f.root)/theirs"
        Shell.sh("install -d -o \(ClientFixture.otherUser) -m 0755 \(theirs)")
        Shell.sh("sed -i 's|\(f.socket)|\(theirs)/sock/client.socket|' \(f.conf)/borg_env")
        let r = f.client(["SETUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains(theirs) && r.stderr.contains("chown root:root"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(theirs)/sock"), "SETUP created the socket directory")
    }

    /// A hard link to a symlink elsewhere is that symlink: the hand-over must not give it away.
    func testHandOverRefusesAHardLinkedSymlink() throws {
        let f = try ClientFixture()
        try f.startServer()
        let outside = "\(f.root)/outside-link"
        Shell.sh(
            """
            set -e
            ln -s /etc/hostname \(outside)
            mkdir -p \(f.state)/borg/.cache
            ln -P \(outside) \(f.state)/borg/.cache/linked
            chown root:root \(f.state)/borg/.cache
            """)
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 70, r.stderr)
        XCTAssertTrue(r.stderr.contains("linked") && r.stderr.contains("links"), r.stderr)
        XCTAssertEqual(Shell.run(["stat", "-c", "%u", outside]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0")
    }

    /// A name that is not UTF-8 is still the same entry (the walk passes the kernel's bytes).
    func testHandOverCopesWithANameThatIsNotUTF8() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        Shell.sh("mkdir -p \(f.state)/borg/.cache && touch \"\(f.state)/borg/.cache/$(printf 'a\\377b')\" && chown -R root:root \(f.state)/borg/.cache")
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let owners = Shell.sh("find \(f.state)/borg/.cache -name 'a*b' -printf '%u\\n'").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(owners, ClientFixture.runnerUser)
    }
}
