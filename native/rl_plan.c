/* The plan reader: see rl_plan.h for the wire format. */
#include "rl_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (used == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                return -ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + used, cap - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = errno;
            free(buf);
            return -err;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    buf[used] = '\0'; /* a last token without its NUL still ends */
    *out = buf;
    *len = used;
    return 0;
}

/* Add the pairs of buf[0..len) after the plan's (its arrays grown to hold them). */
static int add_pairs(struct rl_plan *plan, const char *buf, size_t len)
{
    size_t tokens = 0;
    for (size_t i = 0; i < len; i++)
        tokens += buf[i] == '\0';
    if (len && buf[len - 1] != '\0')
        tokens++;
    const char **keys = realloc(plan->keys, (plan->n + tokens / 2 + 1) * sizeof *keys);
    if (keys)
        plan->keys = keys;
    const char **values = realloc(plan->values, (plan->n + tokens / 2 + 1) * sizeof *values);
    if (values)
        plan->values = values;
    if (!keys || !values)
        return -ENOMEM;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *key = p;
        p += strlen(p) + 1;
        if (p >= end)
            break; /* a key without a value: dropped */
        plan->keys[plan->n] = key;
        plan->values[plan->n] = p;
        plan->n++;
        p += strlen(p) + 1;
    }
    return 0;
}

int rl_plan_read(int fd, struct rl_plan *plan)
{
    size_t len = 0;
    memset(plan, 0, sizeof *plan);
    int rc = read_all(fd, &plan->buf, &len);
    if (rc < 0)
        return rc;
    if ((rc = add_pairs(plan, plan->buf, len)) < 0)
        rl_plan_free(plan);
    return rc;
}

int rl_plan_extend(int fd, struct rl_plan *plan)
{
    size_t len = 0;
    if (plan->more)
        return -EEXIST;
    int rc = read_all(fd, &plan->more, &len);
    return rc < 0 ? rc : add_pairs(plan, plan->more, len);
}

void rl_plan_free(struct rl_plan *plan)
{
    free(plan->buf);
    free(plan->more);
    free(plan->keys);
    free(plan->values);
    memset(plan, 0, sizeof *plan);
}

const char *rl_plan_find(const struct rl_plan *plan, const char *key, size_t from, size_t *at)
{
    for (size_t i = from; i < plan->n; i++) {
        if (strcmp(plan->keys[i], key) == 0) {
            if (at)
                *at = i;
            return plan->values[i];
        }
    }
    return NULL;
}

long long rl_plan_int(const struct rl_plan *plan, const char *key, long long dflt)
{
    const char *v = rl_plan_get(plan, key);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 0);
    return (errno || *end) ? dflt : n;
}

const char **rl_plan_all(const struct rl_plan *plan, const char *key, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n; i++)
        n += strcmp(plan->keys[i], key) == 0;
    const char **out = calloc(n + 1, sizeof *out);
    if (!out)
        return NULL;
    n = 0;
    for (size_t i = 0; i < plan->n; i++)
        if (strcmp(plan->keys[i], key) == 0)
            out[n++] = plan->values[i];
    if (count)
        *count = n;
    return out;
}
