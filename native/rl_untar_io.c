/* The data writer thread of rootless._untar (rl_untar.c decides what it gets).
 *
 * Creating entries, and every decision about them, stays in the parser's thread, in tar order.
 * What comes here is only the content of large regular files that are already created with their
 * final mode and owner: their write(2)s, then futimens and close. Filling page cache is most of a
 * layer's kernel time (fresh pages are dear on VMs whose free memory goes back to the host), and
 * here it runs on another core while the parser creates the next files. Work is FIFO, so a file's
 * pieces land in order; the data is copied in (the caller's chunk is not kept), and the queue is
 * bounded (the parser waits when IO_PENDING_MAX bytes are queued). The first failure is kept
 * (errno and the entry's path) and reported by the next call; the rest of the queue is then only
 * closed. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_untar_int.h"

#define IO_PENDING_MAX (32u << 20)

struct io_item {
    struct io_item *next;
    int fd;
    int final;                 /* 1: set the times and close fd (no data) */
    char *rel;                 /* final: owned; else borrowed from the file's final item */
    struct timespec times[2];
    size_t len;
    unsigned char data[];
};

struct io_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, room;
    struct io_item *head, *tail;
    size_t pending;            /* data bytes queued */
    size_t queued;             /* items queued or being done */
    int stop, cancel;
    int err;                   /* the first failure */
    char *err_rel;
};

static int do_item(struct io_item *it)
{
    if (it->final) {
        int r = futimens(it->fd, it->times) < 0 ? errno : 0;
        if (close(it->fd) < 0 && !r)
            r = errno;
        return r;
    }
    const unsigned char *p = it->data;
    size_t left = it->len;
    while (left) {
        ssize_t n = write(it->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

static void *run(void *arg)
{
    struct io_worker *w = arg;
    pthread_setname_np(pthread_self(), "rl-untar-io");   /* as ps, top and perf show it */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->work, &w->lock);
        struct io_item *it = w->head;
        if (!it)
            break;
        w->head = it->next;
        if (!w->head)
            w->tail = NULL;
        int skip = w->err || w->cancel;
        pthread_mutex_unlock(&w->lock);
        int r = skip ? 0 : do_item(it);
        if (skip && it->final)
            close(it->fd);
        pthread_mutex_lock(&w->lock);
        if (r && !w->err) {
            w->err = r;
            w->err_rel = it->rel ? strdup(it->rel) : NULL;
        }
        w->pending -= it->len;
        w->queued--;
        if (it->final)
            free(it->rel);
        free(it);
        pthread_cond_broadcast(&w->room);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct io_worker *io_start(void)
{
    struct io_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->room, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->room);
        free(w);
        return NULL;
    }
    return w;
}

/* The first failure, as (errno, a path the caller frees); 0 when none. Lock held. */
static int failure(struct io_worker *w, char **rel)
{
    if (w->err && rel) {
        *rel = w->err_rel;
        w->err_rel = NULL;
    }
    return w->err;
}

static int push(struct io_worker *w, struct io_item *it, char **err_rel)
{
    pthread_mutex_lock(&w->lock);
    while (!w->err && w->pending && w->pending + it->len > IO_PENDING_MAX)
        pthread_cond_wait(&w->room, &w->lock);
    int err = failure(w, err_rel);
    if (!err) {
        it->next = NULL;
        if (w->tail)
            w->tail->next = it;
        else
            w->head = it;
        w->tail = it;
        w->pending += it->len;
        w->queued++;
        pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->lock);
    return err;
}

int io_write(struct io_worker *w, int fd, char *rel, const unsigned char *data, size_t len, char **err_rel)
{
    struct io_item *it = malloc(sizeof *it + len);
    if (!it)
        return ENOMEM;
    *it = (struct io_item){.fd = fd, .rel = rel, .len = len};
    memcpy(it->data, data, len);
    int err = push(w, it, err_rel);
    if (err)
        free(it);
    return err;
}

int io_close(struct io_worker *w, int fd, char *rel, int64_t sec, long nsec, char **err_rel)
{
    struct io_item *it = malloc(sizeof *it);
    if (!it)
        return ENOMEM;
    *it = (struct io_item){.fd = fd, .final = 1, .rel = rel};
    it->times[0] = it->times[1] = (struct timespec){.tv_sec = sec, .tv_nsec = nsec};
    int err = push(w, it, err_rel);
    if (err)
        free(it);          /* fd and rel stay the caller's */
    return err;
}

int io_drain(struct io_worker *w, char **err_rel)
{
    pthread_mutex_lock(&w->lock);
    while (w->queued && !w->err)
        pthread_cond_wait(&w->room, &w->lock);
    int err = failure(w, err_rel);
    pthread_mutex_unlock(&w->lock);
    return err;
}

void io_stop(struct io_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = w->cancel = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->room);
    free(w->err_rel);
    free(w);
}
