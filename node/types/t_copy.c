/* t_copy: COPY and OBJECT — commands about a key's stored value as a whole.
 *
 * COPY source destination [DB 0] [REPLACE]
 *   Strata has one database, so DB accepts only 0 (another index gets
 *   Redis's "DB index is out of range", what a one-database Redis says).
 *   A string is copied inline with its meta record.  A collection gets a
 *   fresh version and every subkey of the source ('D' records, and the 'Z'
 *   score index of a zset) is rewritten under it: collections are never
 *   shared between keys, so DEL, GC and writes of either key stay
 *   independent.  The copy streams through an iterator; it is one command,
 *   so its writes sit in the pending batch until the commit (atomic, as
 *   Redis's COPY is).
 *
 * OBJECT
 *   ENCODING  the encoding Redis 7.0 would give the value, computed from
 *             the value and the encoding thresholds set with CONFIG SET
 *             (rconfig.c): Strata itself stores every type as LevelDB
 *             records, but clients and tests compare this answer with
 *             Redis's.  string -> "int" (a canonical integer of up to 20
 *             characters), "embstr" (up to 44 bytes) or "raw"; hash ->
 *             "listpack" (at most hash-max-listpack-entries fields, every
 *             field and value at most hash-max-listpack-value bytes) or
 *             "hashtable"; set -> "intset" (integers only, at most
 *             set-max-intset-entries) or "hashtable"; zset -> "listpack"
 *             (zset-max-listpack-entries / -value) or "skiplist"; list ->
 *             "quicklist" (Redis 7.0's only list encoding).  Departures:
 *             Redis never converts back, so a hash that grew past the
 *             threshold and shrank again is "hashtable" there and
 *             "listpack" here; a string built by APPEND or SETRANGE is
 *             "raw" there whatever its length.
 *   REFCOUNT  1, or 2147483647 for integers 0..9999 with no LRU/LFU
 *             maxmemory policy, as Redis's shared integers.
 *   IDLETIME, FREQ
 *             not tracked (a read would have to write to disk to track
 *             them).  With the policy Redis would refuse them under,
 *             Redis's error; otherwise an error saying Strata does not
 *             track them.
 *   HELP */
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "rconfig.h"
#include "store.h"
#include "util.h"
#include "store.h"
#include "util.h"

/* Rewrite every subkey tag+from+rest as tag+to+rest. */
static void copy_subkeys(char tag, uint64_t from, uint64_t to)
{
    buf prefix, nk;
    buf_init(&prefix);
    buf_init(&nk);
    if (tag == 'D') enc_data_prefix(&prefix, from);
    else enc_zscore_prefix(&prefix, from);
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix.data, prefix.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break;
        const char *v = store_iter_val(it, &vl);
        if (tag == 'D') enc_data_prefix(&nk, to);
        else enc_zscore_prefix(&nk, to);
        buf_append(&nk, k + SUBKEY_PREFIX, kl - SUBKEY_PREFIX);
        /* The new key sorts after the whole source range (versions only
         * grow), so the iterator never meets what it writes. */
        store_put(srv.st, nk.data, nk.len, v, vl);
    }
    store_iter_free(it);
    buf_free(&prefix);
    buf_free(&nk);
}

static void copy_command(client *c)
{
    int replace = 0;
    for (int j = 3; j < c->argc; j++) {
        if (ARG_IS(c, j, "replace")) {
            replace = 1;
        } else if (ARG_IS(c, j, "db") && j + 1 < c->argc) {
            long long db;
            if (arg_ll(c, j + 1, &db) < 0) return;
            if (db != 0) {
                resp_add_error(&c->out, "ERR DB index is out of range");
                return;
            }
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    if (c->argvlen[1] == c->argvlen[2] && memcmp(c->argv[1], c->argv[2], c->argvlen[1]) == 0) {
        resp_add_error(&c->out, "ERR source and destination objects are the same");
        return;
    }
    struct meta src, dst;
    meta_init(&src);
    meta_init(&dst);
    int r = lookup_any(c, 1, &src);
    if (r <= 0) {
        if (r == 0) resp_add_int(&c->out, 0);
        goto done;
    }
    /* Like Redis's lookupKeyWrite: no hit/miss statistics for the target. */
    r = db_lookup(ARG(c, 2), &dst);
    if (r < 0) {
        reply_storage_error(c);
        goto done;
    }
    if (r != T_NONE && !replace) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    /* REPLACE deletes the target and adds it anew: a "new" key for Redis. */
    if (r != T_NONE) notify_keyspace_event(NOTIFY_NEW, "new", ARG(c, 2));
    if (src.type == T_STRING && !src.chunked) {
        db_set_string(ARG(c, 2), src.sval, src.slen, src.expire, &dst);
    } else if (src.type == T_STRING) {
        /* a chunked string: its chunks are 'D' subkeys of its version */
        db_new_chunked(ARG(c, 2), &dst, src.expire);
        copy_subkeys('D', src.version, dst.version);
        dst.count = dst.slen = src.slen;
        db_write_meta(ARG(c, 2), &dst, 0);
    } else {
        db_new_collection(ARG(c, 2), src.type, &dst);
        copy_subkeys('D', src.version, dst.version);
        if (src.type == T_ZSET) copy_subkeys('Z', src.version, dst.version);
        dst.count = src.count;
        dst.head = src.head;
        dst.tail = src.tail;
        dst.expire = src.expire;
        db_write_meta(ARG(c, 2), &dst, 0);
    }
    notify_keyspace_event(NOTIFY_GENERIC, "copy_to", ARG(c, 2));
    resp_add_int(&c->out, 1);
done:
    meta_free(&src);
    meta_free(&dst);
}

/* The value's records: 1 if every field (and, for hashes, value) is at
 * most maxlen bytes, and (sets) every member is an integer. */
static int small_records(const struct meta *m, long long maxlen, int ints_only)
{
    buf prefix;
    buf_init(&prefix);
    enc_data_prefix(&prefix, m->version);
    store_iter *it = store_iter_new(srv.st);
    int ok = 1;
    for (store_iter_seek(it, prefix.data, prefix.len); ok && store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len)) break;
        store_iter_val(it, &vl);
        size_t fl = kl - prefix.len;
        long long ll;
        if (ints_only) ok = fl <= 20 && str2ll(k + prefix.len, fl, &ll) == 0;
        else ok = (long long)fl <= maxlen && (m->type != T_HASH || (long long)vl <= maxlen);
    }
    store_iter_free(it);
    buf_free(&prefix);
    return ok;
}

