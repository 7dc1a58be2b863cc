/* conf: typed settings from YAML and the command line (see conf.h).
 *
 * One table of conf_field drives everything: defaults, the YAML loader,
 * the command line, --help and CONFIG GET/SET.  Every value goes through
 * conf_set_one(), so a setting parses the same way wherever it comes from.
 *
 * YAML is read with libyaml's document API from memory: files are read
 * whole first, which lets a reader error (bad UTF-8, a NUL byte) be turned
 * into a line number by counting newlines up to libyaml's byte offset.
 * The document API resolves aliases into shared nodes (even cycles), so
 * the walkers here never recurse: they only look one mapping deep. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

#ifndef STRATA_VERSION
#define STRATA_VERSION "unknown"
#endif

#define CONF_MAX_FILE (16u << 20)
#define CONF_SHOW_BYTES 64
#define CONF_YAML_MAX_DEPTH 32   /* our schemas need 4 */

/* ---- messages ---- */

/* Append "[where: ]message\n" to errs (if any). */
static void conf_errf(buf *errs, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conf_errf(buf *errs, const char *where, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!errs) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where) buf_printf(errs, "%s: %s\n", where, msg);
    else buf_printf(errs, "%s\n", msg);
}

const char *conf_show(char *out, size_t outsize, const char *s, size_t len)
{
    size_t o = 0;
    if (outsize == 0) return out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Stop early enough that "\xNN" and "..." always fit. */
        if (i >= CONF_SHOW_BYTES || o + 8 >= outsize) {
            if (o + 4 <= outsize) { memcpy(out + o, "...", 3); o += 3; }
            break;
        }
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, outsize - o, "\\x%02x", c);
            o += 4;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- names and single values ---- */

/* Names match ignoring case, with '-' and '_' the same character. */
static int conf_name_char(char c)
{
    return c == '-' ? '_' : tolower((unsigned char)c);
}

static int conf_name_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = conf_name_char(*a), cb = conf_name_char(*b);
        if (ca != cb) return 0;
        if (ca == 0) return 1;
    }
}

const struct conf_field *conf_find(const struct conf_field *fields, const char *name)
{
    if (!fields || !name) return NULL;
    for (const struct conf_field *f = fields; f->name; f++)
        if (conf_name_eq(f->name, name)) return f;
    return NULL;
}

static void *conf_ptr(const struct conf_field *f, void *obj)
{
    return (char *)obj + f->offset;
}

static void conf_bounds(const struct conf_field *f, long long *lo, long long *hi)
{
    if (f->min == 0 && f->max == 0) {
        *lo = f->type == CONF_SIZE ? 0 : LLONG_MIN;
        *hi = LLONG_MAX;
    } else {
        *lo = f->min;
        *hi = f->max;
    }
}

