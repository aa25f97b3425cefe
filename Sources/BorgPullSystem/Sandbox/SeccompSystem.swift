// Policy files on disk and their compilation with libseccomp: the OS half of SeccompPolicy.
// See seccomp(2), seccomp_init(3), seccomp_rule_add(3), seccomp_syscall_resolve_name(3),
// seccomp_attr_set(3), seccomp_export_bpf(3).

import BorgPullCore
import CSeccomp
import Glibc

/// A policy file that must not be trusted, or could not be read.
public struct PolicyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var fix: String
    public var description: String { "policy file \(path): \(problem); fix: \(fix)" }

    public init(path: String, problem: String, fix: String) {
        self.path = path
        self.problem = problem
        self.fix = fix
    }

    /// From `Files.openTrusted`; a directory above the file is named in the problem.
    init(_ e: Files.Untrusted, file: String) {
        self.init(path: file, problem: e.path == file ? e.problem : "\(e.path): \(e.problem)", fix: e.fix)
    }
}

public enum SeccompPolicyFile {
    /// Refuses a policy file that someone other than root could have written.
    ///
    /// Opens `path` the safe_path way (`Files.openTrusted`): the file and every directory above
    /// it owned by uid 0 and not writable by group or other, no symlink, judged by descriptor.
    /// The client calls this before the pre hook;
    /// `sandbox-exec` checks again while it reads the file (`load`).
    /// - Throws: `PolicyFileError` naming the file, with the fix `chown root:root F; chmod go-w F`
    ///   for ownership/mode problems.
    public static func checkTrusted(path: String) throws {
        let fd = try openChecked(path)
        close(fd)
    }

    /// Checks (as `checkTrusted`), reads, parses, lints and resolves a policy file.
    ///
    /// - Returns: the policy; every syscall name resolves on this machine's native architecture.
    /// - Throws: `PolicyFileError` (unsafe, unreadable) or `SeccompPolicyError` (lint problems and
    ///   unknown syscall names, each as `file:line: problem; fix: ...`).
    public static func load(path: String) throws -> SeccompPolicy {
        let text: String
        do { text = try Files.readTrusted(path, limit: 1 << 20) } catch { throw PolicyFileError(error, file: path) }
        let policy = try SeccompPolicy.parse(text, file: path)
        try resolveNames(policy)
        return policy
    }

    /// Resolves every rule's syscall name with seccomp_syscall_resolve_name(3).
    /// - Returns: the native syscall number for each rule, in rule order.
    /// - Throws: `SeccompPolicyError` with one diagnostic per unknown name (file:line).
    @discardableResult
    public static func resolveNames(_ policy: SeccompPolicy) throws -> [Int32] {
        var numbers: [Int32] = []
        var diagnostics: [SeccompPolicyDiagnostic] = []
        for rule in policy.rules {
            let nr = seccomp_syscall_resolve_name(rule.syscall)
            if nr == -1 {  // __NR_SCMP_ERROR
                diagnostics.append(
                    SeccompPolicyDiagnostic(
                        file: policy.file, line: rule.line,
                        problem: "unknown syscall `\(rule.syscall)` on this architecture",
                        fix: "check the spelling against syscalls(2) for x86_64, or delete the line"))
            }
            numbers.append(nr)
        }
        if !diagnostics.isEmpty { throw SeccompPolicyError(diagnostics: diagnostics) }
        return numbers
    }

    private static func openChecked(_ path: String) throws -> Int32 {
        do { return try Files.openTrusted(path) } catch { throw PolicyFileError(error, file: path) }
    }
}

/// A compiled libseccomp filter context, not yet loaded. Owns the context.
public final class SeccompFilter {
    /// The scmp_filter_ctx.
    let context: scmp_filter_ctx

