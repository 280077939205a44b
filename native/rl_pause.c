/* _rl_pause: rl's pause process, which keeps a user namespace for the containers of a user with
 * subordinate ids (rootless/engine/pause.py; podman keeps one the same way). Started by rl as
 *
 *     _rl_pause READY_FD SYNC_FD WATCH
 *
 * in its own session (posix_spawn with setsid) and stdio on /dev/null. It makes a new user
 * namespace (unshare: it stays in the host's other namespaces), writes "R" on READY_FD, and waits
 * for one byte on SYNC_FD: rl has written the namespace's uid/gid maps with newuidmap/newgidmap
 * ("G"), or failed (anything else, or EOF: exit 1). Then it sleeps, waking every few seconds to
 * exit when WATCH (the file naming it, in rl's run directory) is gone or names another process:
 * the store was reset or the run directory deleted. SIGTERM ends it. Each container joins its
 * namespace (config.json: a user namespace by path) instead of making one, which spares every
 * `rl run` the two setuid helpers (~4 ms here). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_SECONDS 3

/* WATCH still exists and names this process ({"pid": N, ...} as pause.py writes it). */
static int still_named(const char *watch, pid_t self)
{
    char buf[512];
    FILE *f = fopen(watch, "re");
    if (!f)
        return errno != ENOENT && errno != ENOTDIR;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "\"pid\":");
    if (!p)
        return 1; /* being rewritten: ask again next time */
    return strtol(p + 6, NULL, 10) == (long)self;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: _rl_pause READY_FD SYNC_FD WATCH (run by rl, not by hand)\n");
        return 2;
    }
    int ready = atoi(argv[1]), sync = atoi(argv[2]);
    const char *watch = argv[3];
    prctl(PR_SET_NAME, "rl-pause", 0, 0, 0);
    if (unshare(CLONE_NEWUSER) != 0) {
        dprintf(ready, "F unshare(CLONE_NEWUSER): %s", strerror(errno));
        return 1;
    }
    if (write(ready, "R", 1) != 1)
        return 1;
    close(ready);
    char go = 0;
    ssize_t got;
    do
        got = read(sync, &go, 1);
    while (got < 0 && errno == EINTR);
    close(sync);
    if (got != 1 || go != 'G')
        return 1;
    pid_t self = getpid();
    for (;;) {
        sleep(WATCH_SECONDS);
        if (!still_named(watch, self))
            return 0;
    }
}
