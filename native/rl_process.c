/* The container process's settings and exec (rl_process.h): the C form of
 * the Python code it replaced (runtime/process.py; caps.py and init.py keep only names and masks),
 * shared by _rl_boot and _rl_exec.
 *
 * Everything here runs in a single-threaded process about to execve, so the raw system calls
 * are used where glibc would do more (setresuid's broadcast to every thread). Nothing is freed:
 * the process either execs or exits. */
#define _GNU_SOURCE
#include "rl_process.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdint.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif

void rl_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

void rl_process_fail(int status_fd, int code, const char *fmt, ...)
{
    char msg[4096];
    int n = snprintf(msg, sizeof msg, "%d\n", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (status_fd >= 0)
        rl_write_all(status_fd, msg, strlen(msg));
    _exit(code);
}

/* strerror in lower case, as Go words it: "no such file or directory" */
static const char *lower_error(int err)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", strerror(err));
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return buf;
}

#define SETUP_FAIL(fd, ...) rl_process_fail(fd, 125, "container process setup: " __VA_ARGS__)

static const char *const RLIMIT_NAMES[] = {
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

static void set_rlimits(const struct rl_plan *plan, int fd)
{
    size_t at = 0;
    const char *v;
    while ((v = rl_plan_find(plan, "rlimit", at, &at)) != NULL) {
        at++;
        char *end;
        long long which = strtoll(v, &end, 10), soft = 0, hard = 0;
        if (*end == ':')
            soft = strtoll(end + 1, &end, 10);
        if (*end == ':')
            hard = strtoll(end + 1, &end, 10);
        if (*end != '\0')
            SETUP_FAIL(fd, "bad rlimit %s", v);
        struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft,
                            hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
        if (setrlimit((int)which, &rl) < 0) {
            int err = errno;
            char name[32];
            if (which >= 0 && which < (long long)(sizeof RLIMIT_NAMES / sizeof *RLIMIT_NAMES))
                snprintf(name, sizeof name, "%s", RLIMIT_NAMES[which]);
            else
                snprintf(name, sizeof name, "%lld", which);
            SETUP_FAIL(fd, "setrlimit %s %lld:%lld: %s", name, soft, hard, strerror(err));
        }
    }
}

static void set_oom(const struct rl_plan *plan)
{
    const char *v = rl_plan_get(plan, "oom");
    if (!v)
        return;
    int f = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (f < 0)
        return; /* lowering it needs CAP_SYS_RESOURCE in the initial namespace: ignored (podman) */
    if (write(f, v, strlen(v)) < 0) {
        /* ignored likewise */
    }
    close(f);
}

/* mkdir -p, as os.makedirs(exist_ok=True): an existing non-directory is an error */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) < 0 && errno != EEXIST)
                return -errno;
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -EEXIST;
}

static unsigned long long cap_mask(const struct rl_plan *plan, const char *key)
{
    return (unsigned long long)rl_plan_int(plan, key, 0);
}

static int last_cap(void)
{
    char buf[32];
    int f = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 40;
    ssize_t n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n <= 0)
        return 40;
    buf[n] = '\0';
    return atoi(buf);
}

static void drop_bounding(const struct rl_plan *plan, int fd)
{
    unsigned long long keep = cap_mask(plan, "cap.bounding");
    int top = last_cap();
    for (int cap = 0; cap <= top; cap++) {
        if (cap < 64 && (keep >> cap & 1))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            SETUP_FAIL(fd, "dropping capability %d from the bounding set: %s", cap, strerror(errno));
    }
}

