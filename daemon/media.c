/* SPDX-License-Identifier: MIT */
/* kyokad's media on other buses (media.h). */
#include "media.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cdrom.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "block-access.h"
#include "block-watch.h"
#include "carry.h"
#include "fileio.h"
#include "kyoka-names.h"
#include "log.h"
#include "media-fixed.h"
#include "media-sysfs.h"
#include "recorder.h"
#include "scan.h"
#include "timeutil.h"
#include "usb-io.h"

#define SYSFS "/sys"
#define DEV_DIR "/dev"
#define MEDIA_TRACKED_MAX 256
#define MEDIA_IO_THREADS 2            /* a drive that hangs in an open holds one */
/* A disk re-attached this recently that comes back open again is left so, with a fault: the
 * udev rule that should close it is not working (missing, or another rule undoes it). */
#define REATTACH_COOLDOWN_SEC 30
#define REATTACH_MEMORY 16
/* A drive reports a new disc with more than one uevent (measured: two, 0.2 s apart, and an eject
 * seen only with the next disc): they are taken together once the drive has been quiet this
 * long, and make one insertion. */
#define MEDIUM_SETTLE_USEC (1000 * 1000)
/* A held medium is scanned once its partitions have appeared (they follow the disk's uevent by
 * well under a second under QEMU's TCG, as on USB). */
#define SCAN_SETTLE_USEC (1000 * 1000)

/* Where a medium whose storage must pass a virus scan stands, as a USB device's
 * (usb-devices.c): kept for the medium of one diskseq (a disc changed or a card swapped in the
 * same slot is scanned again). Held means closed: 0600 root:root and BLKROSET, which is what
 * the udev rule gives a medium without an access file: root's alone and read-only. */
enum medium_scan {
        MEDIUM_SCAN_NONE,             /* no scan asked for */
        MEDIUM_SCAN_WAITING,          /* held: waiting for its partitions to settle (or a disc) */
        MEDIUM_SCAN_RUNNING,          /* held: the worker scans it */
        MEDIUM_SCAN_PASSED,           /* clean: the permitted access is given */
        MEDIUM_SCAN_INFECTED,         /* closed until it is removed (a disc: ejected) */
        MEDIUM_SCAN_FAULT,            /* held: the scan could not finish; tried again at the next decision */
};

static const char *const medium_scan_names[] = {
        [MEDIUM_SCAN_NONE] = "",
        [MEDIUM_SCAN_WAITING] = "waiting",
        [MEDIUM_SCAN_RUNNING] = "scanning",
        [MEDIUM_SCAN_PASSED] = "passed",
        [MEDIUM_SCAN_INFECTED] = "infected",
        [MEDIUM_SCAN_FAULT] = "held",
};

enum reattach {
        REATTACH_NEVER,
        REATTACH_IF_OPEN,             /* first decision in this run: only if found open */
        REATTACH_ALWAYS,              /* its access narrowed: mounts and open files must go */
};

struct medium {
        struct medium *next;
        char name[MEDIA_NAME_MAX];
        char syspath[MEDIA_SYSPATH_MAX];
        uint64_t read_tag;            /* the read in flight, 0 when none */
        enum media_record_event read_event;
        bool identity_known;          /* read, well or not */
        bool identity_ok;
        bool present_at_start;
        bool seen;                    /* in the latest enumeration */
        struct media_disk disk;
        enum media_fixed_reason fixed;
        bool decided;
        enum policy_verdict verdict;
        int64_t next_change;
        bool disc;
        uint64_t disc_seq;            /* the diskseq of the disc last recorded as inserted */
        sd_event_source *settle;      /* a drive's medium change, waiting for quiet */
        bool held;                    /* closed for its scan (the last decision), whatever the verdict */
        enum medium_scan scan;
        enum scan_fault scan_fault;   /* MEDIUM_SCAN_FAULT: why */
        uint64_t scan_seq;            /* the diskseq SCAN is about */
        struct scan_job *scan_job;
        sd_event_source *scan_settle;
        char signature[SCAN_SIGNATURE_MAX]; /* MEDIUM_SCAN_INFECTED */
        struct media *m;
        char reason[RECORD_REASON_MAX];
        char permit[POLICY_STRING_MAX];
};

enum job_op {
        JOB_READ,                     /* the disk from sysfs, rule 1 of the fixed disks, a disc in it */
        JOB_APPLY,                    /* access file, BLKROSET, re-attach or a uevent */
        JOB_RELEASE,                  /* a disk the policy now lists as fixed: undo what kyoka did */
        JOB_FORGET,                   /* gone: its access file goes */
        JOB_READ_ONLY,                /* BLKROSET on one partition node (behind the rule) */
};

struct job {
        struct media *m;              /* the worker reads only m->access_dirfd */
        enum job_op op;
        char name[MEDIA_NAME_MAX];
        uint64_t tag;
        /* JOB_READ */
        struct media_disk disk;
        enum media_fixed_reason system;
        bool disc;
        /* JOB_APPLY */
        enum media_access access;
        uint64_t diskseq;
        enum reattach reattach;
        size_t n_release;
        char (*release)[MEDIA_NAME_MAX];   /* disks re-attaching may take along (decided, not fixed) */
        bool reattached;
        bool left_open;               /* found open, re-attached a moment ago: the rule is not working */
        enum media_record_event ev;
        struct record_decision rd;
        struct media_identity id;
        /* JOB_READ_ONLY */
        char node[MEDIA_NAME_MAX];
        dev_t devnum;
};

struct queued_job {
        struct queued_job *next;
        struct job *job;
};

struct media {
        sd_event *event;
        struct udev *udev;
        char *source;
        char *runtime_dir;
        char *state_dir;
        char *clamd_socket;           /* NULL: KYOKA_CLAMD_SOCKET */
        int exe_fd;                   /* kyokad's own binary, for the scan worker */
        struct recorder *rec;
        const struct policy *policy;
        struct block_watch *watch;
        struct usb_io *io;
        struct medium *media;
        size_t n_media;
        bool starting;                /* the enumeration at start */
        struct media_fixed_list *install;  /* NULL: none to go by */
        struct media_fixed_list *policy_fixed;
        int access_dirfd;
        uint64_t tags;
        struct queued_job *applies, **applies_tail;
        sd_event_source *applies_source;
        int64_t next_change;
        media_timer_changed_t changed;
        void *userdata;
        struct {
                char name[MEDIA_NAME_MAX];
                int64_t when;
        } reattached[REATTACH_MEMORY];
        size_t reattached_next;
        /* The carry-out record (media_set_carry): read-write only while it records. */
        bool carry_required;
        bool carry_available;
        void (*carry_changed)(void *userdata);
        void *carry_userdata;
};

