/* test_tls: the TLS connection layer (common/tls.c) over socketpairs.
 *
 * A CA and certificates for a server (CN localhost, SANs localhost and
 * 127.0.0.1) and a client
 * are generated in-process (EC P-256) into a temporary directory; both
 * ends of a non-blocking AF_UNIX socketpair then run tls_conn calls in
 * turn, as an event loop would, so every EAGAIN and its wants() is seen.
 * Small socket buffers force partial writes; small reads leave decrypted
 * bytes pending inside OpenSSL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"

static char dir[] = "/tmp/strata-test-tls-XXXXXX";
static char path_ca[128], path_srv_crt[128], path_srv_key[128], path_cli_crt[128], path_cli_key[128],
    path_other_ca[128], path_other_crt[128], path_other_key[128];

static EVP_PKEY *write_key(const char *path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return k;
}

/* A certificate for `cn` with key k, signed by (ca, cakey) or by itself. */
static X509 *write_cert(const char *path, const char *cn, EVP_PKEY *k, X509 *ca, EVP_PKEY *cakey, int is_ca,
                        const char *san)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, ca ? ca : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (san) {
        e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, cakey ? cakey : k, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    return x;
}

static int setup_certs(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
#define P(var, file) snprintf(var, sizeof var, "%s/" file, dir)
    P(path_ca, "ca.crt");
    P(path_srv_crt, "server.crt");
    P(path_srv_key, "server.key");
    P(path_cli_crt, "client.crt");
    P(path_cli_key, "client.key");
    P(path_other_ca, "other-ca.crt");
    P(path_other_crt, "other.crt");
    P(path_other_key, "other.key");
#undef P
    char cakey_path[160], okey_path[160];
    snprintf(cakey_path, sizeof cakey_path, "%s/ca.key", dir);
    snprintf(okey_path, sizeof okey_path, "%s/other-ca.key", dir);
    EVP_PKEY *cak = write_key(cakey_path);
    X509 *ca = write_cert(path_ca, "Test CA", cak, NULL, NULL, 1, NULL);
    EVP_PKEY *sk = write_key(path_srv_key);
    X509_free(write_cert(path_srv_crt, "localhost", sk, ca, cak, 0, "DNS:localhost,IP:127.0.0.1"));
    EVP_PKEY *ck = write_key(path_cli_key);
    X509_free(write_cert(path_cli_crt, "client", ck, ca, cak, 0, NULL));
    EVP_PKEY *ok = write_key(okey_path);
    X509 *oca = write_cert(path_other_ca, "Other CA", ok, NULL, NULL, 1, NULL);
    EVP_PKEY *xk = write_key(path_other_key);
    X509_free(write_cert(path_other_crt, "stranger", xk, oca, ok, 0, NULL));
    X509_free(ca);
    X509_free(oca);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(ok);
    EVP_PKEY_free(xk);
    return 0;
}

