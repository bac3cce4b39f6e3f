/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an export's MANIFEST, as `policyctl verify-export` parses it. The format is
 * strict, so a manifest that parses must be exactly what manifest_format writes for what was
 * read: one spelling per manifest, nothing interpreted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct manifest m;
        char err[256] = "";
        char *text = malloc(size ? size : 1), *again = NULL;
        size_t again_size = 0;

        if (!text)
                return 0;
        memcpy(text, data, size);      /* exact size: no NUL after the last byte */
        int r = manifest_parse(text, size, &m, err, sizeof err);
        if (r < 0) {
                if (!err[0])
                        abort();
        } else {
                if (m.n_files > MANIFEST_FILES_MAX)
                        abort();
                if (manifest_format(&m, &again, &again_size) < 0)
                        abort();
                if (again_size != size || memcmp(again, text, size) != 0)
                        abort();
        }
        free(again);
        free(text);
        return 0;
}
