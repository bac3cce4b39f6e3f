/* SPDX-License-Identifier: MIT */
/* The port a USB device is plugged into, as udev's path_id names it (ID_PATH), computed from
 * sysfs: "pci-0000:00:14.0-usb-0:2.1" for the device 1-2.1 (or 2-2.1: a USB 3 device in the
 * same connector) behind the controller at PCI 0000:00:14.0. kyokad hears the kernel's uevents,
 * which carry no ID_PATH, and a permit bound to a port (`path`) must match the first time a
 * device is plugged, whether udev has processed it yet or not. The path is topology only:
 * nothing in it comes from the device. */
#pragma once

#include <stddef.h>

/* SYSPATH is the device's canonical sysfs path ("/sys/devices/.../usb1/1-2/1-2.1"). Walks up
 * as path_id does: the device's own port, the USB hubs and root hub skipped, then the first
 * PCI, platform or ACPI device (each one, skipping its own kind above it); other parents are
 * passed over. 0 with the path in RET; -ENOENT when no PCI, platform or ACPI parent names the
 * controller (udev gives no ID_PATH either), -EOPNOTSUPP for a USB device above the root hub,
 * -EINVAL for a SYSPATH that is not a USB device's or a name with unexpected characters,
 * -ENAMETOOLONG when it does not fit SIZE. */
int usb_device_id_path(const char *syspath, char *ret, size_t size);
