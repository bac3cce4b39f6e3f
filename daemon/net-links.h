/* SPDX-License-Identifier: MIT */
/* kyokad's network half: the links it knows (keyed on ifindex; the name is only one part of
 * the identity, since udev renames links), their decisions, and the enforcement that keeps
 * unapproved links down (net-enforce.c) and their packets dropped (net-firewall.c).
 *
 * The manager owns the policy and the time-window timer; it hands the policy in here on start
 * and after every change, and asks for the earliest time a link's decision changes by time. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "identity.h"
#include "policy-match.h"
#include "policy.h"

struct net;

/* Called when net_next_change() may have moved (a link appeared or left): re-arm the timer. */
typedef void (*net_timer_changed_t)(void *userdata);

/* Subscribes to link events, decides every link present, then installs the firewall tables.
 * P is borrowed: the manager must call net_policy_changed() whenever it replaces or frees it.
 * Without a valid policy (P == NULL) links are blocked, loopback aside, with one exception
 * (net-allowance.h): on a machine that never accepted a policy, INSTALL (taken over; NULL:
 * none) lists the links that stay as they are until the first policy, and FIRST_START says
 * that there is no list yet: then every link present now is on it (net_installation_list()
 * gives it, to be written). A fault records the links left so. REC (borrowed, outlives the
 * result) records every decision, violation and fault. */
struct net_allowance;
struct recorder;
int net_start(sd_event *e, struct recorder *rec, const struct policy *p, struct net_allowance *install,
              bool first_start, net_timer_changed_t changed, void *userdata, struct net **ret);
/* The links left as they are for the installation (see net_start), as a new list. */
int net_installation_list(const struct net *n, struct net_allowance **ret);
/* Re-decides every link under P (after a reload, or at a time boundary). */
void net_policy_changed(struct net *n, const struct policy *p);
/* The earliest time any link's decision may change by time alone, or TIME_INFINITY. */
int64_t net_next_change(const struct net *n);
/* Why kyokad's nftables tables are not (all) in force: the kernel has no nf_tables, or the last
 * update failed (links are still kept down). NULL when they are. */
const char *net_firewall_problem(const struct net *n);
/* Records what is still counted (violations of the current windows): before kyokad records its
 * stop. */
void net_stop(struct net *n);
struct net *net_free(struct net *n);

/* A wireless link's side of its status. */
struct net_link_wireless {
        enum wireless_mode mode;
        bool associated;              /* an association kyokad decided is current */
        bool approved;                /* ... approved; else refused and being cut off */
        const struct wireless_network *network;  /* the current association's, when associated */
        const char *reason;           /* of the current association's decision */
        const char *permit;           /* "" unless a `wireless` permit approved it */
        uint64_t refused;             /* associations refused and cut off since kyokad saw the link */
        const struct wireless_network *last_refused;  /* NULL if none */
};

/* For `policyctl status/list/request`: one link as kyokad sees it (borrowed for the call). */
struct net_link_status {
        const struct net_identity *id;
        bool up;                      /* IFF_UP as last reported */
        enum policy_verdict verdict;
        const char *reason;
        const char *permit;           /* "" unless a permit decided */
        uint64_t violations;          /* times it was set up while blocked (recorded or still counted) */
        const struct net_link_wireless *wireless;  /* NULL unless a wireless link */
};
typedef void (*net_link_visitor_t)(const struct net_link_status *s, void *userdata);
void net_foreach_link(struct net *n, net_link_visitor_t visit, void *userdata);

/* For `policyctl request --wireless IFNAME --ssid ...`: the access points of the kernel's last
 * scan on link IFINDEX that call themselves SSID (LEN bytes). -ENODEV if the link is not
 * wireless or not known, -ENOENT if no access point has that SSID. */
int net_wireless_scan(struct net *n, int ifindex, const uint8_t *ssid, size_t len, struct wireless_request *ret);
