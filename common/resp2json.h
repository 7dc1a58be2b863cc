/* resp2json: a complete RESP2 or RESP3 reply as JSON, and the HTTP status
 * an error reply stands for.  Used by the HTTP API (httpapi.c); knows no
 * program.  The mapping (README, "HTTP API"):
 *
 *   +simple  $bulk  =verbatim   "text" (verbatim: without its "txt:"
 *                               format); {"base64": "..."} when the bytes
 *                               are not valid UTF-8
 *   -error  !blob error         {"error": "ERR ..."}
 *   :integer                    a number (exact: JSON numbers have no size
 *                               limit, JavaScript keeps 53 bits)
 *   ,double                     a number; "inf", "-inf", "nan" as strings
 *   (big number                 {"bignum": "12345..."}
 *   #boolean                    true / false
 *   _null  $-1  *-1             null
 *   *array  ~set  >push         [...]
 *   %map                        {"k": v, ...} when every key is a string
 *                               (simple, bulk or verbatim, valid UTF-8);
 *                               otherwise [[k, v], ...] in reply order
 *   |attribute                  dropped (the value after it is mapped)
 */
#ifndef STRATA_RESP2JSON_H
#define STRATA_RESP2JSON_H

#include <stddef.h>

#include "buf.h"

/* Append the JSON of the complete reply p[0..len) (as reply_scan framed
 * it).  Returns 0, or -1 if the bytes are not a valid reply (out then
 * holds a partial text the caller discards). */
int resp2json(buf *out, const char *p, size_t len);

/* The HTTP status for an error reply's text (its code first: "ERR ...",
 * "WRONGTYPE ...").  Documented in the README:
 *   401 NOAUTH, WRONGPASS         403 NOPERM
 *   404 ERR unknown command / unknown subcommand
 *   503 LOADING BUSY MASTERDOWN CLUSTERDOWN TRYAGAIN NOREPLICAS READONLY
 *       MISCONF FENCED, ERR max number of clients reached
 *   507 OOM
 *   400 everything else (syntax, arity, WRONGTYPE, CROSSSLOT, ...) */
int resp2json_http_status(const char *err, size_t len);

#endif
