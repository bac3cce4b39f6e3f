/* SPDX-License-Identifier: MIT */
/* The policy: the city's written permission in machine form (docs/policy.md).
 *
 * This header owns the in-memory model and its parser. Parsing never logs: problems are
 * collected as "FILE:LINE: FIELD: message" lines in a struct policy_diag. The parser works on a
 * buffer (the exact bytes whose signature was checked), never re-reads the file, and refuses
 * libconfig's @include (an included file would not be covered by the signature). The syntax is
 * libconfig 1.5's, read by policy-config.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

struct pconf_strings;   /* policy-config.h */

#define POLICY_FORMAT_VERSION 1
#define POLICY_FILE_MAX (256u << 20)  /* 256 MiB: 1,000,000 entries of ~160 bytes with room */
#define POLICY_STRING_MAX 1024        /* bytes, for free-text fields (label, purpose, ...) */

enum policy_action {
        POLICY_BLOCK = 0,
        POLICY_ALLOW = 1,
};

/* What to do with the interfaces of a matched device that its entry does not list. One byte
 * (packed), like enum policy_scan: a policy holds one per entry, up to a million entries. */
enum __attribute__((packed)) policy_unlisted {
        UNLISTED_BLOCK_DEVICE = 0,    /* the whole device is blocked (default: a "stick" that is also a keyboard) */
        UNLISTED_DISABLE,             /* the device is authorised, only the listed interfaces are */
};

/* The approval fields shared by every entry. Times are seconds since the epoch. */
struct policy_approval {
        char *permit;                 /* the permission's reference, unique in the file */
        char *label;
        char *approved_by;
        char *purpose;
        char *holder;                 /* may be NULL */
        /* The dates as written, for display and rewriting (NULL when not given). */
        char *approved_on_text;
        char *valid_from_text;
        char *valid_until_text;
        int64_t approved_on;
        int64_t valid_from;           /* TIME_NEG_INFINITY when not given */
        int64_t valid_until;          /* exclusive end; TIME_INFINITY when not given. A date-only
                                       * value means "through that day": the next local midnight. */
        /* `workstations`: the hosts the entry applies on (host names or machine-ids), a subset of
         * the policy's `workstation` list; NULL: every host the policy is for. policy_load()
         * drops the entries that do not apply on the host it loads for. */
        char **workstations;
        uint32_t n_workstations;      /* <= POLICY_WORKSTATIONS_MAX */
        unsigned line;                /* where the entry starts in the file */
};

/* "08:06:50", or with "*" for subclass and/or protocol: "03:*:*". */
struct policy_interface_pattern {
        struct usb_interface_class c;
        bool any_subclass;            /* then c.subclass is 0 and not compared */
        bool any_protocol;            /* then c.protocol is 0 and not compared */
};

#define POLICY_INTERFACE_PATTERN_MAX 9        /* "cc:ss:pp" and the NUL */

/* The one text form of a pattern, for the policy file, `policyctl approve --interfaces` and
 * `policyctl show` (policy-pattern.c). Parsing takes S's LEN bytes: "CC:SS:PP", two hex digits
 * each (either case), SS and PP each may be "*", nothing else; -EINVAL otherwise. Formatting
 * writes lowercase. */
int policy_interface_pattern_parse(const char *s, size_t len, struct policy_interface_pattern *ret);
void policy_interface_pattern_format(const struct policy_interface_pattern *p,
                                     char buf[static POLICY_INTERFACE_PATTERN_MAX]);
/* Whether A and B stand for the same interfaces (a "*" byte is not compared). */
bool policy_interface_pattern_equal(const struct policy_interface_pattern *a,
                                    const struct policy_interface_pattern *b);

/* Whether a medium must pass a virus scan before it is usable, and whether every file written
 * to it is scanned too (docs/policy.md "scan"). An entry that says nothing follows defaults.scan. */
struct policy;
enum __attribute__((packed)) policy_scan {
        POLICY_SCAN_DEFAULT = 0,      /* not given: defaults.scan (in defaults.scan itself: none) */
        POLICY_SCAN_NONE,             /* "none" */
        POLICY_SCAN_REQUIRED,         /* "required": before use */
        POLICY_SCAN_IN_AND_OUT,       /* "in-and-out": before use, and each file written to it (carried out) */
        _POLICY_SCAN_MAX,
};
/* "none", "required", "in-and-out" (DEFAULT: NULL). */
const char *policy_scan_to_string(enum policy_scan s);
/* What S means under P's defaults: NONE, REQUIRED or IN_AND_OUT. */
enum policy_scan policy_scan_effective(const struct policy *p, enum policy_scan s);

