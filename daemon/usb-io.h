/* SPDX-License-Identifier: MIT */
/* sysfs I/O for USB devices, off the event loop. Reading a device's descriptors and strings,
 * and writing `authorized` (which makes the kernel configure the device over the bus), can
 * block for seconds on a slow or hostile device. Here such work runs on a small pool of
 * threads; the loop only submits requests and receives results.
 *
 * Requests for the same device run one after the other, in submission order, never at the
 * same time, so "allow" followed by "revoke" can never be applied in the wrong order. A
 * device stuck in I/O holds one thread; while every thread is held, new requests wait: a new
 * device then stays as the kernel left it, unauthorised (fail closed). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "block-access.h"
#include "identity.h"
#include "usb-descriptors.h"

#define USB_IO_SYSPATH_MAX 512
#define USB_IO_SYSNAME_MAX 64
#define USB_IO_THREADS_MAX 8

enum usb_io_op {
        USB_IO_READ_IDENTITY,         /* usb_identity_read() */
        USB_IO_APPLY,                 /* authorise (with interfaces) or de-authorise */
        USB_IO_FORGET,                /* the device is gone: remove its access file */
        USB_IO_BLOCK_READ_ONLY,       /* BLKROSET on `devnode` (syspath: the block device's) */
        USB_IO_CALL,                  /* call(context) on a worker (media.c's sysfs work), result in r */
};

struct usb_io_request {
        enum usb_io_op op;
        char syspath[USB_IO_SYSPATH_MAX];
        char sysname[USB_IO_SYSNAME_MAX];
        uint64_t tag;                 /* the caller's, returned with the result */
        void *context;                /* the caller's, returned with the result */
        /* USB_IO_APPLY */
        /* The device the identity was read from (usb_io_result's `ino` and `devnum`; 0 and -1:
         * not known). A device unplugged and another plugged into the same port between the
         * identity read and this request has the same sysfs path but another directory: the
         * request then fails with -ENODEV and changes nothing, since the decision was made for
         * the device that left. Checked on the directory fd every write goes through. */
        uint64_t expect_ino;
        int expect_devnum;
        bool authorize;
        uint32_t interface_mask;
        struct usb_descriptors desc;
        /* With access files (usb_io_set_access_dir): written before the device is authorised;
         * if that fails the device is not authorised (or de-authorised), unless every
         * interface is HID or hub (nothing with a block device: keyboards keep working). */
        enum block_access access;
        enum hidraw_access hidraw;    /* its hidraw nodes (udev rule 73-kyoka-hidraw.rules) */
        /* The device was authorised with the other access (media or hidraw): it is de-authorised
         * and authorised again, so that its nodes are made anew under the new access (udev
         * rules), and no mount, open file, SG_IO handle or hidraw ACL from before survives.
         * Read-only is also re-applied this way when any block device of an authorised device
         * is writable. */
        bool access_changed;
        /* The access file is bound to these disks (block-access.h's diskseq line): a device whose
         * storage passed its virus scan, the disks that scan saw. */
        bool bound;
        uint8_t n_diskseq;
        uint64_t diskseq[USB_ACCESS_DISKSEQ_MAX];
        /* With access_changed: widened from held (its scan passed) on an authorised device. Not
         * re-attached, which would make new disks with new diskseqs the scan never saw: the disks
         * bound are opened where they are (usb_device_open_bound). */
        bool open_in_place;
        /* USB_IO_READ_IDENTITY: also the port (usb-path.h) and the seat (seat.h), which read the
         * parents' sysfs and udev database */
        bool port_and_seat;
        /* USB_IO_BLOCK_READ_ONLY */
        char devnode[USB_IO_SYSNAME_MAX];
        /* USB_IO_CALL: runs in order with the other requests of the same syspath */
        int (*call)(void *context);
};

struct usb_io_result {
        struct usb_io_request req;
        int r;                        /* 0 or a negative errno */
        int probe_error;              /* APPLY: a driver could not be bound (not a failure to enforce) */
        bool reauthorized;            /* APPLY: de-authorised and authorised again (access_changed) */
        int open_error;               /* APPLY with open_in_place: a disk could not be opened (it stays held) */
        struct usb_identity id;       /* READ_IDENTITY */
        struct usb_descriptors desc;  /* READ_IDENTITY */
        uint64_t ino;                 /* READ_IDENTITY: the device's sysfs directory (0 if not opened) */
        int devnum;                   /* READ_IDENTITY: its `devnum`, -1 if unreadable */
        /* READ_IDENTITY with port_and_seat: "" where it could not be found */
        char id_path[USB_PATH_MAX];
        char seat[USB_SEAT_MAX];
};

typedef void (*usb_io_done_t)(const struct usb_io_result *res, void *userdata);

struct usb_io;

/* DONE is called on the loop's thread for each finished request. */
int usb_io_new(sd_event *e, unsigned n_threads, usb_io_done_t done, void *userdata, struct usb_io **ret);
/* From now on APPLY writes (and de-authorisation and FORGET remove) the access file of each
 * device in DIRFD (not owned; kept open by the caller until usb_io_free). A negative DIRFD
 * makes every write fail: devices that could have block devices are then never authorised.
 * Without this call no access files are written (tests of the sysfs writes alone). */
void usb_io_set_access_dir(struct usb_io *io, int dirfd);
/* Queues a request (copied). -ENOMEM only. */
int usb_io_submit(struct usb_io *io, const struct usb_io_request *req);
/* Requests queued or running. */
unsigned usb_io_pending(struct usb_io *io);
/* Stops the workers. Finished requests are delivered, requests not started are delivered
 * with r = -ECANCELED (so the caller can release their contexts); a request still running
 * on a hung device is waited for a moment, then left to the process's end. */
struct usb_io *usb_io_free(struct usb_io *io);
