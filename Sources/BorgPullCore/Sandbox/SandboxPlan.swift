// The sandbox a borg process runs in, as a pure value: who it runs as, which capability it
// keeps, where it may write (Landlock), which seccomp policy confines it, and the ordered steps
// (with exit statuses) that BorgPullSystem's `Sandbox.applyAndExec` takes to get there. See
// capabilities(7), prctl(2), seccomp(2), credentials(7), landlock(7).

/// A Linux capability number (capabilities(7), <linux/capability.h>).
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CAP_DAC_READ_SEARCH (2): bypass read permission checks on files and search/read checks on
    /// directories. Lets the runner read every source file without being able to write any.
    public static let dacReadSearch = Capability(rawValue: 2)
    /// CAP_CHOWN (0): give a restored file its archived owner and group.
    public static let chown = Capability(rawValue: 0)
    /// CAP_DAC_OVERRIDE (1): write into directories and files of other owners (an in-place
    /// restore below /home/alice 0700; a user xattr on a file already chowned to its owner).
    public static let dacOverride = Capability(rawValue: 1)
    /// CAP_FOWNER (3): chmod, utime and ACLs of a file after it was chowned away from uid 0.
    public static let fowner = Capability(rawValue: 3)
    /// CAP_MKNOD (27): recreate character and block devices.
    public static let mknod = Capability(rawValue: 27)
    /// CAP_SETFCAP (31): restore file capabilities (the security.capability xattr).
    public static let setfcap = Capability(rawValue: 31)

    /// Names of capabilities 0...40 (Linux 5.9+), for messages.
    public static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"
    ]

    public var description: String {
        rawValue < Capability.names.count ? Capability.names[Int(rawValue)] : "cap_\(rawValue)"
    }

    /// The bit mask of a set, as in /proc/PID/status `CapEff:` etc. ([.dacReadSearch] -> 0x4).
    public static func mask<S: Sequence>(_ caps: S) -> UInt64 where S.Element == Capability {
        caps.reduce(0) { $0 | (UInt64(1) << UInt64($1.rawValue)) }
    }

    /// The 16-hex-digit form /proc/PID/status prints ("0000000000000004").
    public static func statusHex<S: Sequence>(_ caps: S) -> String where S.Element == Capability {
        let hex = String(mask(caps), radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
}

/// One step of the privilege drop, in the order it runs. The raw value is the step number; a
/// failure of step N makes the sandboxed process `_exit(100 + N)` after printing
/// `borgpull: sandbox step <name> failed: <errno text>` to stderr, and borg never runs.
///
/// | status | step            | what failed                                                        |
/// |--------|-----------------|--------------------------------------------------------------------|
/// | 100    | arguments       | sandbox-exec command line or plan invalid (uid/gid 0, relative exe) |
/// | 101    | policy          | policy file unsafe (owner/mode), unreadable, lint error, unknown syscall, libseccomp compile |
/// | 102    | runner          | runner uid or gid not in the user/group database                   |
/// | 103    | setgroups       | setgroups(2) to exactly the plan's supplementary gids              |
/// | 104    | setresgid       | setresgid(2) real/effective/saved gid                              |
/// | 105    | keepcaps        | securebits SECBIT_KEEP_CAPS before the uid change                  |
/// | 106    | setresuid       | setresuid(2) real/effective/saved uid                              |
/// | 107    | capabilities    | cap_set_proc: CAP_DAC_READ_SEARCH (+ CAP_SETPCAP until step 111)   |
/// | 108    | ambient         | PR_CAP_AMBIENT_CLEAR_ALL, then RAISE CAP_DAC_READ_SEARCH           |
/// | 109    | bounding        | PR_CAPBSET_DROP of every other capability                          |
/// | 110    | securebits      | lock securebits (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, all locked)|
/// | 111    | trim            | cap_set_proc: drop CAP_SETPCAP, leave only CAP_DAC_READ_SEARCH      |
/// | 112    | no_new_privs    | PR_SET_NO_NEW_PRIVS                                                |
/// | 113    | landlock        | Landlock ruleset (create/add_rule/restrict_self), or none and LANDLOCK=required |
/// | 114    | seccomp         | seccomp_load with SCMP_FLTATR_CTL_TSYNC                           |
/// | 115    | execve          | execve(2) of the target (e.g. /usr/bin/borg)                        |
///
/// 100-115 overlap borg's "modern" warning codes (100-127); a parent that must tell them apart
/// uses sandbox-exec's `--status-fd` (close-on-exec pipe: EOF = borg started, one byte = step).
public enum SandboxStep: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case arguments = 0, policy, runner, setgroups, setresgid, keepcaps, setresuid, capabilities,
        ambient, bounding, securebits, trim, noNewPrivs, landlock, seccomp, execve

    /// Base of the exit statuses: step N exits with `exitStatusBase + N`.
    public static let exitStatusBase: Int32 = 100

    /// The `_exit` status for a failure of this step.
    public var exitStatus: Int32 { Self.exitStatusBase + rawValue }

    /// The step for an exit status of a sandboxed child, if it is one of ours.
    public init?(exitStatus: Int32) { self.init(rawValue: exitStatus - Self.exitStatusBase) }

    /// The name printed in `borgpull: sandbox step <name> failed: ...`.
    public var description: String {
        switch self {
        case .arguments: return "arguments"
        case .policy: return "policy"
        case .runner: return "runner"
        case .setgroups: return "setgroups"
        case .setresgid: return "setresgid"
        case .keepcaps: return "keepcaps"
        case .setresuid: return "setresuid"
        case .capabilities: return "capabilities"
        case .ambient: return "ambient"
        case .bounding: return "bounding"
        case .securebits: return "securebits"
        case .trim: return "trim"
        case .noNewPrivs: return "no_new_privs"
        case .landlock: return "landlock"
        case .seccomp: return "seccomp"
        case .execve: return "execve"
        }
    }
}

