/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a request to the nftables worker (nft-protocol.c). What decodes must encode
 * to the same bytes, and every ifindex in it must be positive. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct nft_request req;
        uint8_t *buf = malloc(size ? size : 1), *again = malloc(NFT_REQUEST_MAX);

        if (!buf || !again)
                abort();
        memcpy(buf, data, size);
        if (nft_request_decode(buf, size, &req) == 0) {
                for (size_t i = 0; i < req.n_allowed; i++)
                        if (req.allowed[i] <= 0)
                                abort();
                ssize_t n = nft_request_encode(&req, again, NFT_REQUEST_MAX);
                /* The name's bytes after its NUL are not kept: compare up to them. */
                size_t name = offsetof(struct nft_request_header, name), rest = offsetof(struct nft_request_header, n_allowed);
                if (n != (ssize_t) size || memcmp(again, buf, name) != 0 ||
                    strcmp((const char *) again + name, req.name) != 0 || memcmp(again + rest, buf + rest, size - rest) != 0)
                        abort();
        }
        struct nft_reply rep;
        (void) nft_reply_decode(buf, size, &rep);
        free(buf);
        free(again);
        return 0;
}
