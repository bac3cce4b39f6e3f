/* SPDX-License-Identifier: MIT */
/* Defence in depth for network links: nftables tables that kyokad owns (`inet kyoka`, `arp
 * kyoka`, `bridge kyoka`) drop every packet received on or sent to an interface whose ifindex is
 * not in their set of approved links. Taking a link down (net-enforce.c) leaves a window
 * between someone setting it up and kyokad seeing it; these tables close it for everything
 * that passes the IP, ARP or bridge layer, and they deny a link that appears before kyokad has
 * decided it, since its new ifindex is in no set. Their text holds only integers (ifindexes).
 *
 * Raw frames (AF_PACKET: DHCP clients, packet generators) pass none of those hooks, so each
 * blocked link also gets an egress chain in `table netdev kyoka` that drops everything it would
 * send. Such a chain names its device, so it can only exist once kyokad has seen the link: it
 * is built as JSON with json-c (names escaped, never interpolated into nft's syntax). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct net_firewall;

int net_firewall_new(struct net_firewall **ret);
/* Replaces kyokad's tables in one transaction (never a moment without them): traffic passes
 * only on the ifindexes in ALLOWED (N of them, each > 0; duplicates allowed). If that fails,
 * each table is replaced in its own transaction: -EIO then means that the tables named in
 * *ret_error (if not NULL; "table bridge kyoka: <libnftables' message>") stay as they were,
 * and the others are in force. */
int net_firewall_apply(struct net_firewall *fw, const int *allowed, size_t n, char **ret_error);
/* Drops everything IFINDEX (named NAME, a name as the kernel reports it) sends, in the netdev
 * egress hook: chain "l<IFINDEX>" of `table netdev kyoka`. REPLACE: a chain for IFINDEX exists
 * (the link was renamed: kernels from 6.16 bind the hook to the name) and is replaced in the same
 * transaction. -EINVAL if NAME is not a plain name (a sanitised one with escapes). */
int net_firewall_block_egress(struct net_firewall *fw, int ifindex, const char *name, bool replace, char **ret_error);
/* Removes that chain (the link was approved or is gone); a missing chain is not an error. */
int net_firewall_unblock_egress(struct net_firewall *fw, int ifindex);
struct net_firewall *net_firewall_free(struct net_firewall *fw);

/* The nft script net_firewall_apply runs (newly allocated). -EINVAL if an ifindex is <= 0. */
int net_firewall_ruleset(const int *allowed, size_t n, char **ret);

/* The same for some of the tables only: net_firewall_apply falls back to one transaction per
 * table when the whole fails, so that a family the kernel lacks leaves the others in force. */
enum {
        NET_FIREWALL_INET = 1u << 0,
        NET_FIREWALL_ARP = 1u << 1,
        NET_FIREWALL_BRIDGE = 1u << 2,
        NET_FIREWALL_ALL = NET_FIREWALL_INET | NET_FIREWALL_ARP | NET_FIREWALL_BRIDGE,
};
int net_firewall_ruleset_families(const int *allowed, size_t n, unsigned families, char **ret);
