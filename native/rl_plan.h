/* The plan: how rl's Python side hands work to its small C executables (_rl_boot, _rl_exec).
 *
 * Wire format: a sequence of NUL-terminated tokens read from one file descriptor until EOF,
 * taken in pairs: key, value, key, value... Keys are short ASCII words ("arg", "env", "cwd",
 * "mount"...); a key may repeat (lists keep their order); values are any bytes but NUL (numbers
 * in decimal). The Python side builds it with rootless.runtime.plan.encode(). Nothing is escaped
 * and nothing is nested: a structured value (a mount) is several keys in a row, documented by
 * the executable that reads it.
 *
 * Functions return 0 or -errno; the plan owns its buffer (rl_plan_free). */
#ifndef RL_PLAN_H
#define RL_PLAN_H

#include <stddef.h>

struct rl_plan {
    char *buf;            /* every token, NUL-terminated, back to back */
    char *more;           /* the tokens rl_plan_extend added */
    size_t n;             /* number of pairs */
    const char **keys;    /* keys[i], values[i]: pair i, in the order written */
    const char **values;
};

/* Read the plan from `fd` until EOF (the fd is left open). */
int rl_plan_read(int fd, struct rl_plan *plan);
void rl_plan_free(struct rl_plan *plan);
/* Append the pairs read from `fd` until EOF (once per plan): a plan handed over in two parts, the
 * second when the reader is ready for it. Pairs already there come first for rl_plan_get. */
int rl_plan_extend(int fd, struct rl_plan *plan);

/* The value of the first pair with `key` at or after pair `from`, or NULL; *at (if not NULL) gets
 * its index. */
const char *rl_plan_find(const struct rl_plan *plan, const char *key, size_t from, size_t *at);
static inline const char *rl_plan_get(const struct rl_plan *plan, const char *key)
{
    return rl_plan_find(plan, key, 0, NULL);
}
/* The value of `key` as a decimal (or 0x hex, or 0 octal) integer; `dflt` when absent or not a
 * number. */
long long rl_plan_int(const struct rl_plan *plan, const char *key, long long dflt);
/* Every value of `key`, in order, as a NULL-terminated array (malloc'd; the strings are the
 * plan's); NULL when out of memory. *count (if not NULL) gets how many. */
const char **rl_plan_all(const struct rl_plan *plan, const char *key, size_t *count);

#endif
