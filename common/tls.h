/* tls: the connection layer of Strata's sockets, plain or TLS (OpenSSL).
 *
 * A plain connection is its file descriptor alone: conn_read() and
 * conn_write() with a NULL tls_conn are read(2) and write(2), inlined, at
 * no cost.  A TLS connection is a tls_conn over the same non-blocking fd,
 * made from a tls_ctx (certificates, CA, protocols, ciphers: built once
 * from the program's configuration).
 *
 * Conventions, those of read(2) and write(2):
 *   > 0   bytes read or written
 *   0     end of stream (reads only): the peer closed
 *   -1    errno set: EAGAIN when the call would block, and then
 *         tls_conn_wants() says which readiness of the fd the operation
 *         waits for.  It may be the other direction: a TLS read may have
 *         to write (a handshake message, a key update) and a write may
 *         have to read (the handshake).  Retry the same call once the fd
 *         is ready that way.  Any other errno is a failure of the
 *         connection (EPROTO: a TLS error; tls_conn_error() describes it).
 *
 * The handshake runs inside the first reads and writes (or explicitly,
 * tls_conn_handshake()).  Decrypted bytes may wait inside OpenSSL with
 * nothing left on the socket: after a read that filled the caller's
 * buffer, tls_conn_pending() > 0 means "read again now", since no
 * readiness event will come for them.
 *
 * A write that returned EAGAIN must be retried with the same bytes at the
 * same start (more may follow them; the buffer may have moved), as a
 * reply buffer that only grows until sent naturally does.
 *
 * Writes go to the socket with write(2): the program ignores SIGPIPE (every
 * Strata program does), so a peer gone away is an error, not a signal.
 *
 * This file knows no program: options come in a struct tls_opts. */
#ifndef STRATA_TLS_H
#define STRATA_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

/* tls-auth-clients, in the order of its names (yes is Redis's default). */
enum tls_auth { TLS_AUTH_NO = 0, TLS_AUTH_YES = 1, TLS_AUTH_OPTIONAL = 2 };
extern const char *const tls_auth_names[]; /* "no", "yes", "optional", NULL */

struct tls_opts {
    const char *cert_file;     /* PEM certificate (chain); required on a server */
    const char *key_file;      /* PEM private key of cert_file */
    const char *ca_cert_file;  /* PEM CAs that peers' certificates must chain to */
    const char *ca_cert_dir;   /* or a hashed directory of them (c_rehash) */
    const char *protocols;     /* "TLSv1.2 TLSv1.3" (the default when NULL or "") */
    const char *ciphers;       /* TLSv1.2 and below, OpenSSL's syntax; NULL: OpenSSL's */
    const char *ciphersuites;  /* TLSv1.3; NULL: OpenSSL's */
    int auth_clients;          /* server: enum tls_auth */
    int prefer_server_ciphers; /* server: its cipher order wins */
    int verify_peer;           /* client: check the server's certificate against the CAs */
};

/* The tls_* settings strata-node and strata-proxy share, by Redis's
 * names.  A program's settings struct holds them as TLS_SETTINGS: each
 * member by its own name (what its conf_field table points at), and the
 * whole as `.tls` for tls_settings_*_ctx. */
#define TLS_SETTINGS_MEMBERS                                                          \
    long long tls_port;          /* 0: no TLS listener */                              \
    char *tls_cert_file;                                                               \
    char *tls_key_file;                                                                \
    char *tls_ca_cert_file;                                                            \
    char *tls_ca_cert_dir;                                                             \
    int tls_auth_clients;        /* enum tls_auth */                                   \
    char *tls_protocols;         /* empty: "TLSv1.2 TLSv1.3" */                        \
    char *tls_ciphers;                                                                 \
    char *tls_ciphersuites;                                                            \
    int tls_prefer_server_ciphers;                                                     \
    char *tls_client_cert_file;  /* the connecting side's; empty: tls_cert_file */     \
    char *tls_client_key_file;
struct tls_settings {
    TLS_SETTINGS_MEMBERS
};
#define TLS_SETTINGS                                                                   \
    union {                                                                            \
        struct {                                                                       \
            TLS_SETTINGS_MEMBERS                                                       \
        };                                                                             \
        struct tls_settings tls;                                                       \
    }

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

enum { TLS_WANT_READ = 1, TLS_WANT_WRITE = 2 };

/* A context for the accepting (server != 0) or connecting side.  Returns
 * it, owned by the caller (tls_ctx_destroy), or NULL with the reason in
 * err (at most errlen bytes, NUL-terminated): files that cannot be read,
 * a key that does not match its certificate, an unknown protocol name. */
tls_ctx *tls_ctx_create(const struct tls_opts *o, int server, char *err, size_t errlen);
/* The context of a TLS listener from the settings (tls_port's). */
tls_ctx *tls_settings_server_ctx(const struct tls_settings *s, char *err, size_t errlen);
/* The context of links this program opens: it shows tls_client_cert_file
 * (else tls_cert_file, or none if both are empty) and requires the peer's
 * certificate to chain to the CA.  As Redis's replication and cluster
 * links, a caller that gives no host name to tls_conn_connect has the
 * chain checked, not the name. */
tls_ctx *tls_settings_client_ctx(const struct tls_settings *s, char *err, size_t errlen);
/* Connections made from it keep their own reference: it may be
 * destroyed (or replaced) while they live. */
void tls_ctx_destroy(tls_ctx *ctx);

/* A TLS connection over the connected, non-blocking socket fd: the
 * accepting side (tls_conn_accept) or the connecting side, sni the server
 * name or NULL: a host name is sent (SNI) and, with verify_peer, must be
 * one of the certificate's DNS names; an IPv4 or IPv6 address literal is
 * not sent and must be one of its IP addresses.  The fd stays the caller's: tls_conn_destroy
 * does not close it.  NULL only if OpenSSL is out of memory. */
tls_conn *tls_conn_accept(tls_ctx *ctx, int fd);
tls_conn *tls_conn_connect(tls_ctx *ctx, int fd, const char *sni);
/* Sends a close_notify if the connection is healthy (best effort, never
 * blocks) and frees it.  NULL is a no-op. */
void tls_conn_destroy(tls_conn *t);

/* 0 once the handshake is done, else -1 with errno as above. */
int tls_conn_handshake(tls_conn *t);
ssize_t tls_conn_read(tls_conn *t, void *buf, size_t len);
ssize_t tls_conn_write(tls_conn *t, const void *buf, size_t len);
/* Decrypted bytes waiting inside OpenSSL. */
size_t tls_conn_pending(const tls_conn *t);
/* After EAGAIN: TLS_WANT_READ or TLS_WANT_WRITE. */
int tls_conn_wants(const tls_conn *t);
int tls_conn_established(const tls_conn *t);
/* The last failure, "" if none. */
const char *tls_conn_error(const tls_conn *t);
/* "TLSv1.3" and the like once established, else "". */
const char *tls_conn_protocol(const tls_conn *t);
/* 1 if the peer presented a certificate that verified. */
int tls_conn_peer_verified(const tls_conn *t);

/* The layer itself: plain when t is NULL. */
static inline ssize_t conn_read(int fd, tls_conn *t, void *buf, size_t len)
{
    return t ? tls_conn_read(t, buf, len) : read(fd, buf, len);
}

static inline ssize_t conn_write(int fd, tls_conn *t, const void *buf, size_t len)
{
    return t ? tls_conn_write(t, buf, len) : write(fd, buf, len);
}

static inline size_t conn_pending(const tls_conn *t)
{
    return t ? tls_conn_pending(t) : 0;
}

#endif
