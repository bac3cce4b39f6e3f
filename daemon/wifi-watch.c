/* SPDX-License-Identifier: MIT */
#include "wifi-watch.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

/* As for link events: an attacker's reconnect loop must not overrun the socket; if it still
 * does, every wireless link is read again. */
#define MONITOR_BUFFER_SIZE (4 * 1024 * 1024)
/* 802.11 reason 3: "deauthenticated because the sending station is leaving". */
#define REASON_LEAVING 3

struct wifi_watch {
        struct nl_sock *monitor;      /* events: nlctrl "notify", nl80211 "mlme" and "config" */
        struct nl_sock *request;      /* questions and DISCONNECT */
        sd_event_source *source;
        int family;                   /* nl80211's id; 0 while it does not exist */
        int kernel_error;             /* the errno of the last request's NLMSG_ERROR (libnl's codes lose it) */
        wifi_event_handler_t handler;
        wifi_resync_t resync;
        void *userdata;
};

/* libnl's error codes back to errno. */
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
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_INVAL:
                return -EINVAL;
        case NLE_AGAIN:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

/* Finds nl80211 and joins its groups. 0 with family 0 when cfg80211 is not loaded. */
static int join_nl80211(struct wifi_watch *w) {
        static const char *const groups[] = { "mlme", "config" };
        int id, r;

        id = genl_ctrl_resolve(w->request, NL80211_GENL_NAME);
        if (id < 0) {
                w->family = 0;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                int g = genl_ctrl_resolve_grp(w->request, NL80211_GENL_NAME, groups[i]);
                if (g < 0)
                        return nl_to_errno(g);
                r = nl_socket_add_membership(w->monitor, g);
                if (r < 0)
                        return nl_to_errno(r);
        }
        w->family = id;
        return 0;
}

static int on_message(struct nl_msg *msg, void *userdata) {
        struct wifi_watch *w = userdata;
        const struct nlmsghdr *h = nlmsg_hdr(msg);
        int r;

        if (h->nlmsg_type == GENL_ID_CTRL) {
                struct wifi_ctrl_msg c;
                if (wifi_ctrl_parse(h, h->nlmsg_len, &c) < 0 || !streq(c.name, NL80211_GENL_NAME))
                        return NL_SKIP;
                if (c.cmd == CTRL_CMD_DELFAMILY) {
                        log_info("nl80211 went away (cfg80211 unloaded)");
                        w->family = 0;
                } else if (c.cmd == CTRL_CMD_NEWFAMILY) {
                        r = join_nl80211(w);
                        if (r < 0)
                                log_error_errno(r, "nl80211 appeared, but its groups cannot be joined: %m");
                        else {
                                log_info("nl80211 appeared (family %d): watching wireless links", w->family);
                                w->resync(w->userdata);
                        }
                }
                return NL_OK;
        }
        if (w->family == 0 || h->nlmsg_type != w->family)
                return NL_SKIP;

        struct wifi_msg m;
        r = wifi_msg_parse(h, h->nlmsg_len, (uint16_t) w->family, &m);
        if (r < 0) {
                log_warning_errno(r, "Ignoring malformed nl80211 message: %m");
                return NL_SKIP;
        }
        w->handler(&m, w->userdata);
        return NL_OK;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct wifi_watch *w = userdata;

        for (;;) {
                int r = nl_recvmsgs_default(w->monitor);
                if (r == -NLE_AGAIN)
                        break;
                if (r == -NLE_NOMEM) {
                        log_warning("nl80211 socket overrun: re-reading every wireless link");
                        w->resync(w->userdata);
                        continue;
                }
                if (r < 0) {
                        log_warning("nl80211 monitor: %s", nl_geterror(r));
                        break;
                }
        }
        return 0;
}

static int on_request_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *userdata) {
        struct wifi_watch *w = userdata;
        w->kernel_error = err->error;
        return NL_STOP;
}

/* The errno of a request that failed with R (libnl's code): the kernel's own when it said one. */
static int request_errno(struct wifi_watch *w, int r) {
        if (r >= 0)
                return 0;
        return w->kernel_error < 0 ? w->kernel_error : nl_to_errno(r);
}

