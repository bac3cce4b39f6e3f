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

void record_policy(const char *what, const char *message);

void record_fault(const char *what, int error, const char *format, ...) _printf_(3, 4);
