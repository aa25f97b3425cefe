// Landlock for the borg sandbox, as pure values: which filesystem access rights the ruleset
// handles on a kernel of a given ABI version, which paths get which rights back, and what
// `LANDLOCK=auto|required` decides when the kernel has no Landlock. BorgPullSystem's
// `Landlock` performs it. Sources: kernel Documentation/userspace-api/landlock.rst,
// landlock(7), landlock_create_ruleset(2), landlock_add_rule(2), <linux/landlock.h>.

/// `LANDLOCK=` in borg_env: what happens on a kernel without Landlock.
public enum LandlockMode: String, CaseIterable, Sendable {
    /// Apply Landlock whenever the kernel has it; without it borg runs without that layer and
    /// the audit (borgpull-check, BACKUP's log) warns.
    case auto
    /// Without Landlock the sandbox step fails and borg never runs.
    case required
}

/// Landlock filesystem access rights (`LANDLOCK_ACCESS_FS_*` of <linux/landlock.h>), a `__u64`
/// bit mask as `landlock_ruleset_attr.handled_access_fs` and `landlock_path_beneath_attr.allowed_access` take it.
public struct LandlockAccess: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let execute = LandlockAccess(rawValue: 1 << 0)
    public static let writeFile = LandlockAccess(rawValue: 1 << 1)
    public static let readFile = LandlockAccess(rawValue: 1 << 2)
    public static let readDir = LandlockAccess(rawValue: 1 << 3)
    public static let removeDir = LandlockAccess(rawValue: 1 << 4)
    public static let removeFile = LandlockAccess(rawValue: 1 << 5)
    public static let makeChar = LandlockAccess(rawValue: 1 << 6)
    public static let makeDir = LandlockAccess(rawValue: 1 << 7)
    public static let makeReg = LandlockAccess(rawValue: 1 << 8)
    public static let makeSock = LandlockAccess(rawValue: 1 << 9)
    public static let makeFifo = LandlockAccess(rawValue: 1 << 10)
    public static let makeBlock = LandlockAccess(rawValue: 1 << 11)
    public static let makeSym = LandlockAccess(rawValue: 1 << 12)
    /// ABI 2 (Linux 5.19): link or rename a file into another directory. With ABI 1 the kernel
    /// always refuses that, even beneath an allowed directory.
    public static let refer = LandlockAccess(rawValue: 1 << 13)
    /// ABI 3 (Linux 6.2): truncate(2), ftruncate(2), open with O_TRUNC.
    public static let truncate = LandlockAccess(rawValue: 1 << 14)
    /// ABI 5 (Linux 6.10): ioctl(2) on character/block devices. Not handled: see `handledWrites`.
    public static let ioctlDev = LandlockAccess(rawValue: 1 << 15)

    /// Every right, its `LANDLOCK_ACCESS_FS_` name and the first ABI version that knows it.
    public static let all: [(access: LandlockAccess, name: String, abi: Int)] = [
        (.execute, "EXECUTE", 1), (.writeFile, "WRITE_FILE", 1), (.readFile, "READ_FILE", 1),
        (.readDir, "READ_DIR", 1), (.removeDir, "REMOVE_DIR", 1), (.removeFile, "REMOVE_FILE", 1),
        (.makeChar, "MAKE_CHAR", 1), (.makeDir, "MAKE_DIR", 1), (.makeReg, "MAKE_REG", 1),
        (.makeSock, "MAKE_SOCK", 1), (.makeFifo, "MAKE_FIFO", 1), (.makeBlock, "MAKE_BLOCK", 1),
        (.makeSym, "MAKE_SYM", 1), (.refer, "REFER", 2), (.truncate, "TRUNCATE", 3), (.ioctlDev, "IOCTL_DEV", 5)
    ]

    /// The rights that change the filesystem (everything but EXECUTE, READ_FILE, READ_DIR, and
    /// IOCTL_DEV). Reads stay global: borg must read every source file.
    public static let writeRights: LandlockAccess = [
        .writeFile, .removeDir, .removeFile, .makeChar, .makeDir, .makeReg, .makeSock, .makeFifo,
        .makeBlock, .makeSym, .refer, .truncate
    ]

    /// The rights a rule on a non-directory may carry (landlock_add_rule(2) answers EINVAL for others).
    public static let fileRights: LandlockAccess = [.execute, .writeFile, .readFile, .truncate, .ioctlDev]

    /// The rights kernel ABI `abi` knows (empty below 1).
    public static func known(abi: Int) -> LandlockAccess {
        LandlockAccess(all.filter { $0.abi <= abi }.map(\.access))
    }

    /// What the borg sandbox handles (denies unless a rule gives it back) on ABI `abi`: every
    /// write right that ABI knows. IOCTL_DEV is left unhandled on purpose: the seccomp filter
    /// already allows only six ioctl requests (TCGETS, TIOCGWINSZ, FIONBIO, FIOCLEX,
    /// FS_IOC_GETFLAGS/SETFLAGS), none of which writes to a device, and handling it would break
    /// TCGETS/TIOCGWINSZ on a terminal borg opens for an interactive `borgpull-client borg`.
    public static func handledWrites(abi: Int) -> LandlockAccess { writeRights.intersection(known(abi: abi)) }

    /// `WRITE_FILE|TRUNCATE` ...; `0` when empty.
    public var description: String {
        let names = Self.all.filter { contains($0.access) }.map(\.name)
        return names.isEmpty ? "0" : names.joined(separator: "|")
    }
}