/* The bounds of a scan (the policy's `scan` group). A medium whose scan exceeds one stays held. */
#define POLICY_SCAN_SECONDS_DEFAULT 900
#define POLICY_SCAN_SECONDS_MAX 86400
#define POLICY_SCAN_MEGABYTES_DEFAULT 65536       /* 64 GiB */
#define POLICY_SCAN_MEGABYTES_MAX (INT64_C(1) << 24)  /* 16 TiB */
#define POLICY_SCAN_DATABASE_DAYS_DEFAULT 7
#define POLICY_SCAN_DATABASE_DAYS_MAX 3650
struct policy_scan_limits {
        int64_t max_seconds;          /* the whole scan of a medium, 1..POLICY_SCAN_SECONDS_MAX */
        int64_t max_megabytes;        /* the bytes of its files, in MiB */
        int64_t max_database_days;    /* the scanner's signatures at most this old; 0: not checked */
};

struct policy_usb_entry {
        struct policy_approval approval;
        char *serial;                 /* "" approves units that report no serial */
        char *path;                   /* udev ID_PATH of the port it must be plugged into; NULL: any port */
        struct policy_interface_pattern *interfaces;
        uint16_t vendor;
        uint16_t product;
        uint8_t n_interfaces;         /* <= USB_INTERFACES_MAX */
        /* Bit-fields: the entry is 136 bytes with them, 144 without (the flags in one byte). */
        bool has_interfaces : 1;      /* false: no `interfaces` key, any interface set matches */
        bool read_only : 1;
        bool hidraw_user : 1;         /* its hidraw nodes are left to udev's rules (uaccess for the seat's
                                       * user); false: root only, whatever the rules say */
        enum policy_unlisted unlisted : 1;
        enum policy_scan scan : 3;          /* 3 bits: _POLICY_SCAN_MAX (4) is a value of the type */
};
_Static_assert(USB_INTERFACES_MAX <= UINT8_MAX, "n_interfaces fits its field");
_Static_assert(UNLISTED_DISABLE < (1 << 1) && _POLICY_SCAN_MAX < (1 << 3), "the enums fit their bit-fields");

struct policy_net_entry {
        struct policy_approval approval;
        bool has_mac;
        uint8_t mac[6];
        char *path;                   /* NULL when not given */
        char *kind;                   /* NULL when not given */
        char *name;                   /* fnmatch(3) glob, NULL when not given */
        unsigned wireless_modes;      /* bit (1 << enum wireless_mode): modes the link may be in
                                       * besides a client's (`wireless_modes`, e.g. "ap") */
};

/* A wireless network the workstation's approved cards may join (docs/policy.md, "wireless"). */
struct policy_wireless_entry {
        struct policy_approval approval;
        uint8_t ssid[WIRELESS_SSID_MAX];
        size_t ssid_len;              /* >= 1 */
        bool ssid_is_hex;             /* written as ssid_hex (not printable as text) */
        size_t n_bssids;              /* 0: any access point with that SSID */
        uint8_t (*bssids)[6];
        enum wireless_security security; /* the least accepted: OPEN, WPA2_PSK, WPA2_ENTERPRISE or WPA3_SAE */
};

/* A removable medium that is not on USB (docs/policy.md "MEDIA ENTRIES"): every identity key
 * given must equal the medium's; NULL is not compared. An optical entry approves the discs put
 * into one drive: reading them (read_only) or also writing them (burning). */
struct policy_media_entry {
        struct policy_approval approval;
        enum media_bus bus;
        char *vendor;
        char *model;
        char *serial;
        char *oemid;                  /* mmc only */
        char *date;                   /* mmc only */
        char *path;                   /* udev ID_PATH of the slot, port or drive */
        bool read_only;
        enum policy_scan scan;
};

/* A disk of the workstation itself, listed by the policy (`fixed_disks`): never a subject,
 * never touched. Same keys as a media entry's identity, at least a serial or a path. */
struct policy_fixed_disk {
        enum media_bus bus;
        char *vendor;
        char *model;
        char *serial;
        char *path;
        char *label;
        unsigned line;
};

struct policy_index;                  /* hash indices, owned by policy-match.c */
struct policy_image_backing;          /* the mapping of a compiled image, owned by policy-image.c */

struct policy {
        char *source;                 /* the name used in messages (usually the file's path) */
        int version;
        uint64_t serial;
        int64_t issued;
        char *issued_text;
        char *issuer;
        char *contract;
        /* Who the permission is for, as the weekly report names them (Kisarazu art. 4, Akiruno 2):
         * the contractor (受注者) and its responsible person (情報管理責任者). NULL when not given. */
        char *contractor;
        char *responsible;
        /* `workstation`: one host name or machine-id, or a list of them (a fleet under one
         * signature); NULL/0: any host. WORKSTATION is the list as one text ("ws-01, ws-02"),
         * for messages and displays. */
        char **workstations;
        size_t n_workstations;
        char *workstation;
        int64_t valid_until;          /* TIME_INFINITY when not given; exclusive like an entry's */
        char *valid_until_text;

        enum policy_action default_usb_hid;
        enum policy_action default_usb_hub;
        enum policy_action default_usb_other;
        enum policy_action default_network;
        enum policy_action default_wireless; /* networks no `wireless` entry names, and modes no permit names */
        enum policy_action default_media;
        enum policy_scan default_scan; /* defaults.scan: DEFAULT (not given) means none */
        struct policy_scan_limits scan_limits;

