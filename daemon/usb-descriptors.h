/* SPDX-License-Identifier: MIT */
/* Parses the raw `descriptors` sysfs file of a USB device: the device descriptor followed by
 * every configuration with its interface descriptors. This is how kyokad learns the interface
 * classes of a device that is not authorised yet (its interface directories do not exist).
 * The bytes come from the device: every length is checked, nothing is trusted. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "identity.h"

#define USB_DESCRIPTORS_MAX 65536     /* sysfs caps the file well below this */

struct usb_interface_desc {
        uint8_t config_value;         /* bConfigurationValue of the configuration it belongs to */
        uint8_t number;               /* bInterfaceNumber */
        uint8_t alternate;            /* bAlternateSetting */
        struct usb_interface_class c;
};

struct usb_descriptors {
        uint16_t vendor;
        uint16_t product;
        uint16_t bcd_device;
        struct usb_interface_class device_class;
        uint8_t n_configurations;     /* as declared by the device */
        size_t n_interfaces;          /* every interface and alternate setting of every configuration */
        struct usb_interface_desc interfaces[USB_INTERFACES_MAX];
};

/* Returns 0, or -EBADMSG for malformed or truncated descriptors, or -E2BIG when the device
 * declares more than USB_INTERFACES_MAX interfaces (kyoka refuses to decide on a partial view). */
int usb_descriptors_parse(const uint8_t *data, size_t size, struct usb_descriptors *ret);

/* Copies vendor/product/classes into ID (strings and paths are left as they are). */
void usb_descriptors_to_identity(const struct usb_descriptors *d, struct usb_identity *id);
