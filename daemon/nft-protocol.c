/* SPDX-License-Identifier: MIT */
#include "nft-protocol.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

static bool op_valid(uint32_t op) {
        return op >= NFT_OP_INIT && op <= NFT_OP_UNBLOCK_EGRESS;
}

/* A device name as the kernel reports it: 1..15 bytes, no '/', no whitespace, no backslash
 * (net-identity sanitises names with backslash escapes: such a name is not the device's). */
static bool name_valid(const char *name) {
        size_t n = strnlen(name, NFT_NAME_MAX);
        if (n == 0 || n >= NFT_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (name[i] == '/' || name[i] == '\\' || (unsigned char) name[i] <= ' ' || name[i] == 0x7f)
                        return false;
        return true;
}

static int check(enum nft_op op, int ifindex, const char *name, size_t n_allowed) {
        if (!op_valid(op) || n_allowed > NFT_ALLOWED_MAX || (op != NFT_OP_APPLY && n_allowed > 0))
                return -EINVAL;
        if ((op == NFT_OP_BLOCK_EGRESS || op == NFT_OP_UNBLOCK_EGRESS) && ifindex <= 0)
                return -EINVAL;
        if (op == NFT_OP_BLOCK_EGRESS && !name_valid(name))
                return -EINVAL;
        return 0;
}

ssize_t nft_request_encode(const struct nft_request *req, void *buf, size_t size) {
        struct nft_request_header h = {
                .op = req->op,
                .flags = req->flags,
                .ifindex = req->ifindex,
                .n_allowed = (uint32_t) req->n_allowed,
        };
        int r;

        memcpy(h.name, req->name, sizeof h.name);
        h.name[NFT_NAME_MAX - 1] = 0;
        r = check(req->op, req->ifindex, req->op == NFT_OP_BLOCK_EGRESS ? req->name : "x", req->n_allowed);
        if (r < 0)
                return r;
        for (size_t i = 0; i < req->n_allowed; i++)
                if (req->allowed[i] <= 0)
                        return -EINVAL;
        size_t len = sizeof h + req->n_allowed * sizeof(int32_t);
        if (len > size)
                return -ENOBUFS;
        memcpy(buf, &h, sizeof h);
        if (req->n_allowed > 0)
                memcpy((uint8_t *) buf + sizeof h, req->allowed, req->n_allowed * sizeof(int32_t));
        return (ssize_t) len;
}

int nft_request_decode(const void *buf, size_t size, struct nft_request *ret) {
        struct nft_request_header h;

        if (size < sizeof h)
                return -EBADMSG;
        memcpy(&h, buf, sizeof h);
        if (memchr(h.name, 0, sizeof h.name) == NULL)
                return -EBADMSG;
        if (h.n_allowed > NFT_ALLOWED_MAX || size != sizeof h + (size_t) h.n_allowed * sizeof(int32_t))
                return -EBADMSG;
        if (check(h.op, h.ifindex, h.op == NFT_OP_BLOCK_EGRESS ? h.name : "x", h.n_allowed) < 0)
                return -EBADMSG;
        /* The ifindexes follow the header unaligned in BUF only if BUF is: the receiver's buffer
         * is malloc'd and the header's size is a multiple of 4. */
        const int32_t *allowed = (const int32_t *) (const void *) ((const uint8_t *) buf + sizeof h);
        for (size_t i = 0; i < h.n_allowed; i++) {
                int32_t v;
                memcpy(&v, &allowed[i], sizeof v);
                if (v <= 0)
                        return -EBADMSG;
        }
        *ret = (struct nft_request) {
                .op = h.op,
                .flags = h.flags,
                .ifindex = h.ifindex,
                .n_allowed = h.n_allowed,
                .allowed = h.n_allowed > 0 ? allowed : NULL,
        };
        memcpy(ret->name, h.name, sizeof ret->name);
        return 0;
}

int nft_reply_decode(const void *buf, size_t size, struct nft_reply *ret) {
        struct nft_reply rep;

        if (size != sizeof rep)
                return -EBADMSG;
        memcpy(&rep, buf, sizeof rep);
        if (rep.r > 0 || rep.r < -4095 || memchr(rep.error, 0, sizeof rep.error) == NULL)
                return -EBADMSG;
        *ret = rep;
        return 0;
}

const char *nft_op_to_string(enum nft_op op) {
        switch (op) {
        case NFT_OP_INIT:           return "init";
        case NFT_OP_APPLY:          return "apply";
        case NFT_OP_BLOCK_EGRESS:   return "block-egress";
        case NFT_OP_UNBLOCK_EGRESS: return "unblock-egress";
        }
        return "?";
}
