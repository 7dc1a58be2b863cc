/* tls: OpenSSL contexts and non-blocking TLS connections (tls.h).
 *
 * Every SSL call is preceded by ERR_clear_error(): SSL_get_error() reads
 * the thread's error queue, and an entry left there by an earlier failure
 * would turn a harmless WANT_READ into a failure. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

const char *const tls_auth_names[] = { "no", "yes", "optional", NULL };

struct tls_ctx {
    SSL_CTX *ctx;
};

struct tls_conn {
    SSL *ssl;
    int wants;        /* TLS_WANT_*, after EAGAIN */
    int established;  /* the handshake is done */
    int failed;       /* a fatal error: no close_notify, no more I/O */
    int eof;          /* the peer's end of stream was read */
    char err[256];
};

/* OpenSSL's queued errors as one line, after `what`. */
static void take_errors(char *err, size_t errlen, const char *what)
{
    if (!err || !errlen) return;
    int n = snprintf(err, errlen, "%s", what);
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (n < 0 || (size_t)n >= errlen - 1) continue; /* drain the queue all the same */
        char one[256];
        ERR_error_string_n(e, one, sizeof one);
        n += snprintf(err + n, errlen - (size_t)n, ": %s", one);
    }
}

/* "TLSv1.2 TLSv1.3" -> the SSL_OP_NO_* of those not named.  -1 on a name
 * OpenSSL does not know, or none at all. */
static int protocol_options(const char *list, long *opts, char *err, size_t errlen)
{
    static const struct { const char *name; long off; } protos[] = {
        { "TLSv1", SSL_OP_NO_TLSv1 },     { "TLSv1.1", SSL_OP_NO_TLSv1_1 },
        { "TLSv1.2", SSL_OP_NO_TLSv1_2 }, { "TLSv1.3", SSL_OP_NO_TLSv1_3 },
    };
    const size_t nprotos = sizeof protos / sizeof protos[0];
    if (!list || !*list) list = "TLSv1.2 TLSv1.3";
    int on[4] = { 0, 0, 0, 0 }, any = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t len = strcspn(p, " ,");
        size_t i;
        for (i = 0; i < nprotos; i++)
            if (strlen(protos[i].name) == len && !strncasecmp(p, protos[i].name, len)) break;
        if (i == nprotos) {
            snprintf(err, errlen, "unknown TLS protocol '%.*s' (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)",
                     (int)(len > 32 ? 32 : len), p);
            return -1;
        }
        on[i] = any = 1;
        p += len;
    }
    if (!any) {
        snprintf(err, errlen, "no TLS protocol enabled");
        return -1;
    }
    *opts = 0;
    for (size_t i = 0; i < nprotos; i++)
        if (!on[i]) *opts |= protos[i].off;
    return 0;
}

static int nonempty(const char *s)
{
    return s && *s;
}

