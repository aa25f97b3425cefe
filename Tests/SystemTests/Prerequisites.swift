import Foundation
import XCTest

/// System tests need root, the real kernel, borg, socat (and later sshd, systemd). Locally a
/// missing prerequisite skips the test; with BORGPULL_REQUIRE_SYSTEM_TESTS=1 (set by .ci/run)
/// it fails instead, so CI can never pass by skipping.
enum Prerequisites {
    static var required: Bool { ProcessInfo.processInfo.environment["BORGPULL_REQUIRE_SYSTEM_TESTS"] == "1" }

    static func unmet(_ why: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if required {
            XCTFail("prerequisite missing (BORGPULL_REQUIRE_SYSTEM_TESTS=1): \(why)", file: file, line: line)
            throw PrerequisiteMissing(description: why)  // an error, not a skip
        }
        throw XCTSkip(why)
    }

    static func requireRoot(file: StaticString = #filePath, line: UInt = #line) throws {
        if getuid() != 0 { try unmet("needs root", file: file, line: line) }
    }

    static func requireTools(_ tools: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        for t in tools where Shell.which(t) == nil { try unmet("needs \(t) on PATH", file: file, line: line) }
    }
}

struct PrerequisiteMissing: Error, CustomStringConvertible {
    var description: String
}

/// Skips, or with BORGPULL_REQUIRE_SYSTEM_TESTS=1 fails, when `ok` is false.
func requirePrerequisite(_ ok: Bool, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    if !ok { try Prerequisites.unmet(what, file: file, line: line) }
}

/// Requires uid 0.
func requireRoot(file: StaticString = #filePath, line: UInt = #line) throws {
    try Prerequisites.requireRoot(file: file, line: line)
}

/// Requires an executable file at `path`.
func requireExecutable(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try requirePrerequisite(FileManager.default.isExecutableFile(atPath: path), "\(path) not installed", file: file, line: line)
}

/// Runs commands for tests (not for the product: the product spawns through BorgPullSystem).
enum Shell {
    struct Output { var status: Int32; var stdout: String; var stderr: String }

    @discardableResult
    static func run(_ argv: [String], env: [String: String]? = nil, stdin: String? = nil) -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : (which(argv[0]) ?? argv[0]))
        p.arguments = Array(argv.dropFirst())
        if let env { p.environment = env }
        // Temporary files, not pipes: no deadlock when a child writes a lot to both.
        let base = NSTemporaryDirectory() + "bp-shell-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: base + ".out"); try? FileManager.default.removeItem(atPath: base + ".err") }
        guard let out = FileHandle(forWritingAtPath: base + ".out"), let err = FileHandle(forWritingAtPath: base + ".err") else {
            return Output(status: 127, stdout: "", stderr: "cannot create temporary files")
        }
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        do { try p.run() } catch { return Output(status: 127, stdout: "", stderr: "\(error)") }
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)); try? inPipe.fileHandleForWriting.close() }
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        let o = FileManager.default.contents(atPath: base + ".out") ?? Data()
        let e = FileManager.default.contents(atPath: base + ".err") ?? Data()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    @discardableResult
    static func sh(_ script: String) -> Output { run(["/bin/sh", "-c", script]) }

    static func which(_ tool: String) -> String? {
        for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The directory of the built products (the test bundle sits beside the executables).
    static var binDirectory: String {
        var url = Bundle.main.bundleURL
        if url.pathExtension != "xctest" { url = URL(fileURLWithPath: CommandLine.arguments[0]) }
        while url.path != "/" && url.pathExtension != "xctest" { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().path
    }

    static func product(_ name: String) -> String { "\(binDirectory)/\(name)" }

    /// Ensures a system user exists (with a real shell and a usable, key-only account).
    static func ensureUser(_ name: String) {
        if run(["id", "-u", name]).status != 0 {
            run(["useradd", "-r", "-m", "-s", "/bin/bash", name])
            run(["usermod", "-p", "*", name])
        }
    }

    static func uid(_ name: String) -> UInt32 { UInt32(run(["id", "-u", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
}

/// Root-owned copies of files of this checkout that the product only trusts when they and every
/// directory above them are root's and closed to group and other writes (the seccomp policy):
/// a checkout under /tmp (1777) or a user's home would be refused, rightly. One directory per
/// test process, so two test runs on one machine never share or remove each other's copies.
enum Staged {
    static let directory = "/var/lib/borgpull-test/staged-\(getpid())"

    /// The staged copy of `relativePath` (for example `policy/seccomp/borg.policy`), mode 0644.
    static func file(_ relativePath: String) -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(relativePath).path
        let target = "\(directory)/\(relativePath)"
        // Copies of test processes that are gone are removed; live ones are left alone.
        Shell.sh(
            """
            mkdir -p -m 0755 /var/lib/borgpull-test && chmod 0755 /var/lib/borgpull-test
            for d in /var/lib/borgpull-test/staged-*; do
              [ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
            done
            install -D -m 0644 -o root -g root '\(source)' '\(target)'
            """)
        return target
    }
}

/// The borg the client and server system tests run, on both sides: `BORGPULL_TEST_BORG` (for
/// example the borg 1.4 virtualenv `.ci/borg-venv.sh` builds; `make test-borg14`), or Debian's
/// /usr/bin/borg. Selected in the product the documented way, with BORG_BINARY in borg_env and
/// in the server config.
enum TestBorg {
    static let binary = ProcessInfo.processInfo.environment["BORGPULL_TEST_BORG"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/bin/borg"
    static var isDefault: Bool { binary == "/usr/bin/borg" }
    /// The borg_env line selecting it (none for the default, so configs stay as users write them).
    static var envLine: String { isDefault ? "" : "BORG_BINARY=\(binary)" }
    /// Whether `argv` is a running `borg create --json`. borg is a Python script: its argv
    /// starts with the interpreter, which tells it from the sandbox-exec that execs it.
    static func isCreate(_ argv: [String]) -> Bool {
        argv.count >= 4 && argv[0].hasSuffix("/python3") && Array(argv[1...3]) == [binary, "create", "--json"]
    }
}
