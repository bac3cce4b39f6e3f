/* SPDX-License-Identifier: MIT */
/* kyokad's side of the network firewall: the tables themselves are described in nft-worker.h.
 * libnftables runs only in the worker process this module starts (nft-protocol.h says why);
 * every call here is one request and its reply, on the loop, bounded by a timeout.
 *
 * Fail closed: the tables stay in the kernel whatever happens to the worker (a new link's
 * ifindex is in no set: its traffic is dropped). A worker that dies or hangs fails the request
 * in flight (kyokad records it; links are still kept down) and is started again by the next
 * request. A kernel without nf_tables fails net_firewall_new(): kyokad then keeps unapproved
 * links down without the tables. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct net_firewall;

/* Starts the worker (WORKER: the program to run as `WORKER --nft-worker`; NULL: this kyokad
 * itself, through /proc/self/exe) and empties `table netdev kyoka`. On failure returns a
 * negative errno (-EPROTONOSUPPORT: the kernel has no nf_tables) and, if RET_ERROR is not NULL,
 * a message for the fault record. */
int net_firewall_new(const char *worker, char **ret_error, struct net_firewall **ret);
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
/* Stops the worker; the tables stay in the kernel. */
struct net_firewall *net_firewall_free(struct net_firewall *fw);