tls_ctx *tls_ctx_create(const struct tls_opts *o, int server, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    long noproto;
    if (protocol_options(o->protocols, &noproto, err, errlen) < 0) return NULL;
    if (server && (!nonempty(o->cert_file) || !nonempty(o->key_file))) {
        snprintf(err, errlen, "a TLS server needs tls-cert-file and tls-key-file");
        return NULL;
    }
    if (nonempty(o->cert_file) != nonempty(o->key_file)) {
        snprintf(err, errlen, "tls-cert-file and tls-key-file go together");
        return NULL;
    }
    int need_ca = server ? o->auth_clients != TLS_AUTH_NO : o->verify_peer;
    if (need_ca && !nonempty(o->ca_cert_file) && !nonempty(o->ca_cert_dir)) {
        snprintf(err, errlen, server ? "tls-auth-clients needs tls-ca-cert-file or tls-ca-cert-dir"
                                     : "verifying the server needs tls-ca-cert-file or tls-ca-cert-dir");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        take_errors(err, errlen, "SSL_CTX_new");
        return NULL;
    }
    /* No compression (CRIME), no renegotiation (a write that must read),
     * and a peer closing without close_notify is an end of stream: RESP
     * frames its own messages, so a cut one is seen as incomplete. */
    long opts = noproto | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (server && o->prefer_server_ciphers) opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, (uint64_t)opts);
    /* Partial writes, retried from a buffer that may have grown and moved
     * (a client's reply buffer); idle connections give their buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    const char *what = NULL;
    if (nonempty(o->cert_file) && SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1)
        what = "cannot load tls-cert-file";
    else if (nonempty(o->key_file) && SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1)
        what = "cannot load tls-key-file";
    else if (nonempty(o->key_file) && SSL_CTX_check_private_key(ctx) != 1)
        what = "tls-key-file does not match tls-cert-file";
    else if ((nonempty(o->ca_cert_file) || nonempty(o->ca_cert_dir)) &&
             SSL_CTX_load_verify_locations(ctx, nonempty(o->ca_cert_file) ? o->ca_cert_file : NULL,
                                           nonempty(o->ca_cert_dir) ? o->ca_cert_dir : NULL) != 1)
        what = "cannot load the CA certificates";
    else if (nonempty(o->ciphers) && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1)
        what = "bad tls-ciphers";
    else if (nonempty(o->ciphersuites) && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1)
        what = "bad tls-ciphersuites";
    if (what) {
        take_errors(err, errlen, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (server) {
        int mode = o->auth_clients == TLS_AUTH_YES ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                 : o->auth_clients == TLS_AUTH_OPTIONAL ? SSL_VERIFY_PEER
                 : SSL_VERIFY_NONE;
        SSL_CTX_set_verify(ctx, mode, NULL);
        /* Session resumption with client certificates needs an id context. */
        static const unsigned char sid[] = "strata";
        SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    } else {
        SSL_CTX_set_verify(ctx, o->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    }
    tls_ctx *t = calloc(1, sizeof *t);
    if (!t) {
        SSL_CTX_free(ctx);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->ctx = ctx;
    return t;
}

void tls_ctx_destroy(tls_ctx *ctx)
{
    if (!ctx) return;
    SSL_CTX_free(ctx->ctx); /* SSL objects hold references of their own */
    free(ctx);
}

static tls_conn *conn_new(tls_ctx *ctx, int fd)
{
    tls_conn *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        if (t->ssl) SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    return t;
}

tls_conn *tls_conn_accept(tls_ctx *ctx, int fd)
{
    tls_conn *t = conn_new(ctx, fd);
    if (t) SSL_set_accept_state(t->ssl);
    return t;
}

tls_conn *tls_conn_connect(tls_ctx *ctx, int fd, const char *sni)
{
    tls_conn *t = conn_new(ctx, fd);
    if (!t) return NULL;
    SSL_set_connect_state(t->ssl);
    if (nonempty(sni)) {
        /* With verification on, the certificate must also name the host:
         * an address literal (a replica's "127.0.0.1" master) against the
         * certificate's IP SANs, and it is sent as no SNI (RFC 6066 allows
         * host names only there); a name against its DNS SANs. */
        unsigned char a[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, sni, a) == 1 || inet_pton(AF_INET6, sni, a) == 1) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), sni);
        } else {
            SSL_set_tlsext_host_name(t->ssl, sni);
            SSL_set1_host(t->ssl, sni);
        }
        ERR_clear_error();
    }
    return t;
}

void tls_conn_destroy(tls_conn *t)
{
    if (!t) return;
    if (t->established && !t->failed && !t->eof) {
        ERR_clear_error();
        SSL_shutdown(t->ssl); /* one non-blocking try: our close_notify */
        ERR_clear_error();
    }
    SSL_free(t->ssl);
    free(t);
}

/* Map a failed SSL call onto the conventions of tls.h.  Returns 0 for a
 * clean end of stream, else -1 with errno. */
static int fail(tls_conn *t, int r, const char *op)
{
    int saved = errno;
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        t->wants = TLS_WANT_READ;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        t->wants = TLS_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify (or, by SSL_OP_IGNORE_UNEXPECTED_EOF, a plain EOF) */
        t->eof = 1;
        return 0;
    case SSL_ERROR_SYSCALL:
        t->failed = 1;
        if (saved == 0 || saved == EAGAIN) saved = ECONNRESET;
        snprintf(t->err, sizeof t->err, "%s: %s", op, strerror(saved));
        ERR_clear_error();
        errno = saved;
        return -1;
    default: {
        t->failed = 1;
        take_errors(t->err, sizeof t->err, op);
        /* "certificate verify failed" says nothing of why: add the
         * verification's own reason (an unknown CA, a name mismatch, an
         * expired certificate). */
        long v = SSL_get_verify_result(t->ssl);
        size_t n = strlen(t->err);
        if (!t->established && v != X509_V_OK && n < sizeof t->err - 1)
            snprintf(t->err + n, sizeof t->err - n, " (%s)", X509_verify_cert_error_string(v));
        errno = EPROTO;
        return -1;
    }
    }
}

