/* resp: the Redis protocol — an incremental request parser for the server
 * side and a reply writer for RESP2 and RESP3.  (Reading replies, on the
 * client side of a link, is reply.h.)
 *
 * Parser contract (hiredis-style, but zero-copy):
 *   - The caller keeps the unconsumed input in one contiguous buffer and
 *     calls resp_parse(p, data, len, &consumed) after each read.
 *   - RESP_OK: one command is ready in p->argc / p->argv / p->argvlen; the
 *     argument pointers point INTO `data` and stay valid only until the
 *     caller changes that buffer.  The command occupies `consumed` bytes.
 *   - RESP_AGAIN: not enough bytes yet.  Not an error.  `consumed` may be
 *     non-zero (empty lines and "*0" requests are skipped); the caller
 *     drops those bytes.  Progress on a partly received command is kept
 *     in the parser as offsets, so calling again with the same prefix plus
 *     more bytes (even after the buffer moved) resumes without rescanning.
 *   - RESP_ERR: protocol error; p->err holds Redis's message, for example
 *     "ERR Protocol error: invalid bulk length".  Errors are sticky until
 *     resp_parser_reset(); the server replies the error and closes.
 *   - p->need: when RESP_AGAIN is returned inside a large bulk, the total
 *     number of bytes the current command needs (a hint to pre-size the
 *     buffer), else 0.
 */
#ifndef STRATA_RESP_H
#define STRATA_RESP_H

#include <stddef.h>
#include "buf.h"

enum { RESP_ERR = -1, RESP_OK = 0, RESP_AGAIN = 1 };

#define RESP_DEFAULT_MAX_BULK   (512LL * 1024 * 1024)
/* Redis 7.0 accepts up to INT_MAX arguments; memory is bounded by the
 * query buffer limit and the argv array grows as arguments arrive. */
#define RESP_DEFAULT_MAX_ARGS   2147483647LL
#define RESP_MAX_INLINE         (64 * 1024)

typedef struct resp_parser {
    /* limits (set after init if the defaults do not fit) */
    long long max_bulk;
    long long max_args;
    size_t max_inline;

    /* result of the last RESP_OK */
    int argc;
    char **argv;
    size_t *argvlen;
    size_t need;

    /* resume state: offsets relative to the start of the command */
    int argv_cap;
    size_t *argoff;      /* offset of each parsed argument */
    long long expect;    /* multibulk count, or 0 before the header */
    size_t pos;          /* next byte to look at */
    long long bulklen;   /* length of the bulk being read, -1 if none */
    int inline_mode;
    char *inline_buf;    /* unescaped inline arguments live here */
    char err[128];
    int failed;
} resp_parser;

void resp_parser_init(resp_parser *p);
void resp_parser_free(resp_parser *p);
/* Forget a partly parsed command and a sticky error. */
void resp_parser_reset(resp_parser *p);
int resp_parse(resp_parser *p, const char *data, size_t len, size_t *consumed);

/* Protocol versions a connection speaks (HELLO 2 / HELLO 3). */
enum { RESP2 = 2, RESP3 = 3 };

/* Reply writer: each call appends one value (or an aggregate's header) to
 * `out`.  Values whose encoding is the same in both protocols take no
 * protocol argument; the others take `proto` (RESP2 or RESP3) and write
 * what Redis 7.0 writes for a connection in that protocol. */
void resp_add_simple(buf *out, const char *s);            /* +s */
void resp_add_ok(buf *out);                               /* +OK */
void resp_add_error(buf *out, const char *msg);           /* -msg (msg has its code: "ERR ...") */
void resp_add_errorf(buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_add_int(buf *out, long long v);                 /* :v */
void resp_add_bulk(buf *out, const void *p, size_t len);  /* $len p */
void resp_add_bulk_str(buf *out, const char *s);
void resp_add_bulk_ll(buf *out, long long v);
void resp_add_bulk_double(buf *out, double v);            /* Redis 7.0: %.17g, inf, -inf */
void resp_add_array(buf *out, long long n);               /* *n */

/*                                             RESP2          RESP3 */
void resp_add_null(buf *out, int proto);        /* $-1            _     (a missing value) */
void resp_add_null_array(buf *out, int proto);  /* *-1            _     (a missing aggregate) */
void resp_add_map(buf *out, int proto, long long npairs); /* *2n  %n    (then n key/value pairs) */
void resp_add_set(buf *out, int proto, long long n);      /* *n   ~n */
void resp_add_push(buf *out, int proto, long long n);     /* *n   >n    (out-of-band: pub/sub, tracking) */
void resp_add_double(buf *out, int proto, double v);      /* $ %.17g  ,%.17g (inf, -inf) */
void resp_add_bool(buf *out, int proto, int v);           /* :1 :0    #t #f */
/* A text (INFO, CLIENT LIST): a bulk string, or a verbatim string of
 * format "txt" in RESP3. */
void resp_add_verbatim(buf *out, int proto, const char *p, size_t len);

/* Aggregates whose length is known only later: reserve room, write the
 * elements, then fill in the header.  `mark` is what resp_defer returned;
 * nothing before it may change in between (elements after it may). */
size_t resp_defer(buf *out);
#define resp_defer_array resp_defer
void resp_set_deferred_array(buf *out, size_t mark, long long n);
void resp_set_deferred_map(buf *out, size_t mark, int proto, long long npairs);
void resp_set_deferred_set(buf *out, size_t mark, int proto, long long n);

/* Standard errors, built once (Redis's exact texts). */
extern const char *const resp_err_wrongtype;   /* WRONGTYPE Operation against a key holding the wrong kind of value */
extern const char *const resp_err_notint;      /* ERR value is not an integer or out of range */
extern const char *const resp_err_notfloat;    /* ERR value is not a valid float */
extern const char *const resp_err_syntax;      /* ERR syntax error */
extern const char *const resp_err_nokey;       /* ERR no such key */
extern const char *const resp_err_overflow;    /* ERR increment or decrement would overflow */
extern const char *const resp_err_outofrange;  /* ERR index out of range */
/* "ERR wrong number of arguments for 'name' command" */
void resp_add_arity_error(buf *out, const char *name);

/* CLIENT SETNAME / HELLO SETNAME (Redis's clientSetName): a name is
 * printable ASCII without spaces; "" clears it.  If name is not one,
 * replies the error to out and returns 0; else returns 1. */
int resp_check_client_name(buf *out, const char *name, size_t len);

#endif
