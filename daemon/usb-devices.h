/* SPDX-License-Identifier: MIT */
/* kyokad's USB half: the devices it knows (keyed on their sysfs path), their decisions, and the
 * enforcement that keeps unapproved ones unauthorised (usb-enforce.c through usb-io.c) and their
 * block devices read-only where the decision says so (block-access.h, block-watch.c).
 *
 * The path of a plug: usb-watch.c hands a usb_device to on_usb_event(), which has its identity
 * read off the loop (usb-io.c, usb-identity.c); on_identity_done() -> device_decide() asks the
 * policy (policy_match_usb), records the decision (recorder.h) and queues the sysfs writes
 * behind the record's commit; on_apply_done() reports the outcome.
 *
 * The manager owns the policy and the time-window timer; it hands the policy in on start and
 * after every change, and asks for the earliest time a device's decision changes by time. The
 * shape is net-links.h's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <libudev.h>
#include <systemd/sd-event.h>

#include "identity.h"
#include "policy-match.h"
#include "policy.h"

struct recorder;
struct usb_devices;

/* Called when usb_devices_next_change() may have moved (a device appeared, left, was decided). */
typedef void (*usb_devices_timer_changed_t)(void *userdata);

/* Closes controllers that appear from now on (usbcore's authorized_default), prepares
 * RUNTIME_DIR/usb (the access files of read-only media), starts the sysfs workers and listens
 * to USB uevents (SOURCE as usb_watch_new's). Devices are decided from usb_devices_start() on.
 * REC is borrowed and outlives the result. */
int usb_devices_new(sd_event *e, struct udev *udev, const char *source, const char *runtime_dir,
                    struct recorder *rec, usb_devices_timer_changed_t changed, void *userdata,
                    struct usb_devices **ret);
/* Decides every device present under P (controllers first: each is closed), then watches block
 * devices. P is borrowed: usb_devices_policy_changed() whenever the manager replaces or frees
 * it. */
int usb_devices_start(struct usb_devices *u, const struct policy *p);
/* Whether a device's identity is still being read, or a decision is still to be written to
 * sysfs (queued for its record's commit, or on the workers). A device held for its "bind" counts
 * too. (The manager waits for this to end, bounded, before it says it is ready.) */
bool usb_devices_settling(const struct usb_devices *u);
/* The socket of the clamd that scans media a permit holds until they pass (default
 * KYOKA_CLAMD_SOCKET). */
void usb_devices_set_scanner(struct usb_devices *u, const char *clamd_socket);
/* Re-decides every device under P (after a reload, at a time boundary, after a clock set). */
void usb_devices_policy_changed(struct usb_devices *u, const struct policy *p);
/* The earliest time any device's decision may change by time alone, or TIME_INFINITY. */
int64_t usb_devices_next_change(const struct usb_devices *u);
/* Drops decisions not yet submitted and lets the workers deliver what they finished (recorded):
 * before the recorder records kyokad's stop. */
void usb_devices_stop(struct usb_devices *u);
struct usb_devices *usb_devices_free(struct usb_devices *u);

/* For `policyctl status/list/request`: one device as kyokad sees it (borrowed for the call). */
struct usb_device_status {
        const char *name;             /* the kernel's name, "1-2.1" */
        const struct usb_identity *id;
        bool identity_ok;             /* false: descriptors unreadable, blocked */
        bool decided;
        enum policy_verdict verdict;  /* what is enforced */
        const char *reason;
        const char *permit;           /* "" unless a permit decided */
        const char *scan;             /* its virus scan: "" (none asked for), "waiting", "scanning",
                                       * "passed", "infected", "held" (could not finish) */
        const char *scan_fault;       /* "held": why (scan_fault_to_string), else NULL */
        uint64_t scan_files, scan_bytes; /* "scanning": so far */
};
/* The carry-out record (carry.h): the USB device a block device (its /sys/devices path) lies
 * under, if kyokad gave it access (allowed or read-only, its scan passed or none asked for):
 * its identity, permit and verdict. -ENOENT otherwise. */
struct carry_medium_info;
int usb_devices_medium_of(const struct usb_devices *u, const char *block_syspath, struct carry_medium_info *ret);

/* The USB devices kyokad gave access to (as usb_devices_medium_of() judges): their sysfs path
 * and what a record of a file on them says (identity, permit, verdict). */
typedef void (*usb_medium_visitor_t)(const char *syspath, const struct carry_medium_info *info, void *userdata);
void usb_devices_foreach_medium(const struct usb_devices *u, usb_medium_visitor_t visit, void *userdata);
/* CHANGED is called whenever a device was decided or left (the set above may have changed). */
void usb_devices_set_media_listener(struct usb_devices *u, void (*changed)(void *userdata), void *userdata);
/* A file written to the device ID names was scanned (its record F, carry.h): infected
 * de-authorises the device until it is unplugged (scan-infected), a scan that could not be done
 * holds it until a scan of the whole medium passes (scan-held); clean changes nothing. */
struct record_file;
void usb_devices_file_scanned(struct usb_devices *u, const struct usb_identity *id, const struct record_file *f);

/* REQUIRED: read-write media need the carry-out record (it runs apart, carry-link.c); while it is
 * not AVAILABLE a read-write permit gives read-only access and a carry-worker fault. A change
 * decides every device again. */
void usb_devices_set_carry(struct usb_devices *u, bool required, bool available);

typedef void (*usb_device_visitor_t)(const struct usb_device_status *s, void *userdata);
void usb_devices_foreach(const struct usb_devices *u, usb_device_visitor_t visit, void *userdata);
