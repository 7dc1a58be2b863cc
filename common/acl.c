/* acl: users, the rule parser, the permission checker, rule descriptions,
 * the ACL LOG and the ACL file, with Redis 7.0's semantics and texts.
 * See acl.h. */
#include "acl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resp.h"
#include "sha256.h"
#include "subcmd.h"
#include "util.h"

const char acl_err_wrongpass[] = "WRONGPASS invalid username-password pair or user is disabled.";

/* Rule errors, as Redis's ACLSetUserStringError reports each errno. */
enum {
    E_OK = 0, E_NOENT, E_INVAL, E_EXIST, E_ISDIR, E_NODEV, E_BADMSG, E_CHILD,
};
static const char *rule_error(int e)
{
    switch (e) {
    case E_NOENT: return "Unknown command or category name in ACL";
    case E_INVAL: return "Syntax error";
    case E_EXIST:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
               "effect. Try 'resetkeys' to start with an empty list of patterns";
    case E_ISDIR:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have "
               "any effect. Try 'resetchannels' to start with an empty list of channels";
    case E_NODEV: return "The password you are trying to remove from the user does not exist";
    case E_BADMSG:
        return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
               "characters";
    case E_CHILD: return "Allowing first-arg of a subcommand is not supported";
    default: return "Unknown error";
    }
}

/* ---------------- command indexes ---------------- */

static const struct subcmd *sub_base(size_t *n)
{
    size_t dummy;
    return subcmd_all(n ? n : &dummy);
}

int acl_cmd_count(void)
{
    size_t n;
    sub_base(&n);
    return CMD__COUNT + (int)n;
}

int acl_cmd_index(const struct cmd_meta *m)
{
    if (!m->sub) return (int)m->spec->id;
    return CMD__COUNT + (int)(m->sub - sub_base(NULL));
}

static int nbytes(void) { return (acl_cmd_count() + 7) / 8; }

