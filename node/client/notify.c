/* notify: keyspace notifications through pub/sub (see notify.h).
 *
 * The enabled classes live in `flags`, parsed from the config string.
 * Keeping the parsed flags apart from the text matters: Redis's canonical
 * text drops 'n' when 'A' is given ("KEAn" reads back as "AKE" but still
 * enables new-key events), so the text alone cannot be re-parsed into the
 * same flags.  A value is checked before it is stored, wherever it comes
 * from (node_config_check in config.c: the file, the command line, CONFIG
 * SET, inside MULTI too); it is parsed and rewritten in canonical form at
 * start-up and after each CONFIG SET of it (node_config_applied). */
#include "notify.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "pubsub.h"
#include "server.h"
#include "tracking.h"
#include "util.h"

static int flags;             /* enabled classes */

const char notify_class_error[] = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

int notify_parse(const char *s, size_t len)
{
    int f = 0;
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case 'A': f |= NOTIFY_ALL; break;
        case 'g': f |= NOTIFY_GENERIC; break;
        case '$': f |= NOTIFY_STRING; break;
        case 'l': f |= NOTIFY_LIST; break;
        case 's': f |= NOTIFY_SET; break;
        case 'h': f |= NOTIFY_HASH; break;
        case 'z': f |= NOTIFY_ZSET; break;
        case 'x': f |= NOTIFY_EXPIRED; break;
        case 'e': f |= NOTIFY_EVICTED; break;
        case 'K': f |= NOTIFY_KEYSPACE; break;
        case 'E': f |= NOTIFY_KEYEVENT; break;
        case 't': f |= NOTIFY_STREAM; break;
        case 'm': f |= NOTIFY_KEY_MISS; break;
        case 'd': f |= NOTIFY_MODULE; break;
        case 'n': f |= NOTIFY_NEW; break;
        default: return -1;
        }
    }
    return f;
}

char *notify_flags_string(int f, char *out)
{
    static const struct { int bit; char ch; } classes[] = {
        { NOTIFY_GENERIC, 'g' }, { NOTIFY_STRING, '$' }, { NOTIFY_LIST, 'l' },
        { NOTIFY_SET, 's' },     { NOTIFY_HASH, 'h' },   { NOTIFY_ZSET, 'z' },
        { NOTIFY_EXPIRED, 'x' }, { NOTIFY_EVICTED, 'e' }, { NOTIFY_STREAM, 't' },
        { NOTIFY_MODULE, 'd' },  { NOTIFY_NEW, 'n' },
    };
    char *p = out;
    if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
        *p++ = 'A';
    } else {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
            if (f & classes[i].bit) *p++ = classes[i].ch;
    }
    if (f & NOTIFY_KEYSPACE) *p++ = 'K';
    if (f & NOTIFY_KEYEVENT) *p++ = 'E';
    if (f & NOTIFY_KEY_MISS) *p++ = 'm';
    *p = '\0';
    return out;
}

/* Parse the stored config text into `flags` and store its canonical form
 * in its place.  The text was checked before it was stored
 * (node_config_check), so it parses. */
void notify_sync(void)
{
    const char *s = srv.cfg.notify_keyspace_events ? srv.cfg.notify_keyspace_events : "";
    int f = notify_parse(s, strlen(s));
    if (f < 0) f = flags; /* refused before it was stored: keep what runs */
    flags = f;
    char canon[32];
    notify_flags_string(f, canon);
    if (strcmp(s, canon) != 0) {
        free(srv.cfg.notify_keyspace_events);
        srv.cfg.notify_keyspace_events = xstrdup(canon);
    }
}

int notify_enabled(int type)
{
    return (flags & type) && (flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT));
}

/* Redis invalidates client caches (signalModifiedKey) at fixed points of
 * each command, and a connection that both tracks keys and subscribes to
 * events sees the two interleaved in that order.  strata-node signals at
 * the end of the command (multi.c's write hook), which is where Redis
 * signals the pops; for the others the key is signaled here, before the
 * event that Redis publishes after its signal.  A key signaled once is no
 * longer tracked, so the write hook does not signal it again.  Measured
 * against redis-server 7.0.15 command by command (test_node_notify's
 * test_invalidation_order). */
static void signal_before(const char *event, const char *key, size_t klen)
{
    client *c = srv.current;
    if (!c || !c->cmd || !tracking_active()) return;
    switch (c->cmd->id) {
    case CMD_LPOP: case CMD_RPOP: case CMD_LMPOP: case CMD_BLPOP: case CMD_BRPOP: case CMD_BLMPOP:
    case CMD_LTRIM: case CMD_SPOP: case CMD_ZREM:
        return; /* after all their events */
    case CMD_ZPOPMIN: case CMD_ZPOPMAX: case CMD_ZMPOP: case CMD_BZPOPMIN: case CMD_BZPOPMAX: case CMD_BZMPOP:
        if (strcmp(event, "del") == 0) break; /* between the pop and the deletion */
        return;
    case CMD_LMOVE: case CMD_RPOPLPUSH: case CMD_BLMOVE: case CMD_BRPOPLPUSH:
        if (strcmp(event, "lpush") == 0 || strcmp(event, "rpush") == 0) break; /* the destination */
        return;
    case CMD_SMOVE:
        /* Both keys, once the source's events are out. */
        if (strcmp(event, "sadd") != 0) return;
        tracking_invalidate_key(c, c->argv[1], c->argvlen[1]);
        break;
    case CMD_RENAME: case CMD_RENAMENX:
        /* Both keys before either event. */
        if (strcmp(event, "rename_from") == 0) {
            tracking_invalidate_key(c, key, klen);
            tracking_invalidate_key(c, c->argv[2], c->argvlen[2]);
        }
        return;
    default:
        break;
    }
    tracking_invalidate_key(c, key, klen);
}

void notify_keyspace_event(int type, const char *event, const char *key, size_t klen)
{
    /* Off (the default), and nothing new stored: the common case. */
    if (!flags && (!srv.cfg.notify_keyspace_events || !srv.cfg.notify_keyspace_events[0])) return;
    if (!(type & (NOTIFY_NEW | NOTIFY_EXPIRED | NOTIFY_KEY_MISS))) signal_before(event, key, klen);
    if (!notify_enabled(type)) return;
    buf ch;
    buf_init(&ch);
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        buf_append(&ch, "__keyspace@0__:", 15);
        buf_append(&ch, key, klen);
        pubsub_publish(ch.data, ch.len, event, elen);
    }
    if (flags & NOTIFY_KEYEVENT) {
        buf_clear(&ch);
        buf_append(&ch, "__keyevent@0__:", 15);
        buf_append(&ch, event, elen);
        pubsub_publish(ch.data, ch.len, key, klen);
    }
    buf_free(&ch);
}

void notify_register(void)
{
    /* main.c refused a bad value before the node started */
    notify_sync();
}
