import ArgumentParser
import BorgPullCore
import BorgPullSystem

/// `borgpull-server serve [-c FILE]`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Keep the forward and borg serve up (no backup) until Ctrl-C or SIGTERM.",
        discussion: """
            The same forward as BACKUP with ssh -N, for borg init, borg list, restores and manual BACKUPs on the client.
            """)

    @OptionGroup var options: ConfigFileOption

    func validate() throws { _ = try options.path(.serve) }

    func run() throws {
        throw ExitCode(ServeMode.run(configPath: try options.path(.serve)).rawValue)
    }
}

/// SERVE: keep the forward (ssh -N) and `borg serve` up until Ctrl-C/SIGTERM.
enum ServeMode {
    static func run(configPath: String) -> ServerExit {
        do {
            let c = try ServerConfigFile.load(configPath)
            for n in c.notices { report("borgpull-server: notice: \(n)", .notice) }
            let result = try ServerRun(config: c, mode: .serve).run()
            let target = "\(c.remoteUser)@\(c.remoteHost):\(c.sshPort)"
            if result.interrupted {
                report("borgpull-server: SERVE ended (signal); ssh, socat and borg serve stopped, \(c.socketPath) removed")
                return .ok
            }
            if result.socatDied {
                report("borgpull-server: serve-failed: socat (borg serve) ended; see its message above", .error)
                return .serveFailed
            }
            if result.sshExit == 255 || result.sshSignal != nil {
                let o = ServerOutcome.connectFailure(config: c, stderrTail: result.stderrTail, target: target)
                report(o.summary, o.exit.priority)
                return o.exit
            }
            report("borgpull-server: SERVE ended: ssh to \(target) exited with status \(result.sshExit ?? -1)")
            return .ok
        } catch {
            report("borgpull-server: \(error.exit.name) (exit \(error.exit.rawValue)): \(error.message)", error.exit.priority)
            return error.exit
        }
    }
}