static int bit_get(const struct acl_sel *s, int i) { return (s->bits[i / 8] >> (i % 8)) & 1; }
static void bit_set(struct acl_sel *s, int i, int v)
{
    if (v) s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
    else s->bits[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* ---------------- selectors ---------------- */

static void pats_free(struct acl_pat *p, int n)
{
    for (int i = 0; i < n; i++) free(p[i].s);
    free(p);
}

static void firstargs_reset(struct acl_sel *s, int i)
{
    if (!s->firstargs || !s->firstargs[i]) return;
    for (char **f = s->firstargs[i]; *f; f++) free(*f);
    free(s->firstargs[i]);
    s->firstargs[i] = NULL;
}

static void firstargs_reset_all(struct acl_sel *s)
{
    if (!s->firstargs) return;
    int n = acl_cmd_count();
    for (int i = 0; i < n; i++) firstargs_reset(s, i);
    free(s->firstargs);
    s->firstargs = NULL;
}

static void sel_init(struct acl_sel *s, unsigned flags)
{
    memset(s, 0, sizeof *s);
    s->flags = flags;
    s->bits = xcalloc((size_t)nbytes(), 1);
}

static void sel_free(struct acl_sel *s)
{
    free(s->bits);
    firstargs_reset_all(s);
    pats_free(s->keys, s->nkeys);
    pats_free(s->chans, s->nchans);
}

static struct acl_pat *pats_copy(const struct acl_pat *p, int n)
{
    if (!n) return NULL;
    struct acl_pat *c = xmalloc(sizeof *c * (size_t)n);
    for (int i = 0; i < n; i++) {
        c[i] = p[i];
        c[i].s = xmemdup(p[i].s, p[i].len);
    }
    return c;
}

static void sel_copy(struct acl_sel *d, const struct acl_sel *s)
{
    d->flags = s->flags;
    d->bits = xmalloc((size_t)nbytes());
    memcpy(d->bits, s->bits, (size_t)nbytes());
    d->firstargs = NULL;
    if (s->firstargs) {
        int n = acl_cmd_count();
        d->firstargs = xcalloc((size_t)n, sizeof *d->firstargs);
        for (int i = 0; i < n; i++) {
            if (!s->firstargs[i]) continue;
            int k = 0;
            while (s->firstargs[i][k]) k++;
            d->firstargs[i] = xcalloc((size_t)k + 1, sizeof(char *));
            for (int j = 0; j < k; j++) d->firstargs[i][j] = xstrdup(s->firstargs[i][j]);
        }
    }
    d->keys = pats_copy(s->keys, s->nkeys);
    d->nkeys = s->nkeys;
    d->chans = pats_copy(s->chans, s->nchans);
    d->nchans = s->nchans;
}

/* Redis's ACLChangeSelectorPerm: the command's bit, its first-args reset,
 * and for a container every subcommand's bit. */
static void change_perm(struct acl_sel *s, const struct cmd_meta *m, int allow)
{
    int i = acl_cmd_index(m);
    bit_set(s, i, allow);
    firstargs_reset(s, i);
    for (int j = 0; j < m->nsubs; j++) bit_set(s, acl_cmd_index(m->subs[j]), allow);
}

static void set_category(struct acl_sel *s, unsigned cat, int allow)
{
    for (int id = 0; id < CMD__COUNT; id++) {
        const struct cmd_meta *m = cmdmeta_get((enum cmd_id)id);
        if (m->acl & cat) change_perm(s, m, allow);
        for (int j = 0; j < m->nsubs; j++)
            if (m->subs[j]->acl & cat) change_perm(s, m->subs[j], allow);
    }
}

static void add_firstarg(struct acl_sel *s, int i, const char *arg, size_t len)
{
    if (!s->firstargs) s->firstargs = xcalloc((size_t)acl_cmd_count(), sizeof *s->firstargs);
    int k = 0;
    if (s->firstargs[i])
        for (; s->firstargs[i][k]; k++)
            if (str_eq_nocase(arg, len, s->firstargs[i][k]) && strlen(s->firstargs[i][k]) == len) return;
    s->firstargs[i] = xrealloc(s->firstargs[i], sizeof(char *) * ((size_t)k + 2));
    char *c = xmemdup(arg, len);
    for (size_t j = 0; j < len; j++)
        if (c[j] >= 'A' && c[j] <= 'Z') c[j] = (char)(c[j] + 32);
    s->firstargs[i][k] = c;
    s->firstargs[i][k + 1] = NULL;
}

static void pat_add(struct acl_pat **v, int *n, const char *p, size_t len, unsigned perm)
{
    for (int i = 0; i < *n; i++)
        if ((*v)[i].len == len && !memcmp((*v)[i].s, p, len)) {
            (*v)[i].perm |= perm;
            return;
        }
    *v = xrealloc(*v, sizeof **v * ((size_t)*n + 1));
    (*v)[*n].s = xmemdup(p, len);
    (*v)[*n].len = len;
    (*v)[*n].perm = perm;
    (*n)++;
}

static int is_op(const char *op, size_t len, const char *lit)
{
    return str_eq_nocase(op, len, lit);
}

/* Redis's ACLSetSelector: one rule that a selector takes. */
static int sel_apply(struct acl_sel *s, const char *op, size_t len)
{
    if (is_op(op, len, "allkeys") || (len == 2 && !memcmp(op, "~*", 2))) {
        s->flags |= ACL_SEL_ALLKEYS;
        pats_free(s->keys, s->nkeys);
        s->keys = NULL;
        s->nkeys = 0;
    } else if (is_op(op, len, "resetkeys")) {
        s->flags &= ~ACL_SEL_ALLKEYS;
        pats_free(s->keys, s->nkeys);
        s->keys = NULL;
        s->nkeys = 0;
    } else if (is_op(op, len, "allchannels") || (len == 2 && !memcmp(op, "&*", 2))) {
        s->flags |= ACL_SEL_ALLCHANNELS;
        pats_free(s->chans, s->nchans);
        s->chans = NULL;
        s->nchans = 0;
    } else if (is_op(op, len, "resetchannels")) {
        s->flags &= ~ACL_SEL_ALLCHANNELS;
        pats_free(s->chans, s->nchans);
        s->chans = NULL;
        s->nchans = 0;
    } else if (is_op(op, len, "allcommands") || is_op(op, len, "+@all")) {
        memset(s->bits, 0xff, (size_t)nbytes());
        s->flags |= ACL_SEL_FUTURE;
        firstargs_reset_all(s);
    } else if (is_op(op, len, "nocommands") || is_op(op, len, "-@all")) {
        memset(s->bits, 0, (size_t)nbytes());
        s->flags &= ~ACL_SEL_FUTURE;
        firstargs_reset_all(s);
    } else if (len >= 1 && (op[0] == '~' || op[0] == '%')) {
        if (s->flags & ACL_SEL_ALLKEYS) return E_EXIST;
        unsigned perm = 0;
        size_t off = 1;
        if (op[0] == '%') {
            for (; off < len; off++) {
                char ch = op[off];
                if ((ch == 'R' || ch == 'r') && !(perm & ACL_PERM_READ)) perm |= ACL_PERM_READ;
                else if ((ch == 'W' || ch == 'w') && !(perm & ACL_PERM_WRITE)) perm |= ACL_PERM_WRITE;
                else if (ch == '~') {
                    off++;
                    break;
                } else return E_INVAL;
            }
        } else {
            perm = ACL_PERM_ALL;
        }
        if (!perm) return E_INVAL;
        if (len - off == 1 && op[off] == '*' && perm == ACL_PERM_ALL) {
            s->flags |= ACL_SEL_ALLKEYS;
            pats_free(s->keys, s->nkeys);
            s->keys = NULL;
            s->nkeys = 0;
        } else {
            pat_add(&s->keys, &s->nkeys, op + off, len - off, perm);
        }
    } else if (len >= 1 && op[0] == '&') {
        if (s->flags & ACL_SEL_ALLCHANNELS) return E_ISDIR;
        pat_add(&s->chans, &s->nchans, op + 1, len - 1, 0);
    } else if (len >= 2 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
        unsigned cat = cmdmeta_acl_lookup(op + 2, len - 2);
        if (!cat) return E_NOENT;
        set_category(s, cat, op[0] == '+');
    } else if (len >= 2 && op[0] == '+') {
        const char *bar = NULL;
        for (size_t i = len; i > 1; i--)
            if (op[i - 1] == '|') {
                bar = op + i - 1;
                break;
            }
        if (!bar) {
            const struct cmd_meta *m = cmdmeta_lookup(op + 1, len - 1);
            if (!m) return E_NOENT;
            change_perm(s, m, 1);
            return E_OK;
        }
        /* cmd|sub: the container part must be a command; a subcommand of
         * a container gets its own bit; any other command a first-arg. */
        const struct cmd_meta *parent = cmdmeta_lookup(op + 1, (size_t)(bar - op - 1));
        if (!parent) return E_NOENT;
        if (parent->sub) return E_CHILD;
        size_t slen = len - (size_t)(bar - op) - 1;
        if (!slen) return E_INVAL;
        if (parent->nsubs) {
            const struct cmd_meta *m = cmdmeta_lookup(op + 1, len - 1);
            if (!m) return E_NOENT;
            change_perm(s, m, 1);
        } else {
            add_firstarg(s, acl_cmd_index(parent), bar + 1, slen);
        }
    } else if (len >= 2 && op[0] == '-') {
        const struct cmd_meta *m = cmdmeta_lookup(op + 1, len - 1);
        if (!m) return E_NOENT;
        change_perm(s, m, 0);
    } else {
        return E_INVAL;
    }
    return E_OK;
}

/* ---------------- users ---------------- */

static struct acl_user *user_new(const char *name, size_t len)
{
    struct acl_user *u = xcalloc(1, sizeof *u);
    u->name = xmemdup(name, len);
    u->flags = ACL_USER_OFF;
    u->sels = xcalloc(1, sizeof *u->sels);
    u->nsels = 1;
    /* Redis 7.0: a new user is "off resetchannels -@all" (acl-pubsub-default
     * resetchannels) with no keys and no passwords. */
    sel_init(&u->sels[0], ACL_SEL_ROOT);
    return u;
}

static void user_clear(struct acl_user *u)
{
    for (int i = 0; i < u->npass; i++) free(u->pass[i]);
    free(u->pass);
    u->pass = NULL;
    u->npass = 0;
    for (int i = 0; i < u->nsels; i++) sel_free(&u->sels[i]);
    free(u->sels);
    u->sels = NULL;
    u->nsels = 0;
}

static void user_free(struct acl_user *u)
{
    if (!u) return;
    user_clear(u);
    free(u->name);
    free(u);
}

/* Copy the rules of s into d (d's name and prog stay). */
static void user_copy_rules(struct acl_user *d, const struct acl_user *s)
{
    user_clear(d);
    d->flags = s->flags;
    d->npass = s->npass;
    d->pass = s->npass ? xmalloc(sizeof(char *) * (size_t)s->npass) : NULL;
    for (int i = 0; i < s->npass; i++) d->pass[i] = xstrdup(s->pass[i]);
    d->nsels = s->nsels;
    d->sels = xcalloc((size_t)s->nsels, sizeof *d->sels);
    for (int i = 0; i < s->nsels; i++) sel_copy(&d->sels[i], &s->sels[i]);
}

static void pass_add(struct acl_user *u, const char *hex)
{
    for (int i = 0; i < u->npass; i++)
        if (!strcmp(u->pass[i], hex)) return;
    u->pass = xrealloc(u->pass, sizeof(char *) * ((size_t)u->npass + 1));
    u->pass[u->npass++] = xstrdup(hex);
}

static int pass_del(struct acl_user *u, const char *hex)
{
    for (int i = 0; i < u->npass; i++)
        if (!strcmp(u->pass[i], hex)) {
            free(u->pass[i]);
            memmove(&u->pass[i], &u->pass[i + 1], sizeof(char *) * (size_t)(u->npass - i - 1));
            u->npass--;
            return 0;
        }
    return -1;
}

static void pass_reset(struct acl_user *u)
{
    for (int i = 0; i < u->npass; i++) free(u->pass[i]);
    free(u->pass);
    u->pass = NULL;
    u->npass = 0;
}

static int hash_ok(const char *h, size_t len)
{
    if (len != SHA256_HEX_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return 0;
    return 1;
}

static void clear_selectors(struct acl_user *u)
{
    for (int i = 1; i < u->nsels; i++) sel_free(&u->sels[i]);
    u->nsels = 1;
}

/* Redis's ACLSetUser: one rule of a user. */
static int user_apply(struct acl_user *u, const char *op, size_t len)
{
    if (is_op(op, len, "on")) {
        u->flags |= ACL_USER_ON;
        u->flags &= ~ACL_USER_OFF;
    } else if (is_op(op, len, "off")) {
        u->flags |= ACL_USER_OFF;
        u->flags &= ~ACL_USER_ON;
    } else if (is_op(op, len, "skip-sanitize-payload")) {
        u->flags |= ACL_USER_SKIP_SANITIZE;
        u->flags &= ~ACL_USER_SANITIZE;
    } else if (is_op(op, len, "sanitize-payload")) {
        u->flags &= ~ACL_USER_SKIP_SANITIZE;
        u->flags |= ACL_USER_SANITIZE;
    } else if (is_op(op, len, "nopass")) {
        u->flags |= ACL_USER_NOPASS;
        pass_reset(u);
    } else if (is_op(op, len, "resetpass")) {
        u->flags &= ~ACL_USER_NOPASS;
        pass_reset(u);
    } else if (len >= 1 && (op[0] == '>' || op[0] == '#')) {
        char hex[SHA256_HEX_LEN + 1];
        if (op[0] == '>') {
            sha256_hex(op + 1, len - 1, hex);
        } else {
            if (!hash_ok(op + 1, len - 1)) return E_BADMSG;
            memcpy(hex, op + 1, SHA256_HEX_LEN);
            hex[SHA256_HEX_LEN] = '\0';
        }
        pass_add(u, hex);
        u->flags &= ~ACL_USER_NOPASS;
    } else if (len >= 1 && (op[0] == '<' || op[0] == '!')) {
        char hex[SHA256_HEX_LEN + 1];
        if (op[0] == '<') {
            sha256_hex(op + 1, len - 1, hex);
        } else {
            if (!hash_ok(op + 1, len - 1)) return E_BADMSG;
            memcpy(hex, op + 1, SHA256_HEX_LEN);
            hex[SHA256_HEX_LEN] = '\0';
        }
        if (pass_del(u, hex) < 0) return E_NODEV;
    } else if (len >= 2 && op[0] == '(' && op[len - 1] == ')') {
        struct acl_sel s;
        sel_init(&s, 0);
        /* The rules inside, split on spaces. */
        size_t i = 1;
        while (i < len - 1) {
            while (i < len - 1 && op[i] == ' ') i++;
            size_t st = i;
            while (i < len - 1 && op[i] != ' ') i++;
            if (i > st) {
                int e = sel_apply(&s, op + st, i - st);
                if (e) {
                    sel_free(&s);
                    return e;
                }
            }
        }
        u->sels = xrealloc(u->sels, sizeof *u->sels * ((size_t)u->nsels + 1));
        u->sels[u->nsels++] = s;
    } else if (is_op(op, len, "clearselectors")) {
        clear_selectors(u);
    } else if (is_op(op, len, "reset")) {
        /* resetpass resetkeys resetchannels off clearselectors -@all,
         * and sanitize-payload, as Redis 7.0's "reset". */
        int e = E_OK;
        e = e ? e : user_apply(u, "resetpass", 9);
        e = e ? e : user_apply(u, "resetkeys", 9);
        e = e ? e : user_apply(u, "resetchannels", 13);
        e = e ? e : user_apply(u, "off", 3);
        e = e ? e : user_apply(u, "sanitize-payload", 16);
        e = e ? e : user_apply(u, "clearselectors", 14);
        e = e ? e : user_apply(u, "-@all", 5);
        return e;
    } else {
        return sel_apply(&u->sels[0], op, len);
    }
    return E_OK;
}

/* Redis's ACLMergeSelectorArguments: arguments from one starting with
 * '(' to one ending with ')' form one selector.  Returns the merged
 * rules (owned, *n of them, lens in *lensp) or NULL with the error in
 * err. */
static char **merge_selector_args(int argc, char **argv, const size_t *lens, int *n, size_t **lensp, buf *err)
{
    char **out = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t *ol = xcalloc((size_t)argc + 1, sizeof(size_t));
    int k = 0;
    buf sel;
    buf_init(&sel);
    int open = 0, start = 0;
    for (int i = 0; i < argc; i++) {
        if (!open && lens[i] >= 1 && argv[i][0] == '(' && !(lens[i] >= 2 && argv[i][lens[i] - 1] == ')')) {
            open = 1;
            start = i;
            buf_clear(&sel);
            buf_append(&sel, argv[i], lens[i]);
            continue;
        }
        if (open) {
            buf_append_char(&sel, ' ');
            buf_append(&sel, argv[i], lens[i]);
            if (lens[i] >= 1 && argv[i][lens[i] - 1] == ')') {
                open = 0;
                out[k] = xmemdup(sel.data, sel.len);
                ol[k++] = sel.len;
            }
            continue;
        }
        out[k] = xmemdup(argv[i], lens[i]);
        ol[k++] = lens[i];
    }
    if (open) {
        buf_printf(err, "Unmatched parenthesis in acl selector starting at '%.*s'.", (int)lens[start], argv[start]);
        for (int i = 0; i < k; i++) free(out[i]);
        free(out);
        free(ol);
        buf_free(&sel);
        return NULL;
    }
    buf_free(&sel);
    *n = k;
    *lensp = ol;
    return out;
}

static int name_has_spaces(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == ' ' || s[i] == '\0' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') return 1;
    return 0;
}

struct acl_user *acl_user_get(const struct acl *a, const char *name, size_t len)
{
    int lo = 0, hi = a->nusers - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char *n = a->users[mid]->name;
        size_t nl = strlen(n);
        int c = memcmp(n, name, nl < len ? nl : len);
        if (!c) c = nl < len ? -1 : nl > len ? 1 : 0;
        if (!c) return a->users[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

struct acl_user *acl_default_user(const struct acl *a)
{
    return acl_user_get(a, "default", 7);
}

static void users_insert(struct acl *a, struct acl_user *u)
{
    size_t len = strlen(u->name);
    int i = 0;
    while (i < a->nusers) {
        const char *n = a->users[i]->name;
        size_t nl = strlen(n);
        int c = memcmp(n, u->name, nl < len ? nl : len);
        if (!c) c = nl < len ? -1 : 1;
        if (c > 0) break;
        i++;
    }
    a->users = xrealloc(a->users, sizeof *a->users * ((size_t)a->nusers + 1));
    memmove(&a->users[i + 1], &a->users[i], sizeof *a->users * (size_t)(a->nusers - i));
    a->users[i] = u;
    a->nusers++;
}

static void users_remove(struct acl *a, struct acl_user *u)
{
    for (int i = 0; i < a->nusers; i++)
        if (a->users[i] == u) {
            memmove(&a->users[i], &a->users[i + 1], sizeof *a->users * (size_t)(a->nusers - i - 1));
            a->nusers--;
            return;
        }
}

/* Apply rules (already merged) to a scratch copy of u; 0, or -1 with the
 * error in err. */
static int apply_rules(struct acl_user *scratch, int n, char **rules, const size_t *lens, buf *err)
{
    for (int i = 0; i < n; i++) {
        int e = user_apply(scratch, rules[i], lens[i]);
        if (e) {
            buf_printf(err, "Error in ACL SETUSER modifier '%.*s': %s", (int)lens[i], rules[i], rule_error(e));
            return -1;
        }
    }
    return 0;
}

int acl_setuser(struct acl *a, const char *name, size_t nlen, int argc, char **argv, const size_t *lens, buf *err)
{
    if (name_has_spaces(name, nlen)) {
        buf_append_str(err, "Usernames can't contain spaces or null characters");
        return -1;
    }
    int n;
    size_t *ml;
    char **merged = merge_selector_args(argc, argv, lens, &n, &ml, err);
    if (!merged) return -1;
    struct acl_user *u = acl_user_get(a, name, nlen);
    struct acl_user *scratch = user_new(name, nlen);
    if (u) user_copy_rules(scratch, u);
    int rc = apply_rules(scratch, n, merged, ml, err);
    for (int i = 0; i < n; i++) free(merged[i]);
    free(merged);
    free(ml);
    if (rc < 0) {
        user_free(scratch);
        return -1;
    }
    if (u) {
        user_copy_rules(u, scratch);
        user_free(scratch);
        if (a->user_changed) a->user_changed(a->hook_arg, u);
    } else {
        users_insert(a, scratch);
    }
    return 0;
}

int acl_deluser(struct acl *a, const char *name, size_t len)
{
    struct acl_user *u = acl_user_get(a, name, len);
    if (!u) return 0;
    if (a->user_gone) a->user_gone(a->hook_arg, u);
    users_remove(a, u);
    user_free(u);
    return 1;
}

static void set_default_rules(struct acl_user *u)
{
    static const char *rules[] = { "+@all", "~*", "&*", "on", "nopass" };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) user_apply(u, rules[i], strlen(rules[i]));
}

struct acl *acl_create(void)
{
    struct acl *a = xcalloc(1, sizeof *a);
    a->log_max = 128;
    struct acl_user *d = user_new("default", 7);
    set_default_rules(d);
    users_insert(a, d);
    return a;
}

void acl_destroy(struct acl *a)
{
    if (!a) return;
    for (int i = 0; i < a->nusers; i++) user_free(a->users[i]);
    free(a->users);
    acl_log_reset(a);
    free(a->log);
    free(a->aclfile);
    free(a);
}

void acl_set_requirepass(struct acl *a, const char *pass)
{
    struct acl_user *d = acl_default_user(a);
    user_apply(d, "resetpass", 9);
    if (!pass || !*pass) {
        user_apply(d, "nopass", 6);
    } else {
        char hex[SHA256_HEX_LEN + 1];
        sha256_hex(pass, strlen(pass), hex);
        pass_add(d, hex);
    }
}

int acl_auth(const struct acl_user *u, const char *pass, size_t len)
{
    if (!u || !(u->flags & ACL_USER_ON)) return 0;
    if (u->flags & ACL_USER_NOPASS) return 1;
    char hex[SHA256_HEX_LEN + 1];
    sha256_hex(pass, len, hex);
    int ok = 0;
    for (int i = 0; i < u->npass; i++) {
        unsigned diff = 0;
        for (int j = 0; j < SHA256_HEX_LEN; j++) diff |= (unsigned char)(hex[j] ^ u->pass[i][j]);
        ok |= diff == 0;
    }
    return ok;
}

int acl_default_open(const struct acl *a)
{
    const struct acl_user *d = acl_default_user(a);
    return d && (d->flags & ACL_USER_ON) && (d->flags & ACL_USER_NOPASS);
}

int acl_has_auth(const struct acl *a)
{
    for (int i = 0; i < a->nusers; i++) {
        const struct acl_user *u = a->users[i];
        if (strcmp(u->name, "default") != 0) {
            if (u->flags & ACL_USER_ON) return 1;
            continue;
        }
        if (!(u->flags & ACL_USER_ON) || !(u->flags & ACL_USER_NOPASS)) return 1;
    }
    return 0;
}

/* ---------------- checks ---------------- */

static int key_ok(const struct acl_sel *s, const char *key, size_t len, unsigned kflags)
{
    unsigned need = 0;
    if (kflags & KF_ACCESS) need |= ACL_PERM_READ;
    if (kflags & (KF_INSERT | KF_DELETE | KF_UPDATE)) need |= ACL_PERM_WRITE;
    for (int i = 0; i < s->nkeys; i++) {
        if ((s->keys[i].perm & need) != need) continue;
        if (glob_match(s->keys[i].s, s->keys[i].len, key, len, 0)) return 1;
    }
    return 0;
}

static int chan_ok(const struct acl_sel *s, const char *ch, size_t len, int is_pattern)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) return 1;
    for (int i = 0; i < s->nchans; i++) {
        if (is_pattern) {
            if (s->chans[i].len == len && !memcmp(s->chans[i].s, ch, len)) return 1;
        } else if (glob_match(s->chans[i].s, s->chans[i].len, ch, len, 0)) {
            return 1;
        }
    }
    return 0;
}

/* Channel arguments of the commands that publish or subscribe (Redis's
 * getChannelsFromCommand, the CMD_CHANNEL_PUBLISH/SUBSCRIBE ones):
 * returns the first channel index and sets *last and *pattern; 0 when
 * the command has none. */
static int channel_args(const struct cmd_meta *m, int argc, int *last, int *pattern)
{
    if (m->sub) return 0;
    enum cmd_id id = m->spec->id;  /* (Strata has no sharded SPUBLISH/SSUBSCRIBE) */
    *pattern = 0;
    if (id == CMD_PUBLISH) {
        *last = argc >= 2 ? 1 : 0;
        return argc >= 2 ? 1 : 0;
    }
    if (id == CMD_SUBSCRIBE || id == CMD_PSUBSCRIBE) {
        *pattern = id == CMD_PSUBSCRIBE;
        *last = argc - 1;
        return argc >= 2 ? 1 : 0;
    }
    return 0;
}

static int sel_check(const struct acl_sel *s, const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
                     int *errpos)
{
    int idx = acl_cmd_index(m);
    if (!(m->spec->flags & CF_NOAUTH) && !bit_get(s, idx)) {
        /* Allowed only with one of its first-args? */
        if (argc < 2 || !s->firstargs || !s->firstargs[idx]) return ACL_DENIED_CMD;
        int a = m->sub ? 2 : 1;
        if (a >= argc) return ACL_DENIED_CMD;
        char **f = s->firstargs[idx];
        for (; *f; f++)
            if (strlen(*f) == lens[a] && str_eq_nocase(argv[a], lens[a], *f)) break;
        if (!*f) return ACL_DENIED_CMD;
    }
    if (!(s->flags & ACL_SEL_ALLKEYS) && cmdmeta_has_keys(m)) {
        struct cmd_key small[16], *keys = small;
        int nk = cmdmeta_get_keys(m, argc, argv, lens, small, 16);
        if (nk > 16) {
            keys = xmalloc(sizeof *keys * (size_t)nk);
            cmdmeta_get_keys(m, argc, argv, lens, keys, nk);
        }
        for (int j = 0; j < nk; j++) {
            int p = keys[j].pos;
            if (!key_ok(s, argv[p], lens[p], keys[j].flags)) {
                *errpos = p;
                if (keys != small) free(keys);
                return ACL_DENIED_KEY;
            }
        }
        if (keys != small) free(keys);
    }
    int last, pattern;
    int first = channel_args(m, argc, &last, &pattern);
    if (first && !(s->flags & ACL_SEL_ALLCHANNELS)) {
        for (int j = first; j <= last; j++)
            if (!chan_ok(s, argv[j], lens[j], pattern)) {
                *errpos = j;
                return ACL_DENIED_CHANNEL;
            }
    }
    return ACL_OK;
}

int acl_check(const struct acl_user *u, const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
              int *errpos)
{
    int relevant = ACL_DENIED_CMD, last = 0;
    *errpos = 0;
    if (!u) return ACL_OK;
    for (int i = 0; i < u->nsels; i++) {
        int pos = 0;
        int r = sel_check(&u->sels[i], m, argc, argv, lens, &pos);
        if (r == ACL_OK) return ACL_OK;
        if (r > relevant || (r == relevant && pos > last)) {
            relevant = r;
            last = pos;
        }
    }
    *errpos = last;
    return relevant;
}

int acl_check_channel(const struct acl_user *u, const char *ch, size_t len, int is_pattern)
{
    if (!u) return 1;
    for (int i = 0; i < u->nsels; i++)
        if (chan_ok(&u->sels[i], ch, len, is_pattern)) return 1;
    return 0;
}

void acl_add_noperm(buf *out, int reason, const struct cmd_meta *m)
{
    switch (reason) {
    case ACL_DENIED_CMD:
        resp_add_errorf(out, "NOPERM this user has no permissions to run the '%s' command", m->fullname);
        break;
    case ACL_DENIED_KEY:
        resp_add_error(out, "NOPERM this user has no permissions to access one of the keys used as arguments");
        break;
    case ACL_DENIED_CHANNEL:
        resp_add_error(out, "NOPERM this user has no permissions to access one of the channels used as arguments");
        break;
    default:
        resp_add_error(out, "NOPERM no permission");
        break;
    }
}

/* ---------------- descriptions ---------------- */

static void count_category(const struct acl_sel *s, unsigned cat, unsigned long *on, unsigned long *off)
{
    *on = *off = 0;
    for (int id = 0; id < CMD__COUNT; id++) {
        const struct cmd_meta *m = cmdmeta_get((enum cmd_id)id);
        const struct cmd_meta *all[1] = { m };
        for (int k = -1; k < m->nsubs; k++) {
            const struct cmd_meta *x = k < 0 ? all[0] : m->subs[k];
            if (!(x->acl & cat)) continue;
            if (bit_get(s, acl_cmd_index(x))) (*on)++;
            else (*off)++;
        }
    }
}

static void single_rule(const struct acl_sel *s, struct acl_sel *fake, const struct cmd_meta *m, buf *out)
{
    int i = acl_cmd_index(m);
    int ub = bit_get(s, i), fb = bit_get(fake, i);
    if (ub != fb) {
        buf_printf(out, "%c%s ", ub ? '+' : '-', m->fullname);
        change_perm(fake, m, ub);
    }
    for (int j = 0; j < m->nsubs; j++) single_rule(s, fake, m->subs[j], out);
    if (!ub && s->firstargs && s->firstargs[i])
        for (char **f = s->firstargs[i]; *f; f++) buf_printf(out, "+%s|%s ", m->fullname, *f);
}

/* Redis 7.0's ACLDescribeSelectorCommandRules: start from +@all or -@all
 * (whether future commands are allowed), add each category whose
 * commands are mostly allowed (or remove each mostly refused), then the
 * single commands that still differ, then the first-args.  Redis walks
 * its commands in hash order; Strata in table order. */
void acl_describe_rules(const struct acl_sel *s, buf *out)
{
    size_t start = out->len;
    struct acl_sel fake;
    sel_init(&fake, 0);
    int additive = !(s->flags & ACL_SEL_FUTURE);
    buf_append_str(out, additive ? "-@all " : "+@all ");
    sel_apply(&fake, additive ? "-@all" : "+@all", 5);
    for (int c = 0; c < ACI__COUNT; c++) {
        unsigned long on, off;
        count_category(s, 1u << c, &on, &off);
        if ((additive && on > off) || (!additive && off > on)) {
            buf_printf(out, "%c@%s ", additive ? '+' : '-', cmdmeta_acl_name(c));
            set_category(&fake, 1u << c, additive);
        }
    }
    for (int id = 0; id < CMD__COUNT; id++) single_rule(s, &fake, cmdmeta_get((enum cmd_id)id), out);
    sel_free(&fake);
    if (out->len > start) out->len--; /* the final space */
}

static void describe_pat(const struct acl_pat *p, buf *out)
{
    if (p->perm == ACL_PERM_ALL) {
        buf_append_char(out, '~');
    } else {
        buf_append_char(out, '%');
        if (p->perm & ACL_PERM_READ) buf_append_char(out, 'R');
        if (p->perm & ACL_PERM_WRITE) buf_append_char(out, 'W');
        buf_append_char(out, '~');
    }
    buf_append(out, p->s, p->len);
}

static void describe_selector(const struct acl_sel *s, buf *out)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        buf_append_str(out, "~* ");
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            describe_pat(&s->keys[i], out);
            buf_append_char(out, ' ');
        }
    }
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        buf_append_str(out, "&* ");
    } else {
        buf_append_str(out, "resetchannels ");
        for (int i = 0; i < s->nchans; i++) {
            buf_append_char(out, '&');
            buf_append(out, s->chans[i].s, s->chans[i].len);
            buf_append_char(out, ' ');
        }
    }
    acl_describe_rules(s, out);
}

