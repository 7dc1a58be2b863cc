/* local: commands answered by the proxy itself.  See local.h.
 * Replies follow Redis 7.0's texts so clients cannot tell the difference
 * where the proxy stands in for a server. */
#include "local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "backend.h"
#include "client.h"
#include "cmdreply.h"
#include "merge.h"
#include "pacl.h"
#include "reply.h"
#include "resp.h"
#include "route.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

void local_unknown_command(buf *out, int argc, char **argv, const size_t *lens)
{
    buf args;
    buf_init(&args);
    for (int i = 1; i < argc && args.len < 128; i++) {
        int room = 128 - (int)args.len;
        int n = lens[i] < (size_t)room ? (int)lens[i] : room;
        buf_printf(&args, "'%.*s' ", n, argv[i]);
    }
    int nl = lens[0] < 128 ? (int)lens[0] : 128;
    buf msg;
    buf_init(&msg);
    buf_printf(&msg, "ERR unknown command '%.*s', with args beginning with: ", nl, argv[0]);
    buf_append(&msg, args.data, args.len);
    buf_append_char(&msg, '\0');
    resp_add_error(out, msg.data);
    buf_free(&msg);
    buf_free(&args);
}

void local_unsubscribe(buf *out, const char *kind, int argc, char **argv, const size_t *lens)
{
    if (argc < 2) {
        resp_add_array(out, 3);
        resp_add_bulk_str(out, kind);
        resp_add_null(out, RESP2);
        resp_add_int(out, 0);
        return;
    }
    for (int i = 1; i < argc; i++) {
        resp_add_array(out, 3);
        resp_add_bulk_str(out, kind);
        resp_add_bulk(out, argv[i], lens[i]);
        resp_add_int(out, 0);
    }
}

/* AUTH [user] pass and HELLO's AUTH against the ACL users (pacl.h).
 * Returns 1 on error (reply written). */
static int check_auth(struct client *c, const char *cmd, size_t cmdlen, const char *user, size_t ulen,
                      const char *pass, size_t plen, buf *out)
{
    return pacl_auth(c, cmd, cmdlen, user, ulen, pass, plen, out);
}

/* CLIENT SETNAME and HELLO SETNAME: Redis's clientSetName.  An empty name
 * clears the name.  Returns 0, or -1 after replying the error to out (the
 * name is then unchanged).  The name is copied. */
static int client_set_name(struct client *c, const char *name, size_t len, buf *out)
{
    if (!resp_check_client_name(out, name, len)) return -1;
    free(c->name);
    c->name = len ? xmemdup(name, len) : NULL;
    return 0;
}

