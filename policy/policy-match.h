/* SPDX-License-Identifier: MIT */
/* Matching: a device's or link's identity and the time -> the decision and its reason.
 *
 * Exact identities are found through hash indices built once per policy (USB: vendor, product,
 * serial; network: permanent MAC, then bus path), so the cost of a decision does not grow with
 * the policy. Only network entries keyed by kind/name alone are scanned, and there are few.
 *
 * Rules (docs/policy.md, "How a decision is made"):
 *  - an entry whose identity matches and whose window contains NOW decides; an entry with a
 *    `path` matches only a device whose udev ID_PATH (the port) is that path;
 *  - its `interfaces` must cover every interface the device presents, or (unlisted =
 *    "disable") the uncovered ones stay off; otherwise the device is blocked;
 *  - an entry that matches but is outside its window does not approve: the defaults decide,
 *    and the reason names the expired / not yet valid permit;
 *  - no entry: HID-only devices follow defaults.usb_hid, hubs defaults.usb_hub, everything
 *    else defaults.usb_other; links defaults.network; loopback is always allowed;
 *  - with no policy at all (P == NULL), or at or after the policy's own valid_until, the
 *    built-in lockdown applies: HID-only and hubs allowed, everything else blocked;
 *  - a hub is a device whose every interface is class 09 (usb_identity_is_hub); a device with
 *    no interfaces that is not a hub counts as "other".
 * Windows are half-open: valid_from <= NOW < valid_until. Among several entries for the same
 * identity (renewals) the first in file order whose window contains NOW decides; if none does,
 * the reason names the one becoming valid soonest, else the one that expired last. */
#pragma once

#include <stdint.h>

#include "identity.h"
#include "policy.h"

enum policy_verdict {
        VERDICT_BLOCK = 0,
        VERDICT_ALLOW,
        VERDICT_READ_ONLY,            /* allowed, every block device read-only */
};

enum policy_reason {
        REASON_PERMIT,                /* an entry approved it */
        REASON_INTERFACES_NOT_APPROVED, /* an entry matched, but the device has interfaces it does not list */
        REASON_DEFAULT_HID,
        REASON_DEFAULT_HUB,
        REASON_DEFAULT_OTHER,
        REASON_DEFAULT_NETWORK,
        REASON_LOCKDOWN_HID,          /* no valid policy: built-in lockdown */
        REASON_LOCKDOWN_HUB,
        REASON_LOCKDOWN_OTHER,
        REASON_LOCKDOWN_NETWORK,
        REASON_LOOPBACK,
        REASON_WIRELESS_MODE,         /* a link approved otherwise, in a wireless mode nothing permits (an access point) */
        REASON_DEFAULT_WIRELESS,      /* a network no `wireless` entry approves: defaults.wireless */
        REASON_LOCKDOWN_WIRELESS,
        REASON_DEFAULT_MEDIA,
        REASON_LOCKDOWN_MEDIA,
};

enum policy_window {
        WINDOW_NONE = 0,              /* no entry matched the identity */
        WINDOW_OPEN,                  /* the deciding entry is valid now */
        WINDOW_NOT_YET,               /* an entry matched but its valid_from is in the future */
        WINDOW_EXPIRED,               /* an entry matched but its valid_until has passed */
        WINDOW_OTHER_PORT,            /* an entry valid now names the device, but another port (path) */
        WINDOW_OTHER_ACCESS_POINT,    /* a wireless entry valid now names the SSID, but not this access point */
        WINDOW_WEAKER_SECURITY,       /* ... but the network offers less than its least security */
};

