/* SPDX-License-Identifier: MIT */
/* Decisions and faults, to the journal, the ledger, the log and the control socket's watchers
 * (record.h); the last faults are also kept in memory for `policyctl status`. */
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "record-ledger.h"
#include "timeutil.h"

static record_listener_t listener;
static void *listener_userdata;
static struct json_object *faults[RECORD_FAULTS_KEPT]; /* a ring, oldest at faults_next */
static size_t faults_next;

/* What every ledger record carries: the host (read once), the policy in force, the user at
 * the seat (asked once per turn of the loop: a storm does not ask sd-login each time). */
static struct ledger_record host;
static bool host_cached;
static int64_t policy_serial;
static char policy_signer[LEDGER_TEXT_MAX];
static bool seat_cached;
static int64_t seat_uid = -1;
static char seat_user[LEDGER_USER_MAX];

/* Reports (log line and watchers) waiting for this turn's commit, oldest first. */
struct report {
        struct report *next;
        int level, error;
        struct json_object *json;     /* owned; NULL on OOM */
        bool is_fault;
        char line[];
};
static struct report *reports, **reports_tail = &reports;

void record_set_listener(record_listener_t l, void *userdata) {
        listener = l;
        listener_userdata = userdata;
}

struct json_object *record_recent_faults(void) {
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < RECORD_FAULTS_KEPT; i++) {
                struct json_object *f = faults[(faults_next + i) % RECORD_FAULTS_KEPT];
                if (f && json_object_array_add(a, json_object_get(f)) < 0) {
                        json_object_put(f);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

void record_forget_faults(void) {
        for (size_t i = 0; i < RECORD_FAULTS_KEPT; i++) {
                json_object_put(faults[i]);
                faults[i] = NULL;
        }
        faults_next = 0;
}

/* Starts the JSON twin of a journal entry. NULL on OOM: the journal entry is still written,
 * only watchers miss it. */
static struct json_object *record_json_new(const char *message_id, int priority, const char *event,
                                           const char *subject, const char *message) {
        struct json_object *o = json_object_new_object();
        char when[ISO8601_MAX] = "";

        if (!o)
                return NULL;
        (void) time_format_iso8601((int64_t) time(NULL), when, sizeof when);
        json_object_object_add(o, "time", json_object_new_string(when));
        json_object_object_add(o, "message_id", json_object_new_string(message_id));
        json_object_object_add(o, "priority", json_object_new_int(priority));
        json_object_object_add(o, "event", json_object_new_string(event));
        json_object_object_add(o, "subject", json_object_new_string(subject));
        json_object_object_add(o, "message", json_object_new_string(message));
        return o;
}

/* Hands a record to the listener, keeps it if it is a fault, and releases our reference. */
static void record_json_emit(struct json_object *o, bool is_fault) {
        if (!o)
                return;
        if (listener)
                listener(o, listener_userdata);
        if (is_fault) {
                json_object_put(faults[faults_next]);
                faults[faults_next] = json_object_get(o);
                faults_next = (faults_next + 1) % RECORD_FAULTS_KEPT;
        }
        json_object_put(o);
}

struct record_report {
        int level;
        int error;
        struct json_object *json;
        bool is_fault;
        char line[];
};

static void report_now(int level, int error, const char *line, struct json_object *o, bool is_fault) {
        log_full_errno(level, error, "%s", line);
        record_json_emit(o, is_fault);
}

/* The log line and the watchers' JSON of a record: after the commit when there is a loop to do
 * it, else (and on OOM) at once. Takes O. */
static void report(int level, int error, const char *line, struct json_object *o, bool is_fault) {
        struct report *p;

        if (!record_ledger_schedule() || !(p = malloc(sizeof *p + strlen(line) + 1))) {
                report_now(level, error, line, o, is_fault);
                return;
        }
        *p = (struct report) { .level = level, .error = error, .json = o, .is_fault = is_fault };
        strcpy(p->line, line);
        *reports_tail = p;
        reports_tail = &p->next;
}

static void reports_emit(void) {
        /* Taken off the list first: a listener may record (a dropped watcher does not, but
         * nothing here relies on that). */
        while (reports) {
                struct report *p = reports;
                reports = p->next;
                if (!reports)
                        reports_tail = &reports;
                report_now(p->level, p->error, p->line, p->json, p->is_fault);
                free(p);
        }
}

void record_flush(void) {
        (void) record_ledger_commit(false);
        reports_emit();
        seat_cached = false;
}

void record_set_policy(uint64_t serial, const char *signer) {
        policy_serial = serial > INT64_MAX ? INT64_MAX : (int64_t) serial;
        ledger_text_set(policy_signer, sizeof policy_signer, signer ?: "");
}

void record_ledger_fill(struct ledger_record *r, enum ledger_subject subject, enum ledger_event event) {
        ledger_record_init(r, subject, event);
        if (!host_cached) {
                ledger_host_fill(&host);
                host_cached = true;
        }
        memcpy(r->boot_id, host.boot_id, sizeof r->boot_id);
        memcpy(r->hostname, host.hostname, sizeof r->hostname);
        memcpy(r->machine_id, host.machine_id, sizeof r->machine_id);
        r->policy_serial = policy_serial;
        memcpy(r->signer, policy_signer, sizeof r->signer);
        if (!seat_cached) {
                if (seat_active_user("seat0", &seat_uid, seat_user, sizeof seat_user) < 0) {
                        seat_uid = -1;
                        seat_user[0] = 0;
                }
                /* Outside the loop nothing would clear the cache: ask every time. */
                seat_cached = record_ledger_active();
        }
        r->uid = seat_uid;
        memcpy(r->user, seat_user, sizeof r->user);
}

static enum ledger_decision ledger_decision_of(enum policy_verdict v) {
        switch (v) {
        case VERDICT_ALLOW: return LEDGER_DECISION_ALLOW;
        case VERDICT_READ_ONLY: return LEDGER_DECISION_READ_ONLY;
        case VERDICT_BLOCK: return LEDGER_DECISION_BLOCK;
        }
        return LEDGER_DECISION_NONE;
}

/* A re-evaluation that blocks because the deciding permit's window has passed: the reason then
 * names it, "default usb_other (permit 許可-0004 expired 2026-11-30)" (policy_decision_describe).
 * Recorded as permit-expired, with that permit; record_usb/record_net's callers need not know. */
static bool permit_expired(const char *reason, char *ret_permit, size_t size) {
        const char *p = strstr(reason, "(permit "), *e;

        if (!p)
                return false;
        p += strlen("(permit ");
        e = strstr(p, " expired ");
        if (!e)
                return false;
        snprintf(ret_permit, size, "%.*s", (int) MIN((size_t) (e - p), size - 1), p);
        return true;
}

/* Decision, reason, permit, outcome and message of a decision record; then into the queue. */
static void ledger_decision_append(struct ledger_record *r, enum policy_verdict verdict, const char *reason,
                                   const char *permit, int result, const char *message) {
        char expired[LEDGER_TEXT_MAX];

        r->decision = ledger_decision_of(verdict);
        if (r->event == LEDGER_EVENT_REEVALUATED && verdict == VERDICT_BLOCK && result >= 0 && !permit &&
            permit_expired(reason, expired, sizeof expired)) {
                r->event = LEDGER_EVENT_PERMIT_EXPIRED;
                permit = expired;
        }
        ledger_text_set(r->reason, sizeof r->reason, reason);
        ledger_text_set(r->permit, sizeof r->permit, permit ?: "");
        if (result < 0) {
                r->outcome = LEDGER_OUTCOME_FAILED;
                r->error_number = -result;
        }
        ledger_text_set(r->message, sizeof r->message, message);
        record_ledger_append(r);
}

static const char *event_name(enum usb_record_event ev) {
        switch (ev) {
        case USB_RECORD_CONNECTED: return "connected";
        case USB_RECORD_REEVALUATED: return "re-evaluated";
        case USB_RECORD_REMOVED: return "removed";
        }
        return "?";
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

/* Journal entry and ledger record now; the report (log line, watchers' JSON) returned. */
static struct record_report *usb_record(enum usb_record_event ev, const struct usb_identity *id,
                                        enum policy_verdict verdict, const char *reason, const char *permit,
                                        int result) {
        char interfaces[USB_INTERFACES_MAX * 9 + 1], vidpid[10];
        const char *decision = policy_verdict_to_string(verdict);

        format_interfaces(id, interfaces, sizeof interfaces);
        snprintf(vidpid, sizeof vidpid, "%04x:%04x", id->vendor, id->product);

        /* Strings were sanitised when read: no control characters reach the journal. */
        char message[2048];
        snprintf(message, sizeof message, "USB %s %s \"%s %s\" serial \"%s\": %s (%s)%s%s", id->bus_path, vidpid,
                 id->manufacturer, id->product_name, id->serial, ev == USB_RECORD_REMOVED ? "removed" : decision,
                 reason, result < 0 ? ": enforcement failed: " : "", result < 0 ? strerror(-result) : "");
        sd_journal_send("MESSAGE=%s", message,
                        "MESSAGE_ID=%s", ev == USB_RECORD_REMOVED ? KYOKA_MESSAGE_USB_REMOVED : KYOKA_MESSAGE_USB_DECISION,
                        "PRIORITY=%i", result < 0 ? LOG_ERR : verdict == VERDICT_BLOCK ? LOG_NOTICE : LOG_INFO,
                        "KYOKA_EVENT=%s", event_name(ev),
                        "KYOKA_SUBJECT=usb",
                        "KYOKA_BUS_PATH=%s", id->bus_path,
                        "KYOKA_VENDOR=%04x", id->vendor,
                        "KYOKA_PRODUCT=%04x", id->product,
                        "KYOKA_SERIAL=%s", id->has_serial ? id->serial : "",
                        "KYOKA_MANUFACTURER=%s", id->manufacturer,
                        "KYOKA_PRODUCT_NAME=%s", id->product_name,
                        "KYOKA_INTERFACES=%s", interfaces,
                        "KYOKA_DECISION=%s", decision,
                        "KYOKA_REASON=%s", reason,
                        "KYOKA_PERMIT=%s", permit ?: "",
                        "KYOKA_RESULT=%s", result < 0 ? "failed" : "done",
                        result < 0 ? "ERRNO=%i" : NULL, -result,
                        NULL);

        struct ledger_record lr;
        record_ledger_fill(&lr, LEDGER_SUBJECT_USB,
                           ev == USB_RECORD_CONNECTED ? LEDGER_EVENT_CONNECTED :
                           ev == USB_RECORD_REMOVED ? LEDGER_EVENT_REMOVED : LEDGER_EVENT_REEVALUATED);
        ledger_record_set_usb(&lr, id);
        ledger_decision_append(&lr, verdict, reason, permit, result, message);

        /* %m is expanded only in the format, not inside a %s argument: name the error here. */
        char line[2048];
        snprintf(line, sizeof line, "usb %s %s %s serial=\"%s\" interfaces=%s: %s (%s)%s%s", event_name(ev), id->bus_path,
                 vidpid, id->serial, interfaces, decision, reason, result < 0 ? ": ENFORCEMENT FAILED: " : "",
                 result < 0 ? strerror(-result) : "");

        struct json_object *o = record_json_new(
                ev == USB_RECORD_REMOVED ? KYOKA_MESSAGE_USB_REMOVED : KYOKA_MESSAGE_USB_DECISION,
                result < 0 ? LOG_ERR : verdict == VERDICT_BLOCK ? LOG_NOTICE : LOG_INFO, event_name(ev), "usb", message);
        if (o) {
                json_object_object_add(o, "bus_path", json_object_new_string(id->bus_path));
                json_object_object_add(o, "vendor", json_object_new_string_len(vidpid, 4));
                json_object_object_add(o, "product", json_object_new_string(vidpid + 5));
                json_object_object_add(o, "serial", json_object_new_string(id->has_serial ? id->serial : ""));
                json_object_object_add(o, "manufacturer", json_object_new_string(id->manufacturer));
                json_object_object_add(o, "product_name", json_object_new_string(id->product_name));
                json_object_object_add(o, "interfaces", json_object_new_string(interfaces));
                json_object_object_add(o, "decision", json_object_new_string(decision));
                json_object_object_add(o, "reason", json_object_new_string(reason));
                json_object_object_add(o, "permit", json_object_new_string(permit ?: ""));
                json_object_object_add(o, "result", json_object_new_string(result < 0 ? "failed" : "done"));
                if (result < 0)
                        json_object_object_add(o, "errno", json_object_new_int(-result));
        }
        struct record_report *rep = malloc(sizeof *rep + strlen(line) + 1);
        if (!rep) {
                /* The report is the lesser part: the journal and the ledger have the record. */
                report_now(result < 0 ? LOG_ERR : LOG_INFO, result, line, o, result < 0);
                return NULL;
        }
        /* A failed enforcement is a fault too: `status` lists it with the others. */
        *rep = (struct record_report) { .level = result < 0 ? LOG_ERR : LOG_INFO, .error = result, .json = o,
                                        .is_fault = result < 0 };
        strcpy(rep->line, line);
        return rep;
}

void record_usb(enum usb_record_event ev, const struct usb_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result) {
        record_report_emit(usb_record(ev, id, verdict, reason, permit, result));
}

struct record_report *record_usb_decided(enum usb_record_event ev, const struct usb_identity *id,
                                         enum policy_verdict verdict, const char *reason, const char *permit) {
        return usb_record(ev, id, verdict, reason, permit, 0);
}

void record_report_emit(struct record_report *rep) {
        if (!rep)
                return;
        report(rep->level, rep->error, rep->line, rep->json, rep->is_fault);
        free(rep);
}

struct record_report *record_report_free(struct record_report *rep) {
        if (rep) {
                json_object_put(rep->json);
                free(rep);
        }
        return NULL;
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

static void record_net_counted(enum net_record_event ev, const struct net_identity *id, enum policy_verdict verdict,
                               const char *reason, const char *permit, int result, uint64_t count) {
        const char *decision = policy_verdict_to_string(verdict);
        const char *message_id = ev == NET_RECORD_REMOVED ? KYOKA_MESSAGE_NET_REMOVED :
                                 ev == NET_RECORD_VIOLATION ? KYOKA_MESSAGE_NET_VIOLATION :
                                 KYOKA_MESSAGE_NET_DECISION;
        char times[96];
        snprintf(times, sizeof times, "set up %" PRIu64 " times while blocked: set down again each time", count);
        const char *what = ev == NET_RECORD_REMOVED ? "removed" :
                           ev == NET_RECORD_VIOLATION ? (count > 1 ? times : "set up while blocked: set down again") :
                           decision;
        int priority = result < 0 ? LOG_ERR : ev == NET_RECORD_VIOLATION ? LOG_WARNING :
                       verdict == VERDICT_BLOCK ? LOG_NOTICE : LOG_INFO;
        bool permanent = id->has_mac && id->mac_is_permanent;
        char mac[18] = "", message[1024];

        if (id->has_mac)
                mac_format(id->mac, mac);
        /* Strings were sanitised when read: no control characters reach the journal. */
        snprintf(message, sizeof message, "Network link %d \"%s\" %s%s kind \"%s\" path \"%s\": %s (%s)%s%s",
                 id->ifindex, id->name, mac[0] ? mac : "no MAC", id->has_mac && !permanent ? " (not permanent)" : "",
                 id->kind, id->path, what, reason, result < 0 ? ": enforcement failed: " : "",
                 result < 0 ? strerror(-result) : "");
        sd_journal_send("MESSAGE=%s", message,
                        "MESSAGE_ID=%s", message_id,
                        "PRIORITY=%i", priority,
                        "KYOKA_EVENT=%s", net_event_name(ev),
                        "KYOKA_SUBJECT=network",
                        "KYOKA_IFINDEX=%d", id->ifindex,
                        "KYOKA_IFNAME=%s", id->name,
                        "KYOKA_MAC=%s", mac,
                        "KYOKA_MAC_PERMANENT=%s", permanent ? "yes" : "no",
                        "KYOKA_KIND=%s", id->kind,
                        "KYOKA_PATH=%s", id->path,
                        "KYOKA_DRIVER=%s", id->driver,
                        "KYOKA_DECISION=%s", decision,
                        "KYOKA_REASON=%s", reason,
                        "KYOKA_PERMIT=%s", permit ?: "",
                        "KYOKA_RESULT=%s", result < 0 ? "failed" : "done",
                        "KYOKA_COUNT=%" PRIu64, count,
                        result < 0 ? "ERRNO=%i" : NULL, -result,
                        NULL);

        struct ledger_record lr;
        record_ledger_fill(&lr, LEDGER_SUBJECT_NETWORK,
                           ev == NET_RECORD_APPEARED ? LEDGER_EVENT_APPEARED :
                           ev == NET_RECORD_VIOLATION ? LEDGER_EVENT_VIOLATION :
                           ev == NET_RECORD_REMOVED ? LEDGER_EVENT_REMOVED : LEDGER_EVENT_REEVALUATED);
        ledger_record_set_net(&lr, id);
        lr.count = (int64_t) MIN(count, (uint64_t) INT64_MAX);
        ledger_decision_append(&lr, verdict, reason, permit, result, message);

        char line[2048];
        char violation[48] = "violation";
        if (count > 1)
                snprintf(violation, sizeof violation, "violation x%" PRIu64, count);
        snprintf(line, sizeof line, "net %s ifindex=%d name=%s mac=%s%s kind=%s path=%s driver=%s: %s (%s)%s%s",
                 net_event_name(ev), id->ifindex, id->name, mac[0] ? mac : "-", id->has_mac && !permanent ? "(current)" : "",
                 id->kind[0] ? id->kind : "-", id->path[0] ? id->path : "-", id->driver[0] ? id->driver : "-",
                 ev == NET_RECORD_VIOLATION ? violation : decision, reason,
                 result < 0 ? ": ENFORCEMENT FAILED: " : "", result < 0 ? strerror(-result) : "");

        struct json_object *o = record_json_new(message_id, priority, net_event_name(ev), "network", message);
        if (o) {
                json_object_object_add(o, "ifindex", json_object_new_int(id->ifindex));
                json_object_object_add(o, "ifname", json_object_new_string(id->name));
                json_object_object_add(o, "mac", json_object_new_string(mac));
                json_object_object_add(o, "mac_permanent", json_object_new_boolean(permanent));
                json_object_object_add(o, "kind", json_object_new_string(id->kind));
                json_object_object_add(o, "path", json_object_new_string(id->path));
                json_object_object_add(o, "driver", json_object_new_string(id->driver));
                json_object_object_add(o, "decision", json_object_new_string(decision));
                json_object_object_add(o, "reason", json_object_new_string(reason));
                json_object_object_add(o, "permit", json_object_new_string(permit ?: ""));
                json_object_object_add(o, "result", json_object_new_string(result < 0 ? "failed" : "done"));
                json_object_object_add(o, "count", json_object_new_uint64(count));
                if (result < 0)
                        json_object_object_add(o, "errno", json_object_new_int(-result));
        }
        /* A link that could not be set down is a fault too: `status` lists it with the others. */
        report(result < 0 ? LOG_ERR : ev == NET_RECORD_VIOLATION ? LOG_WARNING : LOG_INFO, result, line, o, result < 0);
}

void record_net(enum net_record_event ev, const struct net_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result) {
        record_net_counted(ev, id, verdict, reason, permit, result, 1);
}

void record_net_violations(const struct net_identity *id, const char *reason, uint64_t count) {
        record_net_counted(NET_RECORD_VIOLATION, id, VERDICT_BLOCK, reason, NULL, 0, count);
}

void record_policy(const char *what, const char *message) {
        struct ledger_record lr;
        char line[1200];

        sd_journal_send("MESSAGE=%s", message, "MESSAGE_ID=%s", KYOKA_MESSAGE_POLICY, "PRIORITY=%i", LOG_NOTICE,
                        "KYOKA_EVENT=%s", what, "KYOKA_SUBJECT=policy", NULL);

        bool expired = streq(what, "expired");
        record_ledger_fill(&lr, LEDGER_SUBJECT_POLICY, expired ? LEDGER_EVENT_PERMIT_EXPIRED : LEDGER_EVENT_POLICY_LOADED);
        ledger_text_set(lr.reason, sizeof lr.reason, expired ? "the policy's valid_until passed" : "");
        ledger_text_set(lr.message, sizeof lr.message, message);
        record_ledger_append(&lr);

        snprintf(line, sizeof line, "policy %s: %s", what, message);
        report(LOG_NOTICE, 0, line, record_json_new(KYOKA_MESSAGE_POLICY, LOG_NOTICE, what, "policy", message), false);
}

/* Which ledger record a fault is (record.h). */
static void fault_kind(const char *what, enum ledger_subject *ret_subject, enum ledger_event *ret_event) {
        static const char *const refused[] = { "policy-refused", "policy-fallback", "policy-copy-refused" };
        static const char *const unenforced[] = { "controller-lockdown", "network-firewall", "usb-boot-default" };

        *ret_subject = LEDGER_SUBJECT_DAEMON;
        *ret_event = LEDGER_EVENT_FAULT;
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                if (streq(what, refused[i])) {
                        *ret_subject = LEDGER_SUBJECT_POLICY;
                        *ret_event = LEDGER_EVENT_POLICY_REFUSED;
                        return;
                }
        for (size_t i = 0; i < ELEMENTSOF(unenforced); i++)
                if (streq(what, unenforced[i])) {
                        *ret_event = LEDGER_EVENT_ENFORCEMENT_FAILED;
                        return;
                }
        if (streq(what, "clock-jump"))
                *ret_event = LEDGER_EVENT_CLOCK_JUMP;
        else if (strncmp(what, "ledger-", 7) == 0)
                *ret_subject = LEDGER_SUBJECT_LEDGER;
}

/* A record whose substance is a message (faults, kyokad's own events): journal, ledger, report.
 * REASON goes into the ledger's reason field when not NULL; ERROR is a positive errno or 0. */
static void record_message(const char *message_id, int priority, const char *what, enum ledger_subject subject,
                           enum ledger_event event, const char *reason, int error, const char *kind,
                           const char *text, bool is_fault) {
        struct ledger_record lr;
        char line[1200];

        sd_journal_send("MESSAGE=%s", text, "MESSAGE_ID=%s", message_id, "PRIORITY=%i", priority,
                        "KYOKA_EVENT=%s", what, "KYOKA_SUBJECT=daemon", error ? "ERRNO=%i" : NULL, error, NULL);

        record_ledger_fill(&lr, subject, event);
        if (reason)
                ledger_text_set(lr.reason, sizeof lr.reason, reason);
        if (error) {
                lr.outcome = LEDGER_OUTCOME_FAILED;
                lr.error_number = error;
        }
        ledger_text_set(lr.message, sizeof lr.message, text);
        record_ledger_append(&lr);

        snprintf(line, sizeof line, "%s %s: %s", kind, what, text);
        struct json_object *o = record_json_new(message_id, priority, what, "daemon", text);
        if (o && error)
                json_object_object_add(o, "errno", json_object_new_int(error));
        report(priority, 0, line, o, is_fault);
}

void record_fault(const char *what, int error, const char *format, ...) {
        enum ledger_subject subject;
        enum ledger_event event;
        char buf[1024];
        va_list ap;

        if (error < 0)
                error = -error;
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        fault_kind(what, &subject, &event);
        record_message(KYOKA_MESSAGE_FAULT, LOG_ERR, what, subject, event, what, error, "fault", buf, true);
}

void record_daemon(enum ledger_event ev, int error, const char *format, ...) {
        const char *what = ledger_event_to_string(ev);
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
        record_message(KYOKA_MESSAGE_DAEMON, priority, what, LEDGER_SUBJECT_DAEMON, ev, NULL, error, "daemon", buf,
                       ev == LEDGER_EVENT_UNCLEAN_SHUTDOWN || error);
}