static void carry_changed(struct media *m) {
        if (m->carry_changed)
                m->carry_changed(m->carry_userdata);
}

static int64_t now_seconds(void) {
        return (int64_t) time(NULL);
}

static struct job *job_free(struct job *j) {
        if (j)
                free(j->release);
        return mfree(j);
}

static struct medium *medium_find(struct media *m, const char *name) {
        for (struct medium *d = m->media; d; d = d->next)
                if (streq(d->name, name))
                        return d;
        return NULL;
}

static struct medium *medium_free(struct medium *d) {
        if (d) {
                sd_event_source_disable_unref(d->settle);
                sd_event_source_disable_unref(d->scan_settle);
                scan_job_free(d->scan_job);
        }
        return mfree(d);
}

static void medium_forget(struct media *m, struct medium *d) {
        for (struct medium **p = &m->media; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        m->n_media--;
                        medium_free(d);
                        carry_changed(m);
                        return;
                }
}

static int64_t next_change(const struct media *m) {
        int64_t next = TIME_INFINITY;
        for (const struct medium *d = m->media; d; d = d->next)
                if (d->decided && d->fixed == MEDIA_NOT_FIXED)
                        next = MIN(next, d->next_change);
        return next;
}

int64_t media_next_change(const struct media *m) {
        return m ? next_change(m) : TIME_INFINITY;
}

static void report_next_change(struct media *m) {
        int64_t next = next_change(m);
        if (next != m->next_change) {
                m->next_change = next;
                if (m->changed)
                        m->changed(m->userdata);
        }
}

/* ---- the worker's side ------------------------------------------------------------------------ */

/* Whether anyone but root may have the disk open now: its node is not 0600 root:root (for
 * CLOSED) or is writable by others than root (READ_ONLY), or carries an ACL. */
static bool node_open(const struct media_disk *disk, enum media_access access) {
        char path[64 + MEDIA_NAME_MAX];
        struct stat st;

        snprintf(path, sizeof path, DEV_DIR "/%s", disk->id.name);
        if (lstat(path, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != disk->devnum)
                return false;          /* no node: nothing to open */
        if (lgetxattr(path, "system.posix_acl_access", NULL, 0) >= 0)
                return true;
        if (access == MEDIA_ACCESS_CLOSED)
                return (st.st_mode & 0077) || st.st_uid != 0 || st.st_gid != 0;
        return (st.st_mode & 0022) != 0;
}

static bool keep_unless_released(const char *name, void *userdata) {
        const struct job *j = userdata;
        for (size_t i = 0; i < j->n_release; i++)
                if (streq(j->release[i], name))
                        return false;
        return true;
}

/* An optical drive: whether it holds a disc now. Opening the node makes the kernel look. */
static bool drive_has_disc(const struct media_disk *disk) {
        char path[64 + MEDIA_NAME_MAX];
        snprintf(path, sizeof path, DEV_DIR "/%s", disk->id.name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return false;
        return ioctl(fd, CDROM_DRIVE_STATUS, CDSL_CURRENT) == CDS_DISC_OK;
}

static int job_read(struct job *j) {
        struct media_env env = { .root = "", .sysfs = SYSFS };
        int r = media_disk_read(SYSFS, j->name, &j->disk);
        if (r < 0)
                return r;
        j->system = media_disk_system_reason(&env, &j->disk);
        if (j->disk.id.bus == MEDIA_BUS_OPTICAL)
                j->disc = drive_has_disc(&j->disk);
        return 0;
}

static int job_apply(struct job *j) {
        struct media_env env = { .root = "", .sysfs = SYSFS };
        struct media_disk now;
        int r, k;

        r = media_disk_read(SYSFS, j->name, &now);
        if (r < 0)
                return r;
        /* Another medium under the same name (a card swapped, a disc changed): its own
         * decision follows its own uevent; this one was not made for it. */
        if (now.diskseq != j->diskseq)
                return -ESTALE;
        /* The one thing never to do: touch a disk the system stands on. Checked again here,
         * right before anything is written. */
        if (media_disk_system_reason(&env, &now) != MEDIA_NOT_FIXED)
                return -EPERM;

        int dfd = j->m->access_dirfd;
        if (j->access == MEDIA_ACCESS_CLOSED)
                r = dfd < 0 ? 0 : media_access_remove(dfd, j->name);
        else {
                /* Without its file the rule keeps the disk closed: fail closed. */
                r = dfd < 0 ? -EBADF : media_access_write(dfd, j->name, j->access, j->diskseq);
                if (r < 0)
                        j->access = MEDIA_ACCESS_CLOSED;
        }
        bool open = j->reattach == REATTACH_ALWAYS || (j->reattach == REATTACH_IF_OPEN && node_open(&now, j->access));
        /* Re-attached a moment ago and open again: not again (it would loop), but said. */
        j->left_open = j->left_open && j->access != MEDIA_ACCESS_READ_WRITE && node_open(&now, j->access);
        k = media_disk_set_read_only(&now, DEV_DIR, j->access != MEDIA_ACCESS_READ_WRITE);
        if (k < 0 && r >= 0)
                r = k;
        if (open && j->access != MEDIA_ACCESS_READ_WRITE) {
                k = media_disk_reattach(SYSFS, &now, keep_unless_released, j);
                if (k >= 0) {
                        j->reattached = true;
                        return r;
                }
                if (r >= 0)
                        r = k;
        }
        /* "add" makes udev give the nodes what its rules give (GROUP="disk" is set on add
         * only); "change" is enough for the rule to close them. */
        k = media_disk_trigger(&now, j->access == MEDIA_ACCESS_CLOSED ? "change" : "add");
        if (k < 0 && r >= 0)
                r = k;
        return r;
}

static int job_release(struct job *j) {
        struct media_disk now;
        int r = media_disk_read(SYSFS, j->name, &now);
        if (r < 0)
                return r;
        if (j->m->access_dirfd >= 0)
                (void) media_access_remove(j->m->access_dirfd, j->name);
        r = media_disk_set_read_only(&now, DEV_DIR, false);
        int k = media_disk_trigger(&now, "add");
        return r < 0 ? r : k;
}

static int job_read_only(struct job *j) {
        char path[64 + MEDIA_NAME_MAX];
        struct stat st;

        snprintf(path, sizeof path, DEV_DIR "/%s", j->node);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode) || st.st_rdev != j->devnum)
                return -ESTALE;
        return block_device_set_read_only(fd, true);
}

