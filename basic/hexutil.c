/* SPDX-License-Identifier: MIT */
#include "hexutil.h"

#include <errno.h>
#include <string.h>

void hex_encode(const uint8_t *data, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[data[i] >> 4];
                out[2 * i + 1] = digits[data[i] & 15];
        }
        out[2 * n] = 0;
}

static int digit(char c, enum hex_case hc) {
        if (hc == HEX_LOWERCASE && c >= 'A' && c <= 'F')
                return -1;
        return hexval(c);
}

int hex_parse_bytes(const char *s, size_t len, char sep, enum hex_case c, uint8_t *out, size_t n) {
        size_t step = sep ? 3 : 2;

        if (n == 0 ? len != 0 : len != step * n - (step - 2))
                return -EINVAL;
        /* Everything is checked before OUT is written. */
        for (size_t i = 0; i < n; i++) {
                const char *p = s + step * i;
                if (digit(p[0], c) < 0 || digit(p[1], c) < 0 || (sep && i + 1 < n && p[2] != sep))
                        return -EINVAL;
        }
        for (size_t i = 0; out && i < n; i++) {
                const char *p = s + step * i;
                out[i] = (uint8_t) (hexval(p[0]) << 4 | hexval(p[1]));
        }
        return 0;
}

int hex_decode(const char *s, uint8_t *out, size_t n) {
        return hex_parse_bytes(s, strlen(s), 0, HEX_ANY_CASE, out, n);
}

int hex_parse_u16(const char *s, size_t len, uint16_t *ret) {
        uint8_t b[2];

        if (hex_parse_bytes(s, len, 0, HEX_ANY_CASE, b, 2) < 0)
                return -EINVAL;
        *ret = (uint16_t) (b[0] << 8 | b[1]);
        return 0;
}