static int do_hello(struct client *c, int argc, char **argv, const size_t *lens, buf *out)
{
    int i = 1;
    long long ver = 0;
    if (argc >= 2) {
        if (str2ll(argv[1], lens[1], &ver) < 0) {
            resp_add_error(out, "ERR Protocol version is not an integer or out of range");
            return 1;
        }
        if (ver < 2 || ver > 3) {
            resp_add_error(out, "NOPROTO unsupported protocol version");
            return 1;
        }
        i = 2;
    }
    const char *setname = NULL;
    size_t setname_len = 0;
    for (; i < argc; i++) {
        int more = argc - i - 1;
        if (str_eq_nocase(argv[i], lens[i], "auth") && more >= 2) {
            if (check_auth(c, argv[0], lens[0], argv[i + 1], lens[i + 1], argv[i + 2], lens[i + 2], out))
                return 1;
            i += 2;
        } else if (str_eq_nocase(argv[i], lens[i], "setname") && more >= 1) {
            setname = argv[i + 1];
            setname_len = lens[i + 1];
            i += 1;
        } else {
            buf e;
            buf_init(&e);
            buf_printf(&e, "ERR Syntax error in HELLO option '%.*s'%c", (int)lens[i], argv[i], 0);
            resp_add_error(out, e.data);
            buf_free(&e);
            return 1;
        }
    }
    if (!c->authed) {
        resp_add_error(out, "NOAUTH HELLO must be called with the client already authenticated, "
                            "otherwise the HELLO AUTH <user> <pass> option can be used to "
                            "authenticate the client and select the RESP protocol version at the "
                            "same time");
        return 1;
    }
    if (setname && client_set_name(c, setname, setname_len, out) < 0) return 1;
    /* The switch applies to this reply already, as in Redis; replies to
     * requests before it keep the protocol they were sent in. */
    if (ver) c->proto = (int)ver;
    /* A WATCH lives on a private link in the old protocol, which cannot
     * carry the new one's EXEC: the transaction will fail as a WATCH that
     * fired (the client retries), never run unguarded. */
    if (c->watch_group >= 0 && c->priv && c->priv->proto != c->proto) c->watch_lost = 1;
    resp_add_map(out, c->proto, 7);
    resp_add_bulk_str(out, "server");
    resp_add_bulk_str(out, "redis");
    resp_add_bulk_str(out, "version");
    resp_add_bulk_str(out, "7.0.15");
    resp_add_bulk_str(out, "proto");
    resp_add_int(out, c->proto);
    resp_add_bulk_str(out, "id");
    resp_add_int(out, (long long)c->id);
    resp_add_bulk_str(out, "mode");
    resp_add_bulk_str(out, "standalone");
    resp_add_bulk_str(out, "role");
    resp_add_bulk_str(out, "master");
    resp_add_bulk_str(out, "modules");
    resp_add_array(out, 0);
    return 0;
}

