/* SPDX-License-Identifier: MIT */
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int parse_digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int time_parse_iso8601(const char *s, int64_t *ret, bool *ret_date_only) {
        int year, mon, day, hour = 0, min = 0, sec = 0;
        bool date_only = true, has_offset = false;
        long offset = 0;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &year) < 0 || expect(&p, '-') < 0 || parse_digits(&p, 2, &mon) < 0 ||
            expect(&p, '-') < 0 || parse_digits(&p, 2, &day) < 0)
                return -EINVAL;

        if (*p == 'T' || *p == ' ') {
                p++;
                date_only = false;
                if (parse_digits(&p, 2, &hour) < 0 || expect(&p, ':') < 0 || parse_digits(&p, 2, &min) < 0)
                        return -EINVAL;
                if (*p == ':') {
                        p++;
                        if (parse_digits(&p, 2, &sec) < 0)
                                return -EINVAL;
                }
                if (*p == 'Z') {
                        p++;
                        has_offset = true;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p == '-' ? -1 : 1, oh, om;
                        p++;
                        if (parse_digits(&p, 2, &oh) < 0 || expect(&p, ':') < 0 || parse_digits(&p, 2, &om) < 0)
                                return -EINVAL;
                        if (oh > 14 || om > 59)
                                return -EINVAL;
                        has_offset = true;
                        offset = sign * (oh * 3600L + om * 60L);
                }
        }
        if (*p != 0)
                return -EINVAL;
        if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
                return -EINVAL;

        struct tm tm = {
                .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                .tm_hour = hour, .tm_min = min, .tm_sec = sec, .tm_isdst = -1,
        };
        struct tm check;
        time_t t;

        if (has_offset) {
                t = timegm(&tm);
                if (t == (time_t) -1 || !gmtime_r(&t, &check))
                        return -EINVAL;
                t -= offset;
        } else {
                t = mktime(&tm);
                if (t == (time_t) -1 || !localtime_r(&t, &check))
                        return -EINVAL;
        }
        /* mktime/timegm normalise 02-30 to 03-02: a changed day means the date did not exist. */
        if (check.tm_mday != day || check.tm_mon != mon - 1)
                return -EINVAL;

        *ret = (int64_t) t;
        if (ret_date_only)
                *ret_date_only = date_only;
        return 0;
}

int time_format_iso8601(int64_t t, char *buf, size_t size) {
        time_t tt = (time_t) t;
        struct tm tm;

        if (!localtime_r(&tt, &tm))
                return -EINVAL;
        long off = tm.tm_gmtoff;
        char sign = off < 0 ? '-' : '+';
        if (off < 0)
                off = -off;
        int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, (int) (off / 3600) % 100,
                         (int) (off / 60) % 60);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int time_format_date(int64_t t, char *buf, size_t size) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!localtime_r(&tt, &tm))
                return -EINVAL;
        int n = snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int64_t time_next_local_midnight(int64_t t) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!localtime_r(&tt, &tm))
                return TIME_INFINITY;
        tm.tm_mday += 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        time_t r = mktime(&tm);
        return r == (time_t) -1 ? TIME_INFINITY : (int64_t) r;
}
