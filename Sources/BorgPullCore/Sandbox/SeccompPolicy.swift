// Seccomp policy files (`policy/seccomp/*.policy`): a pure parser and linter.
//
// The policy is reviewed data. This file turns its text into a `SeccompPolicy` value and rejects
// anything a reviewer could misread: unknown actions, malformed lines, duplicate entries,
// dangerous syscalls without a written reason, syscalls that must never be allowed, and rule
// combinations libseccomp would silently reinterpret. Whether a syscall *name* exists is decided
// by libseccomp (`seccomp_syscall_resolve_name(3)`) in BorgPullSystem, which reports file:line too.
// Semantics follow seccomp(2) and seccomp_rule_add(3).

/// What the kernel does when a rule matches (seccomp(2) `SECCOMP_RET_*`, seccomp_rule_add(3) `SCMP_ACT_*`).
public enum SeccompAction: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Run the syscall.
    case allow
    /// Run the syscall and log it (learning mode; audit lines in the kernel log).
    case log
    /// Kill the whole process with SIGSYS.
    case killProcess
    /// Kill the calling thread with SIGSYS.
    case killThread
    /// Send SIGSYS to the thread (catchable).
    case trap
    /// Do not run the syscall; return -1 with this errno.
    case errno(Int32)

    /// True when the syscall body runs (`allow`, `log`).
    public var permitsSyscall: Bool { self == .allow || self == .log }

    public var description: String {
        switch self {
        case .allow: return "allow"
        case .log: return "log"
        case .killProcess: return "kill_process"
        case .killThread: return "kill_thread"
        case .trap: return "trap"
        case .errno(let e): return "errno \(SeccompConstants.errnoName(e) ?? String(e))"
        }
    }
}

/// Comparison of one syscall argument (seccomp_rule_add(3) `SCMP_CMP_*`).
public enum SeccompComparison: Equatable, Hashable, Sendable {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    /// `(arg & mask) == value` (`SCMP_CMP_MASKED_EQ`).
    case maskedEqual(mask: UInt64)
}

/// One argument condition: `arg<index> <comparison> <value>`.
public struct SeccompCondition: Equatable, Hashable, Sendable {
    /// Syscall argument index, 0...5.
    public var argument: Int
    public var comparison: SeccompComparison
    public var value: UInt64

    public init(argument: Int, comparison: SeccompComparison, value: UInt64) {
        self.argument = argument
        self.comparison = comparison
        self.value = value
    }
}

/// One policy entry: a syscall, its action, up to two argument conditions (all must hold).
public struct SeccompRule: Equatable, Sendable {
    public var syscall: String
    public var action: SeccompAction
    public var conditions: [SeccompCondition]
    /// 1-based line in the policy file.
    public var line: Int
    /// The `# why:` text attached to the entry, if any.
    public var why: String?

    public init(syscall: String, action: SeccompAction, conditions: [SeccompCondition] = [], line: Int, why: String? = nil) {
        self.syscall = syscall
        self.action = action
        self.conditions = conditions
        self.line = line
        self.why = why
    }
}

/// A parsed, linted policy: the default action plus the rules in file order.
public struct SeccompPolicy: Equatable, Sendable {
    /// The file name used in diagnostics.
    public var file: String
    public var defaultAction: SeccompAction
    public var rules: [SeccompRule]

    /// Syscalls with at least one rule whose action lets the syscall run.
    public var allowedSyscalls: Set<String> {
        Set(rules.filter { $0.action.permitsSyscall }.map(\.syscall))
    }
}

/// One problem in a policy file, with where it is, what is wrong and how to fix it.
public struct SeccompPolicyDiagnostic: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var problem: String
    public var fix: String

    public init(file: String, line: Int, problem: String, fix: String) {
        self.file = file
        self.line = line
        self.problem = problem
        self.fix = fix
    }

    /// `FILE:LINE: PROBLEM; fix: FIX`
    public var description: String { "\(file):\(line): \(problem); fix: \(fix)" }
}

