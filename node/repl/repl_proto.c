/* repl_proto: parser of the master-to-replica stream.  See repl_proto.h. */
#include "repl_proto.h"

#include <string.h>

int repl_proto_next(const char *data, size_t len, size_t *consumed, struct repl_item *it,
                    const char **err)
{
    *consumed = 0;
    if (len == 0) return 0;
    char t = data[0];
    if (t != '+' && t != '-' && t != '$') {
        *err = "unexpected byte in the replication stream";
        return -1;
    }
    size_t scan = len < REPL_PROTO_MAX_LINE + 2 ? len : REPL_PROTO_MAX_LINE + 2;
    const char *nl = memchr(data, '\n', scan);
    if (!nl) {
        if (len >= REPL_PROTO_MAX_LINE + 2) {
            *err = "line too long in the replication stream";
            return -1;
        }
        return 0;
    }
    size_t linelen = (size_t)(nl - data);
    if (linelen < 1 || data[linelen - 1] != '\r') {
        *err = "line without CRLF in the replication stream";
        return -1;
    }
    if (t != '$') {
        it->type = t;
        it->data = data + 1;
        it->len = linelen - 2;
        *consumed = linelen + 1;
        return 1;
    }
    long long n = 0;
    if (linelen < 3) {
        *err = "bad bulk length in the replication stream";
        return -1;
    }
    for (size_t i = 1; i < linelen - 1; i++) {
        if (data[i] < '0' || data[i] > '9' || n > REPL_PROTO_MAX_BULK) {
            *err = "bad bulk length in the replication stream";
            return -1;
        }
        n = n * 10 + (data[i] - '0');
    }
    if (n > REPL_PROTO_MAX_BULK) {
        *err = "bulk too large in the replication stream";
        return -1;
    }
    size_t need = linelen + 1 + (size_t)n + 2;
    if (len < need) return 0;
    if (data[need - 2] != '\r' || data[need - 1] != '\n') {
        *err = "bulk without CRLF in the replication stream";
        return -1;
    }
    it->type = '$';
    it->data = data + linelen + 1;
    it->len = (size_t)n;
    *consumed = need;
    return 1;
}
