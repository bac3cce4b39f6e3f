/* SPDX-License-Identifier: MIT */
/* libFuzzer target: STATE_DIR/network-at-install (net-allowance.c), the links that may stay up
 * before the first policy. What parses must format to the same bytes: no other spelling can
 * add a link. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net-allowance.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct net_allowance *a = NULL;
        char *text = malloc(size ? size : 1), *again = NULL;
        size_t n;

        if (!text)
                return 0;
        memcpy(text, data, size);
        if (net_allowance_parse(text, size, &a) == 0) {
                if (net_allowance_format(a, &again, &n) < 0 || n != size || memcmp(again, text, size) != 0)
                        abort();
                free(again);
                net_allowance_free(a);
        }
        free(text);
        return 0;
}
