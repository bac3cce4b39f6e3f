/* SPDX-License-Identifier: MIT */
#include "net-watch.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"

/* A burst of link changes (an attacker loop, a bridge with many ports) must not overrun the
 * socket; if it still does, the links are re-dumped, so nothing is decided on stale state. */
#define MONITOR_BUFFER_SIZE (8 * 1024 * 1024)
#define DUMP_RETRIES 5

struct net_watch {
        struct nl_sock *monitor;
        sd_event_source *source;
        net_watch_handler_t handler;
        net_watch_overrun_t overrun;
        void *userdata;
        enum net_event dump_event;    /* what on_message reports: NEW on the monitor, PRESENT in a dump */
};

static int on_message(struct nl_msg *msg, void *userdata) {
        struct net_watch *w = userdata;
        const struct nlmsghdr *h = nlmsg_hdr(msg);
        struct net_link_info info;
        int r;

        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
                return NL_SKIP;
        r = net_link_parse(h, h->nlmsg_len, &info);
        if (r < 0) {
                log_warning_errno(r, "Ignoring malformed link message: %m");
                return NL_SKIP;
        }
        enum net_event ev = h->nlmsg_type == RTM_DELLINK ? NET_EVENT_DEL : w->dump_event;
        w->handler(&info, ev, w->userdata);
        return NL_OK;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct net_watch *w = userdata;

        /* Drain everything queued: one wake-up per burst. */
        for (;;) {
                int r = nl_recvmsgs_default(w->monitor);
                if (r == -NLE_AGAIN)
                        break;
                if (r == -NLE_NOMEM) {
                        /* libnl's name for ENOBUFS: the kernel dropped link events. */
                        log_warning("rtnetlink socket overrun: re-reading all links");
                        w->overrun(w->userdata);
                        continue;
                }
                if (r < 0) {
                        log_warning("rtnetlink monitor: %s", nl_geterror(r));
                        break;
                }
        }
        return 0;
}

int net_watch_new(sd_event *e, net_watch_handler_t handler, net_watch_overrun_t overrun, void *userdata,
                  struct net_watch **ret) {
        _cleanup_free_ struct net_watch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->handler = handler;
        w->overrun = overrun;
        w->userdata = userdata;
        w->dump_event = NET_EVENT_NEW;

        w->monitor = nl_socket_alloc();
        if (!w->monitor)
                return -ENOMEM;
        nl_socket_disable_seq_check(w->monitor);
        r = nl_socket_modify_cb(w->monitor, NL_CB_VALID, NL_CB_CUSTOM, on_message, w);
        if (r >= 0)
                r = nl_connect(w->monitor, NETLINK_ROUTE);
        if (r >= 0)
                r = nl_socket_add_membership(w->monitor, RTNLGRP_LINK);
        if (r >= 0)
                r = nl_socket_set_nonblocking(w->monitor);
        if (r >= 0)
                /* SO_RCVBUFFORCE as root; falls back to the rmem_max-bounded size otherwise. */
                (void) nl_socket_set_buffer_size(w->monitor, MONITOR_BUFFER_SIZE, 0);
        if (r < 0) {
                nl_socket_free(w->monitor);
                return -EIO;
        }
        r = sd_event_add_io(e, &w->source, nl_socket_get_fd(w->monitor), EPOLLIN, on_monitor, w);
        if (r >= 0)
                /* A link set up by someone else must be taken down before anything else runs. */
                r = sd_event_source_set_priority(w->source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0) {
                sd_event_source_disable_unref(w->source);
                nl_socket_free(w->monitor);
                return r;
        }
        *ret = TAKE_PTR(w);
        return 0;
}

int net_watch_enumerate(struct net_watch *w) {
        struct nl_sock *sk = nl_socket_alloc();
        int r;

        if (!sk)
                return -ENOMEM;
        r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_message, w);
        if (r >= 0)
                r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(sk);
                return -EIO;
        }
        w->dump_event = NET_EVENT_PRESENT;
        for (int i = 0; i < DUMP_RETRIES; i++) {
                r = nl_rtgen_request(sk, RTM_GETLINK, AF_UNSPEC, NLM_F_DUMP);
                if (r >= 0)
                        r = nl_recvmsgs_default(sk);
                /* A dump interrupted by a change is incomplete: take it again. */
                if (r != -NLE_DUMP_INTR)
                        break;
        }
        w->dump_event = NET_EVENT_NEW;
        nl_socket_free(sk);
        if (r < 0) {
                log_error("Failed to dump links: %s", nl_geterror(r));
                return r == -NLE_DUMP_INTR ? -EAGAIN : -EIO;
        }
        return 0;
}

struct net_watch *net_watch_free(struct net_watch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        nl_socket_free(w->monitor);
        return mfree(w);
}
