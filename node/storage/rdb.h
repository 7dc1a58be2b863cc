/* rdb: Redis 7.0's serialization of values (RDB version 10), as DUMP and
 * RESTORE exchange them and as redis-server writes its RDB files.
 *
 * This file knows the byte formats only; it neither reads nor writes the
 * store.  Reading hands a value over element by element to callbacks, so
 * a collection is never built in memory: the caller writes each element
 * where it belongs (t_dump.c for RESTORE, rdbkey.c for RESTORE and
 * strata-load alike).
 *
 * A value is  type:1 | body.  Bodies (lengths are "RDB lengths", strings
 * "RDB strings", both below):
 *
 *   0  STRING            string
 *   1  LIST              len, len strings
 *   2  SET               len, len strings
 *   3  ZSET              len, (member string, score as 1-byte length + ASCII;
 *                        253 nan, 254 +inf, 255 -inf) * len
 *   4  HASH              len, (field string, value string) * len
 *   5  ZSET_2            len, (member string, score: 8-byte little-endian double) * len
 *   10 LIST_ZIPLIST      string holding a ziplist
 *   11 SET_INTSET        string holding an intset
 *   12 ZSET_ZIPLIST      string holding a ziplist of member, score, ...
 *   13 HASH_ZIPLIST      string holding a ziplist of field, value, ...
 *   14 LIST_QUICKLIST    len, len strings each holding a ziplist
 *   16 HASH_LISTPACK     string holding a listpack of field, value, ...
 *   17 ZSET_LISTPACK     string holding a listpack of member, score, ...
 *   18 LIST_QUICKLIST_2  len, (container len: 1 plain | 2 packed, string:
 *                        the element itself | a listpack) * len
 *   15 STREAM_LISTPACKS  (Redis 5..6.2) and
 *   19 STREAM_LISTPACKS_2 (Redis 7.0), below.
 *
 * RDB length: 00xxxxxx (6 bits), 01xxxxxx xxxxxxxx (14 bits, big endian),
 * 0x80 + 4 bytes BE, 0x81 + 8 bytes BE; 11xxxxxx is a string encoding:
 * 0 int8, 1 int16, 2 int32 (little endian), 3 LZF (compressed length,
 * plain length, data).
 *
 * Streams (t_stream.c of Redis; IDs are ms:8 seq:8 big endian when raw):
 *
 *   nodes len, (master ID: string of 16 raw bytes, listpack: string) * nodes
 *   length len | last ID ms len, seq len
 *   [19: first ID ms len, seq len | max deleted ID ms, seq | entries added len]
 *   groups len, per group:
 *     name string | last delivered ID ms len, seq len
 *     [19: entries_read len (2^64-1: unknown)]
 *     PEL len, (ID raw:16 | delivery time:8 LE ms | delivery count len) * len
 *     consumers len, per consumer:
 *       name string | seen time:8 LE ms | PEL len, (ID raw:16) * len
 *
 *   A node's listpack (every number an integer entry):
 *     master entry:  live | deleted | nfields | field * nfields | 0
 *     then each entry, in the order appended:
 *       flags (1 deleted, 2 same fields as the master entry) |
 *       ms - master ms | seq - master seq   (64-bit wrap-around deltas)
 *       with flag 2: value * nfields (the master entry's fields);
 *       without: nfields | (field | value) * nfields |
 *       lp-count (the entry's element count before it: nfields + 3, or
 *                 2 * nfields + 4 without flag 2)
 *
 * DUMP payload: value | RDB version:2 (little endian) | CRC-64:8 (Jones,
 * reflected, of everything before it, little endian). */
#ifndef STRATA_RDB_H
#define STRATA_RDB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "stream.h"

#define RDB_VERSION 10

enum rdb_type {
    RDB_TYPE_STRING = 0, RDB_TYPE_LIST = 1, RDB_TYPE_SET = 2, RDB_TYPE_ZSET = 3, RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5, RDB_TYPE_MODULE = 6, RDB_TYPE_MODULE_2 = 7, RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10, RDB_TYPE_SET_INTSET = 11, RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13, RDB_TYPE_LIST_QUICKLIST = 14, RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16, RDB_TYPE_ZSET_LISTPACK = 17, RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
};

/* RDB file opcodes (rdb files only, never in a DUMP payload). */
enum rdb_opcode {
    RDB_OPCODE_FUNCTION = 245, RDB_OPCODE_MODULE_AUX = 247, RDB_OPCODE_IDLE = 248,
    RDB_OPCODE_FREQ = 249, RDB_OPCODE_AUX = 250, RDB_OPCODE_RESIZEDB = 251,
    RDB_OPCODE_EXPIRETIME_MS = 252, RDB_OPCODE_EXPIRETIME = 253, RDB_OPCODE_SELECTDB = 254,
    RDB_OPCODE_EOF = 255,
};

/* CRC-64 (Jones polynomial, reflected, no final xor) as Redis computes it:
 * crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca. */
uint64_t rdb_crc64(uint64_t crc, const void *p, size_t len);

/* LZF decompression (Redis's lzf_decompress): returns the number of bytes
 * written to out, or 0 if the input is malformed or out is too small. */
size_t rdb_lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen);

/* ---------------- reading ---------------- */

struct rdb_reader {
    const unsigned char *p, *end;   /* not owned */
    buf scratch[3];                 /* decoded strings (ints, LZF) */
    const char *err;                /* static text after a failure */
};

