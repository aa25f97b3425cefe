import BorgPullCore
import BorgPullSystem
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A client laid out as README's install says, inside a temporary directory, with every
/// ClientAuditOptions path pointing into it. Built under /var/lib/borgpull-check-tests (root
/// 0755 chain; /tmp and /var/tmp are world-writable and would fail the safe_path rule).
///
/// Needs root (chown, useradd, sshd -T). Without root the tests skip, unless
/// BORGPULL_REQUIRE_SYSTEM_TESTS=1, where they fail.
struct CheckFixture {
    static let base = "/var/lib/borgpull-check-tests"
    static let sshUser = "borgpull"
    static let runnerUser = "borgpull-runner"

    let root: String
    var configDir: String { "\(root)/etc/borgpull" }
    var socketDir: String { "\(root)/run/borg" }
    var sshdConfig: String { "\(root)/etc/ssh/sshd_config" }
    var keysFile: String { "\(root)/etc/ssh/authorized_keys/borg_backup/backup_server_keys" }
    var sudoersDir: String { "\(root)/etc/sudoers.d" }
    var options = ClientAuditOptions.full

    /// The package root (for units/ and policy/ when they exist in the repo).
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Skips (or fails with BORGPULL_REQUIRE_SYSTEM_TESTS=1) when not root.
    static func requireRootForCheck() throws {
        guard getuid() == 0 else {
            if ProcessInfo.processInfo.environment["BORGPULL_REQUIRE_SYSTEM_TESTS"] == "1" {
                XCTFail("borgpull-check system tests need root (BORGPULL_REQUIRE_SYSTEM_TESTS=1)")
                throw XCTSkip("not root")
            }
            throw XCTSkip("borgpull-check system tests need root")
        }
    }