/* "64mb" -> 67108864.  Returns 0, -1 if not a size, -2 on overflow. */
static int conf_parse_size(const char *s, long long *out)
{
    static const struct { const char *unit; long long mul; } units[] = {
        { "", 1 }, { "b", 1 },
        { "k", 1000LL }, { "kb", 1024LL },
        { "m", 1000LL * 1000 }, { "mb", 1024LL * 1024 },
        { "g", 1000LL * 1000 * 1000 }, { "gb", 1024LL * 1024 * 1024 },
    };
    size_t n = 0;
    long long v;
    while (s[n] >= '0' && s[n] <= '9') n++;
    if (n == 0) return -1;
    if (str2ll(s, n, &v) < 0) return n > 18 ? -2 : -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        const char *u = s + n;
        if (strlen(u) == strlen(units[i].unit) && str_eq_nocase(u, strlen(u), units[i].unit)) {
            if (v > LLONG_MAX / units[i].mul) return -2;
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

static int conf_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    size_t len = strlen(s);
    for (size_t i = 0; i < 4; i++) {
        if (str_eq_nocase(s, len, yes[i])) { *out = 1; return 0; }
        if (str_eq_nocase(s, len, no[i])) { *out = 0; return 0; }
    }
    return -1;
}

/* Parse `value` for field f and store it.  `label` names the setting in
 * messages ("port", "proxy.threads", "--port").  The field is unchanged
 * on error.  Returns 0 or -1. */
static int conf_set_one(const struct conf_field *f, void *obj, const char *label,
                        const char *value, const char *where, buf *errs)
{
    char shown[CONF_SHOW_SIZE];
    long long lo, hi, v;
    int r;
    conf_show(shown, sizeof shown, value, strlen(value));
    switch (f->type) {
    case CONF_INT:
        if (str2ll(value, strlen(value), &v) < 0) {
            conf_errf(errs, where, "%s: '%s' is not an integer", label, shown);
            return -1;
        }
        conf_bounds(f, &lo, &hi);
        if (v < lo || v > hi) {
            conf_errf(errs, where, "%s: value %lld out of range %lld..%lld", label, v, lo, hi);
            return -1;
        }
        *(long long *)conf_ptr(f, obj) = v;
        return 0;
    case CONF_SIZE:
        r = conf_parse_size(value, &v);
        if (r == -2) {
            conf_errf(errs, where, "%s: size '%s' is too large", label, shown);
            return -1;
        }
        if (r < 0) {
            conf_errf(errs, where,
                      "%s: '%s' is not a size (bytes, or a number with k, kb, m, mb, g or gb)",
                      label, shown);
            return -1;
        }
        conf_bounds(f, &lo, &hi);
        if (v < lo || v > hi) {
            conf_errf(errs, where, "%s: value %lld out of range %lld..%lld", label, v, lo, hi);
            return -1;
        }
        *(long long *)conf_ptr(f, obj) = v;
        return 0;
    case CONF_BOOL:
        if (conf_parse_bool(value, &r) < 0) {
            conf_errf(errs, where, "%s: '%s' is not a boolean (yes/no, true/false, on/off, 1/0)",
                      label, shown);
            return -1;
        }
        *(int *)conf_ptr(f, obj) = r;
        return 0;
    case CONF_ENUM:
        for (int i = 0; f->enum_names && f->enum_names[i]; i++) {
            if (str_eq_nocase(value, strlen(value), f->enum_names[i])) {
                *(int *)conf_ptr(f, obj) = i;
                return 0;
            }
        }
        {
            buf names;
            buf_init(&names);
            for (int i = 0; f->enum_names && f->enum_names[i]; i++)
                buf_printf(&names, "%s%s", i ? "|" : "", f->enum_names[i]);
            buf_append_char(&names, '\0');
            conf_errf(errs, where, "%s: '%s' is not one of %s", label, shown, names.data);
            buf_free(&names);
        }
        return -1;
    case CONF_STR: {
        /* The old string is freed only once the copy exists. */
        char **slot = conf_ptr(f, obj);
        char *copy = xstrdup(value);
        free(*slot);
        *slot = copy;
        return 0;
    }
    }
    conf_errf(errs, where, "%s: field has an unknown type", label);
    return -1;
}

int conf_set(const struct conf_field *fields, void *obj, const char *name,
             const char *value, const char *where, buf *errs)
{
    const struct conf_field *f = conf_find(fields, name);
    if (!f) {
        char shown[CONF_SHOW_SIZE];
        conf_errf(errs, where, "unknown key '%s'", conf_show(shown, sizeof shown, name, strlen(name)));
        return -2;
    }
    return conf_set_one(f, obj, f->name, value, where, errs);
}

int conf_get(const struct conf_field *fields, const void *obj, const char *name, buf *out)
{
    const struct conf_field *f = conf_find(fields, name);
    const void *p;
    if (!f) return -1;
    p = (const char *)obj + f->offset;
    switch (f->type) {
    case CONF_INT:
    case CONF_SIZE:
        buf_printf(out, "%lld", *(const long long *)p);
        return 0;
    case CONF_BOOL:
        buf_append_str(out, *(const int *)p ? "yes" : "no");
        return 0;
    case CONF_ENUM: {
        int v = *(const int *)p, n = 0;
        while (f->enum_names && f->enum_names[n]) n++;
        if (v >= 0 && v < n) buf_append_str(out, f->enum_names[v]);
        return 0;
    }
    case CONF_STR: {
        const char *s = *(char *const *)p;
        if (s) buf_append_str(out, s);
        return 0;
    }
    }
    return -1;
}

int conf_defaults(const struct conf_field *fields, void *obj)
{
    int rc = 0;
    for (const struct conf_field *f = fields; f->name; f++) {
        if (f->def) {
            buf err;
            buf_init(&err);
            if (conf_set_one(f, obj, f->name, f->def, "bad default", &err) < 0) {
                fprintf(stderr, "%.*s", (int)err.len, err.data);
                rc = -1;
            }
            buf_free(&err);
            continue;
        }
        switch (f->type) {
        case CONF_INT:
        case CONF_SIZE: *(long long *)conf_ptr(f, obj) = 0; break;
        case CONF_BOOL:
        case CONF_ENUM: *(int *)conf_ptr(f, obj) = 0; break;
        case CONF_STR: *(char **)conf_ptr(f, obj) = NULL; break;
        }
    }
    return rc;
}

void conf_free(const struct conf_field *fields, void *obj)
{
    for (const struct conf_field *f = fields; f->name; f++) {
        if (f->type == CONF_STR) {
            char **slot = conf_ptr(f, obj);
            free(*slot);
            *slot = NULL;
        }
    }
}

/* ---- YAML ---- */

int conf_read_file(const char *path, buf *out, buf *errs)
{
    FILE *fp = fopen(path, "rb");
    char chunk[65536];
    size_t n, start = out->len;
    if (!fp) {
        conf_errf(errs, path, "cannot read: %s", strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (out->len - start + n > CONF_MAX_FILE) {
            conf_errf(errs, path, "cannot read: file larger than %u bytes", CONF_MAX_FILE);
            fclose(fp);
            out->len = start;
            return -1;
        }
        buf_append(out, chunk, n);
    }
    if (ferror(fp)) {
        conf_errf(errs, path, "cannot read: %s", strerror(errno));
        fclose(fp);
        out->len = start;
        return -1;
    }
    fclose(fp);
    return 0;
}

static int conf_mark_line(const yaml_mark_t *m)
{
    return m->line >= INT_MAX ? INT_MAX : (int)m->line + 1;
}

/* Turn a libyaml failure into "name:line: problem (context)". */
static void conf_yaml_error(const yaml_parser_t *p, const char *name, const char *text,
                            size_t len, buf *errs)
{
    char where[512];
    const char *problem = p->problem ? p->problem : "unknown problem";
    int line = 1;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        conf_errf(errs, name, "out of memory while reading YAML");
        return;
    case YAML_READER_ERROR: {
        /* The reader reports a byte offset, not a line: count newlines. */
        size_t off = p->problem_offset < len ? p->problem_offset : len;
        for (size_t i = 0; i < off; i++)
            if (text[i] == '\n' && line < INT_MAX) line++;
        snprintf(where, sizeof where, "%s:%d", name, line);
        if (p->problem_value >= 0)
            conf_errf(errs, where, "YAML: %s (byte 0x%02x)", problem, p->problem_value & 0xff);
        else
            conf_errf(errs, where, "YAML: %s", problem);
        return;
    }
    default:
        line = conf_mark_line(&p->problem_mark);
        snprintf(where, sizeof where, "%s:%d", name, line);
        if (p->context)
            conf_errf(errs, where, "YAML: %s (%s at line %d)", problem, p->context,
                      conf_mark_line(&p->context_mark));
        else
            conf_errf(errs, where, "YAML: %s", problem);
        return;
    }
}

/* First pass over the events, to refuse deep nesting before the document
 * is built: libyaml's scanner rescans every open flow level for each
 * token, so "[[[[..." costs time quadratic in its depth. */
static int conf_yaml_check_depth(const char *name, const char *text, size_t len, buf *errs)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&p)) {
        conf_errf(errs, name, "out of memory while reading YAML");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            conf_yaml_error(&p, name, text, len, errs);
            rc = -1;
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > CONF_YAML_MAX_DEPTH) {
                char where[512];
                snprintf(where, sizeof where, "%s:%d", name, conf_mark_line(&ev.start_mark));
                conf_errf(errs, where, "YAML nested deeper than %d levels", CONF_YAML_MAX_DEPTH);
                yaml_event_delete(&ev);
                rc = -1;
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&p);
    return rc;
}

