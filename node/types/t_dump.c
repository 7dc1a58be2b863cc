/* t_dump: DUMP and RESTORE in Redis 7.0's serialization (rdb.h), so values
 * move between Strata and redis-server in both directions.
 *
 * DUMP key
 *   One serializer per type, each walking the stored records in order:
 *     string -> RDB_TYPE_STRING (integer-encoded when Redis would)
 *     list   -> RDB_TYPE_LIST   (len, elements)
 *     set    -> RDB_TYPE_SET    (len, members)
 *     hash   -> RDB_TYPE_HASH   (len, field/value pairs)
 *     zset   -> RDB_TYPE_ZSET_2 (len, member/binary score pairs)
 *   These are the plain RDB forms; redis-server loads them and picks its
 *   compact encodings (listpack, intset, quicklist) by its own
 *   thresholds, as it does for its own big values.  A new type adds its
 *   serializer to dump_value's switch (streams: RDB_TYPE_STREAM_LISTPACKS_2).
 *   Strings are read through db_lookup's meta (sval/slen).
 *
 * RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]
 *   Redis's order of checks: options, BUSYKEY, the TTL, the footer
 *   (version <= 10 and CRC-64), then the value itself ("Bad data format").
 *   Every encoding redis-server 7.0 writes is read (rdb.c), element by
 *   element straight into the store (rdbkey.c).  A set, hash or sorted
 *   set naming a member twice is refused ("Bad data format"), where Redis
 *   7.0 refuses it for big values but keeps a small hash's duplicate field
 *   in its listpack.  IDLETIME and FREQ are
 *   checked as Redis checks them and otherwise ignored: Strata tracks
 *   neither.  A TTL already in the past deletes the key (with REPLACE) and
 *   answers OK, as Redis does. */
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "notify.h"
#include "rdb.h"
#include "rdbkey.h"
#include "store.h"
#include "util.h"

/* Append the serialized collection records of m.  Returns 0 or -1 on a
 * count mismatch (logged). */
static int dump_collection(const struct meta *m, buf *out)
{
    buf prefix;
    buf_init(&prefix);
    if (m->type == T_ZSET) enc_zscore_prefix(&prefix, m->version);
    else enc_data_prefix(&prefix, m->version);
    rdb_write_len(out, m->count);
    uint64_t n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix.data, prefix.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break;
        const char *v = store_iter_val(it, &vl);
        switch (m->type) {
        case T_LIST: rdb_write_string(out, v, vl); break;
        case T_SET: rdb_write_string(out, k + prefix.len, kl - prefix.len); break;
        case T_HASH:
            rdb_write_string(out, k + prefix.len, kl - prefix.len);
            rdb_write_string(out, v, vl);
            break;
        default: {
            /* 'Z' version sortable:8 member */
            if (kl < prefix.len + 8) continue;
            rdb_write_string(out, k + prefix.len + 8, kl - prefix.len - 8);
            rdb_write_double(out, sortable_to_score(get_u64be((const unsigned char *)k + prefix.len)));
            break;
        }
        }
        n++;
    }
    store_iter_free(it);
    buf_free(&prefix);
    if (n != m->count) {
        log_error("DUMP: a %s holds %llu elements but its meta says %llu", type_name(m->type),
                  (unsigned long long)n, (unsigned long long)m->count);
        return -1;
    }
    return 0;
}

/* The serialized value of m (type byte and body) appended to out. */
static int dump_value(const struct meta *m, buf *out)
{
    switch (m->type) {
    case T_STRING:
        rdb_write_type(out, RDB_TYPE_STRING);
        rdb_write_string(out, m->sval, m->slen);
        return 0;
    case T_LIST: rdb_write_type(out, RDB_TYPE_LIST); break;
    case T_SET: rdb_write_type(out, RDB_TYPE_SET); break;
    case T_HASH: rdb_write_type(out, RDB_TYPE_HASH); break;
    case T_ZSET: rdb_write_type(out, RDB_TYPE_ZSET_2); break;
    default: return -1;
    }
    return dump_collection(m, out);
}

static void dump_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
    } else if (r == 1) {
        buf out;
        buf_init(&out);
        if (dump_value(&m, &out) < 0) {
            reply_storage_error(c);
        } else {
            rdb_write_footer(&out, 0);
            resp_add_bulk(&c->out, out.data, out.len);
        }
        buf_free(&out);
    }
    meta_free(&m);
}

static void restore_command(client *c)
{
    int replace = 0, absttl = 0;
    long long idle = -1, freq = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (ARG_IS(c, j, "replace")) {
            replace = 1;
        } else if (ARG_IS(c, j, "absttl")) {
            absttl = 1;
        } else if (ARG_IS(c, j, "idletime") && more >= 1 && freq == -1) {
            if (arg_ll(c, j + 1, &idle) < 0) return;
            if (idle < 0) {
                resp_add_error(&c->out, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (ARG_IS(c, j, "freq") && more >= 1 && idle == -1) {
            if (arg_ll(c, j + 1, &freq) < 0) return;
            if (freq < 0 || freq > 255) {
                resp_add_error(&c->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct meta m;
    meta_init(&m);
    int t = db_lookup(ARG(c, 1), &m);
    if (t < 0) {
        reply_storage_error(c);
        goto done;
    }
    if (!replace && t != T_NONE) {
        resp_add_error(&c->out, "BUSYKEY Target key name already exists.");
        goto done;
    }
    if (arg_ll(c, 2, &ttl) < 0) goto done;
    if (ttl < 0) {
        resp_add_error(&c->out, "ERR Invalid TTL value, must be >= 0");
        goto done;
    }
    size_t vlen;
    if (rdb_payload_check(c->argv[3], c->argvlen[3], &vlen) < 0) {
        resp_add_error(&c->out, "ERR DUMP payload version or checksum are wrong");
        goto done;
    }
    uint64_t now = srv.cmd_time_ms;
    if (ttl && !absttl) ttl += (long long)now;
    int expired = ttl && (uint64_t)ttl <= now && !srv.is_replica;
    /* Two passes: the first only checks the value (nothing is written,
     * no event raised), the second writes it; only a duplicate member can
     * still fail then, and its writes are rolled back.  A value that
     * expires at once is only checked, as Redis loads it and drops it. */
    int type, rc = -1;
    const char *err = NULL;
    for (int pass = 0; pass < (expired ? 1 : 2); pass++) {
        struct rdb_reader rd;
        /* Redis reads the value from the whole payload: a value that runs
         * into the footer is read, not refused. */
        (void)vlen;
        rdb_reader_init(&rd, c->argv[3], c->argvlen[3]);
        rc = -1;
        if (rdb_read_byte(&rd, &type) == 0) {
            if (pass == 1 && t != T_NONE) notify_keyspace_event(NOTIFY_NEW, "new", ARG(c, 1));
            rc = rdbkey_restore(ARG(c, 1), &rd, type, (uint64_t)ttl, &m, pass == 0, pass == 1, &err);
        }
        rdb_reader_free(&rd);
        if (rc < 0) break;
    }
    if (rc < 0) {
        resp_add_error(&c->out, "ERR Bad data format");
        goto done;
    }
    if (expired) {
        if (t != T_NONE) {
            db_delete(ARG(c, 1), &m);
            notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
        }
    } else {
        notify_keyspace_event(NOTIFY_GENERIC, "restore", ARG(c, 1));
    }
    resp_add_ok(&c->out);
done:
    meta_free(&m);
}

void t_dump_register(void)
{
    server_register(CMD_DUMP, dump_command);
    server_register(CMD_RESTORE, restore_command);
}
