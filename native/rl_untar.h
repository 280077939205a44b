/* rootless._untar: a layer tar, fed in chunks, written into one new directory (or only listed).

   Why C (docs/performance.md, "pull"): the Python unpacker spent ~25 us of interpreter time per
   tar entry, on the critical path of every pull; here the parse and the safety model cost ~1 us
   and the call releases the GIL, so the decompressing/hashing thread (isal, hashlib) runs beside
   it. The rules are those rootless/engine/image/layer.py documents (whiteouts, opaque dirs,
   owners, the tar-slip model); rootless.engine.image.untar is the only Python caller.

   rl_untar_feed takes the uncompressed tar in chunks of any size and returns 0 (more wanted),
   1 (the end-of-archive block was seen: the rest of the stream is not tar) or -1 (failed: see
   rl_untar_error*). rl_untar_finish, once the stream has ended, refuses a tar cut short and sets
   the directories' times. Every path is resolved below `root`, which must be empty. */

#define RL_UNTAR_ZERO_OWNERS 1
#define RL_UNTAR_TRUSTED_XATTRS 2
#define RL_UNTAR_LIST 4

#define RL_UNTAR_ERR_CORRUPT 1
#define RL_UNTAR_ERR_UNSAFE 2
#define RL_UNTAR_ERR_OS 3
#define RL_UNTAR_ERR_OPAQUE 4

typedef struct rl_untar rl_untar;

rl_untar *rl_untar_new(const char *root, int flags);
int rl_untar_feed(rl_untar *u, const unsigned char *data, size_t len);
int rl_untar_finish(rl_untar *u);
int rl_untar_error_kind(const rl_untar *u);
int rl_untar_errno(const rl_untar *u);
const char *rl_untar_error(const rl_untar *u);
const char *rl_untar_notes(const rl_untar *u, size_t *len);
const char *rl_untar_records(const rl_untar *u, size_t *len);
unsigned long long rl_untar_size(const rl_untar *u);
void rl_untar_free(rl_untar *u);
