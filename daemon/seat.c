/* SPDX-License-Identifier: MIT */
/* Seats (seat.h). */
#include "seat.h"

#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-login.h>

#include "macro.h"

#define SEAT_PARENTS_MAX 16           /* a USB tree is at most 7 tiers deep, plus PCI */

bool seat_name_valid(const char *name) {
        size_t n;

        if (!name || strncmp(name, "seat", 4) != 0)
                return false;
        n = strlen(name);
        if (n <= 4 || n >= USB_SEAT_MAX)
                return false;
        for (size_t i = 4; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                        return false;
        }
        return true;
}

bool seat_set_contains(const struct seat_set *s, const char *name) {
        if (!s || !name || !name[0])
                return false;
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->names[i], name))
                        return true;
        return false;
}

int seat_lookup(uid_t uid, struct seat_set *ret) {
        char **seats = NULL;
        struct seat_set set = {};
        int r;

        r = sd_uid_get_seats(uid, 1, &seats);
        /* No record of this uid: logged in nowhere (or no logind at all). */
        if (r == -ENOENT || r == -ENXIO || r == -ENODATA)
                r = 0;
        if (r < 0)
                return r;
        for (char **s = seats; s && *s; s++) {
                if (set.n < SEATS_MAX && seat_name_valid(*s))
                        snprintf(set.names[set.n++], USB_SEAT_MAX, "%s", *s);
                free(*s);
        }
        free(seats);
        *ret = set;
        return 0;
}

void seat_of_udev_device(struct udev_device *dev, char ret[static USB_SEAT_MAX]) {
        unsigned depth = 0;

        for (struct udev_device *d = dev; d && depth < SEAT_PARENTS_MAX; d = udev_device_get_parent(d), depth++) {
                const char *s = udev_device_get_property_value(d, "ID_SEAT");
                if (s && s[0]) {
                        if (seat_name_valid(s))
                                snprintf(ret, USB_SEAT_MAX, "%s", s);
                        else
                                ret[0] = 0;
                        return;
                }
        }
        snprintf(ret, USB_SEAT_MAX, "%s", SEAT_DEFAULT);
}

int seat_of_syspath(const char *syspath, char ret[static USB_SEAT_MAX]) {
        struct udev *udev = udev_new();
        if (!udev)
                return -ENOMEM;
        struct udev_device *dev = udev_device_new_from_syspath(udev, syspath);
        if (!dev) {
                int r = errno > 0 ? -errno : -ENODEV;
                udev_unref(udev);
                return r;
        }
        seat_of_udev_device(dev, ret);
        udev_device_unref(dev);
        udev_unref(udev);
        return 0;
}
