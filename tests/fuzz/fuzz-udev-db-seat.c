/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the seat in one entry of udev's database (seat.c, read by kyokad's usb-io
 * workers for each plugged device). Whatever the bytes, the result is no seat, "" or a name
 * logind could have made, always NUL-terminated within USB_SEAT_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char seat[USB_SEAT_MAX];

        memset(seat, 'Z', sizeof seat);
        int r = seat_from_udev_db((const char *) data, size, seat);
        if (r == 0) {
                for (size_t i = 0; i < sizeof seat; i++)
                        if (seat[i] != 'Z')
                                abort();
        } else if (r != 1 || !memchr(seat, 0, sizeof seat) || (seat[0] && !seat_name_valid(seat)))
                abort();
        return 0;
}
