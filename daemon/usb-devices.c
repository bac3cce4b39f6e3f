/* SPDX-License-Identifier: MIT */
/* kyokad's USB devices (usb-devices.h). */
#include "usb-devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block-access.h"
#include "block-watch.h"
#include "carry.h"
#include "fileio.h"
#include "kyoka-names.h"
#include "log.h"
#include "recorder.h"
#include "seat.h"
#include "scan.h"
#include "timeutil.h"
#include "trace.h"
#include "usb-enforce.h"
#include "usb-io.h"
#include "usb-path.h"
#include "usb-watch.h"

#define SYSPATH_MAX 512

struct queued_apply {
        struct queued_apply *next;
        struct usb_io_request req;
};
#define USB_IO_THREADS 4              /* devices whose sysfs I/O may hang before new ones wait */
/* A held device's block devices have been quiet this long: the disk and its partitions are all
 * there (measured: partitions follow the disk by well under a second under QEMU's TCG). */
#define SCAN_SETTLE_USEC (1500ULL * 1000ULL)

/* Where a device whose storage must pass a virus scan stands (docs/ARCHITECTURE.md "Scan
 * before use"). Kept while it is plugged: a stick unplugged and plugged again is scanned again. */
enum usb_scan_state {
        USB_SCAN_NONE,                /* no scan asked for */
        USB_SCAN_WAITING,             /* held: waiting for its block devices to settle */
        USB_SCAN_RUNNING,             /* held: the worker scans it */
        USB_SCAN_PASSED,              /* clean: the permitted access is given */
        USB_SCAN_INFECTED,            /* de-authorised until it is unplugged */
        USB_SCAN_FAULT,               /* held: the scan could not finish (scan_fault); tried again at
                                       * the next decision (a reload) or a new block device */
};

static const char *const usb_scan_state_names[] = {
        [USB_SCAN_NONE] = "",
        [USB_SCAN_WAITING] = "waiting",
        [USB_SCAN_RUNNING] = "scanning",
        [USB_SCAN_PASSED] = "passed",
        [USB_SCAN_INFECTED] = "infected",
        [USB_SCAN_FAULT] = "held",
};

struct usb_device {
        struct usb_device *next;
        char syspath[SYSPATH_MAX];
        char sysname[64];
        char id_path[USB_PATH_MAX];   /* the port (usb-path.h), kept until the identity arrives */
        char seat[USB_SEAT_MAX];      /* seat.h, kept likewise */
        bool seat_from_event;         /* the event itself named the seat (a udev event's ID_SEAT) */
        uint64_t read_tag;            /* the identity read in flight; 0 when none */
        enum usb_record_event read_event; /* what to record once it arrives */
        bool identity_known;          /* the identity has been read (well or not) */
        bool seen;                    /* in the latest enumeration (sweep after lost uevents) */
        bool identity_ok;
        struct usb_identity id;
        struct usb_descriptors desc;
        uint64_t ino;                 /* of the sysfs directory the identity was read from (usb-io.h) */
        int devnum;
        bool decided;
        enum policy_verdict verdict;
        enum hidraw_access hidraw;    /* of the last decision */
        int64_t next_change;
        char reason[RECORD_REASON_MAX + 96]; /* of the last decision (+ an enforcement error), for `policyctl list` */
        char permit[POLICY_STRING_MAX];
        enum block_access access;     /* of the last decision (held while its scan has not passed) */
        enum usb_scan_state scan;
        bool scan_written;            /* of the last decision: each file written to it is scanned */
        enum scan_fault scan_fault;   /* USB_SCAN_FAULT: why */
        struct scan_job *scan_job;
        sd_event_source *scan_settle;
        struct usb_devices *owner;    /* for the scan's callbacks */
        /* Decided on the kernel's "add", before its generic driver bound: an authorisation
         * then would race the driver's probe, which sets the configuration again and brings the
         * interfaces back unauthorised (seen in tests/vm/test-kyokad-usb.py). The sysfs writes
         * wait here for the device's "bind"; the identity read and the ledger commit do not. */
        bool bound;
        struct usb_io_request *held_apply;
        char signature[SCAN_SIGNATURE_MAX]; /* USB_SCAN_INFECTED */
        /* Its disks as block uevents report them (kernel name, diskseq: the kernel numbers every
         * disk it makes and every medium change anew), the diskseqs the running or last scan
         * covers (taken when it starts), and whether the access file is bound to those (its
         * scan passed: block-access.h). A disk of a bound device with another diskseq is a new
         * medium (a card swapped in the reader): held and scanned again. */
        struct usb_disk {
                char name[32];
                uint64_t diskseq;
        } disks[USB_ACCESS_DISKSEQ_MAX];
        uint8_t n_disks;
        uint64_t scan_seqs[USB_ACCESS_DISKSEQ_MAX];
        uint8_t n_scan_seqs;
        bool scan_bound;
};


struct usb_devices {
        sd_event *event;
        struct udev *udev;
        char *source;                 /* "kernel" or "udev" (usb_watch_new) */
        char *runtime_dir;
        struct recorder *rec;         /* borrowed */
        const struct policy *policy;  /* borrowed; NULL: built-in lockdown */
        struct usb_watch *watch;
        struct usb_device *devices;
        struct usb_io *io;            /* sysfs I/O off the loop (usb-io.c) */
        struct queued_apply *applies; /* decided, waiting for their record's commit */
        struct queued_apply **applies_tail;
        sd_event_source *applies_source;
        uint64_t io_tags;
        struct block_watch *block;    /* block devices of read-only media (block-watch.c) */
        /* Controllers (by bus number) that could not be closed: their interfaces are authorised
         * as soon as a device is, so only devices approved whole may be authorised there. */
        uint64_t open_controllers;
        int access_dirfd;             /* RUNTIME_DIR/usb: the access files (block-access.h) */
        int exe_fd;                   /* kyokad's own binary, for the scan worker */
        char *clamd_socket;
        int64_t next_change;          /* as last reported to the manager */
        usb_devices_timer_changed_t changed;
        void *userdata;
        /* The carry-out record in its own unit (carry-link.c): read-write only while it runs. */
        bool carry_required;
        bool carry_available;
        bool started;                 /* usb_devices_start() ran: devices are decided */
        void (*media_changed)(void *userdata);
        void *media_userdata;
};

static void media_changed(struct usb_devices *u) {
        if (u->media_changed)
                u->media_changed(u->media_userdata);
}

static int64_t now_seconds(void) {
        return (int64_t) time(NULL);
}

static struct usb_device *usb_device_find(struct usb_devices *u, const char *syspath) {
        for (struct usb_device *d = u->devices; d; d = d->next)
                if (streq(d->syspath, syspath))
                        return d;
        return NULL;
}

static void usb_device_scan_stop(struct usb_device *d) {
        d->scan_job = scan_job_free(d->scan_job);
        d->scan_settle = sd_event_source_disable_unref(d->scan_settle);
}

static void usb_io_request_drop(struct usb_io_request *req);

static void usb_device_free(struct usb_device *d) {
        usb_device_scan_stop(d);
        usb_io_request_drop(d->held_apply);
        free(d);
}

