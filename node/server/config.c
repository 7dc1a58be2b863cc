/* config: strata-node's settings table (conf.h).  Every key is a YAML key
 * and a --key-name flag; `runtime` marks those CONFIG SET may change. */
#include <stddef.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "tls.h"

static const char *const fsync_names[] = { "always", "everysec", "no", NULL };
static const char *const loglevel_names[] = { "debug", "info", "warning", "error", NULL };
static const char *const compression_names[] = { "none", "snappy", NULL };
static const char *const fallback_names[] = { "error", "async", NULL };
static const char *const acked_reads_names[] = { "no", "yes", NULL };

#define F(name, type, field, def, min, max, en, rt, help) \
    { name, type, offsetof(struct node_config, field), def, min, max, en, rt, help }

const struct conf_field node_config_fields[] = {
    F("bind", CONF_STR, bind, "127.0.0.1", 0, 0, NULL, 0, "address to listen on"),
    F("port", CONF_INT, port, "7000", 1, 65535, NULL, 0, "TCP port"),
    F("dir", CONF_STR, dir, "./strata-data", 0, 0, NULL, 0, "data directory (LevelDB)"),
    F("fsync", CONF_ENUM, fsync, "everysec", 0, 0, fsync_names, 1,
      "durability: always (reply after fsync), everysec, no"),
    F("maxclients", CONF_INT, maxclients, "10000", 1, 1000000, NULL, 1, "client limit"),
    F("requirepass", CONF_STR, requirepass, "", 0, 0, NULL, 1, "password clients must AUTH with"),
    /* Redis's names; runtime, read at the next connect (as Redis). */
    F("masteruser", CONF_STR, masteruser, "", 0, 0, NULL, 1,
      "ACL user a replica (and a migration source) authenticates as towards its master (target)"),
    F("masterauth", CONF_STR, masterauth, "", 0, 0, NULL, 1,
      "password for masteruser (or the default user); unset: requirepass"),
    F("aclfile", CONF_STR, aclfile, "", 0, 0, NULL, 0, "ACL file of users (read at start and by ACL LOAD)"),
    F("protected_mode", CONF_BOOL, protected_mode, "yes", 0, 0, NULL, 0,
      "refuse to start on a non-loopback bind or http_listen while the default user needs no password"),
    F("timeout", CONF_INT, timeout, "0", 0, 100000000, NULL, 1, "close idle clients after N seconds (0: never)"),
    F("log", CONF_STR, log, "", 0, 0, NULL, 0, "log file (default: stderr)"),
    F("loglevel", CONF_ENUM, loglevel, "info", 0, 0, loglevel_names, 1, "log level"),
    F("replicaof", CONF_STR, replicaof, "", 0, 0, NULL, 0, "HOST:PORT of the master to replicate"),
    /* LevelDB keeps blocks here uncompressed; a miss reads the block from
     * the mapped table file (page cache) and, compressed, decompresses it
     * (snappy: about 7% of the event loop's time a GET at 12.6M keys).
     * Sized for the hot blocks, not the data: issue 20's 12.6M keys are
     * 279 MB of tables but 1.59 GB uncompressed, and 256mb did no better
     * than 64mb there (GET at pipeline 16, two rounds each side by side:
     * 102k/72k against 108k/112k rps, 8.5-9.0 against 7.6 us of event
     * loop CPU a GET, on a loaded machine), for 200 MB more RssAnon.
     * Cost: this many bytes of anonymous memory once the cache is full. */
    F("block_cache", CONF_SIZE, block_cache, "64mb", 0, 1LL << 40, NULL, 0, "LevelDB block cache"),
    /* Memory: LevelDB maps every open table file, and the kernel counts the
     * mapped pages it touched in the process's RSS.  A memtable flush makes
     * one level-0 file of write_buffer bytes and a level-0 compaction reads
     * up to a dozen of them at once, so the write buffer (not only the block
     * cache) bounds peak RSS: 8mb kept a 4 GiB load near 130 MiB where 32mb
     * peaked above 400 MiB (tests/bench/bench_node.sh rss).  max_open_files
     * bounds the mapped files kept open between compactions.
     * Speed: every write is a memtable (skiplist) insert on the event loop,
     * and a smaller memtable is a shallower, more cache-resident skiplist:
     * tests/bench/bench_leveldb.sh, per put of the node's SET batches, had
     * the writer at about 460/540/640/790 ns at 2/4/8/16mb.  But more,
     * smaller level-0 files mean more level-0 compactions, each rewriting
     * the level-1 data it overlaps: a ZADD load at pipeline 1 cost the
     * compaction thread 11-13 us of CPU per ZADD at 4mb against 6.5-7.5 at
     * 8mb (main thread the same), and on 2 cores that thread competes with
     * the event loop.  16mb cut that by a third for ZADD (the third round of
     * bench_types.sh's order: 112 against 172 ticks of the compaction
     * thread per 200k ZADDs, 71k against 63k rps, event loop the same) but
     * a 4 GiB load peaked at 302 MiB RSS, over the 256 MiB budget.  Once a
     * lone master stopped storing the replication log (wal_keep), the same
     * load peaked at 197 MiB at 8mb and 201 MiB at 16mb, but the trade
     * turned: per ZADD (three rounds, bench_types.sh's order) the event
     * loop took 10.6-12.2 us at 16mb against 9.6-9.8 at 8mb and the
     * compaction thread saved only 0.6-0.8 us; 4mb cost the compaction
     * thread 3.4-6.9 us against 2.0-4.5.  8mb it stays.  Measured again
     * with the read cache keeping what is read back: 16mb halved the bytes
     * compaction wrote during ZADD rounds (9.5/15.7/19.6 MB against
     * 19.7/32/45 MB: each new file is merged on its own, see store_get)
     * and the compaction thread's CPU in the third round (2.0-2.6 us a
     * ZADD against 3.9-4.0), but the event loop took 0.8-1.0 us more (a
     * deeper memtable skiplist): a wash, and 8mb stays. */
    F("write_buffer", CONF_SIZE, write_buffer, "8mb", 1 << 20, 1LL << 32, NULL, 0, "LevelDB memtable size"),
    /* LevelDB's table cache: max_open_files - 10 table files kept open.
     * 128 thrashed once the data passed 128 files of 2 MB (issue 20: 12.6M
     * keys, 280 MB, 138 files: every random GET reopened a table, reading
     * its index and filter blocks again: 34k GET/s at pipeline 16 against
     * 77-109k at 1000).  Cost: an open table holds its index block in
     * anonymous memory (about 25 bytes a 4 KiB block of uncompressed
     * data) and, past the 1000 tables LevelDB maps, its bloom filter (10
     * bits a key); its mapped data pages are page cache (RssFile), which
     * the kernel reclaims.  For 2 MB files of incompressible 100-byte
     * values that is about 13 KB of index and 20 KB of filter a file, so
     * at most about 130 MB at 4096 files (8 GB of tables); values that
     * compress put more keys, and more index, in a file (README, "Sizing
     * a node").  File descriptors: LevelDB keeps none for a mapped file
     * and limits the others itself to a fifth of RLIMIT_NOFILE. */
    F("max_open_files", CONF_INT, max_open_files, "4096", 32, 1000000, NULL, 0, "LevelDB open files (table cache)"),
    /* Every write reads the key's metadata first; a miss here is a LevelDB
     * point read, several times the cost of the rest of a SET.  With 64k
     * entries, a 100k-key SET load missed 46% of the time; 1M entries
     * missed only on first touch.  Memory: 16 bytes an entry plus copies
     * of at most 64 bytes an entry on average, so about 80 MiB at most
     * for 1M, less while the cache fills (INFO meta_cache_hits/misses).
     * It pays for keys touched again while they are cached: at 12.6M keys
     * read and written uniformly at random it hit 3% of the time (94k
     * hits, 3.1M misses over GET and SET rounds; issue 20), about its
     * share of the keys, and a miss costs it a probe and a copy of the
     * record, small next to the LevelDB read (~2% of a SET's profile).
     * 1M stays: lower it first where memory is short (README). */
    F("meta_cache_entries", CONF_INT, meta_cache_entries, "1048576", 0, 1 << 24, NULL, 0,
      "entries of the metadata read cache (records up to 256 bytes; 0: off)"),
    /* snappy: issue 20's 12.6M keys took 273 MB compacted against 1589 MB
     * uncompressed (redis-benchmark's values compress 6x; real ones less),
     * and a random leveldb_get on the two cost the same CPU (floor, two
     * rounds: 4.9-5.3 against 5.0-5.1 us).  Smaller tables are less page
     * cache and disk for the same reads: it matters most when the data
     * does not fit in memory. */
    F("compression", CONF_ENUM, compression, "snappy", 0, 0, compression_names, 0, "LevelDB block compression"),
    F("client_query_buffer_limit", CONF_SIZE, client_query_buffer_limit, "1gb", 1 << 20, 1LL << 40, NULL, 1,
      "largest unparsed input per client"),
    F("client_output_buffer_limit", CONF_SIZE, client_output_buffer_limit, "1gb", 1 << 20, 1LL << 40, NULL, 1,
      "largest unsent output per client"),
    /* Redis's pubsub class default (32mb hard): a subscriber that does not
     * read fills its buffer with every message, not with its own replies. */
    F("pubsub_output_buffer_limit", CONF_SIZE, pubsub_output_buffer_limit, "32mb", 1 << 16, 1LL << 40, NULL, 1,
      "largest unsent output of a subscriber before it is closed"),
    F("proto_max_bulk_len", CONF_SIZE, proto_max_bulk_len, "512mb", 1 << 20, 1LL << 40, NULL, 1,
      "largest single argument"),
    /* Redis's range; values outside 1..500 are clamped (server_apply_hz),
     * as Redis clamps them. */
    F("hz", CONF_INT, hz, "10", 0, 2147483647, NULL, 1, "background task frequency (1..500)"),
    F("pidfile", CONF_STR, pidfile, "", 0, 0, NULL, 0, "write the pid here"),
    F("min_replica_acks", CONF_INT, min_replica_acks, "0", 0, 64, NULL, 1,
      "writes wait until this many replicas hold them (semi-synchronous)"),
    F("replica_ack_timeout_ms", CONF_INT, replica_ack_timeout_ms, "1000", 1, 3600000, NULL, 1,
      "how long a write waits for replica acks"),
    F("replica_ack_fallback", CONF_ENUM, replica_ack_fallback, "error", 0, 0, fallback_names, 1,
      "on ack timeout: error (-NOREPLICAS) or async"),
    F("acked_reads", CONF_ENUM, acked_reads, "no", 0, 0, acked_reads_names, 1,
      "yes: a master answers a read only once min_replica_acks replicas hold every write it may "
      "show, and not at all while fenced (linearizable reads)"),
    F("wal_retention_bytes", CONF_SIZE, wal_retention_bytes, "256mb", 0, 1LL << 50, NULL, 1,
      "replication log kept for reconnecting replicas"),
    F("wal_retention_ms", CONF_INT, wal_retention_ms, "3600000", 0, 1LL << 40, NULL, 1,
      "age past which replication log is trimmed; a node with no replica for this long keeps none (0: no limit)"),
    F("fence_lease_ms", CONF_INT, fence_lease_ms, "0", 0, 3600000, NULL, 1,
      "a master that hears from no replica or sentinel for this long refuses writes (0: off)"),
    F("notify_keyspace_events", CONF_STR, notify_keyspace_events, "", 0, 0, NULL, 1,
      "keyspace notification classes, as Redis's notify-keyspace-events (notify.c)"),
    F("tracking_table_max_keys", CONF_INT, tracking_table_max_keys, "1000000", 0, 9223372036854775807LL, NULL, 1,
      "keys remembered for client-side caching before some are invalidated (tracking.c; 0: no limit)"),
    F("metrics_listen", CONF_STR, metrics_listen, "", 0, 0, NULL, 0,
      "HOST:PORT for the Prometheus /metrics endpoint (empty: off)"),
    F("http_listen", CONF_STR, http_listen, "", 0, 0, NULL, 0,
      "HOST:PORT (or PORT, on 127.0.0.1) for the HTTP API, every command in JSON (empty: off)"),
    F("http_cors_origin", CONF_STR, http_cors_origin, "", 0, 0, NULL, 0,
      "Access-Control-Allow-Origin of the HTTP API's replies, \"*\" or an origin (empty: no CORS)"),
    /* TLS (tls.h): Redis's names, tls-port and so on, also accepted with
     * '-' (conf.c matches '-' and '_' alike).  A node with tls_port keeps
     * its plain port too. */
    F("tls_port", CONF_INT, tls_port, "0", 0, 65535, NULL, 0, "TCP port of TLS clients (0: none)"),
    F("tls_cert_file", CONF_STR, tls_cert_file, "", 0, 0, NULL, 0, "PEM certificate (chain) of the TLS port"),
    F("tls_key_file", CONF_STR, tls_key_file, "", 0, 0, NULL, 0, "PEM private key of tls_cert_file"),
    F("tls_ca_cert_file", CONF_STR, tls_ca_cert_file, "", 0, 0, NULL, 0,
      "PEM CA certificates client certificates must chain to"),
    F("tls_ca_cert_dir", CONF_STR, tls_ca_cert_dir, "", 0, 0, NULL, 0, "or a hashed directory of them"),
    F("tls_auth_clients", CONF_ENUM, tls_auth_clients, "yes", 0, 0, tls_auth_names, 0,
      "client certificates: yes (required), optional (checked if sent), no"),
    F("tls_protocols", CONF_STR, tls_protocols, "", 0, 0, NULL, 0,
      "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\" (empty: those two)"),
    F("tls_ciphers", CONF_STR, tls_ciphers, "", 0, 0, NULL, 0, "TLSv1.2 ciphers, OpenSSL's syntax (empty: OpenSSL's)"),
    F("tls_ciphersuites", CONF_STR, tls_ciphersuites, "", 0, 0, NULL, 0, "TLSv1.3 ciphersuites (empty: OpenSSL's)"),
    F("tls_prefer_server_ciphers", CONF_BOOL, tls_prefer_server_ciphers, "no", 0, 0, NULL, 0,
      "the server's cipher order wins"),
    /* The replica's link to its master over TLS (repl_replica.c): the
     * master's certificate is checked against tls_ca_cert_file/dir and
     * the address it was given; tls_client_cert_file/key_file, or else
     * tls_cert_file/key_file, is the replica's own (Redis's rule). */
    F("tls_replication", CONF_BOOL, tls_replication, "no", 0, 0, NULL, 0,
      "replicate over TLS: the master's address (replicaof, REPLICAOF) names its tls_port"),
    F("tls_client_cert_file", CONF_STR, tls_client_cert_file, "", 0, 0, NULL, 0,
      "PEM certificate this node presents to its master (empty: tls_cert_file)"),
    F("tls_client_key_file", CONF_STR, tls_client_key_file, "", 0, 0, NULL, 0,
      "PEM private key of tls_client_cert_file"),
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

int node_config_check(const char *name, const char *value, buf *why)
{
    if (!strcmp(name, "notify_keyspace_events") && notify_parse(value, strlen(value)) < 0) {
        buf_append_str(why, notify_class_error);
        return -1;
    }
    return 0;
}

int node_config_check_all(buf *why)
{
    const char *v = srv.cfg.notify_keyspace_events ? srv.cfg.notify_keyspace_events : "";
    if (node_config_check("notify_keyspace_events", v, why) == 0) return 0;
    buf_printf(why, " (notify_keyspace_events: '%s')", v);
    return -1;
}

void node_config_applied(const char *name)
{
    if (!strcmp(name, "requirepass")) node_acl_requirepass_changed();
    else if (!strcmp(name, "loglevel")) log_level_current = srv.cfg.loglevel;
    else if (!strcmp(name, "hz")) server_apply_hz();
    else if (!strcmp(name, "notify_keyspace_events")) notify_sync();
}
