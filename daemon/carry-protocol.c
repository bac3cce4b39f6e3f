/* SPDX-License-Identifier: MIT */
/* The carry-out worker's messages (carry-protocol.h). */
#include "carry-protocol.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"

static const char magic[4] = { 'K', 'Y', 'C', 'O' };

static const char *const reasons[_CARRY_REASON_MAX] = {
        [CARRY_REASON_NONE] = "",
        [CARRY_REASON_PROCESS_GONE] = "process-gone",
        [CARRY_REASON_QUEUE_OVERFLOW] = "queue-overflow",
        [CARRY_REASON_UNREADABLE_EVENT] = "unreadable-event",
        [CARRY_REASON_OUT_OF_MEMORY] = "out-of-memory",
};

const char *carry_reason_to_string(enum carry_reason r) {
        return (unsigned) r < _CARRY_REASON_MAX ? reasons[r] : "";
}

int carry_reason_from_string(const char *s, enum carry_reason *ret) {
        for (unsigned i = 0; i < _CARRY_REASON_MAX; i++)
                if (streq(s ?: "", reasons[i])) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

/* ---- reading -------------------------------------------------------------------------------- */

struct cursor {
        const uint8_t *p;
        size_t left;
        bool bad;
};

static uint64_t get(struct cursor *c, size_t bytes) {
        uint64_t v = 0;
        if (c->bad || c->left < bytes) {
                c->bad = true;
                return 0;
        }
        for (size_t i = 0; i < bytes; i++)
                v |= (uint64_t) c->p[i] << (8 * i);
        c->p += bytes;
        c->left -= bytes;
        return v;
}

/* A string of at most SIZE - 1 bytes without NUL, into BUF with its NUL. */
static void get_string(struct cursor *c, char *buf, size_t size) {
        size_t n = (size_t) get(c, 2);
        if (c->bad || n >= size || n > c->left || memchr(c->p, 0, n)) {
                c->bad = true;
                return;
        }
        memcpy(buf, c->p, n);
        buf[n] = 0;
        c->p += n;
        c->left -= n;
}

static bool sha256_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0)
                return true;
        if (n != 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool syspath_ok(const char *s) {
        return strncmp(s, "/sys/devices/", 13) == 0 && !strstr(s, "/../") && !strstr(s, "/./") &&
               s[strlen(s) - 1] != '/';
}

/* A FILE's scan fields: all empty unless a written file was scanned; a fault only with FAULT, a
 * signature only (and always) with INFECTED. */
static bool scan_ok(const struct carry_message *m) {
        if (m->scan == 0)
                return m->scan_fault == SCAN_FAULT_NONE && m->scan_error == 0 && !m->scanner[0] && !m->signature[0];
        if (m->ev != CARRY_FILE_WRITTEN || m->scan > _SCAN_RESULT_MAX || (unsigned) m->scan_fault >= _SCAN_FAULT_MAX ||
            m->scan_error >= 4096)
                return false;
        enum scan_result r = (enum scan_result) (m->scan - 1);
        return (r == SCAN_RESULT_FAULT) == (m->scan_fault != SCAN_FAULT_NONE) &&
               (r == SCAN_RESULT_INFECTED) == (m->signature[0] != 0) && (r == SCAN_RESULT_FAULT || m->scan_error == 0);
}

/* What parse accepts and format may say: one check for both. */
static bool message_ok(const struct carry_message *m) {
        switch (m->type) {
        case CARRY_MSG_HELLO:
                return true;
        case CARRY_MSG_MEDIUM:
                if (m->scan_enabled && (m->scan_max_seconds == 0 || m->scan_max_bytes == 0 || m->clamd_socket[0] != '/'))
                        return false;
                if (!m->scan_enabled && (m->scan_max_seconds || m->scan_max_bytes || m->scan_max_database_age ||
                                         m->clamd_socket[0]))
                        return false;
                return m->token != 0 && syspath_ok(m->syspath);
        case CARRY_MSG_FORGET:
                return m->token != 0;
        case CARRY_MSG_FILE:
                if ((unsigned) m->ev >= _CARRY_FILE_MAX || (unsigned) m->reason >= _CARRY_REASON_MAX)
                        return false;
                if (m->error >= 4096 || m->size < 0 || m->count < 1 || m->time_usec < 0 || m->pid < 0 || m->uid < -1)
                        return false;
                if (!sha256_ok(m->sha256) || (m->ev != CARRY_FILE_WRITTEN && m->sha256[0]))
                        return false;
                if (!scan_ok(m))
                        return false;
                return m->token != 0 || m->ev == CARRY_FILE_LOST;
        case CARRY_MSG_FAULT:
                return (unsigned) m->fault < _CARRY_FAULT_MAX && m->error < 4096;
        }
        return false;
}

int carry_message_parse(const void *buf, size_t n, struct carry_message *ret) {
        struct cursor c = { .p = buf, .left = n };
        struct carry_message m;

        memset(&m, 0, sizeof m);
        if (n < 8 || n > CARRY_MESSAGE_MAX || memcmp(buf, magic, 4) != 0)
                return -EBADMSG;
        c.p += 4;
        c.left -= 4;
        if (get(&c, 2) != CARRY_PROTOCOL_VERSION)
                return -EBADMSG;
        m.type = (enum carry_message_type) get(&c, 2);
        switch (m.type) {
        case CARRY_MSG_HELLO:
                break;
        case CARRY_MSG_MEDIUM:
                m.token = (uint32_t) get(&c, 4);
                get_string(&c, m.syspath, sizeof m.syspath);
                uint64_t enabled = get(&c, 1);
                if (enabled > 1)
                        return -EBADMSG;      /* one spelling */
                m.scan_enabled = enabled == 1;
                m.scan_max_seconds = (uint32_t) get(&c, 4);
                m.scan_max_bytes = get(&c, 8);
                m.scan_max_database_age = (uint32_t) get(&c, 4);
                get_string(&c, m.clamd_socket, sizeof m.clamd_socket);
                break;
        case CARRY_MSG_FORGET:
                m.token = (uint32_t) get(&c, 4);
                break;
        case CARRY_MSG_FILE:
                m.token = (uint32_t) get(&c, 4);
                m.ev = (enum carry_file_event) get(&c, 1);
                m.reason = (enum carry_reason) get(&c, 1);
                m.error = (uint32_t) get(&c, 4);
                m.size = (int64_t) get(&c, 8);
                m.count = get(&c, 8);
                m.time_usec = (int64_t) get(&c, 8);
                m.pid = (int64_t) get(&c, 8);
                m.uid = (int64_t) get(&c, 8);
                get_string(&c, m.path, sizeof m.path);
                get_string(&c, m.sha256, sizeof m.sha256);
                get_string(&c, m.process, sizeof m.process);
                get_string(&c, m.user, sizeof m.user);
                m.scan = (uint8_t) get(&c, 1);
                m.scan_fault = (enum scan_fault) get(&c, 1);
                m.scan_error = (uint32_t) get(&c, 4);
                get_string(&c, m.scanner, sizeof m.scanner);
                get_string(&c, m.signature, sizeof m.signature);
                break;
        case CARRY_MSG_FAULT:
                m.token = (uint32_t) get(&c, 4);
                m.fault = (enum carry_fault) get(&c, 1);
                m.error = (uint32_t) get(&c, 4);
                break;
        default:
                return -EBADMSG;
        }
        if (c.bad || c.left != 0 || !message_ok(&m))
                return -EBADMSG;
        *ret = m;
        return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

struct writer {
        uint8_t *p;
        size_t left;
        bool bad;
};

static void put(struct writer *w, uint64_t v, size_t bytes) {
        if (w->bad || w->left < bytes) {
                w->bad = true;
                return;
        }
        for (size_t i = 0; i < bytes; i++)
                w->p[i] = (uint8_t) (v >> (8 * i));
        w->p += bytes;
        w->left -= bytes;
}

static void put_string(struct writer *w, const char *s, size_t size) {
        size_t n = strnlen(s, size);
        if (n >= size) {
                w->bad = true;
                return;
        }
        put(w, n, 2);
        if (w->bad || w->left < n) {
                w->bad = true;
                return;
        }
        memcpy(w->p, s, n);
        w->p += n;
        w->left -= n;
}

int carry_message_format(const struct carry_message *m, void *buf, size_t size) {
        struct writer w = { .p = buf, .left = MIN(size, (size_t) CARRY_MESSAGE_MAX) };

        if (!message_ok(m) || w.left < 4)
                return -EINVAL;
        memcpy(w.p, magic, 4);
        w.p += 4;
        w.left -= 4;
        put(&w, CARRY_PROTOCOL_VERSION, 2);
        put(&w, m->type, 2);
        switch (m->type) {
        case CARRY_MSG_HELLO:
                break;
        case CARRY_MSG_MEDIUM:
                put(&w, m->token, 4);
                put_string(&w, m->syspath, sizeof m->syspath);
                put(&w, m->scan_enabled, 1);
                put(&w, m->scan_max_seconds, 4);
                put(&w, m->scan_max_bytes, 8);
                put(&w, m->scan_max_database_age, 4);
                put_string(&w, m->clamd_socket, sizeof m->clamd_socket);
                break;
        case CARRY_MSG_FORGET:
                put(&w, m->token, 4);
                break;
        case CARRY_MSG_FILE:
                put(&w, m->token, 4);
                put(&w, m->ev, 1);
                put(&w, m->reason, 1);
                put(&w, m->error, 4);
                put(&w, (uint64_t) m->size, 8);
                put(&w, m->count, 8);
                put(&w, (uint64_t) m->time_usec, 8);
                put(&w, (uint64_t) m->pid, 8);
                put(&w, (uint64_t) m->uid, 8);
                put_string(&w, m->path, sizeof m->path);
                put_string(&w, m->sha256, sizeof m->sha256);
                put_string(&w, m->process, sizeof m->process);
                put_string(&w, m->user, sizeof m->user);
                put(&w, m->scan, 1);
                put(&w, m->scan_fault, 1);
                put(&w, m->scan_error, 4);
                put_string(&w, m->scanner, sizeof m->scanner);
                put_string(&w, m->signature, sizeof m->signature);
                break;
        case CARRY_MSG_FAULT:
                put(&w, m->token, 4);
                put(&w, m->fault, 1);
                put(&w, m->error, 4);
                break;
        }
        if (w.bad)
                return -EINVAL;
        return (int) (w.p - (uint8_t *) buf);
}