static int job_run(void *context) {
        struct job *j = context;

        switch (j->op) {
        case JOB_READ:
                return job_read(j);
        case JOB_APPLY:
                return job_apply(j);
        case JOB_RELEASE:
                return job_release(j);
        case JOB_FORGET:
                return j->m->access_dirfd < 0 ? 0 : media_access_remove(j->m->access_dirfd, j->name);
        case JOB_READ_ONLY:
                return job_read_only(j);
        }
        return -EINVAL;
}

/* Hands J to the worker; its disk's jobs run in submission order. */
static int job_submit(struct media *m, struct job *j) {
        struct usb_io_request req = { .op = USB_IO_CALL, .call = job_run, .context = j };
        snprintf(req.syspath, sizeof req.syspath, "media:%s", j->name);
        snprintf(req.sysname, sizeof req.sysname, "%s", j->name);
        return usb_io_submit(m->io, &req);
}

static struct job *job_new(struct media *m, enum job_op op, const char *name) {
        struct job *j = calloc(1, sizeof *j);
        if (!j)
                return NULL;
        j->m = m;
        j->op = op;
        snprintf(j->name, sizeof j->name, "%s", name);
        return j;
}

/* ---- decisions ---------------------------------------------------------------------------------- */

/* Decisions are recorded before the disk changes state: applies wait for the commit of this
 * turn of the loop (a deferred source of lower priority than the recorder's), as USB's do. */
static int on_submit_applies(sd_event_source *s, void *userdata) {
        struct media *m = userdata;

        while (m->applies) {
                struct queued_job *q = m->applies;
                m->applies = q->next;
                int r = job_submit(m, q->job);
                if (r < 0) {
                        recorder_fault(m->rec, FAULT_MEDIA_ENFORCE, r, "Failed to queue enforcement for medium %s: %s",
                                       q->job->name, strerror(-r));
                        job_free(q->job);
                }
                free(q);
        }
        m->applies_tail = &m->applies;
        return 0;
}

static void applies_drop(struct media *m) {
        while (m->applies) {
                struct queued_job *q = m->applies;
                m->applies = q->next;
                job_free(q->job);
                free(q);
        }
        m->applies_tail = &m->applies;
}

static void apply_queue(struct media *m, struct job *j) {
        struct queued_job *q = malloc(sizeof *q);
        if (!q) {
                recorder_fault(m->rec, FAULT_OOM, -ENOMEM, "Out of memory enforcing on medium %s: the udev rule keeps "
                               "it closed", j->name);
                job_free(j);
                return;
        }
        q->next = NULL;
        q->job = j;
        *m->applies_tail = q;
        m->applies_tail = &q->next;
        (void) sd_event_source_set_enabled(m->applies_source, SD_EVENT_ONESHOT);
}

static int verdict_rank(enum policy_verdict v) {
        return v == VERDICT_ALLOW ? 2 : v == VERDICT_READ_ONLY ? 1 : 0;
}

static enum media_access access_of(enum policy_verdict v) {
        return v == VERDICT_ALLOW ? MEDIA_ACCESS_READ_WRITE : v == VERDICT_READ_ONLY ? MEDIA_ACCESS_READ_ONLY
                                                                                      : MEDIA_ACCESS_CLOSED;
}

static bool recently_reattached(struct media *m, const char *name) {
        int64_t now = now_seconds();
        for (size_t i = 0; i < REATTACH_MEMORY; i++)
                if (streq(m->reattached[i].name, name) && now - m->reattached[i].when < REATTACH_COOLDOWN_SEC)
                        return true;
        return false;
}

/* The apply for D's current decision (after the commit). */
static void medium_apply(struct media *m, struct medium *d, enum media_record_event ev, const struct record_decision *rd,
                         enum reattach reattach) {
        struct job *j = job_new(m, JOB_APPLY, d->name);
        if (!j) {
                recorder_fault(m->rec, FAULT_OOM, -ENOMEM, "Out of memory enforcing on medium %s: the udev rule keeps it "
                               "closed", d->name);
                return;
        }
        bool again = reattach == REATTACH_IF_OPEN && recently_reattached(m, d->name);
        j->access = d->held ? MEDIA_ACCESS_CLOSED : access_of(d->verdict);
        j->diskseq = d->disk.diskseq;
        j->reattach = again ? REATTACH_NEVER : reattach;
        j->left_open = again;         /* the worker says whether it still is */
        j->ev = ev;
        j->rd = *rd;
        j->id = d->disk.id;
        if (reattach != REATTACH_NEVER) {
                /* Re-attaching takes the whole PCI function along: only disks that are decided
                 * media may go with it, never a fixed or an unknown one. */
                j->release = calloc(MAX(m->n_media, (size_t) 1), sizeof *j->release);
                if (!j->release)
                        j->reattach = REATTACH_NEVER;
                for (struct medium *o = m->media; j->release && o; o = o->next)
                        if (o->identity_ok && o->decided && o->fixed == MEDIA_NOT_FIXED)
                                snprintf(j->release[j->n_release++], MEDIA_NAME_MAX, "%s", o->name);
        }
        apply_queue(m, j);
}

/* The policy's decision for D, and whether D is held for its virus scan (*RET_HELD): a medium
 * whose permit (or defaults.scan) requires a scan stays closed until the scan of this very
 * medium (its diskseq) has passed; one found infected is blocked while it is there. */
static void media_match(struct media *m, const struct medium *d, struct policy_decision *dec, char *reason, size_t size,
                        bool *ret_held) {
        bool current = d->scan_seq == d->disk.diskseq;

        policy_match_media(m->policy, &d->disk.id, now_seconds(), dec);
        policy_decision_describe(dec, NULL, reason, size);
        *ret_held = false;
        if (dec->verdict == VERDICT_BLOCK)
                return;
        size_t n = strlen(reason);
        if (current && d->scan == MEDIUM_SCAN_INFECTED) {
                /* No policy change lets it back before it is removed. */
                dec->verdict = VERDICT_BLOCK;
                snprintf(reason + n, size - n, "; blocked: virus found (%s)", d->signature);
        } else if (dec->scan_required && !(current && d->scan == MEDIUM_SCAN_PASSED)) {
                *ret_held = true;
                snprintf(reason + n, size - n, "; held for its virus scan: root's alone and read-only until it passes");
        } else if (dec->scan_written && dec->verdict == VERDICT_ALLOW) {
                /* Fail closed: files written to media on other buses are recorded but not
                 * scanned (the owner's part, usb_devices_file_scanned(), is USB's), so none could
                 * be scanned as the policy asks. */
                dec->verdict = VERDICT_READ_ONLY;
                snprintf(reason + n, size - n, "; read-only: files written to it could not be scanned "
                         "(scan \"in-and-out\" is for USB media)");
        } else if (dec->verdict == VERDICT_ALLOW && m->carry_required && !m->carry_available) {
                /* Fail closed, as for USB media: what is written to it could not be recorded (the
                 * carry-out worker is not connected, or fanotify failed), and the contract wants
                 * every carry-out recorded. Read-only until the record runs; then decided again
                 * (media_set_carry). */
                dec->verdict = VERDICT_READ_ONLY;
                snprintf(reason + n, size - n, "; read-only: the carry-out record is not running");
                if (!d->decided || d->verdict != VERDICT_READ_ONLY)
                        recorder_fault(m->rec, FAULT_CARRY_WORKER, -ENOTCONN, "Medium %s (%s) serial \"%s\" approved "
                                       "read-write is read-only: the carry-out record is not running, so files "
                                       "written to it could not be recorded", d->disk.id.name,
                                       media_bus_to_string(d->disk.id.bus) ?: "?", d->disk.id.serial);
        }
}

