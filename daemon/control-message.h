/* SPDX-License-Identifier: MIT */
/* The control socket's messages (docs/control.md), apart from the socket: parsing a client's
 * command, deciding what a peer may do, which peers get a connection and which are idle, when
 * a refusal is logged, and building the replies from plain data. No sockets, no clocks and no
 * manager state here, so that all of it can be unit tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kyoka-names.h"
#include "manager.h"
#include "net-links.h"
#include "seat.h"

/* The bounds of a message, of a reply and of a request's "device" (a bus path, a serial, a
 * link's name or ifindex) are policyctl's too: KYOKA_CONTROL_*_MAX in kyoka-names.h. */

/* Connections (docs/control.md "Limits"). Readers (group kyoka) can never hold the last
 * CONTROL_CLIENTS_ADMIN_RESERVED, so root and kyoka-admin always find a slot; when admins fill
 * those too, an admin takes the slot of the longest idle reader. */
#define CONTROL_CLIENTS_MAX 64
#define CONTROL_CLIENTS_ADMIN_RESERVED 8
#define CONTROL_CLIENTS_PER_UID_MAX 8    /* every uid but 0, watchers included */
#define CONTROL_USEC_PER_SEC UINT64_C(1000000)
/* A client that is not watching and has sent nothing for this long is closed. */
#define CONTROL_IDLE_TIMEOUT_USEC (30 * CONTROL_USEC_PER_SEC)
#define CONTROL_IDLE_TIMEOUT_MAX_USEC (3600 * CONTROL_USEC_PER_SEC)
/* Refusals logged: one line per uid per interval, lines for at most this many uids per interval. */
#define CONTROL_REFUSAL_LOG_INTERVAL_USEC (60 * CONTROL_USEC_PER_SEC)
#define CONTROL_REFUSAL_LOG_UIDS 16

struct json_object;

enum control_cmd {
        CONTROL_STATUS,
        CONTROL_LIST,
        CONTROL_REQUEST,
        CONTROL_RELOAD,
        CONTROL_WATCH,
};

enum control_access {
        ACCESS_NONE = 0,
        ACCESS_SEAT,                  /* the active user of a seat: status, list, request, watch of that seat only */
        ACCESS_READ,                  /* group kyoka: status, list, request, watch */
        ACCESS_ADMIN,                 /* root or group kyoka-admin: also reload */
};

/* What a request may name: "type" absent means either. */
enum control_subject {
        SUBJECT_ANY,
        SUBJECT_USB,
        SUBJECT_NETWORK,
        SUBJECT_WIRELESS,               /* a network a wireless link joined (or saw): "device" names the link */
        SUBJECT_MEDIA,
};

struct control_command {
        enum control_cmd cmd;
        char device[KYOKA_CONTROL_DEVICE_MAX];
        enum control_subject subject;   /* request only */
        /* SUBJECT_WIRELESS: "ssid_hex" names a network of the kernel's scan results; without it,
         * the link's current association, else the last it was cut off from. */
        uint8_t ssid[WIRELESS_SSID_MAX];
        size_t ssid_len;
};

/* Parses one message (LEN bytes, not NUL-terminated). Returns 0; -EBADMSG if it is not one JSON
 * object with a string "cmd" (the client is then dropped); -EOPNOTSUPP for an unknown command;
 * -EINVAL for a missing or malformed argument. *RET_ERROR (always set on failure) is a static
 * message for the error reply. */
int control_command_parse(const char *buf, size_t len, struct control_command *ret, const char **ret_error);

const char *control_cmd_to_string(enum control_cmd cmd);
enum control_access control_cmd_access(enum control_cmd cmd);

/* What a peer may do, from its credentials: uid 0 or a member (primary or supplementary group)
 * of ADMIN_GID is an admin, a member of READ_GID may read, anybody else nothing. A GID of
 * (gid_t) -1 means that group does not exist on this host. */
enum control_access control_peer_access(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                                        gid_t read_gid, gid_t admin_gid);

/* What the active user of the seats SEATS sees (docs/control.md "Who may do what"): the USB
 * devices whose seat is one of SEATS, and the network links when SEATS holds SEAT_DEFAULT (links
 * belong to no other seat). Nothing of other seats, and none of the daemon's faults (they name
 * devices, files and errors of the whole host). */
