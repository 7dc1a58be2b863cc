/* httpapi: every command over HTTP, answered in JSON, for strata-node and
 * strata-proxy (README, "HTTP API").  Served by libevent's evhttp on the
 * program's own loop.
 *
 *   HTTP client --> evhttp --> request parsed into commands --> link
 *                                                                |  RESP3
 *   HTTP client <-- JSON  <-- resp2json <-- replies  <-----------'
 *
 * A link is an ordinary RESP connection to the program itself (the program
 * opens it: a socketpair on the node, a loopback connection to its own
 * listener on the proxy), so a request goes through exactly the path a
 * RESP client's goes through — dispatcher, limits, slot routing, CROSSSLOT,
 * group commit — and gets the same replies.  A new link says
 * HELLO 3 [AUTH default <password>] first; idle links are kept for the
 * next request (a request has a link to itself until its last reply).
 *
 * The default user's credentials (Basic, or Bearer <password>) are
 * checked here against the program's current password, as AUTH would
 * check them; a named user's go to the program on a fresh link of the
 * request's own (HELLO 3 AUTH first, the commands only once it is
 * accepted; the link is closed afterwards).
 * Commands that need a connection of their own across requests (SUBSCRIBE,
 * MONITOR, HELLO, AUTH, QUIT, RESET, SELECT, WATCH, CLIENT REPLY/TRACKING/
 * SETNAME..., a MULTI not closed in the same pipeline, blocking commands
 * with no timeout) are refused before anything is sent. */
#ifndef STRATA_HTTPAPI_H
#define STRATA_HTTPAPI_H

#include <stddef.h>

#include "buf.h"

struct event_base;

struct httpapi_conf {
    const char *program;         /* "strata-node": in error texts */
    const char *listen;          /* "HOST:PORT", or "PORT" for 127.0.0.1 */
    const char *cors_origin;     /* Access-Control-Allow-Origin, "" = no CORS */
    size_t max_body;             /* larger request bodies get 413 */
    /* The password clients must give, "" for none (read at each request). */
    const char *(*password)(void);
    /* proto-max-bulk-len: a longer argument is refused as RESP refuses it. */
    long long (*max_bulk)(void);
    /* A new file descriptor connected (or connecting, non-blocking) to the
     * program's RESP endpoint; the API owns it.  -1 with a RESP error text
     * ("ERR max number of clients reached") in err on failure. */
    int (*open_link)(char *err, size_t errlen);
};

/* Listen with base; the strings of conf are copied.  Returns 0, or -1 with
 * one line in errs.  One API per process. */
int httpapi_start(struct event_base *base, const struct httpapi_conf *conf, buf *errs);

/* http_listen ("HOST:PORT", "[V6]:PORT" or "PORT", which means 127.0.0.1)
 * into host and port; -1 if it is none of those. */
int httpapi_listen_addr(const char *listen, char *host, size_t hostlen, int *port);
/* Stop listening, close the links, free everything (safe when not
 * started).  Requests still waiting are answered 503. */
void httpapi_stop(void);

/* The port listened on (after httpapi_start), or 0. */
int httpapi_port(void);

/* Why a command cannot run over HTTP (a full error text, "ERR ..."), or
 * NULL when it can (tmp holds the text when needed).  A MULTI left open is
 * checked per request, not here.
 * Exposed for the unit test. */
const char *httpapi_refusal(int argc, char *const *argv, const size_t *argvlen, char *tmp,
                            size_t tmplen);

#endif
