/* cmdmeta: parsing the metadata notation of commands_meta.def and
 * subcmd_meta.def into cmd_meta entries, lookups, and key finding as
 * Redis 7.0's COMMAND GETKEYS does it.  See cmdmeta.h. */
#include "cmdmeta.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "util.h"

/* One entry as the .def files write it, before parsing. */
struct meta_src {
    const char *container, *name;  /* subcommands only */
    enum cmd_id id;                /* top-level only */
    unsigned flags;                /* subcommands: all flags; top level: the extra ones */
    int first, last, step;         /* subcommands only */
    unsigned acl;
    const char *tips, *keyspecs, *group, *since;
    unsigned doc_flags;
    const char *deprecated_since, *replaced_by, *summary, *complexity, *history, *args;
};

static const struct meta_src top_src[] = {
#define META(id, acl, xflags, tips, keyspecs, group, since, docflags, dep, repl, summary, complexity, \
             history, args)                                                                          \
    { NULL, NULL, CMD_##id, xflags, 0, 0, 0, acl, tips, keyspecs, group, since, docflags, dep, repl,  \
      summary, complexity, history, args },
#include "commands_meta.def"
#undef META
};

static const struct meta_src sub_src[] = {
#define SUBMETA(container, name, flags, first, last, step, acl, tips, keyspecs, group, since, docflags, \
                dep, repl, summary, complexity, history, args)                                        \
    { container, name, 0, flags, first, last, step, acl, tips, keyspecs, group, since, docflags, dep,  \
      repl, summary, complexity, history, args },
#include "subcmd_meta.def"
#undef SUBMETA
};

#define NTOP (sizeof top_src / sizeof top_src[0])
#define NSUB (sizeof sub_src / sizeof sub_src[0])

static struct cmd_meta metas[CMD__COUNT];
static struct cmd_meta sub_metas[NSUB];
static int meta_ready;
static int meta_unmatched; /* see cmdmeta_unmatched() */

static const char *const acl_names[ACI__COUNT] = {
#define X(id, name) name,
    ACL_CATEGORIES(X)
#undef X
};

static const char *const key_flag_names[] = {
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
    "not_key", "incomplete", "variable_flags",
};

static const char *const arg_type_names[] = {
    [ARG_STRING] = "string",         [ARG_INTEGER] = "integer", [ARG_DOUBLE] = "double",
    [ARG_KEY] = "key",               [ARG_PATTERN] = "pattern", [ARG_UNIX_TIME] = "unix-time",
    [ARG_PURE_TOKEN] = "pure-token", [ARG_ONEOF] = "oneof",     [ARG_BLOCK] = "block",
};

/* ---- parsing ---- */

/* The .def files are part of the program: a malformed entry is a bug
 * found by the first test that starts, so parsing stops the process. */
static void __attribute__((noreturn, format(printf, 2, 3))) meta_fail(const char *what, const char *fmt, ...);
static void meta_fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cmdmeta: %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static char **split_words(const char *s, int *n)
{
    char **out = NULL;
    *n = 0;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ') e++;
        out = realloc(out, sizeof *out * (size_t)(*n + 1));
        if (!out) abort();
        out[(*n)++] = xmemdup(s, (size_t)(e - s));
        s = e;
    }
    return out;
}

static unsigned parse_key_flags(const char *what, const char *s, size_t len)
{
    unsigned f = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ',') j++;
        size_t k;
        for (k = 0; k < sizeof key_flag_names / sizeof key_flag_names[0]; k++)
            if (strlen(key_flag_names[k]) == j - i && !memcmp(key_flag_names[k], s + i, j - i)) break;
        if (k == sizeof key_flag_names / sizeof key_flag_names[0])
            meta_fail(what, "unknown key flag '%.*s'", (int)(j - i), s + i);
        f |= 1u << k;
        i = j + 1;
    }
    return f;
}

/* "FLAGS BS FK [|notes]" where BS is i<index> or k<KEYWORD>,<startfrom>
 * and FK is r<lastkey>,<keystep>,<limit> or n<keynumidx>,<firstkey>,<keystep>. */
