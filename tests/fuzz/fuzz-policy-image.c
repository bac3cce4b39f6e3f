/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the compiled policy image (STATE_DIR/policy.image). Whatever the file holds,
 * the load either refuses it or builds a policy whose every string lies within the image, and
 * that policy written out as an image again reads back the same. The input's checksum is
 * recomputed first (policy_image_seal): a checksum would otherwise stop every mutation before
 * the structural checks this target is about. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy-image.h"
#include "policy-match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const struct policy *p) {
        char *text = NULL;
        struct policy_decision d;

        /* Every string and pattern is read (ASan sees a read past the buffer). */
        if (policy_write(p, &text) == 0)
                free(text);
        for (size_t i = 0; i < p->n_usb && i < 16; i++) {
                struct usb_identity id = { .vendor = p->usb[i].vendor, .product = p->usb[i].product, .has_serial = true,
                                           .n_interfaces = 1, .interfaces = { { 8, 6, 0x50 } } };
                strncpy(id.serial, p->usb[i].serial ?: "", sizeof id.serial - 1);
                policy_match_usb(p, &id, 0, &d);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const hosts[][2] = { { NULL, NULL }, { "ws-01", NULL } };
        uint8_t sha[32];
        uint8_t *img = malloc(size ? size : 1);

        if (!img)
                return 0;
        memcpy(img, data, size);      /* exact size: ASan sees any read past it */
        if (policy_image_seal(img, size, sha) < 0) {
                free(img);
                return 0;
        }
        for (size_t h = 0; h < sizeof hosts / sizeof hosts[0]; h++) {
                struct policy *p = NULL, *q = NULL;
                void *again = NULL;
                size_t n;

                if (policy_image_load_buffer(img, size, sha, hosts[h][0], hosts[h][1], "fuzz", &p) < 0)
                        continue;
                use(p);
                if (policy_image_serialize(p, sha, hosts[h][0], hosts[h][1], &again, &n) < 0 ||
                    policy_image_load_buffer(again, n, sha, hosts[h][0], hosts[h][1], "fuzz", &q) < 0 ||
                    q->serial != p->serial || q->n_usb != p->n_usb || q->n_net != p->n_net ||
                    q->n_wireless != p->n_wireless || q->n_media != p->n_media || q->n_fixed != p->n_fixed)
                        abort();
                policy_free(q);
                free(again);
                policy_free(p);
        }
        free(img);
        return 0;
}
