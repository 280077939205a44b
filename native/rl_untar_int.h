/* Shared by the parts of rootless._untar (rl_tar.c, rl_tar_pax.c, rl_untar.c, rl_untar_meta.c,
 * rl_untar_io.c, rl_strmap.c); not for cffi. */
#ifndef RL_UNTAR_INT_H
#define RL_UNTAR_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rl_untar.h"

#define TAR_BLOCK 512
/* an extension header (PAX, GNU long name) larger than this is refused */
#define TAR_EXT_MAX (16u << 20)

/* one tar entry as the writer sees it; strings are NUL-terminated and hold no NUL */
struct tar_member {
    char *name;
    char type;                 /* the typeflag byte */
    uint64_t size;             /* data bytes that follow (0 for header-only types) */
    uint32_t mode;
    uint64_t uid, gid;
    int64_t mtime_sec;
    long mtime_nsec;
    char *linkname;
    uint64_t devmajor, devminor;
    size_t nxattrs;
    char **xattr_names;
    unsigned char **xattr_values;
    size_t *xattr_lens;
};

/* the data writer thread (rl_untar_io.c): functions return 0 or an errno; a failure's entry path
 * (the caller frees it) in *err_rel */
struct io_worker;
struct io_worker *io_start(void);
int io_write(struct io_worker *w, int fd, char *rel, const unsigned char *data, size_t len, char **err_rel);
int io_close(struct io_worker *w, int fd, char *rel, int64_t sec, long nsec, char **err_rel);
int io_drain(struct io_worker *w, char **err_rel);
void io_stop(struct io_worker *w);

/* a growable byte buffer */
struct buf {
    char *data;
    size_t len, cap;
};
int buf_add(struct buf *b, const void *data, size_t len);

/* a string-keyed hash map (open addressing); a value is a small record */
struct map_entry {
    char *key;                 /* NULL: empty; MAP_TOMBSTONE: deleted */
    uint64_t hash;
    unsigned char kind;
    unsigned char flags;
    int64_t sec;
    long nsec;
};
struct map {
    struct map_entry *slots;
    size_t cap, used, live;
};
extern char MAP_TOMBSTONE[];
struct map_entry *map_get(struct map *m, const char *key);
struct map_entry *map_put(struct map *m, const char *key);   /* NULL: out of memory */
void map_del(struct map *m, const char *key);
void map_del_under(struct map *m, const char *dir);
void map_free(struct map *m);

enum tar_state { S_HEADER, S_EXT, S_DATA, S_PAD, S_END, S_FAILED };

struct pax_kv {
    char *key;
    unsigned char *value;
    size_t len;
};
struct pax_list {
    struct pax_kv *items;
    size_t n, cap;
};

struct rl_untar {
    int flags;
    /* parser */
    enum tar_state state;
    unsigned char block[TAR_BLOCK];
    size_t block_fill;
    char ext_type;
    unsigned char *ext;
    size_t ext_len, ext_fill;
    uint64_t remaining, pad;
    int writing;               /* S_DATA: the data belongs to a regular file being written */
    struct pax_list pax, globals;
    char *longname, *longlink;
    struct tar_member m;
    int have_member;
    struct buf records;        /* RL_UNTAR_LIST */
    /* writer */
    int rootfd;
    char *root;
    int fd;                    /* the regular file being written, or -1 */
    char *cur_rel;
    int cur_simple;
    int cur_async;             /* its data goes to `io` */
    struct io_worker *io;      /* started at the first large file; NULL: none (or none possible) */
    struct map kinds;
    struct map noted;
    struct buf notes;
    char **dirs;               /* directories whose times finish() sets, first appearance order */
    size_t ndirs, capdirs;
    uid_t me_uid;
    gid_t me_gid;
    mode_t umask;
    unsigned long long size;
    /* error */
    int err_kind, err_errno;
    char *err;
};

/* errors: set once (the first wins), always return -1 */
int fail(struct rl_untar *u, int kind, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int fail_os(struct rl_untar *u, int err, const char *rel);
/* `s` for a message: single-quoted, control bytes escaped (\xNN); static ring of buffers */
const char *quoted(const char *s);

static inline int corrupt(struct rl_untar *u, const char *what)
{
    return fail(u, RL_UNTAR_ERR_CORRUPT, 0, "%s", what);
}

static inline int no_memory(struct rl_untar *u)
{
    return fail(u, RL_UNTAR_ERR_OS, ENOMEM, "out of memory");
}

/* PAX extended headers (rl_tar_pax.c): parse one header's records into `into`; apply a list to a
 * member (a later record of a key wins) */
int parse_pax(struct rl_untar *u, const unsigned char *data, size_t n, struct pax_list *into);
int apply_pax(struct rl_untar *u, struct tar_member *m, const struct pax_list *p);

/* an entry's metadata (rl_untar_meta.c): fd >= 0 is that open file, else `rel` (never followed) */
void note(struct rl_untar *u, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void note_zeroed_owner(struct rl_untar *u, const struct tar_member *m);
char *abs_path(struct rl_untar *u, const char *rel);
int set_opaque(struct rl_untar *u, const char *rel);
int owner(struct rl_untar *u, int fd, const char *rel, const struct tar_member *m);
int set_times(struct rl_untar *u, int fd, const char *rel, int64_t sec, long nsec);
int metadata(struct rl_untar *u, int fd, const char *rel, const struct tar_member *m, int dir);

/* the writer's side of one entry (rl_untar.c) */
int writer_begin(struct rl_untar *u, const struct tar_member *m);
int writer_data(struct rl_untar *u, const unsigned char *data, size_t len);
int writer_end(struct rl_untar *u, const struct tar_member *m);
int writer_finish(struct rl_untar *u);

/* the recording sink (RL_UNTAR_LIST, rl_tar.c) */
int record_member(struct rl_untar *u, const struct tar_member *m);

void member_clear(struct tar_member *m);
void pax_clear(struct pax_list *p);

#endif
