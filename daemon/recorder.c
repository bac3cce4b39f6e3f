/* SPDX-License-Identifier: MIT */
/* The recorder (recorder.h): typed events -> journal, ledger sink, log line, watchers' JSON. */
#include "recorder.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "fileio.h"
#include "json-util.h"
#include "kyoka-names.h"
#include "ledger-sink.h"
#include "log.h"
#include "policy-sign.h"
#include "scan.h"
#include "timeutil.h"
#include "trace.h"

#define FIELDS_MAX 24
#define FIELD_VALUE_MAX POLICY_STRING_MAX  /* the longest field (a permit); nothing is cut */

/* ---- faults ------------------------------------------------------------------------------ */

static const struct {
        const char *name;
        enum ledger_subject subject;
        enum ledger_event event;
} fault_table[_FAULT_MAX] = {
        [FAULT_ACCESS_FILE]          = { "access-file", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_BLOCK_WATCH]          = { "block-watch", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_CLOCK_JUMP]           = { "clock-jump", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_CLOCK_JUMP },
        [FAULT_CLOCK_WATCH]          = { "clock-watch", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_CONTROL_SOCKET]       = { "control-socket", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_CONTROLLER_LOCKDOWN]  = { "controller-lockdown", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_ENFORCEMENT_FAILED },
        [FAULT_DRIVER_BIND]          = { "driver-bind", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_ENFORCE]              = { "enforce", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_ENUMERATE]            = { "enumerate", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_IDENTITY]             = { "identity", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_LEDGER_FAILING]       = { "ledger-failing", LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_FAULT },
        [FAULT_MARKER]               = { "marker", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_NETWORK_ENUMERATE]    = { "network-enumerate", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_NETWORK_FIREWALL]     = { "network-firewall", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_ENFORCEMENT_FAILED },
        [FAULT_NETWORK_INSTALL_LIST] = { "network-install-list", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_NETWORK_UNENFORCED]   = { "network-unenforced", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_NETWORK_UNTRACKED]    = { "network-untracked", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_OOM]                  = { "oom", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_POLICY_COPY]          = { "policy-copy", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_POLICY_COPY_REFUSED]  = { "policy-copy-refused", LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_REFUSED },
        [FAULT_POLICY_FALLBACK]      = { "policy-fallback", LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_REFUSED },
        [FAULT_POLICY_KEY]           = { "policy-key", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_POLICY_REFUSED]       = { "policy-refused", LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_REFUSED },
        [FAULT_READ_ONLY]            = { "read-only", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_TIMER]                = { "timer", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_USB_BOOT_DEFAULT]     = { "usb-boot-default", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_ENFORCEMENT_FAILED },
        [FAULT_WIRELESS_WATCH]       = { "wireless-watch", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_MEDIA_ACCESS_FILE]    = { "media-access-file", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_MEDIA_ENFORCE]        = { "media-enforce", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_ENFORCEMENT_FAILED },
        [FAULT_MEDIA_FIXED_NAMED]    = { "media-fixed-named", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_MEDIA_IDENTITY]       = { "media-identity", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_MEDIA_INSTALL_LIST]   = { "media-install-list", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_MEDIA_UNTRACKED]      = { "media-untracked", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_MEDIA_WATCH]          = { "media-watch", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_CARRY_WATCH]          = { "carry-watch", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
        [FAULT_CARRY_WORKER]         = { "carry-worker", LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT },
};

const char *record_fault_to_string(enum record_fault f) {
        return f >= 0 && f < _FAULT_MAX ? fault_table[f].name : "?";
}

/* ---- the recorder ------------------------------------------------------------------------ */

/* A report (log line and watchers' JSON) waiting for this turn's commit. */
struct record_report {
        struct record_report *next;
        int level, error;
        struct json_object *json;     /* owned; NULL on OOM */
        bool is_fault;
        char line[];
};

struct recorder {
        sd_event *event;
        struct ledger_sink *sink;
        sd_event_source *commit;      /* defer: enabled (oneshot) when a record waits */
        sd_event_source *retry;       /* monotonic timer: armed only while the ledger fails */
        uint64_t retry_usec;
        bool stopped;                 /* after recorder_stop(): reports go out at once */

        bool failing;                 /* the last commit failed */
        int error;                    /* its negative errno */
        int64_t error_since, error_last;
        bool warned_lost;             /* logged the first record the full queue refused */

        recorder_listener_t listener;
        void *listener_userdata;
        struct json_object *faults[RECORDER_FAULTS_KEPT]; /* a ring, oldest at faults_next */
        size_t faults_next;
        struct record_report *reports, **reports_tail;

        /* What every ledger record carries: the host (read once), the policy in force, the
         * user at the seat (asked once per turn of the loop: a storm does not ask sd-login
         * each time). */
        struct ledger_record host;
        int64_t policy_serial;
        char policy_signer[LEDGER_TEXT_MAX];
        bool seat_cached;
        int64_t seat_uid;
        char seat_user[LEDGER_USER_MAX];

        uint64_t scans[_SCAN_RECORD_MAX]; /* outcomes since start, for `status` */
};

static int64_t now_realtime(void) {
        return (int64_t) time(NULL);
}

static void format_time(int64_t t, char buf[static ISO8601_MAX]) {
        if (time_format_iso8601(t, buf, ISO8601_MAX) < 0)
                snprintf(buf, ISO8601_MAX, "@%" PRIi64, t);
}

/* A ledger record of SUBJECT/EVENT, now, with this host, the policy in force and the seat's user. */
static void ledger_stamp(struct recorder *r, struct ledger_record *lr, enum ledger_subject subject,
                         enum ledger_event event) {
        ledger_record_init(lr, subject, event);
        memcpy(lr->boot_id, r->host.boot_id, sizeof lr->boot_id);
        memcpy(lr->hostname, r->host.hostname, sizeof lr->hostname);
        memcpy(lr->machine_id, r->host.machine_id, sizeof lr->machine_id);
        lr->policy_serial = r->policy_serial;
        memcpy(lr->signer, r->policy_signer, sizeof lr->signer);
        if (!r->seat_cached) {
                if (seat_active_user("seat0", &r->seat_uid, r->seat_user, sizeof r->seat_user) < 0) {
                        r->seat_uid = -1;
                        r->seat_user[0] = 0;
                }
                /* Outside the loop (stopped) nothing would clear the cache: ask every time. */
                r->seat_cached = !r->stopped;
        }
        lr->uid = r->seat_uid;
        memcpy(lr->user, r->seat_user, sizeof lr->user);
}

static void schedule_commit(struct recorder *r) {
        if (r->commit && !r->stopped)
                (void) sd_event_source_set_enabled(r->commit, SD_EVENT_ONESHOT);
}

static void sink_append(struct recorder *r, const struct ledger_record *lr) {
        int k = ledger_sink_append(r->sink, lr);
        /* The sink counts the loss and records it at the next commit; the record itself is in
         * the journal already. Said once per episode. */
        if (k == -ENOBUFS && !r->warned_lost) {
                r->warned_lost = true;
                log_error("The ledger's queue is full: records from now on are only in the journal until it can be "
                          "written (their number will be recorded)");
        } else if (k < 0 && k != -ENOBUFS)
                log_error_errno(k, "A record was refused by the ledger: %m");
        schedule_commit(r);
}

/* Hands a record's JSON to the listener, keeps it if it is a fault, releases our reference. */
static void json_emit(struct recorder *r, struct json_object *o, bool is_fault) {
        if (!o)
                return;
        if (r->listener)
                r->listener(o, r->listener_userdata);
        if (is_fault) {
                json_object_put(r->faults[r->faults_next]);
                r->faults[r->faults_next] = json_object_get(o);
                r->faults_next = (r->faults_next + 1) % RECORDER_FAULTS_KEPT;
        }
        json_object_put(o);
}

static void report_now(struct recorder *r, int level, int error, const char *line, struct json_object *o,
                       bool is_fault) {
        log_full_errno(level, error, "%s", line);
        json_emit(r, o, is_fault);
}

static struct record_report *report_new(int level, int error, const char *line, struct json_object *o, bool is_fault) {
        struct record_report *p = malloc(sizeof *p + strlen(line) + 1);
        if (!p)
                return NULL;
        *p = (struct record_report) { .level = level, .error = error, .json = o, .is_fault = is_fault };
        strcpy(p->line, line);
        return p;
}

/* Queues REP for after the commit (or emits it at once when there is no loop to commit). */
static void report_queue(struct recorder *r, struct record_report *rep) {
        if (r->stopped || !r->commit) {
                report_now(r, rep->level, rep->error, rep->line, rep->json, rep->is_fault);
                free(rep);
                return;
        }
        rep->next = NULL;
        *r->reports_tail = rep;
        r->reports_tail = &rep->next;
        schedule_commit(r);
}

/* The report of a record: after the commit while there is a loop to do it, else (and on OOM)
 * at once. Takes O. */
static void report(struct recorder *r, int level, int error, const char *line, struct json_object *o, bool is_fault) {
        struct record_report *p = report_new(level, error, line, o, is_fault);

        if (!p) {
                report_now(r, level, error, line, o, is_fault);
                return;
        }
        report_queue(r, p);
}

void recorder_report_emit(struct recorder *r, struct record_report *rep) {
        if (rep)
                report_queue(r, rep);
}

struct record_report *record_report_free(struct record_report *rep) {
        if (rep)
                json_object_put(rep->json);
        return mfree(rep);
}

static void reports_emit(struct recorder *r) {
        /* Taken off the list first: a listener may record. */
        while (r->reports) {
                struct record_report *p = r->reports;
                r->reports = p->next;
                if (!r->reports)
                        r->reports_tail = &r->reports;
                report_now(r, p->level, p->error, p->line, p->json, p->is_fault);
                free(p);
        }
}

/* ---- fields: one table per subject ------------------------------------------------------- */

enum field_type { FIELD_STRING, FIELD_INT, FIELD_BOOL };

struct field_value {
        enum field_type type;
        int64_t i;                    /* FIELD_INT, FIELD_BOOL */
        char s[FIELD_VALUE_MAX];      /* FIELD_STRING */
};

/* One field of a subject: KEY is the watchers' JSON key, and in upper case after KYOKA_ the
 * journal's. */
struct record_field {
        const char *key;
        void (*get)(const void *subject, struct field_value *ret);
};

static void set_string(struct field_value *v, const char *s) {
        size_t n = strlen(s);
        if (n >= sizeof v->s)
                n = sizeof v->s - 1;
        v->type = FIELD_STRING;
        memcpy(v->s, s, n);
        v->s[n] = 0;
}

static void format_interfaces(const struct usb_identity *id, char *buf, size_t size) {
        size_t off = 0;
        buf[0] = 0;
        for (size_t i = 0; i < id->n_interfaces && off + 10 < size; i++) {
                char c[9];
                usb_interface_class_format(&id->interfaces[i], c);
                off += (size_t) snprintf(buf + off, size - off, "%s%s", i ? "," : "", c);
        }
}

static void usb_seat(const void *p, struct field_value *v) { set_string(v, ((const struct usb_identity *) p)->seat); }
static void usb_bus_path(const void *p, struct field_value *v) { set_string(v, ((const struct usb_identity *) p)->bus_path); }
static void usb_manufacturer(const void *p, struct field_value *v) { set_string(v, ((const struct usb_identity *) p)->manufacturer); }
static void usb_product_name(const void *p, struct field_value *v) { set_string(v, ((const struct usb_identity *) p)->product_name); }
static void usb_vendor(const void *p, struct field_value *v) {
        v->type = FIELD_STRING;
        snprintf(v->s, sizeof v->s, "%04x", ((const struct usb_identity *) p)->vendor);
}
static void usb_product(const void *p, struct field_value *v) {
        v->type = FIELD_STRING;
        snprintf(v->s, sizeof v->s, "%04x", ((const struct usb_identity *) p)->product);
}
static void usb_serial(const void *p, struct field_value *v) {
        const struct usb_identity *id = p;
        set_string(v, id->has_serial ? id->serial : "");
}
static void usb_interfaces(const void *p, struct field_value *v) {
        v->type = FIELD_STRING;
        format_interfaces(p, v->s, sizeof v->s);
}

static const struct record_field usb_fields[] = {
        { "bus_path", usb_bus_path },
        { "vendor", usb_vendor },
        { "product", usb_product },
        { "serial", usb_serial },
        { "manufacturer", usb_manufacturer },
        { "product_name", usb_product_name },
        { "interfaces", usb_interfaces },
        { "seat", usb_seat },         /* who is told: the control socket's seat filter */
};

static void net_ifindex(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = ((const struct net_identity *) p)->ifindex;
}
static void net_ifname(const void *p, struct field_value *v) { set_string(v, ((const struct net_identity *) p)->name); }
static void net_mac(const void *p, struct field_value *v) {
        const struct net_identity *id = p;
        v->type = FIELD_STRING;
        v->s[0] = 0;
        if (id->has_mac)
                mac_format(id->mac, v->s);
}
static void net_mac_permanent(const void *p, struct field_value *v) {
        const struct net_identity *id = p;
        v->type = FIELD_BOOL;
        v->i = id->has_mac && id->mac_is_permanent;
}
static void net_kind(const void *p, struct field_value *v) { set_string(v, ((const struct net_identity *) p)->kind); }
static void net_path(const void *p, struct field_value *v) { set_string(v, ((const struct net_identity *) p)->path); }
static void net_driver(const void *p, struct field_value *v) { set_string(v, ((const struct net_identity *) p)->driver); }
static void net_wireless_mode(const void *p, struct field_value *v) {
        set_string(v, wireless_mode_to_string(((const struct net_identity *) p)->wireless));
}

static const struct record_field net_fields[] = {
        { "ifindex", net_ifindex },
        { "ifname", net_ifname },
        { "mac", net_mac },
        { "mac_permanent", net_mac_permanent },
        { "kind", net_kind },
        { "path", net_path },
        { "driver", net_driver },
        { "wireless_mode", net_wireless_mode },
};

/* The network of a wireless record: the SSID as sanitised text and as hex (it may be any bytes). */
static void wifi_ssid(const void *p, struct field_value *v) {
        const struct wireless_network *n = p;
        v->type = FIELD_STRING;
        wireless_ssid_text(n->ssid, n->ssid_len, v->s);
}
static void wifi_ssid_hex(const void *p, struct field_value *v) {
        const struct wireless_network *n = p;
        v->type = FIELD_STRING;
        wireless_ssid_hex(n->ssid, n->ssid_len, v->s);
}
static void wifi_bssid(const void *p, struct field_value *v) {
        const struct wireless_network *n = p;
        v->type = FIELD_STRING;
        v->s[0] = 0;
        if (n->has_bssid)
                mac_format(n->bssid, v->s);
}
static void wifi_security(const void *p, struct field_value *v) {
        set_string(v, wireless_security_to_string(((const struct wireless_network *) p)->security));
}

static const struct record_field wifi_fields[] = {
        { "ssid", wifi_ssid },
        { "ssid_hex", wifi_ssid_hex },
        { "bssid", wifi_bssid },
        { "security", wifi_security },
};
_Static_assert(WIRELESS_SSID_TEXT_MAX <= FIELD_VALUE_MAX, "an escaped SSID must fit a field");

static void media_bus(const void *p, struct field_value *v) {
        set_string(v, media_bus_to_string(((const struct media_identity *) p)->bus) ?: "");
}
static void media_name(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->name); }
static void media_path(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->path); }
static void media_vendor(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->vendor); }
static void media_model(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->model); }
static void media_serial(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->serial); }
static void media_oemid(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->oemid); }
static void media_date(const void *p, struct field_value *v) { set_string(v, ((const struct media_identity *) p)->date); }