void local_client_line(buf *b, const struct client *c)
{
    uint64_t now = now_ms();
    buf_printf(b, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu db=0 multi=%d sub=%d user=%s resp=%d\n",
               (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
               (unsigned long long)((now - c->created_ms) / 1000), c->tx ? (int)c->tx_count : -1,
               c->tunnel || c->nsub > 0 ? 1 : 0, c->user ? c->user : "default", c->proto);
}

/* Does one of two byte strings start with the other (PREFIX overlap)? */
static int prefix_overlap(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    return memcmp(a, b, n) == 0;
}

static int tracking_apply(struct client *c, int argc, char **argv, const size_t *lens, buf *out,
                          int bcast, int optin, int optout, int nprefix, int redirect,
                          uint64_t redirect_id, const buf *opts, int nopts);

/* CLIENT TRACKING on|off [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN]
 * [OPTOUT] [NOLOOP]: the options are checked here as Redis 7.0 checks
 * them (same errors), then forwarded to the groups the client's commands
 * reach (client_set_tracking); REDIRECT names a client of this proxy and
 * is carried out by the proxy (see client.h). */
static int do_tracking(struct client *c, int argc, char **argv, const size_t *lens, buf *out)
{
    int bcast = 0, optin = 0, optout = 0, nprefix = 0, redirect = 0, nopts = 0, noloop = 0;
    long long redirect_id = 0;
    buf opts;
    buf_init(&opts);
    for (int j = 3; j < argc; j++) {
        int more = argc - 1 - j;
        if (str_eq_nocase(argv[j], lens[j], "redirect") && more) {
            j++;
            if (redirect) {
                resp_add_error(out, "ERR A client can only redirect to a single other client");
                return 1;
            }
            if (str2ll(argv[j], lens[j], &redirect_id) < 0) {
                resp_add_error(out, resp_err_notint);
                buf_free(&opts);
                return 1;
            }
            /* The proxy's own ids: the client must be on this worker
             * (with `threads: 1`, every client is). */
            if (redirect_id > 0 && (int)(redirect_id % 64) != c->w->id &&
                (int)(redirect_id % 64) < c->w->route->nworkers) {
                /* ids carry their worker thread (client_create) */
                resp_add_error(out, "ERR strata-proxy: REDIRECT to a client of another proxy "
                                    "thread is not supported (proxy.threads: 1 keeps every "
                                    "client on one)");
                buf_free(&opts);
                return 1;
            }
            if (redirect_id <= 0 || !client_by_id(c->w, (uint64_t)redirect_id)) {
                resp_add_error(out, "ERR The client ID you want redirect to does not exist");
                buf_free(&opts);
                return 1;
            }
            redirect = 1;
            continue;
        } else if (str_eq_nocase(argv[j], lens[j], "bcast")) {
            bcast = 1;
        } else if (str_eq_nocase(argv[j], lens[j], "optin")) {
            optin = 1;
        } else if (str_eq_nocase(argv[j], lens[j], "optout")) {
            optout = 1;
        } else if (str_eq_nocase(argv[j], lens[j], "noloop")) {
            noloop = 1;
        } else if (str_eq_nocase(argv[j], lens[j], "prefix") && more) {
            merge_add_arg(&opts, argv[j], lens[j]);
            nopts++;
            j++;
            nprefix++;
        } else {
            resp_add_error(out, resp_err_syntax);
            buf_free(&opts);
            return 1;
        }
        merge_add_arg(&opts, argv[j], lens[j]);
        nopts++;
    }
    int rc = tracking_apply(c, argc, argv, lens, out, bcast, optin, optout, nprefix, redirect,
                            (uint64_t)redirect_id, &opts, nopts);
    if (rc == 0) c->tracking_noloop = c->tracking && noloop;
    buf_free(&opts);
    return rc;
}

/* The second half of CLIENT TRACKING: the options parsed, check them
 * together and apply them.  Returns 1 after an error reply. */
static int tracking_apply(struct client *c, int argc, char **argv, const size_t *lens, buf *out,
                          int bcast, int optin, int optout, int nprefix, int redirect,
                          uint64_t redirect_id, const buf *opts, int nopts)
{
    if (str_eq_nocase(argv[2], lens[2], "off")) {
        client_set_tracking(c, 0, NULL, 0, 0, 0, 0);
        c->tracking_bcast = c->tracking_optin = c->tracking_optout = 0;
        c->tracking_noloop = 0;
        c->caching = 0;
        resp_add_ok(out);
        return 0;
    }
    if (!str_eq_nocase(argv[2], lens[2], "on")) {
        resp_add_error(out, resp_err_syntax);
        return 1;
    }
    if (!bcast && nprefix) {
        resp_add_error(out, "ERR PREFIX option requires BCAST mode to be enabled");
        return 1;
    }
    if (c->tracking && c->tracking_bcast != bcast) {
        resp_add_error(out, "ERR You can't switch BCAST mode on/off before disabling tracking "
                            "for this client, and then re-enabling it with a different mode.");
        return 1;
    }
    if (bcast && (optin || optout)) {
        resp_add_error(out, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return 1;
    }
    if (optin && optout) {
        resp_add_error(out, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return 1;
    }
    if (c->tracking && ((optin && c->tracking_optout) || (optout && c->tracking_optin))) {
        resp_add_error(out, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                            "for this client, and then re-enabling it with a different mode.");
        return 1;
    }
    for (int i = 3; i < argc; i++) {
        if (!str_eq_nocase(argv[i], lens[i], "prefix") || i + 1 >= argc) continue;
        for (int j = i + 2; j < argc; j++) {
            if (!str_eq_nocase(argv[j], lens[j], "prefix") || j + 1 >= argc) continue;
            if (prefix_overlap(argv[i + 1], lens[i + 1], argv[j + 1], lens[j + 1])) {
                resp_add_errorf(out, "ERR Prefix '%.*s' overlaps with another provided prefix "
                                     "'%.*s'. Prefixes for a single client must not overlap.",
                                (int)lens[i + 1], argv[i + 1], (int)lens[j + 1], argv[j + 1]);
                return 1;
            }
        }
    }
    if (c->proto != RESP3 && !redirect) {
        /* A RESP2 connection without REDIRECT can receive no
         * invalidations (Redis accepts it all the same): nothing to
         * forward, the commands keep using the shared links. */
        client_set_tracking(c, 0, NULL, 0, 0, 0, 0);
        c->tracking = 1;
        buf_append(&c->tracking_opts, opts->data, opts->len);  /* for TRACKINGINFO */
        c->tracking_nopts = nopts;
        c->tracking_bcast = bcast;
        c->tracking_optin = optin;
        c->tracking_optout = optout;
        resp_add_ok(out);
        return 0;
    }
    client_set_tracking(c, 1, opts->data, opts->len, nopts, bcast, redirect ? redirect_id : 0);
    c->tracking_bcast = bcast;
    c->tracking_optin = optin;
    c->tracking_optout = optout;
    resp_add_ok(out);
    return 0;
}

static int bytes_cmp(const void *a, const void *b)
{
    const struct reply_hdr *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->str, y->str, n);
    return d ? d : (x->len > y->len) - (x->len < y->len);
}

/* The PREFIX values of the forwarded options, sorted (as Redis lists
 * them from its radix tree), as an array. */
static void tracking_prefixes(struct client *c, buf *out)
{
    struct reply_hdr *px = xcalloc((size_t)(c->tracking_nopts + 1), sizeof *px);
    int n = 0;
    const char *p = c->tracking_opts.data, *end = p + c->tracking_opts.len;
    int after_prefix = 0;
    while (c->tracking && p && p < end) {
        struct reply_hdr h;
        if (reply_header(p, (size_t)(end - p), &h) < 0) break;
        if (after_prefix) px[n++] = h;
        after_prefix = !after_prefix && h.len == 6 && !strncasecmp(h.str, "prefix", 6);
        p += h.hdrlen;
    }
    qsort(px, (size_t)n, sizeof *px, bytes_cmp);
    resp_add_array(out, n);
    for (int i = 0; i < n; i++) resp_add_bulk(out, px[i].str, px[i].len);
    free(px);
}

static int do_client(struct client *c, int argc, char **argv, const size_t *lens, buf *out)
{
    if (str_eq_nocase(argv[1], lens[1], "setname") && argc == 3) {
        if (client_set_name(c, argv[2], lens[2], out) < 0) return 1;
        resp_add_ok(out);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "getname") && argc == 2) {
        if (c->name) resp_add_bulk_str(out, c->name);
        else resp_add_null(out, c->proto);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "id") && argc == 2) {
        resp_add_int(out, (long long)c->id);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "info") && argc == 2) {
        buf b;
        buf_init(&b);
        local_client_line(&b, c);
        resp_add_verbatim(out, c->proto, b.data, b.len);
        buf_free(&b);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "list") && argc == 2) {
        /* The clients of this worker thread (each worker has its own). */
        buf b;
        buf_init(&b);
        for (const struct client *o = c->w->clients; o; o = o->next) local_client_line(&b, o);
        resp_add_verbatim(out, c->proto, b.data ? b.data : "", b.len);
        buf_free(&b);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "setinfo") && argc == 4) {
        resp_add_ok(out);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "tracking") && argc >= 3)
        return do_tracking(c, argc, argv, lens, out);
    if (str_eq_nocase(argv[1], lens[1], "caching") && argc >= 3) {
        if (!c->tracking) {
            resp_add_error(out, "ERR CLIENT CACHING can be called only when the client is in "
                                "tracking mode with OPTIN or OPTOUT mode enabled");
            return 1;
        }
        if (str_eq_nocase(argv[2], lens[2], "yes")) {
            if (!c->tracking_optin) {
                resp_add_error(out, "ERR CLIENT CACHING YES is only valid when tracking is "
                                    "enabled in OPTIN mode.");
                return 1;
            }
            c->caching = 1;
        } else if (str_eq_nocase(argv[2], lens[2], "no")) {
            if (!c->tracking_optout) {
                resp_add_error(out, "ERR CLIENT CACHING NO is only valid when tracking is "
                                    "enabled in OPTOUT mode.");
                return 1;
            }
            c->caching = 2;
        } else {
            resp_add_error(out, resp_err_syntax);
            return 1;
        }
        resp_add_ok(out);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "trackinginfo") && argc == 2) {
        /* Redis's order of flags; prefixes are not kept by the proxy
         * beyond what it forwards, so they come from those options. */
        resp_add_map(out, c->proto, 3);
        resp_add_bulk_str(out, "flags");
        size_t mark = resp_defer(out);
        long long nflags = 1;
        resp_add_bulk_str(out, c->tracking ? "on" : "off");
        if (c->tracking_bcast) {
            resp_add_bulk_str(out, "bcast");
            nflags++;
        }
        if (c->tracking_optin) {
            resp_add_bulk_str(out, "optin");
            nflags++;
            if (c->caching == 1) {
                resp_add_bulk_str(out, "caching-yes");
                nflags++;
            }
        }
        if (c->tracking_optout) {
            resp_add_bulk_str(out, "optout");
            nflags++;
            if (c->caching == 2) {
                resp_add_bulk_str(out, "caching-no");
                nflags++;
            }
        }
        if (c->tracking_noloop) {
            resp_add_bulk_str(out, "noloop");
            nflags++;
        }
        resp_set_deferred_set(out, mark, c->proto, nflags);
        resp_add_bulk_str(out, "redirect");
        resp_add_int(out, c->tracking ? (long long)c->tracking_redirect : -1);
        resp_add_bulk_str(out, "prefixes");
        tracking_prefixes(c, out);
        return 0;
    }
    if (str_eq_nocase(argv[1], lens[1], "getredir") && argc == 2) {
        resp_add_int(out, c->tracking ? (long long)c->tracking_redirect : -1);
        return 0;
    }
    resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.",
                    (int)(lens[1] > 128 ? 128 : lens[1]), argv[1]);
    return 1;
}