int conf_yaml_parse(const char *name, const char *text, size_t len,
                    struct yaml_document_s *doc, buf *errs)
{
    yaml_parser_t p;
    yaml_document_t second;
    yaml_node_t *root;
    if (!text) { text = ""; len = 0; }
    if (conf_yaml_check_depth(name, text, len, errs) < 0) return -1;
    if (!yaml_parser_initialize(&p)) {
        conf_errf(errs, name, "out of memory while reading YAML");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    /* On failure yaml_parser_load frees the partial document itself. */
    if (!yaml_parser_load(&p, doc)) {
        conf_yaml_error(&p, name, text, len, errs);
        yaml_parser_delete(&p);
        return -1;
    }
    if (!yaml_parser_load(&p, &second)) {
        conf_yaml_error(&p, name, text, len, errs);
        yaml_document_delete(doc);
        yaml_parser_delete(&p);
        return -1;
    }
    root = yaml_document_get_root_node(&second);
    if (root) {
        char where[512];
        snprintf(where, sizeof where, "%s:%d", name, conf_mark_line(&root->start_mark));
        conf_errf(errs, where, "only one YAML document is allowed");
        yaml_document_delete(&second);
        yaml_document_delete(doc);
        yaml_parser_delete(&p);
        return -1;
    }
    yaml_document_delete(&second);
    yaml_parser_delete(&p);
    return 0;
}

static const char *conf_node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "a value";
    }
}

