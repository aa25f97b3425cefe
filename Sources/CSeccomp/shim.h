// System-library shim for libseccomp (Debian package libseccomp-dev).
// seccomp_rule_add(3) is variadic and SCMP_ACT_ERRNO/SCMP_CMP are macros, which Swift cannot
// import: these static inline wrappers give them fixed signatures. No logic lives here.
#ifndef BORGPULL_CSECCOMP_SHIM_H
#define BORGPULL_CSECCOMP_SHIM_H

#include <seccomp.h>
#include <stdint.h>

/// SCMP_ACT_ERRNO(errno): fail the syscall with `err` instead of running it.
static inline uint32_t borgpull_scmp_act_errno(uint16_t err) { return SCMP_ACT_ERRNO(err); }

static inline uint32_t borgpull_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t borgpull_scmp_act_log(void) { return SCMP_ACT_LOG; }
static inline uint32_t borgpull_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
static inline uint32_t borgpull_scmp_act_kill_thread(void) { return SCMP_ACT_KILL_THREAD; }
static inline uint32_t borgpull_scmp_act_trap(void) { return SCMP_ACT_TRAP; }

/// One argument comparison (struct scmp_arg_cmp); `op` is an enum scmp_compare value
/// (SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, ...). For SCMP_CMP_MASKED_EQ, datum_a is the mask.
static inline struct scmp_arg_cmp borgpull_scmp_cmp(unsigned int arg, int op, uint64_t datum_a, uint64_t datum_b) {
    struct scmp_arg_cmp c;
    c.arg = arg;
    c.op = (enum scmp_compare)op;
    c.datum_a = datum_a;
    c.datum_b = datum_b;
    return c;
}

/// seccomp_rule_add(3) with no argument comparison.
static inline int borgpull_seccomp_rule_add0(scmp_filter_ctx ctx, uint32_t action, int syscall) {
    return seccomp_rule_add(ctx, action, syscall, 0);
}

/// seccomp_rule_add(3) with one argument comparison.
static inline int borgpull_seccomp_rule_add1(scmp_filter_ctx ctx, uint32_t action, int syscall,
                                              struct scmp_arg_cmp a) {
    return seccomp_rule_add(ctx, action, syscall, 1, a);
}

/// seccomp_rule_add(3) with two argument comparisons (both must hold).
static inline int borgpull_seccomp_rule_add2(scmp_filter_ctx ctx, uint32_t action, int syscall,
                                              struct scmp_arg_cmp a, struct scmp_arg_cmp b) {
    return seccomp_rule_add(ctx, action, syscall, 2, a, b);
}

#endif
