/* migrate_common: what both ends of a slot migration share: the jobs,
 * their state in the 'R' keys ("Rmigrate" on the source, "Rimport" on
 * the target, replicated like any write), and the background trim (the
 * source, after the commit) or drop (the target, after an abort) of the
 * unowned keys of a slot set.  See migrate.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "migrate_internal.h"

const char *const mig_state_names[] = { "none", "prepare", "copy", "catchup", "fence", "commit",
                                        "trim", "done", "aborted", "failed", "resolve" };

struct job mig_ex, mig_im;
struct mig_trim mig_trim;
struct event *mig_trim_ev;
struct mig_ranges mig_clean;

/* ---------------- helpers ---------------- */

void mig_set_error(struct job *j, const char *msg)
{
    snprintf(j->last_error, sizeof j->last_error, "%s", msg);
}

int mig_is_fenced(void)
{
    return mig_ex.used && (mig_ex.state == MS_FENCE || mig_ex.state == MS_COMMIT || mig_ex.state == MS_RESOLVE);
}

int mig_export_running(void)
{
    return mig_ex.used && mig_ex.state >= MS_PREPARE && mig_ex.state <= MS_COMMIT;
}

int mig_import_running(void)
{
    return mig_im.used && mig_im.state == MS_COPY;
}

void mig_state_store(const char *name, char st, const struct job *j)
{
    buf v;
    buf_init(&v);
    buf_append_char(&v, st);
    const char *f[3] = { j->id, j->peer, j->host };
    for (int i = 0; i < 3; i++) {
        unsigned char l = (unsigned char)strlen(f[i]);
        buf_append(&v, &l, 1);
        buf_append(&v, f[i], l);
    }
    unsigned char p[2] = { (unsigned char)(j->port >> 8), (unsigned char)j->port };
    buf_append(&v, p, 2);
    buf_append(&v, j->r.bits, sizeof j->r.bits);
    store_put(srv.st, name, strlen(name), v.data, v.len);
    buf_free(&v);
}

int mig_state_load(const char *name, char *st, struct job *j)
{
    buf v;
    buf_init(&v);
    int ok = 0;
    if (store_get(srv.st, name, strlen(name), &v) == 1 && v.len > 4) {
        const unsigned char *p = (const unsigned char *)v.data, *end = p + v.len;
        *st = (char)*p++;
        char *dst[3] = { j->id, j->peer, j->host };
        size_t cap[3] = { sizeof j->id, sizeof j->peer, sizeof j->host };
        ok = 1;
        for (int i = 0; i < 3 && ok; i++) {
            if (p >= end || (size_t)(end - p) < 1u + *p || *p >= cap[i]) ok = 0;
            else {
                memcpy(dst[i], p + 1, *p);
                dst[i][*p] = '\0';
                p += 1u + *p;
            }
        }
        if (ok && (size_t)(end - p) == 2 + sizeof j->r.bits) {
            j->port = (p[0] << 8) | p[1];
            memcpy(j->r.bits, p + 2, sizeof j->r.bits);
            j->r.count = 0;
            for (unsigned s = 0; s < MIG_SLOTS; s++) j->r.count += (unsigned)mig_ranges_has(&j->r, s);
        } else ok = 0;
    }
    buf_free(&v);
    return ok;
}

void mig_job_reset(struct job *j, int role)
{
    free(j->auth);
    mig_vmap_free(&j->vset);
    mig_vmap_free(&j->remap);
    memset(j, 0, sizeof *j);
    j->role = role;
    j->used = 1;
    j->start_ms = now_ms();
}

/* ---------------- trim / drop ---------------- */

static void trim_finish(void)
{
    log_info("migrate: %s done: %llu keys deleted", mig_trim.role ? "drop of a staged import" : "trim",
             mig_trim.deleted);
    BG_WRITE({
        const char *k = mig_trim.role ? MIG_IMPORT_KEY : MIG_EXPORT_KEY;
        store_del(srv.st, k, strlen(k));
    });
    if (!mig_trim.role && mig_ex.used && mig_ex.state == MS_TRIM) {
        mig_ex.state = MS_DONE;
        mig_ex.end_ms = now_ms();
    }
    /* The metas' tombstones: rewrite the 'M' range on the compaction
     * thread so the disk space comes back (the GC compacts the subkeys
     * of big collections itself). */
    if (mig_trim.deleted) store_compact_range_async(srv.st, "M", 1, "N", 1);
    for (size_t i = 0; i < sizeof mig_clean.bits; i++) mig_clean.bits[i] |= mig_trim.r.bits[i];
    mig_trim.on = 0;
}

void mig_trim_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!mig_trim.on) return;
    if (!srv.is_replica && !srv.write_error && !srv.writes_paused && !srv.script_busy) {
        uint64_t t0 = mono_us();
        int deleted = 0, visited = 0, end = 0;
        BG_WRITE({
            store_iter *it = store_iter_new(srv.st);
            if (mig_trim.cursor.len) {
                store_iter_seek(it, mig_trim.cursor.data, mig_trim.cursor.len);
                if (store_iter_valid(it)) {
                    size_t kl;
                    const char *k = store_iter_key(it, &kl);
                    if (kl == mig_trim.cursor.len && !memcmp(k, mig_trim.cursor.data, kl)) store_iter_next(it);
                }
            } else store_iter_seek(it, "M", 1);
            buf key;
            buf_init(&key);
            for (;;) {
                if (!store_iter_valid(it)) {
                    end = 1;
                    break;
                }
                size_t kl;
                const char *k = store_iter_key(it, &kl);
                if (kl < 1 || k[0] != 'M') {
                    end = 1;
                    break;
                }
                buf_clear(&mig_trim.cursor);
                buf_append(&mig_trim.cursor, k, kl);
                visited++;
                int del = mig_ranges_has_key(&mig_trim.r, k + 1, kl - 1) && !cluster_owns_key(k + 1, kl - 1);
                if (del) {
                    buf_clear(&key);
                    buf_append(&key, k + 1, kl - 1);
                }
                store_iter_next(it);
                if (del && db_import_delete(key.data, key.len, 0) > 0) deleted++;
                if (deleted >= TRIM_BATCH || visited >= TRIM_VISIT || mono_us() - t0 > STEP_BUDGET_US)
                    break;
            }
            buf_free(&key);
            store_iter_free(it);
        });
        mig_trim.deleted += (unsigned long long)deleted;
        if (end) {
            trim_finish();
            return;
        }
    }
    struct timeval tv = { 0, 1000 };
    evtimer_add(mig_trim_ev, &tv);
}

void mig_trim_start(int role, const struct mig_ranges *r)
{
    mig_trim.on = 1;
    mig_trim.role = role;
    mig_trim.r = *r;
    mig_trim.deleted = 0;
    buf_clear(&mig_trim.cursor);
    struct timeval tv = { 0, 1000 };
    evtimer_add(mig_trim_ev, &tv);
}
