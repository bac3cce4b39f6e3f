/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the USB access file RUNTIME_DIR/usb/SYSNAME (block-access.c), read by the
 * udev helper as root to decide whether a USB device's block devices are opened to group disk,
 * now with the diskseq line that binds it to the disks whose virus scan passed. What parses is
 * within its bounds, says the same when written again in kyokad's form, and a bound file never
 * opens a disk it does not name. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block-access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct usb_access a, b;
        char again[512];
        int n;

        if (usb_access_parse((const char *) data, size, &a) < 0)
                return 0;
        if (a.n_diskseq > USB_ACCESS_DISKSEQ_MAX || (!a.bound && a.n_diskseq > 0))
                abort();
        if (a.block != BLOCK_ACCESS_READ_ONLY && a.block != BLOCK_ACCESS_READ_WRITE && a.block != BLOCK_ACCESS_HELD)
                abort();
        n = snprintf(again, sizeof again, "%s\nhidraw=%s\n", block_access_to_string(a.block),
                     hidraw_access_to_string(a.hidraw));
        if (a.bound) {
                n += snprintf(again + n, sizeof again - n, "diskseq=");
                for (size_t i = 0; i < a.n_diskseq; i++) {
                        if (a.diskseq[i] == 0)
                                abort();
                        n += snprintf(again + n, sizeof again - n, "%s%" PRIu64, i ? " " : "", a.diskseq[i]);
                }
                n += snprintf(again + n, sizeof again - n, "\n");
        }
        if (n < 0 || (size_t) n >= sizeof again || usb_access_parse(again, (size_t) n, &b) < 0 ||
            a.block != b.block || a.hidraw != b.hidraw || a.bound != b.bound || a.n_diskseq != b.n_diskseq ||
            memcmp(a.diskseq, b.diskseq, a.n_diskseq * sizeof a.diskseq[0]) != 0)
                abort();
        /* Bound: an sg node, an unknown disk, and a disk it does not name are held. */
        if (a.bound) {
                if (usb_access_of_node(&a, false, a.n_diskseq ? a.diskseq[0] : 1) != BLOCK_ACCESS_HELD ||
                    usb_access_of_node(&a, true, 0) != BLOCK_ACCESS_HELD)
                        abort();
                uint64_t other = 1;
                for (size_t i = 0; i < a.n_diskseq; i++)
                        if (a.diskseq[i] >= other && a.diskseq[i] < UINT64_MAX)
                                other = a.diskseq[i] + 1;
                bool named = false;
                for (size_t i = 0; i < a.n_diskseq; i++)
                        named = named || a.diskseq[i] == other;
                if (!named && usb_access_of_node(&a, true, other) != BLOCK_ACCESS_HELD)
                        abort();
        } else if (usb_access_of_node(&a, true, 0) != a.block)
                abort();
        return 0;
}