/// One Landlock path rule: `access` beneath `path` (a directory) or on it (a device file).
public struct LandlockRule: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A real directory (opened O_PATH|O_NOFOLLOW|O_DIRECTORY: no symlink is followed).
        case directory
        /// A character device such as /dev/null (file rights only).
        case characterDevice
    }
    public var path: String
    public var kind: Kind
    public var access: LandlockAccess

    public init(path: String, kind: Kind, access: LandlockAccess) {
        self.path = path
        self.kind = kind
        self.access = access
    }
}

/// A ruleset ready to apply: what it handles and the rules that give rights back.
public struct LandlockRuleset: Equatable, Sendable {
    /// The kernel's ABI version the ruleset was made for (>= 1).
    public var abi: Int
    /// `handled_access_fs`.
    public var handled: LandlockAccess
    public var rules: [LandlockRule]

    public init(abi: Int, handled: LandlockAccess, rules: [LandlockRule]) {
        self.abi = abi
        self.handled = handled
        self.rules = rules
    }

    /// What borg needs to write outside its writable directories, measured with borg 1.2.4
    /// through the real sandbox (README, "The borg sandbox"): opening /dev/null for writing, as
    /// `2>/dev/null` in a BORG_PASSCOMMAND shell line does (O_WRONLY|O_CREAT|O_TRUNC, so WRITE_FILE
    /// and TRUNCATE on the device; MAKE_REG is not needed for a file that exists).
    public static let borgDevices: [LandlockRule] = [
        LandlockRule(path: "/dev/null", kind: .characterDevice, access: [.writeFile, .truncate])
    ]

    /// The borg sandbox's ruleset on ABI `abi`: every write right handled (`handledWrites`),
    /// all of them given back beneath each of `writableDirectories`, and `borgDevices`. Rights
    /// the ABI does not know are dropped from every rule (the kernel refuses unknown bits).
    public static func borg(abi: Int, writableDirectories: [String]) -> LandlockRuleset {
        let handled = LandlockAccess.handledWrites(abi: abi)
        var rules = writableDirectories.map { LandlockRule(path: $0, kind: .directory, access: handled) }
        for d in borgDevices { rules.append(LandlockRule(path: d.path, kind: d.kind, access: d.access.intersection(handled))) }
        return LandlockRuleset(abi: abi, handled: handled, rules: rules.filter { !$0.access.isEmpty })
    }

