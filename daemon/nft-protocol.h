/* SPDX-License-Identifier: MIT */
/* The messages between kyokad (net-firewall.c) and its nftables worker (nft-worker.c).
 *
 * libnftables ends the process that calls it when it cannot open its netlink socket (a kernel
 * without nf_tables: `mnl.c:60: Unable to initialize Netlink socket`, exit status 3) or when an
 * allocation fails. kyokad must keep enforcing USB devices and keeping links down whatever the
 * firewall does, so libnftables only ever runs in a child process: kyokad itself executed again
 * as `kyokad --nft-worker`, talking over a SOCK_SEQPACKET socketpair (fd NFT_WORKER_FD in the
 * child). One request, one reply, in order. The worker's death is a failure of the request in
 * flight, never of kyokad.
 *
 * Both ends are kyokad, but the decoder still checks every length: a message is a fixed header,
 * then exactly `n_allowed` ifindexes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NFT_WORKER_ARG "--nft-worker"
#define NFT_WORKER_FD 3

#define NFT_NAME_MAX 16               /* IFNAMSIZ, with the NUL */
#define NFT_ALLOWED_MAX 4096          /* net-links.c tracks at most this many links */
#define NFT_ERROR_MAX 1024            /* libnftables' message, truncated */
#define NFT_REQUEST_MAX (sizeof(struct nft_request_header) + NFT_ALLOWED_MAX * sizeof(int32_t))

enum nft_op {
        NFT_OP_INIT = 1,              /* check nf_tables, set up libnftables; RESET: empty `table netdev kyoka` */
        NFT_OP_APPLY,                 /* replace the inet/arp/bridge tables: traffic only on `allowed` */
        NFT_OP_BLOCK_EGRESS,          /* add chain l<ifindex> on device `name` (flag REPLACE: swap an existing one) */
        NFT_OP_UNBLOCK_EGRESS,        /* delete chain l<ifindex> */
};

#define NFT_FLAG_REPLACE 1u           /* BLOCK_EGRESS */
#define NFT_FLAG_RESET 2u             /* INIT: kyokad starts; not when a worker is started again */

struct nft_request_header {
        uint32_t op;
        uint32_t flags;
        int32_t ifindex;
        char name[NFT_NAME_MAX];
        uint32_t n_allowed;
        /* followed by n_allowed int32_t ifindexes (NFT_OP_APPLY only) */
};

struct nft_request {
        enum nft_op op;
        uint32_t flags;
        int ifindex;
        char name[NFT_NAME_MAX];
        size_t n_allowed;
        const int32_t *allowed;       /* points into the decoded buffer */
};

struct nft_reply {
        int32_t r;                    /* 0 or a negative errno */
        char error[NFT_ERROR_MAX];    /* NUL-terminated; "" when r == 0 */
};

/* REQ as one message into BUF (SIZE bytes; NFT_REQUEST_MAX is enough). Returns the length, or
 * -EINVAL (unknown op, ifindex <= 0 where one is needed, name not a NUL-terminated plain name,
 * too many ifindexes) or -ENOBUFS. */
ssize_t nft_request_encode(const struct nft_request *req, void *buf, size_t size);
/* One received message (SIZE bytes) -> *RET, whose `allowed` points into BUF. -EBADMSG for
 * anything nft_request_encode would not have written. */
int nft_request_decode(const void *buf, size_t size, struct nft_request *ret);
/* A received reply: -EBADMSG unless it is exactly one struct nft_reply with a NUL-terminated
 * error and r <= 0. */
int nft_reply_decode(const void *buf, size_t size, struct nft_reply *ret);

const char *nft_op_to_string(enum nft_op op);
