/* SPDX-License-Identifier: MIT */
/* The scan worker's messages as kyokad reads them (daemon/scan-protocol.c): the worker mounts a
 * medium an attacker prepared and repeats what clamd says about it, so every line is untrusted.
 * A line that parses formats back to the same bytes (one spelling), and that parses again to
 * the same message; its text is sanitised. The clamd replies the worker parses are fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan-protocol.h"
#include "clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct scan_message m, back;
        char buf[SCAN_LINE_MAX + 1];

        if (scan_message_parse((const char *) data, size, &m) == 0) {
                int n = scan_message_format(&m, buf, sizeof buf);
                if (n < 1 || (size_t) n != size + 1 || memcmp(buf, data, size) != 0 || buf[size] != '\n')
                        abort();
                if (scan_message_parse(buf, (size_t) n - 1, &back) < 0 || memcmp(&back, &m, sizeof m) != 0)
                        abort();
        }

        /* The scan service's request (kyokad -> kyokad --scan-worker --request-on-stdin): one
         * spelling, as the messages. */
        struct scan_request q, qback;
        char qbuf[SCAN_REQUEST_MAX + 2];
        if (scan_request_parse((const char *) data, size, &q) == 0) {
                int n = scan_request_format(&q, qbuf, sizeof qbuf);
                if (n < 1 || (size_t) n != size + 1 || memcmp(qbuf, data, size) != 0 || qbuf[size] != '\n')
                        abort();
                if (scan_request_parse(qbuf, (size_t) n - 1, &qback) < 0 || qback.max_seconds != q.max_seconds ||
                    qback.max_bytes != q.max_bytes || qback.max_database_age != q.max_database_age ||
                    strcmp(qback.clamd_socket, q.clamd_socket) != 0 || strcmp(qback.syspath, q.syspath) != 0)
                        abort();
        }

        /* clamd's answers, as NUL-terminated strings. */
        char s[1100], sig[SCAN_SIGNATURE_MAX];
        size_t k = size < sizeof s - 1 ? size : sizeof s - 1;
        memcpy(s, data, k);
        s[k] = 0;
        int64_t t;
        (void) clamd_version_parse(s, &t);
        int r = clamd_reply_parse(s, 1, sig, sizeof sig);
        if (r == 1 && strlen(sig) >= sizeof sig)
                abort();
        return 0;
}
