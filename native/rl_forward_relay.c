/* rl_forward_relay.c: the data path of rl's port forwarder (rl_forward.c says what the whole does).
 * TCP: one connection = a client socket (accepted on the host) and a server socket (the
 * container's, from rl_forward_ns.c), two directions, edge-triggered epoll. Small messages go
 * through one scratch buffer with recv/send (a short read means the receive queue is empty, so no
 * extra call per message); a direction whose read fills the buffer is bulk and switches to
 * splice(2) through a pipe grown to 1 MiB (empty pipes are pooled). UDP: per published port, one
 * inner socket per client address, dropped after UDP_IDLE seconds without traffic. */

#include "rl_forward.h"

static int pipes[PIPE_POOL][2], npipes;
static struct conn *waiting_tcp;     /* accepted, waiting for a socket of the namespace */
static struct conn *dead;            /* closed, freed after the event batch that closed them */
static struct { struct listener *l; struct sockaddr_storage addr; socklen_t len; char *data; size_t n; }
    *waiting_udp;                    /* datagrams waiting for a socket of the namespace */
static size_t nwaiting_udp;
static char scratch[SCRATCH];

static void start_tcp(struct conn *c);
static void start_udp(struct listener *l, struct sockaddr_storage *addr, socklen_t len, char *data, size_t n);

/* Start what waited for a socket of the namespace, now that there are some. */
void retry_waiting(void)
{
    while (waiting_tcp && pooled(0)) {
        struct conn *c = waiting_tcp;
        waiting_tcp = c->next;
        c->next = NULL;
        start_tcp(c);
    }
    if (nwaiting_udp && pooled(1)) {
        size_t n = nwaiting_udp;
        typeof(waiting_udp) items = waiting_udp;
        waiting_udp = NULL;
        nwaiting_udp = 0;
        for (size_t i = 0; i < n; i++) {
            start_udp(items[i].l, &items[i].addr, items[i].len, items[i].data, items[i].n);
            free(items[i].data);
        }
        free(items);
    }
}

void reap_dead(void)
{
    while (dead) {
        struct conn *c = dead;
        dead = c->next;
        free(c);
    }
}

/* ---- TCP ------------------------------------------------------------------------------------ */

static void dir_init(struct dir *d, int src, int dst, struct dir *other, bool drained)
{
    memset(d, 0, sizeof *d);
    d->src = src;
    d->dst = dst;
    d->pr = d->pw = -1;
    d->other = other;
    d->drained = drained;  /* the server has sent nothing yet: its first data is an EPOLLIN edge */
}

/* src said EOF and all is sent: pass the half-close on (the connection closes when both ways are
 * done: no shutdown needed then). */
static void finish(struct dir *d)
{
    if (!d->other->done)
        shutdown(d->dst, SHUT_WR);
    d->done = true;
}

static void kill_conn(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    close(c->client);
    close(c->server);
    struct dir *ds[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++) {
        struct dir *d = ds[i];
        free(d->buf);
        if (d->pr < 0)
            continue;
        if (!d->pending && npipes < PIPE_POOL) {
            pipes[npipes][0] = d->pr;
            pipes[npipes++][1] = d->pw;
        } else {
            close(d->pr);
            close(d->pw);
        }
    }
    c->next = dead;
    dead = c;
}

/* A bulk direction: splice from now on, through a pipe. -1 when no pipe can be had. */
static int start_splicing(struct dir *d)
{
    if (npipes) {
        npipes--;
        d->pr = pipes[npipes][0];
        d->pw = pipes[npipes][1];
    } else {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
            return -1;
        d->pr = fds[0];
        d->pw = fds[1];
    }
    d->splicing = true;
    d->pending = 0;
    int got = fcntl(d->pw, F_SETPIPE_SZ, BULK_PIPE);
    d->size = got > 0 ? (size_t)got : (size_t)fcntl(d->pw, F_GETPIPE_SZ);
    return 0;
}