int wifi_watch_new(sd_event *e, wifi_event_handler_t handler, wifi_resync_t resync, void *userdata,
                   struct wifi_watch **ret) {
        struct wifi_watch *w = calloc(1, sizeof *w);
        int r, notify;

        if (!w)
                return -ENOMEM;
        w->handler = handler;
        w->resync = resync;
        w->userdata = userdata;
        w->monitor = nl_socket_alloc();
        w->request = nl_socket_alloc();
        if (!w->monitor || !w->request) {
                r = -ENOMEM;
                goto fail;
        }
        nl_socket_disable_seq_check(w->monitor);
        r = nl_socket_modify_cb(w->monitor, NL_CB_VALID, NL_CB_CUSTOM, on_message, w);
        if (r >= 0)
                r = genl_connect(w->monitor);
        if (r >= 0)
                r = genl_connect(w->request);
        if (r >= 0)
                r = nl_socket_modify_err_cb(w->request, NL_CB_CUSTOM, on_request_error, w);
        /* libnl would add NLM_F_ACK to every request, and a GET_INTERFACE's reply returns before
         * its ACK is read: the next question would read that ACK as its answer. Requests that
         * want one say so (DISCONNECT). */
        nl_socket_disable_auto_ack(w->request);
        if (r < 0) {
                r = nl_to_errno(r);
                goto fail;
        }
        /* nlctrl first: nl80211 appearing from now on is an event. */
        notify = genl_ctrl_resolve_grp(w->request, "nlctrl", "notify");
        r = notify < 0 ? notify : nl_socket_add_membership(w->monitor, notify);
        if (r < 0) {
                r = nl_to_errno(r);
                goto fail;
        }
        r = join_nl80211(w);
        if (r < 0)
                goto fail;
        r = nl_socket_set_nonblocking(w->monitor);
        if (r < 0) {
                r = nl_to_errno(r);
                goto fail;
        }
        (void) nl_socket_set_buffer_size(w->monitor, MONITOR_BUFFER_SIZE, 0);
        r = sd_event_add_io(e, &w->source, nl_socket_get_fd(w->monitor), EPOLLIN, on_monitor, w);
        if (r >= 0)
                /* An association with a network nobody approved is cut before anything else runs. */
                r = sd_event_source_set_priority(w->source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        wifi_watch_free(w);
        return r;
}

struct wifi_watch *wifi_watch_free(struct wifi_watch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        nl_socket_free(w->monitor);
        nl_socket_free(w->request);
        return mfree(w);
}

bool wifi_watch_available(struct wifi_watch *w) {
        return w && w->family > 0;
}

/* ---- questions ------------------------------------------------------------------------------ */

typedef void (*reply_fn)(const struct wifi_msg *m, void *userdata);

struct reply_ctx {
        struct wifi_watch *w;
        reply_fn fn;
        void *userdata;
};

static int on_reply(struct nl_msg *msg, void *userdata) {
        struct reply_ctx *c = userdata;
        const struct nlmsghdr *h = nlmsg_hdr(msg);
        struct wifi_msg m;

        if (wifi_msg_parse(h, h->nlmsg_len, (uint16_t) c->w->family, &m) >= 0)
                c->fn(&m, c->userdata);
        return NL_OK;
}

/* Sends CMD (FLAGS: NLM_F_DUMP for a dump) about IFINDEX and hands every reply to FN. */
static int ask(struct wifi_watch *w, uint8_t cmd, int flags, int ifindex, reply_fn fn, void *userdata) {
        struct reply_ctx c = { w, fn, userdata };
        struct nl_msg *msg;
        int r;

        /* cfg80211 may have come after kyokad, and its event not read yet: look again. */
        if (w && w->family == 0)
                (void) join_nl80211(w);
        if (!wifi_watch_available(w))
                return -ENODEV;
        if (ifindex <= 0)
                return -EINVAL;
        msg = nlmsg_alloc();
        if (!msg)
                return -ENOMEM;
        if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, w->family, 0, flags, cmd, 0) ||
            nla_put_u32(msg, NL80211_ATTR_IFINDEX, (uint32_t) ifindex) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        w->kernel_error = 0;
        r = nl_socket_modify_cb(w->request, NL_CB_VALID, NL_CB_CUSTOM, on_reply, &c);
        if (r >= 0)
                r = nl_send_auto(w->request, msg);
        nlmsg_free(msg);
        if (r >= 0)
                r = nl_recvmsgs_default(w->request);
        /* The callback's context lives on this stack only. */
        (void) nl_socket_modify_cb(w->request, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
        return request_errno(w, r);
}

struct mode_reply {
        bool found;
        int ifindex;
        enum wireless_mode mode;
};

static void mode_reply(const struct wifi_msg *m, void *userdata) {
        struct mode_reply *r = userdata;

        if (m->cmd == NL80211_CMD_NEW_INTERFACE && m->ifindex == r->ifindex && m->mode != WIRELESS_NONE) {
                r->found = true;
                r->mode = m->mode;
        }
}

int wifi_watch_get_mode(struct wifi_watch *w, int ifindex, enum wireless_mode *ret) {
        struct mode_reply reply = { .ifindex = ifindex };
        int r = ask(w, NL80211_CMD_GET_INTERFACE, 0, ifindex, mode_reply, &reply);

        if (r < 0)
                return r;
        if (!reply.found)
                return -ENODEV;
        *ret = reply.mode;
        return 0;
}

struct assoc_reply {
        const uint8_t *bssid;
        bool found_associated, found_bssid;
        struct wireless_network associated, by_bssid;
};

static void assoc_reply(const struct wifi_msg *m, void *userdata) {
        struct assoc_reply *r = userdata;

        if (!m->has_bss || !m->bss.has_bssid)
                return;
        if (m->bss.associated && !r->found_associated) {
                r->found_associated = true;
                r->associated = m->bss.net;
        }
        if (r->bssid && !r->found_bssid && memcmp(m->bss.net.bssid, r->bssid, 6) == 0) {
                r->found_bssid = true;
                r->by_bssid = m->bss.net;
        }
}

int wifi_watch_get_association(struct wifi_watch *w, int ifindex, const uint8_t *bssid,
                               struct wireless_network *ret) {
        struct assoc_reply reply = { .bssid = bssid };
        int r = ask(w, NL80211_CMD_GET_SCAN, NLM_F_DUMP, ifindex, assoc_reply, &reply);

        if (r < 0)
                return r;
        if (reply.found_associated)
                *ret = reply.associated;
        else if (reply.found_bssid)
                *ret = reply.by_bssid;
        else
                return -ENOLINK;
        return 0;
}

struct scan_reply {
        const uint8_t *ssid;
        size_t len;
        struct wireless_request *req;
        bool found;
};

static void scan_reply(const struct wifi_msg *m, void *userdata) {
        struct scan_reply *r = userdata;
        struct wireless_request *q = r->req;

        if (!m->has_bss || !m->bss.has_bssid || m->bss.net.ssid_len != r->len ||
            memcmp(m->bss.net.ssid, r->ssid, r->len) != 0)
                return;
        if (!r->found || wireless_security_level(m->bss.net.security) < wireless_security_level(q->security))
                q->security = m->bss.net.security;
        r->found = true;
        for (size_t i = 0; i < q->n_bssids; i++)
                if (memcmp(q->bssids[i], m->bss.net.bssid, 6) == 0)
                        return;
        if (q->n_bssids < WIRELESS_BSSIDS_MAX)
                memcpy(q->bssids[q->n_bssids++], m->bss.net.bssid, 6);
}

int wifi_watch_scan_results(struct wifi_watch *w, int ifindex, const uint8_t *ssid, size_t len,
                            struct wireless_request *ret) {
        struct scan_reply reply = { .ssid = ssid, .len = len, .req = ret };
        int r;

        if (len == 0 || len > WIRELESS_SSID_MAX)
                return -EINVAL;
        ret->n_bssids = 0;
        r = ask(w, NL80211_CMD_GET_SCAN, NLM_F_DUMP, ifindex, scan_reply, &reply);
        if (r < 0)
                return r;
        if (!reply.found)
                return -ENOENT;
        memcpy(ret->ssid, ssid, len);
        ret->ssid_len = len;
        return 0;
}

int wifi_watch_disconnect(struct wifi_watch *w, int ifindex) {
        struct nl_msg *msg;
        int r;

        if (!wifi_watch_available(w))
                return -ENODEV;
        msg = nlmsg_alloc();
        if (!msg)
                return -ENOMEM;
        if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, w->family, 0, NLM_F_ACK, NL80211_CMD_DISCONNECT, 0) ||
            nla_put_u32(msg, NL80211_ATTR_IFINDEX, (uint32_t) ifindex) < 0 ||
            nla_put_u16(msg, NL80211_ATTR_REASON_CODE, REASON_LEAVING) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        w->kernel_error = 0;
        r = nl_send_auto(w->request, msg);
        nlmsg_free(msg);
        if (r >= 0)
                r = nl_wait_for_ack(w->request);
        return request_errno(w, r);
}
