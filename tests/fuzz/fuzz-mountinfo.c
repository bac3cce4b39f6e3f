/* SPDX-License-Identifier: MIT */
/* /proc/self/mountinfo lines as the carry-out record reads them (daemon/carry.c): a mount point
 * is named by whoever mounted the medium (a desktop names it after the volume label, which the
 * medium chooses). A line that parses has absolute root and mount point, no longer than the
 * line; the path a file gets from it fits its buffer or is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char line[4096], out[64];
        struct carry_mount m;

        if (size >= sizeof line)
                return 0;
        memcpy(line, data, size);
        line[size] = 0;
        if (carry_mountinfo_parse_line(line, &m) == 0) {
                if (m.root[0] != '/' || m.mount_point[0] != '/' || strlen(m.root) > size || strlen(m.mount_point) > size)
                        abort();
                int r = carry_medium_path("sdb1", m.root, m.mount_point, m.mount_point, out, sizeof out);
                if (r == 0 && strlen(out) >= sizeof out)
                        abort();
        }
        return 0;
}
