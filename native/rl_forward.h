/* rl_forward.h: what the three parts of rl's port forwarder share (rl_forward.c: start-up and the
 * event loop; rl_forward_ns.c: the helper in the container's namespaces and the inner sockets it
 * hands out; rl_forward_relay.c: copying TCP connections and relaying UDP datagrams). */

#ifndef RL_FORWARD_H
#define RL_FORWARD_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif

#define MAX_LISTENERS 1024
#define SCRATCH (64 * 1024)          /* one recv; a full one marks a bulk direction */
#define BULK_PIPE (1 << 20)          /* a bulk direction's pipe grows to this */
#define SOCKET_BATCH 64              /* fresh sockets asked from the helper at a time */
#define PIPE_POOL 8                  /* empty (grown) pipes kept for reuse */
#define UDP_IDLE 90                  /* seconds */
#define MARK 100                     /* fwmark and routing table of transparent sockets */
#define SPLICE_FLAGS (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

/* ---- the helper's protocol: request {op, proto, count}, reply {op, proto, err} + fds -------- */
struct request { char op, proto; uint16_t count; };      /* op 's' sockets, 'r' routing */
struct reply { char op, proto; int32_t err; };

enum kind { K_LISTEN_TCP, K_LISTEN_UDP, K_CLIENT, K_SERVER, K_UDP_INNER, K_HELPER, K_PIDFD, K_SIGNAL };

struct handle { enum kind kind; void *obj; };

struct listener {
    struct handle h;
    int fd, port;
    bool tcp;
    struct flow *flows;              /* UDP: client address -> inner socket */
};

struct dir {                         /* one way of a TCP connection: src -> dst */
    int src, dst;
    bool splicing, eof, done, drained;
    bool hup;                        /* src had EPOLLRDHUP/HUP/ERR: no more edges, read to the end */
    struct dir *other;
    char *buf;                       /* copy mode: what dst did not take yet */
    size_t off, len;
    int pr, pw;                      /* splice mode: the pipe, `pending` bytes in it, `size` room */
    size_t pending, size;
};

struct conn {
    struct handle hc, hs;
    int client, server;
    bool connected, dead;
    struct dir up, down;             /* up: client -> server */
    struct conn *next;               /* waiting for a socket, or dead (freed after the batch) */
    struct sockaddr_storage addr;
    struct listener *l;
};

struct flow {
    struct handle h;
    struct listener *l;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    time_t last;
    struct flow *next;
};

/* rl_forward.c */
extern int ep, helper_sock, status_fd;
extern struct in_addr target;
extern long nflows;
void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
int watch(int fd, uint32_t events, struct handle *h);

/* rl_forward_ns.c */
void helper_main(int sock, int container_pid, pid_t parent) __attribute__((noreturn));
void refill(int p);
bool from_helper(void);
int pooled(int p);
int inner_socket(int p, const struct sockaddr_storage *addr, int port);

/* rl_forward_relay.c */
void accept_all(struct listener *l);
void on_conn(struct conn *c, bool server, uint32_t events);
void retry_waiting(void);
void reap_dead(void);
void from_udp_client(struct listener *l);
void from_udp_inner(struct flow *f);
void sweep_udp(struct listener *ls, int nl);

#endif
