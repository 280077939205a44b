/* _rl_boot: the container's first process, started by rootless/runtime/create.py (posix_spawn:
 * no copy of the interpreter) as `_rl_boot <plan fd>`.
 *
 * _rl_boot itself joins the user namespace given by fd (if any), clone()s the container process
 * with CLONE_PARENT and the new namespaces (so the caller stays its parent and reaps it, and it is
 * pid 1 of a new pid namespace), writes "P<pid>\n" on the ready pipe and exits. The container
 * process then does what the Python boot did, in the same order: wait for "G" on the sync pipe
 * (the caller has written the id maps), join the namespaces given by fd, hostname and domainname,
 * lo up, private (or slave) propagation, the rootfs (overlay, fuse-overlayfs, vfs), the mount tree
 * (rl_mounts.c), pivot_root, masked and read-only paths, sysctls, the terminal, "OK <driver>" on
 * the ready pipe (or "E <class>\0<message>\0<hint>"), then it blocks on exec.fifo until `start`
 * and runs the process (rl_process.h) from the same plan.
 *
 * Boot keys of the plan (rl_plan.h; besides the process keys of rl_process.h), numbers decimal:
 *   clone      namespace flags to create          userns    fd of a user namespace to join first
 *   join       repeated "FLAG:FD": other namespaces to join (after "G")
 *   sync, ready, sock   fds: "G" pipe, report pipe, the pty's socket (terminal only)
 *   stdin, stdout, stderr   fds made 0, 1, 2 (absent: inherited)
 *   dir        the container's state directory (exec.fifo, exec.status)
 *   late       fd: the rest of the plan comes there after "G" (create.prepare: _rl_boot started
 *              before the bundle existed); read to EOF and added to the plan
 *   die        1: keep the parent-death signal after "ready"     init   1: rl's tiny init
 *   hostname, domainname   lo   1: bring lo up     private   propagation flags for "/"
 *   root       the rootfs mount point             driver    overlay | fuse-overlayfs | vfs
 *   overlay    kernel overlay options             fuse      fuse-overlayfs options
 *   fusepath   where to look for fuse-overlayfs (PATH-like)   fusedir   the bundled tools' dir
 *   mount      starts one mount: its destination; then m.kind (rl_mount_kind), m.source, m.type,
 *              m.flags, m.prop, m.data
 *   dev        1: /dev is a mount (bind the device nodes)   device   repeated: extra host devices
 *   rootprop   the rootfs's propagation (0: none)
 *   mask, ro   repeated: masked and read-only paths       readonly  1: read-only root
 *   sysctl     repeated: "net/ipv4/ip_forward=1" (under /proc/sys)
 *
 * `_rl_boot --resolve ROOT DEST` prints rl_resolve's answer (for the tests). */
#define _GNU_SOURCE
#include "rl_mounts.h"
#include "rl_plan.h"
#include "rl_process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

struct boot {
    struct rl_plan plan;
    int sync_fd, ready_fd, sock_fd;
    struct rl_err err;
};

static int fd_of(const struct rl_plan *plan, const char *key)
{
    return (int)rl_plan_int(plan, key, -1);
}