    @discardableResult
    static func sh(_ script: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-ec", script]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationStatus != 0 {
            XCTFail("`\(script)` exited \(p.terminationStatus): \(text)", file: file, line: line)
            throw XCTSkip("fixture command failed")
        }
        return text
    }

    /// Creates the users if missing (ssh user with a real shell and `*` password; runner with
    /// nologin) and sshd's privilege separation directory. The ssh user's home is made what
    /// install.sh makes it (root:root 0755, nothing in it the user owns or can write), also for
    /// an account an older fixture created with `useradd -m`.
    static func ensureUsers() throws {
        try sh(
            """
            getent passwd \(sshUser) >/dev/null || useradd -r -M -d /var/lib/borgpull-home -s /bin/sh \(sshUser)
            usermod -p '*' \(sshUser)
            home=$(getent passwd \(sshUser) | cut -d: -f6)
            install -d -o root -g root -m 0755 "$home"
            find "$home" -mindepth 1 -maxdepth 2 \\( -user \(sshUser) -o -perm /022 \\) ! -type l -exec chown root:root {} + -exec chmod go-w {} +
            getent passwd \(runnerUser) >/dev/null || useradd -r -M -d /nonexistent -s /usr/sbin/nologin \(runnerUser)
            mkdir -p -m 0755 /run/sshd
            install -d -o root -g root -m 0755 \(base)
            """)
    }

    /// The sshd Match block of the install (policy/sshd/borgpull.conf once it lands).
    static func matchBlock(
        keys: String, tcp: String = "remote", unlink: String = "yes",
        forceCommand: String? = InstallLayout.packaged.forceCommand
    ) -> String {
        """
        Match User \(sshUser)
            AuthorizedKeysFile \(keys)
            AllowAgentForwarding no
            AllowTcpForwarding \(tcp)
            PermitListen none
            AllowStreamLocalForwarding remote
            StreamLocalBindUnlink \(unlink)
            StreamLocalBindMask 0117
            X11Forwarding no
            PermitTTY no
            PermitUserRC no
        \(forceCommand.map { "    ForceCommand \($0)" } ?? "")
        """
    }

    init() throws {
        try Self.requireRootForCheck()
        try Self.ensureUsers()
        var template = Array("\(Self.base)/fixture.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        root = String(cString: p)
        chmod(root, 0o755)
        let r = root
        let units =
            FileManager.default.fileExists(atPath: "\(Self.packageRoot)/units/run-borg-backup.service")
            ? "\(Self.packageRoot)/units" : ""
        try Self.sh(
            """
            cd \(r)
            install -d -m 0755 etc etc/ssh etc/ssh/authorized_keys bin lib lib/systemd lib/systemd/system policy policy/seccomp systemd run data
            install -d -m 0700 etc/borgpull
            install -d -m 0755 etc/sudoers.d etc/polkit-1 etc/polkit-1/rules.d
            install -d -o \(Self.sshUser) -g $(id -gn \(Self.sshUser)) -m 0710 run/borg
            cat > etc/borgpull/borg_env <<'EOF'
            export BORG_REPO="ssh://backupserver/srv/borg/client1"
            export BORG_PASSPHRASE='correct horse battery staple'
            BACKUP_SOCKET=\(r)/run/borg/client1.socket
            BORG_BACKUP_USER=\(Self.sshUser)
            RUNNER_USER=\(Self.runnerUser)
            SECCOMP_POLICY=\(r)/policy/seccomp/borg.policy
            KEEP_DAILY=7
            \(TestBorg.envLine)
            STATE_DIR=\(r)/state
            EOF
            chmod 0600 etc/borgpull/borg_env
            # The installed client has escrowed its key (key-export's record; key.export is OK).
            install -d -m 0711 state
            printf '%s\\n' '{"exported": "2026-01-01T00:00:00Z", "file": "/root/borg-key.txt", "format": "text", "repository": "ssh://backupserver/srv/borg/client1", "version": 1}' > state/key-export.json
            chmod 0600 state/key-export.json
            printf '%s\\n' '# paths' '\(r)/data' > etc/borgpull/borg_paths
            printf '%s\\n' 'R \(r)/data' '- sh:**/.cache' '+ re:\\.txt$' > etc/borgpull/borg_patterns
            printf '%s\\n' '*.tmp' 'sh:**/node_modules' > etc/borgpull/borg_excludes
            printf '%s\\n' '--one-file-system' > etc/borgpull/borg_options_create
            printf '#!/bin/sh\\nexit 0\\n' > etc/borgpull/borg_hook_pre
            printf '#!/bin/sh\\nexit 0\\n' > etc/borgpull/borg_hook_post
            chmod 0600 etc/borgpull/borg_paths etc/borgpull/borg_patterns etc/borgpull/borg_excludes etc/borgpull/borg_options_create
            chmod 0700 etc/borgpull/borg_hook_pre etc/borgpull/borg_hook_post
            install -m 0755 /bin/true bin/borgpull-client
            install -m 0644 \(Self.packageRoot)/policy/seccomp/borg.policy policy/seccomp/borg.policy
            chmod 0644 policy/seccomp/borg.policy
            install -d -m 0750 -g \(Self.sshUser) etc/ssh/authorized_keys/borg_backup
            ssh-keygen -q -t ed25519 -N '' -C server -f etc/ssh/server_key
            install -o root -g \(Self.sshUser) -m 0640 etc/ssh/server_key.pub \(keysFile)
            ssh-keygen -q -t ed25519 -N '' -f etc/ssh/host_key
            printf '# sudoers fixture\\nroot ALL=(ALL:ALL) ALL\\n' > etc/sudoers
            chmod 0440 etc/sudoers
            if [ -n "\(units)" ]; then
              cp \(units)/run-borg-backup.service \(units)/borg-backup-create-directory.service lib/systemd/system/
            else
              printf '[Unit]\\nDescription=fixture\\n[Service]\\nType=oneshot\\nExecStart=/usr/bin/borgpull-client -c /etc/borgpull BACKUP\\n' > lib/systemd/system/run-borg-backup.service
              printf '[Unit]\\nDescription=fixture\\n[Service]\\nType=oneshot\\nExecStart=/usr/bin/borgpull-client -c /etc/borgpull SETUP\\n' > lib/systemd/system/borg-backup-create-directory.service
            fi
            install -m 0644 lib/systemd/system/*.service systemd/
            """)
        let shippedRule = "\(Self.packageRoot)/policy/polkit/50-borgpull.rules"
        let rule = try String(contentsOfFile: shippedRule, encoding: .utf8)  // the shipped rule, not a copy
        try rule.write(toFile: "\(r)/etc/polkit-1/rules.d/50-borgpull.rules", atomically: false, encoding: .utf8)
        try writeSshd(Self.matchBlock(keys: keysFile))

        var o = ClientAuditOptions.full
        o.sshdConfig = sshdConfig
        o.sudoersFile = "\(r)/etc/sudoers"
        o.sudoersDirectory = sudoersDir
        o.polkitRulesDirectories = ["\(r)/etc/polkit-1/rules.d"]
        // The fixture root is the installation (r/bin, r/lib/systemd/system); r/systemd plays
        // /etc/systemd/system, whose copies override it.
        o.layout = InstallLayout(prefix: r)
        o.unitSearchPath = ["\(r)/systemd", "\(r)/lib/systemd/system"]
        o.checkExposure = !units.isEmpty
        // The walk for directories the ssh user can write covers the fixture, not the machine
        // (other test runs leave directories of the same user elsewhere at the same time).
        o.writableRoots = [r]
        options = o
    }

    /// Writes the sshd_config: a loopback server section plus `match`.
    func writeSshd(_ match: String) throws {
        let text = """
            Port 2222
            ListenAddress 127.0.0.1
            HostKey \(root)/etc/ssh/host_key
            PidFile \(root)/run/sshd.pid
            UsePAM no
            \(match)

            """
        try text.write(toFile: sshdConfig, atomically: false, encoding: .utf8)
        chmod(sshdConfig, 0o644)
    }

    func audit() -> ClientAuditResult { ClientAudit.run(configDir: configDir, options: options) }

    func remove() {
        if root.hasPrefix(Self.base + "/fixture.") { _ = try? Self.sh("rm -rf '\(root)'") }
    }
}

/// Describes the findings that are not OK (for failure messages).
func describe(_ fs: [Finding]) -> String {
    fs.filter { $0.severity != .ok }.map { "\($0.severity.rawValue) \($0.check) \($0.location): \($0.what) [actual: \($0.actual)]" }
        .joined(separator: "\n")
}
