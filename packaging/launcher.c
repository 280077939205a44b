/* rl's one-file launcher: a static ELF with a payload (a packed onedir tree) appended after it.
 *
 * Layout of dist/rl:   [this program][payload][trailer]
 *   trailer (88 bytes, at the very end): magic "RLPACK01", u64 LE payload offset, u64 LE payload
 *   length, 64 hex chars: sha256 of the payload (written by packaging/pack.py).
 *   payload: a sequence of entries, each: u8 type ('d' dir, 'f' file, 'l' symlink), u32 LE mode,
 *   u32 LE path length, u64 LE data length, the relative path, the data (file bytes or link target).
 *
 * Warm start: read the trailer, find <cache>/<hash16>/rl, exec it (a handful of syscalls).
 * First start: unpack into a temp dir beside it (<cache>/.<hash16>.XXXXXX), syncfs, rename into
 * place. Parallel first runs are safe: the loser of the rename removes its temp dir and uses the
 * winner's tree. <cache> is $RL_CACHE, else $XDG_CACHE_HOME/rl, else $HOME/.cache/rl.
 * The exec keeps argv as it is and adds RL_LAUNCHER=<path of this file>.
 * It decides nothing else: no Python, no libraries, so it runs on any x86-64 Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "RLPACK01"
#define TRAILER_SIZE 88
#define HASH_DIR_LEN 16
#define ENTRY "rl"

static const char *self_path = "/proc/self/exe";

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "rl: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(127);
}

static void die_unpack(const char *dir, int err)
{
    fprintf(stderr, "rl: cannot unpack into %s: %s; set RL_CACHE to a writable directory\n",
            dir, strerror(err));
    exit(127);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Read exactly n bytes at off; 0 on success. */
static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

static int write_full(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* The cache directory (without the hash), from the environment. */
static void cache_base(char *out, size_t size)
{
    const char *rl_cache = getenv("RL_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (rl_cache && *rl_cache)
        n = snprintf(out, size, "%s", rl_cache);
    else if (xdg && xdg[0] == '/')
        n = snprintf(out, size, "%s/rl", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, size, "%s/.cache/rl", home);
    else
        die("no cache directory: HOME is not set; %s%s", "set RL_CACHE to a writable directory", "");
    if (n < 0 || (size_t)n >= size)
        die("cache directory path too long: %s%s", rl_cache ? rl_cache : "", "");
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
}

/* mkdir -p; the components it creates are 0700 (the cache is per user). */
static void make_dirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            int err = errno;
            *p = c;
            die_unpack(path, err);
        }
        *p = c;
        if (c == '\0')
            break;
    }
}

static int is_safe(const char *rel)
{
    if (rel[0] == '/' || rel[0] == '\0')
        return 0;
    for (const char *p = rel; *p;) {
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
            return 0;
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        p = slash + 1;
    }
    return 1;
}

static int copy_out(int src, uint64_t off, uint64_t len, int dst, char *buf, size_t bufsize)
{
    while (len > 0) {
        size_t n = len < bufsize ? (size_t)len : bufsize;
        if (pread_full(src, buf, n, off) < 0 || write_full(dst, buf, n) < 0)
            return -1;
        off += n, len -= n;
    }
    return 0;
}

/* Unpack payload [off, off+len) of fd into the directory dirfd. Returns 0 or an errno. */
static int unpack(int fd, uint64_t off, uint64_t len, int dirfd)
{
    static char buf[1 << 20];
    uint64_t end = off + len;
    unsigned char head[17];
    char rel[PATH_MAX];
    while (off < end) {
        if (pread_full(fd, head, sizeof head, off) < 0)
            return EIO;
        uint32_t mode = le32(head + 1) & 07777, plen = le32(head + 5);
        uint64_t dlen = le64(head + 9);
        off += sizeof head;
        if (plen == 0 || plen >= sizeof rel || pread_full(fd, rel, plen, off) < 0)
            return EIO;
        rel[plen] = '\0';
        off += plen;
        if (!is_safe(rel) || off + dlen > end)
            return EIO;
        if (head[0] == 'd') {
            if (mkdirat(dirfd, rel, mode | 0700) < 0 && errno != EEXIST)
                return errno;
        } else if (head[0] == 'f') {
            int out = openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode | 0600);
            if (out < 0)
                return errno;
            int bad = copy_out(fd, off, dlen, out, buf, sizeof buf);
            int err = errno;
            close(out);
            if (bad)
                return err ? err : EIO;
        } else if (head[0] == 'l') {
            char target[PATH_MAX];
            if (dlen >= sizeof target || pread_full(fd, target, dlen, off) < 0)
                return EIO;
            target[dlen] = '\0';
            if (symlinkat(target, dirfd, rel) < 0)
                return errno;
        } else {
            return EIO;
        }
        off += dlen;
    }
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Unpack into a temp dir beside `final`, then rename it into place (or use a racing winner's). */
static void install(int fd, uint64_t off, uint64_t len, const char *base, const char *hash,
                    const char *final)
{
    char tmp[PATH_MAX];
    char base_copy[PATH_MAX];
    snprintf(base_copy, sizeof base_copy, "%s", base);
    make_dirs(base_copy);
    if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", base, hash) >= (int)sizeof tmp)
        die_unpack(base, ENAMETOOLONG);
    if (!mkdtemp(tmp))
        die_unpack(base, errno);
    int dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = dirfd < 0 ? errno : unpack(fd, off, len, dirfd);
    if (err == 0 && (fchmod(dirfd, 0755) < 0 || syncfs(dirfd) < 0))
        err = errno;
    if (dirfd >= 0)
        close(dirfd);
    if (err == 0 && rename(tmp, final) < 0 && errno != EEXIST && errno != ENOTEMPTY)
        err = errno;
    if (access(tmp, F_OK) == 0) /* failed, or lost the race: the winner's tree is in place */
        nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    if (err == EIO)
        die("%s: the packed payload is damaged (re-download it)%s", self_path, "");
    if (err)
        die_unpack(base, err);
}

int main(int argc, char **argv)
{
    (void)argc;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        self_path = self;
    }
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned char trailer[TRAILER_SIZE];
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < TRAILER_SIZE
        || pread_full(fd, trailer, TRAILER_SIZE, (uint64_t)st.st_size - TRAILER_SIZE) < 0
        || memcmp(trailer, MAGIC, 8) != 0)
        die("%s: no payload found (not a packed rl)%s", self_path, "");
    uint64_t off = le64(trailer + 8), len = le64(trailer + 16);
    if (off + len + TRAILER_SIZE != (uint64_t)st.st_size)
        die("%s: the packed payload is damaged (re-download it)%s", self_path, "");
    char hash[HASH_DIR_LEN + 1];
    memcpy(hash, trailer + 24, HASH_DIR_LEN);
    hash[HASH_DIR_LEN] = '\0';

    char base[PATH_MAX], final[PATH_MAX], target[PATH_MAX];
    cache_base(base, sizeof base - 2 * HASH_DIR_LEN - 16);
    if (snprintf(final, sizeof final, "%s/%s", base, hash) >= (int)sizeof final
        || snprintf(target, sizeof target, "%s/" ENTRY, final) >= (int)sizeof target)
        die("cache directory path too long: %s%s", base, "");
    if (access(target, X_OK) != 0)
        install(fd, off, len, base, hash, final);
    close(fd);
    if (setenv("RL_LAUNCHER", self_path, 1) < 0)
        die("cannot set RL_LAUNCHER: %s%s", strerror(errno), "");
    execv(target, argv);
    die("cannot run %s: %s", target, strerror(errno));
    return 127;
}
