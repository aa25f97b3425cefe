// System tests of the borg sandbox on the real kernel, as root: the built
// `borgpull-client sandbox-exec` with policy/seccomp/borg.policy and a test runner user.

import BorgPullCore
import BorgPullSystem
import Foundation
import XCTest

struct RunResult {
    var status: Int32
    /// True when the process was killed by a signal (`status` is then the signal number).
    var signaled: Bool
    var stdout: String
    var stderr: String
    var summary: String { "status \(status) signaled \(signaled)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

final class SandboxSystemTests: XCTestCase {
    static let runnerName = "borgpull-test-runner"
    var root: URL!  // per-test scratch dir, root-owned 0755
    var policyPath: String!  // a root-owned 0644 copy of policy/seccomp/borg.policy
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var client: String!

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The built client: $BORGPULL_CLIENT, else next to the test bundle (.build/<config>/).
    static func clientPath() -> String {
        if let p = ProcessInfo.processInfo.environment["BORGPULL_CLIENT"] { return p }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("borgpull-client").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/borgpull-client").path
    }

    override func setUpWithError() throws {
        try requireRoot()
        try requireExecutable(TestBorg.binary)
        try requireExecutable("/usr/bin/python3")
        client = Self.clientPath()
        try requirePrerequisite(FileManager.default.isExecutableFile(atPath: client), "built borgpull-client at \(client!) (run swift build)")
        try ensureRunner()
        // Below a root-owned directory closed to others (not /tmp): the policy files are opened
        // the safe_path way, every directory above them judged.
        Shell.sh("mkdir -p -m 0755 /var/lib/borgpull-test && chmod 0755 /var/lib/borgpull-test")
        root = URL(fileURLWithPath: "/var/lib/borgpull-test").appendingPathComponent("systest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try chownMod(root.path, uid: 0, gid: 0, mode: 0o755)
        let text = try String(contentsOf: Self.packageRoot.appendingPathComponent("policy/seccomp/borg.policy"), encoding: .utf8)
        policyPath = root.appendingPathComponent("borg.policy").path
        try text.write(toFile: policyPath, atomically: false, encoding: .utf8)
        try chownMod(policyPath, uid: 0, gid: 0, mode: 0o644)
        // The runner's own directory: repository, BORG_BASE_DIR, restores.
        try mkdir("runner", uid: uid, gid: gid, mode: 0o700)
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    // MARK: helpers

    func ensureRunner() throws {
        if run(["/usr/bin/id", "-u", Self.runnerName]).status != 0 {
            let r = run(["/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", Self.runnerName])
            try requirePrerequisite(r.status == 0, "cannot create user \(Self.runnerName): \(r.stderr)")
        }
        uid = UInt32(run(["/usr/bin/id", "-u", Self.runnerName]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        gid = UInt32(run(["/usr/bin/id", "-g", Self.runnerName]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        XCTAssertNotEqual(uid, 0)
        XCTAssertNotEqual(gid, 0)
    }

    func chownMod(_ path: String, uid: UInt32, gid: UInt32, mode: mode_t) throws {
        XCTAssertEqual(chown(path, uid, gid), 0, "chown \(path)")
        XCTAssertEqual(chmod(path, mode), 0, "chmod \(path)")
    }

    @discardableResult
    func mkdir(_ name: String, uid: UInt32 = 0, gid: UInt32 = 0, mode: mode_t = 0o755) throws -> String {
        let path = root.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try chownMod(path, uid: uid, gid: gid, mode: mode)
        return path
    }

    /// Runs a program, output to files (no pipe deadlocks), and waits.
    func run(
        _ argv: [String], environment: [String: String]? = nil, cwd: String? = nil,
        stdin: FileHandle? = nil, onStart: ((Process) -> Void)? = nil
    ) -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        if let environment { p.environment = environment }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("bp-out-\(UUID().uuidString)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("bp-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
            return RunResult(status: -1, signaled: false, stdout: "", stderr: "cannot create output files")
        }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = stdin ?? FileHandle.nullDevice
        do { try p.run() } catch {
            return RunResult(status: -1, signaled: false, stdout: "", stderr: "cannot start \(argv[0]): \(error)")
        }
        onStart?(p)
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        return RunResult(
            status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    var borgEnvironment: [String: String] {
        let base = root.appendingPathComponent("runner/base").path
        // TMPDIR as BorgCommands sets it: beneath a writable directory (Landlock keeps /tmp read-only).
        return [
            "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": base, "BORG_BASE_DIR": base, "TMPDIR": runnerDirectory,
            "BORG_HOST_ID": "systest@1", "BORG_PASSPHRASE": "systest-passphrase",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"
        ]
    }

    /// The runner's own directory (repository, BORG_BASE_DIR, restores): the one it may write beneath.
    var runnerDirectory: String { root.appendingPathComponent("runner").path }

    /// Runs `argv` inside the sandbox as the test runner; it may write beneath `writable`
    /// (default: the runner's directory).
    func sandboxed(
        _ argv: [String], policy: String? = nil, runnerUID: UInt32? = nil, runnerGID: UInt32? = nil,
        groups: [UInt32] = [], writable: [String]? = nil, landlock: String? = nil,
        extraEnvironment: [String: String] = [:], stdin: FileHandle? = nil,
        onStart: ((Process) -> Void)? = nil
    ) -> RunResult {
        var args = [client!, "sandbox-exec", "--runner-uid", String(runnerUID ?? uid), "--runner-gid", String(runnerGID ?? gid)]
        if !groups.isEmpty { args += ["--groups", groups.map(String.init).joined(separator: ",")] }
        if let landlock { args += ["--landlock", landlock] }
        for d in writable ?? [runnerDirectory] { args += ["--writable", d] }
        args += ["--policy", policy ?? policyPath, "--"] + argv
        return run(
            args, environment: borgEnvironment.merging(extraEnvironment) { $1 },
            cwd: root.appendingPathComponent("runner").path, stdin: stdin, onStart: onStart)
    }

    static func statusFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    func assertConfined(_ status: String, file: StaticString = #filePath, line: UInt = #line) {
        let f = Self.statusFields(status)
        let want = Capability.statusHex([.dacReadSearch])
        for key in ["Uid", "Gid"] {
            let ids = (f[key] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " })
            XCTAssertEqual(ids.count, 4, "\(key): \(f[key] ?? "missing")", file: file, line: line)
            XCTAssertFalse(ids.contains("0"), "\(key) has a 0: \(f[key] ?? "")", file: file, line: line)
        }
        XCTAssertEqual(f["Uid"]?.split(separator: "\t").first.map(String.init), String(uid), file: file, line: line)
        XCTAssertEqual(f["Groups"] ?? "missing", "", "supplementary groups must be empty", file: file, line: line)
        for key in ["CapEff", "CapPrm", "CapAmb", "CapBnd", "CapInh"] {
            XCTAssertEqual(f[key], want, key, file: file, line: line)
        }
        XCTAssertEqual(f["NoNewPrivs"], "1", file: file, line: line)
        XCTAssertEqual(f["Seccomp"], "2", file: file, line: line)
    }

    // MARK: credentials, capabilities, no_new_privs, seccomp

    func testExecdProcessStatusShowsTheFullDrop() {
        let r = sandboxed(["/usr/bin/python3", "-c", "print(open('/proc/self/status').read())"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertFalse(r.signaled, r.summary)
        assertConfined(r.stdout)
    }

    func testRunningBorgCreateIsConfined() throws {
        let repo = root.appendingPathComponent("runner/repo").path
        XCTAssertEqual(sandboxed([TestBorg.binary, "init", "-e", "repokey", repo]).status, 0)
        // borg reads the archive from a pipe we hold open, so it is still running while we look.
        let pipe = Pipe()
        var observed = ""
        let r = sandboxed(
            [TestBorg.binary, "create", "--stdin-name", "stream", "\(repo)::stdin", "-"],
            stdin: pipe.fileHandleForReading
        ) { process in
            let path = "/proc/\(process.processIdentifier)/status"
            for _ in 0..<300 {  // up to 30 s for python to start
                if let s = try? String(contentsOfFile: path, encoding: .utf8),
                    Self.statusFields(s)["Name"] == "borg", Self.statusFields(s)["Seccomp"] == "2"
                {
                    observed = s
                    break
                }
                usleep(100_000)
            }
            pipe.fileHandleForWriting.write(Data("streamed data\n".utf8))
            try? pipe.fileHandleForWriting.close()
        }
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertFalse(observed.isEmpty, "never saw a running borg process")
        assertConfined(observed)
    }

    // MARK: files

    func testRootOnlyFileIsBackedUpAndRestoresByteIdentical() throws {
        let src = try mkdir("src", mode: 0o700)
        let secret = (0..<70_000).map { _ in UInt8.random(in: 0...255) }
        let secretPath = src + "/secret.bin"
        _ = FileManager.default.createFile(atPath: secretPath, contents: Data(secret))
        try chownMod(secretPath, uid: 0, gid: 0, mode: 0o600)
        let repo = root.appendingPathComponent("runner/repo").path
        var r = sandboxed([TestBorg.binary, "init", "-e", "repokey", repo])
        XCTAssertEqual(r.status, 0, r.summary)
        r = sandboxed([TestBorg.binary, "create", "\(repo)::a1", src])
        XCTAssertEqual(r.status, 0, "borg create must not warn about unreadable files: \(r.summary)")
        let restore = try mkdir("runner/restore", uid: uid, gid: gid, mode: 0o700)
        r = run(
            [
                client, "sandbox-exec", "--runner-uid", String(uid), "--runner-gid", String(gid), "--writable", runnerDirectory,
                "--policy", policyPath, "--", TestBorg.binary, "extract", "\(repo)::a1"
            ], environment: borgEnvironment, cwd: restore)
        XCTAssertEqual(r.status, 0, r.summary)
        let restored = FileManager.default.contents(atPath: restore + secretPath)
        XCTAssertEqual(restored.map { [UInt8]($0) }, secret, "restored file differs or is missing")
    }

    func testWriteToRootOwnedPathFails() throws {
        let dir = try mkdir("rootonly", mode: 0o755)
        let target = dir + "/x"
        let probe = """
            import errno, sys
            for path in (sys.argv[1], sys.argv[2]):
                try:
                    open(path, 'a').close()
                    print('wrote', path)
                except OSError as e:
                    print('denied', errno.errorcode[e.errno], path)
            """
        _ = FileManager.default.createFile(atPath: dir + "/existing", contents: Data("keep\n".utf8))
        try chownMod(dir + "/existing", uid: 0, gid: 0, mode: 0o644)
        let r = sandboxed(["/usr/bin/python3", "-c", probe, target, dir + "/existing"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.contains("denied EACCES \(target)"), r.summary)
        XCTAssertTrue(r.stdout.contains("denied EACCES \(dir)/existing"), r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
    }

    // MARK: seccomp

    func testInetSocketFailsWithErrnoNotKill() {
        let probe = """
            import socket
            s = socket.socket(socket.AF_UNIX); s.close(); print('unix ok')
            for fam in (socket.AF_INET, socket.AF_INET6):
                try:
                    socket.socket(fam); print('created', fam)
                except OSError as e:
                    print('errno', e.errno)
            """
        let r = sandboxed(["/usr/bin/python3", "-c", probe])
        XCTAssertFalse(r.signaled, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdout, "unix ok\nerrno 97\nerrno 97\n", r.summary)  // EAFNOSUPPORT
    }

    /// x86_64 numbers; the probe prints `ready` once ctypes is loaded, then calls syscall(nr).
    static let syscallProbe = """
        import ctypes, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        nr = int(sys.argv[1])
        print('ready', flush=True)
        rc = libc.syscall(ctypes.c_long(nr), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
        print('rc', rc, 'errno', ctypes.get_errno(), flush=True)
        """

    func testProbeMechanismWorksForAnAllowedSyscall() {
        // Control: without it a probe that dies while loading ctypes would look "blocked".
        let r = sandboxed(["/usr/bin/python3", "-c", Self.syscallProbe, "39"])  // getpid
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.hasPrefix("ready\nrc "), r.summary)
        XCTAssertFalse(r.stdout.contains("rc -1"), r.summary)
    }

    func testDangerousSyscallsAreBlocked() {
        let blocked: [(String, Int)] = [
            ("ptrace", 101), ("mount", 165), ("unshare", 272), ("setns", 308),
            ("bpf", 321), ("keyctl", 250), ("open_by_handle_at", 304)
        ]
        for (name, nr) in blocked {
            let r = sandboxed(["/usr/bin/python3", "-c", Self.syscallProbe, String(nr)])
            XCTAssertTrue(r.stdout.hasPrefix("ready\n"), "\(name): probe did not get ready: \(r.summary)")
            let killedBySIGSYS = r.signaled && r.status == SIGSYS
            let failed = r.stdout.contains("rc -1 ")
            XCTAssertTrue(killedBySIGSYS || failed, "\(name) was not blocked: \(r.summary)")
            XCTAssertTrue(killedBySIGSYS, "\(name): expected kill_process (SIGSYS): \(r.summary)")
        }
    }

    func testClone3AnswersENOSYSAndNamespaceCloneIsKilled() {
        var r = sandboxed(["/usr/bin/python3", "-c", Self.syscallProbe, "435"])  // clone3(NULL, 0)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.contains("rc -1 errno 38"), r.summary)
        // clone(CLONE_NEWUSER): arg0 = 0x10000000
        let probe = Self.syscallProbe.replacingOccurrences(
            of: "ctypes.c_long(nr), ctypes.c_long(0)",
            with: "ctypes.c_long(nr), ctypes.c_long(0x10000000)")
        r = sandboxed(["/usr/bin/python3", "-c", probe, "56"])
        XCTAssertTrue(r.stdout.hasPrefix("ready\n"), r.summary)
        XCTAssertTrue(r.signaled && r.status == SIGSYS, r.summary)
    }

    func testSwiftClientBinaryStartsUnderThePolicy() {
        // Stand-in for the built-in relay (the same binary): the Swift runtime, libcap's
        // constructor (prctl PR_CAPBSET_READ) and ArgumentParser must survive the filter.
        let r = sandboxed([client, "sandbox-exec", "--help"])
        XCTAssertFalse(r.signaled, r.summary)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.contains("--runner-uid"), r.summary)
    }

    // MARK: borg under the sandbox

    func testBorgCommandsSucceed() throws {
        let src = try mkdir("src2", mode: 0o755)
        _ = FileManager.default.createFile(atPath: src + "/a.txt", contents: Data(repeating: 65, count: 100_000))
        let repo = root.appendingPathComponent("runner/repo").path
        var r = sandboxed([TestBorg.binary, "--version"])
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertTrue(r.stdout.hasPrefix("borg "), r.summary)
        // Also without BORG_HOST_ID: borg then resolves the host name (AF_INET answered with an errno).
        r = run(
            [
                client, "sandbox-exec", "--runner-uid", String(uid), "--runner-gid", String(gid), "--policy", policyPath,
                "--", TestBorg.binary, "--version"
            ], environment: borgEnvironment.filter { $0.key != "BORG_HOST_ID" },
            cwd: root.appendingPathComponent("runner").path)
        XCTAssertEqual(r.status, 0, r.summary)
        for args in [
            ["init", "-e", "repokey", repo],
            ["create", "\(repo)::host-1", src],
            ["create", "\(repo)::host-2", src],
            ["list", repo],
            ["info", "\(repo)::host-1"],
            ["prune", "--keep-last", "1", "--glob-archives", "host-*", repo],
            ["check", repo],
            ["compact", repo]
        ] {
            r = sandboxed([TestBorg.binary] + args)
            XCTAssertEqual(r.status, 0, "borg \(args.joined(separator: " ")): \(r.summary)")
            XCTAssertFalse(r.signaled, r.summary)
        }
        r = sandboxed([TestBorg.binary, "list", "--short", repo])
        XCTAssertEqual(r.stdout, "host-2\n", r.summary)
    }

    // MARK: policy file trust

    func testUntrustedPolicyFilesAreRefused() throws {
        let groupWritable = root.appendingPathComponent("gw.policy").path
        let runnerOwned = root.appendingPathComponent("ro.policy").path
        for p in [groupWritable, runnerOwned] {
            try FileManager.default.copyItem(atPath: policyPath, toPath: p)
        }
        try chownMod(groupWritable, uid: 0, gid: 0, mode: 0o664)
        try chownMod(runnerOwned, uid: uid, gid: gid, mode: 0o644)
        XCTAssertNoThrow(try SeccompPolicyFile.checkTrusted(path: policyPath))
        for p in [groupWritable, runnerOwned] {
            XCTAssertThrowsError(try SeccompPolicyFile.checkTrusted(path: p)) { error in
                XCTAssertTrue("\(error)".contains("chown root:root \(p); chmod go-w \(p)"), "\(error)")
            }
            let marker = root.appendingPathComponent("runner/ran").path
            let r = sandboxed(["/usr/bin/touch", marker], policy: p)
            XCTAssertEqual(r.status, SandboxStep.policy.exitStatus, r.summary)
            XCTAssertTrue(r.stderr.contains("borgpull: sandbox step policy failed: policy file \(p)"), r.summary)
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        }
        let link = root.appendingPathComponent("link.policy").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: policyPath)
        XCTAssertThrowsError(try SeccompPolicyFile.checkTrusted(path: link))
    }

    func testBadPolicyFailsWithFileAndLine() throws {
        let bad = root.appendingPathComponent("bad.policy").path
        try "default kill_process\nread\nwrite\nnot_a_syscall_at_all\n".write(toFile: bad, atomically: false, encoding: .utf8)
        try chownMod(bad, uid: 0, gid: 0, mode: 0o644)
        let r = sandboxed(["/bin/true"], policy: bad)
        XCTAssertEqual(r.status, SandboxStep.policy.exitStatus, r.summary)
        XCTAssertTrue(r.stderr.contains("\(bad):4: unknown syscall `not_a_syscall_at_all`"), r.summary)
    }

    // MARK: each failure path fails closed

    func testNonexistentRunnerFailsClosed() {
        let marker = root.appendingPathComponent("ran").path
        var r = sandboxed(["/usr/bin/touch", marker], runnerUID: 3_999_999)
        XCTAssertEqual(r.status, SandboxStep.runner.exitStatus, r.summary)
        XCTAssertTrue(r.stderr.contains("borgpull: sandbox step runner failed: no user with uid 3999999"), r.summary)
        r = sandboxed(["/usr/bin/touch", marker], runnerGID: 3_999_999)
        XCTAssertEqual(r.status, SandboxStep.runner.exitStatus, r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testRootRunnerIsRefused() {
        let r = sandboxed(["/bin/true"], runnerUID: 0)
        XCTAssertEqual(r.status, SandboxStep.arguments.exitStatus, r.summary)
        XCTAssertTrue(r.stderr.contains("sandbox step arguments failed"), r.summary)
    }

    func testSetgroupsFailsClosedWithoutPrivilege() throws {
        // Started as nobody, the first privileged step (setgroups) must fail and stop everything.
        try requireExecutable("/usr/bin/setpriv")
        // An open directory of its own (not root: the policy's directories stay closed) so a
        // successful touch would show.
        _ = try mkdir("open", uid: 0, gid: 0, mode: 0o777)
        let marker = root.appendingPathComponent("open/ran-nobody").path
        let r = run(
            [
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", client, "sandbox-exec", "--runner-uid", String(uid), "--runner-gid", String(gid),
                "--policy", policyPath, "--", "/usr/bin/touch", marker
            ], environment: borgEnvironment)
        XCTAssertEqual(r.status, SandboxStep.setgroups.exitStatus, r.summary)
        XCTAssertTrue(r.stderr.contains("borgpull: sandbox step setgroups failed: Operation not permitted"), r.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testExecveFailureIsReportedAfterTheDrop() {
        let r = sandboxed(["/nonexistent/borg", "--version"])
        XCTAssertEqual(r.status, SandboxStep.execve.exitStatus, r.summary)
        XCTAssertTrue(r.stderr.contains("sandbox step execve failed: No such file or directory"), r.summary)
    }

    func testStatusFDReportsTheStepOrEOF() throws {
        let statusFile = root.appendingPathComponent("status").path
        func runWithStatusFD(_ runnerUID: UInt32) -> (RunResult, [UInt8]) {
            try? FileManager.default.removeItem(atPath: statusFile)
            let script = "exec 3>\"$1\"; shift; exec \"$@\""
            let r = run(
                [
                    "/bin/bash", "-c", script, "bash", statusFile, client, "sandbox-exec", "--runner-uid", String(runnerUID),
                    "--runner-gid", String(gid), "--policy", policyPath, "--status-fd", "3", "--", "/usr/bin/python3",
                    "-c", "import os\ntry:\n os.fstat(3); print('fd3 open')\nexcept OSError: print('fd3 closed')"
                ],
                environment: borgEnvironment, cwd: root.appendingPathComponent("runner").path)
            return (r, [UInt8](FileManager.default.contents(atPath: statusFile) ?? Data()))
        }
        var (r, bytes) = runWithStatusFD(uid)
        XCTAssertEqual(r.status, 0, r.summary)
        XCTAssertEqual(r.stdout, "fd3 closed\n", "the status fd must not leak into the sandboxed program")
        XCTAssertEqual(bytes, [])
        (r, bytes) = runWithStatusFD(3_999_999)
        XCTAssertEqual(r.status, SandboxStep.runner.exitStatus, r.summary)
        XCTAssertEqual(bytes, [UInt8(SandboxStep.runner.rawValue)])
    }
}