static void medium_scan_stop(struct medium *d) {
        d->scan_job = scan_job_free(d->scan_job);
        d->scan_settle = sd_event_source_disable_unref(d->scan_settle);
}

static int on_scan_settled(sd_event_source *s, uint64_t usec, void *userdata);

/* Keeps D's scan in step with its decision: a held medium is (or will be) scanned, once per
 * diskseq; one no longer held stops its scan. A drive without a disc waits for one. */
static void medium_scan_follow(struct media *m, struct medium *d) {
        if (!d->held) {
                if (d->scan != MEDIUM_SCAN_PASSED && d->scan != MEDIUM_SCAN_INFECTED) {
                        medium_scan_stop(d);
                        d->scan = MEDIUM_SCAN_NONE;
                }
                return;
        }
        if (d->scan_seq == d->disk.diskseq && (d->scan == MEDIUM_SCAN_RUNNING || d->scan_settle))
                return;
        medium_scan_stop(d);
        d->scan = MEDIUM_SCAN_WAITING;
        d->scan_seq = d->disk.diskseq;
        if (d->disk.id.bus == MEDIA_BUS_OPTICAL && !d->disc)
                return;                /* no disc: nothing to scan yet */
        int r = sd_event_add_time_relative(m->event, &d->scan_settle, CLOCK_MONOTONIC, SCAN_SETTLE_USEC, 0,
                                           on_scan_settled, d);
        if (r < 0) {
                d->scan = MEDIUM_SCAN_FAULT;
                d->scan_fault = SCAN_FAULT_WORKER;
                recorder_fault(m->rec, FAULT_OOM, r, "Cannot arm the virus scan of medium %s: %s; it stays held", d->name,
                               strerror(-r));
        }
}

static void on_media_scan_done(struct scan_job *job, const struct scan_outcome *o, void *userdata);

static int on_scan_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        struct medium *d = userdata;
        struct media *m = d->m;
        const struct policy_scan_limits *l = m->policy ? &m->policy->scan_limits : NULL;

        d->scan_settle = sd_event_source_disable_unref(d->scan_settle);
        if (!l || !d->held || d->scan_job)
                return 0;
        struct scan_params p = {
                .syspath = d->syspath,
                .clamd_socket = m->clamd_socket ?: KYOKA_CLAMD_SOCKET,
                .workdir = m->runtime_dir,
                .max_seconds = (uint64_t) l->max_seconds,
                .max_bytes = (uint64_t) l->max_megabytes << 20,
                .max_database_age = (uint64_t) l->max_database_days * 86400,
        };
        int r = scan_job_start(m->event, m->exe_fd, NULL, &p, on_media_scan_done, d, &d->scan_job);
        if (r < 0) {
                struct scan_outcome o = { .result = SCAN_RESULT_FAULT, .fault = SCAN_FAULT_WORKER, .error = -r };
                on_media_scan_done(NULL, &o, d);
                return 0;
        }
        d->scan = MEDIUM_SCAN_RUNNING;
        log_info("medium %s: scanning it for viruses before it is usable", d->name);
        return 0;
}

/* Decides D now and records it (EV, or nothing for an unchanged re-evaluation); the apply
 * follows the commit. */
static void medium_decide(struct media *m, struct medium *d, enum media_record_event ev) {
        struct policy_decision dec;
        struct record_decision rd;
        char reason[RECORD_REASON_MAX];
        bool held;

        media_match(m, d, &dec, reason, sizeof reason, &held);
        record_decision_init(&rd, &dec, dec.verdict, reason);

        bool first = !d->decided, changed = first || d->verdict != dec.verdict, access_changed = !first && d->held != held;
        /* Held is closed, whatever the verdict: from held to blocked nothing narrows. */
        int rank_before = d->held ? 0 : verdict_rank(d->verdict), rank = held ? 0 : verdict_rank(dec.verdict);
        enum reattach reattach = first ? REATTACH_IF_OPEN : rank < rank_before ? REATTACH_ALWAYS : REATTACH_NEVER;
        d->decided = true;
        d->verdict = dec.verdict;
        d->held = held;
        d->next_change = dec.next_change;
        snprintf(d->reason, sizeof d->reason, "%s", rd.reason);
        snprintf(d->permit, sizeof d->permit, "%s", rd.permit);
        medium_scan_follow(m, d);
        carry_changed(m);
        if (ev == MEDIA_RECORD_REEVALUATED && !changed && !access_changed)
                return;
        if (changed || ev != MEDIA_RECORD_REEVALUATED)
                recorder_media(m->rec, ev, &d->disk.id, &rd, 0);
        /* A drive found at start with a disc in it: the disc is a carry-in of its own. */
        if (ev == MEDIA_RECORD_CONNECTED && d->disk.id.bus == MEDIA_BUS_OPTICAL && d->disc)
                recorder_media(m->rec, MEDIA_RECORD_INSERTED, &d->disk.id, &rd, 0);
        medium_apply(m, d, ev, &rd, reattach);
}

