// The ordered, fail-closed privilege drop that runs right before borg is exec'd.
// Sources: credentials(7), capabilities(7), prctl(2), seccomp(2), setresuid(2), setgroups(2),
// cap_set_proc(3), seccomp_load(3), landlock(7).

import BorgPullCore
import CCap
import CSeccomp
import Glibc

public enum Sandbox {
    /// The securebits left locked on the sandboxed process (see capabilities(7), "The securebits
    /// flags"): uid 0 gets no special capability treatment on exec (NOROOT), uid changes never
    /// touch capability sets (NO_SETUID_FIXUP), KEEP_CAPS is off and cannot be turned on, ambient
    /// capabilities can no longer be raised; each flag locked so no descendant can undo it.
    public static var lockedSecurebits: UInt {
        borgpull_secbit_noroot() | borgpull_secbit_noroot_locked()
            | borgpull_secbit_no_setuid_fixup() | borgpull_secbit_no_setuid_fixup_locked()
            | borgpull_secbit_keep_caps_locked()
            | borgpull_secbit_no_cap_ambient_raise() | borgpull_secbit_no_cap_ambient_raise_locked()
    }

    /// Drops to the plan's runner and execs `executable`; never returns.
    ///
    /// Call it only in a freshly exec'd, single-threaded process that is root with a full
    /// capability set (the client's internal `sandbox-exec` command). Steps, in order (each
    /// verified where cheap); the first failure prints `borgpull: sandbox step <name> failed:
    /// <errno text>` to stderr, writes the step number as one byte to `statusFD` (if given) and
    /// `_exit`s with `SandboxStep.exitStatus` (100 + step; table on `SandboxStep`):
    ///
    ///  0 arguments, 1 policy (compile), 2 runner (exists), 3 setgroups, 4 setresgid, 5 keepcaps,
    ///  6 setresuid, 7 capabilities, 8 ambient, 9 bounding, 10 securebits, 11 trim,
    ///  12 no_new_privs, 13 landlock, 14 seccomp, 15 execve.
    ///
    /// - Parameters:
    ///   - plan: runner uid/gid/groups, kept capabilities, writable directories and LANDLOCK
    ///     mode, the policy (already parsed and linted).
    ///   - executable: absolute path, exec'd without PATH search.
    ///   - argv: the full argv including argv[0].
    ///   - environment: `KEY=value` strings, passed to execve as is.
    ///   - statusFD: optional fd to report a failed step on; made close-on-exec here, so the
    ///     parent reads EOF once execve succeeded.
    public static func applyAndExec(
        plan: SandboxPlan, executable: String, argv: [String],
        environment: [String], statusFD: Int32? = nil
    ) -> Never {
        var step = Step(statusFD: statusFD)
        let parentAtStart = getppid()

        // 0 arguments: everything execve needs is built now, so nothing after the seccomp load
        // allocates or can fail except execve itself. The status fd must not leak into borg.
        step.current = .arguments
        if let fd = statusFD, fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 { step.fail() }
        do { try plan.validate() } catch { step.fail(detail: "\(error)") }
        if !executable.hasPrefix("/") { step.fail(detail: "executable \(executable) is not an absolute path") }
        if argv.isEmpty { step.fail(detail: "empty argv") }
        if threadCount() != 1 {
            // Capability sets are per thread; a second thread would keep root's until execve.
            step.fail(detail: "process has \(threadCount()) threads, expected 1")
        }
        let cArgv = CStringArray(argv)
        let cEnv = CStringArray(environment)
        let kept = plan.keptCapabilities.map { cap_value_t(Int32($0.rawValue)) }

        // 1 policy: compile before any change, so a bad policy fails while nothing has happened.
        step.current = .policy
        let filter: SeccompFilter
        do { filter = try SeccompFilter(policy: plan.policy) } catch { step.fail(detail: "\(error)") }

        // 2 runner: the uid and gid must be real accounts (a typo must not run borg as a stray id).
        step.current = .runner
        if getpwuid(plan.runnerUID) == nil { step.fail(detail: "no user with uid \(plan.runnerUID)") }
        if getgrgid(plan.runnerGID) == nil { step.fail(detail: "no group with gid \(plan.runnerGID)") }

        // 3 setgroups: exactly the plan's groups; root's supplementary groups must not survive.
        step.current = .setgroups
        var groups = plan.supplementaryGIDs.map { gid_t($0) }
        if setgroups(groups.count, &groups) != 0 { step.fail() }
        var got = [gid_t](repeating: 0, count: max(groups.count, 1) + 64)
        let n = getgroups(Int32(got.count), &got)
        if n < 0 { step.fail() }
        if Set(got[0..<Int(n)]) != Set(groups) { step.fail(detail: "getgroups returned \(got[0..<Int(n)])") }

        // 4 setresgid: real, effective and saved gid, while we still have CAP_SETGID.
        step.current = .setresgid
        let g = gid_t(plan.runnerGID)
        if borgpull_setresgid(g, g, g) != 0 { step.fail() }
        var rg = gid_t(), eg = gid_t(), sg = gid_t()
        if borgpull_getresgid(&rg, &eg, &sg) != 0 || rg != g || eg != g || sg != g {
            step.fail(detail: "getresgid returned \(rg)/\(eg)/\(sg)")
        }

        // 5 keepcaps: keep the permitted set across the uid change (capabilities(7) "Effect of
        // user ID changes"); without it leaving uid 0 clears every set.
        step.current = .keepcaps
        if borgpull_set_keepcaps(1) != 0 { step.fail() }
        if UInt(bitPattern: Int(borgpull_get_securebits())) & borgpull_secbit_keep_caps() == 0 {
            step.fail(detail: "SECBIT_KEEP_CAPS not set")
        }

        // 6 setresuid: real, effective and saved uid; no way back to 0 afterwards.
        step.current = .setresuid
        let u = uid_t(plan.runnerUID)
        if borgpull_setresuid(u, u, u) != 0 { step.fail() }
        var ru = uid_t(), eu = uid_t(), su = uid_t()
        if borgpull_getresuid(&ru, &eu, &su) != 0 || ru != u || eu != u || su != u {
            step.fail(detail: "getresuid returned \(ru)/\(eu)/\(su)")
        }
        // A restore stays uid 0 (its files and base directory are root's): what limits it is the
        // capability set below, the locked securebits (NOROOT: uid 0 gains nothing on exec),
        // Landlock and its own seccomp policy.
        if plan.purpose == .backup, borgpull_setresuid(0, 0, 0) == 0 { step.fail(detail: "could regain uid 0") }

        // 7 capabilities: permitted/effective = kept + CAP_SETPCAP (needed for steps 9 and 10
        // only, removed in step 11), inheritable = kept (needed for the ambient raise).
        step.current = .capabilities
        if !setCaps(permitted: kept + [CAP_SETPCAP], inheritable: kept) { step.fail() }

        // 8 ambient: clear, then raise the kept caps so they survive execve of an ordinary
        // (non-setuid, no file caps) binary like python3 as a non-root uid.
        step.current = .ambient
        if borgpull_cap_ambient_clear_all() != 0 { step.fail() }
        for c in kept where borgpull_cap_ambient_raise(UInt(c)) != 0 { step.fail() }
        for c in kept where borgpull_cap_ambient_is_set(UInt(c)) != 1 { step.fail(detail: "ambient cap \(c) not set") }

        // 9 bounding: no exec'd file (file caps, setuid) can ever regain a dropped capability.
        step.current = .bounding
        var cap: UInt = 0
        while true {
            let r = borgpull_capbset_read(cap)
            if r < 0 { break }  // EINVAL past the kernel's last capability
            if !kept.contains(cap_value_t(Int32(cap))) {
                if r == 1 && borgpull_capbset_drop(cap) != 0 { step.fail() }
                if borgpull_capbset_read(cap) != 0 { step.fail(detail: "capability \(cap) still in the bounding set") }
            }
            cap += 1
        }
        if cap < 38 { step.fail(detail: "PR_CAPBSET_READ stopped at \(cap)") }

        // 10 securebits: lock the capability rules (KEEP_CAPS off and locked, NOROOT,
        // NO_SETUID_FIXUP, no ambient raise) so nothing in borg's tree can change them.
        step.current = .securebits
        if borgpull_set_securebits(lockedSecurebits) != 0 { step.fail() }
        if UInt(bitPattern: Int(borgpull_get_securebits())) != lockedSecurebits {
            step.fail(detail: "securebits read back as \(borgpull_get_securebits())")
        }

        // 11 trim: drop CAP_SETPCAP; only the kept caps remain in permitted/effective/inheritable.
        step.current = .trim
        if !setCaps(permitted: kept, inheritable: kept) { step.fail() }
        for c in kept where borgpull_cap_ambient_is_set(UInt(c)) != 1 { step.fail(detail: "ambient cap \(c) lost") }

        // 12 no_new_privs: execve can no longer grant privileges (setuid bits, file caps);
        // also what lets an unprivileged process load a seccomp filter.
        step.current = .noNewPrivs
        // Parent-death signal (set here: a uid change clears it): if the client dies (SIGKILL,
        // OOM) borg dies too, instead of running on unsupervised after the run lock is gone and
        // with no post hook. If the client is already gone, stop now.
        if borgpull_set_pdeathsig(SIGKILL) != 0 { step.fail(detail: "PR_SET_PDEATHSIG") }
        if getppid() != parentAtStart { step.fail(detail: "the client (pid \(parentAtStart)) is gone") }
        if borgpull_set_no_new_privs() != 0 { step.fail() }
        if borgpull_get_no_new_privs() != 1 { step.fail(detail: "PR_GET_NO_NEW_PRIVS is not 1") }

        // 13 landlock: the runner reads everything (CAP_DAC_READ_SEARCH); Landlock keeps its
        // writes beneath the plan's directories, so a compromised borg cannot copy what it read
        // into /tmp, /dev/shm or any other world-writable place for a local user to pick up.
        // After no_new_privs (landlock_restrict_self needs it without CAP_SYS_ADMIN), before
        // seccomp (so the filter need not allow the landlock syscalls). Any failure stops here:
        // a half-built ruleset is never enforced and borg never runs without the one decided.
        step.current = .landlock
        let abi: Int?
        do { abi = try Landlock.abiVersion() } catch { step.fail(errno: error.errno, detail: "\(error)") }
        switch plan.landlock.decide(abi: abi, writableDirectories: plan.writableDirectories) {
        case .apply(let ruleset):
            do { try Landlock.enforce(ruleset) } catch { step.fail(errno: error.errno, detail: "\(error)") }
            StderrLog.plain("borgpull: \(ruleset.summary)")
        case .runWithout(let warning):
            StderrLog.plain("borgpull: warning: \(warning)")
        case .refuse(let text):
            step.fail(detail: text)
        }

        // 14 seccomp: last, so the filter need not allow any of the calls above (TSYNC: all threads).
        step.current = .seccomp
        let rc = filter.load()
        if rc != 0 { step.fail(errno: -rc) }

        // 15 execve: only returns on failure.
        step.current = .execve
        execve(executable, cArgv.pointers, cEnv.pointers)
        step.fail()
    }

