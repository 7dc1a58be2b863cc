/* synclink: blocking RESP links to nodes, plain or TLS.  See synclink.h. */
#include "synclink.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "tls.h"
#include "util.h"

struct synclink {
    int fd;
    tls_conn *tls;            /* NULL: plain */
    redisReader *reader;
    long long timeout_ms;
};

/* Monotonic milliseconds: deadlines must not move with the wall clock. */
static uint64_t mono_ms(void)
{
    return mono_us() / 1000;
}

/* Wait until fd is ready for `events` or deadline_ms (mono_ms) passes.  0 when ready, -1 on timeout or error. */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline_ms) return -1;
        struct pollfd p = { fd, events, 0 };
        int r = poll(&p, 1, (int)(deadline_ms - now));
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -1;
    }
}

/* After EAGAIN: wait for the direction the operation needs (TLS may want
 * the other one, tls.h). */
static int wait_again(synclink *l, short plain, uint64_t deadline_ms)
{
    short ev = plain;
    if (l->tls) ev = tls_conn_wants(l->tls) == TLS_WANT_WRITE ? POLLOUT : POLLIN;
    return wait_fd(l->fd, ev, deadline_ms);
}

synclink *synclink_open(const char *host, int port, struct tls_ctx *tls, long long timeout_ms, char *err,
                        size_t errlen)
{
    uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(err, errlen, "%s", gai_strerror(gai));
        if (res) freeaddrinfo(res);
        return NULL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        freeaddrinfo(res);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int cerr = rc < 0 ? errno : 0;
    freeaddrinfo(res);
    if (rc < 0 && cerr == EINPROGRESS) {
        socklen_t el = sizeof cerr;
        if (wait_fd(fd, POLLOUT, deadline) < 0) cerr = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &cerr, &el) < 0) cerr = errno;
    }
    if (cerr) {
        snprintf(err, errlen, "%s", strerror(cerr));
        close(fd);
        return NULL;
    }
    synclink *l = xcalloc(1, sizeof *l);
    l->fd = fd;
    l->timeout_ms = timeout_ms;
    if (tls) {
        /* The chain is verified, not the host name, as on the proxy's
         * other links to the nodes (backend.c). */
        l->tls = tls_conn_connect(tls, fd, NULL);
        if (!l->tls) {
            snprintf(err, errlen, "no memory for a TLS connection");
            synclink_close(l);
            return NULL;
        }
        while (tls_conn_handshake(l->tls) < 0) {
            const char *why = errno != EAGAIN ? tls_conn_error(l->tls)
                            : wait_again(l, POLLIN, deadline) < 0 ? "TLS handshake timeout"
                            : NULL;
            if (why) {
                snprintf(err, errlen, "%s", why);
                synclink_close(l);
                return NULL;
            }
        }
    }
    l->reader = redisReaderCreate();
    if (!l->reader) {
        snprintf(err, errlen, "out of memory");
        synclink_close(l);
        return NULL;
    }
    return l;
}

void *synclink_command(synclink *l, int argc, const char **argv)
{
    uint64_t deadline = mono_ms() + (uint64_t)(l->timeout_ms > 0 ? l->timeout_ms : 1);
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    if (len < 0) return NULL;
    size_t off = 0;
    while (off < (size_t)len) {
        ssize_t n = conn_write(l->fd, l->tls, cmd + off, (size_t)len - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN && wait_again(l, POLLOUT, deadline) == 0) {
            continue;
        } else {
            redisFreeCommand(cmd);
            return NULL;
        }
    }
    redisFreeCommand(cmd);
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(l->reader, &reply) != REDIS_OK) return NULL;
        if (reply) return reply;
        char chunk[16 * 1024];
        ssize_t n = conn_read(l->fd, l->tls, chunk, sizeof chunk);
        if (n > 0) {
            if (redisReaderFeed(l->reader, chunk, (size_t)n) != REDIS_OK) return NULL;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            /* Bytes OpenSSL already decrypted need no wait. */
            if (!conn_pending(l->tls) && wait_again(l, POLLIN, deadline) < 0) return NULL;
        } else {
            return NULL; /* closed, or failed */
        }
    }
}

void synclink_close(synclink *l)
{
    if (!l) return;
    if (l->reader) redisReaderFree(l->reader);
    tls_conn_destroy(l->tls);
    if (l->fd >= 0) close(l->fd);
    free(l);
}
