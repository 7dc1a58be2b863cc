/* repl_proto: the byte stream a master sends to a replica (and to the
 * strata-dump tool) after PSYNC.
 *
 * The replica opens an ordinary client connection and sends commands
 * (AUTH, REPLCONF listening-port N, PSYNC epoch lsn crc).  Everything the
 * master sends back is a sequence of RESP2 items of two shapes only:
 *
 *   +LINE\r\n                   replies and control messages:
 *                                 +OK                   (AUTH, REPLCONF)
 *                                 +CONTINUE epoch lsn    records lsn+1.. follow
 *                                 +FULLSYNC epoch last_epoch lsn crc
 *                                                       snapshot chunks follow
 *                                 +FULLSYNCEND nkeys     snapshot complete;
 *                                                       records lsn+1.. follow
 *                                 +PING lsn             heartbeat, master's lsn
 *                                 +GETACK               ack right after the next commit
 *                                                       (a writer waits for it)
 *   -ERR ...\r\n                  a refused handshake step
 *   $N\r\n<N bytes>\r\n           a snapshot chunk (dump.h) between FULLSYNC
 *                                 and FULLSYNCEND, else one WAL record (wal.h)
 *
 * The replica answers with `REPLCONF ACK lsn` commands (no reply): after
 * the commit that follows a GETACK, otherwise at most every few ms while it
 * applies records, and once a second as a heartbeat.
 *
 * This parser reads items from a buffer without copying; incomplete input
 * is not an error. */
#ifndef STRATA_REPL_PROTO_H
#define STRATA_REPL_PROTO_H

#include <stddef.h>

#define REPL_PROTO_MAX_LINE 1024
#define REPL_PROTO_MAX_BULK (1024LL * 1024 * 1024)

struct repl_item {
    char type;          /* '+', '-' or '$' */
    const char *data;   /* line text (no CRLF) or bulk payload, inside the input */
    size_t len;
};

/* Parse one item at the start of data[0..len).  Returns 1 and sets *it and
 * *consumed; 0 if more bytes are needed; -1 on a protocol error (`err`
 * gets a static message). */
int repl_proto_next(const char *data, size_t len, size_t *consumed, struct repl_item *it,
                    const char **err);

#endif