static void usb_device_forget(struct usb_devices *u, const char *syspath) {
        for (struct usb_device **p = &u->devices; *p; p = &(*p)->next)
                if (streq((*p)->syspath, syspath)) {
                        struct usb_device *d = *p;
                        *p = d->next;
                        usb_device_free(d);
                        return;
                }
}

static void report_next_change(struct usb_devices *u);

/* D left (its uevent, or missing from an enumeration after lost uevents): recorded and
 * forgotten, and its access file goes too (after any decision still queued for it). */
static void usb_device_removed(struct usb_devices *u, struct usb_device *d, const char *why) {
        struct usb_io_request req = { .op = USB_IO_FORGET };

        struct record_decision rd;
        record_decision_init(&rd, NULL, d->verdict, why);
        recorder_usb(u->rec, USB_RECORD_REMOVED, &d->id, &rd, 0);
        snprintf(req.syspath, sizeof req.syspath, "%s", d->syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", d->sysname);
        usb_device_forget(u, d->syspath);
        if (usb_sysname_valid(req.sysname) && usb_io_submit(u->io, &req) < 0)
                recorder_fault(u->rec, FAULT_ACCESS_FILE, -ENOMEM, "Failed to queue removing the access file of %s", req.sysname);
        report_next_change(u);
        media_changed(u);
}

/* A decision on its way to the kernel: what to report once its sysfs writes are done, and what
 * to record again if they fail. */
struct usb_decision_record {
        enum usb_record_event ev;
        struct record_decision d;
        struct usb_identity id;
        struct record_report *report; /* NULL: nothing to report (an unchanged re-evaluation) */
};

static void usb_decision_record_free(struct usb_decision_record *rec) {
        if (rec)
                record_report_free(rec->report);
        free(rec);
}

/* A held apply that will not run (replaced, or its device gone): its record was committed with
 * the decision; its report goes nowhere (no writes were made). */
static void usb_io_request_drop(struct usb_io_request *req) {
        if (req)
                usb_decision_record_free(req->context);
        free(req);
}

/* The record of a decision goes to the ledger before the device changes state: sysfs writes
 * are queued here and submitted by a deferred source of lower priority than the ledger's
 * commit, so they start only after the commit of everything decided in this turn of the loop
 * (group commit: a storm is one transaction). A failing ledger does not hold them up. */
static int on_submit_applies(sd_event_source *s, void *userdata) {
        struct usb_devices *u = userdata;

        while (u->applies) {
                struct queued_apply *q = u->applies;
                u->applies = q->next;
                trace_point(q->req.sysname, "apply-submit");
                int r = usb_io_submit(u->io, &q->req);
                if (r < 0) {
                        recorder_fault(u->rec, FAULT_ENFORCE, r, "Failed to queue enforcement for USB device %s: %s", q->req.sysname,
                                     strerror(-r));
                        usb_decision_record_free(q->req.context);
                }
                free(q);
        }
        u->applies_tail = &u->applies;
        return 0;
}

/* Decided but not yet submitted (kyokad stops): the device stays as the kernel has it. */
static void usb_applies_drop(struct usb_devices *u) {
        while (u->applies) {
                struct queued_apply *q = u->applies;
                u->applies = q->next;
                usb_decision_record_free(q->req.context);
                free(q);
        }
        u->applies_tail = &u->applies;
}

static void usb_apply_queue(struct usb_devices *u, const struct usb_io_request *req) {
        struct queued_apply *q = malloc(sizeof *q);
        if (!q) {
                recorder_fault(u->rec, FAULT_OOM, -ENOMEM, "Out of memory enforcing on USB device %s: left as the kernel has it",
                             req->sysname);
                usb_decision_record_free(req->context);
                return;
        }
        q->next = NULL;
        q->req = *req;
        *u->applies_tail = q;
        u->applies_tail = &q->next;
        (void) sd_event_source_set_enabled(u->applies_source, SD_EVENT_ONESHOT);
}

/* The bus number of a device's kernel name ("3-1.2" -> 3), 0 if there is none. */
static unsigned usb_bus_of(const char *sysname) {
        unsigned bus = 0;
        for (const char *p = sysname; *p >= '0' && *p <= '9' && bus < 1000; p++)
                bus = bus * 10 + (unsigned) (*p - '0');
        return bus;
}

static bool controller_is_open(const struct usb_devices *u, unsigned bus) {
        /* Bus numbers beyond 63 are not tracked: counted as open (fail closed). */
        return bus >= 64 ? u->open_controllers != 0 : (u->open_controllers >> bus) & 1;
}

/* Decides now (matching is fast and on the loop), records the decision, and queues the sysfs
 * writes behind the record's commit; the report follows when the writes have completed. */
/* A device that can bring block devices (a mass storage interface): only these wait for the
 * carry-out worker; a keyboard allowed read-write is not attached again for it. */
static bool has_mass_storage(const struct usb_descriptors *desc) {
        if (desc->device_class.cls == 0x08)
                return true;
        for (size_t i = 0; i < desc->n_interfaces; i++)
                if (desc->interfaces[i].c.cls == 0x08)
                        return true;
        return false;
}

static void usb_device_decide(struct usb_devices *u, struct usb_device *d, enum usb_record_event ev) {
        struct policy_decision dec = { .verdict = VERDICT_BLOCK };
        struct usb_decision_record *rec = calloc(1, sizeof *rec);
        char reason[RECORD_REASON_MAX];

        if (!rec) {
                recorder_fault(u->rec, FAULT_OOM, -ENOMEM, "Out of memory deciding USB device %s: left as the kernel has it", d->sysname);
                return;
        }

        if (!d->identity_ok)
                /* Unreadable or malformed descriptors: nothing to match on, so nothing allowed. */
                snprintf(reason, sizeof reason, "descriptors unreadable or malformed");
        else {
                policy_match_usb(u->policy, &d->id, now_seconds(), &dec);
                policy_decision_describe(&dec, &d->id, reason, sizeof reason);
        }
        trace_point(d->sysname, "matched");

        enum policy_verdict verdict = dec.verdict;
        unsigned bus = usb_bus_of(d->sysname);
        if (verdict != VERDICT_BLOCK && controller_is_open(u, bus) && !usb_interfaces_all(&d->desc, dec.interface_mask)) {
                /* Approved for some interfaces only, on a controller that authorises every
                 * interface with the device: the others would bind a driver first. */
                verdict = VERDICT_BLOCK;
                snprintf(reason + strlen(reason), sizeof reason - strlen(reason),
                         "; blocked: its controller usb%u keeps new interfaces authorised "
                         "(interface_authorized_default could not be set to 0)", bus);
        }
        if (d->scan == USB_SCAN_INFECTED && verdict != VERDICT_BLOCK) {
                /* Found infected while plugged: no policy change lets it back before it is unplugged. */
                verdict = VERDICT_BLOCK;
                snprintf(reason + strlen(reason), sizeof reason - strlen(reason), "; blocked: virus found (%s)",
                         d->signature);
        }
        bool held = verdict != VERDICT_BLOCK && dec.scan_required && d->scan != USB_SCAN_PASSED;
        bool carry_needed = u->carry_required || dec.scan_written;
        if (verdict == VERDICT_ALLOW && !held && carry_needed && !u->carry_available && has_mass_storage(&d->desc)) {
                /* Fail closed: what is written to it could not be recorded (the carry-out worker
                 * is not connected), and the contract wants every carry-out recorded. Read-only
                 * until it is back; then decided again (usb_devices_set_carry_available). */
                verdict = VERDICT_READ_ONLY;
                snprintf(reason + strlen(reason), sizeof reason - strlen(reason),
                         "; read-only: the carry-out record is not running");
                if (!d->decided || d->verdict != VERDICT_READ_ONLY)
                        recorder_fault(u->rec, FAULT_CARRY_WORKER, -ENOTCONN, "USB device %s (%04x:%04x serial \"%s\") "
                                       "approved read-write is read-only: the carry-out record (kyoka-carry.service) "
                                       "is not connected, so files written to it could not be recorded",
                                       d->id.bus_path, d->id.vendor, d->id.product, d->id.has_serial ? d->id.serial : "");
        }
        /* The udev rule leaves raw HID nodes to udev's rules (uaccess) only when this says so. */
        enum hidraw_access hidraw = verdict != VERDICT_BLOCK && dec.hidraw_user ? HIDRAW_ACCESS_USER
                                                                                 : HIDRAW_ACCESS_ROOT;
        /* The udev rule makes the block devices read-only unless this says read-write, and root's
         * alone while it says held. */
        enum block_access access = held ? BLOCK_ACCESS_HELD :
                                   verdict == VERDICT_ALLOW ? BLOCK_ACCESS_READ_WRITE : BLOCK_ACCESS_READ_ONLY;
        /* held, read-only, read-write, or hidraw root <-> user, on an authorised device: it is
         * attached again under the new access (usb-io.c job_apply). From or to "block" nothing
         * is attached to redo. */
        bool access_changed = d->decided && d->verdict != VERDICT_BLOCK && verdict != VERDICT_BLOCK &&
                              (d->access != access || d->hidraw != hidraw);
        /* Its scan passed: the file names the disks the scan saw (others stay held), and from
         * held it is opened where it is, not attached again (new disks, never scanned). */
        bool bound = verdict != VERDICT_BLOCK && dec.scan_required && !held;
        bool open_in_place = bound && access_changed && d->access == BLOCK_ACCESS_HELD && d->hidraw == hidraw;

        rec->ev = ev;
        rec->id = d->id;
        record_decision_init(&rec->d, d->identity_ok ? &dec : NULL, verdict, reason);
        if (!d->decided || d->verdict != verdict || ev != USB_RECORD_REEVALUATED)
                rec->report = recorder_usb_decided(u->rec, ev, &rec->id, &rec->d);
        trace_point(d->sysname, "recorded");

        d->decided = true;
        d->verdict = verdict;
        d->scan_written = verdict != VERDICT_BLOCK && dec.scan_written;
        d->hidraw = hidraw;
        d->access = access;
        d->scan_bound = bound;
        if (held && d->scan != USB_SCAN_RUNNING && d->scan != USB_SCAN_WAITING)
                d->scan = USB_SCAN_WAITING;     /* armed when its apply is done (on_usb_apply_done) */
        else if (!held && d->scan != USB_SCAN_PASSED && d->scan != USB_SCAN_INFECTED) {
                usb_device_scan_stop(d);
                d->scan = USB_SCAN_NONE;
        }
        d->next_change = d->identity_ok ? dec.next_change : TIME_INFINITY;
        snprintf(d->reason, sizeof d->reason, "%s", rec->d.reason);
        snprintf(d->permit, sizeof d->permit, "%s", rec->d.permit);

        struct usb_io_request req = {
                .op = USB_IO_APPLY,
                .expect_ino = d->ino,
                .expect_devnum = d->devnum,
                .authorize = verdict != VERDICT_BLOCK,
                .interface_mask = dec.interface_mask,
                .desc = d->desc,
                .context = rec,
                .access = access,
                .hidraw = hidraw,
                .access_changed = access_changed,
                .bound = bound,
                .n_diskseq = bound ? d->n_scan_seqs : 0,
                .open_in_place = open_in_place,
        };
        memcpy(req.diskseq, d->scan_seqs, sizeof req.diskseq);
        snprintf(req.syspath, sizeof req.syspath, "%s", d->syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", d->sysname);
        usb_io_request_drop(TAKE_PTR(d->held_apply));
        if (req.authorize && !d->bound) {
                d->held_apply = malloc(sizeof *d->held_apply);
                if (d->held_apply) {
                        *d->held_apply = req;
                        trace_point(d->sysname, "apply-held");
                        return;
                }
                /* Out of memory: as the kernel has it (unauthorised), until a reload decides again. */
                recorder_fault(u->rec, FAULT_OOM, -ENOMEM, "Out of memory enforcing on USB device %s: left as the kernel has it",
                               d->sysname);
                usb_decision_record_free(rec);
                return;
        }
        usb_apply_queue(u, &req);
        media_changed(u);
}

/* D's generic driver bound (or D was found by an enumeration): a held authorisation may go. */
static void usb_device_bound(struct usb_devices *u, struct usb_device *d) {
        d->bound = true;
        if (d->held_apply) {
                struct usb_io_request *req = TAKE_PTR(d->held_apply);
                usb_apply_queue(u, req);
                free(req);
        }
}

static void usb_device_scan_arm(struct usb_devices *u, struct usb_device *d);

static void on_usb_apply_done(struct usb_devices *u, const struct usb_io_result *res) {
        struct usb_decision_record *rec = res->req.context;

        if (res->r == -ECANCELED) {
                /* kyokad is stopping before it could enforce: the device stays as the kernel
                 * has it (a new device: unauthorised). */
                usb_decision_record_free(rec);
                return;
        }
        if (res->r < 0) {
                struct usb_device *d = usb_device_find(u, res->req.syspath);
                if (!d || res->r == -ENODEV || access(res->req.syspath, F_OK) < 0) {
                        /* Unplugged while it was being decided, or replaced by another device
                         * at the same port (-ENODEV: nothing was written): nothing failed, the
                         * removal is recorded on its own and the newcomer decided on its own. */
                        log_debug("USB device %s left before its decision was applied: %s", res->req.sysname,
                                  strerror(-res->r));
                        usb_decision_record_free(rec);
                        return;
                }
                d->verdict = VERDICT_BLOCK;
                snprintf(d->reason, sizeof d->reason, "%s: enforcement failed: %s", rec->d.reason, strerror(-res->r));
                rec->report = record_report_free(rec->report);
                recorder_usb(u->rec, rec->ev, &rec->id, &rec->d, res->r);
        } else
                recorder_report_emit(u->rec, TAKE_PTR(rec->report));
        trace_point(res->req.sysname, "apply-delivered");
        if (res->r >= 0 && res->reauthorized)
                log_info("USB device %s attached again so that its block devices are %s", res->req.sysname,
                         block_access_to_string(res->req.access));
        else if (res->r >= 0 && res->req.open_in_place && res->open_error == 0)
                log_info("USB device %s: the storage its scan passed is %s now (opened in place)", res->req.sysname,
                         block_access_to_string(res->req.access));
        if (res->r >= 0 && res->req.open_in_place && res->open_error < 0)
                recorder_fault(u->rec, FAULT_ENFORCE, res->open_error, "USB device %s: its scanned storage could not all "
                               "be opened in place: %s; what could not stays read-only and root's", res->req.sysname,
                               strerror(-res->open_error));
        if (res->r >= 0 && res->req.authorize && res->req.access == BLOCK_ACCESS_HELD) {
                struct usb_device *d = usb_device_find(u, res->req.syspath);
                if (d && d->scan == USB_SCAN_WAITING)
                        usb_device_scan_arm(u, d);
        }
        if (res->probe_error < 0)
                recorder_fault(u->rec, FAULT_DRIVER_BIND, res->probe_error,
                             "USB device %s is authorised but a driver could not be bound: %s", res->req.sysname,
                             strerror(-res->probe_error));
        usb_decision_record_free(rec);
}

static void on_usb_identity_done(struct usb_devices *u, const struct usb_io_result *res) {
        struct usb_device *d = usb_device_find(u, res->req.syspath);

        trace_point(res->req.sysname, "identity-delivered");
        /* Gone, or plugged again since this read began: a newer read will decide it. */
        if (!d || d->read_tag != res->req.tag)
                return;
        d->read_tag = 0;
        d->identity_known = true;
        d->identity_ok = res->r >= 0;
        d->ino = res->ino;
        d->devnum = res->devnum;
        if (res->r >= 0) {
                d->id = res->id;
                d->desc = res->desc;
        } else {
                memset(&d->id, 0, sizeof d->id);
                memset(&d->desc, 0, sizeof d->desc);
                identity_sanitize(d->sysname, strlen(d->sysname), d->id.bus_path, sizeof d->id.bus_path);
                if (res->r != -ECANCELED)
                        recorder_fault(u->rec, FAULT_IDENTITY, res->r, "Failed to read the identity of USB device %s: %s", d->sysname,
                                     strerror(-res->r));
        }
        /* Which seat's user is told (control socket): the parents' properties come from udev's
         * database of the hub or controller, not from the new device's own sysfs attributes. */
        if (res->req.port_and_seat) {
                if (res->id_path[0])
                        memcpy(d->id_path, res->id_path, sizeof d->id_path);
                if (!d->seat_from_event)
                        memcpy(d->seat, res->seat, sizeof d->seat);
        }
        memcpy(d->id.id_path, d->id_path, sizeof d->id.id_path);
        memcpy(d->id.seat, d->seat, sizeof d->id.seat);
        if (res->r == -ECANCELED)
                return;
        usb_device_decide(u, d, d->read_event);
        report_next_change(u);
}

/* The tracked USB device that the sysfs path SYSPATH (a block device) lies under. */
static struct usb_device *usb_device_above(struct usb_devices *u, const char *syspath) {
        struct usb_device *best = NULL;
        for (struct usb_device *d = u->devices; d; d = d->next) {
                size_t n = strlen(d->syspath);
                if (strncmp(syspath, d->syspath, n) == 0 && syspath[n] == '/' &&
                    (!best || n > strlen(best->syspath)))
                        best = d;
        }
        return best;
}

static void usb_device_submit_deauthorize(struct usb_devices *u, struct usb_device *d, const char *why) {
        struct usb_decision_record *rec = calloc(1, sizeof *rec);
        if (!rec) {
                recorder_fault(u->rec, FAULT_OOM, -ENOMEM, "Out of memory de-authorising USB device %s", d->sysname);
                return;
        }
        *rec = (struct usb_decision_record) { .ev = USB_RECORD_REEVALUATED, .id = d->id };
        record_decision_init(&rec->d, NULL, VERDICT_BLOCK, why);
        rec->report = recorder_usb_decided(u->rec, rec->ev, &rec->id, &rec->d);
        d->verdict = VERDICT_BLOCK;
        snprintf(d->reason, sizeof d->reason, "%s", why);
        struct usb_io_request req = { .op = USB_IO_APPLY, .authorize = false, .context = rec };
        snprintf(req.syspath, sizeof req.syspath, "%s", d->syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", d->sysname);
        usb_apply_queue(u, &req);
        media_changed(u);
}

static void on_block_read_only_done(struct usb_devices *u, const struct usb_io_result *res) {
        /* Gone meanwhile (unplugged, de-authorised): nothing left to protect. */
        if (res->r >= 0 || res->r == -ECANCELED || res->r == -ENOENT || res->r == -ENXIO || res->r == -ENODEV)
                return;
        struct usb_device *d = usb_device_above(u, res->req.syspath);
        recorder_fault(u->rec, FAULT_READ_ONLY, res->r, "Failed to make %s read-only: %s; %s", res->req.devnode, strerror(-res->r),
                     d ? "its USB device is de-authorised" : "no USB device known above it");
        if (d) {
                char why[256];
                snprintf(why, sizeof why, "read-only could not be enforced on %s: %s", res->req.devnode,
                         strerror(-res->r));
                usb_device_submit_deauthorize(u, d, why);
        }
}

static void on_usb_io_done(const struct usb_io_result *res, void *userdata) {
        struct usb_devices *u = userdata;

        switch (res->req.op) {
        case USB_IO_READ_IDENTITY:
                on_usb_identity_done(u, res);
                break;
        case USB_IO_APPLY:
                on_usb_apply_done(u, res);
                break;
        case USB_IO_FORGET:
                if (res->r < 0 && res->r != -ECANCELED)
                        recorder_fault(u->rec, FAULT_ACCESS_FILE, res->r, "Failed to remove the access file of USB device %s: %s",
                                     res->req.sysname, strerror(-res->r));
                break;
        case USB_IO_BLOCK_READ_ONLY:
                on_block_read_only_done(u, res);
                break;
        case USB_IO_CALL:
                break;
        }
}

static uint64_t event_diskseq(struct udev_device *dev) {
        const char *s = udev_device_get_property_value(dev, "DISKSEQ");
        char *end;
        if (!s)
                return 0;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        return errno == 0 && end != s && *end == 0 ? (uint64_t) v : 0;
}

static struct usb_disk *usb_disk_find(struct usb_device *d, const char *name) {
        for (size_t i = 0; i < d->n_disks; i++)
                if (streq(d->disks[i].name, name))
                        return &d->disks[i];
        return NULL;
}

static bool scan_covers(const struct usb_device *d, uint64_t diskseq) {
        for (size_t i = 0; diskseq > 0 && i < d->n_scan_seqs; i++)
                if (d->scan_seqs[i] == diskseq)
                        return true;
        return false;
}

/* Keeps D's list of disks as the uevent DEV (a disk or a partition of D) says. Returns whether
 * it shows a medium that D's scan did not cover: a disk (or a partition of one) with another
 * diskseq, or a medium change. */
static bool usb_disk_follow(struct usb_device *d, struct udev_device *dev, const char *action) {
        const char *devtype = udev_device_get_devtype(dev), *name = udev_device_get_sysname(dev);
        struct usb_disk *k;

        if (!devtype || !name || strlen(name) >= sizeof d->disks[0].name)
                return true;            /* nothing to tell it by: a new medium, as far as we know */
        if (streq(devtype, "partition")) {
                struct udev_device *disk = udev_device_get_parent_with_subsystem_devtype(dev, "block", "disk");
                const char *dname = disk ? udev_device_get_sysname(disk) : NULL;
                k = dname ? usb_disk_find(d, dname) : NULL;
                return streq(action, "add") && (!k || !scan_covers(d, k->diskseq));
        }
        if (!streq(devtype, "disk"))
                return false;
        k = usb_disk_find(d, name);
        if (streq(action, "remove")) {
                if (k)
                        *k = d->disks[--d->n_disks];
                return false;
        }
        uint64_t seq = event_diskseq(dev);
        if (!k && d->n_disks < USB_ACCESS_DISKSEQ_MAX) {
                k = &d->disks[d->n_disks++];
                snprintf(k->name, sizeof k->name, "%s", name);
        }
        if (k && seq > 0)
                k->diskseq = seq;
        if (!streq(action, "add") && !streq(action, "change"))
                return false;
        return !scan_covers(d, seq);
}

/* A medium D's scan did not cover appeared in it (a card swapped in a reader, a disk made anew):
 * D is held again (attached again, narrowing: nothing opened on the last card survives) and
 * scanned anew; a held D's scan, running, waiting or failed, starts over (a card put into an
 * empty reader is another try). */
static void usb_device_new_medium(struct usb_devices *u, struct usb_device *d, const char *disk) {
        if (d->scan == USB_SCAN_INFECTED || d->verdict == VERDICT_BLOCK)
                return;
        if (d->access == BLOCK_ACCESS_HELD) {
                if (d->scan == USB_SCAN_WAITING || d->scan == USB_SCAN_RUNNING || d->scan == USB_SCAN_FAULT) {
                        usb_device_scan_stop(d);
                        usb_device_scan_arm(u, d);
                }
                return;
        }
        if (!d->scan_bound)
                return;
        log_info("USB device %s: a new medium in %s (not the one scanned): held for its virus scan", d->sysname, disk);
        usb_device_scan_stop(d);
        d->scan = USB_SCAN_NONE;
        d->n_scan_seqs = 0;
        usb_device_decide(u, d, USB_RECORD_REEVALUATED);
}

/* A block device appeared (or a new medium in one). The udev rule has made it read-only, or is
 * about to, unless kyokad said read-write; this is kyokad's own BLKROSET behind it, for every
 * block device of a USB device that kyokad did not decide read-write. A device whose decision
 * is still pending was authorised before this kyokad started: its decision re-checks its block
 * devices. */
static void on_block_event(struct udev_device *dev, const char *action, void *userdata) {
        struct usb_devices *u = userdata;
        const char *syspath = udev_device_get_syspath(dev), *devnode = udev_device_get_devnode(dev);
        struct udev_device *usb = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");

        if (!usb || !syspath)
                return;                 /* not on USB */
        const char *usb_syspath = udev_device_get_syspath(usb);
        struct usb_device *d = usb_syspath ? usb_device_find(u, usb_syspath) : NULL;
        bool uncovered = d && usb_disk_follow(d, dev, action);
        bool new_medium = uncovered && d->decided && (d->scan_bound || d->access == BLOCK_ACCESS_HELD);
        if (new_medium)
                usb_device_new_medium(u, d, udev_device_get_sysname(dev) ?: "?");
        if (!devnode || (!streq(action, "add") && !new_medium))
                return;
        /* A held device's storage is scanned once it has settled; a new block device of one whose
         * scan could not finish (a card put into a reader) is another try. */
        if (d && d->decided && d->access == BLOCK_ACCESS_HELD && streq(action, "add") &&
            (d->scan == USB_SCAN_WAITING || (d->scan == USB_SCAN_FAULT && d->scan_fault == SCAN_FAULT_NO_MEDIUM)))
                usb_device_scan_arm(u, d);
        if (d && (!d->decided || (d->verdict == VERDICT_ALLOW && d->access == BLOCK_ACCESS_READ_WRITE)))
                return;
        struct usb_io_request req = { .op = USB_IO_BLOCK_READ_ONLY };
        if (strlen(syspath) >= sizeof req.syspath || strlen(devnode) >= sizeof req.devnode) {
                recorder_fault(u->rec, FAULT_READ_ONLY, -ENAMETOOLONG, "Block device path too long: %.64s...", syspath);
                if (d)
                        usb_device_submit_deauthorize(u, d, "read-only could not be enforced: path too long");
                return;
        }
        snprintf(req.syspath, sizeof req.syspath, "%s", syspath);
        snprintf(req.devnode, sizeof req.devnode, "%s", devnode);
        snprintf(req.sysname, sizeof req.sysname, "%s", udev_device_get_sysname(dev) ?: "");
        int r = usb_io_submit(u->io, &req);
        if (r < 0) {
                recorder_fault(u->rec, FAULT_READ_ONLY, r, "Failed to queue read-only for %s: %s", devnode, strerror(-r));
                if (d)
                        usb_device_submit_deauthorize(u, d, "read-only could not be enforced: out of memory");
        }
}

/* ---- scan before use ---- */

static void on_scan_done(struct scan_job *job, const struct scan_outcome *o, void *userdata) {
        struct usb_device *d = userdata;
        struct usb_devices *u = d->owner;

        d->scan_job = scan_job_free(job);
        switch (o->result) {
        case SCAN_RESULT_CLEAN:
                d->scan = USB_SCAN_PASSED;
                break;
        case SCAN_RESULT_INFECTED:
                d->scan = USB_SCAN_INFECTED;
                snprintf(d->signature, sizeof d->signature, "%s", o->signature);
                break;
        default:
                d->scan = USB_SCAN_FAULT;
                d->scan_fault = o->fault;
                break;
        }
        recorder_scan_outcome(u->rec, &(struct record_scan) { .usb = &d->id, .permit = d->permit }, d->verdict, o);
        if (d->scan == USB_SCAN_FAULT)
                return;         /* stays as it is: held */
        /* Decided again: clean gives the permitted access (the device is attached again under
         * it), infected blocks it. */
        usb_device_decide(u, d, USB_RECORD_REEVALUATED);
}

static int on_scan_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        struct usb_device *d = userdata;
        struct usb_devices *u = d->owner;
        const struct policy_scan_limits *l = u->policy ? &u->policy->scan_limits : NULL;

        d->scan_settle = sd_event_source_disable_unref(d->scan_settle);
        if (!l || d->access != BLOCK_ACCESS_HELD || d->scan_job)
                return 0;
        /* What this scan covers: the disks as their latest uevents said. A medium changed since
         * has another diskseq and stays held after a pass (its uevent starts another scan). */
        d->n_scan_seqs = 0;
        for (size_t i = 0; i < d->n_disks; i++)
                if (d->disks[i].diskseq > 0)
                        d->scan_seqs[d->n_scan_seqs++] = d->disks[i].diskseq;
        struct scan_params p = {
                .syspath = d->syspath,
                .clamd_socket = u->clamd_socket ?: KYOKA_CLAMD_SOCKET,
                .workdir = u->runtime_dir,
                .max_seconds = (uint64_t) l->max_seconds,
                .max_bytes = (uint64_t) l->max_megabytes << 20,
                .max_database_age = (uint64_t) l->max_database_days * 86400,
        };
        int r = scan_job_start(u->event, u->exe_fd, NULL, &p, on_scan_done, d, &d->scan_job);
        if (r < 0) {
                struct scan_outcome o = { .result = SCAN_RESULT_FAULT, .fault = SCAN_FAULT_WORKER, .error = -r };
                on_scan_done(NULL, &o, d);
                return 0;
        }
        d->scan = USB_SCAN_RUNNING;
        log_info("USB device %s: scanning its storage for viruses before it is usable", d->sysname);
        return 0;
}

/* (Re)starts the wait for D's block devices to settle; the scan follows. */
static void usb_device_scan_arm(struct usb_devices *u, struct usb_device *d) {
        if (d->scan_job)
                return;
        d->owner = u;
        d->scan = USB_SCAN_WAITING;
        if (d->scan_settle) {
                (void) sd_event_source_set_time_relative(d->scan_settle, SCAN_SETTLE_USEC);
                (void) sd_event_source_set_enabled(d->scan_settle, SD_EVENT_ONESHOT);
                return;
        }
        int r = sd_event_add_time_relative(u->event, &d->scan_settle, CLOCK_MONOTONIC, SCAN_SETTLE_USEC, 0,
                                           on_scan_settled, d);
        if (r < 0) {
                struct scan_outcome o = { .result = SCAN_RESULT_FAULT, .fault = SCAN_FAULT_WORKER, .error = -r };
                on_scan_done(NULL, &o, d);
        }
}

void usb_devices_set_scanner(struct usb_devices *u, const char *clamd_socket) {
        free(u->clamd_socket);
        u->clamd_socket = clamd_socket ? strdup(clamd_socket) : NULL;
}

static void on_usb_event(struct udev_device *dev, enum usb_event ev, void *userdata) {
        struct usb_devices *u = userdata;
        const char *syspath = udev_device_get_syspath(dev), *sysname = udev_device_get_sysname(dev);

        if (!syspath || !sysname || strlen(syspath) >= SYSPATH_MAX || strlen(sysname) >= 64)
                return;

        if (ev == USB_EVENT_REMOVE) {
                struct usb_device *d = usb_device_find(u, syspath);
                if (d)
                        usb_device_removed(u, d, "removed");
                return;
        }

        /* A root hub is a controller: keep it closed by default, never decide it away. On its
         * "add" its devices only (its own interface is not made yet); whole on "bind". */
        if (strncmp(sysname, "usb", 3) == 0) {
                _cleanup_close_ int fd = open(syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                int r = fd < 0                 ? negative_errno() :
                        ev == USB_EVENT_ADD    ? usb_controller_lockdown_devices(fd) :
                                                 usb_controller_lockdown(fd);
                unsigned bus = usb_bus_of(sysname + 3);
                uint64_t bit = bus < 64 ? UINT64_C(1) << bus : 1;
                if (r < 0) {
                        recorder_fault(u->rec, FAULT_CONTROLLER_LOCKDOWN, r, "Failed to close controller %s: %s; its devices are "
                                     "authorised only if approved whole", sysname, strerror(-r));
                        u->open_controllers |= bit;
                } else if (bus < 64)
                        u->open_controllers &= ~bit;
                return;
        }

        struct usb_device *d = usb_device_find(u, syspath);
        /* Decided on its "add" (or found by an enumeration): the "bind" that follows is the
         * kernel's generic driver, after which the device may be authorised (usb_device_bound).
         * A "bind" decides only a device that kyokad has not seen arrive (a uevent source
         * without "add"). */
        if (ev == USB_EVENT_BIND && d) {
                usb_device_bound(u, d);
                return;
        }
        bool is_new = !d;
        if (d)
                d->seen = true;
        if (!d) {
                d = calloc(1, sizeof *d);
                if (!d) {
                        recorder_fault(u->rec, FAULT_OOM, -ENOMEM, "Out of memory tracking %s: left as the kernel has it", sysname);
                        return;
                }
                strcpy(d->syspath, syspath);
                strcpy(d->sysname, sysname);
                d->seen = true;
                d->next_change = TIME_INFINITY;
                d->next = u->devices;
                u->devices = d;
        }
        /* Only the kernel's "add" comes before the bind; an enumerated device is taken as it is
         * (as kyokad always has). */
        d->bound = ev != USB_EVENT_ADD;

        /* The port, as udev's ID_PATH names it, is computed from sysfs with the identity (the
         * kernel's uevents carry no ID_PATH, and a permit bound to a port must match on the first
         * plug: usb-path.h); udev's own, if the event has one, where that fails. */
        const char *id_path = udev_device_get_property_value(dev, "ID_PATH");
        d->id_path[0] = 0;
        if (id_path)
                identity_sanitize(id_path, strnlen(id_path, USB_PATH_MAX), d->id_path, sizeof d->id_path);

        /* The identity, the port and the seat are read off the loop (a device can make sysfs
         * reads hang, and the parents' reads wait while the hub enumerates: measured 35 ms on the
         * loop under TCG, bench/USB.md); the decision follows in on_usb_identity_done(). Until
         * then the device is as the kernel has it: a new one unauthorised. */
        struct usb_io_request req = { .op = USB_IO_READ_IDENTITY, .tag = ++u->io_tags, .port_and_seat = true };
        if (ev == USB_EVENT_PRESENT) {
                /* Enumeration (start, reload, lost uevents): as kyokad has always done it, on the
                 * loop, so that devices present at start are decided as soon as their identity
                 * is read. No hub is enumerating the device then. */
                req.port_and_seat = false;
                char path[USB_PATH_MAX];
                if (usb_device_id_path(syspath, path, sizeof path) >= 0)
                        memcpy(d->id_path, path, sizeof d->id_path);
                seat_of_udev_device(dev, d->seat);
        }
        /* An event from udev (not the kernel's own) carries the device's properties: its own
         * ID_SEAT is the seat, as seat_of_udev_device() takes it first; the worker's walk of
         * the parents in udev's database is for the kernel's events, which carry none. */
        const char *own_seat = udev_device_get_property_value(dev, "ID_SEAT");
        d->seat_from_event = ev != USB_EVENT_PRESENT && own_seat && own_seat[0];
        if (d->seat_from_event)
                seat_of_udev_device(dev, d->seat);
        snprintf(req.syspath, sizeof req.syspath, "%s", syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", sysname);
        trace_point(sysname, "identity-submit");
        int r = usb_io_submit(u->io, &req);
        if (r < 0) {
                recorder_fault(u->rec, FAULT_IDENTITY, r, "Failed to queue the identity read of USB device %s: %s", sysname, strerror(-r));
                return;
        }
        d->read_tag = req.tag;
        if (is_new || !d->identity_known)
                d->read_event = USB_RECORD_CONNECTED;
        else
                d->read_event = USB_RECORD_REEVALUATED;
}

/* The kernel dropped uevents: what is present is taken again (new devices decided, as at start)
 * and what is gone is swept, its removal recorded, so that nothing stays tracked (or allowed in
 * kyokad's view) after it left. */
static void on_usb_overrun(void *userdata) {
        struct usb_devices *u = userdata;
        int r;

        for (struct usb_device *d = u->devices; d; d = d->next)
                d->seen = false;
        r = usb_watch_enumerate(u->watch);
        if (r < 0) {
                /* Nothing is swept on a partial view. */
                recorder_fault(u->rec, FAULT_ENUMERATE, r, "Failed to re-enumerate USB devices after lost uevents: %s", strerror(-r));
                return;
        }
        for (struct usb_device *d = u->devices, *next; d; d = next) {
                next = d->next;
                if (!d->seen)
                        usb_device_removed(u, d, "removed (seen after lost uevents)");
        }
}

static int open_access_dir(struct usb_devices *u) {
        _cleanup_free_ char *dir = path_join(u->runtime_dir, KYOKA_BLOCK_ACCESS_DIR);
        struct stat st;

        if (!dir)
                return -ENOMEM;
        if (mkdir(u->runtime_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* The helper trusts it only if it is ours and nobody else may write it. */
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0755)
                if (fchmod(fd, 0755) < 0 || (st.st_uid != geteuid() && fchown(fd, geteuid(), (gid_t) -1) < 0))
                        return negative_errno();
        int r = block_access_clear(fd);
        if (r < 0)
                return r;
        u->access_dirfd = TAKE_FD(fd);
        return 0;
}
/* Controllers that appear later (a USB4/Thunderbolt dock, PCIe hot-plug) start closed from now
 * on, even before udev's rule or kyokad's own lockdown reach them. That the kernel was not
 * already told so at boot is a fault: devices present then were authorised before kyokad ran. */
static void close_new_controllers(struct usb_devices *u) {
        _cleanup_close_ int fd = open(USBCORE_PARAMETERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char was[16];
        int r;

        if (fd < 0) {
                /* No usbcore (no USB at all, or a test's sysfs): nothing to close. */
                log_debug("%s: %s: no USB core to close", USBCORE_PARAMETERS, strerror(errno));
                return;
        }
        r = usb_core_lockdown(fd, was, sizeof was);
        if (was[0] && !streq(was, "0"))
                recorder_fault(u->rec, FAULT_USB_BOOT_DEFAULT, 0, "The kernel started with usbcore.authorized_default=%s: USB devices "
                             "present at boot were authorised before kyokad ran; add usbcore.authorized_default=0 "
                             "to the kernel command line (docs/install.md)", was);
        if (r < 0)
                recorder_fault(u->rec, FAULT_CONTROLLER_LOCKDOWN, r, "Failed to close USB controllers that appear later "
                             "(%s/authorized_default): %s; such a controller is closed only when udev or kyokad "
                             "get to it", USBCORE_PARAMETERS, strerror(-r));
}

/* ---- the manager's side --------------------------------------------------------------------- */

static int64_t next_change(const struct usb_devices *u) {
        int64_t next = TIME_INFINITY;

        for (const struct usb_device *d = u->devices; d; d = d->next)
                if (d->decided)
                        next = MIN(next, d->next_change);
        return next;
}

int64_t usb_devices_next_change(const struct usb_devices *u) {
        return u ? next_change(u) : TIME_INFINITY;
}

static void report_next_change(struct usb_devices *u) {
        int64_t next = next_change(u);
        if (next != u->next_change) {
                u->next_change = next;
                if (u->changed)
                        u->changed(u->userdata);
        }
}

int usb_devices_new(sd_event *e, struct udev *udev, const char *source, const char *runtime_dir,
                    struct recorder *rec, usb_devices_timer_changed_t changed, void *userdata,
                    struct usb_devices **ret) {
        struct usb_devices *u = calloc(1, sizeof *u);
        int r;

        if (!u)
                return -ENOMEM;
        u->event = e;
        u->udev = udev;
        u->rec = rec;
        u->changed = changed;
        u->userdata = userdata;
        u->access_dirfd = -EBADF;
        /* The same binary for every scan worker, even after an upgrade replaced the file. */
        u->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        u->applies_tail = &u->applies;
        u->next_change = TIME_INFINITY;
        u->source = strdup(source);
        u->runtime_dir = strdup(runtime_dir);
        if (!u->source || !u->runtime_dir) {
                r = -ENOMEM;
                goto fail;
        }

        r = usb_io_new(e, USB_IO_THREADS, on_usb_io_done, u, &u->io);
        if (r < 0)
                goto fail;
        /* After the ledger's commit (priority normal): see on_submit_applies(). */
        r = sd_event_add_defer(e, &u->applies_source, on_submit_applies, u);
        if (r >= 0)
                r = sd_event_source_set_priority(u->applies_source, SD_EVENT_PRIORITY_NORMAL + 1);
        if (r >= 0)
                r = sd_event_source_set_enabled(u->applies_source, SD_EVENT_OFF);
        if (r < 0)
                goto fail;

        /* Read-only media: RUNTIME_DIR/usb holds kyokad's access decision per authorised USB
         * device, for the udev rule. Emptied first: nothing left from an earlier run may say
         * read-write. If this fails, no device that could have a block device is authorised
         * (usb-io.c), keyboards still are. */
        r = open_access_dir(u);
        if (r < 0)
                recorder_fault(rec, FAULT_ACCESS_FILE, r, "Failed to prepare %s/%s: %s; storage devices stay blocked",
                               runtime_dir, KYOKA_BLOCK_ACCESS_DIR, strerror(-r));
        usb_io_set_access_dir(u->io, u->access_dirfd);

        close_new_controllers(u);

        /* Listen first, then enumerate (usb_devices_start): a device that arrives in between is
         * seen at least once, and the controllers are closed as part of the enumeration (root
         * hubs come first). */
        r = usb_watch_new(e, udev, source, on_usb_event, on_usb_overrun, u, &u->watch);
        if (r < 0)
                goto fail;
        *ret = u;
        return 0;
fail:
        usb_devices_free(u);
        return r;
}

int usb_devices_start(struct usb_devices *u, const struct policy *p) {
        int r;

        u->policy = p;
        u->started = true;
        r = usb_watch_enumerate(u->watch);
        if (r < 0)
                return r;
        report_next_change(u);

        /* After the enumeration, so that every USB device present is tracked: a block device of
         * an untracked one is made read-only. */
        r = block_watch_new(u->event, u->udev, u->source, on_block_event, NULL, u, &u->block);
        if (r < 0)
                recorder_fault(u->rec, FAULT_BLOCK_WATCH, r, "Failed to watch block devices: %s; the udev rule alone "
                               "makes media read-only", strerror(-r));
        return 0;
}

bool usb_devices_settling(const struct usb_devices *u) {
        if (u->applies || usb_io_pending(u->io) > 0)
                return true;
        for (const struct usb_device *d = u->devices; d; d = d->next)
                if (d->read_tag != 0 || d->held_apply)
                        return true;
        return false;
}

void usb_devices_policy_changed(struct usb_devices *u, const struct policy *p) {
        u->policy = p;
        for (struct usb_device *d = u->devices; d; d = d->next)
                /* A device whose identity is still being read is decided when it arrives. */
                if (d->identity_known)
                        usb_device_decide(u, d, USB_RECORD_REEVALUATED);
        u->next_change = next_change(u);
}

void usb_devices_set_carry(struct usb_devices *u, bool required, bool available) {
        if (u->carry_required == required && u->carry_available == available)
                return;
        u->carry_required = required;
        u->carry_available = available;
        /* Started already: read-write media become read-only or back (re-attached, usb-io.c). */
        if (u->started)
                usb_devices_policy_changed(u, u->policy);
}

void usb_devices_set_media_listener(struct usb_devices *u, void (*changed)(void *userdata), void *userdata) {
        u->media_changed = changed;
        u->media_userdata = userdata;
}

/* What a record of a file on D says, and whether (and how) files written to it are scanned. */
static void medium_info(const struct usb_devices *u, const struct usb_device *d, struct carry_medium_info *ret) {
        *ret = (struct carry_medium_info) { .id = d->id, .verdict = d->verdict };
        snprintf(ret->permit, sizeof ret->permit, "%s", d->permit);
        if (d->scan_written && d->verdict == VERDICT_ALLOW && u->policy) {
                const struct policy_scan_limits *l = &u->policy->scan_limits;
                ret->scan = (struct carry_scan) {
                        .enabled = true,
                        .max_seconds = (uint32_t) MIN(l->max_seconds, (int64_t) POLICY_SCAN_SECONDS_MAX),
                        .max_bytes = (uint64_t) l->max_megabytes << 20,
                        .max_database_age = (uint32_t) MIN(l->max_database_days * 86400, (int64_t) UINT32_MAX),
                };
                snprintf(ret->scan.clamd_socket, sizeof ret->scan.clamd_socket, "%s",
                         u->clamd_socket ?: KYOKA_CLAMD_SOCKET);
        }
}

void usb_devices_foreach_medium(const struct usb_devices *u, usb_medium_visitor_t visit, void *userdata) {
        for (const struct usb_device *d = u->devices; d; d = d->next) {
                /* The same test as usb_devices_medium_of()'s. */
                if (!d->decided || d->access == BLOCK_ACCESS_HELD ||
                    (d->verdict != VERDICT_ALLOW && d->verdict != VERDICT_READ_ONLY))
                        continue;
                struct carry_medium_info info;
                medium_info(u, d, &info);
                visit(d->syspath, &info, userdata);
        }
}

void usb_devices_stop(struct usb_devices *u) {
        if (!u)
                return;
        usb_applies_drop(u);
        /* The workers deliver what they finished (recorded) before the recorder's stop. */
        u->io = usb_io_free(u->io);
}

struct usb_devices *usb_devices_free(struct usb_devices *u) {
        if (!u)
                return NULL;
        /* First: it delivers what finished (records of enforcement done) while devices exist. */
        usb_io_free(u->io);
        usb_applies_drop(u);
        sd_event_source_disable_unref(u->applies_source);
        while (u->devices) {
                struct usb_device *d = u->devices;
                u->devices = d->next;
                usb_device_free(d);
        }
        if (u->access_dirfd >= 0)
                close(u->access_dirfd);
        if (u->exe_fd >= 0)
                close(u->exe_fd);
        free(u->clamd_socket);
        block_watch_free(u->block);
        usb_watch_free(u->watch);
        free(u->source);
        free(u->runtime_dir);
        return mfree(u);
}

int usb_devices_medium_of(const struct usb_devices *u, const char *block_syspath, struct carry_medium_info *ret) {
        const struct usb_device *best = NULL;
        for (const struct usb_device *d = u->devices; d; d = d->next) {
                size_t n = strlen(d->syspath);
                if (strncmp(block_syspath, d->syspath, n) == 0 && block_syspath[n] == '/' &&
                    (!best || n > strlen(best->syspath)))
                        best = d;
        }
        if (!best || !best->decided || best->access == BLOCK_ACCESS_HELD ||
            (best->verdict != VERDICT_ALLOW && best->verdict != VERDICT_READ_ONLY))
                return -ENOENT;
        medium_info(u, best, ret);
        return 0;
}

void usb_devices_foreach(const struct usb_devices *u, usb_device_visitor_t visit, void *userdata) {
        if (!u)
                return;
        for (const struct usb_device *d = u->devices; d; d = d->next) {
                struct usb_device_status s = {
                        .name = d->sysname,
                        .id = &d->id,
                        .identity_ok = d->identity_ok,
                        .decided = d->decided,
                        .verdict = d->verdict,
                        .reason = d->reason,
                        .permit = d->permit,
                        .scan = usb_scan_state_names[d->scan],
                };
                if (d->scan == USB_SCAN_FAULT)
                        s.scan_fault = scan_fault_to_string(d->scan_fault);
                if (d->scan_job)
                        scan_job_progress(d->scan_job, &s.scan_files, &s.scan_bytes);
                visit(&s, userdata);
        }
}

void usb_devices_file_scanned(struct usb_devices *u, const struct usb_identity *id, const struct record_file *f) {
        if (!f->scan_asked || f->scan_result == SCAN_RESULT_CLEAN)
                return;
        struct usb_device *d = NULL;
        for (struct usb_device *i = u->devices; i && !d; i = i->next)
                if (i->identity_ok && usb_identity_same_unit(&i->id, id))
                        d = i;
        if (!d || !d->decided || d->verdict == VERDICT_BLOCK || d->scan == USB_SCAN_INFECTED)
                return;               /* gone, or already closed */

        struct scan_outcome o = {
                .result = f->scan_result,
                .fault = f->scan_fault,
                .error = f->scan_error,
                .files = 1,
                .bytes = (uint64_t) MAX(f->size, (int64_t) 0),
        };
        snprintf(o.scanner, sizeof o.scanner, "%s", f->scanner ?: "");
        snprintf(o.signature, sizeof o.signature, "%s", f->signature ?: "");
        snprintf(o.path, sizeof o.path, "%s", f->path ?: "");
        /* Not scanned on a stick held already (a file before this one, or its scan before use):
         * the scan of the whole medium that opens it again covers this file too. */
        bool held_already = f->scan_result != SCAN_RESULT_INFECTED && d->access == BLOCK_ACCESS_HELD;
        if (f->scan_result == SCAN_RESULT_INFECTED) {
                /* Written to it, found infected: closed until it is unplugged, as if found when it
                 * was connected. */
                d->scan = USB_SCAN_INFECTED;
                snprintf(d->signature, sizeof d->signature, "%s", o.signature);
        } else if (!held_already) {
                /* Not scanned as the policy asks: held (read-only, root's) until the whole medium
                 * has been scanned again, which the decision below starts. */
                usb_device_scan_stop(d);
                d->scan = USB_SCAN_FAULT;
                d->scan_fault = f->scan_fault;
        }
        d->owner = u;
        recorder_scan_outcome(u->rec, &(struct record_scan) { .usb = &d->id, .permit = d->permit, .carried_out = true },
                              d->verdict, &o);
        if (!held_already)
                usb_device_decide(u, d, USB_RECORD_REEVALUATED);
}
