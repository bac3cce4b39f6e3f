/* SPDX-License-Identifier: MIT */
/* What a policy would change on this workstation, before it is installed (`install --dry-run`,
 * and the guard of a real install): the present devices and links as kyokad lists them
 * (docs/control.md "list"), each decided again with the new policy by the same matching kyokad
 * uses (policy_match_usb/net/media, policy_match_fixed), and the links that carry the caller's
 * SSH session or a default route.
 *
 * preview_compute() is pure (the list reply and the policy in, the changes out: unit tested
 * without a socket); preview_find_carriers() reads this network namespace's addresses and
 * routes. Neither prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "policy-match.h"

struct json_object;

enum preview_carrier {
        PREVIEW_CARRIES_SSH = 1u << 0,            /* the local address of $SSH_CONNECTION is on it */
        PREVIEW_CARRIES_DEFAULT_ROUTE = 1u << 1,  /* a default route (IPv4 or IPv6) leaves through it */
};

enum preview_kind {
        PREVIEW_USB,                      /* "devices" of the list */
        PREVIEW_MEDIUM,                   /* "media": a disk not on USB */
        PREVIEW_LINK,                     /* "links" */
};

struct preview_item {
        struct json_object *listed;       /* the object of the list reply (borrowed: for printing) */
        enum preview_kind kind;
        bool is_link;                     /* kind == PREVIEW_LINK */
        char name[NET_NAME_MAX];          /* a link's name (carriers are matched on it) */
        enum policy_verdict before, after; /* a fixed disk (the workstation's own) counts as allowed */
        bool unreadable;                  /* kyokad could not read the identity: blocked either way */
        char reason[512];                 /* the new decision, as kyokad would record it */
        unsigned carries;                 /* enum preview_carrier, set by preview_mark_carriers() */
};

struct preview {
        struct preview_item *items;
        size_t n_items;
        size_t n_changed;
};

void preview_done(struct preview *p);

/* Decides every device and link of LIST (a `list` reply; not modified, must outlive *RET) with
 * POLICY at NOW. -EBADMSG (and a message in ERR) when an entry of the list cannot be read as an
 * identity; -ENOMEM. *RET written only on success. */
int preview_compute(struct json_object *list, const struct policy *policy, int64_t now, struct preview *ret,
                    char *err, size_t err_size);

/* The names of the links that carry SSH_CONNECTION's local address (NULL or "": none) and the
 * default routes of this network namespace, as a set of CARRIER bits per name: fills *RET_NAMES
 * (NUL-separated, at most MAX names) and RET_BITS. Returns how many; -errno when the addresses
 * or routes cannot be read (the caller then cannot promise anything: it refuses). */
#define PREVIEW_CARRIERS_MAX 16
int preview_find_carriers(const char *ssh_connection, char names[static PREVIEW_CARRIERS_MAX][NET_NAME_MAX],
                          unsigned bits[static PREVIEW_CARRIERS_MAX]);

/* Marks the links of P named in NAMES/BITS (N of them). */
void preview_mark_carriers(struct preview *p, char names[][NET_NAME_MAX], const unsigned bits[], size_t n);

/* Whether ITEM would cut what carries the caller: a link that carries something, allowed now and
 * blocked by the new policy. */
bool preview_item_cuts(const struct preview_item *item);
