/* SPDX-License-Identifier: MIT */
/* Read-only media and raw HID (docs/ARCHITECTURE.md "Read-only media", "Raw HID").
 *
 * kyokad writes one access file per authorised USB device, RUNTIME_DIR/usb/<sysname>, BEFORE
 * it writes `authorized` = 1: a block device or hidraw node of that USB device can only appear
 * afterwards. The file is two lines:
 *
 *     read-write | read-only          its block devices
 *     hidraw=root | hidraw=user       its hidraw and hiddev nodes: root's alone, or left to
 *                                     udev's rules (which give some to the seat's user)
 *
 * A device whose storage passed a virus scan (scan.h) has a third line, which binds the file to
 * the disks that were scanned (the kernel numbers every disk it makes, and every medium change
 * of a drive, anew: a card swapped in a reader has another diskseq):
 *
 *     diskseq=N[ N]...                only these disks (and their partitions) get the first
 *                                     line's access; every other block device of the device,
 *                                     and its SCSI generic nodes, are held
 *
 * The udev helper kyoka-block-access reads it while udev processes the node's "add" event
 * (PROGRAM=, before udev applies permissions and announces the device): a block device is
 * set read-only (BLKROSET) unless the file says "read-write"; a hidraw node is made root's
 * alone unless it says "hidraw=user". Everything else (no file, unreadable, not kyokad's, any
 * other content, a name that is not a USB device's) means read-only and root's alone: fail
 * closed. A first line alone (the format before raw HID) means hidraw=root.
 *
 * Nothing here logs or allocates; the helper links only this and libkyoka-basic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyoka-names.h"  /* RUNTIME_DIR/KYOKA_BLOCK_ACCESS_DIR, the helper's default KYOKA_RUNTIME_DIR */

#define USB_SYSNAME_MAX 32                        /* "B-P.P.P.P.P.P" (7 tiers) fits easily */

enum block_access {
        BLOCK_ACCESS_READ_ONLY,
        BLOCK_ACCESS_READ_WRITE,
        /* Approved, but its storage must pass a virus scan first (scan.h): read-only and root's
         * alone (the rule: 0600 root:root, ignored by udisks) until it has. The first line says
         * "held". */
        BLOCK_ACCESS_HELD,
};

const char *block_access_to_string(enum block_access a);   /* "read-only", "read-write", "held" */

enum hidraw_access {
        HIDRAW_ACCESS_ROOT,
        HIDRAW_ACCESS_USER,
};

const char *hidraw_access_to_string(enum hidraw_access h); /* "root", "user" */

#define USB_ACCESS_DISKSEQ_MAX 16     /* disks of one USB device bound (mass storage has <= 16 LUNs) */

/* A USB device's access file, whole. */
struct usb_access {
        enum block_access block;
        enum hidraw_access hidraw;
        bool bound;                   /* a diskseq line: only its disks get BLOCK (may be none) */
        uint8_t n_diskseq;
        uint64_t diskseq[USB_ACCESS_DISKSEQ_MAX];   /* each > 0 */
};

/* The whole of BUF (N bytes, NULs included) as the format above: 0, or -EBADMSG. Numbers are
 * decimal without sign or leading zero, one space apart, at most USB_ACCESS_DISKSEQ_MAX. */
int usb_access_parse(const char *buf, size_t n, struct usb_access *ret);
/* SYSNAME's file, trusted as block_access_read() says; closed (read-only, hidraw=root, not
 * bound) for anything else. Always fills RET. */
void usb_access_read(int dirfd, const char *sysname, struct usb_access *ret);
/* Replaces SYSNAME's file as block_access_write() does; -EINVAL also for more than
 * USB_ACCESS_DISKSEQ_MAX or a zero diskseq. */
int usb_access_write(int dirfd, const char *sysname, const struct usb_access *a);
/* What a node of the device gets under A: IS_BLOCK a disk or a partition, DISKSEQ its disk's (0:
 * unknown). Unbound: A's access; bound: A's for a disk it names, held for anything else. */
enum block_access usb_access_of_node(const struct usb_access *a, bool is_block, uint64_t diskseq);

/* The diskseq of the disk that the block device whose sysfs directory is DEVPATH belongs to (the
 * disk itself, or a partition's parent). 0, or a negative errno (-ENOENT: none, before 5.15). */
int block_devpath_diskseq(const char *devpath, uint64_t *ret);

/* Opens in place the disks below the USB device SYSNAME (sysfs directory DEVICE_DIRFD; its
 * interfaces only) whose diskseq A names, after their virus scan passed: without re-attaching
 * the device, which would make new disks the scan has not seen. Each such disk and its
 * partitions: BLKROSET off if A says read-write (their nodes in DEV_DIRFD, each checked to be
 * the device), then an "add" uevent so that udev's rule gives the node A's access (and
 * 50-udev-default.rules its group). Disks with another diskseq are not touched (held). 0 or the
 * first negative errno (all are tried). */
