/* SPDX-License-Identifier: MIT */
/* The nftables worker: the only code of kyoka that calls libnftables, run in a child process
 * (`kyokad --nft-worker`, see nft-protocol.h), so that libnftables' exit() on a kernel without
 * nf_tables, or on a failed allocation, ends the worker and never kyokad.
 *
 * The tables it keeps (docs/network.md): `inet`/`arp`/`bridge kyoka` drop every packet received
 * on or sent to an interface whose ifindex is not in their set of approved links. Taking a link
 * down (net-enforce.c) leaves a window between someone setting it up and kyokad seeing it;
 * these tables close it for everything that passes the IP, ARP or bridge layer, and they deny a
 * link that appears before kyokad has decided it, since its new ifindex is in no set. Their text
 * holds only integers (ifindexes).
 *
 * Raw frames (AF_PACKET: DHCP clients, packet generators) pass none of those hooks, so each
 * blocked link also gets an egress chain in `table netdev kyoka` that drops everything it would
 * send. Such a chain names its device, so it can only exist once kyokad has seen the link: it
 * is built as JSON with json-c (names escaped, never interpolated into nft's syntax). */
#pragma once

#include <stddef.h>

/* Serves requests on FD (a SOCK_SEQPACKET socket) until the other end closes it. Returns the
 * process's exit status. Exits with the parent (PR_SET_PDEATHSIG). */
int nft_worker_main(int fd);

/* The nft script that replaces kyokad's tables (newly allocated): traffic passes only on the
 * ifindexes in ALLOWED (N of them, duplicates allowed). -EINVAL if an ifindex is <= 0. */
int nft_ruleset(const int *allowed, size_t n, char **ret);

/* The same for some of the tables only: the worker falls back to one transaction per table when
 * the whole fails, so that a family the kernel lacks leaves the others in force. */
enum {
        NFT_TABLE_INET = 1u << 0,
        NFT_TABLE_ARP = 1u << 1,
        NFT_TABLE_BRIDGE = 1u << 2,
        NFT_TABLE_ALL = NFT_TABLE_INET | NFT_TABLE_ARP | NFT_TABLE_BRIDGE,
};
int nft_ruleset_families(const int *allowed, size_t n, unsigned families, char **ret);
