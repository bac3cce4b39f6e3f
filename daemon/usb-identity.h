/* SPDX-License-Identifier: MIT */
/* Reads a USB device's identity from its sysfs directory: vendor, product and interface
 * classes from the raw `descriptors` file (present even while the device is unauthorised),
 * and the serial, manufacturer and product strings, each bounded and sanitised. */
#pragma once

#include "identity.h"

#define USB_SYSFS_STRING_MAX 1024     /* raw bytes read from a string attribute, at most */

#include "usb-descriptors.h"

/* DIRFD is an open directory fd of /sys/bus/usb/devices/SYSNAME. Fills RET (and, if not NULL,
 * RET_DESCRIPTORS: the interface numbers enforcement needs) on success. -EBADMSG if the
 * descriptors are malformed, -E2BIG if the device has more interfaces than kyoka tracks; a
 * missing string attribute is not an error (the device has no such string). */
int usb_identity_read(int dirfd, const char *sysname, struct usb_identity *ret, struct usb_descriptors *ret_descriptors);
