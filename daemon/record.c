/* SPDX-License-Identifier: MIT */
#include "record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "log.h"

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
        sd_journal_send("MESSAGE=USB %s %s \"%s %s\" serial \"%s\": %s (%s)%s%s", id->bus_path, vidpid,
                        id->manufacturer, id->product_name, id->serial, ev == USB_RECORD_REMOVED ? "removed" : decision,
                        reason, result < 0 ? ": enforcement failed: " : "", result < 0 ? strerror(-result) : "",
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
        log_full_errno(result < 0 ? LOG_ERR : LOG_INFO, result, "usb %s %s %s serial=\"%s\" interfaces=%s: %s (%s)%s",
                       event_name(ev), id->bus_path, vidpid, id->serial, interfaces, decision, reason,
                       result < 0 ? ": ENFORCEMENT FAILED: %m" : "");
}

void record_policy(const char *what, const char *message) {
        sd_journal_send("MESSAGE=%s", message, "MESSAGE_ID=%s", KYOKA_MESSAGE_POLICY, "PRIORITY=%i", LOG_NOTICE,
                        "KYOKA_EVENT=%s", what, "KYOKA_SUBJECT=policy", NULL);
        log_notice("policy %s: %s", what, message);
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
}
