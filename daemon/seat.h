/* SPDX-License-Identifier: MIT */
/* Seats (sd-login): which seats a peer of the control socket is the active user of, and which
 * seat a USB device is plugged into. The active user of a seat may watch and request the devices
 * and links of that seat without being in group kyoka (docs/control.md "Who may do what");
 * control-message.h decides what such a peer sees, from a struct seat_set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "identity.h"

#define SEAT_DEFAULT "seat0"          /* a device without ID_SEAT, and every network link */
#define SEATS_MAX 4                   /* seats one uid is the active user of, at most counted */

struct seat_set {
        size_t n;
        char names[SEATS_MAX][USB_SEAT_MAX];
};

/* A seat name as logind makes them: "seat" and then letters, digits, '-' or '_', shorter than
 * USB_SEAT_MAX. Anything else (a udev property is text from rules) names no seat. */
bool seat_name_valid(const char *name);
bool seat_set_contains(const struct seat_set *s, const char *name);

/* The seats whose active (foreground) session belongs to UID, from sd-login
 * (sd_uid_get_seats(uid, 1)): an empty set when none, or when logind keeps no record
 * (/run/systemd/users/UID missing). Seats beyond SEATS_MAX and invalid names are left out.
 * Negative errno when sd-login fails otherwise. */
int seat_lookup(uid_t uid, struct seat_set *ret);

struct udev_device;
/* The seat DEV is plugged into: its own ID_SEAT, else the nearest parent's (logind's seat
 * rules put it on the controller or hub; the kernel's uevents carry no udev properties, the
 * parents' come from udev's database), else SEAT_DEFAULT. "" for an invalid name. */
void seat_of_udev_device(struct udev_device *dev, char ret[static USB_SEAT_MAX]);
/* The same for the device at SYSPATH, read straight from udev's database in DB_DIR
 * ("/run/udev/data": SEAT_UDEV_DB) as libudev would (`E:ID_SEAT=` in the entry `c`/`b`
 * MAJOR:MINOR of a device with a `dev` attribute, `+SUBSYSTEM:SYSNAME` otherwise), for the
 * directory and each parent up to /sys/devices. No libudev: callable from the usb-io workers,
 * and a fraction of its cost (libudev's walk took 60 ms of a plug under TCG, bench/USB.md).
 * Always sets RET (SEAT_DEFAULT when no entry names a seat); negative errno only for a SYSPATH
 * too long. */
#define SEAT_UDEV_DB "/run/udev/data"
int seat_of_syspath(const char *syspath, const char *db_dir, char ret[static USB_SEAT_MAX]);
/* The seat in the text of one udev database entry (LEN bytes, "E:ID_SEAT=seat1" lines): 1
 * with RET set ("" for a name logind would not make), 0 when it names none (RET untouched). */
int seat_from_udev_db(const char *text, size_t len, char ret[static USB_SEAT_MAX]);
