/* Linux interfaces borgpull-server needs that Swift cannot call directly (prctl(2) is variadic).
 * Declarations and static inline wrappers only: no code is compiled into a C target. */
#ifndef BORGPULL_CSERVERSUPPORT_SHIM_H
#define BORGPULL_CSERVERSUPPORT_SHIM_H
#include <sys/prctl.h>

/* PR_SET_CHILD_SUBREAPER (Linux 3.4): orphaned descendants (a `borg serve` whose socat parent
 * died first) are re-parented to this process instead of PID 1, so the server can reap them.
 * Some container inits never reap, which would leave zombies behind. */
static inline int bps_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL);
}
#endif
