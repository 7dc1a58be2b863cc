/* conf: typed configuration from YAML files and the command line.
 *
 * A program describes its settings as a table of conf_field (name, type,
 * offset into its settings struct, default, bounds), ended by an entry
 * whose name is NULL.  Loading goes:
 *
 *     conf_defaults()  ->  conf_load_file() / conf_load_node()  ->  conf_set()
 *                          (the YAML file)                          (--key-name value)
 *
 * so the command line overrides the file.  Names use underscores in YAML;
 * everywhere (YAML, command line, CONFIG SET) a name matches a field when
 * it is equal ignoring case, with '-' and '_' counted as the same
 * character, so `--key_name` and `--key-name` are both accepted.
 * Unknown keys and bad values are errors; every error names file:line
 * (the line of the offending key or value) and says what is wrong.
 * Errors are appended, one per line, to an `errs` buffer so `-t` can print
 * them all; functions return 0 on success and -1 if anything was wrong.
 * `errs` may be NULL (messages are dropped).  After an error the settings
 * struct may be partly updated: load into a fresh struct and swap it in
 * when reloading.
 *
 * Message forms (tests rely on them):
 *     path:3: unknown key 'x'
 *     path:4: key 'port' given twice (first at line 2)
 *     path:5: port: value 70000 out of range 1..65535
 *     path:6: port: 'abc' is not an integer
 *     --port: value 0 out of range 1..65535          (command line)
 *
 * Memory: CONF_STR fields are `char *` owned by the settings struct;
 * conf_free() releases them. */
#ifndef STRATA_CONF_H
#define STRATA_CONF_H

#include <stddef.h>
#include "buf.h"

enum conf_type {
    CONF_INT,   /* long long, decimal, within [min, max] */
    CONF_SIZE,  /* long long bytes; accepts 10kb 64mb 1gb, also k/m/g and b,
                 * case-insensitive.  As in redis.conf: k = 1000, kb = 1024,
                 * m = 1000^2, mb = 1024^2, g = 1000^3, gb = 1024^3. */
    CONF_BOOL,  /* int: yes/no/true/false/on/off/1/0 (any case) */
    CONF_STR,   /* char *, owned */
    CONF_ENUM,  /* int: index into enum_names (names match in any case) */
};

struct conf_field {
    const char *name;
    enum conf_type type;
    size_t offset;
    const char *def;                /* default, as text; NULL = zero/NULL */
    long long min, max;             /* CONF_INT, CONF_SIZE; min == max == 0:
                                     * no bounds (sizes are still >= 0) */
    const char *const *enum_names;  /* CONF_ENUM: NULL-terminated */
    int runtime;                    /* may be changed by CONFIG SET */
    const char *help;               /* one line for --help */
};

/* Set every field to its default.  Strings are not freed first: call it
 * on a zeroed struct (or after conf_free).  Returns 0, or -1 if a default
 * in the table does not parse (a programming error, also printed on
 * stderr). */
int conf_defaults(const struct conf_field *fields, void *obj);
/* Release owned strings (the pointers are left NULL). */
void conf_free(const struct conf_field *fields, void *obj);
/* Set one field from text.  name may use '-' or '_'.  On error appends
 * "<where>: <message>\n" to errs (where may be NULL: then no prefix).
 * A CONF_STR field's old string is freed and replaced by a copy of value.
 * Returns 0, -1 on a bad value (the field is unchanged), -2 if the name
 * is unknown ("unknown key 'x'"). */
int conf_set(const struct conf_field *fields, void *obj, const char *name,
             const char *value, const char *where, buf *errs);
/* Append the current value of a field as text (sizes in bytes, booleans
 * as yes/no, enums by name, a NULL string as ""); -1 if unknown. */
int conf_get(const struct conf_field *fields, const void *obj, const char *name, buf *out);
const struct conf_field *conf_find(const struct conf_field *fields, const char *name);

