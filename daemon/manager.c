/* SPDX-License-Identifier: MIT */
/* kyokad's state and loop. The path of a plug: usb-watch.c hands a usb_device to
 * on_usb_event(), which has its identity read off the loop (usb-io.c, usb-identity.c);
 * on_usb_identity_done() -> usb_device_decide() asks the policy (policy_match_usb) and hands
 * the sysfs writes to usb-io (usb-enforce.c); on_usb_apply_done() records the outcome
 * (record.c). */
#include "manager.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "block-access.h"
#include "block-watch.h"
#include "clock-watch.h"
#include "control.h"
#include "fileio.h"
#include "log.h"
#include "net-allowance.h"
#include "net-links.h"
#include "policy-load.h"
#include "policy-match.h"
#include "policy-rollback.h"
#include "policy-store.h"
#include "record.h"
#include "record-ledger.h"
#include "timeutil.h"
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

struct usb_device {
        struct usb_device *next;
        char syspath[SYSPATH_MAX];
        char sysname[64];
        char id_path[USB_PATH_MAX];   /* the port (usb-path.h), kept until the identity arrives */
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
        char reason[640];             /* of the last decision (+ an enforcement error), for `policyctl list` */
        char permit[POLICY_STRING_MAX];
};

struct manager {
        struct manager_config cfg;
        sd_event *event;
        struct udev *udev;
        struct usb_watch *usb;
        sd_event_source *timer;
        struct policy *policy;        /* NULL: built-in lockdown */
        char signer[KEY_FINGERPRINT_HEX + 64];
        struct usb_device *devices;
        char hostname[256];
        char machine_id[33];
        struct net *net;              /* network links (net-links.c); NULL with --network off */
        struct usb_io *usb_io;        /* sysfs I/O off the loop (usb-io.c) */
        struct queued_apply *applies; /* decided, waiting for their record's commit */
        struct queued_apply **applies_tail;
        sd_event_source *applies_source;
        uint64_t usb_io_tags;
        struct block_watch *block;    /* block devices of read-only media (block-watch.c) */
        /* Controllers (by bus number) that could not be closed: their interfaces are authorised
         * as soon as a device is, so only devices approved whole may be authorised there. */
        uint64_t open_controllers;
        struct clock_watch *clock;    /* the realtime clock being set (clock-watch.c) */
        int access_dirfd;             /* RUNTIME_DIR/usb: the access files (block-access.h) */
        /* For the control socket. */
        struct control *control;
        char signer_name[256];
        char signer_fingerprint[KEY_FINGERPRINT_HEX];
        int64_t loaded_at;
        bool fallback;                /* the policy in force came from the accepted copy */
        bool load_ok;                 /* the last load (start, SIGHUP, reload) was accepted */
        char load_message[512];       /* what the last load said */
};

static int64_t now_seconds(void) {
        return (int64_t) time(NULL);
}

static struct usb_device *usb_device_find(struct manager *m, const char *syspath) {
        for (struct usb_device *d = m->devices; d; d = d->next)
                if (streq(d->syspath, syspath))
                        return d;
        return NULL;
}

static void usb_device_forget(struct manager *m, const char *syspath) {
        for (struct usb_device **p = &m->devices; *p; p = &(*p)->next)
                if (streq((*p)->syspath, syspath)) {
                        struct usb_device *d = *p;
                        *p = d->next;
                        free(d);
                        return;
                }
}

static void manager_arm_timer(struct manager *m);

/* D left (its uevent, or missing from an enumeration after lost uevents): recorded and
 * forgotten, and its access file goes too (after any decision still queued for it). */
