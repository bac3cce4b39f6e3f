/* SPDX-License-Identifier: MIT */
/* libFuzzer target: raw USB descriptors come from the device itself. */
#include <stddef.h>
#include <stdint.h>

#include "usb-descriptors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct usb_descriptors d;
        struct usb_identity id = {};

        if (usb_descriptors_parse(data, size, &d) == 0)
                usb_descriptors_to_identity(&d, &id);
        return 0;
}