    /// `_exit(status)` without running atexit handlers or flushing stdio buffers twice.
    public static func exitNow(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }

    /// Reports a failed step the way `applyAndExec` does (stderr line, status byte, `_exit(100 + step)`);
    /// for callers that fail before reaching it (argument parsing, policy file loading).
    public static func fail(step: SandboxStep, detail: String, statusFD: Int32?) -> Never {
        var s = Step(statusFD: statusFD)
        s.current = step
        s.fail(detail: detail)
    }

    /// Sets permitted = effective = `permitted`, inheritable = `inheritable` (cap_set_proc(3)),
    /// then reads the sets back and compares.
    static func setCaps(permitted: [cap_value_t], inheritable: [cap_value_t]) -> Bool {
        guard let caps = cap_init() else { return false }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var p = permitted, i = inheritable
        if !p.isEmpty {
            if cap_set_flag(caps, CAP_PERMITTED, Int32(p.count), &p, CAP_SET) != 0 { return false }
            if cap_set_flag(caps, CAP_EFFECTIVE, Int32(p.count), &p, CAP_SET) != 0 { return false }
        }
        if !i.isEmpty, cap_set_flag(caps, CAP_INHERITABLE, Int32(i.count), &i, CAP_SET) != 0 { return false }
        if cap_set_proc(caps) != 0 { return false }
        guard let now = cap_get_proc() else { return false }
        defer { cap_free(UnsafeMutableRawPointer(now)) }
        if cap_compare(caps, now) != 0 {
            errno = EPERM
            return false
        }
        return true
    }

