/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

static bool use_journal;
static int max_level = LOG_INFO;

void log_setup(void) {
        use_journal = getenv("JOURNAL_STREAM") || getenv("INVOCATION_ID");
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        /* %m means the error we were given, not whatever errno happens to hold. */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (use_journal)
                sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "CODE_FILE=%s", file, "CODE_LINE=%i", line,
                                "CODE_FUNC=%s", func, error ? "ERRNO=%i" : NULL, error, NULL);
        else
                fprintf(stderr, "kyokad: %s\n", buf);
        return -error;
}