        size_t n_usb;
        struct policy_usb_entry *usb;
        size_t n_net;
        struct policy_net_entry *net;
        size_t n_wireless;
        struct policy_wireless_entry *wireless;
        size_t n_media;
        struct policy_media_entry *media;
        size_t n_fixed;
        struct policy_fixed_disk *fixed;

        struct policy_index *index;
        /* Set by the parser: the policy's strings (all but source and workstation; the arrays of
         * them and of interfaces and BSSIDs are allocated on their own) are those of the syntax
         * tree it was read from (policy-config.h), freed at once by policy_free(); or, with
         * STRINGS_BORROWED, of a tree its caller keeps (policy_parse_added_entry). Neither: each
         * string was allocated on its own. */
        struct pconf_strings *strings;
        bool strings_borrowed;
        /* Set when the policy was read from its compiled image (policy-image.h): its strings live
         * in the image's mapping, and policy_free() hands it to policy_image_free(). */
        struct policy_image_backing *image;
};

struct policy_diag {
        char **messages;              /* in file order; warnings contain ": warning: " */
        size_t n_messages;
        size_t n_errors;
        size_t n_warnings;
};

void policy_diag_done(struct policy_diag *d);

/* Parses TEXT (LEN bytes; an embedded NUL is an error) as a policy. SOURCE names the file in
 * messages. On success returns 0 and a policy with its indices built (policy_index_build).
 * On error returns -EINVAL (format) or -ENOMEM, and DIAG (if not NULL) says why; DIAG also
 * collects warnings on success. Messages are appended to DIAG in file order (initialise it to
 * {}; release it with policy_diag_done), at most 100 per call plus one "N more" line. */
int policy_parse(const char *text, size_t len, const char *source, struct policy **ret, struct policy_diag *diag);

/* policy_parse that also hands back the syntax tree the policy was read from (policy-config.h),
 * for a caller that compares it with another (policy-edit.c). RET_TREE may be NULL. The tree's
 * strings are the policy's (struct policy's `strings`): the tree is read while the policy lives. */
struct pconf;
int policy_parse_tree(const char *text, size_t len, const char *source, struct policy **ret, struct pconf **ret_tree,
                      struct policy_diag *diag);

/* For policy-edit.c, which checks an edit by comparing syntax trees: reads the group G as the
 * entry it is in the list KEY ("usb", "network", "wireless" or "media") at INDEX, with every
 * check policy_parse would make of it, on its own and against the entries of the valid policy
 * P (its permit used already, an overlapping window for the same USB device, workstations P is
 * not for). Returns 0 and a policy holding that one entry (and nothing of P) in *RET; -EINVAL
 * with DIAG saying why; -ENOMEM. */
struct pconf_node;
int policy_parse_added_entry(const struct policy *p, const struct pconf_node *g, const char *key, size_t index,
                             const char *source, struct policy **ret, struct policy_diag *diag);

/* Reads PATH (bounded by POLICY_FILE_MAX) and parses it. For checking only: whoever enforces
 * must verify the signature over the same bytes it parses (see policy-load.h). */
int policy_parse_file(const char *path, struct policy **ret, struct policy_diag *diag);

struct policy *policy_free(struct policy *p);

static inline void policy_freep(struct policy **p) {
        if (*p)
                policy_free(*p);
}

/* Whether the policy as a whole may be enforced now on this host: -EKEYEXPIRED after its
 * valid_until, -EXDEV when `workstation` names neither HOSTNAME nor MACHINE_ID (either may be
 * NULL). 0 otherwise. */
int policy_check_applicable(const struct policy *p, int64_t now, const char *hostname, const char *machine_id);

#define POLICY_WORKSTATIONS_MAX 10000  /* names in one `workstation` or `workstations` list */

/* Whether LIST (N names; N == 0: every host) names HOSTNAME or MACHINE_ID (case-insensitive). */
bool policy_names_host(char *const *list, size_t n, const char *hostname, const char *machine_id);

/* Drops the entries whose `workstations` name neither HOSTNAME nor MACHINE_ID and rebuilds the
 * indices: what is left is what this host enforces. Returns how many entries were dropped, or
 * -ENOMEM (P is then unchanged but for entries already dropped; its indices are rebuilt). */
int policy_restrict_to_host(struct policy *p, const char *hostname, const char *machine_id);

/* Writes P as a clean canonical policy file (all fields, no comments), for the cases where a
 * text edit cannot keep the original layout, and for generated policies. */
int policy_write(const struct policy *p, char **ret);

/* Lookup by permit reference (linear; for tools, not for the event path). */
const struct policy_usb_entry *policy_find_usb_permit(const struct policy *p, const char *permit);
const struct policy_net_entry *policy_find_net_permit(const struct policy *p, const char *permit);
const struct policy_wireless_entry *policy_find_wireless_permit(const struct policy *p, const char *permit);
const struct policy_media_entry *policy_find_media_permit(const struct policy *p, const char *permit);

const char *policy_action_to_string(enum policy_action a);