static void parse_keyspec(const char *what, const char *s, size_t len, struct cmd_keyspec *ks)
{
    char tmp[256];
    if (len >= sizeof tmp) meta_fail(what, "key spec too long");
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(ks, 0, sizeof *ks);
    char *bar = strchr(tmp, '|');
    if (bar) {
        ks->notes = xmemdup(bar + 1, strlen(bar + 1));
        *bar = '\0';
    }
    char flags[128], bs[64], fk[64];
    if (sscanf(tmp, " %127s %63s %63s", flags, bs, fk) != 3) meta_fail(what, "bad key spec '%s'", tmp);
    ks->flags = parse_key_flags(what, flags, strlen(flags));
    if (bs[0] == 'u' && fk[0] == 'u') {
        ks->unknown = 1;
        return;
    }
    if (bs[0] == 'i') {
        ks->bs_index = atoi(bs + 1);
    } else if (bs[0] == 'k') {
        char *comma = strrchr(bs, ',');
        if (!comma) meta_fail(what, "bad keyword search '%s'", bs);
        ks->bs_keyword = 1;
        ks->keyword = xmemdup(bs + 1, (size_t)(comma - bs - 1));
        ks->startfrom = atoi(comma + 1);
    } else {
        meta_fail(what, "bad begin_search '%s'", bs);
    }
    int a, b, c;
    if (sscanf(fk + 1, "%d,%d,%d", &a, &b, &c) != 3) meta_fail(what, "bad find_keys '%s'", fk);
    if (fk[0] == 'r') {
        ks->lastkey = a, ks->keystep = b, ks->limit = c;
    } else if (fk[0] == 'n') {
        ks->fk_keynum = 1;
        ks->keynumidx = a, ks->firstkey = b, ks->nkeystep = c;
    } else {
        meta_fail(what, "bad find_keys '%s'", fk);
    }
}

static void parse_keyspecs(const char *what, const char *s, struct cmd_meta *m)
{
    m->nkeyspecs = 0;
    m->keyspecs = NULL;
    while (*s) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        m->keyspecs = realloc(m->keyspecs, sizeof *m->keyspecs * (size_t)(m->nkeyspecs + 1));
        if (!m->keyspecs) abort();
        parse_keyspec(what, s, len, &m->keyspecs[m->nkeyspecs++]);
        s += len;
        if (*s == ';') s++;
    }
}

/* "version text|version text|..." */
static void parse_history(const char *what, const char *s, struct cmd_meta *m)
{
    m->nhistory = 0;
    m->history = NULL;
    while (*s) {
        const char *e = strchr(s, '|');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *sp = memchr(s, ' ', len);
        if (!sp) meta_fail(what, "history entry without text");
        m->history = realloc(m->history, sizeof *m->history * (size_t)(m->nhistory + 1));
        if (!m->history) abort();
        struct cmd_history *h = &m->history[m->nhistory++];
        h->version = xmemdup(s, (size_t)(sp - s));
        h->text = xmemdup(sp + 1, len - (size_t)(sp - s) - 1);
        s += len;
        if (*s == '|') s++;
    }
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':' ||
           c == '/';
}

static char *take_version(const char **p)
{
    const char *s = *p;
    while ((**p >= '0' && **p <= '9') || **p == '.') (*p)++;
    return xmemdup(s, (size_t)(*p - s));
}

/* args := arg { ' ' arg }, up to `close` ('\0' or ')').
 * arg  := name '=' type { 'TOKEN' | #ksi | @since | !deprecated | ? | * | + } [ '(' args ')' ] */
