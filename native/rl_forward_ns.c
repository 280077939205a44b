/* rl_forward_ns.c: the container's side of rl's port forwarder (rl_forward.c says what the whole
 * does). The helper, forked before the loop starts, joins the container's user namespace (unless
 * it is ours) and network namespace and answers requests over a SOCK_SEQPACKET pair: "N fresh
 * TCP (or UDP) sockets", passed back in one SCM_RIGHTS message, and once "routing for
 * IP_TRANSPARENT". A socket keeps the namespace it was made in, so the forwarder binds and
 * connects them itself (inner_socket), with no round trip per connection. */

#include "rl_forward.h"

static int pool[2][256], npool[2];   /* [0] tcp, [1] udp: fresh sockets of the namespace */
static bool asked[2];                /* a batch is on its way */
static int transparent = -1;         /* routing for IP_TRANSPARENT: -1 not asked, 0 no, 1 yes */

/* ---- the helper (in the container's namespaces) -------------------------------------------- */

static void join(int pid)
{
    char path[64];
    struct stat own, theirs;
    snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
    int user = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
    int net = open(path, O_RDONLY | O_CLOEXEC);
    if (user < 0 || net < 0)
        fail("cannot open the namespaces of process %d: %s", pid, strerror(errno));
    if (stat("/proc/self/ns/user", &own) < 0 || fstat(user, &theirs) < 0)
        fail("stat of a user namespace: %s", strerror(errno));
    if (own.st_ino != theirs.st_ino && setns(user, CLONE_NEWUSER) < 0)
        fail("setns into the user namespace of process %d: %s", pid, strerror(errno));
    if (setns(net, CLONE_NEWNET) < 0)
        fail("setns into the network namespace of process %d: %s", pid, strerror(errno));
    close(user);
    close(net);
}

static int run_ip(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execvp("ip", argv);
        const char *where[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};  /* PATH lacks sbin */
        for (size_t i = 0; i < sizeof where / sizeof *where; i++)
            execv(where[i], argv);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Policy routing for IP_TRANSPARENT sockets in the (current) namespace: replies to a non-local
 * client address are delivered locally (to the socket bound to it) instead of leaving through the
 * stack's tap: SO_MARK 100 on the socket, `ip rule fwmark 100 lookup 100`, `ip route local default
 * dev lo table 100`, and tcp_fwmark_accept so the server's accepted socket carries the mark too. */
static int setup_routing(void)
{
    int fd = open("/proc/sys/net/ipv4/tcp_fwmark_accept", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "1", 1) != 1)
        return EPERM;
    close(fd);
    char *route[] = {"ip", "route", "replace", "local", "default", "dev", "lo", "table", "100", NULL};
    char *rule[] = {"ip", "rule", "add", "fwmark", "100", "lookup", "100", "priority", "100", NULL};
    return run_ip(route) == 0 && run_ip(rule) == 0 ? 0 : EPERM;
}

static void send_sockets(int sock, char proto, int count)
{
    int fds[250], n = 0;
    struct reply rep = {'s', proto, 0};
    int type = (proto == 't' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    if (count > 250)
        count = 250;
    while (n < count) {
        int fd = socket(AF_INET, type, 0);
        if (fd < 0) {
            rep.err = errno;
            break;
        }
        if (proto == 't')  /* forwarded messages go out as they come (the client side: the listener) */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        fds[n++] = fd;
    }
    if (n == 0 && rep.err == 0)
        rep.err = EINVAL;
    char control[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {&rep, sizeof rep};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n) {
        rep.err = 0;
        memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    }
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
        _exit(0);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

void helper_main(int sock, int container_pid, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    join(container_pid);  /* on failure: "E <reason>" on the status fd, exit */
    close(status_fd);
    struct reply ok = {'!', 0, 0};
    if (send(sock, &ok, sizeof ok, MSG_NOSIGNAL) < 0)
        _exit(0);
    for (;;) {
        struct request req;
        ssize_t n = recv(sock, &req, sizeof req, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            _exit(0);
        }
        if (n != sizeof req)
            continue;
        if (req.op == 'r') {
            struct reply rep = {'r', 0, setup_routing()};
            if (send(sock, &rep, sizeof rep, MSG_NOSIGNAL) < 0)
                _exit(0);
        } else {
            send_sockets(sock, req.proto, req.count);
        }
    }
}

/* ---- sockets from the helper --------------------------------------------------------------- */

void refill(int p)
{
    if (asked[p])
        return;
    struct request req = {'s', p ? 'u' : 't', SOCKET_BATCH};
    if (send(helper_sock, &req, sizeof req, MSG_NOSIGNAL) == sizeof req)
        asked[p] = true;
}

/* One reply from the helper; false once it is gone. */
static bool from_helper_one(bool *got, struct reply *out)
{
    struct reply rep;
    char control[CMSG_SPACE(256 * sizeof(int))];
    struct iovec iov = {&rep, sizeof rep};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    ssize_t n = recvmsg(helper_sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    *got = false;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0)
        return false;
    *got = true;
    if (out)
        *out = rep;
    if (rep.op != 's')
        return true;
    int p = rep.proto == 'u';
    asked[p] = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *fds = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (npool[p] < 256)
                pool[p][npool[p]++] = fds[i];
            else
                close(fds[i]);
        }
    }
    return true;
}

bool from_helper(void)
{
    bool got;
    do {
        if (!from_helper_one(&got, NULL))
            return false;
    } while (got);
    retry_waiting();
    return true;
}

/* Once, synchronously: ask the helper for the transparent routing (socket batches that come first
 * are taken as usual). */
static int ask_routing(void)
{
    struct request req = {'r', 't', 0};
    if (send(helper_sock, &req, sizeof req, MSG_NOSIGNAL) != sizeof req)
        return 0;
    for (;;) {
        struct pollfd p = {helper_sock, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return 0;
        bool got;
        struct reply rep;
        if (!from_helper_one(&got, &rep))
            return 0;
        if (got && rep.op == 'r')
            return rep.err == 0;
    }
}

static bool is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    return false;  /* IPv6 clients: the inner socket (IPv4) keeps the namespace's own address */
}

/* Bind an inner socket to the client's address where that works (see forwarder.py's doc);
 * silently leaves it unbound otherwise. */
static void bind_source(int fd, bool tcp, const struct sockaddr_storage *a)
{
    if (a->ss_family != AF_INET)
        return;
    if (!is_loopback(a)) {
        if (!tcp)
            return;
        if (transparent < 0)
            transparent = ask_routing();
        int one = 1, mark = MARK;
        if (!transparent || setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) < 0
            || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
            return;
    }
    struct sockaddr_in sin = *(struct sockaddr_in *)a;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 || errno != EADDRINUSE)
        return;
    sin.sin_port = 0;
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
}

int pooled(int p)
{
    return npool[p];
}

int inner_socket(int p, const struct sockaddr_storage *addr, int port)
{
    if (npool[p] < SOCKET_BATCH / 2)
        refill(p);
    if (!npool[p])
        return -1;
    int fd = pool[p][--npool[p]];
    bind_source(fd, p == 0, addr);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = target};
    /* non-blocking: its completion (or refusal) is an event on the socket */
    connect(fd, (struct sockaddr *)&to, sizeof to);
    return fd;
}