/// Why a `SandboxPlan` is refused.
public struct SandboxPlanError: Error, Equatable, Sendable, CustomStringConvertible {
    public var problem: String
    public var fix: String
    public var description: String { "sandbox plan: \(problem); fix: \(fix)" }
}

/// What a sandbox is for: it decides who borg runs as and which capabilities it may keep.
public enum SandboxPurpose: String, Equatable, Sendable {
    /// Every borg but a restore: the unprivileged runner with CAP_DAC_READ_SEARCH only.
    case backup
    /// `borgpull-client restore`: borg extract as uid 0 with `SandboxPlan.restoreCapabilities`,
    /// so owners, modes, devices and file capabilities come back; Landlock keeps its writes in
    /// the target and its root-owned base directory.
    case restore
}

/// Everything the privilege drop needs, decided before any OS call.
public struct SandboxPlan: Equatable, Sendable {
    /// Backup (runner) or restore (uid 0, restore capabilities).
    public var purpose: SandboxPurpose = .backup
    /// The uid borg runs as (real, effective, saved, filesystem). Never 0.
    public var runnerUID: UInt32
    /// The primary gid (real, effective, saved, filesystem). Never 0.
    public var runnerGID: UInt32
    /// The exact supplementary groups (setgroups(2)); empty clears them. Never contains 0.
    public var supplementaryGIDs: [UInt32]
    /// Capabilities kept in permitted, effective, inheritable, ambient and bounding sets.
    public var keptCapabilities: [Capability]
    /// The seccomp filter loaded last.
    public var policy: SeccompPolicy
    /// Absolute directories borg may write beneath (Landlock); everything else is read-only to it
    /// except `LandlockRuleset.borgDevices`. BACKUP passes BORG_BASE_DIR (`STATE_DIR/borg`).
    public var writableDirectories: [String]
    /// What the Landlock step does on a kernel without Landlock (`LANDLOCK=` in borg_env).
    public var landlock: LandlockMode

    public init(
        runnerUID: UInt32, runnerGID: UInt32, supplementaryGIDs: [UInt32] = [],
        keptCapabilities: [Capability] = [.dacReadSearch], policy: SeccompPolicy,
        writableDirectories: [String] = [], landlock: LandlockMode = .auto
    ) {
        self.runnerUID = runnerUID
        self.runnerGID = runnerGID
        self.supplementaryGIDs = supplementaryGIDs
        self.keptCapabilities = keptCapabilities
        self.policy = policy
        self.writableDirectories = writableDirectories
        self.landlock = landlock
    }

    /// The only capability a plan may keep: reading is all borg needs beyond its own files.
    public static let permittedCapabilities: Set<Capability> = [.dacReadSearch]

    /// What a root `borg extract` needs to give every item back its owner, mode, mtime, xattrs,
    /// ACLs and device numbers, measured with policy/seccomp/measure/measure-restore.sh (each
    /// capability left out once; borg 1.2.4): without CAP_CHOWN owners are silently lost (borg
    /// ignores chown errors), without CAP_FOWNER modes, mtimes and ACLs of chowned files, without
    /// CAP_DAC_OVERRIDE user xattrs of files the owner may not write, without CAP_MKNOD devices,
    /// without CAP_SETFCAP file capabilities. CAP_DAC_READ_SEARCH and CAP_FSETID changed nothing
    /// (setuid/setgid modes are refused by the restore policy anyway), so they are not kept.
    public static let restoreCapabilities: [Capability] = [.chown, .dacOverride, .fowner, .mknod, .setfcap]

