/* Linux/glibc interfaces the Swift Glibc module does not show (it is built without _GNU_SOURCE)
 * or cannot call (variadic prctl). Declarations and static inline wrappers only: no C target. */
#ifndef BORGPULL_CLINUX_SHIM_H
#define BORGPULL_CLINUX_SHIM_H
#include <spawn.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/prctl.h>
/* lgetxattr(2): the access ACL of a directory (borgpull-check's walk for writable directories). */
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>
#include <linux/landlock.h>

/* posix_spawn_file_actions_addclosefrom_np(3), glibc >= 2.34: close every fd >= lowfd in the child. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int lowfd);
/* posix_spawn_file_actions_addchdir_np(3), glibc >= 2.29. */
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);

/* pipe2(2), declared under _GNU_SOURCE only. */
extern int pipe2(int pipefd[2], int flags);

/* memfd_create(2) with MFD_CLOEXEC (declared under _GNU_SOURCE only): an anonymous file that
 * becomes a child's stdin (NOTIFY_COMMAND's JSON, curl's config) of any size, with no name. */
static inline int bp_memfd(const char *name) {
    return (int)syscall(SYS_memfd_create, name, 1U);
}
/* struct ucred of socket(7) SO_PEERCRED, declared under _GNU_SOURCE only. */
struct borgpull_ucred { int pid; unsigned int uid; unsigned int gid; };
static inline int borgpull_peer_cred(int fd, struct borgpull_ucred *out) {
    socklen_t len = sizeof(*out);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len);
}
/* PR_SET_CHILD_SUBREAPER (prctl(2), Linux 3.4): orphaned descendants (a `borg serve` whose socat
 * parent died first) are re-parented to this process instead of PID 1, so borgpull-server can
 * reap them; some container inits never reap, which would leave zombies behind. */
static inline int borgpull_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL);
}
/* pidfd_open(2) (Linux 5.3): a descriptor of the process `pid` that poll(2) reports readable once
 * it has ended; close-on-exec. -1 with errno (ENOSYS on an older kernel, EPERM under a filter). */
static inline int bp_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0U);
}
/* Landlock (kernel Documentation/userspace-api/landlock.rst, landlock(7)): glibc has no wrappers,
 * so these call syscall(2) directly. Each returns what the syscall returns (-1 and errno on
 * failure). The structs come from <linux/landlock.h>; rights newer than the installed header
 * (Debian 12 ships Linux 6.1's, ABI 2) are defined here with the kernel's values. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3, Linux 6.2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5, Linux 6.10 */
#endif
/* O_PATH (open(2)), declared under _GNU_SOURCE only: an fd that names a file without opening it
 * for reading or writing, as landlock_add_rule(2) takes it. */
static inline int borgpull_o_path(void) { return __O_PATH; }
/* landlock_create_ruleset(2): a new ruleset fd (close-on-exec); with attr NULL, size 0 and
 * LANDLOCK_CREATE_RULESET_VERSION, the highest ABI version the kernel supports. */
static inline int borgpull_landlock_create_ruleset(const struct landlock_ruleset_attr *attr, size_t size, unsigned int flags) {
    return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}
/* The ABI version (>= 1), or -1 with errno ENOSYS (kernel without Landlock) or EOPNOTSUPP
 * (built in but disabled at boot, e.g. not in lsm=). */
static inline int borgpull_landlock_abi_version(void) {
    return borgpull_landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}
/* landlock_add_rule(2) with a LANDLOCK_RULE_PATH_BENEATH rule: `allowed` beneath `parent_fd`
 * (an O_PATH fd of a directory, or of a file for file rights only). */
static inline int borgpull_landlock_add_path_rule(int ruleset_fd, int parent_fd, unsigned long long allowed) {
    struct landlock_path_beneath_attr rule = { .allowed_access = allowed, .parent_fd = parent_fd };
    return (int)syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0U);
}
/* landlock_restrict_self(2): enforce the ruleset on this thread (and what it execs); needs
 * no_new_privs (or CAP_SYS_ADMIN). Irreversible. */
static inline int borgpull_landlock_restrict_self(int ruleset_fd) {
    return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0U);
}
#endif