int usb_device_open_bound(int device_dirfd, const char *sysname, const struct usb_access *a, int dev_dirfd);

/* A USB device's sysfs name: BUS-PORT[.PORT]... (digits only), shorter than
 * USB_SYSNAME_MAX. Root hubs ("usb1"), interfaces ("1-2:1.0") and anything with a '/' or
 * ".." are not. */
bool usb_sysname_valid(const char *s);

/* The USB device a sysfs device path lies under: the innermost component NAME that is a
 * valid USB sysname and is directly followed by one of its interfaces ("NAME:C.I"). E.g.
 * /sys/devices/.../usb2/2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb/sdb1 -> "2-6".
 * Returns 0, -ENOENT when there is none, -ENAMETOOLONG/-EINVAL on a malformed path. */
int usb_sysname_from_devpath(const char *devpath, char *ret, size_t size);

/* Read SYSNAME's access file in the directory DIRFD. Only a file that the caller's effective
 * uid owns, in a directory it owns, neither writable by group or others, a regular file (no
 * symlink followed), whose whole content is in the format above, grants anything: read-write,
 * or hidraw=user. Anything else, including every error, is BLOCK_ACCESS_READ_ONLY and
 * HIDRAW_ACCESS_ROOT. (The first line only: usb_access_of_node() says what a node of a bound
 * device gets.) */
enum block_access block_access_read(int dirfd, const char *sysname);
enum hidraw_access hidraw_access_read(int dirfd, const char *sysname);

/* Replaces SYSNAME's access file atomically (temporary file + rename), mode 0644. 0 or a
 * negative errno (-EINVAL for an invalid sysname, -EBADF for a bad DIRFD). */
int block_access_write(int dirfd, const char *sysname, enum block_access a, enum hidraw_access h);

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

/* Takes back what may have been granted on a raw HID node that is root's alone: removes its
 * access ACL (the uaccess builtin's, logind's). FD is an O_PATH fd of the node (no symlink
 * followed). 0 (also when there was none), -ENODEV if FD is not a character device, or a
 * negative errno. */
int hidraw_node_revoke(int fd);
/* The same for any device node, block or character (an optical drive's sr and sg nodes, which
 * 70-uaccess.rules gives the seat's user): -ENODEV for anything else. */
int device_node_revoke(int fd);

/* Whether any hidraw or hiddev node below the USB device SYSNAME (sysfs directory
 * DEVICE_DIRFD; its interfaces only, as above) may be opened by anyone but root: its node in
 * DEV_DIRFD (/dev: hidrawN, usb/hiddevN) is not 0600 root:root, carries an ACL, or is not the
 * device's node; or udev's database (UDEV_DATA_DIRFD, /run/udev/data; -1 to skip) has it
 * tagged `uaccess`, for which logind grants the seat's user an ACL at every seat change. A
 * node that does not exist (yet) is not open. 1, 0, or a negative errno. */
int usb_device_has_open_hidraw(int device_dirfd, const char *sysname, int dev_dirfd, int udev_data_dirfd);

/* Media on other buses than USB (daemon/media.c, docs/ARCHITECTURE.md "Media on other buses"):
 * kyokad writes RUNTIME_DIR/media/<disk's kernel name> for an approved medium, after its
 * decision and before it asks udev to run the rules for the disk again:
 *
 *     read-write | read-only
 *     diskseq=N                 the disk the decision was for (the kernel numbers every disk it
 *                               makes, and every medium change of a drive, anew)
 *
 * The helper (kyoka-block-access --media) gives the disk, its partitions and its SCSI generic
 * node the access the file says, and only if N is the disk's diskseq now: a card pulled and
 * another put in, or a disc changed, has a new one, and is closed until kyokad decides it.
 * No file, any doubt: closed (0600 root:root, read-only). */
enum media_access {
        MEDIA_ACCESS_CLOSED,
        MEDIA_ACCESS_READ_ONLY,
        MEDIA_ACCESS_READ_WRITE,
};

const char *media_access_to_string(enum media_access a);   /* "closed", "read-only", "read-write" */

/* The whole of BUF (N bytes) as the file's format: 0, or -EBADMSG. */
int media_access_parse(const char *buf, size_t n, enum media_access *ret_access, uint64_t *ret_diskseq);
/* NAME's file in DIRFD, trusted as the USB access files are (owner, mode, regular file, no
 * symlink); MEDIA_ACCESS_CLOSED for anything else, including a diskseq other than DISKSEQ. */
enum media_access media_access_read(int dirfd, const char *name, uint64_t diskseq);
/* Replaces NAME's file (temporary file + rename, 0644); -EINVAL for an invalid NAME or
 * MEDIA_ACCESS_CLOSED (remove it instead). */
int media_access_write(int dirfd, const char *name, enum media_access a, uint64_t diskseq);
int media_access_remove(int dirfd, const char *name);
