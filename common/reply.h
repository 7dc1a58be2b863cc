/* reply: reading replies on the client side of a link — RESP2 and RESP3.
 *
 * Used where Strata is the client: the proxy's links to nodes, the proxy's
 * merges of split commands.  Debian 12's hiredis (0.14) has no RESP3
 * reader, so this one frames both protocols itself.
 *
 * Two layers:
 *
 *   - reply_scan: a resumable framer.  It finds where the next complete
 *     reply ends in a byte stream and builds nothing, so a reply can be
 *     passed on exactly as it arrived.  Incomplete input is not an error;
 *     call again with the same bytes plus more (the buffer may move in
 *     between: the scanner keeps offsets, never pointers).  Errors are
 *     sticky until reply_scanner_init.
 *
 *   - reply_header / reply_next: walk the bytes of a reply already known
 *     to be complete.  An aggregate's elements follow its header as
 *     consecutive spans, so merges copy elements byte for byte.
 *
 * Types (the first byte of a value):
 *
 *   RESP2 and RESP3   +simple  -error  :integer  $bulk  *array
 *   RESP3 only        _null  ,double  #boolean  (big number  !blob error
 *                     =verbatim  %map  ~set  >push  |attribute
 *
 * A null bulk ($-1) and a null array (*-1) are REPLY_NIL in reply_header's
 * view, as `_` is.  An attribute (|) is metadata attached to the value
 * after it: the scanner treats the pair as one reply whose type is that of
 * the value, and reply_header skips attributes.  A verbatim string's body
 * must start with its three-byte format and ':' ("txt:"), as hiredis
 * requires.  Streamed strings and aggregates ($? *?) are refused: Redis
 * never sends them. */
#ifndef STRATA_REPLY_H
#define STRATA_REPLY_H

#include <stddef.h>

enum { REPLY_ERR = -1, REPLY_OK = 0, REPLY_AGAIN = 1 };

enum reply_type {
    REPLY_STATUS  = '+',
    REPLY_ERROR   = '-',
    REPLY_INTEGER = ':',
    REPLY_STRING  = '$',
    REPLY_ARRAY   = '*',
    REPLY_NIL     = '_',
    REPLY_DOUBLE  = ',',
    REPLY_BOOL    = '#',
    REPLY_BIGNUM  = '(',
    REPLY_BLOBERR = '!',
    REPLY_VERBATIM = '=',
    REPLY_MAP     = '%',
    REPLY_SET     = '~',
    REPLY_PUSH    = '>',
    REPLY_ATTR    = '|',
};

/* Nesting deeper than this is refused (Redis's own replies nest a few
 * levels; a script's reply may nest more). */
#define REPLY_MAX_DEPTH 64
#define REPLY_DEFAULT_MAX_BULK (512LL * 1024 * 1024)
#define REPLY_DEFAULT_MAX_ELEMENTS (1LL << 32)
#define REPLY_MAX_LINE (64 * 1024)

typedef struct reply_scanner {
    /* limits (set after init if the defaults do not fit) */
    long long max_bulk;
    long long max_elements;

    /* result of the last REPLY_OK: the type of the reply (never
     * REPLY_ATTR), and whether it is an error (- or !) */
    char type;
    int is_error;

    /* resume state, relative to the start of the reply */
    size_t pos;                 /* next byte to look at */
    int depth;                  /* open aggregates */
    long long left[REPLY_MAX_DEPTH]; /* elements each still expects */
    unsigned char attr[REPLY_MAX_DEPTH]; /* 1: that aggregate is an attribute */
    int pending_attr;           /* an attribute ended: its value follows */
    long long bulk;             /* >= 0: the body of a bulk of this size starts at pos */
    char bulk_type;             /* '$', '!' or '=' (whose body needs a "xxx:" format) */
    char top;                   /* type of the outermost value seen so far, 0 if none */
    int failed;
    char err[128];
} reply_scanner;

void reply_scanner_init(reply_scanner *s);

/* Find the end of the reply that starts at data[0].  REPLY_OK: the reply is
 * data[0 .. *end), s->type and s->is_error describe it, and the scanner is
 * ready for the next reply (which starts at data[*end]).  REPLY_AGAIN: the
 * reply is not complete in data[0..len).  REPLY_ERR: not a valid reply;
 * s->err says why. */
int reply_scan(reply_scanner *s, const char *data, size_t len, size_t *end);

/* One value's header inside a complete reply. */
struct reply_hdr {
    char type;          /* enum reply_type; REPLY_NIL for $-1 and *-1 too */
    long long n;        /* aggregates: elements that follow (a map's n is
                         * its number of pairs, its elements 2n);
                         * integers and booleans (1/0): the value */
    const char *str;    /* + - , ( $ ! = : _ #: the payload (for = it
                         * includes the "txt:" format prefix) */
    size_t len;         /* payload length */
    size_t hdrlen;      /* bytes of the header (attributes skipped), up to
                         * the first element for an aggregate, the whole
                         * value otherwise */
};

/* Read the header of the value at p (len bytes available, at least the
 * whole value).  Returns 0, or -1 if p does not hold a valid header. */
int reply_header(const char *p, size_t len, struct reply_hdr *h);

/* Length of the complete value at p (attributes before it included), or
 * 0 if p[0..len) does not hold one. */
size_t reply_span(const char *p, size_t len);

/* Elements of an aggregate in turn: after reply_header on an aggregate at
 * p, an iterator starts at p + h.hdrlen; reply_next gives the span of the
 * next element and advances.  Returns 0, or -1 at the end of the bytes or
 * on malformed input. */
struct reply_iter {
    const char *p, *end;
};
void reply_iter_init(struct reply_iter *it, const char *p, size_t len, const struct reply_hdr *h);
int reply_next(struct reply_iter *it, const char **elem, size_t *elen);

/* Number of elements an aggregate header stands for (2n for maps and
 * attributes), 0 for anything else. */
long long reply_elements(const struct reply_hdr *h);

#endif
