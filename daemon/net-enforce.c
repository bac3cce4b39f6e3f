/* SPDX-License-Identifier: MIT */
#include "net-enforce.h"

#include <errno.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdlib.h>

#include "macro.h"

struct net_enforce {
        struct nl_sock *sk;           /* requests only: no multicast groups, so no backlog */
};

int net_enforce_new(struct net_enforce **ret) {
        _cleanup_free_ struct net_enforce *e = calloc(1, sizeof *e);

        if (!e)
                return -ENOMEM;
        e->sk = nl_socket_alloc();
        if (!e->sk)
                return -ENOMEM;
        if (nl_connect(e->sk, NETLINK_ROUTE) < 0) {
                nl_socket_free(e->sk);
                return -EIO;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

/* libnl's error codes back to errno for the records. */
static int nl_to_errno(int r) {
        switch (-r) {
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENODEV;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_BUSY:
                return -EBUSY;
        default:
                return -EIO;
        }
}

int net_enforce_set_down(struct net_enforce *e, int ifindex) {
        struct ifinfomsg ifi = {
                .ifi_family = AF_UNSPEC,
                .ifi_index = ifindex,
                .ifi_change = IFF_UP,
                .ifi_flags = 0,
        };
        struct nl_msg *msg;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        if (!msg)
                return -ENOMEM;
        r = nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO);
        if (r >= 0)
                r = nl_send_auto(e->sk, msg);
        nlmsg_free(msg);
        if (r >= 0)
                r = nl_wait_for_ack(e->sk);
        return r < 0 ? nl_to_errno(r) : 0;
}

struct net_enforce *net_enforce_free(struct net_enforce *e) {
        if (!e)
                return NULL;
        nl_socket_free(e->sk);
        return mfree(e);
}
