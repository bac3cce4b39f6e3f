/* SPDX-License-Identifier: MIT */
/* Turns a link decision into kernel state over rtnetlink: an unapproved link is set down.
 * Keeping it down is net-links.c's job (it calls this again on every RTM_NEWLINK that shows
 * the link up); the packets that could pass in between are net-firewall.c's. */
#pragma once

struct net_enforce;

int net_enforce_new(struct net_enforce **ret);
/* Clears IFF_UP on IFINDEX and waits for the kernel's answer. -ENODEV if the link is gone. */
int net_enforce_set_down(struct net_enforce *e, int ifindex);
struct net_enforce *net_enforce_free(struct net_enforce *e);