int tls_conn_handshake(tls_conn *t)
{
    if (t->established) return 0;
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->established = 1;
        return 0;
    }
    if (fail(t, r, "TLS handshake") == 0) {
        /* The peer closed during the handshake. */
        t->failed = 1;
        snprintf(t->err, sizeof t->err, "TLS handshake: connection closed by the peer");
        errno = ECONNRESET;
    }
    return -1;
}

ssize_t tls_conn_read(tls_conn *t, void *buf, size_t len)
{
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    if (tls_conn_handshake(t) < 0) return -1;
    /* SSL_read gives at most one record (16 KB) a call: loop until the
     * buffer is full or the socket is drained. */
    size_t got = 0;
    while (got < len) {
        size_t want = len - got;
        if (want > INT_MAX) want = INT_MAX;
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(t->ssl, (char *)buf + got, (int)want);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        int saved_errno = errno;
        int f = fail(t, r, "TLS read");
        if (got) {
            /* Report the bytes now; the next call sees the condition
             * again (an error, EOF or EAGAIN is sticky in OpenSSL). */
            errno = saved_errno;
            return (ssize_t)got;
        }
        return f;
    }
    return (ssize_t)got;
}

ssize_t tls_conn_write(tls_conn *t, const void *buf, size_t len)
{
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    if (tls_conn_handshake(t) < 0) return -1;
    if (len == 0) return 0;
    size_t put = 0;
    while (put < len) {
        size_t n = len - put;
        if (n > INT_MAX) n = INT_MAX;
        ERR_clear_error();
        errno = 0;
        int r = SSL_write(t->ssl, (const char *)buf + put, (int)n);
        if (r > 0) {
            put += (size_t)r;
            continue;
        }
        int saved_errno = errno;
        int f = fail(t, r, "TLS write");
        if (put) {
            /* The bytes written count; the next call meets the condition. */
            errno = saved_errno;
            return (ssize_t)put;
        }
        if (f == 0) {
            /* close_notify received: writing further is an error. */
            t->failed = 1;
            snprintf(t->err, sizeof t->err, "TLS write: connection closed by the peer");
            errno = EPIPE;
        }
        return -1;
    }
    return (ssize_t)put;
}

size_t tls_conn_pending(const tls_conn *t)
{
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : 0;
}

int tls_conn_wants(const tls_conn *t)
{
    return t->wants;
}

int tls_conn_established(const tls_conn *t)
{
    return t->established;
}

const char *tls_conn_error(const tls_conn *t)
{
    return t->err;
}

const char *tls_conn_protocol(const tls_conn *t)
{
    return t->established ? SSL_get_version(t->ssl) : "";
}

int tls_conn_peer_verified(const tls_conn *t)
{
    if (!t->established) return 0;
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    if (!peer) return 0;
    X509_free(peer);
    return SSL_get_verify_result(t->ssl) == X509_V_OK;
}

tls_ctx *tls_settings_server_ctx(const struct tls_settings *s, char *err, size_t errlen)
{
    struct tls_opts o = {
        .cert_file = s->tls_cert_file,
        .key_file = s->tls_key_file,
        .ca_cert_file = s->tls_ca_cert_file,
        .ca_cert_dir = s->tls_ca_cert_dir,
        .protocols = s->tls_protocols,
        .ciphers = s->tls_ciphers,
        .ciphersuites = s->tls_ciphersuites,
        .auth_clients = s->tls_auth_clients,
        .prefer_server_ciphers = s->tls_prefer_server_ciphers,
    };
    return tls_ctx_create(&o, 1, err, errlen);
}

tls_ctx *tls_settings_client_ctx(const struct tls_settings *s, char *err, size_t errlen)
{
    int own = s->tls_client_cert_file && *s->tls_client_cert_file;
    struct tls_opts o = {
        .cert_file = own ? s->tls_client_cert_file : s->tls_cert_file,
        .key_file = own ? s->tls_client_key_file : s->tls_key_file,
        .ca_cert_file = s->tls_ca_cert_file,
        .ca_cert_dir = s->tls_ca_cert_dir,
        .protocols = s->tls_protocols,
        .ciphers = s->tls_ciphers,
        .ciphersuites = s->tls_ciphersuites,
        .verify_peer = 1,
    };
    return tls_ctx_create(&o, 0, err, errlen);
}
