/* SPDX-License-Identifier: MIT */
/* libconfig 1.5 as the oracle of policy/policy-config.c: the same text read by both must be
 * accepted by both with the same tree (types, names, values, source lines), or refused by both
 * with the same message on the same line. Shared by tests/unit/test-policy-config.c and
 * tests/fuzz/fuzz-policy-config.c (a header, so that each links it on its own). */
#pragma once

#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-config.h"

static inline void oracle_why(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void oracle_why(char *why, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
}

static inline int oracle_compare_node(const config_setting_t *a, const struct pconf_node *b, const char *path, char *why,
                                      size_t size) {
        char sub[256];
        int t = config_setting_type(a);

        if (t != (int) pconf_type(b)) {
                oracle_why(why, size, "%s: type %d (libconfig) vs %d", path, t, (int) pconf_type(b));
                return -1;
        }
        const char *an = config_setting_name(a), *bn = pconf_name(b);
        if ((an == NULL) != (bn == NULL) || (an && strcmp(an, bn) != 0)) {
                oracle_why(why, size, "%s: name %s vs %s", path, an ?: "(none)", bn ?: "(none)");
                return -1;
        }
        if (config_setting_source_line(a) != pconf_line(b)) {
                oracle_why(why, size, "%s: line %u (libconfig) vs %u", path, config_setting_source_line(a), pconf_line(b));
                return -1;
        }
        switch (t) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                if (config_setting_get_int64(a) != pconf_int64(b) ||
                    (config_setting_get_format(a) == CONFIG_FORMAT_HEX) != b->hex) {
                        oracle_why(why, size, "%s: integer %lld%s vs %lld%s", path, (long long) config_setting_get_int64(a),
                                   config_setting_get_format(a) == CONFIG_FORMAT_HEX ? " hex" : "",
                                   (long long) pconf_int64(b), b->hex ? " hex" : "");
                        return -1;
                }
                break;
        case CONFIG_TYPE_BOOL:
                if (config_setting_get_bool(a) != pconf_int64(b)) {
                        oracle_why(why, size, "%s: boolean differs", path);
                        return -1;
                }
                break;
        case CONFIG_TYPE_FLOAT: {
                double x = config_setting_get_float(a), y = pconf_float(b);
                if (!(x == y || (isnan(x) && isnan(y)))) {
                        oracle_why(why, size, "%s: float %.17g vs %.17g", path, x, y);
                        return -1;
                }
                break;
        }
        case CONFIG_TYPE_STRING: {
                const char *s = config_setting_get_string(a);
                if (strcmp(s, pconf_string(b)) != 0 || strlen(pconf_string(b)) != b->v.str.len) {
                        oracle_why(why, size, "%s: string \"%.40s\" vs \"%.40s\"", path, s, pconf_string(b));
                        return -1;
                }
                break;
        }
        default: {
                int n = config_setting_length(a);
                if ((size_t) n != pconf_length(b)) {
                        oracle_why(why, size, "%s: %d elements (libconfig) vs %zu", path, n, pconf_length(b));
                        return -1;
                }
                for (int i = 0; i < n; i++) {
                        snprintf(sub, sizeof sub, "%.200s/%d", path, i);
                        if (oracle_compare_node(config_setting_get_elem(a, (unsigned) i), pconf_elem(b, (size_t) i), sub, why,
                                                size) < 0)
                                return -1;
                }
        }
        }
        return 0;
}

/* 0 if libconfig and pconf_parse agree on TEXT (or the text is one libconfig cannot be asked
 * about: @include would open files), -1 with WHY otherwise. *RET_ACCEPTED: whether it parsed. */
static inline int oracle_compare(const char *text, size_t len, char *why, size_t size, bool *ret_accepted) {
        struct pconf *c = NULL;
        struct pconf_error e = {};
        config_t cfg;
        int r, result = 0;

        *ret_accepted = false;
        r = pconf_parse(text, len, &c, &e);
        if (r == -ENOMEM) {
                oracle_why(why, size, "out of memory");
                return -1;
        }
        if (memchr(text, 0, len)) {
                if (r != -EINVAL || e.kind != PCONF_ERROR_BOUND) {
                        oracle_why(why, size, "a NUL byte was not refused");
                        result = -1;
                }
                pconf_free(c);
                return result;
        }
        if (memmem(text, len, "@include", 8) || (r == -EINVAL && e.kind == PCONF_ERROR_BOUND)) {
                pconf_free(c);
                return 0;
        }

        char *buf = malloc(len + 1);
        if (!buf) {
                pconf_free(c);
                oracle_why(why, size, "out of memory");
                return -1;
        }
        memcpy(buf, text, len);
        buf[len] = 0;
        config_init(&cfg);
        bool ok = config_read_string(&cfg, buf);
        if (ok != (r == 0)) {
                if (ok)
                        oracle_why(why, size, "libconfig accepts, pconf refuses: line %u: %s", e.line, e.text);
                else
                        oracle_why(why, size, "libconfig refuses (line %d: %s), pconf accepts", config_error_line(&cfg),
                                   config_error_text(&cfg));
                result = -1;
        } else if (!ok) {
                if ((unsigned) config_error_line(&cfg) != e.line || strcmp(config_error_text(&cfg) ?: "", e.text) != 0) {
                        oracle_why(why, size, "libconfig: line %d: %s; pconf: line %u: %s", config_error_line(&cfg),
                                   config_error_text(&cfg), e.line, e.text);
                        result = -1;
                }
        } else {
                *ret_accepted = true;
                result = oracle_compare_node(config_root_setting(&cfg), pconf_root(c), "", why, size);
        }
        config_destroy(&cfg);
        free(buf);
        pconf_free(c);
        return result;
}
