import Foundation
import XCTest

/// `borgpull-client restore` against real borg, a real `borg serve` behind real socat, in the
/// real restore sandbox (uid 0, the restore capabilities, Landlock, borg-restore.policy).
final class RestoreTests: XCTestCase {
    /// The repository's restore policy, staged root-owned next to the fixture's borg.policy
    /// (SECCOMP_RESTORE_POLICY defaults to borg-restore.policy beside SECCOMP_POLICY).
    static let restorePolicy = Staged.file("policy/seccomp/borg-restore.policy")

    /// Every item below `root`: path, uid, gid, mode, link count, mtime, xattrs (ACLs included,
    /// as system.posix_acl_*), content hash; one line each.
    static func snapshot(_ root: String) -> String {
        Shell.run([
            "python3", "-c",
            """
            import hashlib, os, sys
            root = sys.argv[1]
            for d, dirs, files in sorted(os.walk(root)):
                for n in sorted(dirs + files):
                    p = os.path.join(d, n); st = os.lstat(p)
                    link = os.path.islink(p)
                    x = {} if link else {k: os.getxattr(p, k).hex() for k in sorted(os.listxattr(p))}
                    h = os.readlink(p) if link else (hashlib.sha256(open(p, 'rb').read()).hexdigest() if os.path.isfile(p) else '')
                    print(os.path.relpath(p, root), st.st_uid, st.st_gid, oct(st.st_mode), st.st_nlink, st.st_mtime_ns, x, h)
            """, root
        ]).stdout
    }