/* The read of D arrived: fixed (noted once, never touched), or decided. */
static void on_read_done(struct media *m, struct job *j, int r) {
        struct medium *d = medium_find(m, j->name);

        if (!d || d->read_tag != j->tag)
                return;                /* gone, or read again meanwhile */
        d->read_tag = 0;
        if (r == -ECANCELED)
                return;
        if (r == -EMEDIUMTYPE || r == -ENOENT || r == -ENODEV) {
                /* Not a medium kyoka governs (on USB, virtual), or gone already. */
                medium_forget(m, d);
                return;
        }
        bool was_known = d->identity_ok;
        d->identity_known = true;
        if (r < 0) {
                /* Nothing to decide on and nothing to tell a fixed disk by: left to the rule. */
                recorder_fault(m->rec, FAULT_MEDIA_IDENTITY, r, "Failed to read disk %s from sysfs: %s; the udev rule "
                               "alone decides it", d->name, strerror(-r));
                return;
        }
        bool seq_changed = was_known && d->disk.diskseq != j->disk.diskseq;
        d->disk = j->disk;
        d->identity_ok = true;

        if (d->fixed == MEDIA_NOT_FIXED && !d->decided) {
                d->fixed = media_fixed_from(j->system, &d->disk.id, m->install, m->policy_fixed);
                if (d->fixed != MEDIA_NOT_FIXED) {
                        struct record_decision rd;
                        record_decision_init(&rd, NULL, VERDICT_ALLOW, media_fixed_reason_to_string(d->fixed));
                        recorder_media(m->rec, MEDIA_RECORD_FIXED, &d->disk.id, &rd, 0);
                        /* A name in fstab or crypttab is not hard to give a medium (the UUIDs are
                         * world-readable): one that appears while kyokad runs is a fault to see. */
                        if (!d->present_at_start && (d->fixed == MEDIA_FIXED_FSTAB || d->fixed == MEDIA_FIXED_CRYPTTAB))
                                recorder_fault(m->rec, FAULT_MEDIA_FIXED_NAMED, 0, "Disk %s (%s \"%s\" serial \"%s\") appeared "
                                               "while kyokad ran and is left alone: it is %s", d->name,
                                               media_bus_to_string(d->disk.id.bus), d->disk.id.model, d->disk.id.serial,
                                               media_fixed_reason_to_string(d->fixed));
                        return;
                }
        }
        if (d->fixed != MEDIA_NOT_FIXED)
                return;

        bool disc_before = d->disc;
        d->disc = j->disc;
        if (!d->decided) {
                if (d->disc)
                        d->disc_seq = d->disk.diskseq;
                medium_decide(m, d, MEDIA_RECORD_CONNECTED);
                report_next_change(m);
                return;
        }
        /* A drive's medium changed: a disc that was not there when the last one was recorded
         * (a new diskseq: the kernel counts every medium change) is an insertion, decided by
         * the drive's permit; the access file is written for the new diskseq. */
        bool inserted = d->disc && d->disk.diskseq != d->disc_seq;
        if (inserted)
                d->disc_seq = d->disk.diskseq;
        struct record_decision rd;
        struct policy_decision dec;
        char reason[RECORD_REASON_MAX];
        bool held;
        media_match(m, d, &dec, reason, sizeof reason, &held);
        record_decision_init(&rd, &dec, dec.verdict, reason);
        if (inserted)
                recorder_media(m->rec, MEDIA_RECORD_INSERTED, &d->disk.id, &rd, 0);
        else if (!d->disc && disc_before)
                recorder_media(m->rec, MEDIA_RECORD_EJECTED, &d->disk.id, &rd, 0);
        if (dec.verdict != d->verdict || held != d->held) {
                medium_decide(m, d, MEDIA_RECORD_REEVALUATED);
                report_next_change(m);
        } else {
                /* A new disc in a held drive is scanned (the last one's scan was about another). */
                medium_scan_follow(m, d);
                if (seq_changed)
                        medium_apply(m, d, MEDIA_RECORD_INSERTED, &rd, REATTACH_NEVER);
        }
}

/* ---- scan before use ------------------------------------------------------------------------- */

static void on_media_scan_done(struct scan_job *job, const struct scan_outcome *o, void *userdata) {
        struct medium *d = userdata;
        struct media *m = d->m;

        d->scan_job = scan_job_free(job);
        switch (o->result) {
        case SCAN_RESULT_CLEAN:
                d->scan = MEDIUM_SCAN_PASSED;
                break;
        case SCAN_RESULT_INFECTED:
                d->scan = MEDIUM_SCAN_INFECTED;
                snprintf(d->signature, sizeof d->signature, "%s", o->signature);
                break;
        default:
                d->scan = MEDIUM_SCAN_FAULT;
                d->scan_fault = o->fault;
                break;
        }
        recorder_scan_outcome(m->rec, &(struct record_scan) { .media = &d->disk.id, .permit = d->permit }, d->verdict, o);
        if (d->scan == MEDIUM_SCAN_FAULT)
                return;         /* stays as it is: held */
        /* Decided again: clean opens it as the permit says, infected keeps it closed. */
        medium_decide(m, d, MEDIA_RECORD_REEVALUATED);
        report_next_change(m);
}

void media_set_scanner(struct media *m, const char *clamd_socket) {
        free(m->clamd_socket);
        m->clamd_socket = clamd_socket ? strdup(clamd_socket) : NULL;
}

static void on_apply_done(struct media *m, struct job *j, int r) {
        if (r == -ECANCELED || r == -ESTALE || r == -ENOENT || r == -ENODEV)
                return;                /* gone or replaced: its own events follow */
        if (j->reattached) {
                if (m->reattached_next >= REATTACH_MEMORY)
                        m->reattached_next = 0;
                snprintf(m->reattached[m->reattached_next].name, MEDIA_NAME_MAX, "%s", j->name);
                m->reattached[m->reattached_next++].when = now_seconds();
                log_info("media %s: re-attached, so that nothing opened under its earlier access keeps it", j->name);
        }
        if (r == -EPERM) {
                recorder_fault(m->rec, FAULT_MEDIA_ENFORCE, r, "Disk %s now holds the root file system or something "
                               "/etc/fstab or /etc/crypttab names: left alone", j->name);
                return;
        }
        if (j->left_open)
                recorder_fault(m->rec, FAULT_MEDIA_ENFORCE, 0, "Medium %s is still open to users after it was "
                               "re-attached: the udev rule did not close it (is 73-kyoka-media.rules installed and "
                               "kyoka-block-access in place?); it is read-only (BLKROSET)", j->name);
        if (r < 0)
                /* Recorded again as failed: the decision stands, the udev rule keeps it closed
                 * unless its access file was written. */
                recorder_media(m->rec, j->ev == MEDIA_RECORD_INSERTED ? MEDIA_RECORD_INSERTED : j->ev, &j->id, &j->rd, r);
}

