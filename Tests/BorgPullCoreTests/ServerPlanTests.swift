import XCTest

@testable import BorgPullCore

final class ServerPlanTests: XCTestCase {
    func config(_ extra: String = "") throws -> ServerConfig {
        try ServerConfig.parse(
            """
            LOCAL_USER=borg
            REMOTE_USER=borgpull
            REMOTE_HOST=client.example.org
            REPO_NAME=clienta
            REPO_DIR=/srv/borg/clienta
            REMOTE_SOCKET_PATH=/run/borg/c.socket
            SSH_PORT=2222
            SSH_IDENTITY=/var/lib/borg/.ssh/id_ed25519
            SSH_KNOWN_HOSTS=/var/lib/borg/.ssh/known_hosts
            CONNECT_TIMEOUT=7
            \(extra)
            """, file: "c.conf")
    }

    func testSocatArgv() throws {
        XCTAssertEqual(
            ServerPlan.socatArguments(try config()),
            [
                "UNIX-LISTEN:/run/borg/clienta.socket,fork,mode=0600,max-children=4",
                "EXEC:/usr/bin/borg serve --append-only --restrict-to-repository /srv/borg/clienta,nofork"
            ])
        let c = try config("APPEND_ONLY=no\nBORG_SERVE_OPTIONS='--umask=077 --storage-quota=5G'")
        XCTAssertEqual(
            ServerPlan.socatArguments(c)[1],
            "EXEC:/usr/bin/borg serve --restrict-to-repository /srv/borg/clienta --umask=077 --storage-quota=5G,nofork")
    }

    func testSshArgvPutsClientPathFirst() throws {
        let a = ServerPlan.sshArguments(try config(), mode: .backup)
        let r = a.firstIndex(of: "-R")!
        XCTAssertEqual(a[r + 1], "/run/borg/c.socket:/run/borg/clienta.socket")
        XCTAssertEqual(a.last, "borgpull@client.example.org")
        XCTAssertFalse(a.contains("-N"))
        for o in [
            "BatchMode=yes", "ExitOnForwardFailure=yes", "StrictHostKeyChecking=yes", "ConnectTimeout=7",
            "ServerAliveInterval=15", "ServerAliveCountMax=4", "UserKnownHostsFile=/var/lib/borg/.ssh/known_hosts",
            "IdentitiesOnly=yes"
        ] {
            XCTAssertTrue(a.contains(o), o)
        }
        XCTAssertEqual(a.first, "-T")
        XCTAssertEqual(a[a.firstIndex(of: "-p")! + 1], "2222")
        XCTAssertEqual(a[a.firstIndex(of: "-i")! + 1], "/var/lib/borg/.ssh/id_ed25519")
        let s = ServerPlan.sshArguments(try config(), mode: .serve)
        XCTAssertEqual(s[s.count - 2], "-N")
        XCTAssertTrue(s.contains("Compression=no"))
        XCTAssertTrue(s.contains { $0.hasPrefix("Ciphers=aes128-gcm@openssh.com,") })
    }

    func report(_ code: Int32, steps: [ClientReport.Step] = [], warnings: [String] = []) -> ClientReport {
        ClientReport(
            version: 1, host: "clienta", started: nil, finished: nil,
            status: .init(code: code, name: ServerOutcome.clientStatusName(code), message: "m"),
            archive: "clienta-2026", steps: steps, stats: nil, warnings: warnings)
    }

    func outcome(
        _ c: ServerConfig, ssh: Int32?, report: ClientReport? = nil, stderr: String = "",
        interrupted: Bool = false, timedOut: Bool = false
    ) -> ServerOutcome {
        ServerOutcome.backup(config: c, sshExit: ssh, report: report, stderrTail: stderr, interrupted: interrupted, timedOut: timedOut)
    }

    func testOutcomeMapping() throws {
        let c = try config()
        XCTAssertEqual(outcome(c, ssh: 0, report: report(0)).exit, .ok)
        XCTAssertEqual(outcome(c, ssh: 1, report: report(1, warnings: ["w"])).exit, .warning)
        let pre = outcome(
            c, ssh: 3,
            report: report(
                3,
                steps: [
                    .init(name: "pre-hook", status: "failed", rc: 3, message: "exit 3", seconds: 0),
                    .init(name: "create", status: "skipped", rc: nil, message: "", seconds: 0)
                ]))
        XCTAssertEqual(pre.exit, .clientFailed)
        XCTAssertTrue(pre.message.contains("failed step: pre-hook failed"), pre.message)
        XCTAssertTrue(pre.summary.contains("pre-hook"), pre.summary)
        XCTAssertEqual(outcome(c, ssh: 11, report: report(11)).exit, .locked)
        XCTAssertEqual(outcome(c, ssh: 12).exit, .clientFailed)
        // No record: 0/1 are not trusted (sudo and systemctl use 1 for their own failures).
        XCTAssertEqual(outcome(c, ssh: 1).exit, .noResult)
        XCTAssertEqual(outcome(c, ssh: nil).exit, .noResult)
        XCTAssertEqual(outcome(c, ssh: nil, interrupted: true).exit, .interrupted)
        XCTAssertEqual(outcome(c, ssh: nil, timedOut: true).exit, .timeout)
    }

