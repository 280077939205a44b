/* _rl_forward: rl's port forwarder, one small process per container (rootless/engine/net/forwarder.py
 * starts it; that module's doc says what it does and why).
 *
 *   _rl_forward CONTAINER_PID PARENT_PID STATUS_FD TARGET_IP FD/PROTO/PORT...
 *
 * Each FD is an inherited listening TCP socket (or bound UDP socket) on the host; PORT is the
 * container port it serves; connections go to TARGET_IP:PORT inside the network namespace of
 * CONTAINER_PID. STATUS_FD gets "OK" once the helper is inside the container's namespaces, or
 * "E <reason>", and is closed. The process:
 *  - forks a helper that joins the container's user namespace (unless it is ours) and network
 *    namespace and hands out fresh sockets of that namespace in batches (SCM_RIGHTS over a
 *    SOCK_SEQPACKET pair); the forwarder binds them to the client's address (IP_TRANSPARENT for a
 *    non-loopback client, with policy routing the helper sets up once with ip(8)) and connects them
 *    itself: no round trip per connection;
 *  - copies both ways on one epoll loop (edge-triggered): small messages with recv/send through one
 *    scratch buffer (a short read means the socket is drained, so no extra call per message), bulk
 *    directions (a full scratch read) switch to splice(2) through a pipe (from a pool, grown to 1 MiB);
 *  - relays UDP per published port, one inner socket per client address (idle flows dropped after
 *    90 s, docker-proxy's timeout);
 *  - exits when the container's first process ends (pidfd), on SIGTERM, or with its parent
 *    (PR_SET_PDEATHSIG); the helper dies with it.
 * Errors of one connection drop that connection; nothing else is fatal once running.
 * This file: start-up and the event loop; rl_forward_ns.c: the helper and the inner sockets;
 * rl_forward_relay.c: the TCP and UDP data path. */

#include "rl_forward.h"

int ep, helper_sock, status_fd = -1;
struct in_addr target;
long nflows;                         /* UDP flows: the loop wakes up to drop idle ones */

void fail(const char *fmt, ...)
{
    char msg[512] = "E ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 2, sizeof msg - 2, fmt, ap);
    va_end(ap);
    if (status_fd >= 0 && write(status_fd, msg, strlen(msg)) < 0) {
        /* nobody to tell */
    }
    _exit(1);
}

int watch(int fd, uint32_t events, struct handle *h)
{
    struct epoll_event ev = {.events = events, .data.ptr = h};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void must_watch(int fd, struct handle *h)
{
    if (watch(fd, EPOLLIN, h) < 0)
        fail("epoll_ctl: %s", strerror(errno));
}

/* ---- start-up ------------------------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Close every inherited fd but `keep` (the caller's log pipes and the like must not stay open
 * here), and point stdio at /dev/null. */
static void close_inherited(int *keep, int n)
{
    qsort(keep, n, sizeof *keep, cmp_int);
    int from = 3;
    for (int i = 0; i <= n; i++) {
        unsigned int to = i < n ? (unsigned int)keep[i] - 1 : ~0U;
        if (i < n && keep[i] < from)
            continue;
        if ((unsigned int)from <= to && syscall(SYS_close_range, from, to, 0) < 0) {
            unsigned int last = to > 65535 ? 65535 : to;
            for (unsigned int fd = from; fd <= last; fd++)
                close(fd);
        }
        if (i < n)
            from = keep[i] + 1;
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; fd++)
        dup2(null, fd);
    if (null > 2)
        close(null);
}

static int parse_listeners(int argc, char **argv, struct listener *ls, int *keep)
{
    int n = 0;
    for (int i = 5; i < argc && n < MAX_LISTENERS; i++, n++) {
        char proto[4];
        if (sscanf(argv[i], "%d/%3[a-z]/%d", &ls[n].fd, proto, &ls[n].port) != 3 || ls[n].fd < 3
            || ls[n].port <= 0 || ls[n].port > 65535 || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
            fail("bad listener argument %s (want FD/tcp|udp/PORT)", argv[i]);
        ls[n].tcp = proto[0] == 't';
        ls[n].h = (struct handle){ls[n].tcp ? K_LISTEN_TCP : K_LISTEN_UDP, &ls[n]};
        keep[n] = ls[n].fd;
    }
    return n;
}

/* SIGTERM (rl stopping the container's network) arrives through a signalfd: the loop ends and the
 * helper is reaped. SIGINT is ignored: a ^C of the foreground `rl run` is the container's. */
static int setup_signals(void)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_SETMASK, &term, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    return signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* As many connections as the hard limit allows (two sockets and up to two pipes each). */
static void raise_fd_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* Fork the helper; returns its pid once it is in the container's namespaces (else exits: the
 * helper has written the reason to the status fd). */
static pid_t start_helper(int container_pid, struct listener *ls, int nl)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        fail("socketpair: %s", strerror(errno));
    pid_t self = getpid(), helper = fork();
    if (helper < 0)
        fail("fork: %s", strerror(errno));
    if (helper == 0) {
        close(sv[0]);
        for (int i = 0; i < nl; i++)
            close(ls[i].fd);
        helper_main(sv[1], container_pid, self);
    }
    close(sv[1]);
    helper_sock = sv[0];
    struct reply rep;
    ssize_t n;
    do
        n = recv(helper_sock, &rep, sizeof rep, 0);
    while (n < 0 && errno == EINTR);
    if (n != sizeof rep || rep.op != '!') {
        waitpid(helper, NULL, 0);
        _exit(1);
    }
    return helper;
}

