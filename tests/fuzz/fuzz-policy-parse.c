/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a policy file is the one input an admin (or whoever reaches the file before
 * it is signed) fully controls. Besides not crashing or leaking, a policy that parses must
 * survive the canonical writer: policy_write's output must parse back with the same entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct policy_diag d = {};
        struct policy *p = NULL, *q = NULL;
        char *text = NULL;

        if (policy_parse((const char *) data, size, "fuzz.conf", &p, &d) == 0) {
                if (policy_write(p, &text) < 0)
                        abort();
                if (policy_parse(text, strlen(text), "canonical.conf", &q, &d) != 0)
                        abort();
                if (q->serial != p->serial || q->n_usb != p->n_usb || q->n_net != p->n_net ||
                    q->valid_until != p->valid_until)
                        abort();
                for (size_t i = 0; i < p->n_usb; i++)
                        if (q->usb[i].approval.valid_until != p->usb[i].approval.valid_until ||
                            strcmp(q->usb[i].serial, p->usb[i].serial) != 0)
                                abort();
        }
        free(text);
        policy_free(q);
        policy_free(p);
        policy_diag_done(&d);
        return 0;
}