static const struct record_field media_fields[] = {
        { "bus", media_bus },
        { "device_name", media_name },
        { "device_path", media_path },
        { "vendor", media_vendor },
        { "model", media_model },
        { "serial", media_serial },
        { "oemid", media_oemid },
        { "manufacture_date", media_date },
};

/* The decision's own fields, after the subject's. */
struct decision_view {
        const struct record_decision *d;
        int result;
        uint64_t count;               /* 0: no count field (USB) */
};

static void dec_decision(const void *p, struct field_value *v) {
        set_string(v, policy_verdict_to_string(((const struct decision_view *) p)->d->verdict));
}
static void dec_reason(const void *p, struct field_value *v) { set_string(v, ((const struct decision_view *) p)->d->reason); }
static void dec_permit(const void *p, struct field_value *v) { set_string(v, ((const struct decision_view *) p)->d->permit); }
static void dec_result(const void *p, struct field_value *v) {
        set_string(v, ((const struct decision_view *) p)->result < 0 ? "failed" : "done");
}
static void dec_count(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = (int64_t) MIN(((const struct decision_view *) p)->count, (uint64_t) INT64_MAX);
}

static const struct record_field decision_fields[] = {
        { "decision", dec_decision },
        { "reason", dec_reason },
        { "permit", dec_permit },
        { "result", dec_result },
        { "count", dec_count },
};

/* A record's fields, gathered from the tables, then written to the journal and the JSON. */
struct field_set {
        size_t n;
        const char *keys[FIELDS_MAX];
        struct field_value values[FIELDS_MAX];
};

static void fields_add(struct field_set *fs, const struct record_field *table, size_t n, const void *subject) {
        for (size_t i = 0; i < n && fs->n < FIELDS_MAX; i++) {
                fs->keys[fs->n] = table[i].key;
                table[i].get(subject, &fs->values[fs->n]);
                fs->n++;
        }
}