static const struct { unsigned flag; const char *name; } user_flags[] = {
    { ACL_USER_ON, "on" }, { ACL_USER_OFF, "off" }, { ACL_USER_NOPASS, "nopass" },
    { ACL_USER_SKIP_SANITIZE, "skip-sanitize-payload" }, { ACL_USER_SANITIZE, "sanitize-payload" },
};
#define NUSER_FLAGS (sizeof user_flags / sizeof user_flags[0])

void acl_describe_user(const struct acl_user *u, buf *out)
{
    for (size_t i = 0; i < NUSER_FLAGS; i++)
        if (u->flags & user_flags[i].flag) buf_printf(out, "%s ", user_flags[i].name);
    for (int i = 0; i < u->npass; i++) buf_printf(out, "#%s ", u->pass[i]);
    for (int i = 0; i < u->nsels; i++) {
        if (i) buf_append_str(out, " (");
        describe_selector(&u->sels[i], out);
        if (i) buf_append_char(out, ')');
    }
}

/* ---------------- ACL LOG ---------------- */

static void log_entry_free(struct acl_log_entry *e)
{
    free(e->object);
    free(e->username);
    free(e->cinfo);
}

void acl_log_reset(struct acl *a)
{
    for (int i = 0; i < a->nlog; i++) log_entry_free(&a->log[i]);
    a->nlog = 0;
}

