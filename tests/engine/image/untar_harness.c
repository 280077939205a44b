/* Test driver for native/rl_tar.c + rl_untar.c under AddressSanitizer/UBSan (test_untar_sanitized):
 * for each tar file named on the command line, parse it in list mode and unpack it in write mode
 * into a fresh directory under $DIR, fed in chunks whose sizes come from the file's own bytes
 * (large files go through the data writer thread, rl_untar_io.c).
 * Exit status 0 unless a sanitizer aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "rl_untar.h"

static unsigned char buf[1 << 22];

int main(int argc, char **argv)
{
    const char *dir = getenv("DIR");
    umask(0);   /* as the layer helper: files are created with their final mode ("simple") */
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            return 2;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (int write = 0; write < 2; write++) {
            char root[4096];
            snprintf(root, sizeof root, "%s/t%d-%d", dir, i, write);
            if (write && mkdir(root, 0700) < 0)
                return 2;
            rl_untar *u = rl_untar_new(root, write ? RL_UNTAR_ZERO_OWNERS : RL_UNTAR_LIST);
            if (!u)
                return 2;
            size_t pos = 0, k = 0, len;
            int r = 0;
            while (pos < n && r == 0) {
                size_t step = 1 + (size_t)(buf[(k++ * 7919) % n] * 37) % 1500;
                step = step < n - pos ? step : n - pos;
                r = rl_untar_feed(u, buf + pos, step);
                pos += step;
            }
            if (r >= 0)
                r = rl_untar_finish(u);
            rl_untar_notes(u, &len);
            rl_untar_records(u, &len);
            if (r < 0 && !rl_untar_error(u))
                return 3;
            rl_untar_free(u);
        }
    }
    return 0;
}
