/* _rl_exec: run a process in a running container (`rl exec`), the C form of what
 * rootless/runtime/exec.py did in a forked interpreter.
 *
 * Usage: _rl_exec PLAN_FD. The plan (rl_plan.h) holds the process (rl_process.h's keys) and:
 *   pid      the container's process, whose namespaces are joined
 *   start    its start time (/proc/PID/stat field 22): a pid that exited or was reused is never
 *            joined
 *   id       the container's id, for docker's "container <id> is not running"
 *   tty      1: a pty is made in the container (its devpts) and becomes the process's controlling
 *            terminal; its master is sent (SCM_RIGHTS, payload "pty") over the unix socket `sock`
 *   sock     fd of that socket (with tty)
 *   detach   1: exit 0 as soon as the process runs, without waiting for it
 *   stdin, stdout, stderr
 *            fds that become the process's 0, 1 and 2 (without tty; absent: this process's own)
 *   report   fd for a failure report, "<code>\n<message>" ("gone\n" when `pid` is not the process
 *            that started at `start`); without it, failures are printed as rl prints errors
 *            ("Error: <message>" on stderr) and this process exits with the code: what the
 *            `rl exec` process that execs into this one would have done
 *
 * The namespaces are opened through /proc/PID (a directory fd), the start time read before and
 * after, those that are not already ours are joined in exec.py's order: user first (it grants
 * the capabilities the other joins need), mnt last (setns into it moves root and cwd to the
 * container's root). A pid namespace applies to children only: the process is a fork, which
 * applies the settings and execs (rl_process_exec), reporting 125/126/127 over a CLOEXEC pipe.
 * This process forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT and
 * SIGALRM to it, and exits with its code (128+N after signal N), as docker exec does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmp.h>

#include "rl_plan.h"
#include "rl_process.h"

static const struct {
    const char *name;
    int flag;
} ORDER[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
};
#define NS_COUNT (sizeof ORDER / sizeof *ORDER)

static int report_fd = -1;
static const char *container_id = "";

/* A failure of the exec, reported the way the caller asked; never returns. */
__attribute__((noreturn)) static void fail(int code, const char *message)
{
    char buf[4200];
    int n;
    if (report_fd >= 0) {
        n = snprintf(buf, sizeof buf, "%d\n%s", code, message);
        rl_write_all(report_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    } else {
        n = snprintf(buf, sizeof buf, "Error: %s\n", message);
        rl_write_all(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
    _exit(code);
}

__attribute__((noreturn)) static void gone(void)
{
    if (report_fd >= 0) {
        rl_write_all(report_fd, "gone\n", 5);
        _exit(1);
    }
    char msg[256];
    snprintf(msg, sizeof msg, "container %s is not running", container_id);
    fail(1, msg); /* errors.ContainerNotRunning: docker's daemon error, exit 1 */
}

__attribute__((noreturn)) static void setup_fail(const char *what, int err)
{
    char msg[512];
    snprintf(msg, sizeof msg, "exec: %s: %s", what, strerror(err));
    fail(125, msg);
}

/* Field 22 of /proc/PID/stat through the open /proc/PID; 0 when gone or a zombie */
static unsigned long long start_time(int proc_dir)
{
    char buf[1024];
    int fd = openat(proc_dir, "stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == 'Z')
        return 0;
    p += 2; /* field 3, the state */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

/* Open the namespaces of `pid` that are not ours (fds[i] = -1 for ours); exits "gone" when pid is
 * not the process that started at `start`. */
static void open_namespaces(long long pid, unsigned long long start, int fds[NS_COUNT])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld", pid);
    int proc_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_dir < 0 || !start || start_time(proc_dir) != start)
        gone();
    for (size_t i = 0; i < NS_COUNT; i++) {
        struct stat theirs, ours;
        char name[32];
        fds[i] = -1;
        snprintf(name, sizeof name, "ns/%s", ORDER[i].name);
        if (fstatat(proc_dir, name, &theirs, 0) < 0) {
            if (errno == ENOENT)
                continue; /* a namespace type this kernel lacks */
            gone();
        }
        snprintf(path, sizeof path, "/proc/self/ns/%s", ORDER[i].name);
        if (stat(path, &ours) == 0 && ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino)
            continue;
        fds[i] = openat(proc_dir, name, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            gone();
    }
    if (start_time(proc_dir) != start) /* still alive: every file opened is its namespace */
        gone();
    close(proc_dir);
}

static void send_fd(int sock, int fd)
{
    char payload[3] = {'p', 't', 'y'};
    struct iovec iov = {payload, sizeof payload};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* The child: the pty (with tty), then the process settings and execve (rl_process_exec). */
__attribute__((noreturn)) static void child(const struct rl_plan *plan, int status_w, int sock)
{
    if (sock >= 0) {
        int master, slave;
        if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
            rl_process_fail(status_w, 125, "container process setup: openpty: %s", strerror(errno));
        send_fd(sock, master);
        close(master);
        close(sock);
        if (login_tty(slave) < 0)
            rl_process_fail(status_w, 125, "container process setup: login_tty: %s", strerror(errno));
    } else {
        static const char *const KEYS[3] = {"stdin", "stdout", "stderr"};
        int from[3];
        for (int target = 0; target < 3; target++) {
            from[target] = (int)rl_plan_int(plan, KEYS[target], -1);
            if (from[target] >= 0 && from[target] != target && dup2(from[target], target) < 0)
                rl_process_fail(status_w, 125, "container process setup: dup2 %d: %s", from[target],
                                strerror(errno));
        }
        for (int target = 0; target < 3; target++)
            if (from[target] > 2)
                close(from[target]);
    }
    rl_process_exec(plan, status_w);
}


/* The child's report: empty when it exec'd */
static size_t read_report(int fd, char *buf, size_t size)
{
    size_t used = 0;
    for (;;) {
        ssize_t got = read(fd, buf + used, size - 1 - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        used += (size_t)got;
        if (used == size - 1)
            break;
    }
    buf[used] = '\0';
    return used;
}

static int wait_code(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    return rl_exit_code(status);
}

int main(int argc, char **argv)
{
    struct rl_plan plan;
    if (argc != 2) {
        fprintf(stderr, "usage: %s PLAN_FD\n", argv[0]);
        return 125;
    }
    int plan_fd = atoi(argv[1]);
    int rc = rl_plan_read(plan_fd, &plan);
    close(plan_fd);
    if (rc < 0)
        setup_fail("reading the plan", -rc);
    report_fd = (int)rl_plan_int(&plan, "report", -1);
    if (report_fd >= 0)
        fcntl(report_fd, F_SETFD, FD_CLOEXEC);
    container_id = rl_plan_get(&plan, "id") ? rl_plan_get(&plan, "id") : "";
    int tty = rl_plan_int(&plan, "tty", 0) != 0;
    int sock = tty ? (int)rl_plan_int(&plan, "sock", -1) : -1;
    if (tty && sock < 0)
        setup_fail("a terminal without a socket", EINVAL);

    int fds[NS_COUNT];
    open_namespaces(rl_plan_int(&plan, "pid", 0), (unsigned long long)rl_plan_int(&plan, "start", 0), fds);
    for (size_t i = 0; i < NS_COUNT; i++) {
        if (fds[i] < 0)
            continue;
        if (setns(fds[i], ORDER[i].flag) < 0) {
            char what[32];
            snprintf(what, sizeof what, "setns %s", ORDER[i].name);
            setup_fail(what, errno);
        }
        close(fds[i]);
    }

    int status[2];
    if (pipe2(status, O_CLOEXEC) < 0)
        setup_fail("pipe", errno);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &all, NULL); /* nothing to forward before the child is known */
    pid_t pid = fork();
    if (pid < 0)
        setup_fail("fork", errno);
    if (pid == 0) {
        close(status[0]);
        child(&plan, status[1], sock);
    }
    rl_forward_signals(pid);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(status[1]);
    if (sock >= 0)
        close(sock);

    char report[4200];
    if (read_report(status[0], report, sizeof report)) {
        wait_code(pid);
        char *nl = strchr(report, '\n');
        int code = atoi(report);
        if (code <= 0)
            code = 125;
        fail(code, nl ? nl + 1 : report);
    }
    close(status[0]);
    if (rl_plan_int(&plan, "detach", 0))
        return 0;
    _exit(wait_code(pid));
}