static void watch_all(struct listener *ls, int nl, int pidfd, int sigfd)
{
    static struct handle hhelper = {K_HELPER, NULL}, hpid = {K_PIDFD, NULL}, hsig = {K_SIGNAL, NULL};
    must_watch(helper_sock, &hhelper);
    must_watch(pidfd, &hpid);
    must_watch(sigfd, &hsig);
    for (int i = 0; i < nl; i++) {
        if (ls[i].tcp)  /* inherited by the accepted sockets */
            setsockopt(ls[i].fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        must_watch(ls[i].fd, &ls[i].h);
        refill(ls[i].tcp ? 0 : 1);
    }
}

static void loop(struct listener *ls, int nl)
{
    time_t next_sweep = time(NULL) + UDP_IDLE;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, nflows ? UDP_IDLE * 1000 : -1);
        if (n < 0 && errno != EINTR)
            return;
        for (int i = 0; i < n; i++) {
            struct handle *h = evs[i].data.ptr;
            switch (h->kind) {
            case K_CLIENT:
            case K_SERVER:
                on_conn(h->obj, h->kind == K_SERVER, evs[i].events);
                break;
            case K_LISTEN_TCP:
                accept_all(h->obj);
                break;
            case K_LISTEN_UDP:
                from_udp_client(h->obj);
                break;
            case K_UDP_INNER:
                from_udp_inner(h->obj);
                break;
            case K_HELPER:
                if (!from_helper())
                    return;
                break;
            case K_PIDFD:   /* the container's first process has ended */
            case K_SIGNAL:  /* SIGTERM */
                return;
            }
        }
        retry_waiting();  /* socket batches taken while asking for the routing */
        reap_dead();
        if (nflows && time(NULL) >= next_sweep) {
            sweep_udp(ls, nl);
            next_sweep = time(NULL) + UDP_IDLE;
        }
    }
}

int main(int argc, char **argv)
{
    static struct listener ls[MAX_LISTENERS];
    static int keep[MAX_LISTENERS + 2];
    if (argc < 5) {
        fprintf(stderr, "usage: %s CONTAINER_PID PARENT_PID STATUS_FD TARGET_IP FD/PROTO/PORT...\n"
                        "(rl's port forwarder: started by rl, not by hand)\n", argv[0]);
        return 2;
    }
    int container_pid = atoi(argv[1]);
    pid_t parent = atoi(argv[2]);
    status_fd = atoi(argv[3]);
    for (int fd = 0; fd < 3; fd++)  /* no fd of ours may land on a closed stdio slot */
        if (fcntl(fd, F_GETFD) < 0)
            open("/dev/null", O_RDWR);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        fail("the process that started the forwarder is gone");
    int sigfd = setup_signals();
    if (sigfd < 0)
        fail("signalfd: %s", strerror(errno));
    raise_fd_limit();
    if (inet_pton(AF_INET, argv[4], &target) != 1)
        fail("bad target address %s", argv[4]);
    int nl = parse_listeners(argc, argv, ls, keep);
    keep[nl] = status_fd;
    keep[nl + 1] = sigfd;
    close_inherited(keep, nl + 2);
    int pidfd = syscall(SYS_pidfd_open, container_pid, 0);
    if (pidfd < 0)
        fail("cannot watch process %d: %s", container_pid, strerror(errno));
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fail("epoll_create1: %s", strerror(errno));
    pid_t helper = start_helper(container_pid, ls, nl);
    watch_all(ls, nl, pidfd, sigfd);
    if (write(status_fd, "OK", 2) != 2)
        _exit(1);
    close(status_fd);
    status_fd = -1;
    loop(ls, nl);
    kill(helper, SIGKILL);
    waitpid(helper, NULL, 0);
    return 0;
}
