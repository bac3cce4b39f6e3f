/* SPDX-License-Identifier: MIT */
/* The scan worker's messages (scan-protocol.h). */
#include "scan-protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "identity.h"
#include "macro.h"
#include "utf8.h"

static const char *const result_names[_SCAN_RESULT_MAX] = {
        [SCAN_RESULT_CLEAN] = "clean",
        [SCAN_RESULT_INFECTED] = "infected",
        [SCAN_RESULT_FAULT] = "fault",
};

static const char *const fault_names[_SCAN_FAULT_MAX] = {
        [SCAN_FAULT_NONE] = "none",
        [SCAN_FAULT_SCANNER_MISSING] = "scanner-missing",
        [SCAN_FAULT_SCANNER_ERROR] = "scanner-error",
        [SCAN_FAULT_SCANNER_TIMEOUT] = "scanner-timeout",
        [SCAN_FAULT_DATABASE_UNKNOWN] = "database-unknown",
        [SCAN_FAULT_DATABASE_OLD] = "database-old",
        [SCAN_FAULT_TIME_EXCEEDED] = "time-exceeded",
        [SCAN_FAULT_SIZE_EXCEEDED] = "size-exceeded",
        [SCAN_FAULT_UNMOUNTABLE] = "unmountable",
        [SCAN_FAULT_UNREADABLE] = "unreadable",
        [SCAN_FAULT_NO_MEDIUM] = "no-medium",
        [SCAN_FAULT_WORKER] = "worker-failed",
};

const char *scan_result_to_string(enum scan_result r) {
        return (unsigned) r < ELEMENTSOF(result_names) ? result_names[r] : NULL;
}

const char *scan_fault_to_string(enum scan_fault f) {
        return (unsigned) f < ELEMENTSOF(fault_names) ? fault_names[f] : NULL;
}

static int name_index(const char *const *names, size_t n_names, const char *s, size_t n) {
        for (size_t i = 0; i < n_names; i++)
                if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
                        return (int) i;
        return -EBADMSG;
}

int scan_fault_from_string(const char *s, size_t n, enum scan_fault *ret) {
        int i = name_index(fault_names, ELEMENTSOF(fault_names), s, n);
        if (i < 0)
                return i;
        *ret = (enum scan_fault) i;
        return 0;
}

/* Text as identity_sanitize() leaves it: valid UTF-8, no unsafe code point, a backslash only
 * as the start of an escape. */
static bool text_sanitised(const char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                if (s[i] == '\\') {
                        if (!identity_is_escape(s + i, n - i))
                                return false;
                        i += 4;
                        continue;
                }
                size_t k = utf8_decode(s + i, n - i, &cp);
                if (k == 0 || cp == 0 || utf8_is_unsafe_codepoint(cp))
                        return false;
                i += k;
        }
        return true;
}

/* The next space-separated word of [*p, end): at least one byte. */
static bool next_word(const char **p, const char *end, const char **ret, size_t *ret_n) {
        const char *s = *p;
        if (s >= end)
                return false;
        const char *e = memchr(s, ' ', (size_t) (end - s)) ?: end;
        if (e == s)
                return false;
        *ret = s;
        *ret_n = (size_t) (e - s);
        *p = e < end ? e + 1 : end;
        return true;
}

/* A decimal number without sign or leading zeros (but "0"), at most MAX. */
static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (max - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *ret = v;
        return true;
}

static bool copy_text(const char *s, size_t n, char *dst, size_t size) {
        if (n >= size || !text_sanitised(s, n))
                return false;
        memcpy(dst, s, n);
        dst[n] = 0;
        return true;
}

int scan_message_parse(const char *line, size_t n, struct scan_message *ret) {
        struct scan_message m = {};
        const char *p = line, *end = line + n, *w;
        size_t wn;
        uint64_t v;

        if (n > SCAN_LINE_MAX || !next_word(&p, end, &w, &wn))
                return -EBADMSG;

        if (wn == 8 && memcmp(w, "progress", 8) == 0) {
                m.kind = SCAN_MSG_PROGRESS;
                if (!next_word(&p, end, &w, &wn) || !parse_u64(w, wn, INT64_MAX, &m.files) ||
                    !next_word(&p, end, &w, &wn) || !parse_u64(w, wn, INT64_MAX, &m.bytes) || w + wn != end)
                        return -EBADMSG;
        } else if (wn == 6 && memcmp(w, "engine", 6) == 0) {
                m.kind = SCAN_MSG_ENGINE;
                if (!next_word(&p, end, &w, &wn) || !parse_u64(w, wn, INT64_MAX, &v))
                        return -EBADMSG;
                m.database_time = (int64_t) v;
                /* The rest of the line, spaces and all. */
                if (p >= end || !copy_text(p, (size_t) (end - p), m.text, sizeof m.text))
                        return -EBADMSG;
        } else if (wn == 8 && memcmp(w, "infected", 8) == 0) {
                m.kind = SCAN_MSG_INFECTED;
                if (!next_word(&p, end, &w, &wn) || !parse_u64(w, wn, SCAN_PATH_MAX - 1, &v) ||
                    !next_word(&p, end, &w, &wn) || !copy_text(w, wn, m.signature, sizeof m.signature))
                        return -EBADMSG;
                if (v == 0 || (size_t) (end - p) != v || !copy_text(p, (size_t) v, m.path, sizeof m.path))
                        return -EBADMSG;
        } else if (wn == 6 && memcmp(w, "result", 6) == 0) {
                int i;
                m.kind = SCAN_MSG_RESULT;
                if (!next_word(&p, end, &w, &wn) ||
                    (i = name_index(result_names, ELEMENTSOF(result_names), w, wn)) < 0)
                        return -EBADMSG;
                m.result = (enum scan_result) i;
                if (!next_word(&p, end, &w, &wn) || scan_fault_from_string(w, wn, &m.fault) < 0)
                        return -EBADMSG;
                /* A fault names one, and only a fault does. */
                if ((m.result == SCAN_RESULT_FAULT) != (m.fault != SCAN_FAULT_NONE))
                        return -EBADMSG;
                if (!next_word(&p, end, &w, &wn) || !parse_u64(w, wn, 4095, &v))
                        return -EBADMSG;
                m.error = (int) v;
                if (!next_word(&p, end, &w, &wn) || !parse_u64(w, wn, INT64_MAX, &m.files) ||
                    !next_word(&p, end, &w, &wn) || !parse_u64(w, wn, INT64_MAX, &m.bytes) || w + wn != end)
                        return -EBADMSG;
        } else
                return -EBADMSG;

        *ret = m;
        return 0;
}

