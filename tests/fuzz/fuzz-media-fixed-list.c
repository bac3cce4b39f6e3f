/* SPDX-License-Identifier: MIT */
/* libFuzzer target: STATE_DIR/disks-at-install and STATE_DIR/fixed-disks (media-fixed.c), the
 * workstation's own disks that kyoka never touches, read by kyokad and by the udev helper as
 * root. What parses must format to the same bytes (no other spelling can add a disk), and
 * every entry names a serial or a path (none that matches every disk). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media-fixed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct media_fixed_list *l = NULL;
        char *text = malloc(size ? size : 1), *again = NULL;
        size_t n;

        if (!text)
                return 0;
        memcpy(text, data, size);
        if (media_fixed_list_parse(text, size, &l) == 0) {
                if (media_fixed_list_format(l, &again, &n) < 0 || n != size || memcmp(again, text, size) != 0)
                        abort();
                for (size_t i = 0; i < l->n; i++) {
                        const struct media_fixed_entry *e = &l->entries[i];
                        if (!e->serial[0] && !e->path[0])
                                abort();
                        /* A disk with exactly the entry's keys is on the list. */
                        struct media_identity id = { .bus = e->bus };
                        memcpy(id.vendor, e->vendor, sizeof id.vendor);
                        memcpy(id.model, e->model, sizeof id.model);
                        memcpy(id.serial, e->serial, sizeof id.serial);
                        memcpy(id.path, e->path, sizeof id.path);
                        if (!media_fixed_list_contains(l, &id))
                                abort();
                }
                free(again);
                media_fixed_list_free(l);
        }
        free(text);
        return 0;
}
