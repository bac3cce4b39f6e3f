/* SPDX-License-Identifier: MIT */
/* kyokad's logging: structured journal entries under systemd, plain lines on stderr otherwise.
 * Log once, where the decision about an error is made; *_errno variants return the negative
 * errno they were given so that `return log_error_errno(r, "...: %m");` reads naturally. */
#pragma once

#include <syslog.h>

#include "macro.h"

void log_setup(void);                  /* journal if JOURNAL_STREAM or INVOCATION_ID says we run under systemd */
void log_set_max_level(int level);

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...) log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