static void on_io_done(const struct usb_io_result *res, void *userdata) {
        struct media *m = userdata;
        struct job *j = res->req.context;

        if (res->req.op != USB_IO_CALL || !j)
                return;
        switch (j->op) {
        case JOB_READ:
                on_read_done(m, j, res->r);
                break;
        case JOB_APPLY:
                on_apply_done(m, j, res->r);
                break;
        case JOB_RELEASE:
                if (res->r < 0 && res->r != -ECANCELED && res->r != -ENOENT)
                        recorder_fault(m->rec, FAULT_MEDIA_ENFORCE, res->r, "Failed to give disk %s back to udev's rules: %s",
                                       j->name, strerror(-res->r));
                break;
        case JOB_FORGET:
                if (res->r < 0 && res->r != -ECANCELED)
                        recorder_fault(m->rec, FAULT_MEDIA_ACCESS_FILE, res->r, "Failed to remove the access file of %s: %s",
                                       j->name, strerror(-res->r));
                break;
        case JOB_READ_ONLY:
                if (res->r < 0 && res->r != -ECANCELED && res->r != -ENOENT && res->r != -ESTALE && res->r != -ENXIO)
                        recorder_fault(m->rec, FAULT_MEDIA_ENFORCE, res->r, "Failed to make %s read-only: %s", j->node,
                                       strerror(-res->r));
                break;
        }
        job_free(j);
}

/* ---- uevents -------------------------------------------------------------------------------- */

static void medium_read(struct media *m, struct medium *d, enum media_record_event ev) {
        struct job *j = job_new(m, JOB_READ, d->name);
        int r = j ? 0 : -ENOMEM;

        if (j) {
                j->tag = ++m->tags;
                r = job_submit(m, j);
                if (r < 0)
                        job_free(j);
        }
        if (r < 0) {
                recorder_fault(m->rec, FAULT_MEDIA_IDENTITY, r, "Failed to queue reading disk %s: %s; the udev rule alone "
                               "decides it", d->name, strerror(-r));
                return;
        }
        d->read_tag = j->tag;
        d->read_event = ev;
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        struct medium *d = userdata;
        medium_read(d->m, d, MEDIA_RECORD_INSERTED);
        return 0;
}

/* A drive reported a medium change: read it once it has been quiet for a moment. */
static void medium_changed(struct media *m, struct medium *d) {
        uint64_t now;
        int r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);

        if (r >= 0 && d->settle) {
                r = sd_event_source_set_time(d->settle, now + MEDIUM_SETTLE_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->settle, SD_EVENT_ONESHOT);
        } else if (r >= 0)
                r = sd_event_add_time(m->event, &d->settle, CLOCK_MONOTONIC, now + MEDIUM_SETTLE_USEC, 0, on_settled, d);
        if (r < 0)
                medium_read(m, d, MEDIA_RECORD_INSERTED);   /* no timer: at once */
}

static void medium_removed(struct media *m, struct medium *d) {
        if (d->fixed == MEDIA_NOT_FIXED && d->decided) {
                struct record_decision rd;
                record_decision_init(&rd, NULL, d->verdict, "removed");
                recorder_media(m->rec, MEDIA_RECORD_REMOVED, &d->disk.id, &rd, 0);
        }
        struct job *j = job_new(m, JOB_FORGET, d->name);
        if (j && job_submit(m, j) < 0)
                j = job_free(j);
        medium_forget(m, d);
        report_next_change(m);
}

/* Disks kyoka may govern, by name: the rest (loop, dm, md, zram, ...) is not looked at. */
static bool governed_name(const char *name) {
        return media_name_valid(name) && (startswith(name, "mmcblk") || startswith(name, "sr") ||
                                          startswith(name, "nvme") || startswith(name, "sd") || startswith(name, "vd"));
}

static uint64_t event_diskseq(struct udev_device *dev) {
        const char *s = udev_device_get_property_value(dev, "DISKSEQ");
        return s ? strtoull(s, NULL, 10) : 0;
}

/* A partition of a disk that is not allowed: kyokad's own BLKROSET behind the rule's. */
static void on_partition(struct media *m, struct udev_device *dev) {
        struct udev_device *parent = udev_device_get_parent_with_subsystem_devtype(dev, "block", "disk");
        const char *pname = parent ? udev_device_get_sysname(parent) : NULL, *name = udev_device_get_sysname(dev);
        struct medium *d = pname ? medium_find(m, pname) : NULL;

        if (!d || !d->decided || d->fixed != MEDIA_NOT_FIXED || (d->verdict == VERDICT_ALLOW && !d->held) || !name ||
            !media_name_valid(name))
                return;
        struct job *j = job_new(m, JOB_READ_ONLY, d->name);
        if (!j)
                return;
        snprintf(j->node, sizeof j->node, "%s", name);
        j->devnum = udev_device_get_devnum(dev);
        if (job_submit(m, j) < 0)
                job_free(j);
}

