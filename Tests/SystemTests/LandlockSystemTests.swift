// System tests of the Landlock layer and the setuid/setgid chmod refusal on the real kernel,
// as root: the built `borgpull-client sandbox-exec`, a real BACKUP with real borg, and the
// built borgpull-check. "A kernel without Landlock" is made real for one process tree by a
// seccomp filter that answers landlock_create_ruleset with ENOSYS (what such a kernel says).

import BorgPullCore
import Foundation
import XCTest

final class LandlockSystemTests: XCTestCase {
    var root: String!  // per-test scratch dir, root-owned 0755
    var writable: String!  // runner-owned 0700: the one directory in the writable list
    var outside: String!  // runner-owned 0700 too, so only Landlock (not DAC) can refuse writes there
    var tag: String!  // unique file-name part: tests run concurrently on this machine
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    /// `SandboxStep.landlock.exitStatus` (SECURITY.md's table; LandlockTests pins the value), as a number so
    /// these tests also build against a client without the step (to show they fail there).
    static let landlockStepStatus: Int32 = 113

    override func setUpWithError() throws {
        try Prerequisites.requireRoot()
        try Prerequisites.requireTools(["python3", "borg"])
        Shell.ensureUser(ClientFixture.runnerUser)
        uid = Shell.uid(ClientFixture.runnerUser)
        gid = UInt32(Shell.run(["id", "-g", ClientFixture.runnerUser]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        XCTAssertNotEqual(uid, 0)
        tag = "bp-ll-" + UUID().uuidString.prefix(8).lowercased()
        Shell.sh("mkdir -p -m 0755 /var/lib/borgpull-test && chmod 0755 /var/lib/borgpull-test")
        root = "/var/lib/borgpull-test/\(tag!)"
        writable = "\(root!)/writable"
        outside = "\(root!)/outside"
        let r = Shell.sh(
            """
            set -e
            mkdir -m 0755 \(root!)
            mkdir -m 0700 \(writable!) \(outside!) && chown \(uid):\(gid) \(writable!) \(outside!)
            install -m 0600 /dev/null \(root!)/root-only && echo root-secret-\(tag!) > \(root!)/root-only
            echo keep > \(outside!)/existing && chown \(uid):\(gid) \(outside!)/existing
            """)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    override func tearDownWithError() throws {
        guard let root, let tag else { return }
        // On code without Landlock the probes did create these: never leave them behind.
        Shell.sh("rm -rf \(root) /tmp/\(tag)* /dev/shm/\(tag)* /var/tmp/\(tag)*")
    }

    /// `sandbox-exec` of `argv` as the runner, writing beneath `writable` (default: the
    /// writable directory; [] passes no --writable); `prefix` runs in front of the client
    /// (e.g. `withoutLandlock`).
    func sandboxed(
        _ argv: [String], writable dirs: [String]? = nil, landlock: String? = nil,
        prefix: [String] = []
    ) -> Shell.Output {
        var args = prefix + [SandboxSystemTests.clientPath(), "sandbox-exec", "--runner-uid", String(uid), "--runner-gid", String(gid)]
        if let landlock { args += ["--landlock", landlock] }
        for d in dirs ?? [writable] { args += ["--writable", d] }
        args += ["--policy", ClientFixture.policy, "--"] + argv
        return Shell.run(args, env: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": writable, "TMPDIR": writable])
    }

    /// Tries every kind of write in each directory given; prints `allowed WHAT DIR` or
    /// `denied WHAT DIR ERRNO`. argv: TAG DIR...
    static let writeProbe = """
        import errno, os, sys
        tag = sys.argv[1]
        def attempt(what, d, fn):
            try:
                fn(); print('allowed', what, d)
            except OSError as e:
                print('denied', what, d, errno.errorcode[e.errno])
        for d in sys.argv[2:]:
            n = os.path.join(d, tag)
            attempt('create', d, lambda: os.close(os.open(n, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)))
            attempt('mkdir', d, lambda: os.mkdir(n + '.d'))
            attempt('symlink', d, lambda: os.symlink('/etc/shadow', n + '.l'))
            attempt('fifo', d, lambda: os.mkfifo(n + '.p'))
        """

    /// The kernel's Landlock ABI, asked independently of borgpull (python ctypes, syscall 444 =
    /// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)); nil without Landlock.
    static func kernelABI() -> Int? {
        let r = Shell.run([
            "/usr/bin/python3", "-c",
            "import ctypes; l = ctypes.CDLL(None); l.syscall.restype = ctypes.c_long; print(l.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1)))"
        ])
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0 >= 1 ? $0 : nil }
    }

    func requireLandlock() throws -> Int {
        let abi = Self.kernelABI()
        try requirePrerequisite(abi != nil, "a kernel with Landlock (landlock_create_ruleset answers a version)")
        return abi!
    }

    /// `python3 -c WRAPPER PROGRAM ARGS...`: execs PROGRAM under a seccomp filter (libseccomp
    /// through ctypes) that answers landlock_create_ruleset with ENOSYS, as a kernel without
    /// Landlock does. no_new_privs stays off, so a root PROGRAM keeps its privileges.
    static let withoutLandlock = [
        "/usr/bin/python3", "-c",
        """
        import ctypes, os, sys
        s = ctypes.CDLL('libseccomp.so.2')
        s.seccomp_init.restype = ctypes.c_void_p
        s.seccomp_init.argtypes = [ctypes.c_uint32]
        s.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        s.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
        s.seccomp_load.argtypes = [ctypes.c_void_p]
        ctx = s.seccomp_init(0x7fff0000)                           # SCMP_ACT_ALLOW
        assert s.seccomp_attr_set(ctx, 3, 0) == 0                  # SCMP_FLTATR_CTL_NNP off
        assert s.seccomp_rule_add(ctx, 0x00050000 | 38, 444, 0) == 0  # landlock_create_ruleset: ENOSYS
        assert s.seccomp_load(ctx) == 0
        os.execv(sys.argv[1], sys.argv[1:])
        """
    ]

    // MARK: (a) writes only beneath the writable list, reads everywhere

    func testWritesOutsideTheWritableDirectoryAreRefusedReadsStayGlobal() throws {
        _ = try requireLandlock()
        let shared = ["/tmp", "/dev/shm", "/var/tmp", outside!]
        let r = sandboxed(["/usr/bin/python3", "-c", Self.writeProbe, tag, writable] + shared)
        XCTAssertEqual(r.status, 0, r.stderr)
        for what in ["create", "mkdir", "symlink", "fifo"] {
            XCTAssertTrue(r.stdout.contains("allowed \(what) \(writable!)\n"), "\(what) beneath the base dir: \(r.stdout)")
            for d in shared {
                XCTAssertTrue(r.stdout.contains("denied \(what) \(d) EACCES\n"), "\(what) in \(d) must be refused: \(r.stdout)")
            }
        }
        for d in shared {
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(d)/\(tag!)"), "\(d)/\(tag!) was created")
        }
        // Existing files outside: no write, truncate (O_TRUNC: truncate(2) itself is killed by
        // seccomp), unlink, or rename/link out of the base dir.
        let more = """
            import errno, os, sys
            w, o, tag = sys.argv[1:]
            open(os.path.join(w, tag + '.src'), 'w').close()
            for what, fn in [('write', lambda: open(os.path.join(o, 'existing'), 'r+').close()),
                             ('truncate', lambda: os.close(os.open(os.path.join(o, 'existing'), os.O_RDONLY | os.O_TRUNC))),
                             ('unlink', lambda: os.unlink(os.path.join(o, 'existing'))),
                             ('rename', lambda: os.rename(os.path.join(w, tag + '.src'), os.path.join(o, tag))),
                             ('link', lambda: os.link(os.path.join(w, tag + '.src'), os.path.join(o, tag)))]:
                try:
                    fn(); print('allowed', what)
                except OSError as e:
                    print('denied', what, errno.errorcode[e.errno])
            print(open('/etc/shadow').read().split(':')[0])
            print(open('\(root!)/root-only').read().strip())
            """
        let m = sandboxed(["/usr/bin/python3", "-c", more, writable, outside, tag])
        XCTAssertEqual(m.status, 0, m.stderr)
        for what in ["write", "truncate", "unlink"] {
            XCTAssertTrue(m.stdout.contains("denied \(what) EACCES\n"), "\(what): \(m.stdout)")
        }
        for what in ["rename", "link"] {  // the kernel answers EXDEV for a refused reparenting
            XCTAssertTrue(m.stdout.contains("denied \(what) EXDEV\n") || m.stdout.contains("denied \(what) EACCES\n"), "\(what): \(m.stdout)")
        }
        XCTAssertEqual(try String(contentsOfFile: "\(outside!)/existing", encoding: .utf8), "keep\n")
        // Reads stay global: /etc/shadow and a root-only 0600 file (CAP_DAC_READ_SEARCH).
        XCTAssertTrue(m.stdout.hasSuffix("root\nroot-secret-\(tag!)\n"), m.stdout)
    }

    func testDevNullIsWritableOtherDevicesAreNot() throws {
        _ = try requireLandlock()
        // `2>/dev/null` in a BORG_PASSCOMMAND shell line: O_WRONLY|O_CREAT|O_TRUNC on the device.
        let r = sandboxed([
            "/usr/bin/python3", "-c",
            """
            import errno, os
            for dev in ('/dev/null', '/dev/zero'):
                try:
                    os.close(os.open(dev, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)); print('allowed', dev)
                except OSError as e:
                    print('denied', dev, errno.errorcode[e.errno])
            """
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "allowed /dev/null\ndenied /dev/zero EACCES\n")
    }

    func testLandlockLineNamesTheKernelsABIAndTheDirectories() throws {
        let abi = try requireLandlock()
        for mode in ["auto", "required"] {
            let r = sandboxed(["/bin/true"], landlock: mode)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stderr, "borgpull: landlock ABI \(abi): writes only beneath \(writable!); /dev/null\n", mode)
        }
        let bad = sandboxed(["/bin/true"], landlock: "off")
        XCTAssertEqual(bad.status, SandboxStep.arguments.exitStatus, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--landlock off: expected auto or required"), bad.stderr)
    }

    func testSymlinkedOrMissingWritableDirectoryFailsTheStepAndNothingRuns() throws {
        _ = try requireLandlock()
        let link = "\(root!)/link"
        XCTAssertEqual(symlink(writable, link), 0)
        let marker = "\(writable!)/ran"
        for dir in [link, "\(root!)/missing"] {
            let r = sandboxed(["/usr/bin/touch", marker], writable: [dir])
            XCTAssertEqual(r.status, Self.landlockStepStatus, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("borgpull: sandbox step landlock failed: open \(dir) for a Landlock rule (it must be a real directory"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the command ran after a failed landlock step")
        }
    }

    // MARK: a kernel without Landlock: auto runs with a warning, required refuses

    func testWithoutLandlockAutoWarnsAndRunsRequiredRefusesAndNothingRuns() throws {
        let marker = "\(writable!)/ran"
        let auto = sandboxed(["/usr/bin/python3", "-c", Self.writeProbe, tag, "/tmp"], landlock: "auto", prefix: Self.withoutLandlock)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stderr.hasPrefix("borgpull: warning: the kernel has no Landlock: borg runs without the Landlock layer"), auto.stderr)
        XCTAssertTrue(auto.stdout.contains("allowed create /tmp\n"), "auto without Landlock really runs without it: \(auto.stdout)")
        let required = sandboxed(["/usr/bin/touch", marker], landlock: "required", prefix: Self.withoutLandlock)
        XCTAssertEqual(required.status, Self.landlockStepStatus, required.stderr)
        XCTAssertTrue(required.stderr.hasPrefix("borgpull: sandbox step landlock failed: the kernel has no Landlock and LANDLOCK=required"), required.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    // MARK: (c) seccomp: no setuid/setgid chmod

    func testSetuidAndSetgidChmodFailWithEPERMPlainChmodWorks() throws {
        // The runner's own file, made beforehand: chmod needs no Landlock right, so the probe
        // runs with no writable directory at all.
        let file = "\(outside!)/\(tag!).bin"
        XCTAssertEqual(Shell.sh("install -o \(uid) -g \(gid) -m 0600 /dev/null \(file)").status, 0)
        let probe = """
            import errno, os, stat, sys
            f = sys.argv[1]
            fd = os.open(f, os.O_RDONLY)
            for name, mode in [('0755', 0o755), ('0600', 0o600), ('u+s', 0o4755), ('g+s', 0o2755), ('ug+s', 0o6755)]:
                for call, fn in [('chmod', lambda: os.chmod(f, mode)), ('fchmod', lambda: os.fchmod(fd, mode))]:
                    try:
                        fn(); print(call, name, 'ok', oct(stat.S_IMODE(os.stat(f).st_mode)))
                    except OSError as e:
                        print(call, name, errno.errorcode[e.errno], oct(stat.S_IMODE(os.stat(f).st_mode)))
            """
        let r = sandboxed(["/usr/bin/python3", "-c", probe, file], writable: [])
        XCTAssertEqual(r.status, 0, "killed or failed: \(r.stderr)")
        XCTAssertEqual(
            r.stdout,
            """
            chmod 0755 ok 0o755
            fchmod 0755 ok 0o755
            chmod 0600 ok 0o600
            fchmod 0600 ok 0o600
            chmod u+s EPERM 0o600
            fchmod u+s EPERM 0o600
            chmod g+s EPERM 0o600
            fchmod g+s EPERM 0o600
            chmod ug+s EPERM 0o600
            fchmod ug+s EPERM 0o600

            """)
    }

    /// Creating a file with set-id bits (openat O_CREAT / O_TMPFILE, mknodat S_IFREG) is refused
    /// as chmod is: the kernel would keep the bits as given.
    func testCreatingFilesWithSetIDModesFailsWithEPERMPlainCreateWorks() throws {
        let dir = "\(outside!)/\(tag!).create"
        XCTAssertEqual(Shell.sh("install -d -o \(uid) -g \(gid) -m 0700 \(dir)").status, 0)
        let probe = """
            import errno, os, stat, sys
            d = sys.argv[1]
            def attempt(name, fn, path):
                try:
                    fn(); print(name, 'ok', oct(stat.S_IMODE(os.stat(path).st_mode)))
                except OSError as e:
                    print(name, errno.errorcode[e.errno])
            for name, mode in [('0755', 0o755), ('u+s', 0o4755), ('g+s', 0o2755)]:
                p = os.path.join(d, 'open-' + name)
                attempt('open ' + name, lambda: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)), p)
                q = os.path.join(d, 'mknod-' + name)
                attempt('mknod ' + name, lambda: os.mknod(q, stat.S_IFREG | mode), q)
            t = os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o600); os.close(t); print('tmpfile 0600 ok')
            try:
                os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o4755); print('tmpfile u+s ok')
            except OSError as e:
                print('tmpfile u+s', errno.errorcode[e.errno])
            """
        let r = sandboxed(["/usr/bin/python3", "-c", probe, dir], writable: [dir])
        XCTAssertEqual(r.status, 0, "killed or failed: \(r.stderr)")
        XCTAssertEqual(
            r.stdout,
            """
            open 0755 ok 0o755
            mknod 0755 ok 0o755
            open u+s EPERM
            mknod u+s EPERM
            open g+s EPERM
            mknod g+s EPERM
            tmpfile 0600 ok
            tmpfile u+s EPERM

            """)
    }

    // MARK: (b) a real BACKUP with Landlock on

    /// A stand-in for borg (BORG_BINARY): probes writes in the running sandbox, reports them on
    /// stderr (BACKUP logs them as `[borg create] ...`), then execs the real borg in the same
    /// process, so what it saw is what borg gets.
    func installBorgProbe(_ f: ClientFixture) -> String {
        let path = "\(f.root)/borg-probe"
        let script = """
            #!/usr/bin/python3
            import errno, os, sys
            for d in ('/tmp', '/dev/shm', '/var/tmp', '\(f.state)/borg'):
                n = os.path.join(d, '\(tag!)-' + sys.argv[1])
                try:
                    os.close(os.open(n, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)); os.unlink(n)
                    print('bp-probe: allowed', d, file=sys.stderr)
                except OSError as e:
                    print('bp-probe: denied', d, errno.errorcode[e.errno], file=sys.stderr)
            os.execv('/usr/bin/borg', ['/usr/bin/borg'] + sys.argv[1:])
            """
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(script.utf8)))
        chmod(path, 0o755)
        return path
    }

    func testBackupSucceedsWithLandlockAndBorgMayWriteOnlyBeneathItsBaseDirectory() throws {
        let abi = try requireLandlock()
        let f = try ClientFixture()
        try f.startServer()
        f.writeEnv("BORG_BINARY=\(installBorgProbe(f))\n")
        try f.initRepository()
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(f.archives().count, 1)
        for step in ["create", "prune"] {
            XCTAssertTrue(
                r.stderr.contains("[borg \(step)] borgpull: landlock ABI \(abi): writes only beneath \(f.state)/borg; /dev/null"), "\(step): \(r.stderr)")
            for d in ["/tmp", "/dev/shm", "/var/tmp"] {
                XCTAssertTrue(r.stderr.contains("[borg \(step)] bp-probe: denied \(d) EACCES"), "\(step), \(d): \(r.stderr)")
            }
            XCTAssertTrue(r.stderr.contains("[borg \(step)] bp-probe: allowed \(f.state)/borg"), "\(step): \(r.stderr)")
        }
        XCTAssertEqual(f.step("create")?["status"] as? String, "ok")
        XCTAssertFalse(r.stderr.contains("no Landlock"), "no Landlock warning on this kernel: \(r.stderr)")
    }

    func testBackupOnAKernelWithoutLandlockWarnsUnderAutoAndRefusesUnderRequired() throws {
        let f = try ClientFixture()
        try f.startServer()
        f.installHooks()
        f.writeEnv("BORG_BINARY=\(installBorgProbe(f))\n")
        try f.initRepository()
        let client = [Shell.product("borgpull-client"), "-c", f.conf, "BACKUP"]
        var r = Shell.run(Self.withoutLandlock + client, env: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: \(f.conf)/borg_env: the kernel has no Landlock"), r.stderr)
        XCTAssertTrue(r.stderr.contains("[borg create] bp-probe: allowed /tmp"), "auto runs without the layer: \(r.stderr)")
        f.clearMarkers()
        f.writeEnv("BORG_BINARY=\(installBorgProbe(f))\nLANDLOCK=required\n")
        r = Shell.run(Self.withoutLandlock + client, env: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(f.conf)/borg_env:10: the kernel has no Landlock and LANDLOCK=required"), r.stderr)
        XCTAssertFalse(f.ran("pre"), "refused before the pre hook")
        XCTAssertFalse(r.stderr.contains("bp-probe"), "borg never ran: \(r.stderr)")
    }

    /// A client with one archive (BACKUP through the fixture's tunnel); the archive's name.
    func fixtureWithArchive() throws -> (ClientFixture, String) {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        XCTAssertEqual(f.client(["BACKUP"]).status, 0)
        return (f, try XCTUnwrap(f.archives().first))
    }

    /// `borgpull-client -c CONF borg ARGS...` started in `dir`, as an admin standing there would.
    func borgIn(_ dir: String, _ f: ClientFixture, _ args: [String]) -> Shell.Output {
        Shell.run(
            ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir, Shell.product("borgpull-client"), "-c", f.conf, "borg"] + args,
            env: ["PATH": "/usr/bin:/bin"])
    }

    /// `borg extract` through the passthrough runs nothing: it names the equivalent restore
    /// and exits with the usage status; `extract --stdout` (writes nothing here) still runs.
    func testBorgPassthroughExtractPointsToRestoreAndWritesNothing() throws {
        let (f, archive) = try fixtureWithArchive()
        let here = "\(f.root)/here"
        XCTAssertEqual(Shell.sh("install -d -m 0700 \(here)").status, 0)
        let path = String(f.data.dropFirst()) + "/hello.txt"
        let r = borgIn(here, f, ["extract", "--dry-run", "::\(archive)", path])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("use: borgpull-client -c \(f.conf) restore --archive \(archive) --to \(here) --dry-run \(path)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("landlock ABI"), "borg did not start: \(r.stderr)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: here), [], "nothing written")
        let cat = borgIn(here, f, ["extract", "--stdout", "::\(archive)", path])
        XCTAssertEqual(cat.status, 0, cat.stderr)
        XCTAssertEqual(cat.stdout, "hello\n")
        let key = borgIn(here, f, ["key", "export", "::", "k.txt"])
        XCTAssertEqual(key.status, 64, key.stderr)
        XCTAssertTrue(key.stderr.contains("key-export \(here)/k.txt"), key.stderr)
    }

    /// Only commands that write into the current directory get it, and never one holding a
    /// directory others write (run from /var, Landlock would have allowed /var/tmp).
    func testBorgPassthroughNeverOpensASharedDirectoryForWrites() throws {
        let abi = try requireLandlock()
        let (f, archive) = try fixtureWithArchive()
        let here = "\(f.root)/here"
        XCTAssertEqual(Shell.sh("install -d -m 0700 \(here)").status, 0)
        let list = borgIn(here, f, ["list", "--short"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stderr.contains("borgpull: landlock ABI \(abi): writes only beneath \(f.state)/borg; /dev/null"), list.stderr)
        let name = "bp-\(UUID().uuidString.prefix(8)).tar"
        let fromVar = borgIn("/var", f, ["export-tar", "::\(archive)", name])
        XCTAssertEqual(fromVar.status, 12, fromVar.stderr)
        XCTAssertTrue(fromVar.stderr.contains("writable by others or sticky"), fromVar.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/var/\(name)"), "nothing was written into /var")
        // export-tar writes as the runner into the current directory, which Landlock then opens.
        let tarDir = "\(f.root)/tar"
        XCTAssertEqual(Shell.sh("install -d -o \(ClientFixture.runnerUser) -m 0700 \(tarDir)").status, 0)
        let tar = borgIn(tarDir, f, ["export-tar", "::\(archive)", "out.tar"])
        XCTAssertEqual(tar.status, 0, tar.stderr)
        XCTAssertTrue(tar.stderr.contains("borgpull: landlock ABI \(abi): writes only beneath \(f.state)/borg, \(tarDir); /dev/null"), tar.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(tarDir)/out.tar"))
    }

    // MARK: (e) borgpull-check

    func landlockFinding(_ f: ClientFixture, prefix: [String] = []) throws -> [String: String] {
        let r = Shell.run(prefix + [Shell.product("borgpull-check"), "-c", f.conf, "--json"], env: ["PATH": "/usr/bin:/bin"])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
        let findings = try XCTUnwrap(obj["findings"] as? [[String: String]])
        let mine = findings.filter { $0["check"] == "sandbox.landlock" }
        XCTAssertEqual(mine.count, 1, "\(mine)")
        return try XCTUnwrap(mine.first)
    }

    func testCheckReportsTheABIAndWarnsOrFailsWithoutLandlock() throws {
        let abi = try requireLandlock()
        let f = try ClientFixture()
        var x = try landlockFinding(f)
        XCTAssertEqual(x["severity"], "OK")
        XCTAssertTrue(x["actual"]?.hasPrefix("ABI \(abi), handles WRITE_FILE|") ?? false, "\(x)")
        XCTAssertEqual(x["location"], "\(f.conf)/borg_env")
        x = try landlockFinding(f, prefix: Self.withoutLandlock)
        XCTAssertEqual(x["severity"], "WARN")
        XCTAssertTrue(x["fix"]?.contains("lsm=") ?? false, "\(x)")
        f.writeEnv("LANDLOCK=required\n")
        x = try landlockFinding(f)
        XCTAssertEqual(x["severity"], "OK")
        XCTAssertEqual(x["location"], "\(f.conf)/borg_env:9")
        x = try landlockFinding(f, prefix: Self.withoutLandlock)
        XCTAssertEqual(x["severity"], "FAIL")
        XCTAssertTrue(x["fix"]?.contains("LANDLOCK=auto") ?? false, "\(x)")
    }
}