static struct cmd_arg *parse_args(const char *what, const char **p, char close, int *nargs)
{
    struct cmd_arg *out = NULL;
    int n = 0;
    for (;;) {
        while (**p == ' ') (*p)++;
        if (**p == close) break;
        if (!**p) meta_fail(what, "unterminated argument list");
        out = realloc(out, sizeof *out * (size_t)(n + 1));
        if (!out) abort();
        struct cmd_arg *a = &out[n++];
        memset(a, 0, sizeof *a);
        a->key_spec_index = -1;
        const char *s = *p;
        while (is_name_char(**p)) (*p)++;
        if (*p == s || **p != '=') meta_fail(what, "bad argument near '%.20s'", s);
        a->name = xmemdup(s, (size_t)(*p - s));
        s = ++(*p);
        while ((**p >= 'a' && **p <= 'z') || **p == '-') (*p)++;
        size_t tl = (size_t)(*p - s), t;
        for (t = 0; t < sizeof arg_type_names / sizeof arg_type_names[0]; t++)
            if (strlen(arg_type_names[t]) == tl && !memcmp(arg_type_names[t], s, tl)) break;
        if (t == sizeof arg_type_names / sizeof arg_type_names[0])
            meta_fail(what, "unknown argument type '%.*s'", (int)tl, s);
        a->type = (enum arg_type)t;
        for (int more = 1; more;) {
            switch (**p) {
            case '\'': {
                const char *q = strchr(*p + 1, '\'');
                if (!q) meta_fail(what, "unterminated token");
                a->token = xmemdup(*p + 1, (size_t)(q - *p - 1));
                *p = q + 1;
                break;
            }
            case '#':
                (*p)++;
                a->key_spec_index = (int)strtol(*p, (char **)p, 10);
                break;
            case '@': (*p)++; a->since = take_version(p); break;
            case '!': (*p)++; a->deprecated_since = take_version(p); break;
            case '?': (*p)++; a->flags |= ARGF_OPTIONAL; break;
            case '*': (*p)++; a->flags |= ARGF_MULTIPLE; break;
            case '+': (*p)++; a->flags |= ARGF_MULTIPLE_TOKEN; break;
            default: more = 0;
            }
        }
        if (a->type == ARG_ONEOF || a->type == ARG_BLOCK) {
            if (**p != '(') meta_fail(what, "%s '%s' without its arguments", arg_type_names[a->type], a->name);
            (*p)++;
            a->args = parse_args(what, p, ')', &a->nargs);
            (*p)++;
        }
        if (**p != ' ' && **p != close) meta_fail(what, "unexpected '%c' after argument '%s'", **p, a->name);
    }
    *nargs = n;
    return out;
}

static void parse_docs(const char *what, const struct meta_src *src, struct cmd_meta *m)
{
    m->acl = src->acl;
    m->tips = split_words(src->tips, &m->ntips);
    parse_keyspecs(what, src->keyspecs, m);
    m->group = src->group;
    m->since = src->since;
    m->doc_flags = src->doc_flags;
    m->deprecated_since = src->deprecated_since;
    m->replaced_by = src->replaced_by;
    m->summary = src->summary;
    m->complexity = src->complexity;
    parse_history(what, src->history, m);
    m->has_args = src->args != NULL;
    if (src->args) {
        const char *p = src->args;
        m->args = parse_args(what, &p, '\0', &m->nargs);
    }
    for (int i = 0; i < m->nkeyspecs; i++)
        if (m->keyspecs[i].bs_keyword || m->keyspecs[i].fk_keynum || m->keyspecs[i].unknown) m->movablekeys = 1;
}

static int by_fullname(const void *a, const void *b)
{
    return strcmp((*(const struct cmd_meta *const *)a)->fullname,
                  (*(const struct cmd_meta *const *)b)->fullname);
}