/* One key of a mapping, for the duplicate check. */
struct conf_key {
    const char *s;
    size_t len;
    int line;
    size_t idx;
};

static int conf_key_cmp(const void *pa, const void *pb)
{
    const struct conf_key *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t i = 0; i < n; i++) {
        int ca = conf_name_char(a->s[i]), cb = conf_name_char(b->s[i]);
        if (ca != cb) return ca < cb ? -1 : 1;
    }
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int conf_key_same(const struct conf_key *a, const struct conf_key *b)
{
    if (a->len != b->len) return 0;
    for (size_t i = 0; i < a->len; i++)
        if (conf_name_char(a->s[i]) != conf_name_char(b->s[i])) return 0;
    return 1;
}

int conf_load_node(const struct conf_field *fields, void *obj, struct yaml_document_s *doc,
                   struct yaml_node_s *node, const char *path, const char *section,
                   const char *const *skip, buf *errs)
{
    char where[512], shown[CONF_SHOW_SIZE], label[CONF_SHOW_SIZE + 64];
    const char *pre = section ? section : "", *dot = section ? "." : "";
    yaml_node_pair_t *pairs;
    size_t npairs;
    struct conf_key *keys;
    int *first_line; /* per pair: line of the first occurrence if a duplicate, else 0 */
    int rc = 0;

    if (node->type != YAML_MAPPING_NODE) {
        snprintf(where, sizeof where, "%s:%d", path, conf_mark_line(&node->start_mark));
        if (section)
            conf_errf(errs, where, "%s must be a mapping of key: value, not %s", section,
                      conf_node_kind(node));
        else
            conf_errf(errs, where, "the file must be a mapping of key: value, not %s",
                      conf_node_kind(node));
        return -1;
    }
    pairs = node->data.mapping.pairs.start;
    npairs = (size_t)(node->data.mapping.pairs.top - pairs);

    /* Duplicates: sort the scalar keys by normalised name (O(n log n), so
     * a hostile file with many keys stays cheap), mark later repeats. */
    keys = xcalloc(npairs, sizeof *keys);
    first_line = xcalloc(npairs, sizeof *first_line);
    size_t nkeys = 0;
    for (size_t i = 0; i < npairs; i++) {
        yaml_node_t *k = yaml_document_get_node(doc, pairs[i].key);
        if (!k || k->type != YAML_SCALAR_NODE) continue;
        keys[nkeys].s = (const char *)k->data.scalar.value;
        keys[nkeys].len = k->data.scalar.length;
        keys[nkeys].line = conf_mark_line(&k->start_mark);
        keys[nkeys].idx = i;
        nkeys++;
    }
    qsort(keys, nkeys, sizeof *keys, conf_key_cmp);
    for (size_t i = 1, first = 0; i < nkeys; i++) {
        if (conf_key_same(&keys[first], &keys[i])) first_line[keys[i].idx] = keys[first].line;
        else first = i;
    }
    free(keys);

    for (size_t i = 0; i < npairs; i++) {
        yaml_node_t *k = yaml_document_get_node(doc, pairs[i].key);
        yaml_node_t *v = yaml_document_get_node(doc, pairs[i].value);
        const char *ks, *vs;
        size_t klen;
        int skipped = 0;
        if (!k || !v) continue;
        snprintf(where, sizeof where, "%s:%d", path, conf_mark_line(&k->start_mark));
        if (k->type != YAML_SCALAR_NODE) {
            conf_errf(errs, where, "%s%skeys must be plain names, not %s", pre,
                      section ? ": " : "", conf_node_kind(k));
            rc = -1;
            continue;
        }
        ks = (const char *)k->data.scalar.value;
        klen = k->data.scalar.length;
        conf_show(shown, sizeof shown, ks, klen);
        if (first_line[i]) {
            conf_errf(errs, where, "key '%s%s%s' given twice (first at line %d)", pre, dot,
                      shown, first_line[i]);
            rc = -1;
            continue;
        }
        for (size_t j = 0; skip && skip[j]; j++)
            if (strlen(skip[j]) == klen && conf_name_eq(skip[j], ks)) skipped = 1;
        if (skipped) continue;

        const struct conf_field *f = NULL;
        if (fields) {
            /* A key holding a NUL byte cannot name any field. */
            if (strlen(ks) == klen) f = conf_find(fields, ks);
            if (!f) {
                conf_errf(errs, where, "unknown key '%s%s%s'", pre, dot, shown);
                rc = -1;
                continue;
            }
        }
        snprintf(label, sizeof label, "%s%s%s", pre, dot, f ? f->name : shown);
        snprintf(where, sizeof where, "%s:%d", path, conf_mark_line(&v->start_mark));
        if (v->type != YAML_SCALAR_NODE) {
            conf_errf(errs, where, "%s: expected a single value, not %s", label,
                      conf_node_kind(v));
            rc = -1;
            continue;
        }
        vs = (const char *)v->data.scalar.value;
        if (strlen(vs) != v->data.scalar.length) {
            conf_errf(errs, where, "%s: value contains a NUL byte", label);
            rc = -1;
            continue;
        }
        if (f && conf_set_one(f, obj, label, vs, where, errs) < 0) rc = -1;
    }
    free(first_line);
    return rc;
}

