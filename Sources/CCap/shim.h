// System-library shim for libcap (Debian package libcap-dev) and prctl(2).
// prctl(2) is variadic, which Swift cannot call: these static inline wrappers give each use a
// fixed signature. No logic lives here. See capabilities(7), prctl(2).
#ifndef BORGPULL_CCAP_SHIM_H
#define BORGPULL_CCAP_SHIM_H

#include <sys/capability.h>
#include <sys/prctl.h>
#include <linux/securebits.h>
#include <sys/types.h>

/// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0): execve can never again grant privileges.
static inline int borgpull_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L); }
/// prctl(PR_GET_NO_NEW_PRIVS): 1 when set, 0 when not, -1 on error.
static inline int borgpull_get_no_new_privs(void) { return prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L); }

/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` when the parent (the client) dies.
static inline int borgpull_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0L, 0L, 0L); }
/// prctl(PR_SET_KEEPCAPS, flag): keep the permitted set across a change away from uid 0.
static inline int borgpull_set_keepcaps(int flag) { return prctl(PR_SET_KEEPCAPS, (unsigned long)flag, 0L, 0L, 0L); }

/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0).
static inline int borgpull_cap_ambient_clear_all(void) {
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L);
}
/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0): cap must be in permitted and inheritable.
static inline int borgpull_cap_ambient_raise(unsigned long cap) {
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0L, 0L);
}
/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0): 1 set, 0 not set, -1 error.
static inline int borgpull_cap_ambient_is_set(unsigned long cap) {
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0L, 0L);
}

/// prctl(PR_CAPBSET_DROP, cap): remove cap from the bounding set (needs CAP_SETPCAP).
static inline int borgpull_capbset_drop(unsigned long cap) { return prctl(PR_CAPBSET_DROP, cap, 0L, 0L, 0L); }
/// prctl(PR_CAPBSET_READ, cap): 1 if cap is in the bounding set, 0 if not, -1 (EINVAL) past the last cap.
static inline int borgpull_capbset_read(unsigned long cap) { return prctl(PR_CAPBSET_READ, cap, 0L, 0L, 0L); }

/// prctl(PR_SET_SECUREBITS, bits) (needs CAP_SETPCAP); prctl(PR_GET_SECUREBITS).
static inline int borgpull_set_securebits(unsigned long bits) { return prctl(PR_SET_SECUREBITS, bits, 0L, 0L, 0L); }
static inline int borgpull_get_securebits(void) { return prctl(PR_GET_SECUREBITS, 0L, 0L, 0L, 0L); }

/// The securebits values from <linux/securebits.h> (macros built from shifts Swift may not import).
static inline unsigned long borgpull_secbit_noroot(void) { return SECBIT_NOROOT; }
static inline unsigned long borgpull_secbit_noroot_locked(void) { return SECBIT_NOROOT_LOCKED; }
static inline unsigned long borgpull_secbit_no_setuid_fixup(void) { return SECBIT_NO_SETUID_FIXUP; }
static inline unsigned long borgpull_secbit_no_setuid_fixup_locked(void) { return SECBIT_NO_SETUID_FIXUP_LOCKED; }
static inline unsigned long borgpull_secbit_keep_caps(void) { return SECBIT_KEEP_CAPS; }
static inline unsigned long borgpull_secbit_keep_caps_locked(void) { return SECBIT_KEEP_CAPS_LOCKED; }
static inline unsigned long borgpull_secbit_no_cap_ambient_raise(void) { return SECBIT_NO_CAP_AMBIENT_RAISE; }
static inline unsigned long borgpull_secbit_no_cap_ambient_raise_locked(void) { return SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED; }

/// setresuid(2)/setresgid(2)/getresuid(2)/getresgid(2): glibc declares them only under
/// _GNU_SOURCE, which a module header cannot set for the already-built Glibc module. glibc's
/// wrappers apply the change to every thread of the process.
static inline int borgpull_setresuid(uid_t r, uid_t e, uid_t s) {
    extern int setresuid(uid_t, uid_t, uid_t);
    return setresuid(r, e, s);
}
static inline int borgpull_setresgid(gid_t r, gid_t e, gid_t s) {
    extern int setresgid(gid_t, gid_t, gid_t);
    return setresgid(r, e, s);
}
static inline int borgpull_getresuid(uid_t *r, uid_t *e, uid_t *s) {
    extern int getresuid(uid_t *, uid_t *, uid_t *);
    return getresuid(r, e, s);
}
static inline int borgpull_getresgid(gid_t *r, gid_t *e, gid_t *s) {
    extern int getresgid(gid_t *, gid_t *, gid_t *);
    return getresgid(r, e, s);
}

#endif
