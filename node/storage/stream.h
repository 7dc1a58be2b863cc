/* stream: streams on the store — the stream header, entries, consumer
 * groups, their pending entries lists (PELs) and consumers.  Used by the
 * stream commands (t_stream.c, t_stream_group.c).
 *
 * Every record of a stream is a 'D' subkey under the stream's collection
 * version, with a one-byte kind after the version, so the whole stream is
 * one contiguous range: DEL, overwrite and expiry stay O(1) (a 'G' entry,
 * the GC walks the 'D' range), COPY copies the range and RENAME moves
 * only the meta record (db.h).
 *
 *   'M' key -> T_STREAM | expire:8 | version:8 | length:8      (db.h meta)
 *
 *   +-----+-----------+------+------------------------------+
 *   | 'D' | version:8 | kind | rest (big-endian integers)   |
 *   +-----+-----------+------+------------------------------+
 *
 *   kind 'H'                         -> header: last_id ms:8 seq:8 |
 *                                       max_deleted ms:8 seq:8 |
 *                                       entries_added:8 | groups:8 | nodes:8
 *   kind 'e' ms:8 seq:8              -> entry: nfields:4 [back ms:8 seq:8]
 *                                       then (len:4 bytes) for each field,
 *                                       value; back (flag: nfields' top
 *                                       bit) is the greatest ID appended to
 *                                       the entry's node before it, when it
 *                                       is greater than the entry's own
 *   kind 'n' first_id ms:8 seq:8     -> node: live:8 | total:8 | bytes:8 |
 *                                       last_id ms:8 seq:8 (deleted or not) |
 *                                       max_id ms:8 seq:8 (of all appended)
 *                                       (Redis's listpack nodes, emulated)
 *   kind 'g' group name              -> group: gid:8 | last_id ms:8 seq:8 |
 *                                       entries_read:8 (-1: unknown) |
 *                                       pel:8 | consumers:8
 *   kind 'p' gid:8 ms:8 seq:8        -> group PEL: delivery_time:8 |
 *                                       delivery_count:8 | consumer name
 *   kind 'c' gid:8 consumer name     -> consumer: seen_time:8 | pending:8
 *   kind 'q' gid:8 nlen:4 name ms:8 seq:8 -> ""  the consumer's own PEL
 *
 * Entry IDs are big-endian, so LevelDB orders entries by ID: XRANGE and
 * XREAD are one seek plus a walk, whatever the stream's size.  A group's
 * PEL is ordered by ID, and a consumer's PEL ('q', under its name) too,
 * so XPENDING, XAUTOCLAIM and XREADGROUP's history are seeks as well.
 * Groups and consumers sort by name bytes, as Redis's radix trees do.
 *
 * gid is a number never reused (server_new_version), so a destroyed
 * group's PEL and consumers are unreachable at once: XGROUP DESTROY is
 * O(1) and leaves them to the stream's own removal by the GC.  The
 * header is absent for a stream with no history (all zeros). */
#ifndef STRATA_STREAM_H
#define STRATA_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

struct sid {
    uint64_t ms, seq;
};

struct stream_hdr {
    struct sid last, maxdel;
    uint64_t added;
    uint64_t groups;
    uint64_t nodes;
};

struct sgroup {
    uint64_t gid;
    struct sid last;
    long long entries_read;   /* -1: unknown (SCG_INVALID_ENTRIES_READ) */
    uint64_t pel, consumers;
};

/* now - then in ms as Redis's mstime_t arithmetic gives it: wrapping, so
 * a delivery or seen time from a RESTOREd payload, however far off, is
 * never an overflow. */
static inline long long ms_elapsed(uint64_t now, uint64_t then)
{
    return (long long)(now - then);
}

int sid_cmp(struct sid a, struct sid b);
/* 0, or -1 when a is the last (first) possible ID. */
int sid_incr(struct sid *id);
int sid_decr(struct sid *id);
/* "ms-seq" into out (appended); returns its length. */
size_t sid_fmt(char *out, struct sid id);

/* Header: 0 ok (zeros when absent), -1 storage error. */
int stream_hdr_load(uint64_t ver, struct stream_hdr *h);
void stream_hdr_save(uint64_t ver, const struct stream_hdr *h);