    /// The restore sandbox: uid 0 and gid 0 (files and borg's base directory stay root's; no
    /// runner-writable directory is ever used), no supplementary groups, `restoreCapabilities`.
    public static func restore(policy: SeccompPolicy, writableDirectories: [String], landlock: LandlockMode) -> SandboxPlan {
        var plan = SandboxPlan(
            runnerUID: 0, runnerGID: 0, keptCapabilities: restoreCapabilities, policy: policy,
            writableDirectories: writableDirectories, landlock: landlock)
        plan.purpose = .restore
        return plan
    }

    /// Checks the plan's invariants.
    /// - Throws: `SandboxPlanError` for uid 0, gid 0 (primary or supplementary; root's group can
    ///   write root-group-writable files), a kept capability other than CAP_DAC_READ_SEARCH, or a
    ///   writable directory that is not absolute, is `/` or contains `..`.
    ///   A restore plan must be uid 0, gid 0, no groups, only `restoreCapabilities`, and have at
    ///   least one writable directory.
    public func validate() throws {
        if purpose == .restore {
            if runnerUID != 0 || runnerGID != 0 || !supplementaryGIDs.isEmpty {
                throw SandboxPlanError(
                    problem: "a restore plan runs as uid 0, gid 0 without groups, not \(runnerUID)/\(runnerGID)/\(supplementaryGIDs)",
                    fix: "build it with SandboxPlan.restore")
            }
            if let extra = keptCapabilities.first(where: { !Self.restoreCapabilities.contains($0) }) {
                throw SandboxPlanError(
                    problem: "capability \(extra) would be kept by a restore",
                    fix: "keep only \(Self.restoreCapabilities.map(\.description).joined(separator: ", "))")
            }
            if writableDirectories.isEmpty {
                throw SandboxPlanError(problem: "a restore plan without a writable directory", fix: "give the restore target and the base directory")
            }
            try validateDirectories()
            return
        }
        if runnerUID == 0 {
            throw SandboxPlanError(problem: "runner uid is 0 (root)", fix: "configure an unprivileged runner user")
        }
        if runnerGID == 0 {
            throw SandboxPlanError(problem: "runner gid is 0 (root's group)", fix: "give the runner its own primary group")
        }
        if supplementaryGIDs.contains(0) {
            throw SandboxPlanError(problem: "supplementary groups contain 0 (root's group)", fix: "remove group 0 from the runner's groups")
        }
        if let extra = keptCapabilities.first(where: { !Self.permittedCapabilities.contains($0) }) {
            throw SandboxPlanError(problem: "capability \(extra) would be kept", fix: "keep only CAP_DAC_READ_SEARCH")
        }
        try validateDirectories()
    }

    func validateDirectories() throws {
        for d in writableDirectories
        where !d.hasPrefix("/") || d.split(separator: "/").isEmpty
            || d.split(separator: "/").contains("..")
        {
            throw SandboxPlanError(
                problem: "writable directory `\(d)` is not an absolute directory below / without ..",
                fix: "give borg's base directory, e.g. /var/lib/borgpull/borg")
        }
    }

    /// The arguments after the client binary for the internal command that applies this plan:
    /// `sandbox-exec (--runner-uid U --runner-gid G [--groups A,B] | --restore) --landlock auto|required
    /// [--writable DIR]... --policy FILE [--status-fd N] -- EXECUTABLE ARGS...`. `executable`
    /// must be absolute (no PATH search in the sandbox).
    public func sandboxExecArguments(
        policyPath: String, executable: String, arguments: [String],
        statusFD: Int32? = nil
    ) -> [String] {
        var argv = ["sandbox-exec"]
        // A restore's uid, gid and capabilities are not arguments: sandbox-exec takes them from
        // `SandboxPlan.restore`, the one place they are decided.
        if purpose == .restore {
            argv.append("--restore")
        } else {
            argv += ["--runner-uid", String(runnerUID), "--runner-gid", String(runnerGID)]
        }
        if !supplementaryGIDs.isEmpty {
            argv += ["--groups", supplementaryGIDs.map(String.init).joined(separator: ",")]
        }
        argv += ["--landlock", landlock.rawValue]
        for d in writableDirectories { argv += ["--writable", d] }
        argv += ["--policy", policyPath]
        if let fd = statusFD { argv += ["--status-fd", String(fd)] }
        return argv + ["--", executable] + arguments
    }
}
