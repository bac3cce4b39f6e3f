/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the anti-rollback state file (STATE_DIR/policy.state). Whoever can damage
 * it must not make kyokad read "nothing accepted" or an older serial: the parser accepts the one
 * spelling rollback_commit writes and nothing else, so what parses must format to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy-rollback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct rollback_state st;
        char again[ROLLBACK_STATE_TEXT_MAX];
        char *text = malloc(size ? size : 1);

        if (!text)
                return 0;
        memcpy(text, data, size);      /* exact size: no NUL after the last byte */
        if (rollback_state_parse(text, size, &st) == 0) {
                int n = rollback_state_format(st.serial, st.sha256, again, sizeof again);
                if (n < 0 || (size_t) n != size || memcmp(again, text, size) != 0)
                        abort();
        }
        free(text);
        return 0;
}
