/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <string.h>

size_t utf8_decode(const char *str, size_t len, uint32_t *ret_cp) {
        const uint8_t *s = (const uint8_t *) str;
        uint8_t lo = 0x80, hi = 0xbf;   /* allowed range of the second byte (RFC 3629, table 3-7) */
        uint32_t cp;
        size_t n;

        if (len == 0)
                return 0;
        if (s[0] < 0x80) {
                if (ret_cp)
                        *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0f;
                if (s[0] == 0xe0)
                        lo = 0xa0;      /* overlong */
                else if (s[0] == 0xed)
                        hi = 0x9f;      /* surrogates */
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07;
                if (s[0] == 0xf0)
                        lo = 0x90;      /* overlong */
                else if (s[0] == 0xf4)
                        hi = 0x8f;      /* > U+10FFFF */
        } else
                return 0;               /* continuation byte, C0/C1 (overlong), F5..FF */

        if (len < n || s[1] < lo || s[1] > hi)
                return 0;
        cp = (cp << 6) | (s[1] & 0x3f);
        for (size_t i = 2; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (ret_cp)
                *ret_cp = cp;
        return n;
}

size_t utf8_decode_str(const char *s, uint32_t *ret_cp) {
        return utf8_decode(s, strnlen(s, 4), ret_cp);
}

bool utf8_is_valid(const char *s) {
        while (*s) {
                size_t n = utf8_decode_str(s, NULL);
                if (n == 0)
                        return false;
                s += n;
        }
        return true;
}

bool utf8_is_unsafe_codepoint(uint32_t cp) {
        return cp < 0x20 || cp == 0x7f ||
                (cp >= 0x80 && cp <= 0x9f) ||
                cp == 0x2028 || cp == 0x2029 ||
                (cp >= 0x202a && cp <= 0x202e) ||
                (cp >= 0x2066 && cp <= 0x2069);
}

size_t utf8_cut(const char *s, size_t len, size_t max) {
        size_t n = max;

        if (len <= max)
                return len;
        while (n > 0 && ((uint8_t) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}
