/* SPDX-License-Identifier: MIT */
/* Read-only media (docs/ARCHITECTURE.md "Read-only media").
 *
 * kyokad writes one access file per authorised USB device, RUNTIME_DIR/usb/<sysname>, holding
 * "read-write\n" or "read-only\n", BEFORE it writes `authorized` = 1: a block device of that
 * USB device can only appear afterwards. The udev helper kyoka-block-access reads it while
 * udev processes the block device's "add" event (PROGRAM=, before udev applies permissions
 * and announces the device) and sets the block device read-only (BLKROSET) unless the file
 * says exactly "read-write". Everything else (no file, unreadable, not kyokad's, any other
 * content, a name that is not a USB device's) means read-only: fail closed.
 *
 * Nothing here logs or allocates; the helper links only this and libkyoka-basic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define BLOCK_ACCESS_SUBDIR "usb"                 /* under kyokad's runtime dir */
#define BLOCK_ACCESS_RUNTIME_DIR "/run/kyoka"     /* the helper's default */
#define USB_SYSNAME_MAX 32                        /* "B-P.P.P.P.P.P" (7 tiers) fits easily */

enum block_access {
        BLOCK_ACCESS_READ_ONLY,
        BLOCK_ACCESS_READ_WRITE,
};

const char *block_access_to_string(enum block_access a);   /* "read-only", "read-write" */

/* A USB device's sysfs name: BUS-PORT[.PORT]... (digits only), shorter than
 * USB_SYSNAME_MAX. Root hubs ("usb1"), interfaces ("1-2:1.0") and anything with a '/' or
 * ".." are not. */
bool usb_sysname_valid(const char *s);

/* The USB device a sysfs device path lies under: the innermost component NAME that is a
 * valid USB sysname and is directly followed by one of its interfaces ("NAME:C.I"). E.g.
 * /sys/devices/.../usb2/2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb/sdb1 -> "2-6".
 * Returns 0, -ENOENT when there is none, -ENAMETOOLONG/-EINVAL on a malformed path. */
int usb_sysname_from_devpath(const char *devpath, char *ret, size_t size);

/* Reads SYSNAME's access file in the directory DIRFD. Read-write only if the directory and
 * the file are owned by the caller's effective uid, neither is writable by group or others,
 * the file is a regular file (no symlink followed) and holds exactly "read-write" with an
 * optional newline. Anything else, including every error, is BLOCK_ACCESS_READ_ONLY. */
enum block_access block_access_read(int dirfd, const char *sysname);

/* Replaces SYSNAME's access file atomically (temporary file + rename), mode 0644. 0 or a
 * negative errno (-EINVAL for an invalid sysname, -EBADF for a bad DIRFD). */
int block_access_write(int dirfd, const char *sysname, enum block_access a);

/* Removes it; 0 if it did not exist. */
int block_access_remove(int dirfd, const char *sysname);

/* Removes every entry of the directory (kyokad at start: nothing stale may say
 * "read-write"). 0 or the first negative errno. */
int block_access_clear(int dirfd);

/* BLKROSET on an open block device (needs CAP_SYS_ADMIN). Since Linux 5.12 read-only on the
 * whole disk makes every partition read-only too. 0 or a negative errno (-ENOTBLK if FD is
 * not a block device). */
int block_device_set_read_only(int fd, bool read_only);

/* Whether any block device (disk or partition) below the USB device SYSNAME, whose sysfs
 * directory is DEVICE_DIRFD, is writable (its `ro` reads 0): walks the device's interfaces
 * (SYSNAME:C.I; not the USB devices behind a hub, which have their own decision), not
 * following symlinks, to a bounded depth. 1, 0, or a negative errno (an unreadable `ro` is
 * an error, never read-only). */
int usb_device_has_writable_block(int device_dirfd, const char *sysname);