static void usb_device_removed(struct manager *m, struct usb_device *d, const char *why) {
        struct usb_io_request req = { .op = USB_IO_FORGET };

        record_usb(USB_RECORD_REMOVED, &d->id, d->verdict, why, NULL, 0);
        snprintf(req.syspath, sizeof req.syspath, "%s", d->syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", d->sysname);
        usb_device_forget(m, d->syspath);
        if (usb_sysname_valid(req.sysname) && usb_io_submit(m->usb_io, &req) < 0)
                record_fault("access-file", -ENOMEM, "Failed to queue removing the access file of %s", req.sysname);
        manager_arm_timer(m);
}

/* What a decision will be recorded as, once its enforcement has completed. */
/* A decision on its way to the kernel: what to report once its sysfs writes are done, and what
 * to record again if they fail. */
struct usb_decision_record {
        enum usb_record_event ev;
        enum policy_verdict verdict;
        char reason[512];
        char permit[POLICY_STRING_MAX];
        struct usb_identity id;
        struct record_report *report; /* NULL: nothing to report (an unchanged re-evaluation) */
};

static void usb_decision_record_free(struct usb_decision_record *rec) {
        if (rec)
                record_report_free(rec->report);
        free(rec);
}

/* The record of a decision goes to the ledger before the device changes state: sysfs writes
 * are queued here and submitted by a deferred source of lower priority than the ledger's
 * commit, so they start only after the commit of everything decided in this turn of the loop
 * (group commit: a storm is one transaction). A failing ledger does not hold them up. */
static int on_submit_applies(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;

        while (m->applies) {
                struct queued_apply *q = m->applies;
                m->applies = q->next;
                int r = usb_io_submit(m->usb_io, &q->req);
                if (r < 0) {
                        record_fault("enforce", r, "Failed to queue enforcement for USB device %s: %s", q->req.sysname,
                                     strerror(-r));
                        usb_decision_record_free(q->req.context);
                }
                free(q);
        }
        m->applies_tail = &m->applies;
        return 0;
}

/* Decided but not yet submitted (kyokad stops): the device stays as the kernel has it. */
static void usb_applies_drop(struct manager *m) {
        while (m->applies) {
                struct queued_apply *q = m->applies;
                m->applies = q->next;
                usb_decision_record_free(q->req.context);
                free(q);
        }
        m->applies_tail = &m->applies;
}

static void usb_apply_queue(struct manager *m, const struct usb_io_request *req) {
        struct queued_apply *q = malloc(sizeof *q);
        if (!q) {
                record_fault("oom", -ENOMEM, "Out of memory enforcing on USB device %s: left as the kernel has it",
                             req->sysname);
                usb_decision_record_free(req->context);
                return;
        }
        q->next = NULL;
        q->req = *req;
        *m->applies_tail = q;
        m->applies_tail = &q->next;
        (void) sd_event_source_set_enabled(m->applies_source, SD_EVENT_ONESHOT);
}

/* The bus number of a device's kernel name ("3-1.2" -> 3), 0 if there is none. */
static unsigned usb_bus_of(const char *sysname) {
        unsigned bus = 0;
        for (const char *p = sysname; *p >= '0' && *p <= '9' && bus < 1000; p++)
                bus = bus * 10 + (unsigned) (*p - '0');
        return bus;
}

static bool controller_is_open(const struct manager *m, unsigned bus) {
        /* Bus numbers beyond 63 are not tracked: counted as open (fail closed). */
        return bus >= 64 ? m->open_controllers != 0 : (m->open_controllers >> bus) & 1;
}

/* Decides now (matching is fast and on the loop), records the decision, and queues the sysfs
 * writes behind the record's commit; the report follows when the writes have completed. */
static void usb_device_decide(struct manager *m, struct usb_device *d, enum usb_record_event ev) {
        struct policy_decision dec = { .verdict = VERDICT_BLOCK };
        struct usb_decision_record *rec = calloc(1, sizeof *rec);

        if (!rec) {
                record_fault("oom", -ENOMEM, "Out of memory deciding USB device %s: left as the kernel has it", d->sysname);
                return;
        }

        if (!d->identity_ok)
                /* Unreadable or malformed descriptors: nothing to match on, so nothing allowed. */
                snprintf(rec->reason, sizeof rec->reason, "descriptors unreadable or malformed");
        else {
                policy_match_usb(m->policy, &d->id, now_seconds(), &dec);
                policy_decision_describe(&dec, &d->id, rec->reason, sizeof rec->reason);
        }

        enum policy_verdict verdict = dec.verdict;
        unsigned bus = usb_bus_of(d->sysname);
        if (verdict != VERDICT_BLOCK && controller_is_open(m, bus) && !usb_interfaces_all(&d->desc, dec.interface_mask)) {
                /* Approved for some interfaces only, on a controller that authorises every
                 * interface with the device: the others would bind a driver first. */
                verdict = VERDICT_BLOCK;
                snprintf(rec->reason + strlen(rec->reason), sizeof rec->reason - strlen(rec->reason),
                         "; blocked: its controller usb%u keeps new interfaces authorised "
                         "(interface_authorized_default could not be set to 0)", bus);
        }
        /* The udev rule leaves raw HID nodes to udev's rules (uaccess) only when this says so. */
        enum hidraw_access hidraw = verdict != VERDICT_BLOCK && dec.hidraw_user ? HIDRAW_ACCESS_USER
                                                                                 : HIDRAW_ACCESS_ROOT;
        /* read-only <-> read-write, or hidraw root <-> user, on an authorised device: it is
         * attached again under the new access (usb-io.c job_apply). From or to "block" nothing
         * is attached to redo. */
        bool access_changed = d->decided && d->verdict != VERDICT_BLOCK && verdict != VERDICT_BLOCK &&
                              (d->verdict != verdict || d->hidraw != hidraw);

        rec->ev = ev;
        rec->verdict = verdict;
        rec->id = d->id;
        snprintf(rec->permit, sizeof rec->permit, "%s",
                 dec.reason == REASON_PERMIT && dec.usb_entry ? dec.usb_entry->approval.permit : "");
        if (!d->decided || d->verdict != verdict || ev != USB_RECORD_REEVALUATED)
                rec->report = record_usb_decided(ev, &rec->id, verdict, rec->reason, rec->permit[0] ? rec->permit : NULL);

        d->decided = true;
        d->verdict = verdict;
        d->hidraw = hidraw;
        d->next_change = d->identity_ok ? dec.next_change : TIME_INFINITY;
        snprintf(d->reason, sizeof d->reason, "%s", rec->reason);
        snprintf(d->permit, sizeof d->permit, "%s", rec->permit);

        struct usb_io_request req = {
                .op = USB_IO_APPLY,
                .expect_ino = d->ino,
                .expect_devnum = d->devnum,
                .authorize = verdict != VERDICT_BLOCK,
                .interface_mask = dec.interface_mask,
                .desc = d->desc,
                .context = rec,
                /* The udev rule makes the block devices read-only unless this says read-write. */
                .access = verdict == VERDICT_ALLOW ? BLOCK_ACCESS_READ_WRITE : BLOCK_ACCESS_READ_ONLY,
                .hidraw = hidraw,
                .access_changed = access_changed,
        };
        snprintf(req.syspath, sizeof req.syspath, "%s", d->syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", d->sysname);
        usb_apply_queue(m, &req);
}

static void on_usb_apply_done(struct manager *m, const struct usb_io_result *res) {
        struct usb_decision_record *rec = res->req.context;

        if (res->r == -ECANCELED) {
                /* kyokad is stopping before it could enforce: the device stays as the kernel
                 * has it (a new device: unauthorised). */
                usb_decision_record_free(rec);
                return;
        }
        if (res->r < 0) {
                struct usb_device *d = usb_device_find(m, res->req.syspath);
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
                snprintf(d->reason, sizeof d->reason, "%s: enforcement failed: %s", rec->reason, strerror(-res->r));
                rec->report = record_report_free(rec->report);
                record_usb(rec->ev, &rec->id, rec->verdict, rec->reason, rec->permit[0] ? rec->permit : NULL, res->r);
        } else
                record_report_emit(TAKE_PTR(rec->report));
        if (res->r >= 0 && res->reauthorized)
                log_info("USB device %s attached again so that its block devices are %s", res->req.sysname,
                         block_access_to_string(res->req.access));
        if (res->probe_error < 0)
                record_fault("driver-bind", res->probe_error,
                             "USB device %s is authorised but a driver could not be bound: %s", res->req.sysname,
                             strerror(-res->probe_error));
        usb_decision_record_free(rec);
}

static void on_usb_identity_done(struct manager *m, const struct usb_io_result *res) {
        struct usb_device *d = usb_device_find(m, res->req.syspath);

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
                        record_fault("identity", res->r, "Failed to read the identity of USB device %s: %s", d->sysname,
                                     strerror(-res->r));
        }
        memcpy(d->id.id_path, d->id_path, sizeof d->id.id_path);
        if (res->r == -ECANCELED)
                return;
        usb_device_decide(m, d, d->read_event);
        manager_arm_timer(m);
}

/* The tracked USB device that the sysfs path SYSPATH (a block device) lies under. */
static struct usb_device *usb_device_above(struct manager *m, const char *syspath) {
        struct usb_device *best = NULL;
        for (struct usb_device *d = m->devices; d; d = d->next) {
                size_t n = strlen(d->syspath);
                if (strncmp(syspath, d->syspath, n) == 0 && syspath[n] == '/' &&
                    (!best || n > strlen(best->syspath)))
                        best = d;
        }
        return best;
}

static void usb_device_submit_deauthorize(struct manager *m, struct usb_device *d, const char *why) {
        struct usb_decision_record *rec = calloc(1, sizeof *rec);
        if (!rec) {
                record_fault("oom", -ENOMEM, "Out of memory de-authorising USB device %s", d->sysname);
                return;
        }
        *rec = (struct usb_decision_record) { .ev = USB_RECORD_REEVALUATED, .verdict = VERDICT_BLOCK, .id = d->id };
        snprintf(rec->reason, sizeof rec->reason, "%s", why);
        rec->report = record_usb_decided(rec->ev, &rec->id, VERDICT_BLOCK, rec->reason, NULL);
        d->verdict = VERDICT_BLOCK;
        snprintf(d->reason, sizeof d->reason, "%s", why);
        struct usb_io_request req = { .op = USB_IO_APPLY, .authorize = false, .context = rec };
        snprintf(req.syspath, sizeof req.syspath, "%s", d->syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", d->sysname);
        usb_apply_queue(m, &req);
}

static void on_block_read_only_done(struct manager *m, const struct usb_io_result *res) {
        /* Gone meanwhile (unplugged, de-authorised): nothing left to protect. */
        if (res->r >= 0 || res->r == -ECANCELED || res->r == -ENOENT || res->r == -ENXIO || res->r == -ENODEV)
                return;
        struct usb_device *d = usb_device_above(m, res->req.syspath);
        record_fault("read-only", res->r, "Failed to make %s read-only: %s; %s", res->req.devnode, strerror(-res->r),
                     d ? "its USB device is de-authorised" : "no USB device known above it");
        if (d) {
                char why[256];
                snprintf(why, sizeof why, "read-only could not be enforced on %s: %s", res->req.devnode,
                         strerror(-res->r));
                usb_device_submit_deauthorize(m, d, why);
        }
}

static void on_usb_io_done(const struct usb_io_result *res, void *userdata) {
        struct manager *m = userdata;

        switch (res->req.op) {
        case USB_IO_READ_IDENTITY:
                on_usb_identity_done(m, res);
                break;
        case USB_IO_APPLY:
                on_usb_apply_done(m, res);
                break;
        case USB_IO_FORGET:
                if (res->r < 0 && res->r != -ECANCELED)
                        record_fault("access-file", res->r, "Failed to remove the access file of USB device %s: %s",
                                     res->req.sysname, strerror(-res->r));
                break;
        case USB_IO_BLOCK_READ_ONLY:
                on_block_read_only_done(m, res);
                break;
        }
}

/* A block device appeared. The udev rule has made it read-only, or is about to, unless kyokad
 * said read-write; this is kyokad's own BLKROSET behind it, for every block device of a USB
 * device that kyokad did not decide read-write. A device whose decision is still pending was
 * authorised before this kyokad started: its decision re-checks its block devices. */
static void on_block_event(struct udev_device *dev, void *userdata) {
        struct manager *m = userdata;
        const char *syspath = udev_device_get_syspath(dev), *devnode = udev_device_get_devnode(dev);
        struct udev_device *usb = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");

        if (!usb || !syspath || !devnode)
                return;                 /* not on USB (or no node) */
        const char *usb_syspath = udev_device_get_syspath(usb);
        struct usb_device *d = usb_syspath ? usb_device_find(m, usb_syspath) : NULL;
        if (d && (!d->decided || d->verdict == VERDICT_ALLOW))
                return;
        struct usb_io_request req = { .op = USB_IO_BLOCK_READ_ONLY };
        if (strlen(syspath) >= sizeof req.syspath || strlen(devnode) >= sizeof req.devnode) {
                record_fault("read-only", -ENAMETOOLONG, "Block device path too long: %.64s...", syspath);
                if (d)
                        usb_device_submit_deauthorize(m, d, "read-only could not be enforced: path too long");
                return;
        }
        snprintf(req.syspath, sizeof req.syspath, "%s", syspath);
        snprintf(req.devnode, sizeof req.devnode, "%s", devnode);
        snprintf(req.sysname, sizeof req.sysname, "%s", udev_device_get_sysname(dev) ?: "");
        int r = usb_io_submit(m->usb_io, &req);
        if (r < 0) {
                record_fault("read-only", r, "Failed to queue read-only for %s: %s", devnode, strerror(-r));
                if (d)
                        usb_device_submit_deauthorize(m, d, "read-only could not be enforced: out of memory");
        }
}

static void manager_reevaluate(struct manager *m) {
        for (struct usb_device *d = m->devices; d; d = d->next)
                /* A device whose identity is still being read is decided when it arrives. */
                if (d->identity_known)
                        usb_device_decide(m, d, USB_RECORD_REEVALUATED);
        net_policy_changed(m->net, m->policy);
        manager_arm_timer(m);
}

/* Time alone changed what is permitted: the policy may have expired, permits may have started
 * or ended. */
static void manager_time_passed(struct manager *m) {
        if (m->policy && m->policy->valid_until <= now_seconds()) {
                record_policy("expired", "the policy in force has expired: built-in lockdown applies");
                m->policy = policy_free(m->policy);
                record_set_policy(0, NULL);
        }
        manager_reevaluate(m);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_time_passed(userdata);
        return 0;
}

/* A clock set by less than this is logged, not recorded (NTP's small steps); every set makes
 * kyokad decide again. */
#define CLOCK_JUMP_RECORD_NSEC 1000000000LL

static void on_clock_set(int64_t jump, void *userdata) {
        struct manager *m = userdata;

        if (llabs(jump) >= CLOCK_JUMP_RECORD_NSEC) {
                char from[ISO8601_MAX] = "?", to[ISO8601_MAX] = "?";
                int64_t now = now_seconds();
                (void) time_format_iso8601(now - jump / 1000000000LL, from, sizeof from);
                (void) time_format_iso8601(now, to, sizeof to);
                record_fault("clock-jump", 0,
                             "The system clock was set %s by %" PRIi64 ".%03" PRIi64 " s (about %s became %s): records "
                             "before this one carry the old time; every device and link is decided again",
                             jump > 0 ? "forward" : "back", (int64_t) (llabs(jump) / 1000000000LL),
                             (int64_t) (llabs(jump) / 1000000 % 1000), from, to);
        } else
                log_debug("The clock was set by %" PRIi64 " ms", jump / 1000000);
        /* Set back, a permit whose valid_from is now ahead must block again; set forward, one
         * may have ended (the realtime timer fires too, but only for the boundary it was armed
         * for). */
        manager_time_passed(m);
}

/* One timer for the earliest time-window boundary of any present device or of the policy:
 * decisions change on time, with no polling. */
static void manager_arm_timer(struct manager *m) {
        int64_t next = m->policy ? m->policy->valid_until : TIME_INFINITY;
        int r;

        for (struct usb_device *d = m->devices; d; d = d->next)
                if (d->decided)
                        next = MIN(next, d->next_change);
        next = MIN(next, net_next_change(m->net));

        if (next == TIME_INFINITY) {
                if (m->timer)
                        (void) sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
                return;
        }
        uint64_t usec = next <= 0 ? 1 : (uint64_t) next * 1000000ULL;
        if (m->timer) {
                r = sd_event_source_set_time(m->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(m->event, &m->timer, CLOCK_REALTIME, usec, 0, on_timer, m);
        if (r < 0)
                record_fault("timer", r, "Failed to arm the time-window timer: %s", strerror(-r));
}

static void on_net_timer_changed(void *userdata) {
        manager_arm_timer(userdata);
}

static void on_usb_event(struct udev_device *dev, enum usb_event ev, void *userdata) {
        struct manager *m = userdata;
        const char *syspath = udev_device_get_syspath(dev), *sysname = udev_device_get_sysname(dev);

        if (!syspath || !sysname || strlen(syspath) >= SYSPATH_MAX || strlen(sysname) >= 64)
                return;

        if (ev == USB_EVENT_REMOVE) {
                struct usb_device *d = usb_device_find(m, syspath);
                if (d)
                        usb_device_removed(m, d, "removed");
                return;
        }

        /* A root hub is a controller: keep it closed by default, never decide it away. */
        if (strncmp(sysname, "usb", 3) == 0) {
                _cleanup_close_ int fd = open(syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                int r = fd < 0 ? negative_errno() : usb_controller_lockdown(fd);
                unsigned bus = usb_bus_of(sysname + 3);
                uint64_t bit = bus < 64 ? UINT64_C(1) << bus : 1;
                if (r < 0) {
                        record_fault("controller-lockdown", r, "Failed to close controller %s: %s; its devices are "
                                     "authorised only if approved whole", sysname, strerror(-r));
                        m->open_controllers |= bit;
                } else if (bus < 64)
                        m->open_controllers &= ~bit;
                return;
        }

        struct usb_device *d = usb_device_find(m, syspath);
        bool is_new = !d;
        if (d)
                d->seen = true;
        if (!d) {
                d = calloc(1, sizeof *d);
                if (!d) {
                        record_fault("oom", -ENOMEM, "Out of memory tracking %s: left as the kernel has it", sysname);
                        return;
                }
                strcpy(d->syspath, syspath);
                strcpy(d->sysname, sysname);
                d->seen = true;
                d->next_change = TIME_INFINITY;
                d->next = m->devices;
                m->devices = d;
        }

        /* The port, as udev's ID_PATH names it, from sysfs: the kernel's uevents carry no
         * ID_PATH, and a permit bound to a port must match on the first plug (usb-path.h). */
        const char *id_path = udev_device_get_property_value(dev, "ID_PATH");
        if (usb_device_id_path(syspath, d->id_path, sizeof d->id_path) < 0) {
                d->id_path[0] = 0;
                if (id_path)
                        identity_sanitize(id_path, strnlen(id_path, USB_PATH_MAX), d->id_path, sizeof d->id_path);
        }

        /* The identity is read off the loop (a device can make sysfs reads hang); the decision
         * follows in on_usb_identity_done(). Until then the device is as the kernel has it:
         * a new one unauthorised. */
        struct usb_io_request req = { .op = USB_IO_READ_IDENTITY, .tag = ++m->usb_io_tags };
        snprintf(req.syspath, sizeof req.syspath, "%s", syspath);
        snprintf(req.sysname, sizeof req.sysname, "%s", sysname);
        int r = usb_io_submit(m->usb_io, &req);
        if (r < 0) {
                record_fault("identity", r, "Failed to queue the identity read of USB device %s: %s", sysname, strerror(-r));
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
        struct manager *m = userdata;
        int r;

        for (struct usb_device *d = m->devices; d; d = d->next)
                d->seen = false;
        r = usb_watch_enumerate(m->usb);
        if (r < 0) {
                /* Nothing is swept on a partial view. */
                record_fault("enumerate", r, "Failed to re-enumerate USB devices after lost uevents: %s", strerror(-r));
                return;
        }
        for (struct usb_device *d = m->devices, *next; d; d = next) {
                next = d->next;
                if (!d->seen)
                        usb_device_removed(m, d, "removed (seen after lost uevents)");
        }
}

static void read_host_identity(struct manager *m) {
        _cleanup_free_ char *id = NULL;

        if (gethostname(m->hostname, sizeof m->hostname - 1) < 0)
                m->hostname[0] = 0;
        if (read_file_bounded("/etc/machine-id", 64, &id, NULL) >= 0) {
                id[strcspn(id, "\n")] = 0;
                snprintf(m->machine_id, sizeof m->machine_id, "%s", id);
        }
}

struct key_refusals {
        const char *dir;
        char dir_reason[KEYRING_REASON_MAX];   /* keys.d's own refusal, for the policy's message */
};

/* A key of keys.d left out: one fault each (the other keys still count). */
static void on_key_refused(const char *name, int error, const char *reason, void *userdata) {
        struct key_refusals *k = userdata;

        if (!name)
                snprintf(k->dir_reason, sizeof k->dir_reason, "%s", reason);
        else
                record_fault("policy-key", error, "Trusted key %s/%s skipped: %s", k->dir, name, reason);
}

/* Loads and verifies the policy; on any refusal the policy in force (or the lockdown) stays. */
static int manager_load_policy(struct manager *m) {
        _cleanup_free_ char *keys_dir = path_join(m->cfg.config_dir, "keys.d");
        _cleanup_free_ char *policy_path = path_join(m->cfg.config_dir, "policy.conf");
        struct keyring *keys = NULL;
        struct policy_load_result res;
        int r;

        if (!keys_dir || !policy_path)
                return -ENOMEM;

        struct key_refusals refusals = { .dir = keys_dir };
        r = keyring_load_dir(keys_dir, on_key_refused, &refusals, &keys);
        m->load_ok = r >= 0;
        if (r < 0) {
                snprintf(m->load_message, sizeof m->load_message, "No usable trusted key in %s: %s", keys_dir,
                         refusals.dir_reason[0] ? refusals.dir_reason : strerror(-r));
                record_fault("policy-refused", r, "No usable trusted key in %s: %s; %s stays in force", keys_dir,
                             refusals.dir_reason[0] ? refusals.dir_reason : strerror(-r),
                             m->policy ? "the last good policy" : "the built-in lockdown");
                return r;
        }

        struct policy_load_options opts = {
                .policy_path = policy_path,
                .keys = keys,
                .state_dir = m->cfg.state_dir,
                .hostname = m->hostname[0] ? m->hostname : NULL,
                .machine_id = m->machine_id[0] ? m->machine_id : NULL,
                .now = now_seconds(),
        };
        bool fallback = false;
        r = policy_store_load(&opts, m->cfg.state_dir, &res, &fallback);
        m->load_ok = r >= 0 && !fallback;
        snprintf(m->load_message, sizeof m->load_message, "%s", res.message);
        if (r < 0) {
                record_fault("policy-refused", r, "%s; %s stays in force", res.message,
                             m->policy ? "the last good policy" : "the built-in lockdown");
                policy_load_result_done(&res);
                keyring_free(keys);
                return r;
        }
        if (!res.unchanged) {
                /* Only a policy whose serial is on disk may be in force: otherwise, after a
                 * restart, an older policy (one this one replaced, a revoked permit with it)
                 * would pass the anti-rollback check again. */
                r = policy_load_commit(m->cfg.state_dir, &res);
                if (r < 0) {
                        m->load_ok = false;
                        snprintf(m->load_message, sizeof m->load_message, "%s: serial %" PRIu64 " could not be "
                                 "recorded in %s/%s: %s", policy_path, res.policy->serial, m->cfg.state_dir,
                                 POLICY_STATE_FILE, strerror(-r));
                        record_fault("policy-refused", r, "%s; %s stays in force", m->load_message,
                                     m->policy ? "the last good policy" : "the built-in lockdown");
                        policy_load_result_done(&res);
                        keyring_free(keys);
                        return r;
                }
        }
        if (!fallback) {
                r = policy_store_save(m->cfg.state_dir, policy_path, keys, &res);
                if (r < 0)
                        record_fault("policy-copy", r, "Failed to keep a copy of the accepted policy in %s: %s",
                                     m->cfg.state_dir, strerror(-r));
        }
        snprintf(m->signer_name, sizeof m->signer_name, "%s", trusted_key_name(res.signer));
        snprintf(m->signer_fingerprint, sizeof m->signer_fingerprint, "%s", trusted_key_fingerprint(res.signer));
        m->loaded_at = now_seconds();
        m->fallback = fallback;
        snprintf(m->signer, sizeof m->signer, "%s (%.32s)", trusted_key_name(res.signer),
                 trusted_key_fingerprint(res.signer));
        policy_free(m->policy);
        m->policy = TAKE_PTR(res.policy);
        record_set_policy(m->policy->serial, m->signer);
        record_policy("loaded", res.message);
        policy_load_result_done(&res);
        keyring_free(keys);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        (void) manager_reload(m);
        return 0;
}

int manager_reload(struct manager *m) {
        int r;

        (void) sd_notify(false, "RELOADING=1");
        r = manager_load_policy(m);
        if (r >= 0)
                manager_reevaluate(m);
        /* The load (and what it decided on the loop) is on disk before the reload is done. */
        record_flush();
        (void) sd_notify(false, "READY=1");
        return r;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

int manager_new(const struct manager_config *cfg, struct manager **ret) {
        struct manager *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->access_dirfd = -EBADF;
        m->applies_tail = &m->applies;
        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;
        m->udev = udev_new();
        if (!m->udev) {
                r = -ENOMEM;
                goto fail;
        }
        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_sighup, m);
        if (r >= 0)
                r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                goto fail;
        read_host_identity(m);
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

static int manager_open_access_dir(struct manager *m) {
        _cleanup_free_ char *dir = path_join(m->cfg.runtime_dir, BLOCK_ACCESS_SUBDIR);
        struct stat st;

        if (!dir)
                return -ENOMEM;
        if (mkdir(m->cfg.runtime_dir, 0755) < 0 && errno != EEXIST)
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
        m->access_dirfd = TAKE_FD(fd);
        return 0;
}

/* Without a valid policy links are blocked, loopback aside, except on a machine that never
 * accepted a policy: there the links present at its first start stay as they are until the
 * first policy (net-allowance.h). */
static int manager_start_network(struct manager *m) {
        struct net_allowance *install = NULL;
        struct rollback_state st;
        bool first = false;
        int r;

        /* A corrupt anti-rollback state counts as "accepted before": nothing is left open. */
        if (!m->policy && rollback_state_read(m->cfg.state_dir, &st) == -ENOENT) {
                r = net_allowance_read(m->cfg.state_dir, &install);
                if (r == -ENOENT) {
                        r = net_allowance_begin(m->cfg.state_dir);
                        first = r >= 0;
                }
                if (r < 0 && r != -ENOENT)
                        record_fault("network-install-list", r, "Cannot read or create %s/%s: %s; without a policy "
                                     "every network link is blocked", m->cfg.state_dir, NET_ALLOWANCE_FILE, strerror(-r));
        }
        r = net_start(m->event, m->policy, install, first, on_net_timer_changed, m, &m->net);
        if (r < 0 || !first)
                return r;

        struct net_allowance *list = NULL;
        r = net_installation_list(m->net, &list);
        if (r >= 0)
                r = net_allowance_write(m->cfg.state_dir, list);
        net_allowance_free(list);
        if (r < 0)
                record_fault("network-install-list", r, "Failed to record the network links present at installation "
                             "in %s/%s: %s; after a restart without a policy they are blocked", m->cfg.state_dir,
                             NET_ALLOWANCE_FILE, strerror(-r));
        return 0;
}

/* Controllers that appear later (a USB4/Thunderbolt dock, PCIe hot-plug) start closed from now
 * on, even before udev's rule or kyokad's own lockdown reach them. That the kernel was not
 * already told so at boot is a fault: devices present then were authorised before kyokad ran. */
static void manager_close_new_controllers(struct manager *m) {
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
                record_fault("usb-boot-default", 0, "The kernel started with usbcore.authorized_default=%s: USB devices "
                             "present at boot were authorised before kyokad ran; add usbcore.authorized_default=0 "
                             "to the kernel command line (docs/install.md)", was);
        if (r < 0)
                record_fault("controller-lockdown", r, "Failed to close USB controllers that appear later "
                             "(%s/authorized_default): %s; such a controller is closed only when udev or kyokad "
                             "get to it", USBCORE_PARAMETERS, strerror(-r));
}

int manager_start(struct manager *m) {
        int r;

        /* First, so that everything from here on is in the ledger (or waits for it). */
        r = record_ledger_start(m->event, m->cfg.state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the ledger: %m");

        r = usb_io_new(m->event, USB_IO_THREADS, on_usb_io_done, m, &m->usb_io);
        if (r < 0)
                return log_error_errno(r, "Failed to start the sysfs workers: %m");
        /* After the ledger's commit (priority normal): see on_submit_applies(). */
        r = sd_event_add_defer(m->event, &m->applies_source, on_submit_applies, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->applies_source, SD_EVENT_PRIORITY_NORMAL + 1);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->applies_source, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up enforcement: %m");

        /* Read-only media: RUNTIME_DIR/usb holds kyokad's access decision per authorised USB
         * device, for the udev rule. Emptied first: nothing left from an earlier run may say
         * read-write. If this fails, no device that could have a block device is authorised
         * (usb-io.c), keyboards still are. */
        r = manager_open_access_dir(m);
        if (r < 0)
                record_fault("access-file", r, "Failed to prepare %s/%s: %s; storage devices stay blocked",
                             m->cfg.runtime_dir, BLOCK_ACCESS_SUBDIR, strerror(-r));
        usb_io_set_access_dir(m->usb_io, m->access_dirfd);

        manager_close_new_controllers(m);

        r = clock_watch_new(m->event, on_clock_set, m, &m->clock);
        if (r < 0)
                record_fault("clock-watch", r, "Failed to watch the clock: %s; a clock set back or forward is "
                             "neither recorded nor acted on until the next time boundary", strerror(-r));

        /* Listen first, then enumerate: a device that arrives in between is seen at least once,
         * and the controllers are closed as part of the enumeration (root hubs come first). */
        r = usb_watch_new(m->event, m->udev, m->cfg.udev_events, on_usb_event, on_usb_overrun, m, &m->usb);
        if (r < 0)
                return log_error_errno(r, "Failed to watch USB devices: %m");

        if (manager_load_policy(m) < 0)
                log_warning("No valid policy: built-in lockdown (HID-only devices and hubs allowed, everything else blocked)");

        if (!m->cfg.no_network) {
                r = manager_start_network(m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch network links: %m");
        }

        r = usb_watch_enumerate(m->usb);
        if (r < 0)
                return log_error_errno(r, "Failed to enumerate USB devices: %m");
        manager_arm_timer(m);

        /* After the enumeration, so that every USB device present is tracked: a block device of
         * an untracked one is made read-only. */
        r = block_watch_new(m->event, m->udev, m->cfg.udev_events, on_block_event, m, &m->block);
        if (r < 0)
                record_fault("block-watch", r, "Failed to watch block devices: %s; the udev rule alone makes media "
                             "read-only", strerror(-r));

        /* The control socket is for reading and asking to reload: enforcement never depends
         * on it, so kyokad enforces without it rather than not at all. */
        r = control_new(m, m->event, m->cfg.runtime_dir, &m->control);
        if (r < 0)
                record_fault("control-socket", r, "Failed to create the control socket in %s: %s",
                             m->cfg.runtime_dir, strerror(-r));

        /* What start recorded on the loop (policy, links) is on disk before kyokad is ready. */
        record_flush();
        (void) sd_notifyf(false, "READY=1\nSTATUS=Enforcing %s", m->policy ? "the signed policy" : "the built-in lockdown");
        log_info("kyokad ready: %s", m->policy ? "policy in force" : "built-in lockdown");
        return 0;
}

int manager_run(struct manager *m) {
        return sd_event_loop(m->event);
}

void manager_stop(struct manager *m, int error) {
        if (!m)
                return;
        usb_applies_drop(m);
        /* The workers deliver what they finished (recorded) before "stopped" closes the ledger. */
        m->usb_io = usb_io_free(m->usb_io);
        net_stop(m->net);
        record_ledger_stop(error);
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        /* First: it delivers what finished (records of enforcement done) while devices exist. */
        usb_io_free(m->usb_io);
        usb_applies_drop(m);
        sd_event_source_disable_unref(m->applies_source);
        while (m->devices) {
                struct usb_device *d = m->devices;
                m->devices = d->next;
                free(d);
        }
        if (m->access_dirfd >= 0)
                close(m->access_dirfd);
        control_free(m->control);
        clock_watch_free(m->clock);
        record_forget_faults();
        block_watch_free(m->block);
        usb_watch_free(m->usb);
        net_free(m->net);
        sd_event_source_disable_unref(m->timer);
        policy_free(m->policy);
        udev_unref(m->udev);
        sd_event_unref(m->event);
        return mfree(m);
}

/* ---- for the control socket ---------------------------------------------------------------- */

void manager_get_policy_info(const struct manager *m, struct manager_policy_info *ret) {
        *ret = (struct manager_policy_info) {
                .policy = m->policy,
                .signer_name = m->policy ? m->signer_name : NULL,
                .signer_fingerprint = m->policy ? m->signer_fingerprint : NULL,
                .loaded_at = m->policy ? m->loaded_at : 0,
                .fallback = m->policy && m->fallback,
                .load_ok = m->load_ok,
                .load_message = m->load_message,
        };
}

bool manager_next_device(const struct manager *m, const void **cursor, struct manager_device_info *ret) {
        const struct usb_device *d = *cursor ? ((const struct usb_device *) *cursor)->next : m->devices;

        if (!d)
                return false;
        *ret = (struct manager_device_info) {
                .name = d->sysname,
                .id = &d->id,
                .identity_ok = d->identity_ok,
                .decided = d->decided,
                .verdict = d->verdict,
                .reason = d->reason,
                .permit = d->permit,
        };
        *cursor = d;
        return true;
}

bool manager_foreach_link(const struct manager *m, net_link_visitor_t visit, void *userdata) {
        if (!m->net)
                return false;
        net_foreach_link(m->net, visit, userdata);
        return true;
}

bool manager_get_firewall(const struct manager *m, const char **ret_problem) {
        *ret_problem = m->net ? net_firewall_problem(m->net) : NULL;
        return m->net != NULL;
}

void manager_get_host(const struct manager *m, const char **ret_hostname, const char **ret_machine_id) {
        *ret_hostname = m->hostname;
        *ret_machine_id = m->machine_id;
}
