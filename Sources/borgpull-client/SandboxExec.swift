// `borgpull-client sandbox-exec`: INTERNAL command, not for people. The client spawns itself
// with it (fork + exec, so no Swift code runs between fork and exec) to start every borg:
//
//   borgpull-client sandbox-exec (--runner-uid UID --runner-gid GID [--groups G1,G2] | --restore)
//       [--landlock auto|required] [--writable DIR]... --policy FILE [--status-fd FD]
//       -- /usr/bin/borg ARGS...
//
// It must be started as root with a full capability set, single-threaded, with the environment
// and file descriptors meant for borg (BORG_BASE_DIR, BORG_HOST_ID, BORG_RSH, BORG_PASSPHRASE_FD
// ...): both are passed through unchanged. It checks and loads the policy file, then calls
// `Sandbox.applyAndExec`, which either execs the target or exits 100...115 (table on
// `SandboxStep`). Without `--writable`, the target may write nowhere but /dev/null (where
// the kernel has Landlock). Argument errors exit 100 (`arguments`), policy file errors 101 (`policy`).
// Build the argument list with `SandboxPlan.sandboxExecArguments` rather than by hand.

import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Glibc

struct SandboxExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-exec",
        abstract: "Internal: drop to the runner and exec a command under Landlock and the seccomp policy.",
        shouldDisplay: false)

    @Option(name: .customLong("runner-uid"), help: "Runner uid (not 0).")
    var runnerUID: UInt32?

    @Option(name: .customLong("runner-gid"), help: "Runner primary gid (not 0).")
    var runnerGID: UInt32?

    @Flag(name: .customLong("restore"), help: "The restore sandbox (SandboxPlan.restore): uid 0 with the restore capabilities.")
    var restore = false

    @Option(name: .customLong("groups"), help: "Exact supplementary gids, comma-separated (default: none).")
    var groups: String = ""

    @Option(name: .customLong("landlock"), help: "auto: apply Landlock when the kernel has it; required: refuse to run without it.")
    var landlock: String = LandlockMode.auto.rawValue

    @Option(name: .customLong("writable"), help: "A real directory the command may write beneath (repeatable; default: none).")
    var writable: [String] = []

    @Option(name: .customLong("policy"), help: "Seccomp policy file (root-owned, not group/other-writable).")
    var policy: String

    @Option(name: .customLong("status-fd"), help: "Fd to report a failed step on (one byte; EOF once exec succeeded).")
    var statusFD: Int32?

    @Argument(parsing: .postTerminator, help: "Absolute path of the program, then its arguments.")
    var command: [String] = []

    mutating func run() throws {
        execute()
    }

    /// Entry point used before any other client code runs: parses `arguments` (those after
    /// `sandbox-exec`) and never returns. Parse errors exit with `SandboxStep.arguments`' status.
    static func main(internal arguments: [String]) -> Never {
        do {
            let command = try parse(arguments)
            command.execute()
        } catch {
            if exitCode(for: error) == .success {  // --help
                print(fullMessage(for: error))
                Sandbox.exitNow(0)
            }
            fail(.arguments, fullMessage(for: error), statusFD: nil)
        }
    }

    func execute() -> Never {
        var gids: [UInt32] = []
        for part in groups.split(separator: ",", omittingEmptySubsequences: true) {
            guard let g = UInt32(part) else { Self.fail(.arguments, "--groups: `\(part)` is not a gid", statusFD: statusFD) }
            gids.append(g)
        }
        guard let executable = command.first else {
            Self.fail(.arguments, "no command after `--`", statusFD: statusFD)
        }
        let loaded: SeccompPolicy
        do {
            loaded = try SeccompPolicyFile.load(path: policy)
        } catch {
            Self.fail(.policy, "\(error)", statusFD: statusFD)
        }
        guard let mode = LandlockMode(rawValue: landlock) else {
            Self.fail(.arguments, "--landlock \(landlock): expected auto or required", statusFD: statusFD)
        }
        let plan: SandboxPlan
        if restore {
            if runnerUID != nil || runnerGID != nil || !gids.isEmpty {
                Self.fail(.arguments, "--restore takes no --runner-uid, --runner-gid or --groups", statusFD: statusFD)
            }
            plan = .restore(policy: loaded, writableDirectories: writable, landlock: mode)
        } else {
            guard let runnerUID, let runnerGID else {
                Self.fail(.arguments, "--runner-uid and --runner-gid are required (or --restore)", statusFD: statusFD)
            }
            plan = SandboxPlan(
                runnerUID: runnerUID, runnerGID: runnerGID, supplementaryGIDs: gids, policy: loaded,
                writableDirectories: writable, landlock: mode)
        }
        Sandbox.applyAndExec(
            plan: plan, executable: executable, argv: command,
            environment: Self.currentEnvironment(), statusFD: statusFD)
    }

    static func currentEnvironment() -> [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            result.append(String(cString: entry))
            p += 1
        }
        return result
    }

    static func fail(_ step: SandboxStep, _ text: String, statusFD: Int32?) -> Never {
        Sandbox.fail(step: step, detail: text, statusFD: statusFD)
    }
}