/* Load a flat YAML mapping of key: scalar from a file into obj.  Returns 0
 * or -1 (messages in errs, each "path:line: message").  Only the keys
 * present are set: run conf_defaults() first.  An empty file (or one with
 * only comments) is valid and sets nothing. */
int conf_load_file(const struct conf_field *fields, void *obj, const char *path, buf *errs);
/* Same from memory: text[0..len) may hold any bytes (NUL, invalid UTF-8
 * are reported as errors, never read past len).  `name` stands for the
 * path in messages. */
int conf_load_string(const struct conf_field *fields, void *obj, const char *name,
                     const char *text, size_t len, buf *errs);

/* Common command line handling.  Recognises --config FILE, -t/--test-config,
 * --help (-h), --version and --key-name value (or --key-name=value) for
 * every field in the table.  Every table flag takes a value.
 * Order: defaults, then the file named by --config, then the other flags.
 * obj must hold no owned strings on entry (zeroed, or after conf_free):
 * conf_defaults() overwrites them.
 * Returns 0 on success, 1 if the program should exit 0 at once (--help,
 * --version were printed on stdout), -1 on error (messages in errs: an
 * unknown option, a missing value, a bad file, a bad value).
 * *config_path (may be NULL) gets the --config argument (points into argv)
 * or NULL; *test_only (may be NULL) is set for -t.
 * `extra` may handle flags outside the table (return 1 if it consumed
 * `value`, 0 if it consumed only the flag, -1 if unknown; it may append
 * its own message, otherwise "unknown option '...'" is added).  `value` is
 * the next argument or NULL.  Extra flags are handled while scanning, so
 * before the file is loaded. */
struct conf_cli {
    const char *program;            /* "strata-node" */
    const char *usage_extra;        /* extra lines for --help, or NULL */
    int (*extra)(void *obj, const char *flag, const char *value, buf *errs);
    /* Optional: a file loader other than the flat one (the topology file). */
    int (*load)(void *obj, const char *path, buf *errs);
};
int conf_parse_cli(const struct conf_cli *cli, const struct conf_field *fields, void *obj,
                   int argc, char **argv, const char **config_path, int *test_only, buf *errs);
void conf_print_help(const struct conf_cli *cli, const struct conf_field *fields);

/* ---- Lower level: shared with topology.c and other YAML readers. ----
 * These take libyaml's types; include <yaml.h> to use them. */
struct yaml_document_s;
struct yaml_node_s;

/* Read a whole file into out (appended).  Returns 0, or -1 with
 * "path: cannot read: <reason>" in errs.  Files over 16 MB are refused. */
int conf_read_file(const char *path, buf *out, buf *errs);
/* Parse text[0..len) as one YAML document into *doc.  Returns 0 (the
 * caller owns *doc and frees it with yaml_document_delete; its root is
 * NULL for an empty text), or -1 with "name:line: message" in errs (doc
 * is then not initialised).  A second document in the stream is an error,
 * and so is nesting deeper than 32 levels (libyaml's scanner is quadratic
 * in flow nesting depth). */
int conf_yaml_parse(const char *name, const char *text, size_t len,
                    struct yaml_document_s *doc, buf *errs);
/* Apply a flat mapping node of key: scalar to obj.  `section`, if not
 * NULL, prefixes key names in messages ("proxy.threads").  Keys listed in
 * `skip` (NULL-terminated, may be NULL) are left to the caller, but still
 * checked for duplicates.  When fields is NULL the keys are not validated
 * (somebody else owns them) but their values must still be scalars.
 * Returns 0 or -1 (messages in errs). */
int conf_load_node(const struct conf_field *fields, void *obj, struct yaml_document_s *doc,
                   struct yaml_node_s *node, const char *path, const char *section,
                   const char *const *skip, buf *errs);
/* Printable form of untrusted bytes for messages: control and non-ASCII
 * bytes as \xNN, cut at about 64 bytes with "...".  Returns out. */
const char *conf_show(char *out, size_t outsize, const char *s, size_t len);
#define CONF_SHOW_SIZE 280

#endif