struct policy_decision {
        enum policy_verdict verdict;
        enum policy_reason reason;
        enum policy_window window;
        /* The entry that decided, or (window NOT_YET/EXPIRED) that matched but did not apply. */
        const struct policy_usb_entry *usb_entry;
        const struct policy_net_entry *net_entry;
        const struct policy_wireless_entry *wireless_entry;
        enum wireless_mode wireless_mode; /* REASON_WIRELESS_MODE: the mode refused */
        const struct policy_media_entry *media_entry;
        /* For USB allow/read-only: bit i set means the device's interface i may be authorised. */
        uint32_t interface_mask;
        /* USB: the deciding permit leaves the device's hidraw nodes to udev's rules (the seat's
         * user may get them); false (every other decision): root only. */
        bool hidraw_user;
        /* Storage it brings must pass a virus scan before it is usable (a permit's `scan`, or
         * defaults.scan for a permit that says nothing and for media allowed by the defaults);
         * until then it is held: authorised, read-only and root's alone. Only for allow and
         * read-only, never for HID-only devices and hubs allowed by the defaults. */
        bool scan_required;
        /* ... and every file written to it (carried out) is scanned when it is closed (scan =
         * "in-and-out"); an infected one de-authorises it, one that cannot be scanned holds it. */
        bool scan_written;
        /* Index of the first device interface not covered by the entry (REASON_INTERFACES_NOT_APPROVED). */
        int unapproved_interface;
        /* The next time this decision may change by time alone (an entry's valid_from/valid_until,
         * the policy's valid_until), or TIME_INFINITY: kyokad arms a timer for it. */
        int64_t next_change;
};

/* Builds P's hash indices. Called by the parser; -ENOMEM on failure. */
int policy_index_build(struct policy *p);
void policy_index_free(struct policy_index *idx);
/* For the compiled image (policy-image.c): P's USB hash table as arrays of uint32_t, HEADS
 * (*RET_N_BUCKETS of them, a power of two) and NEXT (one per USB entry). -ENOENT without an index. */
int policy_index_usb_table(const struct policy *p, const uint32_t **ret_heads, size_t *ret_n_buckets,
                           const uint32_t **ret_next);
/* Makes P's USB table read HEADS and NEXT (borrowed: they must outlive P's index, as an image's
 * mapping does) when they hold exactly what P's own table, just built, holds; its own arrays are
 * freed. -EBADMSG when they differ (P's table stays as it is), -EINVAL without an index. */
int policy_index_usb_borrow(struct policy *p, const uint32_t *heads, size_t n_buckets, const uint32_t *next);

/* Decides for a USB device. P may be NULL (lockdown). Never fails. */
void policy_match_usb(const struct policy *p, const struct usb_identity *id, int64_t now, struct policy_decision *ret);

/* Decides for a network link. P may be NULL (lockdown). Never fails. A wireless link in a mode
 * other than a client's (station, P2P client) is blocked (REASON_WIRELESS_MODE) unless the entry
 * that approves it lists the mode in `wireless_modes`, or (approved by defaults.network)
 * defaults.wireless is "allow". */
void policy_match_net(const struct policy *p, const struct net_identity *id, int64_t now, struct policy_decision *ret);

/* Decides for an association: may a client-mode wireless link that is itself approved stay on
 * network N? An entry approves it when its window contains NOW, its SSID is N's, N's access
 * point is among its `bssid` (if it lists any), and N's security is at least the entry's
 * (wireless_security_level). Otherwise defaults.wireless decides; without a valid policy
 * (lockdown) nothing is approved. An unknown SSID (ssid_len 0) matches no entry. Never fails. */
void policy_match_wireless(const struct policy *p, const struct wireless_network *n, int64_t now,
                           struct policy_decision *ret);
/* Decides for a removable medium that is not on USB: an entry whose every given key equals
 * the medium's (bus always) and whose window is open allows it, read-only if it says so;
 * otherwise defaults.media (block unless the policy says allow); no policy: block. P may be
 * NULL. Never fails. */
void policy_match_media(const struct policy *p, const struct media_identity *id, int64_t now,
                        struct policy_decision *ret);

/* The policy's fixed_disks entry that ID is, or NULL (P may be NULL). */
const struct policy_fixed_disk *policy_match_fixed(const struct policy *p, const struct media_identity *id);

const char *policy_verdict_to_string(enum policy_verdict v);   /* "allow", "read-only", "block" */
const char *policy_reason_to_string(enum policy_reason r);     /* "permit", "default usb_hid", ... */

/* One line for humans and logs: "permit 許可-2026-017" / "default usb_other (permit X expired
 * 2026-03-31)" / "permit X does not approve interface 03:01:01". Returns the length. */
size_t policy_decision_describe(const struct policy_decision *d, const struct usb_identity *usb, char *buf, size_t size);
