/* slot: Redis Cluster's key -> slot mapping.
 *
 * slot = CRC16-XMODEM(key) mod 16384, where only the part between the first
 * '{' and the next '}' is hashed if that part is non-empty (the hash tag). */
#ifndef STRATA_SLOT_H
#define STRATA_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t crc16_xmodem(const void *buf, size_t len);
unsigned slot_of_key(const char *key, size_t len);
/* The one slot every key a glob pattern can match hashes to, or -1 when
 * they may fall in several: Redis Cluster's patternHashSlot (a wildcard
 * or an escape before a complete, non-empty hash tag means "any slot"). */
int slot_of_pattern(const char *pat, size_t len);

#endif
