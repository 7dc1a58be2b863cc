/* conf: typed configuration from YAML files and the command line.
 *
 * A program describes its settings as a table of conf_field (name, type,
 * offset into its settings struct, default, bounds).  Loading goes:
 *
 *     conf_defaults()  ->  conf_load_file() / conf_load_node()  ->  conf_set()
 *                          (the YAML file)                          (--key-name value)
 *
 * so the command line overrides the file.  Names use underscores in YAML;
 * on the command line both `--key_name` and `--key-name` are accepted.
 * Unknown keys and bad values are errors; every error names file:line
 * (the line of the offending key or value) and says what is wrong.
 * Errors are appended, one per line, to an `errs` buffer so `-t` can print
 * them all; functions return 0 on success and -1 if anything was wrong.
 *
 * Memory: CONF_STR fields are `char *` owned by the settings struct;
 * conf_free() releases them. */
#ifndef STRATA_CONF_H
#define STRATA_CONF_H

#include <stddef.h>
#include "buf.h"

enum conf_type {
    CONF_INT,   /* long long, decimal, within [min, max] */
    CONF_SIZE,  /* long long bytes; accepts 10kb 64mb 1gb (also k/m/g, case-insensitive) */
    CONF_BOOL,  /* int: yes/no/true/false/on/off/1/0 */
    CONF_STR,   /* char *, owned */
    CONF_ENUM,  /* int: index into enum_names */
};

struct conf_field {
    const char *name;
    enum conf_type type;
    size_t offset;
    const char *def;                /* default, as text; NULL = zero/NULL */
    long long min, max;             /* CONF_INT, CONF_SIZE */
    const char *const *enum_names;  /* CONF_ENUM: NULL-terminated */
    int runtime;                    /* may be changed by CONFIG SET */
    const char *help;               /* one line for --help */
};

/* Set every field to its default.  Returns 0 (defaults are trusted). */
int conf_defaults(const struct conf_field *fields, void *obj);
/* Release owned strings. */
void conf_free(const struct conf_field *fields, void *obj);
/* Set one field from text.  name may use '-' or '_'.  On error appends
 * "<where>: <message>\n" to errs (where may be NULL: then no prefix).
 * Returns 0, -1 on a bad value, -2 if the name is unknown. */
int conf_set(const struct conf_field *fields, void *obj, const char *name,
             const char *value, const char *where, buf *errs);
/* Append the current value of a field as text; -1 if unknown. */
int conf_get(const struct conf_field *fields, const void *obj, const char *name, buf *out);
const struct conf_field *conf_find(const struct conf_field *fields, const char *name);

/* Load a flat YAML mapping of key: scalar from a file into obj.  Returns 0
 * or -1 (messages in errs, each "path:line: message"). */
int conf_load_file(const struct conf_field *fields, void *obj, const char *path, buf *errs);

/* Common command line handling.  Recognises --config FILE, -t/--test-config,
 * --help, --version and --key-name value for every field in the table.
 * Order: defaults, then the file named by --config, then the other flags.
 * Returns 0 on success, 1 if the program should exit 0 at once (--help,
 * --version were printed), -1 on error (messages in errs).  *test_only is
 * set for -t.  `extra` may handle flags outside the table (return 1 if it
 * consumed `value`, 0 if it consumed only the flag, -1 if unknown). */
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

#endif
