/* migrate_codec: ranges, version maps and op lists for slot migration.
 * See migrate_codec.h. */
#include "migrate_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot.h"
#include "topology.h"
#include "util.h"

/* ---- ranges ---- */

void mig_ranges_add(struct mig_ranges *r, unsigned first, unsigned last)
{
    for (unsigned s = first; s <= last && s < MIG_SLOTS; s++) {
        if (!mig_ranges_has(r, s)) r->count++;
        r->bits[s >> 3] |= (unsigned char)(1u << (s & 7));
    }
}

static void parse_cb(void *ud, int lo, int hi)
{
    mig_ranges_add(ud, (unsigned)lo, (unsigned)hi);
}

int mig_ranges_parse(struct mig_ranges *r, const char *s, size_t len, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    char *z = xmalloc(len + 1);
    memcpy(z, s, len);
    z[len] = '\0';
    int rc = topo_parse_slots(z, parse_cb, r, err, errlen);
    free(z);
    if (rc == 0 && r->count == 0) {
        snprintf(err, errlen, "no slots given");
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

void mig_ranges_format(const struct mig_ranges *r, buf *out)
{
    int first = 1;
    for (unsigned s = 0; s < MIG_SLOTS;) {
        if (!mig_ranges_has(r, s)) {
            s++;
            continue;
        }
        unsigned e = s;
        while (e + 1 < MIG_SLOTS && mig_ranges_has(r, e + 1)) e++;
        if (!first) buf_append_char(out, ',');
        first = 0;
        if (e == s) buf_printf(out, "%u", s);
        else buf_printf(out, "%u-%u", s, e);
        s = e + 1;
    }
}

int mig_ranges_has_key(const struct mig_ranges *r, const char *key, size_t len)
{
    return mig_ranges_has(r, slot_of_key(key, len));
}

/* ---- version map ---- */

void mig_vmap_init(struct mig_vmap *m)
{
    memset(m, 0, sizeof *m);
}

void mig_vmap_free(struct mig_vmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t vmap_slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static void vmap_grow(struct mig_vmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *nk = xcalloc(ncap, sizeof *nk), *nv = xcalloc(ncap, sizeof *nv);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = vmap_slot(m->keys[i], ncap);
        while (nk[j]) j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
}

void mig_vmap_put(struct mig_vmap *m, uint64_t k, uint64_t v)
{
    if (!k) return;
    if ((m->n + 1) * 2 > m->cap) vmap_grow(m);
    size_t j = vmap_slot(k, m->cap);
    while (m->keys[j] && m->keys[j] != k) j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) m->n++;
    m->keys[j] = k;
    m->vals[j] = v;
}

int mig_vmap_get(const struct mig_vmap *m, uint64_t k, uint64_t *v)
{
    if (!k || !m->cap) return 0;
    size_t j = vmap_slot(k, m->cap);
    while (m->keys[j]) {
        if (m->keys[j] == k) {
            if (v) *v = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

/* ---- ops ---- */

int mig_ops_next(const char *ops, size_t len, size_t *pos, struct mig_op *op)
{
    size_t p = *pos;
    if (p >= len) return 0;
    if (len - p < 5) return -1;
    op->op = ops[p];
    if (op->op != 'P' && op->op != 'D') return -1;
    uint32_t kl = get_u32be((const unsigned char *)ops + p + 1);
    p += 5;
    if (len - p < kl) return -1;
    op->key = ops + p;
    op->klen = kl;
    p += kl;
    op->val = NULL;
    op->vlen = 0;
    if (op->op == 'P') {
        if (len - p < 4) return -1;
        uint32_t vl = get_u32be((const unsigned char *)ops + p);
        p += 4;
        if (len - p < vl) return -1;
        op->val = ops + p;
        op->vlen = vl;
        p += vl;
    }
    *pos = p;
    return 1;
}

void mig_ops_put(buf *out, const char *k, size_t kl, const char *v, size_t vl)
{
    unsigned char h[5];
    h[0] = 'P';
    put_u32be(h + 1, (uint32_t)kl);
    buf_append(out, h, 5);
    buf_append(out, k, kl);
    put_u32be(h, (uint32_t)vl);
    buf_append(out, h, 4);
    buf_append(out, v, vl);
}

void mig_ops_del(buf *out, const char *k, size_t kl)
{
    unsigned char h[5];
    h[0] = 'D';
    put_u32be(h + 1, (uint32_t)kl);
    buf_append(out, h, 5);
    buf_append(out, k, kl);
}

/* Meta type bytes (db.h): 1 string (inline), 0x81 chunked string, 2..6
 * collections; all but the inline string carry version:8 at offset 9. */
uint64_t mig_meta_version(const char *v, size_t vl)
{
    if (vl < 25) return 0;
    unsigned char t = (unsigned char)v[0];
    if (t == 1 || (t != 0x81 && (t < 2 || t > 6))) return 0;
    return get_u64be((const unsigned char *)v + 9);
}

uint64_t mig_subkey_version(const char *k, size_t kl)
{
    if (kl < 9 || (k[0] != 'D' && k[0] != 'Z' && k[0] != 'G')) return 0;
    return get_u64be((const unsigned char *)k + 1);
}

long mig_filter_ops(const char *ops, size_t len, const struct mig_ranges *r, struct mig_vmap *vset,
                    buf *out)
{
    struct mig_op op;
    size_t pos = 0;
    int rc;
    while ((rc = mig_ops_next(ops, len, &pos, &op)) == 1) {
        if (op.op == 'P' && op.klen >= 1 && op.key[0] == 'M' &&
            mig_ranges_has_key(r, op.key + 1, op.klen - 1)) {
            uint64_t v = mig_meta_version(op.val, op.vlen);
            if (v) mig_vmap_put(vset, v, 1);
        }
    }
    if (rc < 0) return -1;
    long kept = 0;
    pos = 0;
    while (mig_ops_next(ops, len, &pos, &op) == 1) {
        int keep = 0;
        if (op.klen >= 1 && op.key[0] == 'M') keep = mig_ranges_has_key(r, op.key + 1, op.klen - 1);
        else if (op.klen >= 9 && (op.key[0] == 'D' || op.key[0] == 'Z'))
            keep = mig_vmap_get(vset, mig_subkey_version(op.key, op.klen), NULL);
        if (!keep) continue;
        if (op.op == 'P') mig_ops_put(out, op.key, op.klen, op.val, op.vlen);
        else mig_ops_del(out, op.key, op.klen);
        kept++;
    }
    return kept;
}