int conf_load_string(const struct conf_field *fields, void *obj, const char *name,
                     const char *text, size_t len, buf *errs)
{
    yaml_document_t doc;
    yaml_node_t *root;
    int rc = 0;
    if (conf_yaml_parse(name, text, len, &doc, errs) < 0) return -1;
    root = yaml_document_get_root_node(&doc);
    /* No document, or a bare "---": nothing is set, which is valid. */
    if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
        rc = conf_load_node(fields, obj, &doc, root, name, NULL, NULL, errs);
    yaml_document_delete(&doc);
    return rc;
}

int conf_load_file(const struct conf_field *fields, void *obj, const char *path, buf *errs)
{
    buf text;
    int rc;
    buf_init(&text);
    if (conf_read_file(path, &text, errs) < 0) {
        buf_free(&text);
        return -1;
    }
    rc = conf_load_string(fields, obj, path, text.data, text.len, errs);
    buf_free(&text);
    return rc;
}

/* ---- command line ---- */

static const char *conf_type_meta(const struct conf_field *f, buf *tmp)
{
    switch (f->type) {
    case CONF_INT: return "N";
    case CONF_SIZE: return "BYTES";
    case CONF_BOOL: return "yes|no";
    case CONF_STR: return "TEXT";
    case CONF_ENUM:
        for (int i = 0; f->enum_names && f->enum_names[i]; i++)
            buf_printf(tmp, "%s%s", i ? "|" : "", f->enum_names[i]);
        buf_append_char(tmp, '\0');
        return tmp->data;
    }
    return "VALUE";
}

