/* SPDX-License-Identifier: MIT */
/* ISO 8601 dates and times as the policy and the ledger write them.
 * A date without a time means local midnight: permits are written on paper in local dates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIME_INFINITY INT64_MAX
#define TIME_NEG_INFINITY INT64_MIN
#define ISO8601_MAX 32 /* "2026-11-22T13:05:09+09:00" plus NUL, with room */

/* Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS", optionally followed by "Z"
 * or "+HH:MM"/"-HH:MM" (a space may stand for the "T"). Without an offset the time is local.
 * Rejects anything else, including impossible dates (2026-02-30). *ret_date_only tells whether
 * only a date was given. Returns 0 or -EINVAL. */
int time_parse_iso8601(const char *s, int64_t *ret, bool *ret_date_only);

/* Formats T as local time with its offset: "2026-11-22T13:05:09+09:00". */
int time_format_iso8601(int64_t t, char *buf, size_t size);

/* Formats T as a local date: "2026-11-22". */
int time_format_date(int64_t t, char *buf, size_t size);

/* The start of the next local day after the day that contains T (for inclusive end dates). */
int64_t time_next_local_midnight(int64_t t);
