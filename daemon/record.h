/* SPDX-License-Identifier: MIT */
/* Where a decision or a fault is recorded: one structured journal entry per event, with a
 * stable MESSAGE_ID per event type and fields for the identity, decision and permit (the
 * same record will also go to the ledger). Off systemd, one line on stderr. */
#pragma once

#include "identity.h"
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

/* As record_usb, for a network link. */
void record_net(enum net_record_event ev, const struct net_identity *id, enum policy_verdict verdict,
                const char *reason, const char *permit, int result);

void record_policy(const char *what, const char *message);

void record_fault(const char *what, int error, const char *format, ...) _printf_(3, 4);

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
