// Landlock on the running kernel: the OS half of BorgPullCore's `LandlockRuleset`.
// Sources: kernel Documentation/userspace-api/landlock.rst, landlock(7),
// landlock_create_ruleset(2), landlock_add_rule(2), landlock_restrict_self(2).

import BorgPullCore
import CLinux
import Glibc

public enum Landlock {
    /// The kernel's Landlock ABI version (1 = Linux 5.13 ... 7 = Linux 6.15), from
    /// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`.
    /// - Returns: the version, or nil when Landlock cannot be used here: ENOSYS (not built in),
    ///   EOPNOTSUPP (built in, but not in the active LSM list), or EPERM (a seccomp filter this
    ///   process inherited refuses the call, e.g. systemd-nspawn's allow-list in a container; the
    ///   filter binds every descendant too, so borg could not apply a ruleset either).
    /// - Throws: `SystemError` for any other errno (nothing is assumed about such a kernel).
    public static func abiVersion() throws(SystemError) -> Int? {
        let v = borgpull_landlock_abi_version()
        if v >= 1 { return Int(v) }
        let e = errno
        if e == ENOSYS || e == EOPNOTSUPP || e == EPERM { return nil }
        throw SystemError("landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION)", errno: e)
    }

    /// Enforces `ruleset` on the calling thread and everything it execs; irreversible.
    ///
    /// Creates the ruleset (`handled_access_fs` = `ruleset.handled`), adds one
    /// LANDLOCK_RULE_PATH_BENEATH rule per entry (the path opened O_PATH|O_CLOEXEC|O_NOFOLLOW, a
    /// directory rule with O_DIRECTORY and checked to be a real directory, a device rule checked
    /// to be a character device), then calls landlock_restrict_self. Needs no_new_privs (or
    /// CAP_SYS_ADMIN); call it in a single-threaded process (Landlock restricts only the calling
    /// thread). Every descriptor it opens is closed again.
    /// - Throws: `SystemError` naming the call and the path (with the fix for a path that is not
    ///   what it must be). On a throw nothing is enforced: the caller must not go on to run borg.
    public static func enforce(_ ruleset: LandlockRuleset) throws(SystemError) {
        var attr = landlock_ruleset_attr(handled_access_fs: ruleset.handled.rawValue)
        let rulesetFD = borgpull_landlock_create_ruleset(&attr, MemoryLayout<landlock_ruleset_attr>.size, 0)
        if rulesetFD < 0 { throw SystemError("landlock_create_ruleset(handled \(ruleset.handled))") }
        defer { close(rulesetFD) }
        for rule in ruleset.rules {
            let directory = rule.kind == .directory
            let fd = open(rule.path, borgpull_o_path() | O_CLOEXEC | O_NOFOLLOW | (directory ? O_DIRECTORY : 0))
            if fd < 0 {
                let e = errno
                let fix =
                    directory
                    ? "it must be a real directory, not a symlink (run SETUP as root: it creates the state directory)"
                    : "it must be the character device \(rule.path) (mknod -m 0666 \(rule.path) c 1 3)"
                throw SystemError("open \(rule.path) for a Landlock rule (\(fix))", errno: e)
            }
            defer { close(fd) }
            var st = stat()
            if fstat(fd, &st) != 0 { throw SystemError("fstat", path: rule.path) }
            let type = st.st_mode & S_IFMT
            if type != (directory ? S_IFDIR : S_IFCHR) {
                throw SystemError(
                    "Landlock rule for \(rule.path): not a \(directory ? "directory" : "character device")",
                    errno: directory ? ENOTDIR : ENODEV)
            }
            if borgpull_landlock_add_path_rule(rulesetFD, fd, rule.access.rawValue) != 0 {
                throw SystemError("landlock_add_rule(\(rule.access)) beneath", path: rule.path)
            }
        }
        if borgpull_landlock_restrict_self(rulesetFD) != 0 { throw SystemError("landlock_restrict_self") }
    }
}