void rdb_reader_init(struct rdb_reader *r, const void *p, size_t len);
void rdb_reader_free(struct rdb_reader *r);

/* Primitives: 0 on success, -1 with r->err set.  A string is returned as
 * a pointer into the input or into scratch[slot] (slot 0..2), valid until
 * the next read into the same slot. */
int rdb_read_byte(struct rdb_reader *r, int *v);
int rdb_read_len(struct rdb_reader *r, uint64_t *len);
int rdb_read_string(struct rdb_reader *r, int slot, const char **s, size_t *len);
int rdb_read_raw(struct rdb_reader *r, size_t n, const unsigned char **p);

/* What a value turns into (db.h's T_* numbers).  For each value:
 *   begin(type)                 once, before anything else
 *   string(v)                   T_STRING: the whole value
 *   elem(a, b, score)           collections, once per element:
 *        list  a = element
 *        set   a = member
 *        hash  a = field, b = value
 *        zset  a = member, score
 * Pointers are valid during the call only.  A callback returning non-zero
 * stops the read (rdb_read_value returns -1 with r->err NULL). */
struct rdb_stream_cb;
struct rdb_value_cb {
    int (*begin)(void *ctx, int type);
    int (*string)(void *ctx, const char *v, size_t len);
    int (*elem)(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score);
    const struct rdb_stream_cb *stream;   /* T_STREAM values; NULL: refused */
};

/* A stream, in the order of the serialization:
 *   node(...)        each listpack: its master ID, byte size, and the live
 *                    and deleted counts of its master entry
 *     entry(...)     each of its entries in listpack order, deleted ones
 *                    too (with n = 0); f[0..n) alternate field, value
 *   meta(...)        the stream's figures (first ID as the payload says;
 *                    type 15 has none: first zero, max deleted zero,
 *                    added = length, and have_v2 = 0)
 *   group(...)       each consumer group (entries_read -1: unknown; with
 *                    type 15 always -1, the caller estimates it)
 *     nack(...)      each entry of the group's PEL
 *     consumer(...)  each consumer
 *       cpel(...)    each ID of its PEL
 *     group_end()
 * The reader checks the structure (listpack framing, counts, entry
 * layout); the callee checks what needs the values (ID order, that a
 * consumer's PEL entry is in the group's PEL). */
struct rdb_stream_meta {
    uint64_t length, added, groups;
    struct sid last, first, maxdel;
    int have_v2;
};
struct rdb_stream_cb {
    int (*node)(void *ctx, struct sid master, size_t lp_bytes, uint64_t live, uint64_t deleted);
    int (*entry)(void *ctx, struct sid id, int deleted, size_t n, const char *const *f, const size_t *fl);
    int (*meta)(void *ctx, const struct rdb_stream_meta *m);
    int (*group)(void *ctx, const char *name, size_t nl, struct sid last, long long entries_read);
    int (*nack)(void *ctx, struct sid id, uint64_t dtime, uint64_t dcount);
    int (*consumer)(void *ctx, const char *name, size_t nl, uint64_t seen);
    int (*cpel)(void *ctx, struct sid id);
    int (*group_end)(void *ctx);
};

/* The Strata type of an RDB value type, or T_NONE (0) when not supported. */
int rdb_type_to_key_type(int rdbtype);
/* Read the body of a value of `rdbtype`.  Returns the number of elements
 * (1 for a string, the live entries of a stream, which may be 0), or -1 (r->err says why, NULL if a callback stopped). */
long long rdb_read_value(struct rdb_reader *r, int rdbtype, const struct rdb_value_cb *cb, void *ctx);

/* Check a DUMP payload's footer (version <= RDB_VERSION, CRC-64).
 * Returns 0 and the length of the value part, or -1. */
int rdb_payload_check(const void *p, size_t len, size_t *value_len);

/* ---------------- writing ---------------- */

void rdb_write_type(buf *out, int type);
void rdb_write_len(buf *out, uint64_t len);
/* A string, integer-encoded when Redis would (a canonical integer that
 * fits 32 bits), raw otherwise. */
void rdb_write_string(buf *out, const char *s, size_t len);
void rdb_write_double(buf *out, double d);   /* 8 bytes little endian */
void rdb_write_ms(buf *out, uint64_t ms);    /* a time in ms: 8 bytes little endian */
void rdb_write_sid(buf *out, struct sid id); /* 16 raw bytes, big endian */
/* A listpack being built (Redis's entry encodings: integers for canonical
 * integer strings, 6/12/32-bit string lengths, backlen).  init, append
 * each entry, finish; the blob is lp->b.  Free with rdb_lp_free. */
struct rdb_lp {
    buf b;
    uint32_t count;
};
void rdb_lp_init(struct rdb_lp *lp);
void rdb_lp_append(struct rdb_lp *lp, const char *s, size_t len);
void rdb_lp_append_int(struct rdb_lp *lp, long long v);
void rdb_lp_finish(struct rdb_lp *lp);
void rdb_lp_free(struct rdb_lp *lp);
/* An intset of v[0..n) as an RDB string (v is sorted in place). */
void rdb_write_intset(buf *out, long long *v, size_t n);
/* A zset score as Redis 7.0 writes it into a listpack (d2string). */
size_t rdb_score_string(char *out, size_t size, double d);
/* Append version and CRC-64 over out[start..]: out becomes a payload. */
void rdb_write_footer(buf *out, size_t start);

#endif
