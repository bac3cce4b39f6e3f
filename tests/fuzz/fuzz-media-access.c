/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the media access file RUNTIME_DIR/media/NAME (block-access.c), read by the
 * udev helper as root to decide whether a disk is opened to group disk. Only the two exact
 * forms kyokad writes parse, and they say what was written. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block-access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        enum media_access a;
        uint64_t seq;
        char again[64];

        if (media_access_parse((const char *) data, size, &a, &seq) < 0)
                return 0;
        if (a != MEDIA_ACCESS_READ_ONLY && a != MEDIA_ACCESS_READ_WRITE)
                abort();
        int n = snprintf(again, sizeof again, "%s\ndiskseq=%" PRIu64 "\n", media_access_to_string(a), seq);
        if (n < 0 || (size_t) n != size || memcmp(again, data, size) != 0)
                abort();
        return 0;
}
