/* SPDX-License-Identifier: MIT */
/* The carry-out worker's messages as kyokad reads them (daemon/carry-protocol.c): the worker runs
 * apart with CAP_SYS_ADMIN and reads files an attacker chose, so every packet is untrusted. A
 * packet that parses formats back to the same bytes (one spelling), and parses again to the
 * same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carry-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct carry_message m, back;
        uint8_t buf[CARRY_MESSAGE_MAX];

        if (carry_message_parse(data, size, &m) == 0) {
                int n = carry_message_format(&m, buf, sizeof buf);
                if (n < 8 || (size_t) n != size || memcmp(buf, data, size) != 0)
                        abort();
                if (carry_message_parse(buf, (size_t) n, &back) < 0 || memcmp(&back, &m, sizeof m) != 0)
                        abort();
                if (strlen(m.path) >= sizeof m.path || strlen(m.syspath) >= sizeof m.syspath)
                        abort();
        }
        return 0;
}