    /// Entries in /proc/self/task (threads of this process), or -1 if unreadable.
    static func threadCount() -> Int {
        guard let dir = opendir("/proc/self/task") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }

    /// Reports a failed step and exits; holds the current step. Its lines go out through
    /// `StderrLog.plain`, a bare write(2): this child is single-threaded, has no logging set up
    /// and may be past the privilege drop, so nothing else may run here.
    struct Step {
        let statusFD: Int32?
        var current = SandboxStep.arguments

        /// Writes `borgpull: sandbox step NAME failed: TEXT` and `_exit(100 + step)`.
        func fail(errno e: Int32 = errno, detail: String? = nil) -> Never {
            let text = detail ?? errnoText(e)
            StderrLog.plain("borgpull: sandbox step \(current) failed: \(text)")
            if let fd = statusFD {
                var byte = UInt8(truncatingIfNeeded: current.rawValue)
                _ = write(fd, &byte, 1)
            }
            _exit(current.exitStatus)
        }
    }
}

/// A NULL-terminated array of C strings that lives as long as the value.
final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { (pointers + i).initialize(to: strdup(s)) }
        (pointers + strings.count).initialize(to: nil)
    }

    deinit {
        for i in 0..<count { free(pointers[i]) }
        pointers.deallocate()
    }
}
