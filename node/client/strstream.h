/* strstream: the reply to a GET of a big chunked string, sent in steps.
 *
 * A value of STRSTREAM_MIN bytes or more is not copied into the output
 * buffer at once: the command writes the bulk header and attaches a stream
 * to the client; each time the output buffer has drained, client_flush
 * reads the next STRSTREAM_STEP bytes of chunks into it, at most
 * STRSTREAM_STEPS_PER_FLUSH steps per call (then it waits for the next
 * writable event, so other clients run in between).  Memory per client is
 * one step, and the loop is never held for more than a few steps' reads.
 * The client reads no further command until the reply is complete
 * (replies stay in order).
 *
 * Consistency: the reply is the value as of the GET.  The stream pins the
 * string's version: a write to a pinned version (APPEND, SETRANGE, SETBIT,
 * BITFIELD) first copies the string to a fresh version
 * (strchunk_write_at), and the GC skips a queued version while it is
 * pinned, so the pinned chunks stay as they were.
 *
 * Streams are only used where nothing else can be appended to the client's
 * output meanwhile: a connected client, outside MULTI/EXEC, without
 * CLIENT REPLY OFF/SKIP, pub/sub or tracking, and not on a replica (whose
 * data changes under it by replication). */
#ifndef STRATA_STRSTREAM_H
#define STRATA_STRSTREAM_H

#include <stdint.h>
#include "db.h"
#include "server.h"

#define STRSTREAM_MIN (1u << 20)
#define STRSTREAM_STEP (256u << 10)
#define STRSTREAM_STEPS_PER_FLUSH 4

/* 1 if c's reply of the live chunked string m may be streamed. */
int strstream_eligible(const client *c, const struct meta *m);
/* Write the bulk header and attach the stream (eligible clients only). */
void strstream_start(client *c, const struct meta *m);
/* Append the next step to c->out.  1 while more remains, 0 once the
 * reply is complete (the stream is then freed). */
int strstream_pump(client *c);
/* A version some open stream reads; any stream open at all. */
int strstream_pinned(uint64_t version);
int strstream_active(void);
void strstream_init(void);

#endif