/* Splice what can be moved now (edge-triggered epoll says when to come back: each resource that
 * stopped us said EAGAIN). -1: the connection broke. */
static int pump_splice(struct dir *d)
{
    while (!d->done) {
        bool progressed = false;
        if (d->pending) {
            ssize_t n = splice(d->pr, NULL, d->dst, NULL, d->pending, SPLICE_FLAGS);
            if (n > 0) {
                d->pending -= n;
                progressed = true;
            } else if (n < 0 && errno != EAGAIN) {
                return -1;
            }
        }
        if (d->eof) {
            if (!d->pending)
                finish(d);
            if (!progressed)
                return 0;
            continue;
        }
        if (d->pending < d->size) {
            ssize_t n = splice(d->src, NULL, d->pw, NULL, d->size - d->pending, SPLICE_FLAGS);
            if (n == 0) {
                d->eof = true;
                progressed = true;
            } else if (n > 0) {
                d->pending += n;
                progressed = true;
            } else if (errno != EAGAIN) {
                return -1;
            }
        }
        if (!progressed)
            return 0;
    }
    return 0;
}

/* Copy mode: recv into the scratch buffer, send at once; what dst does not take waits in d->buf
 * (no more reading until it is gone). A short recv means the socket is drained: wait for EPOLLIN. */
