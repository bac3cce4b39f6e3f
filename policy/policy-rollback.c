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

/* Strips the expected PREFIX from the line at *p and returns the rest of the line (without
 * the newline, NUL-terminated in place), or NULL. */
static char *take_line(char **p, char *end, const char *prefix) {
        size_t n = strlen(prefix);
        char *line = *p;

        char *nl = memchr(line, '\n', (size_t) (end - line));
        if (!nl || (size_t) (nl - line) < n || memcmp(line, prefix, n) != 0)
                return NULL;
        *nl = 0;
        *p = nl + 1;
        return line + n;
}

/* Decimal, no sign, no leading zeros, no overflow: one spelling per number, so the file's
 * contents are a function of the state. */
static int parse_serial(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (s[0] == 0 || (s[0] == '0' && s[1] != 0))
                return -EBADMSG;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EBADMSG;
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int parse_state(char *text, size_t size, struct rollback_state *ret) {
        char *p = text, *end = text + size;
        struct rollback_state st = {};
        char *v;

        if (memchr(text, 0, size))
                return -EBADMSG;
        v = take_line(&p, end, "kyoka-policy-state 1");
        if (!v || *v != 0)
                return -EBADMSG;

        v = take_line(&p, end, "serial ");
        if (!v || parse_serial(v, &st.serial) < 0)
                return -EBADMSG;

        v = take_line(&p, end, "sha256 ");
        if (!v || strlen(v) != 2 * sizeof(st.sha256) || strspn(v, "0123456789abcdef") != strlen(v) ||
            hex_decode(v, st.sha256, sizeof(st.sha256)) < 0)
                return -EBADMSG;

        if (p != end)
                return -EBADMSG;

        *ret = st;
        return 0;
}

int rollback_state_read(const char *state_dir, struct rollback_state *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size;
        int r;

        path = path_join(state_dir, POLICY_STATE_FILE);
        if (!path)
                return -ENOMEM;

        r = read_file_bounded(path, STATE_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;

        return parse_state(text, size, ret);
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
        char hex[2 * 32 + 1], text[128];
        int n;

        /* Only the last component: a missing /var/lib is not ours to create. */
        if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();

        path = path_join(state_dir, POLICY_STATE_FILE);
        if (!path)
                return -ENOMEM;

        hex_encode(sha256, 32, hex);
        n = snprintf(text, sizeof(text), "kyoka-policy-state 1\nserial %" PRIu64 "\nsha256 %s\n", serial, hex);
        if (n < 0 || (size_t) n >= sizeof(text))
                return -ENOBUFS;

        return write_file_atomic(path, text, (size_t) n, 0644);
}