static void set_user(const struct rl_plan *plan, int fd)
{
    long long uid = rl_plan_int(plan, "uid", 0), gid = rl_plan_int(plan, "gid", 0);
    size_t count = 0;
    const char **groups = rl_plan_all(plan, "group", &count);
    gid_t list[count ? count : 1];
    for (size_t i = 0; i < count; i++)
        list[i] = (gid_t)strtoul(groups ? groups[i] : "0", NULL, 10);
    if (syscall(SYS_setgroups, count, list) < 0) {
        /* "single" mappings deny setgroups (user_namespaces(7)): only an empty wish is fine */
        if (errno != EPERM || count) {
            int err = errno;
            char list_text[512] = "[";
            size_t used = 1;
            for (size_t i = 0; i < count && used < sizeof list_text - 16; i++)
                used += (size_t)snprintf(list_text + used, sizeof list_text - used, "%s%u", i ? ", " : "",
                                         (unsigned)list[i]);
            snprintf(list_text + used, sizeof list_text - used, "]");
            SETUP_FAIL(fd, "setgroups %s: %s", list_text, strerror(err));
        }
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        SETUP_FAIL(fd, "prctl PR_SET_KEEPCAPS: %s", strerror(errno));
    if (syscall(SYS_setresgid, gid, gid, gid) < 0)
        SETUP_FAIL(fd, "setresgid %lld: %s", gid, strerror(errno));
    if (syscall(SYS_setresuid, uid, uid, uid) < 0)
        SETUP_FAIL(fd, "setresuid %lld: %s", uid, strerror(errno));
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        SETUP_FAIL(fd, "prctl PR_SET_KEEPCAPS: %s", strerror(errno));
}

static void apply_caps(const struct rl_plan *plan, int fd)
{
    unsigned long long permitted = cap_mask(plan, "cap.permitted");
    unsigned long long effective = cap_mask(plan, "cap.effective") & permitted;
    unsigned long long inheritable = cap_mask(plan, "cap.inheritable");
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(effective >> (32 * i));
        data[i].permitted = (uint32_t)(permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        SETUP_FAIL(fd, "capset: %s", strerror(errno));
    unsigned long long ambient = cap_mask(plan, "cap.ambient") & permitted & inheritable;
    for (int cap = 0; ambient; cap++, ambient >>= 1)
        if ((ambient & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            SETUP_FAIL(fd, "raising ambient capability %d: %s", cap, strerror(errno));
}

/* Undo what the caller changed: ignored signals stay ignored across execve, and a blocked mask
 * is inherited. */
static void reset_signals(void)
{
    /* the raw call: glibc's sigaction refuses its own two real-time signals (32, 33), which a
     * caller may have left ignored too */
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The environment: "KEY=VALUE" entries (others dropped), a later KEY replacing an earlier one in
 * its place, PATH added (DEFAULT_PATH) when absent, as process.env_dict + setdefault. */
static char **build_env(const struct rl_plan *plan, const char **path_value)
{
    size_t count = 0;
    const char **all = rl_plan_all(plan, "env", &count);
    char **env = calloc(count + 2, sizeof *env);
    size_t n = 0;
    if (!env || (count && !all))
        return NULL;
    for (size_t i = 0; i < count; i++) {
        const char *eq = strchr(all[i], '=');
        if (!eq)
            continue;
        size_t klen = (size_t)(eq - all[i]) + 1;
        size_t j = 0;
        while (j < n && strncmp(env[j], all[i], klen) != 0)
            j++;
        env[j] = (char *)all[i];
        if (j == n)
            n++;
    }
    *path_value = NULL;
    for (size_t j = 0; j < n; j++)
        if (strncmp(env[j], "PATH=", 5) == 0)
            *path_value = env[j] + 5;
    if (!*path_value) {
        env[n++] = "PATH=" RL_DEFAULT_PATH;
        *path_value = RL_DEFAULT_PATH;
    }
    env[n] = NULL;
    return env;
}

static int is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The executable arg0 names, as Go's exec.LookPath (process.lookup): docker's codes and words */
static const char *lookup(const char *arg0, const char *path_env, int fd)
{
    if (!*arg0)
        rl_process_fail(fd, 127, "exec: \"\": executable file not found in $PATH");
    if (strchr(arg0, '/')) {
        struct stat st;
        if (stat(arg0, &st) < 0)
            rl_process_fail(fd, 127, "exec: \"%s\": stat %s: %s", arg0, arg0, lower_error(errno));
        if (S_ISDIR(st.st_mode))
            rl_process_fail(fd, 126, "exec: \"%s\": is a directory", arg0);
        return arg0;
    }
    if (!*path_env)
        path_env = RL_DEFAULT_PATH;
    size_t alen = strlen(arg0);
    const char *p = path_env;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        const char *dir = dlen ? p : ".";
        if (!dlen)
            dlen = 1;
        char *candidate = malloc(dlen + alen + 2);
        if (!candidate)
            rl_process_fail(fd, 125, "container process setup: out of memory");
        memcpy(candidate, dir, dlen);
        size_t at = dlen;
        if (candidate[at - 1] != '/')
            candidate[at++] = '/';
        memcpy(candidate + at, arg0, alen + 1);
        if (is_executable_file(candidate))
            return candidate;
        free(candidate);
        if (!colon)
            break;
        p = colon + 1;
    }
    rl_process_fail(fd, 127, "exec: \"%s\": executable file not found in $PATH", arg0);
}

void rl_process_exec(const struct rl_plan *plan, int status_fd)
{
    int fd = status_fd;
    size_t argc = 0;
    const char **argv = rl_plan_all(plan, "arg", &argc);
    if (!argv)
        SETUP_FAIL(fd, "out of memory");
    set_rlimits(plan, fd);
    set_oom(plan);
    const char *cwd = rl_plan_get(plan, "cwd");
    if (!cwd || !*cwd)
        cwd = "/";
    int rc = make_dirs(cwd);
    if (rc < 0)
        SETUP_FAIL(fd, "mkdir %s: %s", cwd, strerror(-rc));
    int caps = rl_plan_get(plan, "cap.bounding") != NULL;
    if (caps)
        drop_bounding(plan, fd);
    set_user(plan, fd);
    long long pdeathsig = rl_plan_int(plan, "pdeathsig", 0);
    if (pdeathsig && prctl(PR_SET_PDEATHSIG, (unsigned long)pdeathsig, 0, 0, 0) < 0)
        SETUP_FAIL(fd, "prctl PR_SET_PDEATHSIG: %s", strerror(errno));
    if (chdir(cwd) < 0)
        SETUP_FAIL(fd, "chdir %s: %s", cwd, strerror(errno));
    if (caps)
        apply_caps(plan, fd);
    umask((mode_t)rl_plan_int(plan, "umask", 022));
    if (rl_plan_int(plan, "nnp", 0) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        SETUP_FAIL(fd, "prctl PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    reset_signals();
    const char *path_env;
    char **env = build_env(plan, &path_env);
    if (!env)
        SETUP_FAIL(fd, "out of memory");
    const char *arg0 = argc ? argv[0] : "";
    const char *path = lookup(arg0, path_env, fd);
    if (!argc)
        rl_process_fail(fd, 127, "exec: \"\": executable file not found in $PATH");
    execve(path, (char *const *)argv, env);
    int err = errno;
    int code = err == ENOENT || err == ENOTDIR ? 127 : 126;
    rl_process_fail(fd, code, "exec: \"%s\": %s", arg0,
                    err == ENOEXEC ? "exec format error" : lower_error(err));
}

/* --- signal forwarding and rl's tiny init ----------------------------------------------- */
static const int FORWARDED[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                                SIGCONT, SIGALRM};
static volatile pid_t forward_to;

static void forward(int sig)
{
    int saved = errno;
    if (forward_to > 0)
        kill(forward_to, sig);
    errno = saved;
}

void rl_forward_signals(pid_t pid)
{
    forward_to = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++)
        sigaction(FORWARDED[i], &sa, NULL);
}

static void own_process_group(void)
{
    if (setpgid(0, 0) < 0)
        return;
    if (isatty(0)) {
        struct sigaction ign, old;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGTTOU, &ign, &old);
        if (tcsetpgrp(0, getpgrp()) < 0) {
            /* as init.py: best effort */
        }
        sigaction(SIGTTOU, &old, NULL);
    }
}

int rl_exit_code(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

void rl_process_init(const struct rl_plan *plan, int status_fd)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old); /* no forwarded signal before the child is known */
    pid_t child = fork();
    if (child < 0)
        rl_process_fail(status_fd, 125, "container process setup: fork: %s", strerror(errno));
    if (child == 0) {
        own_process_group();
        rl_process_exec(plan, status_fd); /* resets the mask and dispositions */
    }
    if (status_fd >= 0)
        close(status_fd);
    rl_forward_signals(child);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            _exit(0);
        }
        if (pid == child)
            _exit(rl_exit_code(status));
    }
}