bool control_seat_sees_device(const struct seat_set *seats, const struct usb_identity *id);
bool control_seat_sees_links(const struct seat_set *seats);

/* Whether a watcher with ACCESS (and SEATS, for ACCESS_SEAT) receives RECORD: group kyoka and the
 * admins every record; a seat's user the usb records of its seats (by their "seat"), the
 * network records when it has SEAT_DEFAULT, and the policy records (loaded, expired: they
 * concern everyone at this host); nothing else, and nothing at all with no seat left. */
bool control_record_visible(struct json_object *record, enum control_access access, const struct seat_set *seats);

/* The policy as a seat's user sees it in `status`: "state", and for a policy in force "serial",
 * "issuer", "contract", "valid_until" and "valid_until_time" (when the written permission ends);
 * none of the signer, the load messages (paths) or the counts of the whole host. NULL on OOM. */
struct json_object *control_policy_seat_view(const struct manager_policy_info *info);

/* A permit that decides a present device or link, for a seat's user's `status`: "permit",
 * "valid_until" (the policy's text, or null: no end), "valid_until_time", and WHAT (a `list`
 * object: its type and identity fields are copied). NULL on OOM. */
struct json_object *control_permit_to_json(struct json_object *what, const char *permit, const char *valid_until_text,
                                           int64_t valid_until);

/* A connected client as admission and the idle timeout see it. Times are CLOCK_MONOTONIC µs. */
struct control_peer {
        uid_t uid;
        bool admin;                   /* ACCESS_ADMIN: root or group kyoka-admin */
        bool watching;                /* a watch is open: never idle */
        uint64_t connected_usec;
        uint64_t active_usec;         /* connected, or the last message received */
};

enum control_admission {
        CONTROL_ADMIT,
        CONTROL_ADMIT_EVICT,          /* an admin and the table is full: close *ret_evict first */
        CONTROL_REFUSE_UID,           /* that uid holds CONTROL_CLIENTS_PER_UID_MAX already */
        CONTROL_REFUSE_FULL,          /* every connection this peer may take is held */
};

/* Whether a new peer (UID, ADMIN) gets a connection, given the N clients connected now.
 * Root has no per-uid limit; every other uid has. A reader gets one of the first
 * CONTROL_CLIENTS_MAX - CONTROL_CLIENTS_ADMIN_RESERVED slots only. An admin who finds the table
 * full evicts the reader idle longest (not watching, oldest active_usec), else the reader
 * connected longest (a watcher: it may reconnect; the admin may not wait); only a table full
 * of admins refuses an admin. *RET_EVICT (an index into PEERS) is set for CONTROL_ADMIT_EVICT
 * only. */
enum control_admission control_admit(const struct control_peer *peers, size_t n, uid_t uid, bool admin,
                                     size_t *ret_evict);

/* Whether P has been idle for TIMEOUT at NOW: not watching, nothing received for TIMEOUT. */
bool control_peer_idle_expired(const struct control_peer *p, uint64_t now, uint64_t timeout);

/* The earliest time one of PEERS will have been idle for TIMEOUT (it may have passed), or
 * UINT64_MAX when none can be (none, or all watching): when the idle timer must fire. */
uint64_t control_idle_deadline(const struct control_peer *peers, size_t n, uint64_t timeout);

/* Why a peer was refused: each reason of each uid has its own line. */
/* The reply to a peer that may do nothing here. */
#define CONTROL_REFUSAL_ACCESS_MESSAGE \
        "permission denied: needs root, group " KYOKA_GROUP_READ " or " KYOKA_GROUP_ADMIN ", or to be the active user of a seat"

enum control_refusal {
        CONTROL_REFUSAL_ACCESS,       /* not root, not in group kyoka or kyoka-admin, at no seat */
        CONTROL_REFUSAL_COMMAND,      /* a reader asked for reload */
        CONTROL_REFUSAL_UID_LIMIT,
        CONTROL_REFUSAL_FULL,
};

/* Rate limit of refusal lines in the journal, so that a client refused in a loop cannot flood
 * it: per uid and reason the first refusal is logged, then at most one per
 * CONTROL_REFUSAL_LOG_INTERVAL_USEC, and no more than CONTROL_REFUSAL_LOG_UIDS lines per interval
 * (uids and reasons together). Zero-initialised. */