static void on_block_event(struct udev_device *dev, const char *action, void *userdata) {
        struct media *m = userdata;
        const char *name = udev_device_get_sysname(dev), *syspath = udev_device_get_syspath(dev),
                   *devtype = udev_device_get_devtype(dev);

        if (!name || !syspath || !devtype || !governed_name(name) || strlen(syspath) >= MEDIA_SYSPATH_MAX)
                return;
        if (udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device"))
                return;                /* usb-devices.c's */
        if (streq(devtype, "partition")) {
                if (streq(action, "add"))
                        on_partition(m, dev);
                return;
        }
        if (!streq(devtype, "disk"))
                return;

        struct medium *d = medium_find(m, name);
        if (streq(action, "remove")) {
                if (d)
                        medium_removed(m, d);
                return;
        }
        if (d && !streq(d->syspath, syspath)) {
                /* The name went to another disk while its removal was lost. */
                medium_removed(m, d);
                d = NULL;
        }
        if (d) {
                d->seen = true;
                uint64_t seq = event_diskseq(dev);
                /* Our own "add" and "change" (udev is to run the rules again), or a repeat. */
                if (streq(action, "change") &&
                    streq_ptr(udev_device_get_property_value(dev, "DISK_MEDIA_CHANGE"), "1"))
                        medium_changed(m, d);
                else if (streq(action, "add") && d->identity_ok && seq && seq != d->disk.diskseq)
                        medium_read(m, d, MEDIA_RECORD_INSERTED);
                return;
        }
        if (!streq(action, "add") && !streq(action, "change"))
                return;
        if (m->n_media >= MEDIA_TRACKED_MAX) {
                recorder_fault(m->rec, FAULT_MEDIA_UNTRACKED, 0, "More than %d disks: %s is not tracked; the udev rule "
                               "alone decides it", MEDIA_TRACKED_MAX, name);
                return;
        }
        d = calloc(1, sizeof *d);
        if (!d) {
                recorder_fault(m->rec, FAULT_OOM, -ENOMEM, "Out of memory tracking disk %s: the udev rule alone decides it",
                               name);
                return;
        }
        snprintf(d->name, sizeof d->name, "%s", name);
        snprintf(d->syspath, sizeof d->syspath, "%s", syspath);
        d->m = m;
        d->next_change = TIME_INFINITY;
        d->present_at_start = m->starting;
        d->seen = true;
        d->next = m->media;
        m->media = d;
        m->n_media++;
        medium_read(m, d, MEDIA_RECORD_CONNECTED);
}

/* Lost uevents: take stock again; what is gone is recorded as removed. */
static void on_overrun(void *userdata) {
        struct media *m = userdata;

        for (struct medium *d = m->media; d; d = d->next)
                d->seen = false;
        if (block_watch_enumerate(m->watch) < 0)
                return;
        for (struct medium *d = m->media, *next; d; d = next) {
                next = d->next;
                if (!d->seen)
                        medium_removed(m, d);
        }
}

/* ---- the lists of fixed disks ------------------------------------------------------------------ */

/* The policy's fixed_disks as the helper's file. With no policy in force the last accepted
 * policy's list stays (a lockdown never turns the workstation's own disks into media). */
static void policy_fixed_update(struct media *m) {
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *l = NULL;
        int r;

        if (!m->policy) {
                if (!m->policy_fixed) {
                        r = media_fixed_list_read(m->state_dir, KYOKA_FIXED_DISKS_FILE, &m->policy_fixed);
                        if (r < 0 && r != -ENOENT)
                                recorder_fault(m->rec, FAULT_MEDIA_INSTALL_LIST, r, "Cannot read %s/%s: %s", m->state_dir,
                                               KYOKA_FIXED_DISKS_FILE, strerror(-r));
                }
                return;
        }
        l = calloc(1, sizeof *l);
        if (!l)
                return;
        for (size_t i = 0; i < m->policy->n_fixed; i++) {
                const struct policy_fixed_disk *f = &m->policy->fixed[i];
                struct media_fixed_entry e = { .bus = f->bus };
                snprintf(e.vendor, sizeof e.vendor, "%s", f->vendor ?: "");
                snprintf(e.model, sizeof e.model, "%s", f->model ?: "");
                snprintf(e.serial, sizeof e.serial, "%s", f->serial ?: "");
                snprintf(e.path, sizeof e.path, "%s", f->path ?: "");
                (void) media_fixed_list_add(l, &e);
        }
        r = media_fixed_list_write(m->state_dir, KYOKA_FIXED_DISKS_FILE, l, false);
        if (r < 0)
                recorder_fault(m->rec, FAULT_MEDIA_INSTALL_LIST, r, "Failed to write %s/%s: %s; the udev helper does not "
                               "know the policy's fixed disks until it can", m->state_dir, KYOKA_FIXED_DISKS_FILE,
                               strerror(-r));
        media_fixed_list_free(m->policy_fixed);
        m->policy_fixed = TAKE_PTR(l);
}

/* The first start on this machine: the disks present now are its own (but SD cards and discs),
 * written before anything is decided. */
static void install_list_create(struct media *m) {
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *l = calloc(1, sizeof *l);
        char cls[] = SYSFS "/class/block";
        int r;

        if (!l)
                return;
        DIR *dir = opendir(cls);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
                struct media_disk disk;
                if (!governed_name(de->d_name) || media_disk_read(SYSFS, de->d_name, &disk) < 0 ||
                    media_bus_removable(disk.id.bus))
                        continue;
                r = media_fixed_list_add_disk(l, &disk.id);
                if (r < 0)
                        recorder_fault(m->rec, FAULT_MEDIA_INSTALL_LIST, r, "Disk %s present at installation has no serial "
                                       "and no path to know it by: it is not on the list", disk.id.name);
        }
        if (dir)
                closedir(dir);
        r = media_fixed_list_write(m->state_dir, KYOKA_DISKS_AT_INSTALL_FILE, l, true);
        if (r < 0)
                recorder_fault(m->rec, FAULT_MEDIA_INSTALL_LIST, r, "Failed to record the disks present at installation in "
                               "%s/%s: %s; they are left alone in this run, and the next start tries again",
                               m->state_dir, KYOKA_DISKS_AT_INSTALL_FILE, strerror(-r));
        m->install = TAKE_PTR(l);
}

static void install_list_load(struct media *m) {
        int r = media_fixed_list_read(m->state_dir, KYOKA_DISKS_AT_INSTALL_FILE, &m->install);
        if (r == -ENOENT) {
                install_list_create(m);
                return;
        }
        if (r < 0)
                /* Never rewritten: an admin looks at it. Meanwhile the fallback of rule 4 holds. */
                recorder_fault(m->rec, FAULT_MEDIA_INSTALL_LIST, r, "Cannot read %s/%s: %s; NVMe, SATA, SCSI and virtio "
                               "disks are left alone until it is readable (SD cards and discs are still decided)",
                               m->state_dir, KYOKA_DISKS_AT_INSTALL_FILE, strerror(-r));
}

/* ---- the manager's side ---------------------------------------------------------------------- */