int scan_message_format(const struct scan_message *m, char *buf, size_t size) {
        int n;

        switch (m->kind) {
        case SCAN_MSG_PROGRESS:
                n = snprintf(buf, size, "progress %" PRIu64 " %" PRIu64 "\n", m->files, m->bytes);
                break;
        case SCAN_MSG_ENGINE:
                if (m->database_time < 0 || !m->text[0] || !text_sanitised(m->text, strlen(m->text)))
                        return -EINVAL;
                n = snprintf(buf, size, "engine %" PRId64 " %s\n", m->database_time, m->text);
                break;
        case SCAN_MSG_INFECTED: {
                size_t pl = strlen(m->path);
                if (!m->signature[0] || strchr(m->signature, ' ') || !text_sanitised(m->signature, strlen(m->signature)) ||
                    pl == 0 || !text_sanitised(m->path, pl))
                        return -EINVAL;
                n = snprintf(buf, size, "infected %zu %s %s\n", pl, m->signature, m->path);
                break;
        }
        case SCAN_MSG_RESULT:
                if (!scan_result_to_string(m->result) || !scan_fault_to_string(m->fault) || m->error < 0 ||
                    m->error > 4095 || (m->result == SCAN_RESULT_FAULT) != (m->fault != SCAN_FAULT_NONE))
                        return -EINVAL;
                n = snprintf(buf, size, "result %s %s %d %" PRIu64 " %" PRIu64 "\n", scan_result_to_string(m->result),
                             scan_fault_to_string(m->fault), m->error, m->files, m->bytes);
                break;
        default:
                return -EINVAL;
        }
        if (n < 0 || (size_t) n >= size || (size_t) n > SCAN_LINE_MAX + 1)
                return -EINVAL;
        return n;
}

/* An absolute path as the request may name it: printable ASCII without spaces, no "//", no "."
 * or ".." component, shorter than SIZE. */
static bool request_path_ok(const char *s, size_t n, size_t size) {
        if (n < 2 || n >= size || s[0] != '/' || s[n - 1] == '/')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] <= ' ' || s[i] > '~')
                        return false;
                if (s[i] == '/') {
                        size_t k = i + 1;
                        while (k < n && s[k] != '/')
                                k++;
                        size_t len = k - i - 1;
                        if (len == 0 || (len == 1 && s[i + 1] == '.') ||
                            (len == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
                                return false;
                }
        }
        return true;
}

int scan_request_parse(const char *line, size_t n, struct scan_request *ret) {
        const char *p = line, *end = line + n, *w;
        size_t wn;
        struct scan_request r = {};

        if (n > SCAN_REQUEST_MAX || (n > 0 && line[n - 1] == ' ') || !next_word(&p, end, &w, &wn) || wn != 4 ||
            memcmp(w, "scan", 4) != 0)
                return -EBADMSG;
        if (!next_word(&p, end, &w, &wn) || !parse_u64(w, wn, 86400, &r.max_seconds) || r.max_seconds == 0 ||
            !next_word(&p, end, &w, &wn) || !parse_u64(w, wn, UINT64_MAX, &r.max_bytes) ||
            !next_word(&p, end, &w, &wn) || !parse_u64(w, wn, UINT64_MAX, &r.max_database_age))
                return -EBADMSG;
        if (!next_word(&p, end, &w, &wn) || !request_path_ok(w, wn, sizeof r.clamd_socket))
                return -EBADMSG;
        memcpy(r.clamd_socket, w, wn);
        if (!next_word(&p, end, &w, &wn) || !request_path_ok(w, wn, sizeof r.syspath) || wn < 6 ||
            memcmp(w, "/sys/", 5) != 0 || p != end)
                return -EBADMSG;
        memcpy(r.syspath, w, wn);
        *ret = r;
        return 0;
}

int scan_request_format(const struct scan_request *r, char *buf, size_t size) {
        size_t cn = strnlen(r->clamd_socket, sizeof r->clamd_socket), sn = strnlen(r->syspath, sizeof r->syspath);
        if (r->max_seconds == 0 || r->max_seconds > 86400 || !request_path_ok(r->clamd_socket, cn, sizeof r->clamd_socket) ||
            !request_path_ok(r->syspath, sn, sizeof r->syspath) || sn < 6 || memcmp(r->syspath, "/sys/", 5) != 0)
                return -EINVAL;
        int k = snprintf(buf, size, "scan %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s\n", r->max_seconds, r->max_bytes,
                         r->max_database_age, r->clamd_socket, r->syspath);
        if (k < 0 || (size_t) k >= size || (size_t) k > SCAN_REQUEST_MAX + 1)
                return -EINVAL;
        return k;
}
