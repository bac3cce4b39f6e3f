/* SPDX-License-Identifier: MIT */
#include "usb-descriptors.h"

#include <errno.h>
#include <string.h>

#define DT_DEVICE 0x01
#define DT_CONFIG 0x02
#define DT_INTERFACE 0x04
#define DEVICE_DESC_SIZE 18
#define CONFIG_DESC_SIZE 9
#define INTERFACE_DESC_SIZE 9

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

/* One configuration: its header, then descriptors up to wTotalLength. Interface descriptors
 * are collected; class-specific and endpoint descriptors are skipped by their bLength. */
static int parse_configuration(const uint8_t *p, size_t avail, struct usb_descriptors *d, size_t *ret_used) {
        if (avail < CONFIG_DESC_SIZE || p[0] < CONFIG_DESC_SIZE || p[1] != DT_CONFIG)
                return -EBADMSG;
        size_t total = le16(p + 2);
        if (total < p[0] || total > avail)
                return -EBADMSG;
        uint8_t config_value = p[5];

        for (size_t off = p[0]; off < total;) {
                const uint8_t *q = p + off;
                if (total - off < 2 || q[0] < 2 || q[0] > total - off)
                        return -EBADMSG;
                if (q[1] == DT_INTERFACE) {
                        if (q[0] < INTERFACE_DESC_SIZE)
                                return -EBADMSG;
                        if (d->n_interfaces >= USB_INTERFACES_MAX)
                                return -E2BIG;
                        d->interfaces[d->n_interfaces++] = (struct usb_interface_desc) {
                                .config_value = config_value,
                                .number = q[2],
                                .alternate = q[3],
                                .c = { .cls = q[5], .subclass = q[6], .protocol = q[7] },
                        };
                }
                off += q[0];
        }
        *ret_used = total;
        return 0;
}

int usb_descriptors_parse(const uint8_t *data, size_t size, struct usb_descriptors *ret) {
        struct usb_descriptors d = {};
        int r;

        if (size > USB_DESCRIPTORS_MAX || size < DEVICE_DESC_SIZE)
                return -EBADMSG;
        if (data[0] != DEVICE_DESC_SIZE || data[1] != DT_DEVICE)
                return -EBADMSG;

        d.device_class = (struct usb_interface_class) { data[4], data[5], data[6] };
        d.vendor = le16(data + 8);
        d.product = le16(data + 10);
        d.bcd_device = le16(data + 12);
        d.n_configurations = data[17];

        /* sysfs appends every configuration the kernel read; a device may declare more than it
         * delivered (the kernel then keeps fewer), so read what is there and require no junk. */
        size_t off = DEVICE_DESC_SIZE;
        while (off < size) {
                size_t used;
                r = parse_configuration(data + off, size - off, &d, &used);
                if (r < 0)
                        return r;
                off += used;
        }

        *ret = d;
        return 0;
}

void usb_descriptors_to_identity(const struct usb_descriptors *d, struct usb_identity *id) {
        id->vendor = d->vendor;
        id->product = d->product;
        id->device_class = d->device_class;
        id->n_interfaces = d->n_interfaces;
        for (size_t i = 0; i < d->n_interfaces; i++)
                id->interfaces[i] = d->interfaces[i].c;
}