void acl_log_add(struct acl *a, int reason, int context, const char *object, size_t olen, const char *username,
                 size_t ulen, const char *cinfo)
{
    uint64_t now = now_ms();
    /* Redis looks at the 10 newest entries for one to count this in
     * (same reason, context, object and user, within 60 s). */
    for (int i = 0; i < a->nlog && i < 10; i++) {
        struct acl_log_entry *e = &a->log[i];
        uint64_t d = now > e->ctime_ms ? now - e->ctime_ms : e->ctime_ms - now;
        if (e->reason != reason || e->context != context || d > 60000) continue;
        if (strlen(e->object) != olen || memcmp(e->object, object, olen)) continue;
        if (strlen(e->username) != ulen || memcmp(e->username, username, ulen)) continue;
        struct acl_log_entry keep = *e;
        keep.count++;
        keep.ctime_ms = now;
        free(keep.cinfo);
        keep.cinfo = xstrdup(cinfo ? cinfo : "");
        memmove(&a->log[1], &a->log[0], sizeof *a->log * (size_t)i);
        a->log[0] = keep;
        return;
    }
    if (a->log_max <= 0) return;
    a->log = xrealloc(a->log, sizeof *a->log * ((size_t)a->nlog + 1));
    memmove(&a->log[1], &a->log[0], sizeof *a->log * (size_t)a->nlog);
    a->nlog++;
    struct acl_log_entry *e = &a->log[0];
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->object = xmemdup(object, olen);
    e->username = xmemdup(username, ulen);
    e->cinfo = xstrdup(cinfo ? cinfo : "");
    e->ctime_ms = now;
    while (a->nlog > a->log_max) log_entry_free(&a->log[--a->nlog]);
}

