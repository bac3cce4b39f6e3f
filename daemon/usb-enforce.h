/* SPDX-License-Identifier: MIT */
/* Turns decisions into kernel state through sysfs: a controller's defaults (nothing new is
 * usable before kyokad decides), a device's `authorized`, and per-interface `authorized`.
 * Every function works on directory fds or paths under a sysfs root, so tests can point it at
 * a umockdev tree or a scratch directory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "usb-descriptors.h"

/* Writes 0 to authorized_default and interface_authorized_default of the controller (root hub)
 * whose sysfs directory is DIRFD. -ENOENT if it is not a root hub. */
int usb_controller_lockdown(int dirfd);

/* Writes the device's `authorized` (1 or 0). */
int usb_device_authorize(int dirfd, bool authorized);

/* Reads the device's `authorized`: 1, 0, or a negative errno. */
int usb_device_is_authorized(int dirfd);

/* For an authorised device: writes 1 to the `authorized` of every interface of its active
 * configuration that MASK approves (bit i = interface descriptor i of D), 0 to the others.
 * Interfaces are the directories SYSNAME:CONFIG.NUMBER beside the device. Returns the number
 * of interfaces authorised, or a negative errno (the first failure; the others are still tried,
 * so a failure can only leave interfaces off). */
int usb_interfaces_authorize(int devices_dirfd, const char *sysname, const struct usb_descriptors *d, uint32_t mask);
