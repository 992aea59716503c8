/* A minimal edge-triggered epoll echo server: the lower bound twig is
 * measured against. One thread, one shared 64 KiB read buffer, each client
 * registered once for EPOLLIN|EPOLLOUT|EPOLLET (no epoll_ctl per request).
 * A short read means the socket is drained (Linux TCP), as in twig. What a
 * socket will not take is kept per client, and that client is not read until
 * it is flushed (backpressure). SIGTERM/SIGINT exit cleanly.
 *
 * Build: cc -O2 -o epoll_echo epoll_echo.c    Run: ./epoll_echo 127.0.0.1 7000
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 1024

struct conn {
    int fd;
    int readable;   /* edge seen, not yet drained */
    char *pending;  /* bytes the socket would not take */
    size_t len, off;
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static char buf[BUF_SIZE];

static void drop_conn(struct conn *c) {
    close(c->fd); /* also leaves the epoll set */
    free(c->pending);
    free(c);
}

/* Writes what is pending; 1 when flushed, 0 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->pending + c->off, c->len - c->off);
        if (n > 0) { c->off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        return (n < 0 && errno == EAGAIN) ? 0 : -1;
    }
    free(c->pending);
    c->pending = NULL;
    c->len = c->off = 0;
    return 1;
}

/* Reads and echoes until drained or blocked on output; -1 to close. */
static int serve(struct conn *c) {
    while (c->readable && c->pending == NULL) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n == 0) return -1; /* EOF */
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { c->readable = 0; break; }
            return -1;
        }
        if ((size_t)n < sizeof buf) c->readable = 0; /* short read: drained */
        ssize_t w = 0;
        while (w < n) {
            ssize_t k = write(c->fd, buf + w, (size_t)(n - w));
            if (k > 0) { w += k; continue; }
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && errno == EAGAIN) break;
            return -1;
        }
        if (w < n) { /* keep the rest; read nothing more until it is written */
            c->pending = malloc((size_t)(n - w));
            if (c->pending == NULL) return -1;
            memcpy(c->pending, buf + w, (size_t)(n - w));
            c->len = (size_t)(n - w);
            c->off = 0;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 7000;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 1024)) {
        perror("epoll_echo: bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[MAX_EVENTS];

    while (!stopping) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) { /* accept until EAGAIN (level-triggered listener) */
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                              .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            uint32_t e = events[i].events;
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
            if (c->pending && (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
                int f = flush(c);
                if (f < 0) { drop_conn(c); continue; }
            }
            if (serve(c) < 0) drop_conn(c);
        }
    }
    return 0;
}
