/* rootless._native: thin wrappers of the Linux system calls Python 3.11 lacks.
 *
 * Every function returns >= 0 on success and -errno on failure. No policy lives here: the Python
 * module rootless.runtime.syscalls is the only caller, names the failing call in its errors and
 * decides everything (which namespaces, which mounts, which capabilities). */

long rl_clone_fork(unsigned long flags);
int rl_unshare(int flags);
int rl_setns(int fd, int nstype);
int rl_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data);
int rl_umount2(const char *target, int flags);
int rl_pivot_root(const char *new_root, const char *put_old);
int rl_sethostname(const char *name, size_t len);
int rl_setdomainname(const char *name, size_t len);
int rl_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
             unsigned long arg5);
int rl_capget(int pid, uint32_t out[6]);
int rl_capset(const uint32_t in[6]);
int rl_setresuid(unsigned int r, unsigned int e, unsigned int s);
int rl_setresgid(unsigned int r, unsigned int e, unsigned int s);
/* mount_setattr(2) (Linux 5.12): attributes of a mount tree, e.g. a recursive read-only bind. */
int rl_mount_setattr(int dfd, const char *path, unsigned int flags, uint64_t attr_set,
                     uint64_t attr_clr);