void conf_print_help(const struct conf_cli *cli, const struct conf_field *fields)
{
    const char *prog = cli && cli->program ? cli->program : "strata";
    printf("Usage: %s [--config FILE] [--key-name VALUE ...]\n\n", prog);
    printf("  --config FILE\n        YAML configuration file (flags override it)\n");
    printf("  -t, --test-config\n        check the configuration, print what is wrong, exit\n");
    printf("  -h, --help\n        show this help and exit\n");
    printf("  --version\n        print the version and exit\n");
    if (cli && cli->usage_extra) printf("%s\n", cli->usage_extra);
    if (!fields || !fields->name) return;
    printf("\nSettings (YAML key_name, or --key-name VALUE on the command line):\n");
    for (const struct conf_field *f = fields; f->name; f++) {
        buf meta;
        buf_init(&meta);
        printf("  --");
        for (const char *c = f->name; *c; c++) putchar(*c == '_' ? '-' : *c);
        printf(" %s\n        %s", conf_type_meta(f, &meta), f->help ? f->help : "");
        /* an empty default is told by the help text itself ("(empty: off)") */
        if (f->def && *f->def) printf("%s(default: %s)", f->help ? " " : "", f->def);
        printf("\n");
        buf_free(&meta);
    }
}

/* A table flag seen on the command line, applied after the file. */
struct conf_arg {
    const struct conf_field *f;
    char *label;          /* owned: "--port" */
    const char *value;    /* points into argv */
};

int conf_parse_cli(const struct conf_cli *cli, const struct conf_field *fields, void *obj,
                   int argc, char **argv, const char **config_path, int *test_only, buf *errs)
{
    struct conf_arg *args = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *args);
    const char *cfg = NULL;
    const char *prog = cli && cli->program ? cli->program : "strata";
    int nargs = 0, help = 0, version = 0, test = 0, bad = 0, rc;
    char shown[CONF_SHOW_SIZE];

    if (config_path) *config_path = NULL;
    if (test_only) *test_only = 0;
    if (conf_defaults(fields, obj) < 0) bad = 1;

    /* Pass 1: find --config and the exit-at-once flags, queue table flags. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = NULL;
        if (strcmp(a, "-t") == 0 || strcmp(a, "--test-config") == 0) { test = 1; continue; }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { help = 1; continue; }
        if (strcmp(a, "--version") == 0) { version = 1; continue; }
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            char *name;
            const char *value;
            eq = strchr(a, '=');
            name = eq ? xmemdup(a, (size_t)(eq - a)) : xstrdup(a);
            const struct conf_field *f = conf_find(fields, name + 2);
            int is_cfg = strcmp(name, "--config") == 0;
            if (is_cfg || f) {
                if (eq) {
                    value = eq + 1;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    conf_errf(errs, NULL, "option '%s' needs a value",
                              conf_show(shown, sizeof shown, name, strlen(name)));
                    free(name);
                    bad = 1;
                    continue;
                }
                if (is_cfg) {
                    if (cfg) {
                        conf_errf(errs, NULL, "option '--config' given twice");
                        bad = 1;
                    }
                    cfg = value;
                    free(name);
                } else {
                    args[nargs].f = f;
                    args[nargs].label = name;
                    args[nargs].value = value;
                    nargs++;
                }
                continue;
            }
            free(name);
        }
        if (cli && cli->extra) {
            size_t before = errs ? errs->len : 0;
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            int r = cli->extra(obj, a, next, errs);
            if (r == 1 && next) { i++; continue; }
            if (r >= 0) continue;
            bad = 1;
            if (!errs || errs->len != before) continue;
        }
        conf_errf(errs, NULL, "unknown option '%s'", conf_show(shown, sizeof shown, a, strlen(a)));
        bad = 1;
    }

    if (help || version) {
        if (help) conf_print_help(cli, fields);
        else printf("%s %s\n", prog, STRATA_VERSION);
        rc = 1;
        goto out;
    }
    if (test_only) *test_only = test;
    if (config_path) *config_path = cfg;
    if (cfg) {
        int r = cli && cli->load ? cli->load(obj, cfg, errs) : conf_load_file(fields, obj, cfg, errs);
        if (r < 0) bad = 1;
    }
    /* Pass 2: the command line overrides the file, in the order given. */
    for (int i = 0; i < nargs; i++)
        if (conf_set_one(args[i].f, obj, args[i].label, args[i].value, NULL, errs) < 0) bad = 1;
    rc = bad ? -1 : 0;
out:
    for (int i = 0; i < nargs; i++) free(args[i].label);
    free(args);
    return rc;
}