    /// Builds the filter for `policy`: seccomp_init(3) with the default action, one
    /// seccomp_rule_add(3) per rule, SCMP_FLTATR_CTL_TSYNC on (the filter reaches every thread
    /// or loading fails), then seccomp_export_bpf(3) to /dev/null so BPF generation errors
    /// surface now, before any privilege change, not at load time.
    /// - Throws: `SeccompPolicyError` naming the file:line of the rule libseccomp refused, or a
    ///   diagnostic at line 0 for context-wide failures.
    public init(policy: SeccompPolicy) throws {
        let numbers = try SeccompPolicyFile.resolveNames(policy)
        guard let ctx = seccomp_init(Self.action(policy.defaultAction)) else {
            throw Self.error(policy, 0, "seccomp_init failed", "check the default action")
        }
        context = ctx
        for (rule, nr) in zip(policy.rules, numbers) {
            let act = Self.action(rule.action)
            let cmps = rule.conditions.map(Self.comparison)
            let rc: Int32
            switch cmps.count {
            case 0: rc = borgpull_seccomp_rule_add0(ctx, act, nr)
            case 1: rc = borgpull_seccomp_rule_add1(ctx, act, nr, cmps[0])
            default: rc = borgpull_seccomp_rule_add2(ctx, act, nr, cmps[0], cmps[1])
            }
            if rc != 0 {
                throw Self.error(
                    policy, rule.line, "libseccomp refused the rule for `\(rule.syscall)`: \(errnoText(-rc))",
                    "simplify the entry's conditions or action")
            }
        }
        var rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)
        if rc != 0 {
            throw Self.error(policy, 0, "cannot set SCMP_FLTATR_CTL_TSYNC: \(errnoText(-rc))", "use a kernel with seccomp TSYNC (3.17+)")
        }
        // Binary-tree dispatch on the syscall number instead of a linear chain (libseccomp 2.5+):
        // the cost per syscall grows with log(rules), not with the length of the policy.
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        if rc != 0 {
            throw Self.error(policy, 0, "cannot set SCMP_FLTATR_CTL_OPTIMIZE: \(errnoText(-rc))", "use libseccomp 2.5 or later")
        }
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard devnull >= 0 else {
            throw Self.error(policy, 0, "cannot open /dev/null: \(errnoText())", "provide /dev/null")
        }
        defer { close(devnull) }
        rc = seccomp_export_bpf(ctx, devnull)
        if rc != 0 {
            throw Self.error(policy, 0, "libseccomp cannot generate the filter: \(errnoText(-rc))", "simplify the policy")
        }
    }

    deinit { seccomp_release(context) }

    /// seccomp_load(3): installs the filter (on every thread, TSYNC). Needs no_new_privs or
    /// CAP_SYS_ADMIN. Returns 0 or a negative errno.
    public func load() -> Int32 { seccomp_load(context) }

    static func action(_ a: SeccompAction) -> UInt32 {
        switch a {
        case .allow: return borgpull_scmp_act_allow()
        case .log: return borgpull_scmp_act_log()
        case .killProcess: return borgpull_scmp_act_kill_process()
        case .killThread: return borgpull_scmp_act_kill_thread()
        case .trap: return borgpull_scmp_act_trap()
        case .errno(let e): return borgpull_scmp_act_errno(UInt16(clamping: e))
        }
    }

    static func comparison(_ c: SeccompCondition) -> scmp_arg_cmp {
        let op: scmp_compare
        var a = c.value
        var b: UInt64 = 0
        switch c.comparison {
        case .equal: op = SCMP_CMP_EQ
        case .notEqual: op = SCMP_CMP_NE
        case .less: op = SCMP_CMP_LT
        case .lessOrEqual: op = SCMP_CMP_LE
        case .greater: op = SCMP_CMP_GT
        case .greaterOrEqual: op = SCMP_CMP_GE
        case .maskedEqual(let mask):
            op = SCMP_CMP_MASKED_EQ
            a = mask
            b = c.value
        }
        return borgpull_scmp_cmp(UInt32(c.argument), Int32(op.rawValue), a, b)
    }

    static func error(_ p: SeccompPolicy, _ line: Int, _ problem: String, _ fix: String) -> SeccompPolicyError {
        SeccompPolicyError(diagnostics: [SeccompPolicyDiagnostic(file: p.file, line: line, problem: problem, fix: fix)])
    }
}

/// strerror(3) text of an errno value (default: the current errno).
func errnoText(_ e: Int32 = errno) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return String(cString: s)
}
