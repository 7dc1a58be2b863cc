/* notify: keyspace notifications (Redis 7.0's notify-keyspace-events).
 *
 * A command that changes a key calls notify_keyspace_event() with the
 * event's class and name where Redis's command does, after the change.
 * When the class is enabled, the event goes out through pub/sub as
 *
 *   __keyspace@0__:<key>     message <event>     (class K enabled)
 *   __keyevent@0__:<event>   message <key>       (class E enabled)
 *
 * in that order, to the subscribers of that moment (pushes in RESP3).
 * Nothing is stored or replicated: a replica applies its master's
 * physical changes and notifies nothing, like a Redis replica that has
 * no subscribers to its master's events.
 *
 * The setting is the string field notify_keyspace_events of the node's
 * config (YAML notify_keyspace_events, CONFIG SET notify-keyspace-events);
 * this module validates CONFIG SET's value before it is stored and keeps
 * the stored text in Redis's canonical order (what CONFIG GET shows). */
#ifndef STRATA_NOTIFY_H
#define STRATA_NOTIFY_H

#include <stddef.h>

/* Event classes, Redis's bits and letters. */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC  (1 << 2)  /* g */
#define NOTIFY_STRING   (1 << 3)  /* $ */
#define NOTIFY_LIST     (1 << 4)  /* l */
#define NOTIFY_SET      (1 << 5)  /* s */
#define NOTIFY_HASH     (1 << 6)  /* h */
#define NOTIFY_ZSET     (1 << 7)  /* z */
#define NOTIFY_EXPIRED  (1 << 8)  /* x */
#define NOTIFY_EVICTED  (1 << 9)  /* e (never fires: nothing is evicted) */
#define NOTIFY_STREAM   (1 << 10) /* t (no streams) */
#define NOTIFY_KEY_MISS (1 << 11) /* m */
#define NOTIFY_LOADED   (1 << 12) /* modules only in Redis; no letter */
#define NOTIFY_MODULE   (1 << 13) /* d (no modules) */
#define NOTIFY_NEW      (1 << 14) /* n */
/* 'A': every class but m and n. */
#define NOTIFY_ALL (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | \
                    NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

/* Publish `event` (a static string) about `key` if its class is enabled.
 * Cheap when notifications are off (the default): one test. */
void notify_keyspace_event(int type, const char *event, const char *key, size_t klen);

/* 1 if any event of `type` would be published (lets a caller skip work). */
int notify_enabled(int type);

/* Parse a class string ("KEA", "Kx", ""); returns its flags, or -1 if a
 * character is not a class letter. */
int notify_parse(const char *s, size_t len);
/* Apply the notify_keyspace_events text in srv.cfg (at start-up, after
 * CONFIG SET) and store it in its canonical form, which CONFIG GET
 * answers. */
void notify_sync(void);
/* Redis's reason for a value notify_parse refuses. */
extern const char notify_class_error[];

/* Write the canonical text of flags (Redis's keyspaceEventsFlagsToString:
 * "A" or the single class letters, then K, E, m) into out, which must hold
 * at least 16 bytes.  Returns out. */
char *notify_flags_string(int flags, char *out);

#endif