    /// A tree with files of three owners, a root-only 0600 file, a symlink, a hard link pair, an
    /// xattr and a POSIX ACL, backed up through BACKUP.
    func backedUpFixture() throws -> ClientFixture {
        _ = Self.restorePolicy
        let f = try ClientFixture()
        let other = ClientFixture.otherUser, ssh = ClientFixture.sshUser
        let r = Shell.sh(
            """
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

    /// `--dry-run` lists what would be restored and writes nothing: no target, no file.
    func testDryRunListsAndWritesNothing() throws {
        let f = try backedUpFixture()
        let target = "\(f.root)/dry"
        let r = f.client(["restore", "--latest", "--dry-run", "--to", target, f.data + "/hello.txt", f.data + "/private"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let listed = Set(r.stdout.split(separator: "\n").map(String.init))
        let rel = String(f.data.dropFirst())
        XCTAssertEqual(listed, ["\(rel)/hello.txt", "\(rel)/private", "\(rel)/private/p.txt"], r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: target), "a dry run created the target")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(f.state)/restore"), "a dry run created the default target's parent")
        XCTAssertTrue(r.stderr.contains("would restore 3 item(s)"), r.stderr)
    }

    /// `--json`: one record with every field, for a restore and for a refused one.
    func testJsonRecordHasEveryField() throws {
        let f = try backedUpFixture()
        let archive = try XCTUnwrap(f.archives().last)
        let target = "\(f.root)/json"
        let r = f.client(["restore", "--archive", archive, "--to", target, "--json", f.data + "/hello.txt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(Set(record.keys), ["host", "started", "finished", "archive", "target", "in_place", "dry_run", "restored", "failed", "status"])
        XCTAssertEqual(record["archive"] as? String, archive)
        XCTAssertEqual(record["target"] as? String, target)
        XCTAssertEqual(record["in_place"] as? Bool, false)
        XCTAssertEqual(record["dry_run"] as? Bool, false)
        XCTAssertEqual(record["restored"] as? Int, 1)
        XCTAssertEqual(record["failed"] as? Int, 0)
        XCTAssertEqual(record["host"] as? String, Shell.run(["hostname", "-s"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        for k in ["started", "finished"] {
            XCTAssertNotNil((record[k] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }, "\(k): \(record[k] ?? "missing")")
        }
        let status = try XCTUnwrap(record["status"] as? [String: Any])
        XCTAssertEqual(status["code"] as? Int, 0)
        XCTAssertEqual(status["name"] as? String, "ok")
        XCTAssertTrue((status["message"] as? String)?.hasPrefix("restored 1 item(s) of \(archive) to \(target)") ?? false, "\(status)")
        // A refused restore still prints its record, with the refusal's status.
        let again = f.client(["restore", "--archive", archive, "--to", target, "--json"])
        XCTAssertEqual(again.status, 12, again.stderr)
        let refused = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any], again.stdout)
        XCTAssertEqual((refused["status"] as? [String: Any])?["name"] as? String, "config-error")
        XCTAssertEqual(refused["restored"] as? Int, 0)
    }

    /// The restore borg on the real kernel. A stand-in BORG_BINARY (root's) runs under the
    /// restore sandbox for `extract` only: a forked child reads /proc/PID/status of the real
    /// borg it execs (once its comm is `borg`), and it tries writes, ptrace, mount and AF_INET
    /// before the exec. Everything else (`borg list`) goes straight to borg.
    func testRestoreBorgIsConfinedOnTheRealKernel() throws {
        let f = try backedUpFixture()
        let target = "\(f.root)/confined"
        let outside = "\(f.root)/outside"
        XCTAssertEqual(Shell.sh("install -d -m 0755 \(outside)").status, 0)
        let tag = "bp-\(UUID().uuidString.prefix(8))"
        let probe = "\(f.root)/restore-probe"
        let script = """
            #!/usr/bin/python3
            import ctypes, errno, os, socket, sys, time
            borg = '\(TestBorg.binary)'
            if 'extract' not in sys.argv[1:]:
                os.execv(borg, [borg] + sys.argv[1:])
            def say(*a): print('bp-probe:', *a, file=sys.stderr, flush=True)
            for d in ('\(target)', '\(f.state)/borg-root', '\(outside)', '/tmp', '/var/tmp', '\(f.state)/borg'):
                n = os.path.join(d, '\(tag)')
                try:
                    os.close(os.open(n, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)); os.unlink(n); say('allowed write', d)
                except OSError as e:
                    say('denied write', d, errno.errorcode[e.errno])
            try:
                socket.socket(socket.AF_INET); say('allowed inet')
            except OSError as e:
                say('denied inet', errno.errorcode[e.errno])
            libc = ctypes.CDLL(None, use_errno=True)
            for name, nr in (('ptrace', 101), ('mount', 165)):
                pid = os.fork()
                if pid == 0:
                    rc = libc.syscall(ctypes.c_long(nr), ctypes.c_long(16), ctypes.c_long(os.getppid()), 0, 0, 0)
                    os._exit(0 if rc == 0 else 3)
                _, st = os.waitpid(pid, 0)
                say('denied' if os.WIFSIGNALED(st) or os.WEXITSTATUS(st) != 0 else 'allowed', name,
                    'signal %d' % os.WTERMSIG(st) if os.WIFSIGNALED(st) else 'exit %d' % os.WEXITSTATUS(st))
            parent = os.getpid()
            if os.fork() == 0:
                for _ in range(1000):
                    try:
                        if open('/proc/%d/comm' % parent).read().strip() == 'borg':
                            for l in open('/proc/%d/status' % parent):
                                if l.split(':')[0] in ('Name', 'Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'):
                                    say('status', l.strip().replace('\\t', ' '))
                            break
                    except OSError:
                        break
                    time.sleep(0.01)
                os._exit(0)
            os.execv(borg, [borg] + sys.argv[1:])
            """
        XCTAssertTrue(FileManager.default.createFile(atPath: probe, contents: Data(script.utf8)))
        chmod(probe, 0o755)
        f.writeEnv("BORG_BINARY=\(probe)\n")
        let r = f.client(["restore", "--latest", "--to", target])
        XCTAssertEqual(r.status, 0, r.stderr)
        for d in [target, "\(f.state)/borg-root"] {
            XCTAssertTrue(r.stderr.contains("bp-probe: allowed write \(d)"), "\(d): \(r.stderr)")
        }
        for d in [outside, "/tmp", "/var/tmp", "\(f.state)/borg"] {
            XCTAssertTrue(r.stderr.contains("bp-probe: denied write \(d) EACCES"), "\(d): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(d)/\(tag)"), d)
        }
        XCTAssertTrue(r.stderr.contains("bp-probe: denied inet EAFNOSUPPORT"), r.stderr)
        XCTAssertTrue(r.stderr.contains("bp-probe: denied ptrace signal \(SIGSYS)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("bp-probe: denied mount signal \(SIGSYS)"), r.stderr)
        var status: [String: String] = [:]
        for line in r.stderr.split(separator: "\n") {
            guard let at = line.range(of: "bp-probe: status ") else { continue }
            let kv = line[at.upperBound...].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2 { status[String(kv[0])] = kv[1].trimmingCharacters(in: .whitespaces) }
        }
        XCTAssertEqual(status["Name"], "borg", "the running borg's status was read: \(r.stderr)")
        XCTAssertEqual(status["Uid"], "0 0 0 0")
        XCTAssertEqual(status["Gid"], "0 0 0 0")
        XCTAssertEqual(status["Groups"], "")
        // CAP_CHOWN 0, CAP_DAC_OVERRIDE 1, CAP_FOWNER 3, CAP_MKNOD 27, CAP_SETFCAP 31 (SECURITY.md).
        let documented = String(format: "%016llx", (1 << 0) | (1 << 1) | (1 << 3) | (1 << 27) | (1 << 31))
        // In every set: NOROOT keeps uid 0 from regaining the rest on exec, so the kept ones
        // cross the exec of python3 as ambient capabilities.
        for key in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] { XCTAssertEqual(status[key], documented, key) }
        XCTAssertEqual(status["NoNewPrivs"], "1")
        XCTAssertEqual(status["Seccomp"], "2")
        XCTAssertEqual(Self.snapshot(target + f.data), Self.snapshot(f.data), "the restore itself still worked")
    }
}
