/* SPDX-License-Identifier: MIT */
/* Decisions and faults, to the journal (record.h) and, as JSON with the same fields, to the
 * control socket's watchers; the last faults are also kept in memory for `policyctl status`. */
#include "record.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "timeutil.h"

static record_listener_t listener;
static void *listener_userdata;
static struct json_object *faults[RECORD_FAULTS_KEPT]; /* a ring, oldest at faults_next */
static size_t faults_next;

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

void record_usb(enum usb_record_event ev, const struct usb_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result) {
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
        /* %m is expanded only in the format, not inside a %s argument: name the error here. */
        log_full_errno(result < 0 ? LOG_ERR : LOG_INFO, result, "usb %s %s %s serial=\"%s\" interfaces=%s: %s (%s)%s%s",
                       event_name(ev), id->bus_path, vidpid, id->serial, interfaces, decision, reason,
                       result < 0 ? ": ENFORCEMENT FAILED: " : "", result < 0 ? strerror(-result) : "");

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
        /* A failed enforcement is a fault too: `status` lists it with the others. */
        record_json_emit(o, result < 0);
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

void record_net(enum net_record_event ev, const struct net_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result) {
        const char *decision = policy_verdict_to_string(verdict);
        const char *message_id = ev == NET_RECORD_REMOVED ? KYOKA_MESSAGE_NET_REMOVED :
                                 ev == NET_RECORD_VIOLATION ? KYOKA_MESSAGE_NET_VIOLATION :
                                 KYOKA_MESSAGE_NET_DECISION;
        const char *what = ev == NET_RECORD_REMOVED ? "removed" :
                           ev == NET_RECORD_VIOLATION ? "set up while blocked: set down again" : decision;
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
                        result < 0 ? "ERRNO=%i" : NULL, -result,
                        NULL);
        log_full_errno(result < 0 ? LOG_ERR : ev == NET_RECORD_VIOLATION ? LOG_WARNING : LOG_INFO, result,
                       "net %s ifindex=%d name=%s mac=%s%s kind=%s path=%s driver=%s: %s (%s)%s%s", net_event_name(ev),
                       id->ifindex, id->name, mac[0] ? mac : "-", id->has_mac && !permanent ? "(current)" : "",
                       id->kind[0] ? id->kind : "-", id->path[0] ? id->path : "-", id->driver[0] ? id->driver : "-",
                       ev == NET_RECORD_VIOLATION ? "violation" : decision, reason,
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
                if (result < 0)
                        json_object_object_add(o, "errno", json_object_new_int(-result));
        }
        /* A link that could not be set down is a fault too: `status` lists it with the others. */
        record_json_emit(o, result < 0);
}

void record_policy(const char *what, const char *message) {
        sd_journal_send("MESSAGE=%s", message, "MESSAGE_ID=%s", KYOKA_MESSAGE_POLICY, "PRIORITY=%i", LOG_NOTICE,
                        "KYOKA_EVENT=%s", what, "KYOKA_SUBJECT=policy", NULL);
        log_notice("policy %s: %s", what, message);
        record_json_emit(record_json_new(KYOKA_MESSAGE_POLICY, LOG_NOTICE, what, "policy", message), false);
}

void record_fault(const char *what, int error, const char *format, ...) {
        char buf[1024];
        va_list ap;

        errno = error < 0 ? -error : error;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        sd_journal_send("MESSAGE=%s", buf, "MESSAGE_ID=%s", KYOKA_MESSAGE_FAULT, "PRIORITY=%i", LOG_ERR,
                        "KYOKA_EVENT=%s", what, "KYOKA_SUBJECT=daemon", error ? "ERRNO=%i" : NULL,
                        error < 0 ? -error : error, NULL);
        log_error("fault %s: %s", what, buf);

        struct json_object *o = record_json_new(KYOKA_MESSAGE_FAULT, LOG_ERR, what, "daemon", buf);
        if (o && error)
                json_object_object_add(o, "errno", json_object_new_int(error < 0 ? -error : error));
        record_json_emit(o, true);
}