static const char *object_encoding(const struct meta *m)
{
    long long ll;
    switch (m->type) {
    case T_STRING:
        if (m->slen <= 20 && str2ll(m->sval, m->slen, &ll) == 0) return "int";
        /* A HyperLogLog that PF* commands wrote is "raw" in Redis, even a
         * short sparse one (it is created raw and edited in place). */
        if (!m->chunked && m->slen >= 16 && memcmp(m->sval, "HYLL", 4) == 0) return "raw";
        return m->slen <= 44 ? "embstr" : "raw";
    case T_HASH:
        if ((long long)m->count <= rconf_num("hash-max-listpack-entries") &&
            small_records(m, rconf_num("hash-max-listpack-value"), 0))
            return "listpack";
        return "hashtable";
    case T_SET:
        if ((long long)m->count <= rconf_num("set-max-intset-entries") && small_records(m, 0, 1)) return "intset";
        return "hashtable";
    case T_ZSET:
        if ((long long)m->count <= rconf_num("zset-max-listpack-entries") &&
            small_records(m, rconf_num("zset-max-listpack-value"), 0))
            return "listpack";
        return "skiplist";
    case T_STREAM: return "stream";
    default: return "quicklist";
    }
}

static void object_help(client *c)
{
    static const char *lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    resp_add_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++) resp_add_simple(&c->out, lines[i]);
}

/* maxmemory-policy: the enum index in rconfig.c's order. */
static int policy_is_lfu(void)
{
    long long p = rconf_num("maxmemory-policy");
    return p == 1 || p == 5; /* volatile-lfu, allkeys-lfu */
}

static int policy_is_lru_or_lfu(void)
{
    long long p = rconf_num("maxmemory-policy");
    return p == 0 || p == 1 || p == 4 || p == 5;
}

static void object_command(client *c)
{
    static const char *const subs[] = { "help", "encoding", "refcount", "idletime", "freq" };
    int sub = -1;
    for (int i = 0; i < 5; i++)
        if (ARG_IS(c, 1, subs[i])) sub = i;
    if (sub < 0) {
        resp_add_errorf(&c->out, "ERR unknown subcommand '%.*s'. Try OBJECT HELP.",
                        (int)(c->argvlen[1] > 128 ? 128 : c->argvlen[1]), c->argv[1]);
        return;
    }
    if (c->argc != (sub == 0 ? 2 : 3)) {
        resp_add_errorf(&c->out, "ERR wrong number of arguments for 'object|%s' command", subs[sub]);
        return;
    }
    if (sub == 0) {
        object_help(c);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 2, &m);
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
    } else if (r == 1) {
        switch (sub) {
        case 1: resp_add_bulk_str(&c->out, object_encoding(&m)); break;
        case 2: {
            long long v;
            int shared = m.type == T_STRING && m.slen <= 20 && str2ll(m.sval, m.slen, &v) == 0 && v >= 0 &&
                         v < 10000 && (!rconf_num("maxmemory") || !policy_is_lru_or_lfu());
            resp_add_int(&c->out, shared ? 2147483647 : 1);
            break;
        }
        case 3:
            if (policy_is_lfu())
                resp_add_error(&c->out, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                                        "note that when switching between policies at runtime LRU and LFU data "
                                        "will take some time to adjust.");
            else resp_add_error(&c->out, "ERR Strata does not track access times (OBJECT IDLETIME)");
            break;
        default:
            if (!policy_is_lfu())
                resp_add_error(&c->out, "ERR An LFU maxmemory policy is not selected, access frequency not "
                                        "tracked. Please note that when switching between policies at runtime "
                                        "LRU and LFU data will take some time to adjust.");
            else resp_add_error(&c->out, "ERR Strata does not track access frequencies (OBJECT FREQ)");
            break;
        }
    }
    meta_free(&m);
}

void t_copy_register(void)
{
    server_register(CMD_COPY, copy_command);
    server_register(CMD_OBJECT, object_command);
}
