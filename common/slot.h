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

#endif
