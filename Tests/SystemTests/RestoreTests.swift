import XCTest
import Foundation

/// `borgpull-client restore` against real borg, a real `borg serve` behind real socat, in the
/// real restore sandbox (uid 0, the restore capabilities, Landlock, borg-restore.policy).
final class RestoreTests: XCTestCase {
    /// The repository's restore policy, staged root-owned next to the fixture's borg.policy
    /// (SECCOMP_RESTORE_POLICY defaults to borg-restore.policy beside SECCOMP_POLICY).
    static let restorePolicy = Staged.file("policy/seccomp/borg-restore.policy")

    /// Every item below `root`: path, uid, gid, mode, link count, mtime, xattrs (ACLs included,
    /// as system.posix_acl_*), content hash; one line each.
    static func snapshot(_ root: String) -> String {
        Shell.run(["python3", "-c", """
            import hashlib, os, sys
            root = sys.argv[1]
            for d, dirs, files in sorted(os.walk(root)):
                for n in sorted(dirs + files):
                    p = os.path.join(d, n); st = os.lstat(p)
                    link = os.path.islink(p)
                    x = {} if link else {k: os.getxattr(p, k).hex() for k in sorted(os.listxattr(p))}
                    h = os.readlink(p) if link else (hashlib.sha256(open(p, 'rb').read()).hexdigest() if os.path.isfile(p) else '')
                    print(os.path.relpath(p, root), st.st_uid, st.st_gid, oct(st.st_mode), st.st_nlink, st.st_mtime_ns, x, h)
            """, root]).stdout
    }

    /// A tree with files of three owners, a root-only 0600 file, a symlink, a hard link pair, an
    /// xattr and a POSIX ACL, backed up through BACKUP.
    func backedUpFixture() throws -> ClientFixture {
        _ = Self.restorePolicy
        let f = try ClientFixture()
        let other = ClientFixture.otherUser, ssh = ClientFixture.sshUser
        let r = Shell.sh("""
            set -e
            cd \(f.data)
            chown \(other): hello.txt && chmod 0640 hello.txt
            echo ssh > ssh-owned.txt && chown \(ssh):\(other) ssh-owned.txt && chmod 0604 ssh-owned.txt
            mkdir -m 0700 private && echo p > private/p.txt && chown -R \(other): private
            ln -s hello.txt link && chown -h \(other): link
            echo h > hard1 && ln hard1 hard2
            python3 - <<'PY'
            import os, struct
            os.setxattr("hello.txt", "user.note", b"hello")
            uid = int(os.popen("id -u \(ssh)").read())
            acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
                  [(1, 6, 0xFFFFFFFF), (2, 4, uid), (4, 4, 0xFFFFFFFF), (0x10, 4, 0xFFFFFFFF), (0x20, 4, 0xFFFFFFFF)])
            os.setxattr("random.bin", "system.posix_acl_access", acl)
            PY
            touch -h -d '2001-02-03 04:05:06' hello.txt link hard1
            """)
        XCTAssertEqual(r.status, 0, r.stderr)
        try f.startServer()
        try f.initRepository()
        let b = f.client(["BACKUP"])
        XCTAssertEqual(b.status, 0, b.stderr)
        return f
    }

    func testRestoreToKeepsEveryItem() throws {
        let f = try backedUpFixture()
        let target = "\(f.root)/restored"
        let r = f.client(["restore", "--latest", "--to", target, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let record = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(record?["failed"] as? Int, 0, r.stdout)
        XCTAssertGreaterThan(record?["restored"] as? Int ?? 0, 8, r.stdout)
        let expected = Self.snapshot(f.data)
        XCTAssertTrue(expected.contains("user.note"), expected)
        XCTAssertTrue(expected.contains("system.posix_acl_access"), expected)
        XCTAssertEqual(Self.snapshot(target + f.data), expected)
        // The restore sandbox kept its writes to the target and STATE_DIR/borg-root (root 0700).
        XCTAssertTrue(r.stderr.contains("landlock ABI"), r.stderr)
        let base = Shell.run(["stat", "-c", "%u %a", "\(f.state)/borg-root"]).stdout
        XCTAssertEqual(base.trimmingCharacters(in: .whitespacesAndNewlines), "0 700")
        // A second restore into the same, now non-empty, target is refused, nothing merged.
        let again = f.client(["restore", "--latest", "--to", target])
        XCTAssertEqual(again.status, 12, again.stderr)
        XCTAssertTrue(again.stderr.contains("already contains files"), again.stderr)
    }

    func testInPlaceRestoresADeletedFileWithOwnerAndMode() throws {
        let f = try backedUpFixture()
        let path = "\(f.data)/hello.txt"
        let before = Shell.run(["stat", "-c", "%U %a %s %Y", path]).stdout
        XCTAssertEqual(unlink(path), 0)
        let noPaths = f.client(["restore", "--latest", "--in-place"])
        XCTAssertEqual(noPaths.status, 12, noPaths.stderr)
        let r = f.client(["restore", "--latest", "--in-place", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Shell.run(["stat", "-c", "%U %a %s %Y", path]).stdout, before)
        XCTAssertEqual(Shell.run(["cat", path]).stdout, "hello\n")
    }

    func testBadInputIsRefusedAndWritesNothing() throws {
        let f = try backedUpFixture()
        // A symlink target, and another host's archive without --any-host.
        Shell.sh("ln -s /etc \(f.root)/link-target")
        let link = f.client(["restore", "--latest", "--to", "\(f.root)/link-target"])
        XCTAssertEqual(link.status, 12, link.stderr)
        XCTAssertTrue(link.stderr.contains("is a symlink"), link.stderr)
        let foreign = f.client(["restore", "--archive", "otherhost-2026-01-01T00:00:00", "--to", "\(f.root)/x"])
        XCTAssertEqual(foreign.status, 12, foreign.stderr)
        // No SERVE: the socket-problem status and nothing written.
        f.stopServer(leaveSocket: true)
        let target = "\(f.root)/never"
        let r = f.client(["restore", "--latest", "--to", target])
        XCTAssertEqual(r.status, 10, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
    }
}
