/* SPDX-License-Identifier: MIT */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

bool trace_enabled = false;

void trace_setup(void) {
        const char *e = secure_getenv(KYOKAD_TRACE_ENV);
        trace_enabled = e && streq(e, "1");
}

void trace_point_internal(const char *name, const char *stage) {
        struct timespec ts;
        char line[160];

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        int n = snprintf(line, sizeof line, "kyokad-trace %llu %s %s\n",
                         (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec,
                         name ?: "-", stage);
        if (n > 0)
                (void) !write(STDERR_FILENO, line, (size_t) MIN(n, (int) sizeof line - 1));
}
