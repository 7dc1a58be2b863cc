/* import: slot migration, the import side (the target of a job).  The
 * source drives it with STRATA IMPORT PREPARE / APPLY / COMMIT / ABORT /
 * VERDICT on one link (migrate.h); each APPLY is one write of this node,
 * so its replicas follow the import.  The job lives in "Rimport" until
 * the commit, which gives R to this group in the same write. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cmd.h"
#include "db.h"
#include "log.h"
#include "migrate_internal.h"
#include "resp.h"

static void import_apply(client *c, const char *ops, size_t len)
{
    struct mig_op op;
    size_t pos = 0;
    int rc;
    /* First pass: a remap for every version a meta here names. */
    while ((rc = mig_ops_next(ops, len, &pos, &op)) == 1) {
        if (op.op != 'P' || op.klen < 1 || op.key[0] != 'M') continue;
        uint64_t v = mig_meta_version(op.val, op.vlen);
        if (v && !mig_vmap_get(&mig_im.remap, v, NULL)) mig_vmap_put(&mig_im.remap, v, server_new_version());
    }
    if (rc < 0) {
        resp_add_error(&c->out, "ERR malformed import chunk");
        return;
    }
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    pos = 0;
    while (mig_ops_next(ops, len, &pos, &op) == 1) {
        if (op.klen < 1) continue;
        if (op.key[0] == 'M') {
            if (!mig_ranges_has_key(&mig_im.r, op.key + 1, op.klen - 1)) continue;
            if (op.op == 'P') {
                buf_clear(&v);
                buf_append(&v, op.val, op.vlen);
                uint64_t sv = mig_meta_version(op.val, op.vlen), tv = 0;
                if (sv && mig_vmap_get(&mig_im.remap, sv, &tv)) put_u64be((unsigned char *)v.data + 9, tv);
                if (db_import_meta(op.key + 1, op.klen - 1, v.data, v.len, 0) == 1) mig_im.imp_keys++;
                mig_im.keys_copied++;
            } else {
                /* A delete with a put naming the same version in the same
                 * record is a RENAME: the subkeys stay. */
                int keep = 0;
                struct meta m;
                meta_init(&m);
                if (db_lookup_raw(op.key + 1, op.klen - 1, &m) >= 0 && m.version) {
                    struct mig_op o2;
                    size_t p2 = 0;
                    while (!keep && mig_ops_next(ops, len, &p2, &o2) == 1) {
                        uint64_t sv = 0, tv = 0;
                        if (o2.op == 'P' && o2.klen && o2.key[0] == 'M') sv = mig_meta_version(o2.val, o2.vlen);
                        if (sv && mig_vmap_get(&mig_im.remap, sv, &tv) && tv == m.version) keep = 1;
                    }
                }
                meta_free(&m);
                if (db_import_delete(op.key + 1, op.klen - 1, keep) > 0) mig_im.imp_keys--;
            }
            mig_im.bytes_copied += op.klen + op.vlen;
            continue;
        }
        if (op.key[0] != 'D' && op.key[0] != 'Z') continue;
        uint64_t sv = mig_subkey_version(op.key, op.klen), tv;
        if (!mig_vmap_get(&mig_im.remap, sv, &tv)) continue; /* a collection T never had */
        buf_clear(&k);
        buf_append(&k, op.key, op.klen);
        put_u64be((unsigned char *)k.data + 1, tv);
        if (op.op == 'P') store_put(srv.st, k.data, k.len, op.val, op.vlen);
        else store_del(srv.st, k.data, k.len);
        mig_im.bytes_copied += op.klen + op.vlen;
    }
    buf_free(&k);
    buf_free(&v);
    resp_add_int(&c->out, mig_im.imp_keys);
}

int mig_refuse_unless_master(client *c)
{
    if (srv.is_replica) {
        resp_add_error(&c->out, "READONLY You can't write against a read only replica.");
        return 1;
    }
    if (srv.write_error) {
        resp_add_error(&c->out, "MISCONF Errors writing to the data directory: "
                                "writes are refused until a commit succeeds (see the node log)");
        return 1;
    }
    if (!cluster_has_table()) {
        resp_add_error(&c->out, "ERR this node has no slot table (STRATA SETSLOTS first)");
        return 1;
    }
    return 0;
}