struct control_refusal_log {
        struct control_refusal_entry {
                uid_t uid;
                enum control_refusal why;
                bool used;
                uint64_t logged_usec;   /* the last line for this uid */
                uint64_t suppressed;    /* refusals of this uid not logged since */
        } entries[CONTROL_REFUSAL_LOG_UIDS];
        uint64_t suppressed_other;      /* refusals not logged because the table was full */
};

/* Whether a refusal of UID for WHY at NOW is to be logged. When it is, *RET_SUPPRESSED is how
 * many refusals were not logged before it (of UID and WHY since its last line, plus those that
 * found the table full), to be said in the line; the counts are then reset. */
bool control_refusal_log_check(struct control_refusal_log *l, uid_t uid, enum control_refusal why, uint64_t now,
                               uint64_t *ret_suppressed);

/* {"ok":false,"error":MESSAGE}, or NULL on OOM. */
struct json_object *control_error_new(const char *message);
/* {"ok":true}, or NULL on OOM. */
struct json_object *control_ok_new(void);

/* Serialises a message; -EMSGSIZE beyond KYOKA_CONTROL_REPLY_MAX. The string belongs to O. */
int control_message_serialize(struct json_object *o, const char **ret, size_t *ret_len);

/* The virus scans as `status` shows them (docs/control.md): the media present in each state of
 * their scan ("waiting", "scanning", "held", "passed", "infected": `list`'s scan.state) and the
 * outcomes since kyokad started. */
struct control_scan_counts {
        uint64_t waiting, scanning, held, passed, infected;
        uint64_t since_passed, since_infected, since_held;
};
/* Counts one medium whose scan is in STATE (NULL or "": none asked for, not counted). */
void control_scan_count(struct control_scan_counts *c, const char *state);
/* {"waiting", "scanning", "held", "passed", "infected", "since_start": {"passed", "infected",
 * "held"}}. NULL on OOM. */
struct json_object *control_scan_counts_to_json(const struct control_scan_counts *c);

/* A present device as `list` shows it ("type": "usb"). NULL on OOM. */
struct json_object *control_device_to_json(const struct usb_device_status *d);

/* Whether ARG names D: its kernel name ("1-2.1") or, for a device that reports one, its serial. */
bool control_device_matches(const struct usb_device_status *d, const char *arg);

/* A network link as `list` shows it ("type": "network": identity, decision, violations). NULL
 * on OOM. */
struct json_object *control_link_to_json(const struct net_link_status *s);

/* Whether ARG names the link ID: its current name, or its ifindex in decimal ("7"). */
bool control_link_matches(const struct net_identity *id, const char *arg);

/* A disk on another bus than USB as `list` shows it ("type": "media": identity as in a request's
 * "device", "fixed" (why it is the workstation's own, or null), decision, "disc"). NULL on OOM. */
struct json_object *control_medium_to_json(const struct media_status *s);

/* Whether ARG names the medium: its kernel name ("mmcblk0") or, if it has one, its serial. */
bool control_medium_matches(const struct media_status *s, const char *arg);

/* The policy in force (or the lockdown) as `status` shows it. NULL on OOM. */
struct json_object *control_policy_to_json(const struct manager_policy_info *info);

/* What a reload changed: BEFORE and AFTER are `list` arrays; returns an array with one entry per
 * device of AFTER: its identity fields, "before" (null for a device not in BEFORE), "after",
 * "changed", "reason" and "permit". NULL on OOM. */
struct json_object *control_devices_diff(struct json_object *before, struct json_object *after);

/* The same for media (control_medium_to_json objects), matched on "device" (the kernel name):
 * "device", "bus", "vendor", "model", "serial", "reason", "permit", "before", "after",
 * "changed". NULL on OOM. */
struct json_object *control_media_diff(struct json_object *before, struct json_object *after);

/* The same for links (arrays of control_link_to_json objects), matched on "ifindex" (a renamed
 * link is the same link): "ifindex", "name", "mac", "mac_permanent", "kind", "path", "driver",
 * "reason", "permit", "before", "after", "changed". NULL on OOM. */
struct json_object *control_links_diff(struct json_object *before, struct json_object *after);
