/* SPDX-License-Identifier: MIT */
/* Where a decision or a fault is recorded, and the one place that does it. Each record goes
 *  1. at once to the journal: one structured entry, a stable MESSAGE_ID per event type and
 *     fields for the identity, decision and permit (an independent copy, written before
 *     anything can go wrong with the ledger);
 *  2. to the ledger (record-ledger.c): appended now, committed with everything else this turn
 *     of the loop recorded, right after the enforcement (group commit);
 *  3. after that commit, to the log (one line; stderr off systemd) and, as JSON, to the control
 *     socket's watchers: a decision is reported done only once its record is on disk. A failing
 *     ledger delays nothing: the reports go out anyway and the ledger catches up later.
 * Before record_ledger_start() and after record_ledger_stop() there is no ledger and reports
 * go out at once. Main thread only. */
#pragma once

#include <stdint.h>

#include "identity.h"
#include "ledger.h"
#include "macro.h"
#include "policy-match.h"

/* journalctl MESSAGE_ID=... selects one kind of event. */
#define KYOKA_MESSAGE_USB_DECISION "6b796f6b6101000000000000000000a1"
#define KYOKA_MESSAGE_USB_REMOVED  "6b796f6b6101000000000000000000a2"
#define KYOKA_MESSAGE_NET_DECISION "6b796f6b6101000000000000000000c1"
#define KYOKA_MESSAGE_NET_REMOVED  "6b796f6b6101000000000000000000c2"
#define KYOKA_MESSAGE_NET_VIOLATION "6b796f6b6101000000000000000000c3"
#define KYOKA_MESSAGE_POLICY       "6b796f6b6101000000000000000000b1"
#define KYOKA_MESSAGE_FAULT        "6b796f6b6101000000000000000000f1"
#define KYOKA_MESSAGE_DAEMON       "6b796f6b6101000000000000000000d1"

enum usb_record_event {
        USB_RECORD_CONNECTED,         /* first decision for a device */
        USB_RECORD_REEVALUATED,       /* decision again after a policy change or a time boundary */
        USB_RECORD_REMOVED,
};

/* RESULT: 0 if enforcement succeeded, else the negative errno of the failure (a fault too). */
void record_usb(enum usb_record_event ev, const struct usb_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result);

enum net_record_event {
        NET_RECORD_APPEARED,          /* first decision for a link (also for links present at start) */
        NET_RECORD_REEVALUATED,       /* decision again: policy change, time boundary, identity change */
        NET_RECORD_VIOLATION,         /* a blocked link was set up: set down again */
        NET_RECORD_REMOVED,
};

/* The two halves of record_usb for a decision that enforcement follows: record_usb_decided()
 * writes the journal entry and queues the ledger record now, so that the ledger commits it
 * before the device is authorised (kyokad submits the sysfs writes only after that commit);
 * the returned report (log line, watchers) is emitted with record_report_emit() once the
 * enforcement has completed, or dropped with record_report_free(). A failed enforcement is
 * recorded again with record_usb(..., result < 0). May return NULL (out of memory: the
 * record is made, only its report is emitted at once). */
struct record_report;
struct record_report *record_usb_decided(enum usb_record_event ev, const struct usb_identity *id,
                                         enum policy_verdict verdict, const char *reason, const char *permit);
void record_report_emit(struct record_report *rep);
struct record_report *record_report_free(struct record_report *rep);

/* As record_usb, for a network link. */
void record_net(enum net_record_event ev, const struct net_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result);
/* COUNT violations of a blocked link (each set up, set down again) as one counted record. */
void record_net_violations(const struct net_identity *id, const char *reason, uint64_t count);

/* WHAT: "loaded" (a policy took effect: ledger policy-loaded) or "expired" (the policy in
 * force ended: permit-expired, the lockdown applies). */
void record_policy(const char *what, const char *message);

/* WHAT names the fault ("policy-refused", "controller-lockdown", "clock-jump", ...; kept as the
 * ledger record's reason) and picks its ledger event: policy-refused for refusals,
 * enforcement-failed when a decision could not be applied, clock-jump, ledger-* under the
 * ledger's subject, otherwise fault. ERROR: an errno (either sign) or 0. */
void record_fault(const char *what, int error, const char *format, ...) _printf_(3, 4);

/* kyokad itself: LEDGER_EVENT_STARTED, _STOPPED, _UNCLEAN_SHUTDOWN (record-ledger.c). */
void record_daemon(enum ledger_event ev, int error, const char *format, ...) _printf_(3, 4);

/* The policy in force, stamped on every record from now on (0 and NULL: the lockdown). */
void record_set_policy(uint64_t serial, const char *signer);

/* A ledger record of SUBJECT/EVENT, now, with this host, the policy in force and the user at
 * the active seat (cached for one turn of the loop). */
void record_ledger_fill(struct ledger_record *r, enum ledger_subject subject, enum ledger_event event);

/* Commits what this turn of the loop recorded (unless the ledger is failing: then its retry
 * timer does), then reports it. Run from a deferred event source after every turn that
 * recorded something; call it directly where a step must be durable before it is announced
 * (kyokad ready, a reload done). */
void record_flush(void);

/* Every record is also handed, as a JSON object with the journal entry's fields (lowercase,
 * without KYOKA_: "event", "subject", "bus_path", "decision", ..., plus "message", "message_id",
 * "priority" and "time"), to one listener: the control socket's watchers. The object is
 * borrowed for the duration of the call. NULL removes the listener. */
struct json_object;
typedef void (*record_listener_t)(struct json_object *record, void *userdata);
void record_set_listener(record_listener_t listener, void *userdata);

/* The last RECORD_FAULTS_KEPT fault records (record_fault, and USB or link decisions whose
 * enforcement failed), oldest first, as a new JSON array (NULL on OOM):
 * `policyctl status` shows them. */
#define RECORD_FAULTS_KEPT 20
struct json_object *record_recent_faults(void);
/* Drops the faults kept in memory (at exit, so that leak checkers see a clean heap). */
void record_forget_faults(void);