/* The import ends only when its link closes (or on ABORT), and T never
 * writes on that link unasked: when S's end breaks without a word (S's
 * TCP gave up in a partition, or its host died), an idle T would keep
 * the import, and refuse every later job with BUSY, for ever.  Keepalive
 * probes make the kernel close such a link (a reset from S's host once
 * it is reachable again, or no answer at all), and with it the import.
 * A unix socket or a failed setsockopt just keeps the old behaviour. */
static void import_keepalive(int fd)
{
    int one = 1, idle = IMPORT_KEEPIDLE_S, intvl = IMPORT_KEEPINTVL_S, cnt = IMPORT_KEEPCNT;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0) return;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static int same_job(client *c, int i)
{
    return mig_im.used && c->argvlen[i] == strlen(mig_im.id) && !memcmp(c->argv[i], mig_im.id, c->argvlen[i]);
}

static void import_prepare(client *c)
{
    char err[200];
    struct mig_ranges r;
    if (c->argvlen[3] == 0 || c->argvlen[3] >= sizeof mig_im.id || c->argvlen[4] == 0 ||
        c->argvlen[4] > CLUSTER_GROUP_MAX_LEN) {
        resp_add_error(&c->out, "ERR invalid job id or group name");
        return;
    }
    if (mig_ranges_parse(&r, c->argv[5], c->argvlen[5], err, sizeof err) < 0) {
        resp_add_errorf(&c->out, "ERR invalid ranges: %s", err);
        return;
    }
    if (mig_import_running()) {
        resp_add_errorf(&c->out, "BUSY an import is running on this node (job %s)", mig_im.id);
        return;
    }
    if (mig_trim.on) {
        resp_add_error(&c->out, "BUSY this node is still trimming or dropping the slots of an "
                                "earlier job: try again later");
        return;
    }
    if (mig_export_running()) {
        resp_add_errorf(&c->out, "BUSY this node is exporting (job %s)", mig_ex.id);
        return;
    }
    int stale = 0;
    for (unsigned s = 0; s < MIG_SLOTS; s++) {
        if (mig_ranges_has(&r, s) && cluster_owns_slot(s)) {
            resp_add_errorf(&c->out, "ERR slot %u is already owned by this node", s);
            return;
        }
        if (mig_ranges_has(&r, s) && !mig_ranges_has(&mig_clean, s)) stale = 1;
    }
    if (stale && cluster_unowned_keys() > 0) {
        mig_trim_start(1, &r);
        resp_add_error(&c->out, "BUSY this node stores keys of slots it does not own (from before its "
                                "slot table or an earlier job): dropping those of these slots, try again");
        return;
    }
    mig_job_reset(&mig_im, 1);
    memcpy(mig_im.id, c->argv[3], c->argvlen[3]);
    memcpy(mig_im.peer, c->argv[4], c->argvlen[4]);
    mig_im.r = r;
    mig_im.state = MS_COPY;
    mig_im.link_id = c->id;
    import_keepalive(c->fd);
    mig_state_store(MIG_IMPORT_KEY, 'I', &mig_im);
    log_info("migrate: import %s of %u slots from %s: prepared", mig_im.id, r.count, mig_im.peer);
    resp_add_ok(&c->out);
}

static void import_commit(client *c)
{
    unsigned long long ep;
    if (!mig_import_running() || !same_job(c, 3)) {
        resp_add_error(&c->out, "ERR no such import running");
        return;
    }
    if (str2ull(c->argv[4], c->argvlen[4], &ep) < 0) {
        resp_add_error(&c->out, "ERR invalid epoch");
        return;
    }
    uint64_t mine = cluster_max_epoch();
    uint64_t epoch = (ep > mine ? ep : mine) + 1;
    /* The commit point: the table and the end of the import, one write. */
    if (cluster_table_reassign(mig_im.r.bits, cluster_self(), epoch, -mig_im.imp_keys) < 0) {
        resp_add_error(&c->out, "ERR cannot rewrite the slot table");
        return;
    }
    store_del(srv.st, MIG_IMPORT_KEY, sizeof MIG_IMPORT_KEY - 1);
    mig_im.state = MS_DONE;
    mig_im.end_ms = now_ms();
    mig_im.keys_total = (unsigned long long)mig_im.imp_keys;
    mig_vmap_free(&mig_im.remap);
    log_info("migrate: import %s committed: %lld keys, epoch %llu", mig_im.id, mig_im.imp_keys,
             (unsigned long long)epoch);
    resp_add_array(&c->out, 2);
    resp_add_int(&c->out, (long long)epoch);
    resp_add_int(&c->out, mig_im.imp_keys);
}