/* "E <class>\0<message>\0<hint>" to the caller, then exit 125. */
__attribute__((noreturn)) static void report_and_exit(struct boot *b)
{
    char buf[sizeof b->err + 8];
    int n = snprintf(buf, sizeof buf, "E %s%c%s%c%s", b->err.cls, 0, b->err.msg, 0, b->err.hint);
    if (n > 0)
        rl_write_all(b->ready_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    _exit(125);
}

/* --- the rootfs driver ---------------------------------------------------------------------- */

static int find_fuse(const struct rl_plan *plan, char *out, size_t size)
{
    const char *dirs[2] = {rl_plan_get(plan, "fusepath"), rl_plan_get(plan, "fusedir")};
    for (int i = 0; i < 2; i++) {
        const char *p = dirs[i];
        while (p && *p) {
            size_t len = strcspn(p, ":");
            struct stat st;
            if (len && (size_t)snprintf(out, size, "%.*s/fuse-overlayfs", (int)len, p) < size
                && access(out, X_OK) == 0 && stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
                return 0;
            p += len + (p[len] == ':');
        }
    }
    return -ENOENT;
}

/* Run fuse-overlayfs (it daemonises, inside our pid namespace); 0, or -1 with the last line of
 * its stderr (or its exit status) in `why`. */
static int fuse_overlayfs(const struct rl_plan *plan, const char *root, char *why, size_t size)
{
    char exe[PATH_MAX], out[4096];
    int pipefd[2];
    if (find_fuse(plan, exe, sizeof exe) < 0)
        return snprintf(why, size, "fuse-overlayfs: not installed"), -1;
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return snprintf(why, size, "fuse-overlayfs: pipe: %s", strerror(errno)), -1;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(pipefd[1], 2);
        char *argv[] = {exe, "-o", (char *)rl_plan_get(plan, "fuse"), (char *)root, NULL};
        execve(exe, argv, environ);
        dprintf(2, "exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    size_t used = 0;
    ssize_t n;
    while ((n = read(pipefd[0], out + used, sizeof out - 1 - used)) > 0 || (n < 0 && errno == EINTR))
        used += n > 0 ? (size_t)n : 0;
    close(pipefd[0]);
    out[used] = '\0';
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return snprintf(why, size, "fuse-overlayfs: fork: %s", strerror(errno)), -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    while (used && (out[used - 1] == '\n' || out[used - 1] == ' '))
        out[--used] = '\0';
    char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    if (*last)
        snprintf(why, size, "fuse-overlayfs: %.900s", last);
    else
        snprintf(why, size, "fuse-overlayfs: exit status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
    return -1;
}

/* Mount the rootfs as the plan asks; the driver actually used in *driver. */
static int mount_rootfs(struct boot *b, const char **driver)
{
    const char *want = rl_plan_get(&b->plan, "driver"), *root = rl_plan_get(&b->plan, "root");
    char why[1200] = "", fuse_why[1024];
    *driver = "vfs";
    if (!want || strcmp(want, "vfs") == 0)
        return 0;
    if (rl_mkdirs(root) < 0)
        return rl_fail(&b->err, errno, "mkdir %s", root);
    if (strcmp(want, "overlay") == 0) {
        if (mount("overlay", root, "overlay", 0, rl_plan_get(&b->plan, "overlay")) == 0)
            return *driver = "overlay", 0;
        snprintf(why, sizeof why, "kernel overlay: %s; ", strerror(errno));
    }
    if (fuse_overlayfs(&b->plan, root, fuse_why, sizeof fuse_why) == 0)
        return *driver = "fuse-overlayfs", 0;
    rl_fail(&b->err, 0, "cannot mount the container's root filesystem (%s%s)", why, fuse_why);
    snprintf(b->err.cls, sizeof b->err.cls, "StorageError");
    snprintf(b->err.hint, sizeof b->err.hint, "check that the store is on a local filesystem, or use the vfs driver");
    return -1;
}

/* --- namespaces, network, the mount tree ---------------------------------------------------- */

static int join_namespaces(struct boot *b)
{
    for (size_t at = 0; rl_plan_find(&b->plan, "join", at, &at); at++) {
        int flag = 0, fd = -1;
        if (sscanf(b->plan.values[at], "%i:%i", &flag, &fd) != 2 || setns(fd, flag) < 0)
            return rl_fail(&b->err, errno, "setns");
        close(fd);
    }
    return 0;
}

/* ip link set lo up: a new network namespace has lo down. */
static int loopback_up(struct boot *b)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return rl_fail(&b->err, errno, "socket");
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    int rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    int saved = errno;
    close(s);
    return rc < 0 ? rl_fail(&b->err, saved, "ioctl SIOCSIFFLAGS lo") : 0;
}

/* The mounts of the plan, in order ("mount" starts each). NULL when out of memory. */
static struct rl_mount *plan_mounts(const struct rl_plan *plan, size_t *count)
{
    struct rl_mount *out = calloc(plan->n + 1, sizeof *out), *m = NULL;
    *count = 0;
    for (size_t i = 0; out && i < plan->n; i++) {
        const char *k = plan->keys[i], *v = plan->values[i];
        if (strcmp(k, "mount") == 0) {
            m = &out[(*count)++];
            m->dest = v;
        } else if (m && strncmp(k, "m.", 2) == 0) {
            k += 2;
            if (strcmp(k, "kind") == 0)
                m->kind = (enum rl_mount_kind)atoi(v);
            else if (strcmp(k, "source") == 0)
                m->source = v;
            else if (strcmp(k, "type") == 0)
                m->type = *v ? v : NULL;
            else if (strcmp(k, "data") == 0)
                m->data = *v ? v : NULL;
            else if (strcmp(k, "flags") == 0)
                m->flags = strtoul(v, NULL, 0);
            else if (strcmp(k, "prop") == 0)
                m->propagation = strtoul(v, NULL, 0);
        }
    }
    return out;
}

/* Namespaces, hostname, network, rootfs and mounts up to pivot_root. */
static int setup(struct boot *b, const char **driver)
{
    const struct rl_plan *plan = &b->plan;
    const char *name;
    if (join_namespaces(b) < 0)
        return -1;
    if ((name = rl_plan_get(plan, "hostname")) && sethostname(name, strlen(name)) < 0)
        return rl_fail(&b->err, errno, "sethostname");
    if ((name = rl_plan_get(plan, "domainname")) && setdomainname(name, strlen(name)) < 0)
        return rl_fail(&b->err, errno, "setdomainname");
    if (rl_plan_int(plan, "lo", 0) && loopback_up(b) < 0)
        return -1;
    if (mount(NULL, "/", NULL, (unsigned long)rl_plan_int(plan, "private", MS_REC | MS_PRIVATE), NULL) < 0)
        return rl_fail(&b->err, errno, "mount none on /");
    if (mount_rootfs(b, driver) < 0)
        return -1;
    size_t n = 0;
    struct rl_mount *mounts = plan_mounts(plan, &n);
    const char **devices = rl_plan_all(plan, "device", NULL);
    if (!mounts || !devices)
        return rl_fail(&b->err, ENOMEM, "plan");
    int rc = rl_build(rl_plan_get(plan, "root"), mounts, n, (int)rl_plan_int(plan, "dev", 0), devices,
                      (unsigned long)rl_plan_int(plan, "rootprop", 0), &b->err);
    free(mounts);
    free(devices);
    return rc;
}

static int write_sysctls(struct boot *b)
{
    char path[PATH_MAX];
    for (size_t at = 0; rl_plan_find(&b->plan, "sysctl", at, &at); at++) {
        const char *item = b->plan.values[at], *value = strchr(item, '=');
        if (!value)
            continue;
        snprintf(path, sizeof path, "/proc/sys/%.*s", (int)(value - item), item);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return rl_fail(&b->err, errno, "open %s", path);
        ssize_t n = write(fd, value + 1, strlen(value + 1));
        int saved = errno;
        close(fd);
        if (n < 0)
            return rl_fail(&b->err, saved, "write %s", path);
    }
    return 0;
}

static int pivot_and_finish(struct boot *b)
{
    const char **masked = rl_plan_all(&b->plan, "mask", NULL), **ro = rl_plan_all(&b->plan, "ro", NULL);
    int rc = masked && ro ? 0 : rl_fail(&b->err, ENOMEM, "plan");
    if (rc == 0)
        rc = rl_pivot(rl_plan_get(&b->plan, "root"), &b->err);
    if (rc == 0)
        rc = rl_finish(masked, ro, (int)rl_plan_int(&b->plan, "readonly", 0), &b->err);
    free(masked);
    free(ro);
    return rc == 0 ? write_sysctls(b) : rc;
}

/* --- the terminal --------------------------------------------------------------------------- */

/* A pty of the container's own devpts (after pivot_root: /dev/ptmx is its pts/ptmx); the master
 * goes to the caller over the socket (SCM_RIGHTS), the slave becomes our controlling terminal and
 * stdio (login_tty(3)). */
static int terminal(struct boot *b)
{
    int unlock = 0, master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return rl_fail(&b->err, errno, "open /dev/ptmx");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
        return rl_fail(&b->err, errno, "open the pty's slave");
    char data[] = "pty", control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {data, 3};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
    if (sendmsg(b->sock_fd, &msg, MSG_NOSIGNAL) < 0)
        return rl_fail(&b->err, errno, "sendmsg");
    close(master);
    close(b->sock_fd);
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
        return rl_fail(&b->err, errno, "login_tty");
    for (int fd = 0; fd < 3; fd++)
        dup2(slave, fd);
    if (slave > 2)
        close(slave);
    return 0;
}

/* --- the container process ------------------------------------------------------------------ */

static void stdio(const struct rl_plan *plan)
{
    static const char *const KEYS[3] = {"stdin", "stdout", "stderr"};
    for (int target = 0; target < 3; target++) {
        int fd = fd_of(plan, KEYS[target]);
        if (fd >= 0 && fd != target)
            dup2(fd, target);
    }
    for (int target = 0; target < 3; target++) {   /* the originals do not outlive the exec */
        int fd = fd_of(plan, KEYS[target]);
        if (fd > 2)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
}

/* Block until `start` opens exec.fifo for reading, tell it we are going, then go. */
static void wait_start(int dirfd)
{
    int fd = openat(dirfd, "exec.fifo", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1)
        _exit(125);
    close(fd);
    close(dirfd);
}

__attribute__((noreturn)) static void container(struct boot *b)
{
    const struct rl_plan *plan = &b->plan;
    const char *driver = "vfs";
    char go = 0, ok[64];
    prctl(PR_SET_PDEATHSIG, SIGKILL);      /* a caller that dies before "ready" takes us along */
    stdio(plan);
    if (read(b->sync_fd, &go, 1) != 1 || go != 'G')
        _exit(125);                        /* the caller failed to map us: it reports why */
    close(b->sync_fd);
    int late = fd_of(plan, "late");        /* started early (`prepare`): the rest of the plan */
    if (late >= 0) {
        int rc = rl_plan_extend(late, &b->plan);
        close(late);
        if (rc < 0)
            errno = -rc, rl_fail(&b->err, errno, "reading the container's plan"), report_and_exit(b);
    }
    if (setup(b, &driver) < 0)
        report_and_exit(b);
    int dirfd = open(rl_plan_get(plan, "dir"), O_PATH | O_DIRECTORY | O_CLOEXEC);
    int status_fd = dirfd < 0 ? -1 : openat(dirfd, "exec.status", O_RDWR | O_CLOEXEC);
    if (status_fd < 0)
        rl_fail(&b->err, errno, "open %s/exec.status", rl_plan_get(plan, "dir")), report_and_exit(b);
    if (pivot_and_finish(b) < 0 || (b->sock_fd >= 0 && terminal(b) < 0))
        report_and_exit(b);
    if (!rl_plan_int(plan, "die", 0))
        prctl(PR_SET_PDEATHSIG, 0);
    int n = snprintf(ok, sizeof ok, "OK %s", driver);
    rl_write_all(b->ready_fd, ok, (size_t)n);
    close(b->ready_fd);
    wait_start(dirfd);
    if (rl_plan_int(plan, "init", 0))
        rl_process_init(plan, status_fd);
    rl_process_exec(plan, status_fd);
}

/* Errors before the clone: "F <message>\0<hint>", raised as they are by the caller. */
__attribute__((noreturn)) static void early_fail(int ready_fd, const char *what, const char *hint)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "F %s: %s%c%s", what, strerror(errno), 0, hint);
    rl_write_all(ready_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    _exit(125);
}

static int resolve_main(const char *root, const char *dest)
{
    char out[PATH_MAX];
    struct rl_err err;
    if (rl_resolve(root, dest, out, sizeof out, &err) < 0) {
        printf("%s\n", err.msg);
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    struct boot b = {0};
    if (argc == 4 && strcmp(argv[1], "--resolve") == 0)
        return resolve_main(argv[2], argv[3]);
    if (argc != 2 || rl_plan_read(atoi(argv[1]), &b.plan) < 0) {
        fprintf(stderr, "usage: _rl_boot PLAN_FD (run by rl)\n");
        return 125;
    }
    close(atoi(argv[1]));
    b.sync_fd = fd_of(&b.plan, "sync");
    b.ready_fd = fd_of(&b.plan, "ready");
    b.sock_fd = fd_of(&b.plan, "sock");
    for (size_t i = 0; i < b.plan.n; i++)   /* none of the fds of the plan outlives the exec */
        if (strcmp(b.plan.keys[i], "sync") == 0 || strcmp(b.plan.keys[i], "ready") == 0
            || strcmp(b.plan.keys[i], "sock") == 0 || strcmp(b.plan.keys[i], "userns") == 0
            || strcmp(b.plan.keys[i], "late") == 0)
            fcntl(atoi(b.plan.values[i]), F_SETFD, FD_CLOEXEC);
    int userns = fd_of(&b.plan, "userns");
    if (userns >= 0 && setns(userns, CLONE_NEWUSER) < 0)
        early_fail(b.ready_fd, "cannot join the user namespace: setns", "");
    unsigned long flags = (unsigned long)rl_plan_int(&b.plan, "clone", 0);
    long pid = syscall(SYS_clone, flags | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        container(&b);
    if (pid < 0)
        early_fail(b.ready_fd, "cannot create the container's namespaces",
                   "check user.max_user_namespaces and kernel.unprivileged_userns_clone "
                   "(rl info shows what this host allows)");
    dprintf(b.ready_fd, "P%ld\n", pid);
    return 0;
}
