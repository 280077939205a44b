/* See rl_native.h. Compiled into the CPython extension rootless._native by cffi (API mode). */
#define _GNU_SOURCE
#include <Python.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "rl_native.h"

#define RET(expr) do { long _r = (long)(expr); return _r < 0 ? -errno : _r; } while (0)

/* fork(2) that creates new namespaces at once (clone(2) with a NULL stack behaves like fork).
 * With CLONE_NEWPID the child is pid 1 of the new pid namespace, which unshare(2) cannot give
 * the caller itself. cffi calls us without the GIL; CPython's fork hooks need it, so take it,
 * and run them as os.fork() does so the child's interpreter state is sound. */
long rl_clone_fork(unsigned long flags)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyOS_BeforeFork();
    long pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    int saved = errno;
    if (pid == 0)
        PyOS_AfterFork_Child();
    else
        PyOS_AfterFork_Parent();
    PyGILState_Release(gil);
    return pid < 0 ? -saved : pid;
}

int rl_unshare(int flags) { RET(unshare(flags)); }
int rl_setns(int fd, int nstype) { RET(setns(fd, nstype)); }

int rl_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data)
{
    RET(mount(source, target, fstype, flags, data));
}

int rl_umount2(const char *target, int flags) { RET(umount2(target, flags)); }
int rl_pivot_root(const char *new_root, const char *put_old)
{
    RET(syscall(SYS_pivot_root, new_root, put_old));
}
int rl_sethostname(const char *name, size_t len) { RET(sethostname(name, len)); }
int rl_setdomainname(const char *name, size_t len) { RET(setdomainname(name, len)); }

int rl_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
             unsigned long arg5)
{
    RET(prctl(option, arg2, arg3, arg4, arg5));
}

/* Capabilities as three 64-bit sets split in 32-bit words:
 * out = {eff_lo, perm_lo, inh_lo, eff_hi, perm_hi, inh_hi} (the kernel's v3 layout). */
int rl_capget(int pid, uint32_t out[6])
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, pid};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        out[3 * i] = data[i].effective;
        out[3 * i + 1] = data[i].permitted;
        out[3 * i + 2] = data[i].inheritable;
    }
    return 0;
}

int rl_capset(const uint32_t in[6])
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = in[3 * i];
        data[i].permitted = in[3 * i + 1];
        data[i].inheritable = in[3 * i + 2];
    }
    RET(syscall(SYS_capset, &hdr, data));
}

/* glibc's setresuid() broadcasts to every thread (setxid); the raw call changes only this one,
 * which is what a freshly cloned, single-threaded child wants and cheaper. */
int rl_setresuid(unsigned int r, unsigned int e, unsigned int s) { RET(syscall(SYS_setresuid, r, e, s)); }
int rl_setresgid(unsigned int r, unsigned int e, unsigned int s) { RET(syscall(SYS_setresgid, r, e, s)); }

/* mount_setattr(2). struct mount_attr is spelled out here: <linux/mount.h> clashes with glibc's
 * <sys/mount.h> on glibc 2.36. */
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
struct rl_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

int rl_mount_setattr(int dfd, const char *path, unsigned int flags, uint64_t attr_set,
                     uint64_t attr_clr)
{
    struct rl_mount_attr attr = {attr_set, attr_clr, 0, 0};
    RET(syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof attr));
}