/// Thrown by `SeccompPolicy.parse`: every diagnostic found, in line order.
public struct SeccompPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    public var diagnostics: [SeccompPolicyDiagnostic]
    public init(diagnostics: [SeccompPolicyDiagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Which syscalls the linter treats specially. Names are x86_64 syscall names.
public enum SeccompDangerousSyscalls {
    /// Never allowed (nor logged-and-run), whatever the reason: each is a sandbox escape or a
    /// kernel attack surface borg has no use for. They may appear only with errno/kill/trap, with a why.
    public static let neverAllowed: Set<String> = [
        "ptrace", "mount", "umount2", "unshare", "setns", "bpf", "keyctl", "add_key", "request_key",
        "open_by_handle_at", "name_to_handle_at", "kexec_load", "kexec_file_load", "init_module",
        "finit_module", "delete_module", "perf_event_open", "userfaultfd", "process_vm_readv",
        "process_vm_writev", "pivot_root", "chroot", "swapon", "swapoff", "reboot",
        "io_uring_setup", "io_uring_enter", "io_uring_register", "fsopen", "fsmount", "fsconfig",
        "fspick", "move_mount", "open_tree", "mount_setattr", "acct", "iopl", "ioperm",
        "quotactl", "syslog", "uselib", "pidfd_getfd", "lookup_dcookie", "settimeofday",
        "clock_settime", "clock_adjtime", "adjtimex", "vhangup", "fanotify_init", "kcmp"
    ]

    /// Allowed only with a `# why:` reason next to the entry: each widens what a compromised
    /// borg can do (run programs, create processes, talk to devices or the network, signal,
    /// change its own credentials or personality).
    public static let needsReason: Set<String> = neverAllowed.union([
        "execve", "execveat", "clone", "clone3", "fork", "vfork", "ioctl", "prctl", "personality",
        "socket", "socketpair", "kill", "tkill", "tgkill", "pidfd_send_signal", "pidfd_open",
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "setfsuid", "setfsgid", "capset", "modify_ldt", "seccomp", "memfd_create", "pkey_mprotect",
        "move_pages", "migrate_pages", "mbind", "set_mempolicy", "sched_setattr",
        "sched_setscheduler", "setpriority", "ioprio_set"
    ]).union(modeArgument.keys)

    /// Calls that set a file's mode, and the index of the mode argument: the chmod family
    /// (chmod(2), fchmodat2 since Linux 6.6), and the calls that create a file with a mode
    /// (open(2)/openat(2) with O_CREAT or O_TMPFILE, creat(2), mknod(2)/mknodat(2), which keep
    /// S_ISUID/S_ISGID as given). An entry that lets one of them run must refuse S_ISUID|S_ISGID
    /// in that argument, or (open, openat) require that the flags create nothing.
    public static let modeArgument: [String: Int] = [
        "chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2,
        "open": 2, "openat": 3, "creat": 1, "mknod": 1, "mknodat": 2
    ]

    /// open(2)/openat(2): the index of the flags argument; an entry requiring
    /// `O_CREAT|__O_TMPFILE` clear there cannot create a file, whatever the mode.
    public static let createFlagsArgument: [String: Int] = ["open": 1, "openat": 2]
}

/// Symbolic constants accepted in policy values and errno actions (Linux generic / x86_64 values).
public enum SeccompConstants {
    public static let values: [String: UInt64] = [
        "AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17,
        "CLONE_NEWNS": 0x0002_0000, "CLONE_NEWCGROUP": 0x0200_0000, "CLONE_NEWUTS": 0x0400_0000,
        "CLONE_NEWIPC": 0x0800_0000, "CLONE_NEWUSER": 0x1000_0000, "CLONE_NEWPID": 0x2000_0000,
        "CLONE_NEWNET": 0x4000_0000,
        // Every namespace flag clone(2) accepts (CLONE_NEWTIME exists only for clone3/unshare).
        "CLONE_NEW_ALL": cloneNamespaceFlags,
        "TCGETS": 0x5401, "TIOCGWINSZ": 0x5413, "FIONBIO": 0x5421, "FIONCLEX": 0x5450, "FIOCLEX": 0x5451,
        "FIONREAD": 0x541B, "FS_IOC_GETFLAGS": 0x8008_6601, "FS_IOC_SETFLAGS": 0x4008_6602,
        "PR_SET_NAME": 15, "PR_GET_NAME": 16, "PR_CAPBSET_READ": 23, "PR_SET_NO_NEW_PRIVS": 38,
        "PR_GET_NO_NEW_PRIVS": 39,
        "S_ISUID": 0o4000, "S_ISGID": 0o2000,
        // open(2) flags (asm-generic/fcntl.h, x86_64): O_TMPFILE is __O_TMPFILE|O_DIRECTORY.
        "O_CREAT": 0o100, "__O_TMPFILE": 0o20000000
    ]

    /// S_ISUID | S_ISGID (inode(7)): the mode bits that make an executable run with its owner
    /// or group.
    public static let setIDModeBits: UInt64 = 0o6000

    /// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET.
    public static let cloneNamespaceFlags: UInt64 = 0x7E02_0000

    public static let errnos: [String: Int32] = [
        "EPERM": 1, "ENOENT": 2, "EINTR": 4, "EIO": 5, "EBADF": 9, "EAGAIN": 11, "ENOMEM": 12,
        "EACCES": 13, "EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "EINVAL": 22, "ENOTTY": 25,
        "ENOSPC": 28, "EROFS": 30, "ENOSYS": 38, "ENOTSUP": 95, "EOPNOTSUPP": 95,
        "EPROTONOSUPPORT": 93, "EAFNOSUPPORT": 97, "EADDRNOTAVAIL": 99, "ENETUNREACH": 101
    ]

    public static func errnoName(_ value: Int32) -> String? {
        let preferred = ["EOPNOTSUPP"]
        return errnos.filter { $0.value == value }.map(\.key)
            .sorted { (preferred.contains($0) ? 0 : 1, $0) < (preferred.contains($1) ? 0 : 1, $1) }.first
    }
}

extension SeccompPolicy {
    /// Parses and lints policy text.
    ///
    /// - Parameters:
    ///   - text: the file's contents (UTF-8 text; see `policy/seccomp/borg.policy` for the format).
    ///   - file: the name used in diagnostics (usually the path).
    /// - Returns: the policy, rules in file order, each with its line and `why`.
    /// - Throws: `SeccompPolicyError` listing every problem as `file:line: problem; fix: ...`.
    ///   Syscall names are only checked for shape here; BorgPullSystem resolves them with libseccomp.
    public static func parse(_ text: String, file: String) throws -> SeccompPolicy {
        var parser = Parser(file: file)
        parser.run(text)
        guard parser.diagnostics.isEmpty, let defaultAction = parser.defaultAction else {
            var diags = parser.diagnostics
            if parser.defaultAction == nil && !diags.contains(where: { $0.problem.contains("default") }) {
                diags.append(
                    SeccompPolicyDiagnostic(
                        file: file, line: max(parser.lineCount, 1), problem: "no default action",
                        fix: "add a line `default kill_process` before the first entry"))
            }
            throw SeccompPolicyError(diagnostics: diags.sorted { $0.line < $1.line })
        }
        return SeccompPolicy(file: file, defaultAction: defaultAction, rules: parser.rules)
    }
}

private struct Parser {
    let file: String
    var diagnostics: [SeccompPolicyDiagnostic] = []
    var rules: [SeccompRule] = []
    var defaultAction: SeccompAction?
    var defaultLine = 0
    var lineCount = 0

    init(file: String) { self.file = file }

    mutating func fail(_ line: Int, _ problem: String, _ fix: String) {
        diagnostics.append(SeccompPolicyDiagnostic(file: file, line: line, problem: problem, fix: fix))
    }

    mutating func run(_ text: String) {
        // A `# why:` comment block applies to the entries directly below it, up to the next
        // blank line or the next comment that is not its continuation.
        var pendingWhy: String?
        var previousWasComment = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lineCount = lines.count
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            var comment: Substring?
            if let hash = line.firstIndex(of: "#") {
                comment = line[line.index(after: hash)...]
                line = line[..<hash]
            }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let inlineWhy = comment.flatMap(Self.why(in:))
            if words.isEmpty {
                if let c = comment {
                    if let why = inlineWhy {
                        pendingWhy = why
                    } else if previousWasComment, pendingWhy != nil {
                        pendingWhy! += " " + c.trimmingBlanks()  // continuation of a why block
                    } else {
                        pendingWhy = nil
                    }
                    previousWasComment = true
                } else {
                    pendingWhy = nil  // a blank line ends a why block
                    previousWasComment = false
                }
                continue
            }
            previousWasComment = false
            entry(words, line: number, why: inlineWhy ?? pendingWhy)
        }
        lint()
    }

    static func why(in comment: Substring) -> String? {
        let text = comment.trimmingBlanks()
        guard text.lowercased().hasPrefix("why:") else { return nil }
        let reason = String(text.dropFirst(4)).trimmingBlanks()
        return reason.isEmpty ? nil : reason
    }

    mutating func entry(_ words: [String], line: Int, why: String?) {
        if words[0] == "default" {
            guard defaultAction == nil else {
                fail(line, "second `default` line (first on line \(defaultLine))", "keep exactly one `default` line")
                return
            }
            var rest = Array(words.dropFirst())
            guard let action = action(&rest, line: line) else { return }
            guard rest.isEmpty else {
                fail(line, "unexpected `\(rest.joined(separator: " "))` after the default action", "write `default ACTION`, e.g. `default kill_process`")
                return
            }
            if action == .allow {
                fail(
                    line, "default action `allow` turns the allow-list into a deny-list",
                    "use `default kill_process` (or `errno EPERM` only with care: it silently hides missing entries)")
            } else if action == .log && why == nil {
                fail(
                    line, "default action `log` (learning mode: nothing is blocked) without a reason",
                    "use `default kill_process`; for a measurement run add `# why: learning run ...`")
            }
            defaultAction = action
            defaultLine = line
            return
        }
        let name = words[0]
        guard Self.isSyscallName(name) else {
            fail(
                line, "`\(name)` is not a syscall name or directive",
                "start the line with `default` or a syscall name (lowercase letters, digits, _)")
            return
        }
        var rest = Array(words.dropFirst())
        var act = SeccompAction.allow
        if let first = rest.first, first != "if" {
            guard let parsed = action(&rest, line: line) else { return }
            act = parsed
        }
        var conditions: [SeccompCondition] = []
        if let first = rest.first {
            guard first == "if" else {
                fail(line, "unexpected `\(first)` after the action", "write `\(name) ACTION if argN OP VALUE [and argN OP VALUE]`")
                return
            }
            rest.removeFirst()
            guard let parsed = self.conditions(rest, syscall: name, line: line) else { return }
            conditions = parsed
        }
        rules.append(SeccompRule(syscall: name, action: act, conditions: conditions, line: line, why: why))
    }

    static func isSyscallName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Consumes an action from the front of `words`.
    mutating func action(_ words: inout [String], line: Int) -> SeccompAction? {
        guard let word = words.first else {
            fail(line, "missing action", "write one of allow, log, kill_process, kill_thread, trap, errno NAME")
            return nil
        }
        words.removeFirst()
        switch word {
        case "allow": return .allow
        case "log": return .log
        case "kill_process": return .killProcess
        case "kill_thread", "kill": return .killThread
        case "trap": return .trap
        case "errno":
            guard let e = words.first else {
                fail(line, "`errno` without a value", "write e.g. `errno EPERM` or `errno 1`")
                return nil
            }
            words.removeFirst()
            if let v = SeccompConstants.errnos[e] { return .errno(v) }
            if let v = Int32(e), (1...4095).contains(v) { return .errno(v) }
            fail(
                line, "unknown errno `\(e)`",
                "use a number 1...4095 or one of \(SeccompConstants.errnos.keys.sorted().joined(separator: ", "))")
            return nil
        default:
            fail(line, "unknown action `\(word)`", "use one of allow, log, kill_process, kill_thread, trap, errno NAME")
            return nil
        }
    }

    mutating func conditions(_ words: [String], syscall: String, line: Int) -> [SeccompCondition]? {
        var groups: [[String]] = [[]]
        for w in words {
            if w == "and" { groups.append([]) } else { groups[groups.count - 1].append(w) }
        }
        let shape = "`argN OP VALUE` or `argN & MASK == VALUE`, joined by `and`"
        guard groups.count <= 2 else {
            fail(line, "more than two conditions", "split the entry or simplify; at most two conditions per entry")
            return nil
        }
        var result: [SeccompCondition] = []
        for g in groups {
            guard g.count == 3 || g.count == 5 else {
                fail(line, "malformed condition `\(g.joined(separator: " "))`", "write \(shape)")
                return nil
            }
            guard g[0].hasPrefix("arg"), let index = Int(g[0].dropFirst(3)), (0...5).contains(index) else {
                fail(line, "`\(g[0])` is not an argument", "use arg0 ... arg5")
                return nil
            }
            if g.count == 5 {
                guard g[1] == "&", g[3] == "==" else {
                    fail(line, "malformed masked condition `\(g.joined(separator: " "))`", "write `argN & MASK == VALUE`")
                    return nil
                }
                guard let mask = value(g[2], line: line), let v = value(g[4], line: line) else { return nil }
                result.append(SeccompCondition(argument: index, comparison: .maskedEqual(mask: mask), value: v))
                continue
            }
            let ops: [String: SeccompComparison] = [
                "==": .equal, "!=": .notEqual, "<": .less, "<=": .lessOrEqual,
                ">": .greater, ">=": .greaterOrEqual
            ]
            guard let op = ops[g[1]] else {
                fail(line, "unknown comparison `\(g[1])`", "use == != < <= > >= or `& MASK ==`")
                return nil
            }
            guard let v = value(g[2], line: line) else { return nil }
            result.append(SeccompCondition(argument: index, comparison: op, value: v))
        }
        if result.count == 2 && result[0].argument == result[1].argument {
            fail(
                line, "two conditions on arg\(result[0].argument) in one entry (libseccomp rejects that with EINVAL)",
                "use one masked condition, or two entries")
            return nil
        }
        return result
    }

    mutating func value(_ word: String, line: Int) -> UInt64? {
        var total: UInt64 = 0
        for part in word.split(separator: "|", omittingEmptySubsequences: false) {
            let p = String(part)
            if let v = SeccompConstants.values[p] {
                total |= v
            } else if p.hasPrefix("0x"), let v = UInt64(p.dropFirst(2), radix: 16) {
                total |= v
            } else if let v = UInt64(p) {
                total |= v
            } else {
                fail(
                    line, "unknown value `\(p)`",
                    "use a decimal or 0x number, or one of \(SeccompConstants.values.keys.sorted().joined(separator: ", "))")
                return nil
            }
        }
        return total
    }

    mutating func lint() {
        var unconditional: [String: Int] = [:]
        var conditional: [String: Int] = [:]
        var seen: [String: Int] = [:]  // syscall + conditions -> line
        for rule in rules {
            let key = "\(rule.syscall) \(rule.conditions)"
            if let first = seen[key] {
                fail(
                    rule.line, "duplicate entry for `\(rule.syscall)` (same conditions as line \(first))",
                    "keep one entry and delete this line")
                continue
            }
            seen[key] = rule.line
            if rule.conditions.isEmpty {
                unconditional[rule.syscall] = rule.line
            } else {
                conditional[rule.syscall] = conditional[rule.syscall] ?? rule.line
            }
            if SeccompDangerousSyscalls.neverAllowed.contains(rule.syscall) && rule.action.permitsSyscall {
                fail(
                    rule.line, "`\(rule.syscall)` must never be allowed in a borg sandbox",
                    "delete the line (the default action blocks it) or answer it with `errno EPERM` and a `# why:`")
                continue
            }
            if SeccompDangerousSyscalls.needsReason.contains(rule.syscall) && rule.why == nil {
                fail(
                    rule.line, "dangerous syscall `\(rule.syscall)` has no reason",
                    "add `# why: ...` at the end of the line or in the comment directly above it")
            }
            if rule.syscall == "clone" && rule.action.permitsSyscall && !Self.refusesNamespaces(rule) {
                fail(
                    rule.line, "`clone` allowed without refusing namespace flags",
                    "write `clone allow if arg0 & CLONE_NEW_ALL == 0`")
            }
            if let index = SeccompDangerousSyscalls.modeArgument[rule.syscall], rule.action.permitsSyscall,
                !Self.refusesSetIDModes(rule, argument: index),
                !(SeccompDangerousSyscalls.createFlagsArgument[rule.syscall].map { Self.refusesCreation(rule, flagsArgument: $0) } ?? false)
            {
                fail(
                    rule.line, "`\(rule.syscall)` allowed without refusing setuid/setgid modes",
                    "write `\(rule.syscall) allow if arg\(index) & S_ISUID|S_ISGID == 0` and `\(rule.syscall) errno EPERM if arg\(index) & S_ISUID|S_ISGID == ...` for S_ISUID, S_ISGID and S_ISUID|S_ISGID"
                )
            }
            if rule.syscall == "socket" && rule.action.permitsSyscall
                && !rule.conditions.contains(SeccompCondition(argument: 0, comparison: .equal, value: 1))
            {
                fail(
                    rule.line, "`socket` allowed for families other than AF_UNIX",
                    "write `socket allow if arg0 == AF_UNIX` and `socket errno EAFNOSUPPORT if arg0 != AF_UNIX`")
            }
        }
        if let def = defaultAction {
            for rule in rules where rule.action == def {
                fail(
                    rule.line, "entry for `\(rule.syscall)` repeats the default action `\(def)` (libseccomp refuses such a rule)",
                    "delete the line; the default action already applies")
            }
        }
        for (name, line) in unconditional {
            if let other = conditional[name] {
                fail(
                    line,
                    "`\(name)` has an unconditional entry and a conditional one (line \(other)); libseccomp would let the unconditional one replace the others",
                    "give every `\(name)` entry a condition, e.g. the complement `if arg0 != ...`")
            }
        }
    }

    /// True when `rule` only matches modes without S_ISUID and S_ISGID in `argument`.
    static func refusesSetIDModes(_ rule: SeccompRule, argument: Int) -> Bool {
        let bits = SeccompConstants.setIDModeBits
        return rule.conditions.contains { c in
            if c.argument == argument, case .maskedEqual(let mask) = c.comparison {
                return mask & bits == bits && c.value & bits == 0
            }
            return false
        }
    }

    /// True when `rule` only matches flags with O_CREAT and __O_TMPFILE clear in `flagsArgument`.
    static func refusesCreation(_ rule: SeccompRule, flagsArgument: Int) -> Bool {
        let bits = (SeccompConstants.values["O_CREAT"] ?? 0) | (SeccompConstants.values["__O_TMPFILE"] ?? 0)
        return rule.conditions.contains { c in
            if c.argument == flagsArgument, case .maskedEqual(let mask) = c.comparison {
                return mask & bits == bits && c.value & bits == 0
            }
            return false
        }
    }

    static func refusesNamespaces(_ rule: SeccompRule) -> Bool {
        rule.conditions.contains { c in
            if c.argument == 0, case .maskedEqual(let mask) = c.comparison {
                return mask & SeccompConstants.cloneNamespaceFlags == SeccompConstants.cloneNamespaceFlags && c.value == 0
            }
            return false
        }
    }
}
