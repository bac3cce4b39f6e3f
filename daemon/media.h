/* SPDX-License-Identifier: MIT */
/* kyokad's media on other buses than USB: SD cards, optical drives and their discs, NVMe,
 * SATA and other SCSI disks, virtio disks (docs/ARCHITECTURE.md "Media on other buses"). The
 * disks it knows (keyed on their kernel name and diskseq), which of them are the workstation's
 * own and never touched (media-fixed.h), the decisions for the others, and their enforcement.
 *
 * The path of an SD card: the kernel makes mmcblk0 (0600 root:root); udev runs
 * 73-kyoka-media.rules, whose helper closes it (BLKROSET, 0600, UDISKS_IGNORE) unless this
 * disk has an access file; kyokad hears the kernel's uevent (block-watch.c), reads the disk
 * from sysfs on its worker (media-sysfs.c: cached attributes only), decides (policy_match_media),
 * records, and after the record's commit its worker writes the access file, sets BLKROSET as
 * decided and asks the kernel for a uevent on the disk, its partitions and its SG node, so that
 * udev gives them the access the file says. A disc is decided each time the drive reports a
 * new medium (DISK_MEDIA_CHANGE, a new diskseq).
 *
 * The shape is usb-devices.h's and net-links.h's: the manager owns the policy and the
 * time-window timer. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <libudev.h>
#include <systemd/sd-event.h>

#include "identity.h"
#include "policy-match.h"
#include "policy.h"

struct recorder;
struct media;

/* Called when media_next_change() may have moved. */
typedef void (*media_timer_changed_t)(void *userdata);

/* Prepares RUNTIME_DIR/media (the access files, emptied) and the sysfs worker. REC is borrowed
 * and outlives the result. Nothing is decided before media_start(). */
int media_new(sd_event *e, struct udev *udev, const char *source, const char *runtime_dir, const char *state_dir,
              struct recorder *rec, media_timer_changed_t changed, void *userdata, struct media **ret);
/* Reads (on the first start: writes) STATE_DIR/disks-at-install, keeps the policy's fixed disks
 * in STATE_DIR/fixed-disks, listens to block uevents and decides every disk present. P is
 * borrowed: media_policy_changed() whenever the manager replaces or frees it. */
int media_start(struct media *m, const struct policy *p);
/* The socket of the clamd that scans media a permit holds until they pass (default
 * KYOKA_CLAMD_SOCKET). */
void media_set_scanner(struct media *m, const char *clamd_socket);
/* Re-decides every medium under P (a reload, a time boundary, a clock set). */
void media_policy_changed(struct media *m, const struct policy *p);
/* The earliest time any medium's decision may change by time alone, or TIME_INFINITY. */
int64_t media_next_change(const struct media *m);
/* Drops decisions not yet submitted and lets the worker deliver what it finished. */
void media_stop(struct media *m);
struct media *media_free(struct media *m);

/* For `policyctl status/list/request` (borrowed for the call). */
struct media_status {
        const struct media_identity *id;
        bool identity_ok;
        const char *fixed;            /* why it is one of the workstation's own disks, or NULL */
        bool decided;
        enum policy_verdict verdict;
        const char *reason;
        const char *permit;           /* "" unless a permit decided */
        bool disc;                    /* an optical drive with a disc in it */
        const char *scan;             /* its virus scan, as a USB device's (usb_device_status) */
        const char *scan_fault;
        uint64_t scan_files, scan_bytes;
};
typedef void (*media_visitor_t)(const struct media_status *s, void *userdata);
void media_foreach(const struct media *m, media_visitor_t visit, void *userdata);

/* The carry-out record (carry.h), as usb-devices.h's: REQUIRED: read-write media need it; while
 * it is not AVAILABLE (the worker not connected, fanotify failed) a read-write permit gives
 * read-only access and a carry-worker fault. A change re-decides every medium. */
void media_set_carry(struct media *m, bool required, bool available);
/* Called (on the loop) when a medium was decided or left: the media to record may have changed. */
void media_set_carry_listener(struct media *m, void (*changed)(void *userdata), void *userdata);
/* The approved medium a block device (the disk's or a partition's /sys/devices path) is or lies
 * on, named as media records name it: 0 and RET filled, or -ENOENT (not a medium kyokad gave
 * access to, the workstation's own, held for its scan, blocked). */
struct carry_medium_info;
int media_medium_of(const struct media *m, const char *block_syspath, struct carry_medium_info *ret);
typedef void (*media_medium_visitor_t)(const char *syspath, const struct carry_medium_info *info, void *userdata);
void media_foreach_medium(const struct media *m, media_medium_visitor_t visit, void *userdata);

/* ---- exposed for the unit tests ---- */

/* Whether BLOCK_SYSPATH is DISK_SYSPATH or one of its partitions (a path below it). */
bool media_syspath_under(const char *block_syspath, const char *disk_syspath);