void cmdmeta_init(void)
{
    if (meta_ready) return;
    cmd_table_init(); /* which calls this function when it runs first */
    if (meta_ready) return;
    int seen[CMD__COUNT] = { 0 };
    for (size_t i = 0; i < NTOP; i++) {
        const struct meta_src *src = &top_src[i];
        const struct cmd_spec *c = &cmd_table[src->id];
        struct cmd_meta *m = &metas[src->id];
        if (seen[src->id]++) meta_fail(c->name, "two entries in commands_meta.def");
        m->fullname = c->name;
        m->spec = c;
        m->arity = c->arity;
        parse_docs(c->name, src, m);
        if (subcmd_is_container(c->name)) {
            /* In Redis the dispatch flags and key positions belong to the
             * subcommands; the container shows only its own. */
            m->flags = src->flags;
        } else {
            m->flags = c->flags | src->flags;
            m->first = c->first, m->last = c->last, m->step = c->step;
        }
    }
    for (int i = 0; i < CMD__COUNT; i++) {
        if (seen[i]) continue;
        meta_unmatched++;
        /* A command added to commands.def without its entry here: COMMAND
         * still describes what the table knows (test_cmdtable fails until
         * the entry is written, rather than every program at start-up). */
        struct cmd_meta *m = &metas[i];
        m->fullname = cmd_table[i].name;
        m->spec = &cmd_table[i];
        m->arity = cmd_table[i].arity;
        m->flags = cmd_table[i].flags;
        m->first = cmd_table[i].first, m->last = cmd_table[i].last, m->step = cmd_table[i].step;
        m->movablekeys = cmd_table[i].numkeys > 0;
        m->group = "server";
    }

    size_t nsubs;
    const struct subcmd *subs = subcmd_all(&nsubs);
    int used[NSUB] = { 0 };
    for (size_t i = 0; i < nsubs; i++) {
        size_t j;
        for (j = 0; j < NSUB; j++)
            if (!strcmp(sub_src[j].container, subs[i].container) && !strcmp(sub_src[j].name, subs[i].name))
                break;
        const struct cmd_spec *c = cmd_lookup(subs[i].container, strlen(subs[i].container));
        if (!c) meta_fail(subs[i].container, "container not in commands.def");
        /* Without an entry (a subcommand just added to subcmd.c) it is
         * listed with its arity alone; test_cmdtable asks for the entry. */
        struct cmd_meta *m = j < NSUB ? &sub_metas[j] : xcalloc(1, sizeof *m);
        char full[64];
        snprintf(full, sizeof full, "%s|%s", subs[i].container, subs[i].name);
        m->fullname = xmemdup(full, strlen(full));
        m->spec = c;
        m->sub = &subs[i];
        m->parent = &metas[c->id];
        m->arity = subs[i].arity;
        m->group = metas[c->id].group ? metas[c->id].group : "server";
        if (j == NSUB) {
            meta_unmatched++;
        } else {
            used[j] = 1;
            const struct meta_src *src = &sub_src[j];
            m->flags = src->flags;
            m->first = src->first, m->last = src->last, m->step = src->step;
            parse_docs(full, src, m);
        }
        struct cmd_meta *parent = &metas[c->id];
        parent->subs = realloc(parent->subs, sizeof *parent->subs * (size_t)(parent->nsubs + 1));
        if (!parent->subs) abort();
        parent->subs[parent->nsubs++] = m;
    }
    for (size_t j = 0; j < NSUB; j++) /* an entry whose subcommand left subcmd.c: a stale line */
        if (!used[j]) meta_unmatched++;
    for (int i = 0; i < CMD__COUNT; i++)
        if (metas[i].nsubs) qsort(metas[i].subs, (size_t)metas[i].nsubs, sizeof *metas[i].subs, by_fullname);
    meta_ready = 1;
}

int cmdmeta_unmatched(void)
{
    if (!meta_ready) cmdmeta_init();
    return meta_unmatched;
}

/* ---- lookups ---- */

const struct cmd_meta *cmdmeta_get(enum cmd_id id)
{
    if (!meta_ready) cmdmeta_init();
    return &metas[id];
}

static const struct cmd_meta *find_sub(const struct cmd_meta *m, const char *name, size_t len)
{
    size_t plen = strlen(m->spec->name);
    for (int i = 0; i < m->nsubs; i++) {
        const char *sub = m->subs[i]->fullname + plen + 1;
        if (strlen(sub) == len && strncasecmp(sub, name, len) == 0) return m->subs[i];
    }
    return NULL;
}

const struct cmd_meta *cmdmeta_lookup(const char *name, size_t len)
{
    if (!meta_ready) cmdmeta_init();
    const char *bar = memchr(name, '|', len);
    if (!bar) {
        const struct cmd_spec *c = cmd_lookup(name, len);
        return c ? &metas[c->id] : NULL;
    }
    size_t blen = (size_t)(bar - name);
    const char *sub = bar + 1;
    size_t slen = len - blen - 1;
    if (memchr(sub, '|', slen)) return NULL; /* one level of subcommands only */
    const struct cmd_spec *c = cmd_lookup(name, blen);
    if (!c || !metas[c->id].nsubs) return NULL;
    return find_sub(&metas[c->id], sub, slen);
}