/* ---------------- the ACL file ---------------- */

/* Split a line on spaces and tabs (the ACL file has no quoting). */
static int split_words(char *line, char **w, size_t *wl, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        char *s = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        w[n] = s;
        wl[n++] = (size_t)(p - s);
    }
    return n;
}

int acl_load_file(struct acl *a, const char *path, buf *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        buf_printf(err, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return -1;
    }
    struct acl *tmp = xcalloc(1, sizeof *tmp);
    char line[65536];
    int lineno = 0;
    size_t err_start = err->len;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
        char *w[1024];
        size_t wl[1024];
        int n = split_words(line, w, wl, 1024);
        if (n == 0) continue;
        if (!(wl[0] == 4 && !memcmp(w[0], "user", 4)) || n < 2) {
            buf_printf(err, "%s:%d should start with user keyword. ", path, lineno);
            continue;
        }
        if (name_has_spaces(w[1], wl[1])) {
            buf_printf(err, "%s:%d: username '%.*s' contains invalid characters. ", path, lineno, (int)wl[1], w[1]);
            continue;
        }
        if (acl_user_get(tmp, w[1], wl[1])) {
            buf_printf(err, "%s:%d: Duplicate user '%.*s' found. ", path, lineno, (int)wl[1], w[1]);
            continue;
        }
        int nm;
        size_t *ml;
        buf e;
        buf_init(&e);
        char **merged = merge_selector_args(n - 2, w + 2, wl + 2, &nm, &ml, &e);
        if (!merged) {
            buf_printf(err, "%s:%d: %.*s. ", path, lineno, (int)e.len, e.data);
            buf_free(&e);
            continue;
        }
        struct acl_user *u = user_new(w[1], wl[1]);
        int bad = 0;
        for (int i = 0; i < nm && !bad; i++) {
            int r = user_apply(u, merged[i], ml[i]);
            if (r) {
                buf_printf(err, "%s:%d: %s. ", path, lineno, rule_error(r));
                bad = 1;
            }
        }
        for (int i = 0; i < nm; i++) free(merged[i]);
        free(merged);
        free(ml);
        buf_free(&e);
        if (bad) user_free(u);
        else users_insert(tmp, u);
    }
    fclose(f);
    if (err->len > err_start) {
        /* Redis ends the list of errors with "WARNING: ACL errors detected, no change to the previously active ACL rules was performed" */
        buf_append_str(err, "WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        acl_destroy(tmp);
        return -1;
    }
    /* Swap: every old user but default goes (its clients are closed);
     * default takes the file's rules, or its defaults. */
    struct acl_user *def = acl_default_user(a);
    for (int i = 0; i < a->nusers; i++) {
        struct acl_user *u = a->users[i];
        if (u == def) continue;
        if (a->user_gone) a->user_gone(a->hook_arg, u);
        user_free(u);
    }
    a->nusers = 0;
    struct acl_user *fdef = acl_user_get(tmp, "default", 7);
    if (fdef) {
        user_copy_rules(def, fdef);
        users_remove(tmp, fdef);
        user_free(fdef);
    } else {
        user_clear(def);
        def->sels = xcalloc(1, sizeof *def->sels);
        def->nsels = 1;
        sel_init(&def->sels[0], ACL_SEL_ROOT);
        def->flags = ACL_USER_OFF;
        set_default_rules(def);
    }
    users_insert(a, def);
    for (int i = 0; i < tmp->nusers; i++) users_insert(a, tmp->users[i]);
    tmp->nusers = 0;
    acl_destroy(tmp);
    if (a->user_changed) a->user_changed(a->hook_arg, def);
    return 0;
}

int acl_save_file(struct acl *a, const char *path, buf *err)
{
    buf o;
    buf_init(&o);
    for (int i = 0; i < a->nusers; i++) {
        buf_printf(&o, "user %s ", a->users[i]->name);
        acl_describe_user(a->users[i], &o);
        buf_append_char(&o, '\n');
    }
    size_t pl = strlen(path);
    char *tmp = xmalloc(pl + 32);
    snprintf(tmp, pl + 32, "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (!f) {
        buf_printf(err, "Opening temp ACL file for ACL SAVE: %s", strerror(errno));
    } else {
        int ok = fwrite(o.data, 1, o.len, f) == o.len;
        ok = fflush(f) == 0 && ok;
        ok = fsync(fileno(f)) == 0 && ok;
        ok = fclose(f) == 0 && ok;
        if (!ok) buf_printf(err, "Writing ACL file for ACL SAVE: %s", strerror(errno));
        else if (rename(tmp, path) < 0) buf_printf(err, "Renaming ACL file for ACL SAVE: %s", strerror(errno));
        else rc = 0;
        if (rc < 0) unlink(tmp);
    }
    free(tmp);
    buf_free(&o);
    return rc;
}
