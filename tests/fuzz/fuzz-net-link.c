/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an rtnetlink RTM_NEWLINK/RTM_DELLINK message, parsed into the link's
 * identity. The kernel writes these, but the attributes come from drivers and from whoever may
 * create links in the namespace (names, kinds, addresses). Two ways in:
 *   - as kyokad gets it: libnl has split the stream (nlmsg_ok: nlmsg_len covers the header and
 *     lies within what was received), net-watch.c has checked the type and passes nlmsg_len;
 *     the input is the ifinfomsg and attributes, the header is built around them;
 *   - the raw bytes with their own header and any LEN, which net_link_parse must check itself.
 * The first input byte chooses. Buffers are exact-size, so any read past them is reported. */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net-identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct nlmsghdr *h, size_t len) {
        struct net_link_info info;
        struct net_identity id;

        if (net_link_parse(h, len, &info) < 0)
                return;
        if (info.ifindex <= 0)
                abort();
        size_t n = strnlen(info.name, sizeof info.name);
        if (n == 0 || n == sizeof info.name || strnlen(info.kind, sizeof info.kind) == sizeof info.kind)
                abort();
        net_identity_from_info(&info, &id);
        if (!net_identity_equal(&id, &id) || id.ifindex != info.ifindex)
                abort();
        if (id.has_mac && (id.mac_is_permanent ? !info.has_perm_address : !info.has_address))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t mode = data[0];
        data++, size--;

        if (mode & 1) {
                /* Raw: the input is the whole message. */
                struct nlmsghdr *h = malloc(size ? size : 1);
                if (!h)
                        return 0;
                memcpy(h, data, size);
                if (size >= sizeof *h)
                        check(h, size);
                free(h);
                return 0;
        }

        /* As libnl and net-watch.c hand it over. */
        size_t len = NLMSG_HDRLEN + size;
        if (len > UINT32_MAX)
                return 0;
        struct nlmsghdr *h = malloc(len);
        if (!h)
                return 0;
        *h = (struct nlmsghdr) {
                .nlmsg_len = (uint32_t) len,
                .nlmsg_type = (mode & 2) ? RTM_DELLINK : RTM_NEWLINK,
        };
        memcpy((uint8_t *) h + NLMSG_HDRLEN, data, size);
        check(h, h->nlmsg_len);
        free(h);
        return 0;
}
