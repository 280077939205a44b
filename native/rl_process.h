/* The container process's settings, applied by its own process just before execve: shared by
 * _rl_boot (the container's first process, after pivot_root and `start`) and _rl_exec (a process
 * joined to a running container). The C form of the OCI `process` object, read from the plan
 * (rl_plan.h) with these keys (all optional unless said; numbers in decimal):
 *
 *   arg          repeated: argv (at least one)            env      repeated: "KEY=VALUE"
 *   cwd          working directory (made if missing)     umask    e.g. 18 (0022)
 *   uid, gid     process.user                            group    repeated: additionalGids
 *   cap.bounding, cap.effective, cap.permitted, cap.inheritable, cap.ambient
 *                64-bit masks (bit N = capability N); when "cap.bounding" is absent the
 *                capabilities are left as they are (no process.capabilities)
 *   nnp          1: PR_SET_NO_NEW_PRIVS                   oom      oomScoreAdj (failure ignored)
 *   rlimit       repeated: "RESOURCE:SOFT:HARD", RESOURCE the RLIMIT_* number, -1 = unlimited
 *   pdeathsig    signal number set again after the uid change (0: none)
 *
 * Order, as runc does (and as the Python form this replaced did): rlimits, oom,
 * mkdir -p cwd, drop the bounding set, setgroups/setresgid/setresuid keeping caps, pdeathsig,
 * chdir, capset + ambient, umask (default 022), no_new_privs, default signal dispositions and an
 * empty signal mask, PATH lookup (the env's PATH, else DEFAULT_PATH) and execve.
 *
 * Failures are reported on `status_fd` (if >= 0) as "<code>\n<message>" and the process exits
 * with that code, with docker's codes and messages (Go's exec.LookPath wording):
 *   127  exec: "foo": executable file not found in $PATH
 *   127  exec: "/x/foo": stat /x/foo: no such file or directory
 *   126  exec: "/etc": is a directory          126  exec: "/etc/passwd": permission denied
 *   126  exec: "foo": exec format error
 *   125  container process setup: <what failed>: <strerror>
 */
#ifndef RL_PROCESS_H
#define RL_PROCESS_H

#include "rl_plan.h"

#include <sys/types.h>

#define RL_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Apply the settings of `plan` to this process and execve its command. Never returns. */
__attribute__((noreturn)) void rl_process_exec(const struct rl_plan *plan, int status_fd);

/* Report "<code>\n<message>" on status_fd (ignored if < 0) and _exit(code). */
__attribute__((noreturn)) void rl_process_fail(int status_fd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* write(2) all of buf (EINTR retried); gives up quietly on an error: a report nobody reads. */
void rl_write_all(int fd, const char *buf, size_t len);

/* docker's exit status for a wait status: the code, or 128+N after signal N. */
int rl_exit_code(int status);

/* Forward SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT and SIGALRM to
 * `pid` from now on (handlers with SA_RESTART). */
void rl_forward_signals(pid_t pid);

/* rl's tiny init (`rl run --init`): fork; the child gets its own process group (the terminal's
 * foreground one when stdin is a terminal) and calls rl_process_exec; this process forwards
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT and SIGALRM to it, reaps
 * every child, and exits with the main child's code (128+N after signal N). Never returns.
 * Same behaviour as rootless/runtime/init.py. */
__attribute__((noreturn)) void rl_process_init(const struct rl_plan *plan, int status_fd);

#endif
