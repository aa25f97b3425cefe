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

/* posix_spawn_file_actions_addclosefrom_np(3), glibc >= 2.34: close every fd >= lowfd in the child. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int lowfd);
/* posix_spawn_file_actions_addchdir_np(3), glibc >= 2.29. */
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);

/* pipe2(2), declared under _GNU_SOURCE only. */
extern int pipe2(int pipefd[2], int flags);

/* struct ucred of socket(7) SO_PEERCRED, declared under _GNU_SOURCE only. */
struct bp_ucred { int pid; unsigned int uid; unsigned int gid; };
static inline int bp_peer_cred(int fd, struct bp_ucred *out) {
    socklen_t len = sizeof(*out);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len);
}
/* PR_SET_CHILD_SUBREAPER (prctl(2), Linux 3.4): orphaned descendants (a `borg serve` whose socat
 * parent died first) are re-parented to this process instead of PID 1, so borgpull-server can
 * reap them; some container inits never reap, which would leave zombies behind. */
static inline int bps_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL);
}
#endif