int local_exec(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
               const size_t *lens, buf *out)
{
    switch (spec->id) {
    case CMD_PING:
        if (argc > 2) {
            resp_add_arity_error(out, spec->name);
            return 1;
        }
        if (argc == 2) resp_add_bulk(out, argv[1], lens[1]);
        else resp_add_simple(out, "PONG");
        return 0;
    case CMD_ECHO:
        resp_add_bulk(out, argv[1], lens[1]);
        return 0;
    case CMD_QUIT:
        resp_add_ok(out);
        c->closing = 1;
        return 0;
    case CMD_SELECT: {
        long long db;
        if (str2ll(argv[1], lens[1], &db) < 0) {
            resp_add_error(out, resp_err_notint);
            return 1;
        }
        if (db != 0) {
            resp_add_error(out, "ERR DB index is out of range");
            return 1;
        }
        resp_add_ok(out);
        return 0;
    }
    case CMD_AUTH:
        if (argc > 3) {
            resp_add_error(out, resp_err_syntax);
            return 1;
        }
        if (argc == 3) {
            if (check_auth(c, argv[0], lens[0], argv[1], lens[1], argv[2], lens[2], out)) return 1;
        } else if (check_auth(c, argv[0], lens[0], NULL, 0, argv[1], lens[1], out)) {
            return 1;
        }
        resp_add_ok(out);
        return 0;
    case CMD_HELLO:
        return do_hello(c, argc, argv, lens, out);
    case CMD_INFO: {
        buf text;
        buf_init(&text);
        stats_info(&text, argc >= 2 ? argv[1] : NULL, argc >= 2 ? lens[1] : 0);
        resp_add_verbatim(out, c->proto, text.data ? text.data : "", text.len);
        buf_free(&text);
        return 0;
    }
    case CMD_COMMAND:
        /* common/cmdreply, as the node answers */
        return cmdreply_command(out, c->proto, argc, argv, lens);
    case CMD_CLIENT:
        return do_client(c, argc, argv, lens, out);
    case CMD_ACL: {
        size_t at = out->len;
        pacl_command(c, argc, argv, lens, out);
        return out->len > at && out->data[at] == '-';
    }
    case CMD_TIME: {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        resp_add_array(out, 2);
        resp_add_bulk_ll(out, (long long)tv.tv_sec);
        resp_add_bulk_ll(out, (long long)tv.tv_usec);
        return 0;
    }
    default:
        resp_add_errorf(out, "ERR command '%s' is not supported by strata-proxy", spec->name);
        return 1;
    }
}