static int open_access_dir(struct media *m) {
        _cleanup_free_ char *dir = path_join(m->runtime_dir, KYOKA_MEDIA_ACCESS_DIR);
        struct stat st;

        if (!dir)
                return -ENOMEM;
        if (mkdir(m->runtime_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0755)
                if (fchmod(fd, 0755) < 0 || (st.st_uid != geteuid() && fchown(fd, geteuid(), (gid_t) -1) < 0))
                        return negative_errno();
        /* Nothing from an earlier run may open a disk: each is decided again at start. */
        int r = block_access_clear(fd);
        if (r < 0)
                return r;
        m->access_dirfd = TAKE_FD(fd);
        return 0;
}

int media_new(sd_event *e, struct udev *udev, const char *source, const char *runtime_dir, const char *state_dir,
              struct recorder *rec, media_timer_changed_t changed, void *userdata, struct media **ret) {
        struct media *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        m->event = e;
        m->udev = udev;
        m->rec = rec;
        m->changed = changed;
        m->userdata = userdata;
        m->access_dirfd = -EBADF;
        /* The same binary for every scan worker, even after an upgrade replaced the file. */
        m->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        m->applies_tail = &m->applies;
        m->next_change = TIME_INFINITY;
        m->source = strdup(source);
        m->runtime_dir = strdup(runtime_dir);
        m->state_dir = strdup(state_dir);
        if (!m->source || !m->runtime_dir || !m->state_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = usb_io_new(e, MEDIA_IO_THREADS, on_io_done, m, &m->io);
        if (r < 0)
                goto fail;
        r = sd_event_add_defer(e, &m->applies_source, on_submit_applies, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->applies_source, SD_EVENT_PRIORITY_NORMAL + 1);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->applies_source, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        r = open_access_dir(m);
        if (r < 0)
                recorder_fault(rec, FAULT_MEDIA_ACCESS_FILE, r, "Failed to prepare %s/%s: %s; media stay closed",
                               runtime_dir, KYOKA_MEDIA_ACCESS_DIR, strerror(-r));
        *ret = m;
        return 0;
fail:
        media_free(m);
        return r;
}

int media_start(struct media *m, const struct policy *p) {
        int r;

        m->policy = p;
        policy_fixed_update(m);
        install_list_load(m);

        /* Listen first, then take stock: a disk that comes in between is seen at least once. */
        r = block_watch_new(m->event, m->udev, m->source, on_block_event, on_overrun, m, &m->watch);
        if (r < 0) {
                recorder_fault(m->rec, FAULT_MEDIA_WATCH, r, "Failed to watch disks: %s; the udev rule alone decides media",
                               strerror(-r));
                return 0;
        }
        m->starting = true;
        r = block_watch_enumerate(m->watch);
        m->starting = false;
        if (r < 0)
                recorder_fault(m->rec, FAULT_MEDIA_WATCH, r, "Failed to enumerate disks: %s", strerror(-r));
        return 0;
}

void media_policy_changed(struct media *m, const struct policy *p) {
        if (!m)
                return;
        m->policy = p;
        policy_fixed_update(m);
        for (struct medium *d = m->media; d; d = d->next) {
                if (!d->identity_ok || d->read_tag)
                        continue;      /* decided when its read arrives */
                if (d->fixed == MEDIA_NOT_FIXED && media_fixed_list_contains(m->policy_fixed, &d->disk.id)) {
                        /* The signed policy says this disk is the workstation's own: what kyoka did
                         * to it is undone once, and it is never touched again. */
                        struct record_decision rd;
                        d->fixed = MEDIA_FIXED_POLICY;
                        record_decision_init(&rd, NULL, VERDICT_ALLOW, media_fixed_reason_to_string(d->fixed));
                        recorder_media(m->rec, MEDIA_RECORD_FIXED, &d->disk.id, &rd, 0);
                        struct job *j = job_new(m, JOB_RELEASE, d->name);
                        if (j)
                                apply_queue(m, j);
                        continue;
                }
                /* A disk taken off fixed_disks stays as it is while it is present: it is decided
                 * the next time it appears (never closed under a running system). */
                if (d->fixed == MEDIA_NOT_FIXED)
                        medium_decide(m, d, MEDIA_RECORD_REEVALUATED);
        }
        m->next_change = next_change(m);
}

void media_stop(struct media *m) {
        if (!m)
                return;
        applies_drop(m);
        m->io = usb_io_free(m->io);
}

struct media *media_free(struct media *m) {
        if (!m)
                return NULL;
        usb_io_free(m->io);
        applies_drop(m);
        sd_event_source_disable_unref(m->applies_source);
        block_watch_free(m->watch);
        while (m->media) {
                struct medium *d = m->media;
                m->media = d->next;
                medium_free(d);
        }
        if (m->access_dirfd >= 0)
                close(m->access_dirfd);
        if (m->exe_fd >= 0)
                close(m->exe_fd);
        free(m->clamd_socket);
        media_fixed_list_free(m->install);
        media_fixed_list_free(m->policy_fixed);
        free(m->source);
        free(m->runtime_dir);
        free(m->state_dir);
        return mfree(m);
}

void media_foreach(const struct media *m, media_visitor_t visit, void *userdata) {
        if (!m)
                return;
        for (const struct medium *d = m->media; d; d = d->next) {
                if (!d->identity_ok)
                        continue;
                struct media_status s = {
                        .id = &d->disk.id,
                        .identity_ok = d->identity_ok,
                        .fixed = d->fixed != MEDIA_NOT_FIXED ? media_fixed_reason_to_string(d->fixed) : NULL,
                        .decided = d->decided,
                        .verdict = d->verdict,
                        .reason = d->reason,
                        .permit = d->permit,
                        .disc = d->disc,
                        .scan = medium_scan_names[d->scan],
                };
                if (d->scan == MEDIUM_SCAN_FAULT)
                        s.scan_fault = scan_fault_to_string(d->scan_fault);
                if (d->scan_job)
                        scan_job_progress(d->scan_job, &s.scan_files, &s.scan_bytes);
                visit(&s, userdata);
        }
}

void media_set_carry(struct media *m, bool required, bool available) {
        if (!m || (m->carry_required == required && m->carry_available == available))
                return;
        m->carry_required = required;
        m->carry_available = available;
        /* Read-write media become read-only or back (re-attached as any narrowing is). */
        if (m->policy)
                media_policy_changed(m, m->policy);
}

void media_set_carry_listener(struct media *m, void (*changed)(void *userdata), void *userdata) {
        m->carry_changed = changed;
        m->carry_userdata = userdata;
}

/* The same test for the lookup and the offers: decided, not the workstation's own, not held
 * for its scan, and usable. */
static bool medium_carried(const struct medium *d) {
        return d->identity_ok && d->decided && d->fixed == MEDIA_NOT_FIXED && !d->held &&
               (d->verdict == VERDICT_ALLOW || d->verdict == VERDICT_READ_ONLY);
}

/* What a record of a file on D says: D named as its media records name it. Files written to a
 * medium on another bus are never scanned (a permit asking for it makes it read-only). */
static void medium_carry_info(const struct medium *d, struct carry_medium_info *ret) {
        *ret = (struct carry_medium_info) { .other_bus = true, .medium = d->disk.id, .verdict = d->verdict };
        snprintf(ret->permit, sizeof ret->permit, "%s", d->permit);
}

bool media_syspath_under(const char *block_syspath, const char *disk_syspath) {
        size_t n = strlen(disk_syspath);
        return n > 0 && strncmp(block_syspath, disk_syspath, n) == 0 &&
               (block_syspath[n] == '\0' || block_syspath[n] == '/');
}

int media_medium_of(const struct media *m, const char *block_syspath, struct carry_medium_info *ret) {
        if (!m)
                return -ENOENT;
        for (const struct medium *d = m->media; d; d = d->next)
                if (media_syspath_under(block_syspath, d->syspath)) {
                        if (!medium_carried(d))
                                return -ENOENT;
                        medium_carry_info(d, ret);
                        return 0;
                }
        return -ENOENT;
}

void media_foreach_medium(const struct media *m, media_medium_visitor_t visit, void *userdata) {
        if (!m)
                return;
        for (const struct medium *d = m->media; d; d = d->next)
                if (medium_carried(d)) {
                        struct carry_medium_info info;
                        medium_carry_info(d, &info);
                        visit(d->syspath, &info, userdata);
                }
}