    /// `borgpull: landlock ABI 7: writes only beneath /a, /b; /dev/null`, the line sandbox-exec
    /// prints to stderr once Landlock is enforced.
    public var summary: String {
        let dirs = rules.filter { $0.kind == .directory }.map(\.path)
        let devices = rules.filter { $0.kind == .characterDevice }.map(\.path)
        return "landlock ABI \(abi): writes only beneath \(dirs.isEmpty ? "(nothing)" : dirs.joined(separator: ", "))"
            + (devices.isEmpty ? "" : "; \(devices.joined(separator: ", "))")
    }
}

/// What the Landlock step does on this kernel.
public enum LandlockDecision: Equatable, Sendable {
    /// Enforce this ruleset.
    case apply(LandlockRuleset)
    /// `auto` on a kernel without Landlock: go on without it, printing this warning.
    case runWithout(warning: String)
    /// `required` on a kernel without Landlock: fail the step with this text.
    case refuse(String)
}

extension LandlockMode {
    /// The fix for a kernel without Landlock (landlock(7): CONFIG_SECURITY_LANDLOCK=y and
    /// `landlock` in the active LSM list).
    public static let kernelFix =
        "boot with `lsm=landlock,...` (append landlock to the current list in /sys/kernel/security/lsm, e.g. in GRUB_CMDLINE_LINUX) or use a kernel built with CONFIG_SECURITY_LANDLOCK=y (Linux >= 5.13)"

    /// Decides the Landlock step.
    /// - Parameters:
    ///   - abi: the kernel's Landlock ABI version, nil when it has none (ENOSYS, EOPNOTSUPP).
    ///   - writableDirectories: the directories borg may write beneath.
    public func decide(abi: Int?, writableDirectories: [String]) -> LandlockDecision {
        guard let abi, abi >= 1 else {
            switch self {
            case .auto:
                return .runWithout(
                    warning:
                        "the kernel has no Landlock: borg runs without the Landlock layer and may write wherever the runner uid may (LANDLOCK=auto; fix: \(Self.kernelFix))"
                )
            case .required:
                return .refuse("the kernel has no Landlock and LANDLOCK=required, so borg does not run; fix: \(Self.kernelFix), or set LANDLOCK=auto")
            }
        }
        return .apply(.borg(abi: abi, writableDirectories: writableDirectories))
    }

    /// borgpull-check's `sandbox.landlock` finding.
    /// - Parameters:
    ///   - abi: as for `decide`.
    ///   - location: where LANDLOCK is set, e.g. `/etc/borgpull/borg_env:12` (or the file alone).
    public func finding(abi: Int?, location: String) -> Finding {
        if let abi, abi >= 1 {
            let handled = LandlockAccess.handledWrites(abi: abi)
            let missing = LandlockAccess.writeRights.subtracting(handled)
            return Finding(
                .ok, check: "sandbox.landlock",
                what: "Landlock is available: borg may write only beneath its base directory (LANDLOCK=\(rawValue))",
                location: location, expected: "Landlock ABI >= 1",
                actual: "ABI \(abi), handles \(handled)" + (missing.isEmpty ? "" : " (this ABI cannot restrict \(missing))"))
        }
        switch self {
        case .auto:
            return Finding(
                .warn, check: "sandbox.landlock",
                what: "the kernel has no Landlock: borg runs without the layer that keeps its writes beneath its base directory (LANDLOCK=auto)",
                location: location, expected: "Landlock ABI >= 1", actual: "not available", fix: Self.kernelFix)
        case .required:
            return Finding(
                .fail, check: "sandbox.landlock",
                what: "the kernel has no Landlock and LANDLOCK=required: BACKUP refuses to run borg",
                location: location, expected: "Landlock ABI >= 1", actual: "not available",
                fix: "\(Self.kernelFix); or set LANDLOCK=auto")
        }
    }
}