/* Journal: MESSAGE, MESSAGE_ID, PRIORITY, KYOKA_EVENT, KYOKA_SUBJECT, KYOKA_<FIELD>..., ERRNO. */
static void journal_send(const char *message_id, int priority, const char *event, const char *subject,
                         const char *message, const struct field_set *fs, int error) {
        char head[5][1200];
        char body[FIELDS_MAX][FIELD_VALUE_MAX + 40];
        struct iovec iov[5 + FIELDS_MAX + 1];
        size_t n = 0;

        snprintf(head[0], sizeof head[0], "MESSAGE=%s", message);
        snprintf(head[1], sizeof head[1], "MESSAGE_ID=%s", message_id);
        snprintf(head[2], sizeof head[2], "PRIORITY=%i", priority);
        snprintf(head[3], sizeof head[3], "KYOKA_EVENT=%s", event);
        snprintf(head[4], sizeof head[4], "KYOKA_SUBJECT=%s", subject);
        for (size_t i = 0; i < 5; i++)
                iov[n++] = (struct iovec) { head[i], strlen(head[i]) };
        for (size_t i = 0; fs && i < fs->n; i++) {
                char key[40];
                size_t k = 0;
                for (const char *c = fs->keys[i]; *c && k < sizeof key - 1; c++)
                        key[k++] = (char) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
                key[k] = 0;
                const struct field_value *v = &fs->values[i];
                if (v->type == FIELD_STRING)
                        snprintf(body[i], sizeof body[i], "KYOKA_%s=%s", key, v->s);
                else if (v->type == FIELD_BOOL)
                        snprintf(body[i], sizeof body[i], "KYOKA_%s=%s", key, v->i ? "yes" : "no");
                else
                        snprintf(body[i], sizeof body[i], "KYOKA_%s=%" PRIi64, key, v->i);
                iov[n++] = (struct iovec) { body[i], strlen(body[i]) };
        }
        char errno_field[32];
        if (error) {
                snprintf(errno_field, sizeof errno_field, "ERRNO=%i", error);
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        }
        (void) sd_journal_sendv(iov, (int) n);
}

/* The watchers' JSON: time, message_id, priority, event, subject, message, then the fields and
 * "errno" of a failure. NULL on OOM: the journal entry and the ledger record are made anyway. */
