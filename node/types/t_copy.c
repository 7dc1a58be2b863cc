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
 * OBJECT: answers only what Strata can answer truthfully.
 *   ENCODING  how Strata stores the value, not a Redis encoding it does not
 *             use:  string -> "raw" (its bytes, inline in the key's meta
 *             record; integers are not stored in binary), hash and set ->
 *             "subkeys" (one LevelDB record per field or member), list ->
 *             "indexed-subkeys" (one record per element, keyed by
 *             position), zset -> "scored-subkeys" (one record per member
 *             plus a score index).
 *   REFCOUNT  1: every value has exactly one stored copy; nothing is shared.
 *   IDLETIME, FREQ
 *             not tracked (a read would have to write to disk to track
 *             them): Redis's errors for a server without an LRU or LFU
 *             policy, which is Strata's case.
 *   HELP */
#include <string.h>

#include "cmd.h"
#include "notify.h"
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
    if (src.type == T_STRING) {
        db_set_string(ARG(c, 2), src.sval, src.slen, src.expire, &dst);
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

static const char *object_encoding(int type)
{
    switch (type) {
    case T_STRING: return "raw";
    case T_LIST: return "indexed-subkeys";
    case T_ZSET: return "scored-subkeys";
    default: return "subkeys";
    }
}

static void object_help(client *c)
{
    static const char *lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    How Strata stores the value of <key>: \"raw\" (strings, inline), \"subkeys\"",
        "    (hashes, sets: one record per field or member), \"indexed-subkeys\" (lists),",
        "    \"scored-subkeys\" (sorted sets: member records plus a score index).",
        "FREQ <key>",
        "    Not tracked: Strata has no LFU policy (replies an error for an existing key).",
        "IDLETIME <key>",
        "    Not tracked: Strata has no LRU policy (replies an error for an existing key).",
        "REFCOUNT <key>",
        "    Always 1: every value is stored once and never shared.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    resp_add_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++) resp_add_simple(&c->out, lines[i]);
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
        case 1: resp_add_bulk_str(&c->out, object_encoding(m.type)); break;
        case 2: resp_add_int(&c->out, 1); break;
        /* Redis replies an idle time here; Strata tracks none, so it says
         * so in an error worded like FREQ's. */
        case 3: resp_add_error(&c->out, "ERR An LRU maxmemory policy is not selected, access time not tracked."); break;
        /* Redis's exact text for FREQ without an LFU policy, which is also
         * what Redis replies under its default policy. */
        default:
            resp_add_error(&c->out, "ERR An LFU maxmemory policy is not selected, access frequency not "
                           "tracked. Please note that when switching between policies at runtime "
                           "LRU and LFU data will take some time to adjust.");
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
