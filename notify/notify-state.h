/* SPDX-License-Identifier: MIT */
/* What kyoka-notify has told the person, so that it tells each thing once: one notification per
 * plug of a USB device (until it is removed or allowed), one per network link, with the link's
 * repeated attempts coalesced into that notification (updated at most every
 * NOTIFY_COALESCE_USEC), and when an expiry is near. Pure: records and times in, decisions out,
 * unit tested in tests/unit/test-notify.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define NOTIFY_USEC_PER_SEC UINT64_C(1000000)
#define NOTIFY_ITEMS_MAX 64           /* devices and links remembered; the longest unseen is forgotten first */
#define NOTIFY_COALESCE_USEC (2 * NOTIFY_USEC_PER_SEC)
#define NOTIFY_KEY_MAX 256            /* a bus path or an ifindex: what `request` takes as "device" */

enum notify_kind {
        NOTIFY_USB,
        NOTIFY_LINK,
};

struct notify_item {
        bool used;
        enum notify_kind kind;
        char key[NOTIFY_KEY_MAX];
        uint32_t id;                  /* the notification server's id; 0 until it has one */
        uint64_t attempts;            /* a link's violations counted */
        uint64_t shown_attempts;      /* ... as the notification shows them */
        uint64_t shown_usec;          /* CLOCK_MONOTONIC; 0: never shown */
        struct json_object *record;   /* the latest record, for the text (a reference we own) */
};

struct notify_state {
        struct notify_item items[NOTIFY_ITEMS_MAX];
};

enum notify_verdict {
        NOTIFY_IGNORE,                /* nothing to say (allowed, removed, said already) */
        NOTIFY_SHOW,                  /* show *ret_item's notification now (replacing its id, if any) */
        NOTIFY_LATER,                 /* coalesced: notify_state_next_due() will hand it back */
};

/* What to do about RECORD (a `watch` record) at NOW. *RET_ITEM is set for SHOW and LATER. */
enum notify_verdict notify_state_record(struct notify_state *s, struct json_object *record, uint64_t now,
                                        struct notify_item **ret_item);
/* The server showed ITEM's notification as ID at NOW. */
void notify_state_shown(struct notify_item *item, uint32_t id, uint64_t now);
/* The item with the notification ID, or NULL. */
struct notify_item *notify_state_find_id(struct notify_state *s, uint32_t id);
/* A coalesced item due at NOW (its count changed and NOTIFY_COALESCE_USEC passed), or NULL;
 * *RET_NEXT (if not NULL) is the earliest time one will be due, or UINT64_MAX. */
struct notify_item *notify_state_next_due(struct notify_state *s, uint64_t now, uint64_t *ret_next);
void notify_state_clear(struct notify_state *s);

/* Whether END (an exclusive end, seconds since the epoch; INT64_MAX: none) is within WITHIN_DAYS
 * days of NOW and not passed; *RET_DAYS is then how many whole days are left after today's
 * (0: it ends tonight). */
bool notify_expiry_soon(int64_t end, int64_t now, unsigned within_days, int64_t *ret_days);