const struct cmd_meta *cmdmeta_lookup_argv(int argc, char **argv, const size_t *lens)
{
    if (!meta_ready) cmdmeta_init();
    if (argc < 1) return NULL;
    const struct cmd_spec *c = cmd_lookup(argv[0], lens[0]);
    if (!c) return NULL;
    const struct cmd_meta *m = &metas[c->id];
    if (argc == 1 || !m->nsubs) return m;
    return find_sub(m, argv[1], lens[1]);
}

const char *cmdmeta_acl_name(int i)
{
    return i >= 0 && i < ACI__COUNT ? acl_names[i] : NULL;
}

unsigned cmdmeta_acl_lookup(const char *name, size_t len)
{
    for (int i = 0; i < ACI__COUNT; i++)
        if (strlen(acl_names[i]) == len && strncasecmp(acl_names[i], name, len) == 0) return 1u << i;
    return 0;
}

int cmdmeta_key_flag_names(unsigned flags, const char **names, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof key_flag_names / sizeof key_flag_names[0] && n < max; i++)
        if (flags & (1u << i)) names[n++] = key_flag_names[i];
    return n;
}

/* ---- keys ---- */

static void add_key(struct cmd_key *out, int max, int *n, int pos, unsigned flags)
{
    if (*n < max) out[*n].pos = pos, out[*n].flags = flags;
    (*n)++;
}

/* Redis's getKeysUsingKeySpecs: -1 when a spec does not fit the
 * arguments (Redis then falls back to the command's own function). */
static int keys_from_specs(const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
                           struct cmd_key *out, int max)
{
    int n = 0;
    for (int j = 0; j < m->nkeyspecs; j++) {
        const struct cmd_keyspec *ks = &m->keyspecs[j];
        if (ks->flags & KF_NOT_KEY) continue;
        if (ks->unknown) return -1; /* the command's own key function decides */
        int first = 0, last, step;
        if (!ks->bs_keyword) {
            first = ks->bs_index;
        } else {
            int start = ks->startfrom > 0 ? ks->startfrom : argc + ks->startfrom;
            int end = ks->startfrom > 0 ? argc - 1 : 1;
            for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
                if (i >= argc || i < 1) break;
                if (str_eq_nocase(argv[i], lens[i], ks->keyword)) {
                    first = i + 1;
                    break;
                }
            }
            if (!first) continue; /* keyword absent: no keys from this spec */
        }
        if (!ks->fk_keynum) {
            step = ks->keystep;
            if (ks->lastkey >= 0) last = first + ks->lastkey;
            else if (!ks->limit) last = argc + ks->lastkey;
            else last = first + ((argc - first) / ks->limit + ks->lastkey);
        } else {
            step = ks->nkeystep;
            long long nk;
            if (ks->keynumidx >= argc || first + ks->keynumidx >= argc) return -1;
            int at = first + ks->keynumidx;
            if (str2ll(argv[at], lens[at], &nk) < 0 || nk < 0) return -1;
            first += ks->firstkey;
            last = first + (int)nk - 1;
        }
        if (last >= argc || last < first || first >= argc) return -1;
        for (int i = first; i <= last; i += step) add_key(out, max, &n, i, ks->flags);
        if (ks->flags & KF_INCOMPLETE) return -1;
    }
    return n;
}

/* atoi() of a counted string (arguments need not end in NUL): glibc's,
 * which is (int)strtol(), saturating at LONG_MIN/LONG_MAX first. */
static int atoi_counted(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)s[i])) i++;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    unsigned long long v = 0, lim = neg ? (unsigned long long)LONG_MAX + 1 : (unsigned long long)LONG_MAX;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned long long d = (unsigned long long)(s[i] - '0');
        v = v > (lim - d) / 10 ? lim : v * 10 + d;
    }
    long r = neg ? (v == (unsigned long long)LONG_MAX + 1 ? LONG_MIN : -(long)v) : (long)v;
    return (int)r;
}

/* Redis's genericGetKeys, behind the numkeys commands' own key
 * functions: the count is read with atoi(), input keys come first and
 * the destination last, all without flags. */