static int pump(struct dir *d)
{
    if (d->splicing)
        return pump_splice(d);
    while (!d->done) {
        if (d->len > d->off) {
            ssize_t n = send(d->dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0)
                return errno == EAGAIN ? 0 : -1;
            d->off += n;
            if (d->off < d->len)
                return 0;
            free(d->buf);
            d->buf = NULL;
            d->off = d->len = 0;
        }
        if (d->eof) {
            finish(d);
            return 0;
        }
        if (d->drained)
            return 0;
        ssize_t n = recv(d->src, scratch, SCRATCH, MSG_DONTWAIT);
        if (n == 0) {
            d->eof = true;
            continue;
        }
        if (n < 0) {
            if (errno == EAGAIN) {
                d->drained = true;
                return 0;
            }
            return -1;
        }
        if (n < SCRATCH && !d->hup)
            d->drained = true;  /* a short TCP read empties the receive queue (not the FIN) */
        ssize_t m = send(d->dst, scratch, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (m < 0) {
            if (errno != EAGAIN)
                return -1;
            m = 0;
        }
        if (m < n) {
            d->buf = malloc(n - m);
            if (!d->buf)
                return -1;
            memcpy(d->buf, scratch + m, n - m);
            d->len = n - m;
            d->off = 0;
            return 0;
        }
        if (n == SCRATCH && start_splicing(d) == 0)
            return pump_splice(d);
    }
    return 0;
}

static void start_tcp(struct conn *c)
{
    int fd = inner_socket(0, &c->addr, c->l->port);
    if (fd < 0) {
        c->next = waiting_tcp;
        waiting_tcp = c;
        return;
    }
    c->server = fd;
    c->hs = (struct handle){K_SERVER, c};
    dir_init(&c->up, c->client, c->server, &c->down, false);
    dir_init(&c->down, c->server, c->client, &c->up, true);
    uint32_t ev = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (watch(c->client, ev, &c->hc) < 0 || watch(c->server, ev, &c->hs) < 0)
        kill_conn(c);  /* closing the fds takes them out of the epoll set */
}

void accept_all(struct listener *l)
{
    for (;;) {
        struct conn *c = calloc(1, sizeof *c);
        if (!c)
            return;
        socklen_t len = sizeof c->addr;
        c->client = accept4(l->fd, (struct sockaddr *)&c->addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c->client < 0) {
            free(c);
            return;  /* EAGAIN, or EMFILE and friends: try again on the next event */
        }
        c->l = l;
        c->hc = (struct handle){K_CLIENT, c};
        start_tcp(c);
    }
}

/* Data in on a socket moves the direction it is the source of, room out the one it is the
 * destination of; anything else, both. */
void on_conn(struct conn *c, bool server, uint32_t events)
{
    if (c->dead)
        return;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        (server ? &c->down : &c->up)->hup = true;
    if (!c->connected) {
        if (!server)
            return;  /* the connect's completion pumps this way (up.drained is still false) */
        int err = 0;
        socklen_t len = sizeof err;
        if ((events & EPOLLERR)
            && (getsockopt(c->server, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)) {
            kill_conn(c);  /* refused: nothing listens on the container port */
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        c->connected = true;
    }
    struct dir *outward = server ? &c->down : &c->up, *inward = server ? &c->up : &c->down;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        outward->drained = false;
        if (pump(outward) < 0) {
            kill_conn(c);
            return;
        }
    }
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        if (pump(inward) < 0) {
            kill_conn(c);
            return;
        }
    }
    if (c->up.done && c->down.done)
        kill_conn(c);
}

/* ---- UDP ------------------------------------------------------------------------------------ */

static struct flow *find_flow(struct listener *l, struct sockaddr_storage *addr, socklen_t len)
{
    for (struct flow *f = l->flows; f; f = f->next)
        if (f->addrlen == len && memcmp(&f->addr, addr, len) == 0)
            return f;
    return NULL;
}

static void start_udp(struct listener *l, struct sockaddr_storage *addr, socklen_t len, char *data, size_t n)
{
    struct flow *f = find_flow(l, addr, len);  /* more datagrams of a flow that waited for a socket */
    if (!f) {
        int fd = inner_socket(1, addr, l->port);
        if (fd < 0) {
            void *more = realloc(waiting_udp, (nwaiting_udp + 1) * sizeof *waiting_udp);
            char *copy = malloc(n ? n : 1);
            if (!more || !copy) {
                free(copy);
                if (more)
                    waiting_udp = more;
                return;
            }
            waiting_udp = more;
            memcpy(copy, data, n);
            waiting_udp[nwaiting_udp].l = l;
            waiting_udp[nwaiting_udp].addr = *addr;
            waiting_udp[nwaiting_udp].len = len;
            waiting_udp[nwaiting_udp].data = copy;
            waiting_udp[nwaiting_udp++].n = n;
            return;
        }
        f = calloc(1, sizeof *f);
        if (!f) {
            close(fd);
            return;
        }
        *f = (struct flow){{K_UDP_INNER, f}, l, fd, *addr, len, 0, l->flows};
        l->flows = f;
        nflows++;
        watch(fd, EPOLLIN, &f->h);  /* if not, replies are lost: UDP */
    }
    f->last = time(NULL);
    send(f->fd, data, n, MSG_DONTWAIT);
}

void from_udp_client(struct listener *l)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        ssize_t n = recvfrom(l->fd, scratch, SCRATCH, MSG_DONTWAIT, (struct sockaddr *)&addr, &len);
        if (n < 0)
            return;
        start_udp(l, &addr, len, scratch, n);
    }
}

void from_udp_inner(struct flow *f)
{
    for (;;) {
        ssize_t n = recv(f->fd, scratch, SCRATCH, MSG_DONTWAIT);
        if (n < 0)
            break;
        sendto(f->l->fd, scratch, n, MSG_DONTWAIT, (struct sockaddr *)&f->addr, f->addrlen);
    }
    f->last = time(NULL);
}

void sweep_udp(struct listener *ls, int nl)
{
    time_t now = time(NULL);
    for (int i = 0; i < nl; i++) {
        struct flow **link = &ls[i].flows;
        while (*link) {
            struct flow *f = *link;
            if (now - f->last > UDP_IDLE) {
                *link = f->next;
                close(f->fd);
                free(f);
                nflows--;
            } else {
                link = &f->next;
            }
        }
    }
}
