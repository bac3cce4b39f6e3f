/* SPDX-License-Identifier: MIT */
/* The network links that may stay up without a valid policy: only those present when kyokad
 * first ran on a machine that had never accepted a policy (its installation), so that
 * installing kyoka does not cut the admin off before the first policy arrives.
 *
 * Without a valid policy, links are blocked as USB devices are (loopback aside). Once a policy
 * has been accepted (STATE_DIR/policy.state exists) this list is never used again, and before
 * that, a link that appears after the first start is not on it: a link blocked before a restart
 * is never usable after it. The list is STATE_DIR/network-at-install, written once, one link a
 * line (MAC, permanent or current, kind, name, path: everything but the ifindex, which the next
 * boot renumbers). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"
#include "kyoka-names.h"

#define NET_ALLOWANCE_MAX 4096        /* links, as net-links.c tracks at most */

struct net_allowance {
        size_t n;
        struct net_identity *links;   /* ifindex 0, driver "" */
};

/* Reads STATE_DIR's list: -ENOENT when there is none (the first start), -EBADMSG when it is
 * not exactly what net_allowance_format writes (callers then allow nothing). */
int net_allowance_read(const char *state_dir, struct net_allowance **ret);
/* Creates STATE_DIR's list, empty: -EEXIST if there is one. Done before the links of the first
 * start are decided, so that a crash (or a failure to write the full list) leaves a list that
 * allows nothing, never "no list" (which would make the next start a first start again). */
int net_allowance_begin(const char *state_dir);
/* Replaces STATE_DIR's list with A (atomically). */
int net_allowance_write(const char *state_dir, const struct net_allowance *a);
/* Adds ID (its ifindex and driver are not kept). -E2BIG beyond NET_ALLOWANCE_MAX. */
int net_allowance_add(struct net_allowance *a, const struct net_identity *id);
/* True if a link with ID's identity (all but ifindex and driver) is on the list. */
bool net_allowance_contains(const struct net_allowance *a, const struct net_identity *id);
struct net_allowance *net_allowance_free(struct net_allowance *a);

/* The file's bytes for A (newly allocated, NUL-terminated), and back. */
int net_allowance_format(const struct net_allowance *a, char **ret, size_t *ret_size);
int net_allowance_parse(const char *text, size_t size, struct net_allowance **ret);