static int keys_numkeys_fallback(const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
                                 struct cmd_key *out, int max)
{
    int store = 0, countidx = 0, firstidx = 0, keystep = 1;
    for (int j = 0; j < m->nkeyspecs; j++) {
        const struct cmd_keyspec *ks = &m->keyspecs[j];
        if (ks->fk_keynum) {
            countidx = ks->bs_index + ks->keynumidx;
            firstidx = ks->bs_index + ks->firstkey;
            keystep = ks->nkeystep;
        } else if (!ks->bs_keyword && !countidx) {
            store = ks->bs_index;
        }
    }
    if (!countidx || countidx >= argc) return 0;
    int num = atoi_counted(argv[countidx], lens[countidx]);
    if (num < 1 || num > (argc - firstidx) / keystep) return 0;
    int n = 0;
    for (int i = 0; i < num; i++) add_key(out, max, &n, firstidx + i * keystep, 0);
    if (store) add_key(out, max, &n, store, 0);
    return n;
}

/* Redis's setGetKeys: the key is read as well only with GET. */
static int keys_set(int argc, char **argv, const size_t *lens, struct cmd_key *out, int max)
{
    unsigned flags = KF_OW | KF_UPDATE;
    for (int i = 3; i < argc; i++)
        if (str_eq_nocase(argv[i], lens[i], "get")) {
            flags = KF_RW | KF_ACCESS | KF_UPDATE;
            break;
        }
    int n = 0;
    add_key(out, max, &n, 1, flags);
    return n;
}

/* Redis's sortGetKeys: the sorted key, then the last STORE destination;
 * the arguments of LIMIT, GET and BY are skipped. */
static int keys_sort(int argc, char **argv, const size_t *lens, struct cmd_key *out, int max)
{
    int n = 0, store = cmd_sort_store_key(argc, argv, lens);
    add_key(out, max, &n, 1, KF_RO | KF_ACCESS);
    if (store) add_key(out, max, &n, store, KF_OW | KF_UPDATE);
    return n;
}

/* Redis's bitfieldGetKeys: read-only while only GET (and OVERFLOW)
 * subcommands come, else (a write or a syntax error) read-write. */
static int keys_bitfield(int argc, char **argv, const size_t *lens, struct cmd_key *out, int max)
{
    unsigned flags = KF_RO | KF_ACCESS;
    for (int i = 2; i < argc; i++) {
        int rem = argc - i - 1;
        if (str_eq_nocase(argv[i], lens[i], "get") && rem >= 2) {
            i += 2;
        } else if (str_eq_nocase(argv[i], lens[i], "overflow") && rem >= 1) {
            i += 1;
        } else {
            flags = KF_RW | KF_ACCESS | KF_UPDATE;
            break;
        }
    }
    int n = 0;
    add_key(out, max, &n, 1, flags);
    return n;
}

int cmdmeta_has_keys(const struct cmd_meta *m)
{
    if (m->movablekeys || (!m->sub && m->spec->id == CMD_SET)) return 1;
    for (int j = 0; j < m->nkeyspecs; j++)
        if (!(m->keyspecs[j].flags & KF_NOT_KEY)) return 1;
    return 0;
}

int cmdmeta_get_keys(const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
                     struct cmd_key *out, int max)
{
    int has_spec = 0, varflags = 0;
    for (int j = 0; j < m->nkeyspecs; j++) {
        if (!(m->keyspecs[j].flags & KF_NOT_KEY)) has_spec = 1;
        if (m->keyspecs[j].flags & KF_VARIABLE_FLAGS) varflags = 1;
    }
    if (has_spec && !varflags) {
        int n = keys_from_specs(m, argc, argv, lens, out, max);
        if (n >= 0) return n;
    }
    if (!m->sub && m->spec->id == CMD_SET) return keys_set(argc, argv, lens, out, max);
    if (!m->sub && (m->spec->id == CMD_SORT || m->spec->id == CMD_SORT_RO))
        return keys_sort(argc, argv, lens, out, max);
    if (!m->sub && m->spec->id == CMD_BITFIELD) return keys_bitfield(argc, argv, lens, out, max);
    if (m->movablekeys) return keys_numkeys_fallback(m, argc, argv, lens, out, max);
    return 0;
}