static int teardown_certs(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static tls_ctx *server_ctx(int auth)
{
    struct tls_opts o = { .cert_file = path_srv_crt, .key_file = path_srv_key, .ca_cert_file = path_ca,
                          .auth_clients = auth };
    char err[256];
    tls_ctx *c = tls_ctx_create(&o, 1, err, sizeof err);
    if (!c) fail_msg("server ctx: %s", err);
    return c;
}

static tls_ctx *client_ctx(const char *crt, const char *key, const char *protocols)
{
    struct tls_opts o = { .cert_file = crt, .key_file = key, .ca_cert_file = path_ca, .verify_peer = 1,
                          .protocols = protocols };
    char err[256];
    tls_ctx *c = tls_ctx_create(&o, 0, err, sizeof err);
    if (!c) fail_msg("client ctx: %s", err);
    return c;
}

/* A non-blocking socketpair; sndbuf > 0 makes both buffers small. */
static void pair(int fds[2], int sndbuf)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    for (int i = 0; i < 2; i++) {
        if (sndbuf > 0) {
            setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
            setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
        }
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
}

/* Run both handshakes in turn.  Returns 0 when both are done, else -1
 * (one side failed); every EAGAIN must come with a want. */
static int handshake(tls_conn *a, tls_conn *b)
{
    int done_a = 0, done_b = 0;
    for (int round = 0; round < 100; round++) {
        if (!done_a) {
            if (tls_conn_handshake(a) == 0) done_a = 1;
            else if (errno != EAGAIN) return -1;
            else assert_true(tls_conn_wants(a) == TLS_WANT_READ || tls_conn_wants(a) == TLS_WANT_WRITE);
        }
        if (!done_b) {
            if (tls_conn_handshake(b) == 0) done_b = 1;
            else if (errno != EAGAIN) return -1;
            else assert_true(tls_conn_wants(b) == TLS_WANT_READ || tls_conn_wants(b) == TLS_WANT_WRITE);
        }
        if (done_a && done_b) return 0;
    }
    fail_msg("handshake did not finish");
    return -1;
}

struct link {
    int fds[2];
    tls_ctx *sctx, *cctx;
    tls_conn *srv, *cli;
};

static void link_open(struct link *l, int auth, const char *crt, const char *key, int sndbuf)
{
    pair(l->fds, sndbuf);
    l->sctx = server_ctx(auth);
    l->cctx = client_ctx(crt, key, NULL);
    l->srv = tls_conn_accept(l->sctx, l->fds[0]);
    l->cli = tls_conn_connect(l->cctx, l->fds[1], "localhost");
    assert_non_null(l->srv);
    assert_non_null(l->cli);
}

static void link_close(struct link *l)
{
    tls_conn_destroy(l->srv);
    tls_conn_destroy(l->cli);
    /* The connections hold their own references to the contexts. */
    tls_ctx_destroy(l->sctx);
    tls_ctx_destroy(l->cctx);
    close(l->fds[0]);
    close(l->fds[1]);
}

static void test_handshake_and_echo(void **state)
{
    (void)state;
    struct link l;
    link_open(&l, TLS_AUTH_YES, path_cli_crt, path_cli_key, 0);
    assert_false(tls_conn_established(l.srv));
    assert_string_equal(tls_conn_protocol(l.srv), "");
    /* The server cannot read before the client speaks. */
    char b[64];
    assert_int_equal(tls_conn_read(l.srv, b, sizeof b), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tls_conn_wants(l.srv), TLS_WANT_READ);
    assert_int_equal(handshake(l.cli, l.srv), 0);
    assert_true(tls_conn_established(l.srv) && tls_conn_established(l.cli));
    assert_string_equal(tls_conn_protocol(l.srv), "TLSv1.3");
    assert_true(tls_conn_peer_verified(l.srv));  /* the client's certificate */
    assert_true(tls_conn_peer_verified(l.cli));  /* the server's, for "localhost" */
    assert_int_equal(conn_write(l.fds[1], l.cli, "PING\r\n", 6), 6);
    ssize_t n;
    /* TLS 1.3 session tickets arrive after the handshake: reads may see
     * EAGAIN before the data. */
    for (int i = 0; (n = conn_read(l.fds[0], l.srv, b, sizeof b)) < 0 && i < 10; i++) assert_int_equal(errno, EAGAIN);
    assert_int_equal(n, 6);
    assert_memory_equal(b, "PING\r\n", 6);
    assert_int_equal(conn_write(l.fds[0], l.srv, "+PONG\r\n", 7), 7);
    for (int i = 0; (n = conn_read(l.fds[1], l.cli, b, sizeof b)) < 0 && i < 10; i++) assert_int_equal(errno, EAGAIN);
    assert_int_equal(n, 7);
    assert_memory_equal(b, "+PONG\r\n", 7);
    /* Nothing more: EAGAIN, waiting to read. */
    assert_int_equal(conn_read(l.fds[1], l.cli, b, sizeof b), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tls_conn_wants(l.cli), TLS_WANT_READ);
    assert_string_equal(tls_conn_error(l.cli), "");
    link_close(&l);
}

static void test_plain_is_read_write(void **state)
{
    (void)state;
    int fds[2];
    pair(fds, 0);
    assert_int_equal(conn_write(fds[0], NULL, "abc", 3), 3);
    char b[8];
    assert_int_equal(conn_read(fds[1], NULL, b, sizeof b), 3);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(conn_read(fds[1], NULL, b, sizeof b), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(conn_pending(NULL), 0);
    close(fds[0]);
    close(fds[1]);
}

/* Several MB through small socket buffers: writes stop with EAGAIN
 * wanting WRITE and resume from the first byte not reported written (a
 * count, when OpenSSL reports one); the reader gets every byte in order.  The writer's buffer moves between retries (a
 * growing reply buffer does): SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER. */
static void test_partial_writes(void **state)
{
    (void)state;
    struct link l;
    link_open(&l, TLS_AUTH_NO, NULL, NULL, 8192);
    assert_int_equal(handshake(l.cli, l.srv), 0);
    size_t total = 3u << 20;
    unsigned char *data = malloc(total), *got = malloc(total);
    for (size_t i = 0; i < total; i++) data[i] = (unsigned char)(i * 7 + (i >> 13));
    size_t sent = 0, recvd = 0;
    int partial = 0, eagain = 0, rounds = 0;
    while (recvd < total) {
        assert_true(++rounds < 1000000);
        if (sent < total) {
            /* A fresh copy each time: the bytes stay, their address moves. */
            size_t left = total - sent;
            unsigned char *copy = malloc(left);
            memcpy(copy, data + sent, left);
            ssize_t n = tls_conn_write(l.srv, copy, left);
            free(copy);
            if (n < 0) {
                assert_int_equal(errno, EAGAIN);
                assert_int_equal(tls_conn_wants(l.srv), TLS_WANT_WRITE);
                eagain++;
            } else {
                assert_true(n > 0 && (size_t)n <= left);
                if ((size_t)n < left) partial++;
                sent += (size_t)n;
            }
        }
        /* The reader takes a little at a time. */
        ssize_t n = tls_conn_read(l.cli, got + recvd, 5000 < total - recvd ? 5000 : total - recvd);
        if (n < 0) assert_int_equal(errno, EAGAIN);
        else {
            assert_true(n > 0);
            recvd += (size_t)n;
        }
    }
    /* OpenSSL keeps the progress of a blocked SSL_write and often reports
     * it only once the whole buffer is out: partial counts may not show,
     * but the socket must have been full many times. */
    (void)partial;
    if (eagain < 10) fail_msg("only %d EAGAIN in %d rounds: the socket never filled", eagain, rounds);
    assert_memory_equal(got, data, total);
    free(data);
    free(got);
    link_close(&l);
}

/* A read smaller than a record leaves the rest decrypted inside OpenSSL,
 * with nothing on the socket: tls_conn_pending says so, and a read gets
 * it without any readiness of the fd. */
static void test_pending_bytes(void **state)
{
    (void)state;
    struct link l;
    link_open(&l, TLS_AUTH_NO, NULL, NULL, 0);
    assert_int_equal(handshake(l.cli, l.srv), 0);
    char msg[10000];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (char)('a' + i % 26);
    assert_int_equal(tls_conn_write(l.srv, msg, sizeof msg), (ssize_t)sizeof msg);
    char b[sizeof msg];
    ssize_t n;
    for (int i = 0; (n = tls_conn_read(l.cli, b, 100)) < 0 && i < 10; i++) assert_int_equal(errno, EAGAIN);
    assert_int_equal(n, 100);
    assert_int_equal(tls_conn_pending(l.cli), sizeof msg - 100);
    char probe;
    assert_int_equal(recv(l.fds[1], &probe, 1, MSG_PEEK), -1); /* the socket is empty */
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tls_conn_read(l.cli, b + 100, sizeof b - 100), (ssize_t)(sizeof msg - 100));
    assert_memory_equal(b, msg, sizeof msg);
    assert_int_equal(tls_conn_pending(l.cli), 0);
    link_close(&l);
}

/* End of stream: a close_notify, or a peer that just closes its socket. */
static void test_end_of_stream(void **state)
{
    (void)state;
    struct link l;
    link_open(&l, TLS_AUTH_NO, NULL, NULL, 0);
    assert_int_equal(handshake(l.cli, l.srv), 0);
    char b[16];
    tls_conn_destroy(l.cli); /* sends close_notify */
    l.cli = NULL;
    ssize_t n;
    for (int i = 0; (n = tls_conn_read(l.srv, b, sizeof b)) < 0 && i < 10; i++) assert_int_equal(errno, EAGAIN);
    assert_int_equal(n, 0);
    link_close(&l);

    link_open(&l, TLS_AUTH_NO, NULL, NULL, 0);
    assert_int_equal(handshake(l.cli, l.srv), 0);
    /* The client takes its session tickets first: closing a socket with
     * unread input resets the connection instead of ending it. */
    assert_int_equal(tls_conn_read(l.cli, b, sizeof b), -1);
    assert_int_equal(errno, EAGAIN);
    close(l.fds[1]); /* no close_notify */
    l.fds[1] = -1;
    for (int i = 0; (n = tls_conn_read(l.srv, b, sizeof b)) < 0 && i < 10; i++) assert_int_equal(errno, EAGAIN);
    assert_int_equal(n, 0);
    link_close(&l);
}

static void test_client_certificate_required(void **state)
{
    (void)state;
    struct link l;
    link_open(&l, TLS_AUTH_YES, NULL, NULL, 0);
    assert_int_equal(handshake(l.cli, l.srv), -1);
    /* One side failed; the server says why, with EPROTO. */
    char b[8];
    assert_int_equal(tls_conn_read(l.srv, b, sizeof b), -1);
    assert_int_equal(errno, EPROTO);
    assert_non_null(strstr(tls_conn_error(l.srv), "peer did not return a certificate"));
    link_close(&l);

    /* A certificate from another CA: refused too. */
    link_open(&l, TLS_AUTH_OPTIONAL, path_other_crt, path_other_key, 0);
    assert_int_equal(handshake(l.cli, l.srv), -1);
    assert_int_equal(tls_conn_read(l.srv, b, sizeof b), -1);
    assert_int_equal(errno, EPROTO);
    assert_non_null(strstr(tls_conn_error(l.srv), "certificate verify failed"));
    link_close(&l);

    /* optional: no certificate is fine. */
    link_open(&l, TLS_AUTH_OPTIONAL, NULL, NULL, 0);
    assert_int_equal(handshake(l.cli, l.srv), 0);
    assert_false(tls_conn_peer_verified(l.srv));
    link_close(&l);
}

static void test_plain_client_on_tls(void **state)
{
    (void)state;
    int fds[2];
    pair(fds, 0);
    tls_ctx *s = server_ctx(TLS_AUTH_NO);
    tls_conn *t = tls_conn_accept(s, fds[0]);
    assert_int_equal(write(fds[1], "*1\r\n$4\r\nPING\r\n", 14), 14);
    char b[16];
    assert_int_equal(conn_read(fds[0], t, b, sizeof b), -1);
    assert_int_equal(errno, EPROTO);
    assert_non_null(strstr(tls_conn_error(t), "wrong version number"));
    /* Failed is sticky; write fails the same way, and destroy sends nothing. */
    assert_int_equal(conn_write(fds[0], t, "x", 1), -1);
    assert_int_equal(errno, EPROTO);
    tls_conn_destroy(t);
    tls_ctx_destroy(s);
    close(fds[0]);
    close(fds[1]);
}

static void test_protocols(void **state)
{
    (void)state;
    /* A server that allows TLSv1.2 only, a client that wants 1.3 only. */
    struct tls_opts so = { .cert_file = path_srv_crt, .key_file = path_srv_key, .protocols = "TLSv1.2" };
    char err[256];
    tls_ctx *s = tls_ctx_create(&so, 1, err, sizeof err);
    assert_non_null(s);
    tls_ctx *c13 = client_ctx(NULL, NULL, "TLSv1.3");
    tls_ctx *c12 = client_ctx(NULL, NULL, "tlsv1.2, TLSv1.3");
    int fds[2];
    pair(fds, 0);
    tls_conn *a = tls_conn_accept(s, fds[0]), *b = tls_conn_connect(c13, fds[1], "localhost");
    assert_int_equal(handshake(b, a), -1);
    tls_conn_destroy(a);
    tls_conn_destroy(b);
    close(fds[0]);
    close(fds[1]);
    pair(fds, 0);
    a = tls_conn_accept(s, fds[0]);
    b = tls_conn_connect(c12, fds[1], "localhost");
    assert_int_equal(handshake(b, a), 0);
    assert_string_equal(tls_conn_protocol(a), "TLSv1.2");
    tls_conn_destroy(a);
    tls_conn_destroy(b);
    close(fds[0]);
    close(fds[1]);
    tls_ctx_destroy(s);
    tls_ctx_destroy(c13);
    tls_ctx_destroy(c12);
}

/* The two ends of a pair, their contexts and the sockets, freed. */
static void end_pair(tls_conn *a, tls_conn *b, tls_ctx *s, tls_ctx *c, const int fds[2])
{
    tls_conn_destroy(a);
    tls_conn_destroy(b);
    tls_ctx_destroy(s);
    tls_ctx_destroy(c);
    close(fds[0]);
    close(fds[1]);
}

/* Connect to a server with the certificate of localhost and 127.0.0.1
 * under the name `sni`: 0 if the handshake succeeded, else -1 with the
 * client's error, which must contain `want`. */
static int connect_as(const char *sni, const char *want)
{
    int fds[2];
    pair(fds, 0);
    tls_ctx *s = server_ctx(TLS_AUTH_NO), *c = client_ctx(NULL, NULL, NULL);
    tls_conn *a = tls_conn_accept(s, fds[0]), *b = tls_conn_connect(c, fds[1], sni);
    int r = handshake(b, a);
    if (r < 0) {
        char x[8];
        assert_int_equal(tls_conn_read(b, x, sizeof x), -1);
        assert_int_equal(errno, EPROTO);
        if (!strstr(tls_conn_error(b), want)) fail_msg("error '%s' lacks '%s'", tls_conn_error(b), want);
    }
    end_pair(a, b, s, c, fds);
    return r;
}

/* The client checks the server's name: its DNS names for a host name, its
 * IP addresses for an address literal (a replica's "127.0.0.1" master),
 * and says why a certificate does not verify. */
static void test_server_name_checked(void **state)
{
    (void)state;
    assert_int_equal(connect_as("localhost", NULL), 0);
    assert_int_equal(connect_as("127.0.0.1", NULL), 0);
    assert_int_equal(connect_as("example.com", "certificate verify failed (hostname mismatch)"), -1);
    assert_int_equal(connect_as("127.0.0.2", "certificate verify failed (IP address mismatch)"), -1);
    assert_int_equal(connect_as("::1", "certificate verify failed (IP address mismatch)"), -1);
}

/* A server whose CA the client does not trust: the reason says so. */
static void test_unknown_server_ca(void **state)
{
    (void)state;
    int fds[2];
    pair(fds, 0);
    struct tls_opts o = { .ca_cert_file = path_other_ca, .verify_peer = 1 };
    char err[256];
    tls_ctx *s = server_ctx(TLS_AUTH_NO), *c = tls_ctx_create(&o, 0, err, sizeof err);
    assert_non_null(c);
    tls_conn *a = tls_conn_accept(s, fds[0]), *b = tls_conn_connect(c, fds[1], "localhost");
    assert_int_equal(handshake(b, a), -1);
    /* The server sends its chain up to its CA, which it has (to check
     * clients): "self-signed" is that CA, untrusted here. */
    const char *e = tls_conn_error(b);
    if (!strstr(e, "certificate verify failed (self-signed certificate in certificate chain)") &&
        !strstr(e, "certificate verify failed (unable to get local issuer certificate)"))
        fail_msg("unexpected error '%s'", e);
    end_pair(a, b, s, c, fds);
}

static void expect_ctx_error(const struct tls_opts *o, int server, const char *want)
{
    char err[512];
    tls_ctx *c = tls_ctx_create(o, server, err, sizeof err);
    assert_null(c);
    if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_ctx_errors(void **state)
{
    (void)state;
    struct tls_opts o = { .cert_file = path_srv_crt, .key_file = path_srv_key };
    o.protocols = "SSLv3";
    expect_ctx_error(&o, 1, "unknown TLS protocol 'SSLv3'");
    o.protocols = " , ";
    expect_ctx_error(&o, 1, "no TLS protocol enabled");
    o.protocols = NULL;
    o.cert_file = "/nonexistent/cert.pem";
    expect_ctx_error(&o, 1, "cannot load tls-cert-file");
    o.cert_file = path_srv_crt;
    o.key_file = path_cli_key;
    expect_ctx_error(&o, 1, "key values mismatch");
    o.key_file = NULL;
    expect_ctx_error(&o, 1, "a TLS server needs tls-cert-file and tls-key-file");
    o.key_file = path_srv_key;
    o.auth_clients = TLS_AUTH_YES;
    expect_ctx_error(&o, 1, "tls-auth-clients needs tls-ca-cert-file or tls-ca-cert-dir");
    o.ca_cert_file = "/nonexistent/ca.pem";
    expect_ctx_error(&o, 1, "cannot load the CA certificates");
    o.ca_cert_file = path_ca;
    o.ciphers = "NO-SUCH-CIPHER";
    expect_ctx_error(&o, 1, "bad tls-ciphers");
    o.ciphers = NULL;
    o.ciphersuites = "TLS_NO_SUCH";
    expect_ctx_error(&o, 1, "bad tls-ciphersuites");
    o.ciphersuites = NULL;
    char err[64];
    tls_ctx *ok = tls_ctx_create(&o, 1, err, sizeof err);
    assert_non_null(ok);
    assert_string_equal(err, "");
    tls_ctx_destroy(ok);
    struct tls_opts c = { .verify_peer = 1 };
    expect_ctx_error(&c, 0, "verifying the server needs");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as every Strata program (tls.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_echo),
        cmocka_unit_test(test_plain_is_read_write),
        cmocka_unit_test(test_partial_writes),
        cmocka_unit_test(test_pending_bytes),
        cmocka_unit_test(test_end_of_stream),
        cmocka_unit_test(test_client_certificate_required),
        cmocka_unit_test(test_plain_client_on_tls),
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_server_name_checked),
        cmocka_unit_test(test_unknown_server_ca),
        cmocka_unit_test(test_ctx_errors),
    };
    return cmocka_run_group_tests(tests, setup_certs, teardown_certs);
}