    func testInconsistentRecordIsNotBelieved() throws {
        let c = try config()
        // A record saying ok while the trigger exited 2, or ok with a failed step: a failure.
        XCTAssertEqual(outcome(c, ssh: 2, report: report(0)).exit, .clientFailed)
        let failedStep = ClientReport.Step(name: "create", status: "failed", message: "boom", seconds: nil)
        XCTAssertEqual(outcome(c, ssh: 0, report: report(0, steps: [failedStep])).exit, .clientFailed)
        XCTAssertEqual(outcome(c, ssh: 0, report: report(0)).exit, .ok)
        // Nothing from the client can drive the admin's terminal.
        let hostile = outcome(c, ssh: 1, report: report(1, warnings: ["evil\u{1b}]0;PWNED\u{7}\nborgpull-server: ok (exit 0): FAKE"]))
        XCTAssertFalse(hostile.summary.contains("\u{1b}"))
        XCTAssertFalse(hostile.summary.split(separator: "\n").contains { $0.hasPrefix("borgpull-server: ok (exit 0)") })
    }

    func testSSHFailures() throws {
        let c = try config()
        let hk = outcome(
            c, ssh: 255,
            stderr: "No ED25519 host key is known for [client.example.org]:2222 and you have requested strict checking.\nHost key verification failed.\n")
        XCTAssertEqual(hk.exit, .connectFailed)
        XCTAssertTrue(hk.message.contains("[client.example.org]:2222"), hk.message)
        XCTAssertTrue(hk.message.contains("nothing was started"), hk.message)
        XCTAssertEqual(outcome(c, ssh: 255, stderr: "ssh: connect to host x port 22: Connection refused").exit, .connectFailed)
        XCTAssertTrue(outcome(c, ssh: 255, stderr: "ssh: connect to host x port 22: Connection timed out").message.contains("CONNECT_TIMEOUT=7"))
        XCTAssertTrue(
            outcome(c, ssh: 255, stderr: "Error: remote port forwarding failed for listen path /run/borg/c.socket").message.contains("refused to bind"))
        XCTAssertTrue(outcome(c, ssh: 255, stderr: "borgpull@x: Permission denied (publickey).").message.contains("refused our key"))
        // After the trigger's marker the session was up: 255 is a lost connection.
        XCTAssertEqual(
            outcome(c, ssh: 255, stderr: "\(ServerOutcome.triggerMarker) BACKUP via sudo\nclient_loop: send disconnect: Broken pipe").exit, .noResult)
    }

    func testRecordLineSkipsShellNoise() {
        XCTAssertEqual(ServerOutcome.recordLine(in: "motd line\n{\"status\":{\"code\":0}}\n"), "{\"status\":{\"code\":0}}")
        XCTAssertNil(ServerOutcome.recordLine(in: "nothing\n"))
    }

    func testExitTableIsComplete() {
        XCTAssertEqual(ServerExit.allCases.map(\.rawValue), Array(0...11))
        XCTAssertTrue(ServerExit.table.contains("11  repository-damaged"))
        XCTAssertTrue(ServerExit.table.contains("5   locked"))
    }
}

/// The borg 2 spike's profile (README "Borg 2"): the same config, borg 2.0.0b23's dialect.
extension ServerPlanTests {
    func testServeCommandUsesRestBackendAndPermissionsForAppendOnly() throws {
        let t = self
        XCTAssertEqual(
            ServerPlan.socatArguments(try t.config(), profile: .borg2Beta)[1],
            "EXEC:/usr/bin/borg serve --rest --backend FILE\\:/srv/borg/clienta --permissions no-delete --restrict-to-repository /srv/borg/clienta,nofork")
        XCTAssertEqual(ServerPlan.serveCommand(try t.config("APPEND_ONLY=no"), profile: .borg2Beta)[5...6], ["--permissions", "all"])
        XCTAssertFalse(ServerPlan.serveCommand(try t.config(), profile: .borg2Beta).contains("--append-only"))
    }

    func testClientArgvAndRepositoryURL() throws {
        let c = try ClientConfig.build(
            ClientConfigInput(
                directory: "/etc/borgpull",
                texts: [
                    .env: "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\nARCHIVE_PREFIX=web\n", .paths: "/etc\n"
                ], hookExecutable: [:]))
        let one = BorgCommands(config: c, relayCommand: ["/r"], baseDirectory: "/b")
        let two = BorgCommands(config: c, relayCommand: ["/r"], baseDirectory: "/b", profile: .borg2Beta)
        XCTAssertEqual(one.environment(passphraseFD: nil)["BORG_REPO"], "ssh://b/srv/repo")
        XCTAssertEqual(two.environment(passphraseFD: nil)["BORG_REPO"], "rest://b/srv/repo")
        XCTAssertTrue(one.create(paths: ["/etc"]).contains("::web-{now}"))
        XCTAssertEqual(Array(two.create(paths: ["/etc"]).suffix(3)), ["web-{now}", "--", "/etc"])
        XCTAssertTrue(one.prune().contains("--glob-archives=\(c.pruneGlob)"))
        XCTAssertTrue(two.prune().contains("--match-archives=sh:\(c.pruneGlob)"))
        XCTAssertFalse(two.prune().contains { $0.hasPrefix("--glob-archives") })
    }
}
