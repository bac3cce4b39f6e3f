/* SPDX-License-Identifier: MIT */
/* Anti-rollback state: which policy was last accepted, so that an older signed policy (one
 * that still granted a since-revoked device) cannot be put back in place.
 *
 * The file is three lines of text, easy to read in an incident:
 *   kyoka-policy-state 1
 *   serial 42
 *   sha256 <64 lowercase hex digits>
 * and is parsed strictly: anything else is corruption, which callers must treat as a fault.
 * Falling back to "nothing accepted yet" would let whoever can damage the file re-enable
 * every old policy. */
#include "policy-rollback.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "hexutil.h"
#include "macro.h"

#define STATE_FILE_MAX 4096u

/* The rest of the line at *P after the expected PREFIX (without the newline; its length in
 * *RET_LEN), advancing *P past the newline; NULL if the line lacks PREFIX or its newline. */
static const char *take_line(const char **p, const char *end, const char *prefix, size_t *ret_len) {
        size_t n = strlen(prefix);
        const char *line = *p;

        const char *nl = memchr(line, '\n', (size_t) (end - line));
        if (!nl || (size_t) (nl - line) < n || memcmp(line, prefix, n) != 0)
                return NULL;
        *p = nl + 1;
        *ret_len = (size_t) (nl - line) - n;
        return line + n;
}

/* Decimal, no sign, no leading zeros, no overflow: one spelling per number, so the file's
 * contents are a function of the state. */
static int parse_serial(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || (s[0] == '0' && len > 1))
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int rollback_state_parse(const char *text, size_t size, struct rollback_state *ret) {
        const char *p = text, *end = text + size, *v;
        struct rollback_state st = {};
        size_t n;

        if (size > STATE_FILE_MAX || memchr(text, 0, size))
                return -EBADMSG;
        v = take_line(&p, end, "kyoka-policy-state 1", &n);
        if (!v || n != 0)
                return -EBADMSG;

        v = take_line(&p, end, "serial ", &n);
        if (!v || parse_serial(v, n, &st.serial) < 0)
                return -EBADMSG;

        /* The digest as rollback_state_format() writes it: lowercase. */
        v = take_line(&p, end, "sha256 ", &n);
        if (!v || hex_parse_bytes(v, n, 0, HEX_LOWERCASE, st.sha256, sizeof(st.sha256)) < 0)
                return -EBADMSG;

        if (p != end)
                return -EBADMSG;

        *ret = st;
        return 0;
}

int rollback_state_format(uint64_t serial, const uint8_t sha256[static 32], char *buf, size_t size) {
        char hex[2 * 32 + 1];

        hex_encode(sha256, 32, hex);
        int n = snprintf(buf, size, "kyoka-policy-state 1\nserial %" PRIu64 "\nsha256 %s\n", serial, hex);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

int rollback_state_read(const char *state_dir, struct rollback_state *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size;
        int r;

        path = path_join(state_dir, KYOKA_POLICY_STATE_FILE);
        if (!path)
                return -ENOMEM;

        r = read_file_bounded(path, STATE_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;

        return rollback_state_parse(text, size, ret);
}

int rollback_check(const char *state_dir, uint64_t serial, const uint8_t sha256[static 32]) {
        struct rollback_state st;
        int r;

        r = rollback_state_read(state_dir, &st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        if (serial > st.serial)
                return 0;
        if (serial < st.serial)
                return -ESTALE;
        return memcmp(sha256, st.sha256, sizeof(st.sha256)) == 0 ? 1 : -EEXIST;
}

int rollback_commit(const char *state_dir, uint64_t serial, const uint8_t sha256[static 32]) {
        _cleanup_free_ char *path = NULL;
        char text[ROLLBACK_STATE_TEXT_MAX];
        int n;

        /* Only the last component: a missing /var/lib is not ours to create. */
        if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();

        path = path_join(state_dir, KYOKA_POLICY_STATE_FILE);
        if (!path)
                return -ENOMEM;

        n = rollback_state_format(serial, sha256, text, sizeof text);
        if (n < 0)
                return n;

        return write_file_atomic(path, text, (size_t) n, 0644);
}
