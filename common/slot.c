/* slot: see slot.h.  The table is generated at first use from the
 * polynomial 0x1021 instead of being pasted in. */
#include "slot.h"

static uint16_t crc16_table[256];
static int crc16_ready;

static void crc16_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int k = 0; k < 8; k++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        crc16_table[i] = c;
    }
    crc16_ready = 1;
}

uint16_t crc16_xmodem(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;
    if (!crc16_ready) crc16_init();
    while (len--) crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ *p++) & 0xff]);
    return crc;
}

unsigned slot_of_key(const char *key, size_t len)
{
    size_t s, e;
    for (s = 0; s < len; s++)
        if (key[s] == '{') break;
    if (s < len) {
        for (e = s + 1; e < len; e++)
            if (key[e] == '}') break;
        if (e < len && e != s + 1)
            return crc16_xmodem(key + s + 1, e - s - 1) & (SLOT_COUNT - 1);
    }
    return crc16_xmodem(key, len) & (SLOT_COUNT - 1);
}

int slot_of_pattern(const char *pat, size_t len)
{
    long open = -1;   /* index of the first '{'; -2 after an empty tag "{}" */
    for (size_t i = 0; i < len; i++) {
        char ch = pat[i];
        if (ch == '*' || ch == '?' || ch == '[' || ch == '\\') return -1;
        if (open == -1 && ch == '{') {
            open = (long)i;
        } else if (open >= 0 && ch == '}') {
            if ((size_t)open + 1 == i) open = -2;
            else return crc16_xmodem(pat + open + 1, i - (size_t)open - 1) & (SLOT_COUNT - 1);
        }
    }
    return crc16_xmodem(pat, len) & (SLOT_COUNT - 1);
}