void mig_import_command(client *c)
{
    char err[200];
    if (c->argc < 4) {
        resp_add_arity_error(&c->out, "strata|import");
        return;
    }
    if (mig_refuse_unless_master(c)) return;
    if (ARG_IS(c, 2, "prepare") && c->argc == 6) {
        import_prepare(c);
    } else if (ARG_IS(c, 2, "apply") && c->argc == 5) {
        if (!mig_import_running() || !same_job(c, 3) || mig_im.link_id != c->id) {
            resp_add_error(&c->out, "ERR no such import running on this link");
            return;
        }
        import_apply(c, c->argv[4], c->argvlen[4]);
    } else if (ARG_IS(c, 2, "commit") && c->argc == 5) {
        import_commit(c);
    } else if (ARG_IS(c, 2, "abort") && c->argc == 4) {
        if (same_job(c, 3) && mig_im.state == MS_DONE) {
            resp_add_errorf(&c->out, "ERR import %s is already committed", mig_im.id);
            return;
        }
        if (mig_import_running() && same_job(c, 3)) {
            mig_im.state = MS_ABORTED;
            mig_im.end_ms = now_ms();
            mig_set_error(&mig_im, "aborted by the source");
            mig_state_store(MIG_IMPORT_KEY, 'X', &mig_im);
            mig_trim_start(1, &mig_im.r);
            log_info("migrate: import %s aborted by the source: dropping what was staged", mig_im.id);
        }
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "verdict") && c->argc == 5) {
        struct mig_ranges r;
        if (mig_ranges_parse(&r, c->argv[4], c->argvlen[4], err, sizeof err) < 0) {
            resp_add_errorf(&c->out, "ERR invalid ranges: %s", err);
            return;
        }
        if (mig_import_running() && same_job(c, 3)) {
            resp_add_simple(&c->out, "importing");
            return;
        }
        int owned = 1;
        for (unsigned s = 0; s < MIG_SLOTS && owned; s++)
            if (mig_ranges_has(&r, s) && !cluster_owns_slot(s)) owned = 0;
        resp_add_simple(&c->out, owned ? "committed" : "aborted");
    } else {
        resp_add_error(&c->out, "ERR unknown STRATA IMPORT subcommand or wrong number of arguments");
    }
}

void mig_import_link_closed(client *c)
{
    if (mig_import_running() && mig_im.link_id == c->id && srv.st) {
        log_warn("migrate: import %s: the link from %s closed before the commit: aborting", mig_im.id,
                 mig_im.peer);
        mig_set_error(&mig_im, "link from the source closed before the commit");
        mig_im.state = MS_ABORTED;
        mig_im.end_ms = now_ms();
        BG_WRITE({ mig_state_store(MIG_IMPORT_KEY, 'X', &mig_im); });
        mig_trim_start(1, &mig_im.r);
    }
}

void mig_import_recover(void)
{
    struct job j;
    char st;
    memset(&j, 0, sizeof j);
    if (mig_state_load(MIG_IMPORT_KEY, &st, &j)) {
        mig_job_reset(&mig_im, 1);
        memcpy(mig_im.id, j.id, sizeof mig_im.id);
        memcpy(mig_im.peer, j.peer, sizeof mig_im.peer);
        mig_im.r = j.r;
        mig_im.state = MS_ABORTED;
        mig_im.end_ms = now_ms();
        mig_set_error(&mig_im, "node restarted before the commit");
        log_warn("migrate: import %s was not committed before this restart: dropping what was staged",
                 mig_im.id);
        mig_trim_start(1, &mig_im.r);
    }
}
