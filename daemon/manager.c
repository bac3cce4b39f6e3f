/* SPDX-License-Identifier: MIT */
/* kyokad's state and loop: the policy in force and its loads, the one timer for time-window
 * boundaries, the clock watch, and the wiring of the parts that decide: usb-devices.c (USB) and
 * net-links.c (network links) decide and record through the recorder (recorder.c), the control
 * socket (control.c) reads what they hold. */
#include "manager.h"

#include <errno.h>
#include <pwd.h>
#include <inttypes.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "carry.h"
#include "carry-link.h"
#include "clock-watch.h"
#include "control.h"
#include "fileio.h"
#include "kyoka-names.h"
#include "host-id.h"
#include "log.h"
#include "media.h"
#include "net-allowance.h"
#include "net-links.h"
#include "policy-load.h"
#include "policy-match.h"
#include "policy-rollback.h"
#include "policy-store.h"
#include "recorder.h"
#include "timeutil.h"
#include "usb-devices.h"

struct manager {
        struct manager_config cfg;
        sd_event *event;
        struct udev *udev;
        struct recorder *recorder;    /* every record goes through it (recorder.c) */
        struct usb_devices *usb;      /* USB devices (usb-devices.c) */
        struct media *media;          /* media on other buses (media.c) */
        struct carry *carry;          /* files written to and read from approved media (carry.c) */
        struct carry_link *carry_link; /* or the carry-out worker that records them (carry-link.c) */
        sd_event_source *carry_sync;  /* the approved media to tell the worker, once per turn */
        struct net *net;              /* network links (net-links.c); NULL with --network off */
        sd_event_source *timer;
        struct clock_watch *clock;    /* the realtime clock being set (clock-watch.c) */
        struct policy *policy;        /* NULL: built-in lockdown */
        char signer[KEY_FINGERPRINT_HEX + 64];
        struct host_id host;
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

static void manager_arm_timer(struct manager *m);

static void manager_reevaluate(struct manager *m) {
        usb_devices_policy_changed(m->usb, m->policy);
        media_policy_changed(m->media, m->policy);
        net_policy_changed(m->net, m->policy);
        manager_arm_timer(m);
}

/* Time alone changed what is permitted: the policy may have expired, permits may have started
 * or ended. */
static void manager_time_passed(struct manager *m) {
        if (m->policy && m->policy->valid_until <= now_seconds()) {
                recorder_policy(m->recorder, POLICY_RECORD_EXPIRED,
                                "the policy in force has expired: built-in lockdown applies");
                m->policy = policy_free(m->policy);
                recorder_set_policy(m->recorder, 0, NULL);
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

/* How long kyokad waits at start for the USB devices present to be decided and enforced before
 * it says it is ready (a device whose sysfs reads hang must not hold the boot). */
#define START_SETTLE_USEC (5 * UINT64_C(1000000))

static void on_clock_set(int64_t jump, void *userdata) {
        struct manager *m = userdata;

        if (llabs(jump) >= CLOCK_JUMP_RECORD_NSEC) {
                char from[ISO8601_MAX] = "?", to[ISO8601_MAX] = "?";
                int64_t now = now_seconds();
                (void) time_format_iso8601(now - jump / 1000000000LL, from, sizeof from);
                (void) time_format_iso8601(now, to, sizeof to);
                recorder_fault(m->recorder, FAULT_CLOCK_JUMP, 0,
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

        next = MIN(next, usb_devices_next_change(m->usb));
        next = MIN(next, media_next_change(m->media));
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
                recorder_fault(m->recorder, FAULT_TIMER, r, "Failed to arm the time-window timer: %s", strerror(-r));
}

/* usb-devices.c and net-links.c: a device or link appeared, left or was decided. */
static int carry_lookup(const char *block_syspath, struct carry_medium_info *ret, void *userdata) {
        struct manager *m = userdata;
        int r = usb_devices_medium_of(m->usb, block_syspath, ret);
        if (r == -ENOENT)
                /* An SD card, an NVMe or SATA disk: a medium on another bus (media.h). */
                r = media_medium_of(m->media, block_syspath, ret);
        return r;
}

/* kyokad run directly (--carry-out on): carry.c's records go to the recorder. */
static void carry_out_file(void *userdata, const struct carry_medium_info *medium, const struct record_file *f) {
        struct manager *m = userdata;
        recorder_file(m->recorder, f);
        if (f->scan_asked && medium && !medium->other_bus)
                usb_devices_file_scanned(m->usb, &medium->id, f);
}

static void carry_out_fault(void *userdata, const struct carry_medium_info *medium, enum record_fault fault, int error,
                            const char *message) {
        struct manager *m = userdata;
        recorder_fault(m->recorder, fault, error, "%s", message);
}

static const struct carry_output carry_output = { .file = carry_out_file, .fault = carry_out_fault };

/* --carry-out worker: the media kyokad gave access to, told to the worker. */
static void carry_offer(const char *syspath, const struct carry_medium_info *info, void *userdata) {
        carry_link_offer(userdata, syspath, info);
}

/* Once per turn after a medium was decided or left: the worker is told the approved media; kyokad
 * run directly looks at the mount table again (a stick already mounted when it was decided, as
 * after a restart of kyokad, has no mount event to come). */
static int on_carry_sync(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;
        if (m->carry_link) {
                carry_link_sync_begin(m->carry_link);
                usb_devices_foreach_medium(m->usb, carry_offer, m->carry_link);
                media_foreach_medium(m->media, carry_offer, m->carry_link);
                carry_link_sync_end(m->carry_link);
        }
        carry_refresh(m->carry);
        return 0;
}

static void on_media_changed(void *userdata) {
        struct manager *m = userdata;
        if (m->carry_sync)
                (void) sd_event_source_set_enabled(m->carry_sync, SD_EVENT_ONESHOT);
}

/* --carry-out worker: a file written was scanned (recorded already): the medium may have to close. */
static void on_carry_scanned(const struct carry_medium_info *medium, const struct record_file *f, void *userdata) {
        struct manager *m = userdata;
        if (!medium->other_bus)
                usb_devices_file_scanned(m->usb, &medium->id, f);
}

static void on_carry_link_state(bool connected, void *userdata) {
        struct manager *m = userdata;
        /* Read-write media open (again) or close to read-only: decided again. */
        usb_devices_set_carry(m->usb, true, connected);
        media_set_carry(m->media, true, connected);
}

/* Before any device is decided: read-write media wait for the worker (fail closed). Without the
 * socket (or the worker's user) they stay read-only, with a fault: kyokad still enforces. */
static int manager_start_carry_sync(struct manager *m) {
        int r;

        usb_devices_set_media_listener(m->usb, on_media_changed, m);
        r = sd_event_add_defer(m->event, &m->carry_sync, on_carry_sync, m);
        if (r < 0)
                return r;
        /* Before the decision's sysfs writes are submitted (behind the ledger's commit): the
         * worker knows a medium before it can be mounted read-write. */
        (void) sd_event_source_set_priority(m->carry_sync, SD_EVENT_PRIORITY_NORMAL - 20);
        (void) sd_event_source_set_enabled(m->carry_sync, SD_EVENT_OFF);
        (void) sd_event_source_set_description(m->carry_sync, "carry-sync");
        return 0;
}

static int manager_start_carry_link(struct manager *m) {
        int r;

        usb_devices_set_carry(m->usb, true, false);
        r = manager_start_carry_sync(m);
        if (r < 0)
                return r;

        /* Resolved once, at start (sysusers made it before kyokad first starts). */
        struct passwd *pw = getpwnam(KYOKA_CARRY_USER);
        uid_t uid = pw ? pw->pw_uid : (uid_t) -1;
        if (!pw)
                recorder_fault(m->recorder, FAULT_CARRY_WORKER, -ENOENT, "The carry-out worker's user %s does not "
                               "exist: no worker is accepted, read-write media are read-only", KYOKA_CARRY_USER);
        r = carry_link_new(m->event, m->recorder, m->cfg.runtime_dir, uid, on_carry_link_state, m, &m->carry_link);
        if (r < 0)
                recorder_fault(m->recorder, FAULT_CARRY_WORKER, r, "Cannot listen for the carry-out worker in %s: %s; "
                               "read-write media are read-only", m->cfg.runtime_dir, strerror(-r));
        else {
                carry_link_set_scan_listener(m->carry_link, on_carry_scanned);
                log_info("Carry-out record: waiting for its worker (%s, uid %d) on %s/%s", KYOKA_CARRY_USER, (int) uid,
                         m->cfg.runtime_dir, KYOKA_CARRY_SOCKET);
        }
        return 0;
}

static void on_timer_changed(void *userdata) {
        manager_arm_timer(userdata);
}

struct key_refusals {
        struct recorder *recorder;
        const char *dir;
        char dir_reason[KEYRING_REASON_MAX];   /* keys.d's own refusal, for the policy's message */
};

/* A key of keys.d left out: one fault each (the other keys still count). */
static void on_key_refused(const char *name, int error, const char *reason, void *userdata) {
        struct key_refusals *k = userdata;

        if (!name)
                snprintf(k->dir_reason, sizeof k->dir_reason, "%s", reason);
        else
                recorder_fault(k->recorder, FAULT_POLICY_KEY, error, "Trusted key %s/%s skipped: %s", k->dir, name, reason);
}

/* Loads and verifies the policy; on any refusal the policy in force (or the lockdown) stays. */
static int manager_load_policy(struct manager *m) {
        _cleanup_free_ char *keys_dir = path_join(m->cfg.config_dir, KYOKA_KEYS_DIR);
        _cleanup_free_ char *policy_path = path_join(m->cfg.config_dir, KYOKA_POLICY_FILE);
        struct keyring *keys = NULL;
        struct policy_load_result res;
        int r;

        if (!keys_dir || !policy_path)
                return -ENOMEM;

        struct key_refusals refusals = { .recorder = m->recorder, .dir = keys_dir };
        r = keyring_load_dir(keys_dir, on_key_refused, &refusals, &keys);
        m->load_ok = r >= 0;
        if (r < 0) {
                snprintf(m->load_message, sizeof m->load_message, "No usable trusted key in %s: %s", keys_dir,
                         refusals.dir_reason[0] ? refusals.dir_reason : strerror(-r));
                recorder_policy_refused(m->recorder, FAULT_POLICY_REFUSED, LOAD_NO_KEYS, r,
                                        "No usable trusted key in %s: %s; %s stays in force", keys_dir,
                                        refusals.dir_reason[0] ? refusals.dir_reason : strerror(-r),
                                        m->policy ? "the last good policy" : "the built-in lockdown");
                return r;
        }

        struct policy_load_options opts = {
                .policy_path = policy_path,
                .keys = keys,
                .state_dir = m->cfg.state_dir,
                .hostname = m->host.hostname[0] ? m->host.hostname : NULL,
                .machine_id = m->host.machine_id[0] ? m->host.machine_id : NULL,
                .now = now_seconds(),
                .use_image = true,
        };
        bool fallback = false;
        struct policy_store_note note;
        r = policy_store_load(&opts, m->cfg.state_dir, &res, &fallback, &note);
        if (note.kind != POLICY_STORE_NOTE_NONE)
                recorder_policy_refused(m->recorder, note.kind == POLICY_STORE_NOTE_FALLBACK ? FAULT_POLICY_FALLBACK :
                                        FAULT_POLICY_COPY_REFUSED, note.cause, note.error, "%s", note.text);
        m->load_ok = r >= 0 && !fallback;
        snprintf(m->load_message, sizeof m->load_message, "%s", res.message);
        if (r < 0) {
                recorder_policy_refused(m->recorder, FAULT_POLICY_REFUSED, res.error, r, "%s; %s stays in force",
                                        res.message, m->policy ? "the last good policy" : "the built-in lockdown");
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
                                 KYOKA_POLICY_STATE_FILE, strerror(-r));
                        recorder_policy_refused(m->recorder, FAULT_POLICY_REFUSED, LOAD_STATE_UNWRITABLE, r,
                                                "%s; %s stays in force", m->load_message,
                                                m->policy ? "the last good policy" : "the built-in lockdown");
                        policy_load_result_done(&res);
                        keyring_free(keys);
                        return r;
                }
        }
        if (!fallback) {
                r = policy_store_save(m->cfg.state_dir, policy_path, keys, &res);
                if (r < 0)
                        recorder_fault(m->recorder, FAULT_POLICY_COPY, r, "Failed to keep a copy of the accepted policy in %s: %s",
                                     m->cfg.state_dir, strerror(-r));
        }
        /* The next start (or reload) of these bytes reads the image instead of parsing them. */
        if (res.from_image)
                log_debug("%s: read from %s/%s", policy_path, m->cfg.state_dir, KYOKA_POLICY_IMAGE_FILE);
        else {
                if (res.image_error != -ENOENT && res.image_error != -ESTALE)
                        log_warning_errno(res.image_error, "%s/%s not used (%m): the policy was parsed, the image is "
                                          "written again", m->cfg.state_dir, KYOKA_POLICY_IMAGE_FILE);
                r = policy_load_save_image(&opts, &res);
                if (r < 0)
                        log_warning_errno(r, "Cannot write %s/%s: %m; the next start parses the policy again",
                                          m->cfg.state_dir, KYOKA_POLICY_IMAGE_FILE);
                /* The parsed policy holds every string on the heap; the image's holds them in its
                 * read-only mapping (a large policy: several MB less for as long as it is in force). */
                else if ((r = policy_load_take_image(&opts, &res)) < 0)
                        log_warning_errno(r, "Cannot read back %s/%s: %m; the parsed policy stays in force",
                                          m->cfg.state_dir, KYOKA_POLICY_IMAGE_FILE);
        }
        snprintf(m->signer_name, sizeof m->signer_name, "%s", trusted_key_name(res.signer));
        snprintf(m->signer_fingerprint, sizeof m->signer_fingerprint, "%s", trusted_key_fingerprint(res.signer));
        m->loaded_at = now_seconds();
        m->fallback = fallback;
        snprintf(m->signer, sizeof m->signer, "%s (%.32s)", trusted_key_name(res.signer),
                 trusted_key_fingerprint(res.signer));
        policy_free(m->policy);
        m->policy = TAKE_PTR(res.policy);
        recorder_set_policy(m->recorder, m->policy->serial, m->signer);
        recorder_policy(m->recorder, fallback ? POLICY_RECORD_ACCEPTED_COPY :
                                     res.unchanged ? POLICY_RECORD_UNCHANGED : POLICY_RECORD_LOADED, res.message);
        policy_load_result_done(&res);
        keyring_free(keys);
        /* A parse (or the policy replaced) leaves megabytes of freed heap; give it back. */
        (void) malloc_trim(0);
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
        recorder_flush(m->recorder);
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
        host_id_read(&m->host);
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
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
                        recorder_fault(m->recorder, FAULT_NETWORK_INSTALL_LIST, r, "Cannot read or create %s/%s: %s; without a policy "
                                     "every network link is blocked", m->cfg.state_dir, KYOKA_NET_ALLOWANCE_FILE, strerror(-r));
        }
        r = net_start(m->event, m->recorder, m->policy, install, first, on_timer_changed, m, &m->net);
        if (r < 0 || !first)
                return r;

        struct net_allowance *list = NULL;
        r = net_installation_list(m->net, &list);
        if (r >= 0)
                r = net_allowance_write(m->cfg.state_dir, list);
        net_allowance_free(list);
        if (r < 0)
                recorder_fault(m->recorder, FAULT_NETWORK_INSTALL_LIST, r, "Failed to record the network links present at installation "
                             "in %s/%s: %s; after a restart without a policy they are blocked", m->cfg.state_dir,
                             KYOKA_NET_ALLOWANCE_FILE, strerror(-r));
        return 0;
}

/* Controllers that appear later (a USB4/Thunderbolt dock, PCIe hot-plug) start closed from now
 * on, even before udev's rule or kyokad's own lockdown reach them. That the kernel was not
 * already told so at boot is a fault: devices present then were authorised before kyokad ran. */
int manager_start(struct manager *m) {
        int r;

        /* First, so that everything from here on is in the ledger (or waits for it). */
        r = recorder_new(m->event, m->cfg.state_dir, &m->recorder);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the ledger: %m");

        r = clock_watch_new(m->event, on_clock_set, m, &m->clock);
        if (r < 0)
                recorder_fault(m->recorder, FAULT_CLOCK_WATCH, r, "Failed to watch the clock: %s; a clock set back or "
                               "forward is neither recorded nor acted on until the next time boundary", strerror(-r));

        /* Listening for USB devices (and closing controllers that appear later) before the
         * policy is loaded; they are decided once it is. */
        r = usb_devices_new(m->event, m->udev, m->cfg.udev_events, m->cfg.runtime_dir, m->recorder, on_timer_changed, m,
                            &m->usb);
        if (r < 0)
                return log_error_errno(r, "Failed to watch USB devices: %m");
        usb_devices_set_scanner(m->usb, m->cfg.clamd_socket);
        if (m->cfg.carry_mode != CARRY_MODE_OFF) {
                r = m->cfg.carry_mode == CARRY_MODE_WORKER ? manager_start_carry_link(m) : manager_start_carry_sync(m);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the carry-out record: %m");
        }

        r = media_new(m->event, m->udev, m->cfg.udev_events, m->cfg.runtime_dir, m->cfg.state_dir, m->recorder,
                      on_timer_changed, m, &m->media);
        if (r < 0)
                return log_error_errno(r, "Failed to set up media: %m");
        media_set_scanner(m->media, m->cfg.clamd_socket);
        /* Media on other buses approved read-write need the carry-out record as USB media do,
         * kyokad run directly too: read-write once fanotify works (below), read-only if it fails. */
        if (m->cfg.carry_mode != CARRY_MODE_OFF) {
                media_set_carry(m->media, true, m->carry_link && carry_link_connected(m->carry_link));
                if (m->carry_sync)
                        media_set_carry_listener(m->media, on_media_changed, m);
        }

        if (manager_load_policy(m) < 0)
                log_warning("No valid policy: built-in lockdown (HID-only devices and hubs allowed, everything else blocked)");

        if (!m->cfg.no_network) {
                r = manager_start_network(m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch network links: %m");
        }

        r = usb_devices_start(m->usb, m->policy);
        if (r < 0)
                return log_error_errno(r, "Failed to enumerate USB devices: %m");
        /* The disks that are not on USB: the workstation's own are noted, media decided. */
        r = media_start(m->media, m->policy);
        if (r < 0)
                return log_error_errno(r, "Failed to watch media: %m");
        manager_arm_timer(m);

        /* After the devices are decided: a stick mounted before kyokad started is recorded from
         * now on. Without it nothing is recorded, nothing else changes: a fault, not a stop. */
        if (m->cfg.carry_mode == CARRY_MODE_OFF)
                log_info("Carry-out record off (--carry-out off): files written to approved media are not recorded");
        else if (m->cfg.carry_mode == CARRY_MODE_ON) {
                r = carry_new(m->event, &carry_output, carry_lookup, m, &m->carry);
                if (r < 0)
                        recorder_fault(m->recorder, FAULT_CARRY_WATCH, r, "Cannot record files written to approved "
                                       "media (fanotify): %s", strerror(-r));
                else {  /* media whose files must be scanned may be written to now */
                        usb_devices_set_carry(m->usb, false, true);
                        media_set_carry(m->media, true, true);
                }
        }

        /* The control socket is for reading and asking to reload: enforcement never depends
         * on it, so kyokad enforces without it rather than not at all. */
        r = control_new(m, m->event, m->cfg.runtime_dir, &m->control);
        if (r < 0)
                recorder_fault(m->recorder, FAULT_CONTROL_SOCKET, r, "Failed to create the control socket in %s: %s",
                               m->cfg.runtime_dir, strerror(-r));

        /* The USB devices present are decided and their decisions written to sysfs before
         * kyokad is ready (a keyboard plugged at boot works once the unit is up; a test or an
         * admin reading authorized after "ready" finds the decision): their reads and writes
         * run on usb-io's workers, so the loop runs until they are done. Bounded: a device
         * whose reads hang is decided when they end, and does not hold the boot. */
        uint64_t t, until;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        for (until = t + START_SETTLE_USEC; usb_devices_settling(m->usb) && t < until;) {
                if (sd_event_run(m->event, until - t) < 0 || sd_event_get_state(m->event) == SD_EVENT_FINISHED)
                        break;
                (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        }

        /* What start recorded on the loop (policy, links) is on disk before kyokad is ready. */
        recorder_flush(m->recorder);
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
        /* What the workers finished and what links counted is recorded before "stopped". */
        carry_stop(m->carry);
        usb_devices_stop(m->usb);
        media_stop(m->media);
        net_stop(m->net);
        recorder_stop(m->recorder, error);
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        /* First: it delivers what finished (records of enforcement done) while devices exist. */
        carry_free(m->carry);
        carry_link_free(m->carry_link);
        m->carry_sync = sd_event_source_disable_unref(m->carry_sync);
        usb_devices_free(m->usb);
        media_free(m->media);
        control_free(m->control);
        clock_watch_free(m->clock);
        net_free(m->net);
        recorder_free(m->recorder);
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

void manager_foreach_device(const struct manager *m, usb_device_visitor_t visit, void *userdata) {
        usb_devices_foreach(m->usb, visit, userdata);
}

void manager_foreach_medium(const struct manager *m, media_visitor_t visit, void *userdata) {
        media_foreach(m->media, visit, userdata);
}

struct recorder *manager_get_recorder(const struct manager *m) {
        return m->recorder;
}

bool manager_foreach_link(const struct manager *m, net_link_visitor_t visit, void *userdata) {
        if (!m->net)
                return false;
        net_foreach_link(m->net, visit, userdata);
        return true;
}

int manager_wireless_scan(const struct manager *m, int ifindex, const uint8_t *ssid, size_t len,
                          struct wireless_request *ret) {
        return m->net ? net_wireless_scan(m->net, ifindex, ssid, len, ret) : -ENODEV;
}

bool manager_get_firewall(const struct manager *m, const char **ret_problem) {
        *ret_problem = m->net ? net_firewall_problem(m->net) : NULL;
        return m->net != NULL;
}

void manager_get_host(const struct manager *m, const char **ret_hostname, const char **ret_machine_id) {
        *ret_hostname = m->host.hostname;
        *ret_machine_id = m->host.machine_id;
}

