/* SPDX-License-Identifier: MIT */
/* libFuzzer target: approve and revoke check an edit by reading only the bytes around what they
 * changed (policy-edit.c). Whatever the policy's layout, that check must say what reading the
 * edited text whole says: the same result, the same text, the same fallback. And the reader of
 * a list's rest, pconf_parse_list_tail, must read TEXT as the whole reader reads "x = (TEXT". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy-config.h"
#include "policy-edit.h"
#include "policy.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void list_tail_as_whole(const char *text, size_t size) {
        struct pconf *tail = NULL, *whole = NULL;
        struct pconf_error e;
        char *wrapped = malloc(size + 5);

        if (!wrapped)
                abort();
        memcpy(wrapped, "x = (", 5);
        memcpy(wrapped + 5, text, size);
        if (pconf_parse_list_tail(text, size, 1, false, &tail, &e) == 0) {
                if (pconf_parse(wrapped, size + 5, &whole, &e) != 0)
                        abort();
                const struct pconf_node *a = pconf_root(tail), *b = pconf_member(pconf_root(whole), "x");
                if (!b || pconf_length(a) != pconf_length(b))
                        abort();
                for (size_t i = 0; i < pconf_length(a); i++)
                        if (!pconf_equal(pconf_elem(a, i), pconf_elem(b, i)) ||
                            pconf_line(pconf_elem(a, i)) != pconf_line(pconf_elem(b, i)))
                                abort();
        }
        pconf_free(tail);
        pconf_free(whole);
        free(wrapped);
}

/* Runs EDIT with the check around the changed bytes, then with the whole check: both the same. */
#define SAME_BOTH_WAYS(call)                                                                    \
        do {                                                                                    \
                char *_out[2] = {};                                                             \
                bool _rw[2] = {};                                                               \
                int _r[2];                                                                      \
                for (int _k = 0; _k < 2; _k++) {                                                \
                        char **out = &_out[_k];                                                 \
                        bool *rw = &_rw[_k];                                                    \
                        policy_edit_force_full_check = _k == 1;                                 \
                        _r[_k] = call;                                                          \
                }                                                                               \
                policy_edit_force_full_check = false;                                           \
                if (_r[0] != _r[1] || (_r[0] == 0 && (_rw[0] != _rw[1] || strcmp(_out[0], _out[1]) != 0))) \
                        abort();                                                                \
                free(_out[0]);                                                                  \
                free(_out[1]);                                                                  \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        struct policy *p = NULL;

        list_tail_as_whole(text, size);

        if (policy_parse(text, size, "fuzz.conf", &p, NULL) < 0)
                return 0;

        static struct policy_interface_pattern ifs[] = { { .c = { 0x08, 0x06, 0x50 } } };
        struct policy_usb_entry u = {
                .approval = {
                        .permit = (char *) "FUZZ-新",
                        .approved_by = (char *) "fuzz",
                        .approved_on_text = (char *) "2026-11-22",
                        .valid_from = TIME_NEG_INFINITY,
                        .valid_until = TIME_INFINITY,
                },
                .vendor = 0x0781,
                .product = 0x5581,
                .serial = (char *) "FUZZ1",
                .has_interfaces = true,
                .n_interfaces = 1,
                .interfaces = ifs,
        };
        struct policy_net_entry n = {
                .approval = u.approval,
                .kind = (char *) "wlan",
        };
        SAME_BOTH_WAYS(policy_edit_add_usb(text, size, "fuzz.conf", &u, out, rw, NULL));
        SAME_BOTH_WAYS(policy_edit_add_net(text, size, "fuzz.conf", &n, out, rw, NULL));
        if (p->n_usb > 0) {
                SAME_BOTH_WAYS(policy_edit_remove(text, size, "fuzz.conf", p->usb[0].approval.permit, out, rw, NULL));
                SAME_BOTH_WAYS(policy_edit_remove(text, size, "fuzz.conf", p->usb[p->n_usb - 1].approval.permit, out, rw, NULL));
        }
        if (p->n_net > 0)
                SAME_BOTH_WAYS(policy_edit_remove(text, size, "fuzz.conf", p->net[p->n_net - 1].approval.permit, out, rw, NULL));
        policy_free(p);
        return 0;
}
