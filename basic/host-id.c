/* SPDX-License-Identifier: MIT */
#include "host-id.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "hexutil.h"
#include "macro.h"

void host_id_parse(const char *text, char ret[static HOST_ID_SIZE]) {
        size_t n = 0;

        ret[0] = 0;
        for (const char *p = text; *p && *p != '\n'; p++) {
                if (*p == '-')
                        continue;
                if (hexval(*p) < 0 || n == HOST_ID_SIZE - 1)
                        return;
                ret[n++] = (char) (*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
        }
        ret[n == HOST_ID_SIZE - 1 ? n : 0] = 0;
}

static void read_id(const char *path, char ret[static HOST_ID_SIZE]) {
        _cleanup_free_ char *text = NULL;

        ret[0] = 0;
        if (read_file_bounded(path, 128, &text, NULL) >= 0)
                host_id_parse(text, ret);
}

void host_id_read(struct host_id *ret) {
        struct host_id h = {};

        if (gethostname(h.hostname, sizeof h.hostname - 1) < 0)
                h.hostname[0] = 0;
        h.hostname[sizeof h.hostname - 1] = 0;
        read_id("/etc/machine-id", h.machine_id);
        read_id("/proc/sys/kernel/random/boot_id", h.boot_id);
        *ret = h;
}
