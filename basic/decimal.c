/* SPDX-License-Identifier: MIT */
/* Decimal numbers (decimal.h). */
#include "decimal.h"

#include <stddef.h>

char *decimal_put_int64(char *p, int64_t v) {
        char tmp[DECIMAL_INT64_MAX];
        size_t n = 0;
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        do
                tmp[n++] = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
                *p++ = '-';
        while (n > 0)
                *p++ = tmp[--n];
        return p;
}
