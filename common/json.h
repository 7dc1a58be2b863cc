/* json: the small part of JSON the HTTP API needs — a reader that builds a
 * tree of a request body, and writers for strings (escaped, with a check
 * for valid UTF-8) and base64.
 *
 * The reader takes RFC 8259 text: objects, arrays, strings (every escape,
 * \u surrogate pairs included), numbers (kept as the text written, so
 * nothing is lost to a double), true, false, null.  Nesting deeper than
 * JSON_MAX_DEPTH is refused.  A string may hold NUL bytes: lengths are
 * explicit.  Errors are one line of text with the byte offset. */
#ifndef STRATA_JSON_H
#define STRATA_JSON_H

#include <stddef.h>

#include "buf.h"

#define JSON_MAX_DEPTH 32

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

typedef struct json {
    enum json_type type;
    int b;                  /* JSON_BOOL: 0 or 1 */
    char *str;              /* JSON_STRING: the decoded bytes; JSON_NUMBER: its
                             * text; NUL-terminated, owned */
    size_t len;
    int n;                  /* JSON_ARRAY, JSON_OBJECT: elements / members */
    struct json **items;    /* owned */
    char **keys;            /* JSON_OBJECT: member names, owned */
    size_t *keylens;
} json;

/* Parse the whole of p[0..len) (surrounding white space allowed).  Returns
 * a tree the caller frees with json_free, or NULL with a message in err. */
json *json_parse(const char *p, size_t len, char *err, size_t errlen);
void json_free(json *j);
/* The member named key of an object, or NULL. */
const json *json_get(const json *obj, const char *key);

/* 1 if p[0..len) is valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF), else 0. */
int json_utf8_valid(const char *p, size_t len);
/* Append p[0..len) as a JSON string, quotes included.  The bytes are
 * copied as they are except for the escapes JSON requires; the caller
 * checks json_utf8_valid first (invalid bytes would make invalid JSON). */
void json_add_string(buf *out, const char *p, size_t len);
void json_add_cstr(buf *out, const char *s);
/* Append the base64 (RFC 4648, padded) of p[0..len), without quotes. */
void json_add_base64(buf *out, const void *p, size_t len);
/* Decode base64 text (padding optional, no white space).  Returns a
 * malloc'd buffer (the caller frees it) with its length in *outlen, or
 * NULL if s is not base64. */
char *json_base64_decode(const char *s, size_t len, size_t *outlen);

#endif
