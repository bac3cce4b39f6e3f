/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a control socket message comes from any local user in group kyoka or at a seat
 * (kyokad refuses everyone else at accept), and is parsed before anything else about it is
 * decided. It must never crash or leak; a command that parses names a known command with a
 * device only for "request", NUL-terminated, in bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control-message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct control_command c;
        const char *error = NULL;
        /* An exact-size copy: the parser gets LEN bytes and no NUL after them. */
        char *buf = malloc(size ? size : 1);

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        memset(&c, 0xa5, sizeof c);
        int r = control_command_parse(buf, size, &c, &error);
        if (r < 0) {
                if (!error || !*error)
                        abort();          /* the error reply needs its message */
        } else {
                if (error || !control_cmd_to_string(c.cmd))
                        abort();
                if (c.cmd == CONTROL_REQUEST) {
                        size_t n = strnlen(c.device, sizeof c.device);
                        if (n == 0 || n == sizeof c.device)
                                abort();
                        if (c.subject != SUBJECT_ANY && c.subject != SUBJECT_USB && c.subject != SUBJECT_NETWORK &&
                            c.subject != SUBJECT_MEDIA)
                                abort();
                }
                (void) control_cmd_access(c.cmd);
        }
        free(buf);
        return 0;
}