static struct json_object *json_new(const char *message_id, int priority, const char *event, const char *subject,
                                    const char *message, const struct field_set *fs, int error) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        char when[ISO8601_MAX] = "";

        if (!o)
                return NULL;
        (void) time_format_iso8601(now_realtime(), when, sizeof when);
        if (json_add(o, "time", json_object_new_string(when)) < 0 ||
            json_add(o, "message_id", json_object_new_string(message_id)) < 0 ||
            json_add(o, "priority", json_object_new_int(priority)) < 0 ||
            json_add(o, "event", json_object_new_string(event)) < 0 ||
            json_add(o, "subject", json_object_new_string(subject)) < 0 ||
            json_add(o, "message", json_object_new_string(message)) < 0)
                return NULL;
        for (size_t i = 0; fs && i < fs->n; i++) {
                const struct field_value *v = &fs->values[i];
                if (json_add(o, fs->keys[i],
                             v->type == FIELD_STRING ? json_object_new_string(v->s) :
                             v->type == FIELD_BOOL ? json_object_new_boolean(v->i != 0) :
                                                     json_object_new_int64(v->i)) < 0)
                        return NULL;
        }
        if (error && json_add(o, "errno", json_object_new_int(error)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- decisions --------------------------------------------------------------------------- */

void record_decision_init(struct record_decision *ret, const struct policy_decision *dec, enum policy_verdict verdict,
                          const char *reason) {
        const struct policy_approval *a = !dec ? NULL : dec->usb_entry ? &dec->usb_entry->approval :
                                          dec->net_entry ? &dec->net_entry->approval :
                                          dec->media_entry ? &dec->media_entry->approval : NULL;

        *ret = (struct record_decision) { .verdict = verdict };
        snprintf(ret->reason, sizeof ret->reason, "%s", reason ?: "");
        if (a && dec->reason == REASON_PERMIT)
                snprintf(ret->permit, sizeof ret->permit, "%s", a->permit);
        /* Blocked because the entry that named it is past its window: the permit expired. */
        if (a && verdict == VERDICT_BLOCK && dec->window == WINDOW_EXPIRED)
                snprintf(ret->expired_permit, sizeof ret->expired_permit, "%s", a->permit);
}

static enum ledger_decision ledger_decision_of(enum policy_verdict v) {
        switch (v) {
        case VERDICT_ALLOW: return LEDGER_DECISION_ALLOW;
        case VERDICT_READ_ONLY: return LEDGER_DECISION_READ_ONLY;
        case VERDICT_BLOCK: return LEDGER_DECISION_BLOCK;
        }
        return LEDGER_DECISION_NONE;
}

/* The ledger record of a decision: a re-evaluation that blocks because the deciding permit's
 * window has passed is the permit's expiry, with that permit. */
static void ledger_decision(struct recorder *r, struct ledger_record *lr, const struct record_decision *d, int result,
                            const char *message) {
        const char *permit = d->permit;

        lr->decision = ledger_decision_of(d->verdict);
        if (lr->event == LEDGER_EVENT_REEVALUATED && result >= 0 && !d->permit[0] && d->expired_permit[0]) {
                lr->event = LEDGER_EVENT_PERMIT_EXPIRED;
                permit = d->expired_permit;
        }
        ledger_text_set(lr->reason, sizeof lr->reason, d->reason);
        ledger_text_set(lr->permit, sizeof lr->permit, permit);
        if (result < 0) {
                lr->outcome = LEDGER_OUTCOME_FAILED;
                lr->error_number = -result;
        }
        ledger_text_set(lr->message, sizeof lr->message, message);
        sink_append(r, lr);
}

static const char *usb_event_name(enum usb_record_event ev) {
        switch (ev) {
        case USB_RECORD_CONNECTED: return "connected";
        case USB_RECORD_REEVALUATED: return "re-evaluated";
        case USB_RECORD_REMOVED: return "removed";
        }
        return "?";
}

static enum ledger_event usb_ledger_event(enum usb_record_event ev) {
        return ev == USB_RECORD_CONNECTED ? LEDGER_EVENT_CONNECTED :
               ev == USB_RECORD_REMOVED ? LEDGER_EVENT_REMOVED : LEDGER_EVENT_REEVALUATED;
}

/* Journal entry and ledger record now; the report (log line, watchers' JSON) returned. */
static struct record_report *usb_record(struct recorder *r, enum usb_record_event ev, const struct usb_identity *id,
                                        const struct record_decision *d, int result) {
        const char *decision = policy_verdict_to_string(d->verdict);
        const char *message_id = ev == USB_RECORD_REMOVED ? KYOKA_MESSAGE_USB_REMOVED : KYOKA_MESSAGE_USB_DECISION;
        int priority = result < 0 ? LOG_ERR : d->verdict == VERDICT_BLOCK ? LOG_NOTICE : LOG_INFO;
        struct decision_view view = { .d = d, .result = result };
        struct field_set fs = {};
        char message[2048], line[3072];

        fields_add(&fs, usb_fields, ELEMENTSOF(usb_fields), id);
        fields_add(&fs, decision_fields, ELEMENTSOF(decision_fields) - 1, &view);   /* no count */
        const char *interfaces = fs.values[6].s;

        /* Strings were sanitised when read: no control characters reach the journal. */
        snprintf(message, sizeof message, "USB %s %04x:%04x \"%s %s\" serial \"%s\": %s (%s)%s%s", id->bus_path,
                 id->vendor, id->product, id->manufacturer, id->product_name, id->serial,
                 ev == USB_RECORD_REMOVED ? "removed" : decision, d->reason,
                 result < 0 ? ": enforcement failed: " : "", result < 0 ? strerror(-result) : "");
        journal_send(message_id, priority, usb_event_name(ev), "usb", message, &fs, result < 0 ? -result : 0);

        struct ledger_record lr;
        ledger_stamp(r, &lr, LEDGER_SUBJECT_USB, usb_ledger_event(ev));
        ledger_record_set_usb(&lr, id);
        ledger_decision(r, &lr, d, result, message);

        snprintf(line, sizeof line, "usb %s %s %04x:%04x serial=\"%s\" interfaces=%s: %s (%s)%s%s", usb_event_name(ev),
                 id->bus_path, id->vendor, id->product, id->serial, interfaces, decision, d->reason,
                 result < 0 ? ": ENFORCEMENT FAILED: " : "", result < 0 ? strerror(-result) : "");
        struct json_object *o = json_new(message_id, priority, usb_event_name(ev), "usb", message, &fs,
                                         result < 0 ? -result : 0);
        /* A failed enforcement is a fault too: `status` lists it with the others. */
        struct record_report *rep = report_new(result < 0 ? LOG_ERR : LOG_INFO, result, line, o, result < 0);
        if (!rep)
                /* The report is the lesser part: the journal and the ledger have the record. */
                report_now(r, result < 0 ? LOG_ERR : LOG_INFO, result, line, o, result < 0);
        return rep;
}

void recorder_usb(struct recorder *r, enum usb_record_event ev, const struct usb_identity *id,
                  const struct record_decision *d, int result) {
        recorder_report_emit(r, usb_record(r, ev, id, d, result));
}

struct record_report *recorder_usb_decided(struct recorder *r, enum usb_record_event ev,
                                           const struct usb_identity *id, const struct record_decision *d) {
        return usb_record(r, ev, id, d, 0);
}

static const char *net_event_name(enum net_record_event ev) {
        switch (ev) {
        case NET_RECORD_APPEARED: return "appeared";
        case NET_RECORD_REEVALUATED: return "re-evaluated";
        case NET_RECORD_VIOLATION: return "violation";
        case NET_RECORD_REMOVED: return "removed";
        }
        return "?";
}

void recorder_net(struct recorder *r, enum net_record_event ev, const struct net_identity *id,
                  const struct record_decision *d, int result, uint64_t count) {
        const char *decision = policy_verdict_to_string(d->verdict);
        const char *message_id = ev == NET_RECORD_REMOVED ? KYOKA_MESSAGE_NET_REMOVED :
                                 ev == NET_RECORD_VIOLATION ? KYOKA_MESSAGE_NET_VIOLATION : KYOKA_MESSAGE_NET_DECISION;
        int priority = result < 0 ? LOG_ERR : ev == NET_RECORD_VIOLATION ? LOG_WARNING :
                       d->verdict == VERDICT_BLOCK ? LOG_NOTICE : LOG_INFO;
        bool permanent = id->has_mac && id->mac_is_permanent;
        struct decision_view view = { .d = d, .result = result, .count = MAX(count, (uint64_t) 1) };
        struct field_set fs = {};
        char mac[18] = "", times[96], message[2048], line[2560], violation[48] = "violation";

        if (id->has_mac)
                mac_format(id->mac, mac);
        fields_add(&fs, net_fields, ELEMENTSOF(net_fields), id);
        fields_add(&fs, decision_fields, ELEMENTSOF(decision_fields), &view);

        snprintf(times, sizeof times, "set up %" PRIu64 " times while blocked: set down again each time", view.count);
        const char *what = ev == NET_RECORD_REMOVED ? "removed" :
                           ev == NET_RECORD_VIOLATION ? (view.count > 1 ? times : "set up while blocked: set down again") :
                           decision;
        /* Strings were sanitised when read: no control characters reach the journal. */
        snprintf(message, sizeof message, "Network link %d \"%s\" %s%s kind \"%s\" path \"%s\": %s (%s)%s%s",
                 id->ifindex, id->name, mac[0] ? mac : "no MAC", id->has_mac && !permanent ? " (not permanent)" : "",
                 id->kind, id->path, what, d->reason, result < 0 ? ": enforcement failed: " : "",
                 result < 0 ? strerror(-result) : "");
        journal_send(message_id, priority, net_event_name(ev), "network", message, &fs, result < 0 ? -result : 0);

        struct ledger_record lr;
        ledger_stamp(r, &lr, LEDGER_SUBJECT_NETWORK,
                     ev == NET_RECORD_APPEARED ? LEDGER_EVENT_APPEARED :
                     ev == NET_RECORD_VIOLATION ? LEDGER_EVENT_VIOLATION :
                     ev == NET_RECORD_REMOVED ? LEDGER_EVENT_REMOVED : LEDGER_EVENT_REEVALUATED);
        ledger_record_set_net(&lr, id);
        lr.count = view.count > INT64_MAX ? INT64_MAX : (int64_t) view.count;
        ledger_decision(r, &lr, d, result, message);

        if (view.count > 1)
                snprintf(violation, sizeof violation, "violation x%" PRIu64, view.count);
        snprintf(line, sizeof line, "net %s ifindex=%d name=%s mac=%s%s kind=%s path=%s driver=%s: %s (%s)%s%s",
                 net_event_name(ev), id->ifindex, id->name, mac[0] ? mac : "-", id->has_mac && !permanent ? "(current)" : "",
                 id->kind[0] ? id->kind : "-", id->path[0] ? id->path : "-", id->driver[0] ? id->driver : "-",
                 ev == NET_RECORD_VIOLATION ? violation : decision, d->reason,
                 result < 0 ? ": ENFORCEMENT FAILED: " : "", result < 0 ? strerror(-result) : "");
        /* A link that could not be set down is a fault too: `status` lists it with the others. */
        report(r, result < 0 ? LOG_ERR : ev == NET_RECORD_VIOLATION ? LOG_WARNING : LOG_INFO, result, line,
               json_new(message_id, priority, net_event_name(ev), "network", message, &fs, result < 0 ? -result : 0),
               result < 0);
}

void recorder_wireless(struct recorder *r, enum wireless_record_event ev, const struct net_identity *link,
                       const struct wireless_network *net, const struct record_decision *d, const char *how, int result,
                       uint64_t count) {
        bool left = ev == WIRELESS_RECORD_LEFT, refused = !left && d->verdict == VERDICT_BLOCK;
        const char *decision = policy_verdict_to_string(d->verdict), *event = left ? "wireless-left" : "wireless-joined";
        const char *message_id = left ? KYOKA_MESSAGE_WIRELESS_LEFT : KYOKA_MESSAGE_WIRELESS_JOINED;
        int priority = result < 0 ? LOG_ERR : refused ? LOG_WARNING : LOG_INFO;
        struct decision_view view = { .d = d, .result = result, .count = MAX(count, (uint64_t) 1) };
        char ssid[WIRELESS_SSID_TEXT_MAX], bssid[18] = "", what[160], message[2048], line[2560];
        struct field_set fs = {};

        /* Attacker-chosen bytes: only ever the escaped form, in every copy. */
        wireless_ssid_text(net->ssid, net->ssid_len, ssid);
        if (net->has_bssid)
                mac_format(net->bssid, bssid);
        fields_add(&fs, net_fields, ELEMENTSOF(net_fields), link);
        fields_add(&fs, wifi_fields, ELEMENTSOF(wifi_fields), net);
        fields_add(&fs, decision_fields, ELEMENTSOF(decision_fields), &view);

        if (left)
                snprintf(what, sizeof what, "left it");
        else if (refused && view.count > 1)
                snprintf(what, sizeof what, "joined it %" PRIu64 " times: refused and cut off each time (%s)", view.count,
                         how ?: "cut off");
        else if (refused)
                snprintf(what, sizeof what, "block: cut off (%s)", how ?: "cut off");
        else
                snprintf(what, sizeof what, "%s", decision);
        snprintf(message, sizeof message, "Wireless link %d \"%s\" (%s) %s network \"%s\" at %s, %s: %s (%s)%s%s",
                 link->ifindex, link->name, wireless_mode_to_string(link->wireless), left ? "and" : "joined",
                 net->ssid_len ? ssid : "(SSID unknown)", bssid[0] ? bssid : "an unknown access point",
                 wireless_security_to_string(net->security), what, d->reason,
                 result < 0 ? ": could not be cut off: " : "", result < 0 ? strerror(-result) : "");
        journal_send(message_id, priority, event, "network", message, &fs, result < 0 ? -result : 0);

        struct ledger_record lr;
        ledger_stamp(r, &lr, LEDGER_SUBJECT_NETWORK, left ? LEDGER_EVENT_WIRELESS_LEFT : LEDGER_EVENT_WIRELESS_JOINED);
        ledger_record_set_net(&lr, link);
        ledger_record_set_wireless(&lr, net);
        lr.count = view.count > INT64_MAX ? INT64_MAX : (int64_t) view.count;
        ledger_decision(r, &lr, d, result, message);

        snprintf(line, sizeof line, "wireless %s ifindex=%d name=%s ssid=\"%s\" bssid=%s security=%s: %s%s%s (%s)%s%s",
                 left ? "left" : "joined", link->ifindex, link->name, ssid, bssid[0] ? bssid : "-",
                 wireless_security_to_string(net->security), left ? "left" : decision,
                 refused ? (view.count > 1 ? ", cut off each time: " : ", cut off: ") : "", refused ? how ?: "" : "",
                 d->reason, result < 0 ? ": NOT CUT OFF: " : "", result < 0 ? strerror(-result) : "");
        if (refused && view.count > 1) {
                size_t k = strlen(line);
                snprintf(line + k, sizeof line - k, " x%" PRIu64, view.count);
        }
        /* An association that could not be cut off is a fault too: `status` lists it. */
        report(r, result < 0 ? LOG_ERR : refused ? LOG_WARNING : LOG_INFO, result, line,
               json_new(message_id, priority, event, "network", message, &fs, result < 0 ? -result : 0), result < 0);
}

static const char *media_event_name(enum media_record_event ev) {
        switch (ev) {
        case MEDIA_RECORD_CONNECTED: return "connected";
        case MEDIA_RECORD_REEVALUATED: return "re-evaluated";
        case MEDIA_RECORD_REMOVED: return "removed";
        case MEDIA_RECORD_INSERTED: return "medium-inserted";
        case MEDIA_RECORD_EJECTED: return "medium-removed";
        case MEDIA_RECORD_FIXED: return "fixed-disk";
        }
        return "?";
}

static enum ledger_event media_ledger_event(enum media_record_event ev) {
        switch (ev) {
        case MEDIA_RECORD_CONNECTED: return LEDGER_EVENT_CONNECTED;
        case MEDIA_RECORD_REEVALUATED: return LEDGER_EVENT_REEVALUATED;
        case MEDIA_RECORD_REMOVED: return LEDGER_EVENT_REMOVED;
        case MEDIA_RECORD_INSERTED: return LEDGER_EVENT_MEDIUM_INSERTED;
        case MEDIA_RECORD_EJECTED: return LEDGER_EVENT_MEDIUM_REMOVED;
        case MEDIA_RECORD_FIXED: return LEDGER_EVENT_FIXED_DISK;
        }
        return LEDGER_EVENT_FAULT;
}

void recorder_media(struct recorder *r, enum media_record_event ev, const struct media_identity *id,
                    const struct record_decision *d, int result) {
        bool fixed = ev == MEDIA_RECORD_FIXED, gone = ev == MEDIA_RECORD_REMOVED || ev == MEDIA_RECORD_EJECTED;
        const char *decision = fixed ? "fixed" : policy_verdict_to_string(d->verdict);
        const char *message_id = fixed ? KYOKA_MESSAGE_MEDIA_FIXED :
                                 ev == MEDIA_RECORD_REMOVED ? KYOKA_MESSAGE_MEDIA_REMOVED : KYOKA_MESSAGE_MEDIA_DECISION;
        int priority = result < 0 ? LOG_ERR : !fixed && !gone && d->verdict == VERDICT_BLOCK ? LOG_NOTICE : LOG_INFO;
        struct decision_view view = { .d = d, .result = result };
        struct field_set fs = {};
        char message[2048], line[2560];
        const char *bus = media_bus_to_string(id->bus) ?: "?";

        fields_add(&fs, media_fields, ELEMENTSOF(media_fields), id);
        fields_add(&fs, decision_fields, ELEMENTSOF(decision_fields) - 1, &view);   /* no count */
        if (fixed)
                set_string(&fs.values[ELEMENTSOF(media_fields)], "fixed");

        /* Strings were sanitised when read: no control characters reach the journal. */
        snprintf(message, sizeof message, "Medium %s (%s) \"%s %s\" serial \"%s\" at \"%s\": %s (%s)%s%s", id->name, bus,
                 id->vendor, id->model, id->serial, id->path,
                 fixed ? "a disk of the workstation itself, never touched" :
                 ev == MEDIA_RECORD_REMOVED ? "removed" :
                 ev == MEDIA_RECORD_EJECTED ? "disc removed" :
                 ev == MEDIA_RECORD_INSERTED ? (d->verdict == VERDICT_BLOCK ? "disc inserted, blocked" :
                                                d->verdict == VERDICT_READ_ONLY ? "disc inserted, read-only" :
                                                                                  "disc inserted, allowed") :
                 decision,
                 d->reason, result < 0 ? ": enforcement failed: " : "", result < 0 ? strerror(-result) : "");
        journal_send(message_id, priority, media_event_name(ev), "media", message, &fs, result < 0 ? -result : 0);

        struct ledger_record lr;
        ledger_stamp(r, &lr, LEDGER_SUBJECT_MEDIA, media_ledger_event(ev));
        ledger_record_set_media(&lr, id);
        if (fixed) {
                /* A note: nothing was decided, the reason says why the disk is not a medium. */
                lr.decision = LEDGER_DECISION_NONE;
                ledger_text_set(lr.reason, sizeof lr.reason, d->reason);
                ledger_text_set(lr.message, sizeof lr.message, message);
                sink_append(r, &lr);
        } else
                ledger_decision(r, &lr, d, result, message);

        snprintf(line, sizeof line, "media %s %s bus=%s path=%s vendor=\"%s\" model=\"%s\" serial=\"%s\": %s (%s)%s%s",
                 media_event_name(ev), id->name, bus, id->path[0] ? id->path : "-", id->vendor, id->model, id->serial,
                 decision, d->reason, result < 0 ? ": ENFORCEMENT FAILED: " : "", result < 0 ? strerror(-result) : "");
        report(r, result < 0 ? LOG_ERR : LOG_INFO, result, line,
               json_new(message_id, priority, media_event_name(ev), "media", message, &fs, result < 0 ? -result : 0),
               result < 0);
}

/* ---- virus scans -------------------------------------------------------------------------- */

static void scan_files(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = (int64_t) MIN(((const struct record_scan *) p)->files, (uint64_t) INT64_MAX);
}
static void scan_bytes(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = (int64_t) MIN(((const struct record_scan *) p)->bytes, (uint64_t) INT64_MAX);
}
static void scan_duration(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = (int64_t) MIN(((const struct record_scan *) p)->duration_ms, (uint64_t) INT64_MAX);
}
static void scan_scanner(const void *p, struct field_value *v) { set_string(v, ((const struct record_scan *) p)->scanner ?: ""); }
static void scan_signature(const void *p, struct field_value *v) { set_string(v, ((const struct record_scan *) p)->signature ?: ""); }
static void scan_file_path(const void *p, struct field_value *v) { set_string(v, ((const struct record_scan *) p)->file_path ?: ""); }
static void scan_fault(const void *p, struct field_value *v) { set_string(v, ((const struct record_scan *) p)->fault ?: ""); }
static void scan_decision(const void *p, struct field_value *v) {
        set_string(v, policy_verdict_to_string(((const struct record_scan *) p)->verdict));
}
static void scan_permit(const void *p, struct field_value *v) { set_string(v, ((const struct record_scan *) p)->permit ?: ""); }

static const struct record_field scan_fields[] = {
        { "decision", scan_decision },
        { "permit", scan_permit },
        { "files", scan_files },
        { "bytes", scan_bytes },
        { "duration_ms", scan_duration },
        { "scanner", scan_scanner },
        { "signature", scan_signature },
        { "file_path", scan_file_path },
        { "fault", scan_fault },
};

void recorder_scan_outcome(struct recorder *r, const struct record_scan *base, enum policy_verdict allowed,
                           const struct scan_outcome *o) {
        struct record_scan rs = *base;

        rs.files = o->files;
        rs.bytes = o->bytes;
        rs.duration_ms = o->duration_ms;
        rs.scanner = o->scanner;
        if (base->carried_out)
                rs.file_path = o->path;       /* the file written, whatever the outcome */
        switch (o->result) {
        case SCAN_RESULT_CLEAN:
                rs.ev = SCAN_RECORD_PASSED;
                rs.verdict = allowed;
                break;
        case SCAN_RESULT_INFECTED:
                rs.ev = SCAN_RECORD_INFECTED;
                rs.verdict = VERDICT_BLOCK;
                rs.signature = o->signature;
                rs.file_path = o->path;
                break;
        default:
                rs.ev = SCAN_RECORD_HELD;
                rs.verdict = VERDICT_READ_ONLY;
                rs.fault = scan_fault_to_string(o->fault);
                rs.error = o->error;
                break;
        }
        recorder_scan(r, &rs);
}

void recorder_scan(struct recorder *r, const struct record_scan *s) {
        static const char *const events[] = {
                [SCAN_RECORD_PASSED] = "scan-passed",
                [SCAN_RECORD_INFECTED] = "scan-infected",
                [SCAN_RECORD_HELD] = "scan-held",
        };
        static const enum ledger_event ledger_events[] = {
                [SCAN_RECORD_PASSED] = LEDGER_EVENT_SCAN_PASSED,
                [SCAN_RECORD_INFECTED] = LEDGER_EVENT_SCAN_INFECTED,
                [SCAN_RECORD_HELD] = LEDGER_EVENT_SCAN_HELD,
        };
        const char *subject = s->usb ? "usb" : "media", *event = events[s->ev];
        r->scans[s->ev]++;
        int priority = s->ev == SCAN_RECORD_PASSED ? LOG_INFO : s->ev == SCAN_RECORD_INFECTED ? LOG_CRIT : LOG_WARNING;
        struct field_set fs = {};
        char who[512], what[1600], message[2400];

        if (s->usb) {
                fields_add(&fs, usb_fields, ELEMENTSOF(usb_fields), s->usb);
                snprintf(who, sizeof who, "USB device %s (%04x:%04x serial \"%s\")", s->usb->bus_path, s->usb->vendor,
                         s->usb->product, s->usb->has_serial ? s->usb->serial : "");
        } else {
                fields_add(&fs, media_fields, ELEMENTSOF(media_fields), s->media);
                snprintf(who, sizeof who, "Medium %s (%s) serial \"%s\"", s->media->name,
                         media_bus_to_string(s->media->bus) ?: "?", s->media->serial);
        }
        fields_add(&fs, scan_fields, ELEMENTSOF(scan_fields), s);

        if (s->carried_out && s->ev == SCAN_RECORD_INFECTED)
                snprintf(what, sizeof what, "VIRUS FOUND in a file written to it: %s in \"%s\" (%s): de-authorised",
                         s->signature ?: "", s->file_path ?: "", s->scanner ?: "");
        else if (s->carried_out)
                snprintf(what, sizeof what, "a file written to it (\"%s\") could not be scanned (%s%s%s): held read-only "
                         "for root until the medium is scanned again", s->file_path ?: "", s->fault ?: "",
                         s->error ? ": " : "", s->error ? strerror(s->error) : "");
        else if (s->ev == SCAN_RECORD_PASSED)
                snprintf(what, sizeof what, "virus scan passed: %" PRIu64 " files, %" PRIu64 " bytes in %" PRIu64 " ms (%s): %s",
                         s->files, s->bytes, s->duration_ms, s->scanner ?: "", policy_verdict_to_string(s->verdict));
        else if (s->ev == SCAN_RECORD_INFECTED)
                snprintf(what, sizeof what, "VIRUS FOUND: %s in \"%s\" (%" PRIu64 " files scanned, %s): %s",
                         s->signature ?: "", s->file_path ?: "", s->files, s->scanner ?: "",
                         s->usb ? "de-authorised" : "kept closed");
        else
                snprintf(what, sizeof what, "virus scan did not finish (%s%s%s) after %" PRIu64 " files: held read-only for root",
                         s->fault ?: "", s->error ? ": " : "", s->error ? strerror(s->error) : "", s->files);
        snprintf(message, sizeof message, "%s: %s", who, what);
        journal_send(KYOKA_MESSAGE_SCAN, priority, event, subject, message, &fs, s->error);

        struct ledger_record lr;
        ledger_stamp(r, &lr, s->usb ? LEDGER_SUBJECT_USB : LEDGER_SUBJECT_MEDIA, ledger_events[s->ev]);
        if (s->usb)
                ledger_record_set_usb(&lr, s->usb);
        else
                ledger_record_set_media(&lr, s->media);
        lr.decision = s->verdict == VERDICT_ALLOW ? LEDGER_DECISION_ALLOW :
                      s->verdict == VERDICT_READ_ONLY ? LEDGER_DECISION_READ_ONLY : LEDGER_DECISION_BLOCK;
        /* A code, never prose: what the export reads. */
        ledger_text_set(lr.reason, sizeof lr.reason,
                        s->ev == SCAN_RECORD_PASSED ? "clean" : s->ev == SCAN_RECORD_INFECTED ? "infected" : s->fault ?: "");
        ledger_text_set(lr.permit, sizeof lr.permit, s->permit ?: "");
        lr.error_number = s->error;
        lr.files = (int64_t) MIN(s->files, (uint64_t) INT64_MAX);
        lr.bytes = (int64_t) MIN(s->bytes, (uint64_t) INT64_MAX);
        lr.duration_ms = (int64_t) MIN(s->duration_ms, (uint64_t) INT64_MAX);
        ledger_text_set(lr.scanner, sizeof lr.scanner, s->scanner ?: "");
        ledger_text_set(lr.signature, sizeof lr.signature, s->signature ?: "");
        ledger_text_set(lr.file_path, sizeof lr.file_path, s->file_path ?: "");
        ledger_text_set(lr.message, sizeof lr.message, message);
        sink_append(r, &lr);

        report(r, s->ev == SCAN_RECORD_PASSED ? LOG_INFO : LOG_WARNING, 0, message,
               json_new(KYOKA_MESSAGE_SCAN, priority, event, subject, message, &fs, s->error), s->ev != SCAN_RECORD_PASSED);
}

/* ---- files on approved media (the carry-out record) ---------------------------------------- */

static void file_path(const void *p, struct field_value *v) { set_string(v, ((const struct record_file *) p)->path ?: ""); }
static void file_size(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = ((const struct record_file *) p)->size;
}
static void file_sha256(const void *p, struct field_value *v) { set_string(v, ((const struct record_file *) p)->sha256 ?: ""); }
static void file_uid(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = ((const struct record_file *) p)->uid;
}
static void file_user(const void *p, struct field_value *v) { set_string(v, ((const struct record_file *) p)->user ?: ""); }
static void file_pid(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = ((const struct record_file *) p)->pid;
}
static void file_process(const void *p, struct field_value *v) { set_string(v, ((const struct record_file *) p)->process ?: ""); }
static void file_permit(const void *p, struct field_value *v) { set_string(v, ((const struct record_file *) p)->permit ?: ""); }
static void file_count(const void *p, struct field_value *v) {
        v->type = FIELD_INT;
        v->i = (int64_t) MIN(((const struct record_file *) p)->count, (uint64_t) INT64_MAX);
}
static void file_reason(const void *p, struct field_value *v) { set_string(v, ((const struct record_file *) p)->reason ?: ""); }

static const struct record_field file_fields[] = {
        { "file_path", file_path },
        { "size", file_size },
        { "sha256", file_sha256 },
        { "uid", file_uid },
        { "user", file_user },
        { "pid", file_pid },
        { "process", file_process },
        { "permit", file_permit },
        { "count", file_count },
        { "reason", file_reason },
};

void recorder_file(struct recorder *r, const struct record_file *f) {
        static const char *const events[] = {
                [FILE_RECORD_WRITTEN] = "file-written",
                [FILE_RECORD_READ] = "file-read",
                [FILE_RECORD_LOST] = "files-lost",
        };
        static const enum ledger_event ledger_events[] = {
                [FILE_RECORD_WRITTEN] = LEDGER_EVENT_FILE_WRITTEN,
                [FILE_RECORD_READ] = LEDGER_EVENT_FILE_READ,
                [FILE_RECORD_LOST] = LEDGER_EVENT_FILES_LOST,
        };
        const char *event = events[f->ev];
        bool scanned = f->ev == FILE_RECORD_WRITTEN && f->scan_asked;
        int priority = f->ev == FILE_RECORD_LOST || f->error || (scanned && f->scan_result != SCAN_RESULT_CLEAN)
                               ? LOG_WARNING : LOG_INFO;
        struct field_set fs = {};
        char who[512], what[1800], message[2900];

        const char *subject = f->media ? "media" : "usb";
        if (f->usb) {
                fields_add(&fs, usb_fields, ELEMENTSOF(usb_fields), f->usb);
                snprintf(who, sizeof who, "USB device %s (%04x:%04x serial \"%s\")", f->usb->bus_path, f->usb->vendor,
                         f->usb->product, f->usb->has_serial ? f->usb->serial : "");
        } else if (f->media) {
                /* Named as the media records name it (recorder_media). */
                fields_add(&fs, media_fields, ELEMENTSOF(media_fields), f->media);
                snprintf(who, sizeof who, "Medium %s (%s) serial \"%s\"", f->media->name,
                         media_bus_to_string(f->media->bus) ?: "?", f->media->serial);
        } else
                snprintf(who, sizeof who, "Approved media");
        fields_add(&fs, file_fields, ELEMENTSOF(file_fields), f);

        if (f->ev == FILE_RECORD_LOST)
                snprintf(what, sizeof what, "%s%sfile events LOST (%s, %" PRIu64 "%s): files written or read there may be "
                         "missing from the record", f->path && f->path[0] ? f->path : "", f->path && f->path[0] ? ": " : "",
                         f->reason ?: "", f->count,
                         f->reason && streq(f->reason, "queue-overflow") ? " overflow of the kernel's queue" : " files");
        else
                snprintf(what, sizeof what, "%s \"%s\" (%" PRIi64 " bytes%s%s%s) by %s[%" PRIi64 "] uid %" PRIi64 " (%s)%s%s",
                         f->ev == FILE_RECORD_WRITTEN ? "file written" : "file read", f->path ?: "", f->size,
                         f->ev == FILE_RECORD_WRITTEN ? ", sha256 " : "",
                         f->ev == FILE_RECORD_WRITTEN ? (f->sha256 && f->sha256[0] ? f->sha256 : "not known") : "",
                         f->count > 1 ? ", closed again" : "", f->process && f->process[0] ? f->process : "?", f->pid,
                         f->uid, f->user && f->user[0] ? f->user : "?", f->error ? ": cannot read it: " : "",
                         f->error ? strerror(f->error) : "");
        char scan[SCAN_TEXT_MAX + SCAN_SIGNATURE_MAX + 64] = "";
        if (scanned && f->scan_result == SCAN_RESULT_CLEAN)
                snprintf(scan, sizeof scan, "; scanned: clean (%s)", f->scanner ?: "");
        else if (scanned && f->scan_result == SCAN_RESULT_INFECTED)
                snprintf(scan, sizeof scan, "; scanned: VIRUS FOUND: %s (%s)", f->signature ?: "", f->scanner ?: "");
        else if (scanned)
                snprintf(scan, sizeof scan, "; NOT scanned: %s%s%s", scan_fault_to_string(f->scan_fault),
                         f->scan_error ? ": " : "", f->scan_error ? strerror(f->scan_error) : "");
        snprintf(message, sizeof message, "%s: %s%s", who, what, scan);
        journal_send(KYOKA_MESSAGE_FILE, priority, event, subject, message, &fs, f->error);

        struct ledger_record lr;
        ledger_stamp(r, &lr, f->media ? LEDGER_SUBJECT_MEDIA : LEDGER_SUBJECT_USB, ledger_events[f->ev]);
        if (f->time_usec > 0) {
                lr.time = f->time_usec / 1000000;
                lr.time_nsec = (f->time_usec % 1000000) * 1000;
        }
        if (f->usb)
                ledger_record_set_usb(&lr, f->usb);
        else if (f->media)
                ledger_record_set_media(&lr, f->media);
        lr.decision = f->verdict == VERDICT_ALLOW ? LEDGER_DECISION_ALLOW :
                      f->verdict == VERDICT_READ_ONLY ? LEDGER_DECISION_READ_ONLY : LEDGER_DECISION_NONE;
        ledger_text_set(lr.reason, sizeof lr.reason, f->reason ?: "");
        ledger_text_set(lr.permit, sizeof lr.permit, f->permit ?: "");
        lr.count = (int64_t) MIN(MAX(f->count, (uint64_t) 1), (uint64_t) INT64_MAX);
        if (f->ev != FILE_RECORD_LOST) {
                /* The process's user: who wrote or read the file, not who sits at the seat. */
                lr.uid = f->uid;
                ledger_text_set(lr.user, sizeof lr.user, f->user ?: "");
                lr.bytes = f->size;
                lr.pid = f->pid;
                ledger_text_set(lr.process, sizeof lr.process, f->process ?: "");
                ledger_text_set(lr.sha256, sizeof lr.sha256, f->sha256 ?: "");
        }
        if (scanned) {
                /* Scanned: the scanner is named (clean when no signature); not scanned: neither. */
                if (f->scan_result != SCAN_RESULT_FAULT)
                        ledger_text_set(lr.scanner, sizeof lr.scanner, f->scanner && f->scanner[0] ? f->scanner : "?");
                if (f->scan_result == SCAN_RESULT_INFECTED)
                        ledger_text_set(lr.signature, sizeof lr.signature, f->signature && f->signature[0] ? f->signature : "?");
        }
        ledger_text_set(lr.file_path, sizeof lr.file_path, f->path ?: "");
        if (f->error) {
                lr.outcome = LEDGER_OUTCOME_FAILED;
                lr.error_number = f->error;
        }
        ledger_text_set(lr.message, sizeof lr.message, message);
        sink_append(r, &lr);

        report(r, priority == LOG_INFO ? LOG_INFO : LOG_WARNING, 0, message,
               json_new(KYOKA_MESSAGE_FILE, priority, event, subject, message, &fs, f->error), f->ev == FILE_RECORD_LOST);
}

/* ---- policies, faults, kyokad itself ----------------------------------------------------- */

/* A record whose substance is a message: journal, ledger, report. REASON goes into the ledger's
 * reason field when not NULL; ERROR is a positive errno or 0. */
static void record_message(struct recorder *r, const char *message_id, int priority, const char *what,
                           const char *journal_subject, enum ledger_subject subject, enum ledger_event event,
                           const char *reason, int error, const char *kind, const char *text, bool is_fault) {
        struct ledger_record lr;
        char line[1200];

        journal_send(message_id, priority, what, journal_subject, text, NULL, error);

        ledger_stamp(r, &lr, subject, event);
        if (reason)
                ledger_text_set(lr.reason, sizeof lr.reason, reason);
        if (error) {
                lr.outcome = LEDGER_OUTCOME_FAILED;
                lr.error_number = error;
        }
        ledger_text_set(lr.message, sizeof lr.message, text);
        sink_append(r, &lr);

        snprintf(line, sizeof line, "%s %s: %s", kind, what, text);
        report(r, priority, 0, line, json_new(message_id, priority, what, journal_subject, text, NULL, error), is_fault);
}

void recorder_policy(struct recorder *r, enum policy_record_event ev, const char *message) {
        static const char *const reasons[_POLICY_RECORD_MAX] = {
                [POLICY_RECORD_LOADED] = LEDGER_REASON_POLICY_ACCEPTED,
                [POLICY_RECORD_UNCHANGED] = LEDGER_REASON_POLICY_UNCHANGED,
                [POLICY_RECORD_ACCEPTED_COPY] = LEDGER_REASON_POLICY_ACCEPTED_COPY,
                [POLICY_RECORD_EXPIRED] = LEDGER_REASON_POLICY_EXPIRED,
        };
        bool expired = ev == POLICY_RECORD_EXPIRED;

        if (ev < 0 || ev >= _POLICY_RECORD_MAX)
                ev = POLICY_RECORD_LOADED;
        record_message(r, KYOKA_MESSAGE_POLICY, LOG_NOTICE, expired ? "expired" : "loaded", "policy",
                       LEDGER_SUBJECT_POLICY, expired ? LEDGER_EVENT_PERMIT_EXPIRED : LEDGER_EVENT_POLICY_LOADED,
                       reasons[ev], 0, "policy", message, false);
}

static void recorder_vfault(struct recorder *r, enum record_fault f, const char *cause, int error, const char *format,
                            va_list ap) _printf_(5, 0);
static void recorder_vfault(struct recorder *r, enum record_fault f, const char *cause, int error, const char *format,
                            va_list ap) {
        char buf[1024], reason[LEDGER_TEXT_MAX];

        if (f < 0 || f >= _FAULT_MAX)
                f = FAULT_ENFORCE;
        if (error < 0)
                error = -error;
        errno = error;
        vsnprintf(buf, sizeof buf, format, ap);
        if (cause)
                snprintf(reason, sizeof reason, "%s%c%s", fault_table[f].name, LEDGER_REASON_CAUSE_SEPARATOR, cause);
        else
                snprintf(reason, sizeof reason, "%s", fault_table[f].name);
        record_message(r, KYOKA_MESSAGE_FAULT, LOG_ERR, fault_table[f].name, "daemon", fault_table[f].subject,
                       fault_table[f].event, reason, error, "fault", buf, true);
}

void recorder_fault(struct recorder *r, enum record_fault f, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        recorder_vfault(r, f, NULL, error, format, ap);
        va_end(ap);
}

void recorder_policy_refused(struct recorder *r, enum record_fault f, enum policy_load_error cause, int error,
                             const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        recorder_vfault(r, f, policy_load_error_to_string(cause) ?: "unknown", error, format, ap);
        va_end(ap);
}

/* REASON: a LEDGER_REASON_* code or NULL. */
static void recorder_daemon(struct recorder *r, enum ledger_event ev, const char *reason, int error,
                            const char *format, ...) _printf_(5, 6);
static void recorder_daemon(struct recorder *r, enum ledger_event ev, const char *reason, int error,
                            const char *format, ...) {
        int priority = ev == LEDGER_EVENT_UNCLEAN_SHUTDOWN || error ? LOG_WARNING : LOG_NOTICE;
        char buf[1024];
        va_list ap;

        if (error < 0)
                error = -error;
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        /* An unclean shutdown is a fault of the last run: `status` lists it. */
        record_message(r, KYOKA_MESSAGE_DAEMON, priority, ledger_event_to_string(ev), "daemon", LEDGER_SUBJECT_DAEMON, ev,
                       reason, error, "daemon", buf, ev == LEDGER_EVENT_UNCLEAN_SHUTDOWN || error);
}

/* ---- commits and retries ----------------------------------------------------------------- */

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

/* Exponential backoff while failing; the timer is off otherwise. */
static void retry_arm(struct recorder *r) {
        uint64_t now;
        int k;

        r->retry_usec = r->retry_usec ? MIN(r->retry_usec * 2, RECORDER_RETRY_MAX_USEC) : RECORDER_RETRY_MIN_USEC;
        k = sd_event_now(r->event, CLOCK_MONOTONIC, &now);
        if (k >= 0 && r->retry) {
                k = sd_event_source_set_time(r->retry, now + r->retry_usec);
                if (k >= 0)
                        k = sd_event_source_set_enabled(r->retry, SD_EVENT_ONESHOT);
        } else if (k >= 0)
                k = sd_event_add_time(r->event, &r->retry, CLOCK_MONOTONIC, now + r->retry_usec, 0, on_retry, r);
        if (k < 0)
                /* Without a timer, the next record retries (its commit is scheduled anyway). */
                log_error_errno(k, "Failed to arm the ledger's retry timer: %m");
}

static void note_failure(struct recorder *r, int k) {
        struct ledger_sink_status st;

        r->error_last = now_realtime();
        if (!r->failing) {
                r->failing = true;
                r->error = k;
                r->error_since = r->error_last;
                ledger_sink_status(r->sink, &st);
                /* Recorded once per episode; it waits in the queue with the others, and the
                 * commit that ends the episode adds the ledger-delayed record. */
                recorder_fault(r, FAULT_LEDGER_FAILING, k,
                               "The ledger %s cannot be %s: %s; enforcement goes on, records wait in memory (at most %d) "
                               "and are in the journal",
                               st.path, st.open ? "written" : "opened", strerror(-k), LEDGER_QUEUE_DEFAULT);
        } else if (k != r->error) {
                log_warning_errno(k, "The ledger still cannot be written, now: %m");
                r->error = k;
        } else
                log_debug("The ledger still cannot be written: %s (next try in %llu s)", strerror(-k),
                          MIN(r->retry_usec * 2, RECORDER_RETRY_MAX_USEC) / 1000000);
        if (!r->stopped)
                retry_arm(r);
}

/* Commits what is queued, unless the ledger is failing and FORCE is false (then the retry
 * timer does it). Returns the number of records written, or a negative errno. */
static int commit(struct recorder *r, bool force) {
        struct ledger_record template;
        int k;

        if (r->failing && !force)
                return -EAGAIN;
        ledger_stamp(r, &template, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_DELAYED);
        trace_point("ledger", "commit-start");
        k = ledger_sink_commit(r->sink, &template);
        trace_point("ledger", k > 0 ? "commit-done" : "commit-none");
        if (k < 0) {
                note_failure(r, k);
                return k;
        }
        if (r->failing) {
                char since[ISO8601_MAX];
                struct ledger_sink_status st;
                ledger_sink_status(r->sink, &st);
                format_time(r->error_since, since);
                log_notice("The ledger is written again (it failed from %s: %s); %d records committed through seq %" PRIi64,
                           since, strerror(-r->error), k, st.last_seq);
                r->failing = false;
                r->error = 0;
                r->retry_usec = 0;
                (void) sd_event_source_set_enabled(r->retry, SD_EVENT_OFF);
        }
        r->warned_lost = false;
        return k;
}

void recorder_flush(struct recorder *r) {
        (void) commit(r, false);
        reports_emit(r);
        r->seat_cached = false;
}

static int on_commit(sd_event_source *s, void *userdata) {
        recorder_flush(userdata);
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct recorder *r = userdata;
        (void) commit(r, true);
        recorder_flush(r);
        return 0;
}

/* ---- start and stop ---------------------------------------------------------------------- */

/* The last run left its marker: it never recorded its stop. Say who it was, whether the machine
 * went down since (another boot id), and where its records end. */
static void unclean_shutdown_record(struct recorder *r, const char *marker) {
        char pid[32] = "?", boot[LEDGER_ID_MAX] = "", started[ISO8601_MAX] = "?", ends[160] = "";
        int64_t seq, t;
        long long st;
        const char *p;

        if ((p = strstr(marker, "pid=")))
                (void) sscanf(p, "pid=%31[0-9]", pid);
        if ((p = strstr(marker, "boot_id=")))
                (void) sscanf(p, "boot_id=%32[0-9a-f]", boot);
        if ((p = strstr(marker, "started=")) && sscanf(p, "started=%lld", &st) == 1)
                format_time((int64_t) st, started);
        if (ledger_sink_last(r->sink, &seq, &t) >= 0) {
                char when[ISO8601_MAX];
                format_time(t, when);
                snprintf(ends, sizeof ends, "; the last record before this is seq %" PRIi64 " at %s", seq, when);
        }
        bool known = boot[0] && r->host.boot_id[0], same = known && streq(boot, r->host.boot_id);
        recorder_daemon(r, LEDGER_EVENT_UNCLEAN_SHUTDOWN,
                        !known ? LEDGER_REASON_UNKNOWN_END : same ? LEDGER_REASON_KILLED : LEDGER_REASON_MACHINE_DOWN, 0,
                        "kyokad did not stop cleanly last time (pid %s, started %s): %s%s", pid, started,
                        !known ? "killed, crashed or the machine went down" :
                        same ? "it was killed or crashed (same boot)" :
                               "the machine went down without stopping it (power cut, crash or reset)",
                        ends);
}

int recorder_new(sd_event *e, const char *state_dir, struct recorder **ret) {
        struct recorder *r = calloc(1, sizeof *r);
        _cleanup_free_ char *marker = NULL, *marker_path = NULL;
        char buf[256];
        int k;

        if (!r)
                return -ENOMEM;
        r->reports_tail = &r->reports;
        r->seat_uid = -1;
        r->event = sd_event_ref(e);
        ledger_host_fill(&r->host);
        k = ledger_sink_new(state_dir, &r->sink);
        if (k >= 0)
                k = sd_event_add_defer(e, &r->commit, on_commit, r);
        if (k >= 0) {
                (void) sd_event_source_set_description(r->commit, "ledger-commit");
                k = sd_event_source_set_enabled(r->commit, SD_EVENT_OFF);
        }
        if (k < 0) {
                recorder_free(r);
                return k;
        }
        /* Before anything else is recorded: a ledger that cannot be opened is the first fault. */
        struct ledger_sink_status st;
        ledger_sink_status(r->sink, &st);
        if (!st.open)
                (void) commit(r, true);

        marker_path = ledger_sink_path(r->sink, LEDGER_SINK_MARKER);
        k = ledger_sink_marker_read(r->sink, &marker);
        if (k >= 0)
                unclean_shutdown_record(r, marker);
        else if (k != -ENOENT)
                recorder_fault(r, FAULT_MARKER, k, "Failed to read %s: %s; an unclean shutdown may go unrecorded",
                               marker_path ?: LEDGER_SINK_MARKER, strerror(-k));

        recorder_daemon(r, LEDGER_EVENT_STARTED, NULL, 0, "kyokad started (pid %d)", (int) getpid());

        /* Written after "started" is queued: a marker always belongs to a run the ledger knows. */
        snprintf(buf, sizeof buf, "pid=%d\nboot_id=%s\nstarted=%" PRIi64 "\n", (int) getpid(), r->host.boot_id,
                 now_realtime());
        k = ledger_sink_marker_write(r->sink, buf);
        if (k < 0)
                recorder_fault(r, FAULT_MARKER, k, "Failed to write %s: %s; an unclean shutdown of this run may go "
                               "unrecorded", marker_path ?: LEDGER_SINK_MARKER, strerror(-k));
        *ret = r;
        return 0;
}

void recorder_stop(struct recorder *r, int error) {
        struct ledger_sink_status st;
        int k;

        if (!r || r->stopped)
                return;
        recorder_daemon(r, LEDGER_EVENT_STOPPED, NULL, error, error < 0 ? "kyokad stopped after an error: %s" : "kyokad stopped%s",
                        error < 0 ? strerror(-error) : "");
        /* One try, even while failing: a stop must not wait for a disk. */
        k = commit(r, true);
        r->stopped = true;
        reports_emit(r);
        ledger_sink_status(r->sink, &st);
        if (k >= 0 && st.open && st.queued == 0) {
                k = ledger_sink_marker_remove(r->sink);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove the marker: %m; the next start will record an unclean "
                                          "shutdown");
        } else
                /* The marker stays: the next start records that this run's end is missing. */
                log_error("%" PRIu64 " records could not be written to the ledger before exiting (%s); they are in the "
                          "journal", st.queued, k < 0 ? strerror(-k) : "no ledger");
        r->retry = sd_event_source_disable_unref(r->retry);
        r->commit = sd_event_source_disable_unref(r->commit);
}

struct recorder *recorder_free(struct recorder *r) {
        if (!r)
                return NULL;
        /* Reports still waiting (a recorder freed without a stop) go out now. */
        r->stopped = true;
        reports_emit(r);
        sd_event_source_disable_unref(r->retry);
        sd_event_source_disable_unref(r->commit);
        ledger_sink_free(r->sink);
        for (size_t i = 0; i < RECORDER_FAULTS_KEPT; i++)
                json_object_put(r->faults[i]);
        sd_event_unref(r->event);
        return mfree(r);
}

/* ---- state -------------------------------------------------------------------------------- */

void recorder_set_policy(struct recorder *r, uint64_t serial, const char *signer) {
        r->policy_serial = serial > INT64_MAX ? INT64_MAX : (int64_t) serial;
        ledger_text_set(r->policy_signer, sizeof r->policy_signer, signer ?: "");
}

void recorder_set_listener(struct recorder *r, recorder_listener_t listener, void *userdata) {
        r->listener = listener;
        r->listener_userdata = userdata;
}

struct json_object *recorder_recent_faults(struct recorder *r) {
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < RECORDER_FAULTS_KEPT; i++) {
                struct json_object *f = r->faults[(r->faults_next + i) % RECORDER_FAULTS_KEPT];
                if (f && json_object_array_add(a, json_object_get(f)) < 0) {
                        json_object_put(f);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

/* KEY: the time, or null for none (0). */
static int add_time(struct json_object *o, const char *key, int64_t t) {
        char buf[ISO8601_MAX];

        if (t <= 0)
                return json_add_null(o, key);
        format_time(t, buf);
        return json_add_string(o, key, buf);
}

static int add_error(struct recorder *r, struct json_object *parent) {
        struct json_object *o;

        if (!r->failing)
                return json_add_null(parent, "error");
        o = json_object_new_object();
        if (!o || json_add(o, "errno", json_object_new_int(-r->error)) < 0 ||
            json_add(o, "name", json_object_new_string(strerrorname_np(-r->error) ?: "?")) < 0 ||
            json_add(o, "message", json_object_new_string(strerror(-r->error))) < 0 ||
            add_time(o, "since", r->error_since) < 0 || add_time(o, "last_try", r->error_last) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        return json_add(parent, "error", o);
}

/* STATE_DIR/export.pub and its fingerprint, or null: the export key is made at install or by
 * the first export, and may not exist yet. */
static int add_export_key(struct recorder *r, struct json_object *parent) {
        _cleanup_free_ char *path = ledger_sink_path(r->sink, KYOKA_EXPORT_PUB_FILE);
        struct trusted_key *k = NULL;
        struct json_object *o;
        int q;

        if (!path || trusted_key_load(path, &k) < 0)
                return json_add_null(parent, "export_key");
        o = json_object_new_object();
        q = !o || json_add(o, "path", json_object_new_string(path)) < 0 ||
                    json_add(o, "fingerprint", json_object_new_string(trusted_key_fingerprint(k))) < 0
                ? -ENOMEM : json_add(parent, "export_key", TAKE_PTR(o));
        json_object_put(o);
        trusted_key_free(k);
        return q;
}

void recorder_scan_totals(const struct recorder *r, uint64_t ret[static _SCAN_RECORD_MAX]) {
        memcpy(ret, r->scans, sizeof r->scans);
}

struct json_object *recorder_ledger_status(struct recorder *r) {
        struct json_object *o = json_object_new_object();
        struct ledger_sink_status st;

        if (!o)
                return NULL;
        ledger_sink_status(r->sink, &st);
        if (json_add(o, "path", json_object_new_string(st.path)) < 0 || json_add(o, "open", json_object_new_boolean(st.open)) < 0 ||
            json_add(o, "records", json_object_new_uint64(st.records)) < 0 ||
            json_add(o, "last_seq", json_object_new_int64(st.last_seq)) < 0 ||
            json_add(o, "queued", json_object_new_uint64(st.queued)) < 0 ||
            json_add(o, "lost", json_object_new_uint64(st.lost)) < 0 ||
            json_add(o, "committed_since_start", json_object_new_uint64(st.committed)) < 0 ||
            add_time(o, "last_commit", st.last_commit) < 0 || add_error(r, o) < 0 || add_export_key(r, o) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