/* Entries.  fields: n strings (field, value, ...); back: see the layout
 * (NULL: none).  Only XSETID moving the last ID back below deleted
 * entries makes a node's append order differ from ID order; Redis's
 * exact MINID trim stops at the first entry in append order, deleted or
 * not, at or above the threshold, so the trim needs it. */
void stream_entry_put(uint64_t ver, struct sid id, int n, char **f, const size_t *fl,
                      const struct sid *back);
/* An encoded entry's field count, back ID (1 if present) and the offset
 * of its first field. */
#define STREAM_ENTRY_BACK 0x80000000u
int stream_entry_decode(const char *v, size_t vl, uint32_t *n, struct sid *back, size_t *off);
/* 1 and the encoded value in *val, 0 absent, -1 error. */
int stream_entry_get(uint64_t ver, struct sid id, buf *val);
void stream_entry_del(uint64_t ver, struct sid id);

/* Entry walker, forward from `from` or backward from `from` down. */
typedef struct stream_iter {
    store_iter *it;
    buf pre;           /* 'D' version 'e' */
    int rev, valid;
    struct sid id;
} stream_iter;
void stream_iter_open(stream_iter *si, uint64_t ver, struct sid from, int rev);
void stream_iter_next(stream_iter *si);
/* The current entry's encoded value (valid until the iterator moves). */
const char *stream_iter_val(stream_iter *si, size_t *len);
void stream_iter_close(stream_iter *si);
/* First (rev 0) or last entry: 1 and *id, 0 if empty. */
int stream_edge(uint64_t ver, int rev, struct sid *id);

/* Nodes. */
struct snode {
    struct sid first, last;   /* last: the last entry added, even if deleted */
    struct sid max;           /* the greatest ID ever added */
    uint64_t live, total, bytes;
};
/* The node holding id (last first_id <= id): 1, 0 none. */
int stream_node_of(uint64_t ver, struct sid id, struct snode *n);
/* The first node (rev 0) or the last one: 1, 0 none. */
int stream_node_edge(uint64_t ver, int rev, struct snode *n);
/* The first node after n: 1, 0 none. */
int stream_node_next(uint64_t ver, const struct snode *n, struct snode *next);
void stream_node_put(uint64_t ver, const struct snode *n);
void stream_node_del(uint64_t ver, struct sid first);

/* Groups: 1 found, 0 absent, -1 error. */
int stream_group_get(uint64_t ver, const char *name, size_t nl, struct sgroup *g);
void stream_group_put(uint64_t ver, const char *name, size_t nl, const struct sgroup *g);
void stream_group_del(uint64_t ver, const char *name, size_t nl);

/* Group PEL records. */
struct snack {
    uint64_t dtime, dcount;
    buf consumer;      /* owned */
};
int stream_nack_get(uint64_t ver, uint64_t gid, struct sid id, struct snack *n);
void stream_nack_put(uint64_t ver, uint64_t gid, struct sid id, const struct snack *n);
void stream_nack_del(uint64_t ver, uint64_t gid, struct sid id);
/* Consumers: seen time and pending count.  1, 0 absent, -1 error. */
int stream_consumer_get(uint64_t ver, uint64_t gid, const char *name, size_t nl,
                        uint64_t *seen, uint64_t *pending);
void stream_consumer_put(uint64_t ver, uint64_t gid, const char *name, size_t nl,
                         uint64_t seen, uint64_t pending);
void stream_consumer_del(uint64_t ver, uint64_t gid, const char *name, size_t nl);
/* A consumer's own PEL index. */
void stream_cpel_put(uint64_t ver, uint64_t gid, const char *name, size_t nl, struct sid id);
void stream_cpel_del(uint64_t ver, uint64_t gid, const char *name, size_t nl, struct sid id);

/* Key prefixes for walks (cleared first). */
void stream_key(buf *k, uint64_t ver, char kind);
void stream_gkey(buf *k, uint64_t ver, char kind, uint64_t gid);
void stream_cpel_prefix(buf *k, uint64_t ver, uint64_t gid, const char *name, size_t nl);
void sid_append(buf *k, struct sid id);
struct sid sid_decode(const char *p);

#endif
