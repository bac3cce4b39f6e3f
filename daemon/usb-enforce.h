/* SPDX-License-Identifier: MIT */
/* Turns decisions into kernel state through sysfs: a controller's defaults (nothing new is
 * usable before kyokad decides), a device's `authorized`, and per-interface `authorized`.
 * Every function works on directory fds or paths under a sysfs root, so tests can point it at
 * a umockdev tree or a scratch directory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb-descriptors.h"

/* Writes 0 to authorized_default and interface_authorized_default of the controller (root hub)
 * whose sysfs directory is DIRFD. Both are tried; returns the first failure. -ENOENT if it is
 * not a root hub. */
int usb_controller_lockdown(int dirfd);
/* The first half of it, for a root hub the kernel has just announced ("add"): 0 to
 * authorized_default only (the devices behind it arrive unauthorised). interface_authorized_default
 * waits for its "bind": written before the kernel configured the root hub, it would leave the
 * root hub's own interface unauthorised, its hub driver unbound and its ports dead. */
int usb_controller_lockdown_devices(int dirfd);

#define USBCORE_PARAMETERS "/sys/module/usbcore/parameters"

/* The default of controllers that do not exist yet: writes 0 to usbcore's `authorized_default`
 * parameter in its parameters directory DIRFD, so that a controller that appears later (a dock,
 * PCIe hot-plug) starts closed even before udev or kyokad get to it. *RET_WAS (if not NULL)
 * gets what it was before, as the kernel prints it ("-1" is the kernel's default: authorised),
 * truncated to SIZE bytes; "" if unreadable. */
int usb_core_lockdown(int dirfd, char *ret_was, size_t size);

/* Whether MASK (bit i = interface descriptor i of D, as usb_interfaces_authorize takes it)
 * approves every interface of D: such a device needs no per-interface authorisation. */
bool usb_interfaces_all(const struct usb_descriptors *d, uint32_t mask);

/* Writes the device's `authorized` (1 or 0). */
int usb_device_authorize(int dirfd, bool authorized);

/* Reads the device's `authorized`: 1, 0, or a negative errno. */
int usb_device_is_authorized(int dirfd);

#define USB_DRIVERS_PROBE "/sys/bus/usb/drivers_probe"

/* For an authorised device: writes 1 to the `authorized` of every interface of its active
 * configuration that MASK approves (bit i = interface descriptor i of D), 0 to the others, and
 * asks the bus to bind a driver to each approved one. Interfaces are the directories
 * SYSNAME:CONFIG.NUMBER inside the device's directory DEVICE_DIRFD. Returns the number of
 * interfaces authorised, or a negative errno (the first failure; the others are still tried,
 * so a failure can only leave interfaces off). A failure to bind a driver is not a failure to
 * enforce: it is reported in *PROBE_ERROR (if not NULL) and the count is still returned. */
int usb_interfaces_authorize(int device_dirfd, const char *sysname, const struct usb_descriptors *d, uint32_t mask,
                             int *probe_error);
