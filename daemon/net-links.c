/* SPDX-License-Identifier: MIT */
/* The path of a link: net-watch.c hands an RTM_NEWLINK to on_link(); a blocked link that is up
 * is set down before anything else; a new link, or one whose identity changed (a rename, a new
 * MAC), is decided: identity (net-identity.c), policy_match_net, enforcement (net-enforce.c),
 * record (recorder_net); the firewall set (net-firewall.c) follows every change of the approved
 * links.
 *
 * A wireless link (wifi-watch.c) in a client mode passes traffic only while the network it is
 * associated with is approved (policy_match_wireless): it is out of the firewall's set, with an
 * egress drop chain, from the moment it is not; so nothing of the user's leaves the card between
 * an association and kyokad's decision. An association nobody approved is cut off at once:
 * nl80211 DISCONNECT, or, when a supplicant owns the connection (it does: the kernel then refuses
 * DISCONNECT to everyone else), the link is set down, which ends every association. A link cut
 * off so is kept down as a blocked link is until the association is over (the kernel's
 * DISCONNECT event, or no association found when kyokad looks); then it may come up and join an
 * approved network. Each refused association is counted like a violation (first at once, then
 * one record per link and window). */
#include "net-links.h"

#include <errno.h>
#include <libudev.h>
#include <linux/nl80211.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "net-allowance.h"
#include "net-enforce.h"
#include "net-firewall.h"
#include "net-identity.h"
#include "net-watch.h"
#include "recorder.h"
#include "timeutil.h"
#include "wifi-watch.h"

/* Links kyokad tracks at most; beyond, a new link is kept down without being tracked, so an
 * attacker creating links cannot make kyokad grow without bound. */
#define NET_LINKS_MAX 4096
/* A blocked link set up again and again (an attacker loop does it thousands of times a second):
 * the first attempt of a burst is recorded at once, the ones after it are counted, and the
 * count is recorded as one record at the end of each window while the burst lasts. The ledger
 * and the journal grow by at most one record per link and window; no attempt goes uncounted. */
#define VIOLATION_WINDOW_USEC (10ULL * 1000000ULL)
#define REASON_MAX 512

struct net_link {
        struct net_link *next;
        struct net_identity id;
        unsigned flags;
        bool seen;                    /* present in the latest dump (sweep after an overrun) */
        bool grandfathered;           /* no policy accepted yet, and on the installation list: left as it was */
        bool decided;
        enum policy_verdict verdict;
        int64_t next_change;
        uint64_t violations;          /* since kyokad first saw it, recorded or counted */
        uint64_t violations_pending;  /* counted in the current window, not yet recorded */
        uint64_t violation_window_end; /* CLOCK_MONOTONIC usec; 0: no burst going on */
        bool egress;                  /* an egress drop chain exists for it, on device egress_name */
        char egress_name[NET_NAME_MAX];
        char reason[REASON_MAX];
        char permit[POLICY_STRING_MAX];

        /* Wireless, client modes: the association kyokad decided (wifi-watch.c). */
        enum link_assoc {
                ASSOC_NONE,
                ASSOC_APPROVED,
                ASSOC_REFUSED,        /* cut off; waiting for the kernel to say it is over */
        } assoc;
        struct wireless_network network; /* of the current association */
        bool kept_down;               /* cut off by setting the link down: kept down until the association is over */
        int64_t assoc_next_change;
        char assoc_reason[REASON_MAX];
        char assoc_permit[POLICY_STRING_MAX];
        uint64_t refused;             /* associations refused since kyokad first saw the link */
        uint64_t refused_pending;     /* counted in the current window, not yet recorded */
        uint64_t refused_window_end;  /* CLOCK_MONOTONIC usec; 0: no burst going on */
        struct wireless_network pending_network; /* what refused_pending counts, why, and how it was cut */
        char pending_reason[REASON_MAX];
        char pending_how[64];
        bool has_last_refused;
        struct wireless_network last_refused;   /* for `policyctl request --wireless` */
};

struct net {
        struct recorder *rec;         /* borrowed */
        const struct policy *policy;
        struct net_watch *watch;
        struct net_enforce *enforce;
        struct net_firewall *firewall;
        struct wifi_watch *wifi;      /* NULL: no generic netlink (wireless links are then blocked by mode) */
        struct udev *udev;
        struct udev_monitor *monitor; /* udev's "net" events: ID_PATH once udev has finished a link */
        sd_event *event;
        sd_event_source *violation_timer; /* the earliest end of a violation window */
        sd_event_source *monitor_source;
        struct net_link *links;
        size_t n_links;
        bool starting;                /* deciding the links present at start */
        /* Until a policy is in force on a machine that never accepted one: the links that may
         * stay as they are (net-allowance.h). NULL otherwise. */
        struct net_allowance *allowance;
        bool first_start;             /* ... and no list yet: every link present at start is on it */
        bool firewall_dirty;          /* the set of approved links changed since the last apply */
        char firewall_problem[256];   /* why the tables are not (all) in force; "" when they are */
        int64_t next_change;          /* as last reported to the manager */
        net_timer_changed_t changed;
        void *userdata;
};

static int64_t now_seconds(void) {
        return (int64_t) time(NULL);
}

static struct net_link *link_find(struct net *n, int ifindex) {
        for (struct net_link *l = n->links; l; l = l->next)
                if (l->id.ifindex == ifindex)
                        return l;
        return NULL;
}

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* A record of L as it is blocked now (violations, its removal). */
static void link_record(struct net *n, struct net_link *l, enum net_record_event ev, const char *reason, int result,
                        uint64_t count) {
        struct record_decision d;
        record_decision_init(&d, NULL, l->verdict, reason);
        recorder_net(n->rec, ev, &l->id, &d, result, count);
}

/* Records what L's window counted so far (nothing if nothing). */
static void violations_flush(struct net *n, struct net_link *l) {
        if (l->violations_pending == 0)
                return;
        link_record(n, l, NET_RECORD_VIOLATION, l->reason, 0, l->violations_pending);
        l->violations_pending = 0;
}

static int on_violation_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void violation_timer_arm(struct net *n) {
        uint64_t next = UINT64_MAX;
        int r;

        for (struct net_link *l = n->links; l; l = l->next) {
                if (l->violation_window_end)
                        next = MIN(next, l->violation_window_end);
                if (l->refused_window_end)
                        next = MIN(next, l->refused_window_end);
        }
        if (next == UINT64_MAX) {
                if (n->violation_timer)
                        (void) sd_event_source_set_enabled(n->violation_timer, SD_EVENT_OFF);
                return;
        }
        if (n->violation_timer) {
                r = sd_event_source_set_time(n->violation_timer, next);
                if (r >= 0)
                        r = sd_event_source_set_enabled(n->violation_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(n->event, &n->violation_timer, CLOCK_MONOTONIC, next, 0, on_violation_timer, n);
        if (r < 0) {
                /* Without the timer counts wait for the link's next change, removal or kyokad's
                 * stop: recorded late, never lost. */
                recorder_fault(n->rec, FAULT_TIMER, r, "Failed to arm the violation timer: %s", strerror(-r));
        }
}

static void refusals_flush(struct net *n, struct net_link *l);

static int on_violation_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct net *n = userdata;
        uint64_t now = now_monotonic_usec();

        for (struct net_link *l = n->links; l; l = l->next) {
                /* Still attacked: one record for the window, and the next window counts on.
                 * Quiet: the burst is over, the next attempt is recorded at once. */
                if (l->violation_window_end && l->violation_window_end <= now) {
                        l->violation_window_end = l->violations_pending ? now + VIOLATION_WINDOW_USEC : 0;
                        violations_flush(n, l);
                }
                if (l->refused_window_end && l->refused_window_end <= now) {
                        l->refused_window_end = l->refused_pending ? now + VIOLATION_WINDOW_USEC : 0;
                        refusals_flush(n, l);
                }
        }
        violation_timer_arm(n);
        return 0;
}

/* A blocked link was set up (and set down again, R its result). */
static void link_violation(struct net *n, struct net_link *l, int r) {
        uint64_t now = now_monotonic_usec();

        l->violations++;
        if (r >= 0 && l->violation_window_end > now) {
                l->violations_pending++;
                return;
        }
        /* The first of a burst, or one whose "down" failed (never delayed): recorded now. */
        violations_flush(n, l);
        link_record(n, l, NET_RECORD_VIOLATION, l->reason, r, 1);
        if (l->violation_window_end == 0) {
                l->violation_window_end = now + VIOLATION_WINDOW_USEC;
                violation_timer_arm(n);
        }
}

static void link_forget(struct net *n, struct net_link *gone) {
        for (struct net_link **p = &n->links; *p; p = &(*p)->next)
                if (*p == gone) {
                        *p = gone->next;
                        free(gone);
                        n->n_links--;
                        return;
                }
}

/* The identity: rtnetlink's fields, plus the parent device from sysfs and udev. */
static void link_identity(struct net *n, const struct net_link_info *info, const struct net_identity *old,
                          struct net_identity *ret) {
        struct net_identity id;
        const char *id_path = NULL;
        int r;

        net_identity_from_info(info, &id);
        if (old && strncmp(old->name, id.name, sizeof id.name) == 0) {
                /* The parent of a link never changes; only udev's ID_PATH may arrive later,
                 * with udev's rename. Not re-reading sysfs keeps an up/down loop cheap. A wireless
                 * mode changes with nl80211's events, which update it. */
                memcpy(id.path, old->path, sizeof id.path);
                memcpy(id.driver, old->driver, sizeof id.driver);
                id.wireless = old->wireless;
                *ret = id;
                return;
        }
        if (!id.is_loopback) {
                /* nl80211 knows the link's mode as soon as the link exists (the card registers
                 * the interface before the kernel announces the link). A card nl80211 cannot
                 * answer for is in no mode kyokad can allow: "other" (fail closed). */
                r = wifi_watch_get_mode(n->wifi, id.ifindex, &id.wireless);
                if (r < 0) {
                        id.wireless = WIRELESS_NONE;
                        if (net_identity_is_wireless("/sys", &id) > 0) {
                                log_warning("Link %d (%s) is wireless, but nl80211 does not say its mode (%s): "
                                            "treated as mode \"other\"", id.ifindex, id.name, strerror(-r));
                                id.wireless = WIRELESS_OTHER;
                        }
                }
        }
        struct udev_device *dev = n->udev ? udev_device_new_from_subsystem_sysname(n->udev, "net", id.name) : NULL;
        if (dev)
                id_path = udev_device_get_property_value(dev, "ID_PATH");
        r = net_identity_read_parent("/sys", id_path, &id);
        if (r < 0 && r != -ENOENT && r != -ESTALE)
                log_debug("Parent device of link %d (%s) unreadable: %s", id.ifindex, id.name, strerror(-r));
        udev_device_unref(dev);
        *ret = id;
}

/* l->flags is left as the last message said: the message our own "down" causes updates it.
 * Messages queued before it may still show the link up; they are the same attempt. */
static int link_set_down(struct net *n, struct net_link *l) {
        int r = net_enforce_set_down(n->enforce, l->id.ifindex);
        return r == -ENODEV ? 0 : r;  /* gone: nothing left to keep down */
}

/* A blocked link's egress chain (raw frames): added when it is blocked, moved when it is
 * renamed, removed when it is approved or gone. */
/* A client-mode card waits for an approved association before its traffic passes. */
static bool link_gated(const struct net_link *l) {
        return wireless_mode_is_client(l->id.wireless) && !l->grandfathered && l->assoc != ASSOC_APPROVED;
}

/* Whether L is in the firewall's set of links that pass traffic. */
static bool link_passes(const struct net_link *l) {
        return l->decided && l->verdict != VERDICT_BLOCK && !link_gated(l);
}

static void link_egress_sync(struct net *n, struct net_link *l, bool gone) {
        _cleanup_free_ char *error = NULL;
        bool want = !gone && l->decided && (l->verdict == VERDICT_BLOCK || link_gated(l)) && !l->id.is_loopback;
        int r;

        if (!n->firewall)
                return;
        if (!want) {
                if (l->egress)
                        (void) net_firewall_unblock_egress(n->firewall, l->id.ifindex);
                l->egress = false;
                return;
        }
        if (l->egress && strncmp(l->egress_name, l->id.name, sizeof l->egress_name) == 0)
                return;
        r = net_firewall_block_egress(n->firewall, l->id.ifindex, l->id.name, l->egress, &error);
        char now[IF_NAMESIZE];
        if (r < 0 && (!if_indextoname((unsigned) l->id.ifindex, now) || strncmp(now, l->id.name, sizeof now) != 0)) {
                /* A netdev chain names its device, and the link was renamed (udev: usb0 -> enx...)
                 * or removed since the message kyokad is handling: the rename's own message, or
                 * the removal's, is still to come, and adds the chain under the new name. Seen on
                 * the real kernel (tests/vm/test-kyokad-net.py); not a fault. */
                log_debug("Link %d (%s) was renamed or removed before its egress chain was added: "
                          "added again on its next message", l->id.ifindex, l->id.name);
                l->egress = false;
                return;
        }
        if (r < 0) {
                recorder_fault(n->rec, FAULT_NETWORK_FIREWALL, r, "Failed to add the egress drop chain of link %d (%s): %s; "
                             "it is still kept down and its IP traffic dropped", l->id.ifindex, l->id.name,
                             error ?: strerror(-r));
                l->egress = false;
                return;
        }
        l->egress = true;
        memcpy(l->egress_name, l->id.name, sizeof l->egress_name);
}

static void link_decide(struct net *n, struct net_link *l, enum net_record_event ev) {
        struct policy_decision dec = { .next_change = TIME_INFINITY };
        char reason[REASON_MAX];
        int r = 0;

        if (l->grandfathered && !n->policy) {
                dec.verdict = VERDICT_ALLOW;
                snprintf(reason, sizeof reason, "present at installation, no policy accepted yet: left as it was");
        } else {
                /* Once a policy has been in force, the links present at start follow it. */
                l->grandfathered = false;
                policy_match_net(n->policy, &l->id, now_seconds(), &dec);
                policy_decision_describe(&dec, NULL, reason, sizeof reason);
        }
        enum policy_verdict verdict = dec.verdict == VERDICT_BLOCK ? VERDICT_BLOCK : VERDICT_ALLOW;

        if (verdict == VERDICT_BLOCK && (l->flags & IFF_UP))
                r = link_set_down(n, l);
        if (!l->decided || l->verdict != verdict)
                n->firewall_dirty = true;
        /* What the old decision counted is recorded before the new one (or the new identity). */
        violations_flush(n, l);
        if (!l->decided || l->verdict != verdict || r < 0 || ev != NET_RECORD_REEVALUATED) {
                struct record_decision d;
                record_decision_init(&d, &dec, verdict, reason);
                recorder_net(n->rec, ev, &l->id, &d, r, 1);
        }
        l->decided = true;
        l->verdict = verdict;
        l->next_change = dec.next_change;
        link_egress_sync(n, l, false);
        snprintf(l->reason, sizeof l->reason, "%s", reason);
        snprintf(l->permit, sizeof l->permit, "%s",
                 dec.reason == REASON_PERMIT && dec.net_entry ? dec.net_entry->approval.permit : "");
}

/* ---- wireless associations ------------------------------------------------------------------ */

static bool same_network(const struct wireless_network *a, const struct wireless_network *b) {
        return a->ssid_len == b->ssid_len && memcmp(a->ssid, b->ssid, a->ssid_len) == 0 && a->has_bssid == b->has_bssid &&
               (!a->has_bssid || memcmp(a->bssid, b->bssid, 6) == 0) && a->security == b->security;
}

static void wireless_record(struct net *n, struct net_link *l, enum wireless_record_event ev,
                            const struct wireless_network *net, enum policy_verdict verdict, const char *reason,
                            const char *permit, const char *how, int result, uint64_t count) {
        struct record_decision d;

        record_decision_init(&d, NULL, verdict, reason);
        snprintf(d.permit, sizeof d.permit, "%s", permit ?: "");
        recorder_wireless(n->rec, ev, &l->id, net, &d, how, result, count);
}

/* Records what L's window of refused associations counted so far (nothing if nothing). */
static void refusals_flush(struct net *n, struct net_link *l) {
        if (l->refused_pending == 0)
                return;
        wireless_record(n, l, WIRELESS_RECORD_JOINED, &l->pending_network, VERDICT_BLOCK, l->pending_reason, "",
                        l->pending_how, 0, l->refused_pending);
        l->refused_pending = 0;
}

/* The association ended (the kernel said so, or it is no longer there): an approved one is
 * recorded as left; a refused one was recorded when it was cut off. The gate closes again. */
static void link_assoc_end(struct net *n, struct net_link *l) {
        if (l->assoc == ASSOC_NONE)
                return;
        if (l->assoc == ASSOC_APPROVED)
                wireless_record(n, l, WIRELESS_RECORD_LEFT, &l->network, VERDICT_ALLOW, l->assoc_reason, l->assoc_permit,
                                NULL, 0, 1);
        else if (l->kept_down)
                log_info("Link %d (%s): the refused association is over: it may come up again", l->id.ifindex, l->id.name);
        l->assoc = ASSOC_NONE;
        l->kept_down = false;
        l->assoc_next_change = TIME_INFINITY;
        l->assoc_permit[0] = 0;
        n->firewall_dirty = true;
        link_egress_sync(n, l, false);
}

/* Cuts L off the network it joined: DISCONNECT, else (a supplicant owns the connection, the
 * kernel refuses everyone else) the link goes down, which ends any association. Returns the
 * result of what finally did it; *RET_HOW says what. */
static int link_cut_off(struct net *n, struct net_link *l, char *how, size_t how_size) {
        int r = wifi_watch_disconnect(n->wifi, l->id.ifindex);
        if (r >= 0) {
                snprintf(how, how_size, "disconnected");
                return 0;
        }
        if (r == -ENOTCONN || r == -ENOLINK) {
                snprintf(how, how_size, "already disconnected");
                return 0;
        }
        int k = link_set_down(n, l);
        snprintf(how, how_size, "link set down%s", r == -EPERM ? ": a supplicant owns the connection" : "");
        if (k >= 0)
                l->kept_down = true;
        return k;
}

/* Decides L's association with NET, read from the kernel: approved (its traffic passes), or
 * refused (cut off at once, counted, traffic never passes). */
static void link_assoc_decide(struct net *n, struct net_link *l, const struct wireless_network *net) {
        struct policy_decision dec = { .next_change = TIME_INFINITY };
        char reason[REASON_MAX], how[64];
        int r;

        if (l->grandfathered && !n->policy) {
                dec.verdict = VERDICT_ALLOW;
                snprintf(reason, sizeof reason, "present at installation, no policy accepted yet: left as it was");
        } else {
                policy_match_wireless(n->policy, net, now_seconds(), &dec);
                policy_decision_describe(&dec, NULL, reason, sizeof reason);
        }
        const char *permit = dec.reason == REASON_PERMIT && dec.wireless_entry ? dec.wireless_entry->approval.permit : "";
        bool same = l->assoc != ASSOC_NONE && same_network(&l->network, net);

        l->assoc_next_change = dec.next_change;
        if (dec.verdict != VERDICT_BLOCK) {
                /* Already approved under the same permit: nothing new to say. */
                if (same && l->assoc == ASSOC_APPROVED && streq(l->assoc_permit, permit))
                        return;
                refusals_flush(n, l);
                l->assoc = ASSOC_APPROVED;
                l->network = *net;
                l->kept_down = false;
                snprintf(l->assoc_reason, sizeof l->assoc_reason, "%s", reason);
                snprintf(l->assoc_permit, sizeof l->assoc_permit, "%s", permit);
                wireless_record(n, l, WIRELESS_RECORD_JOINED, net, VERDICT_ALLOW, reason, permit, NULL, 0, 1);
                n->firewall_dirty = true;
                link_egress_sync(n, l, false);
                return;
        }

        /* Cut off already, waiting for the kernel to end it. */
        if (same && l->assoc == ASSOC_REFUSED)
                return;
        bool was_approved = l->assoc == ASSOC_APPROVED;
        l->assoc = ASSOC_REFUSED;
        l->network = *net;
        l->assoc_permit[0] = 0;
        snprintf(l->assoc_reason, sizeof l->assoc_reason, "%s", reason);
        /* The gate first (it is closed unless the association was approved), then the cut. */
        if (was_approved) {
                n->firewall_dirty = true;
                link_egress_sync(n, l, false);
        }
        r = link_cut_off(n, l, how, sizeof how);

        l->refused++;
        l->last_refused = *net;
        l->has_last_refused = true;
        uint64_t now = now_monotonic_usec();
        if (r >= 0 && l->refused_window_end > now && same_network(&l->pending_network, net)) {
                l->refused_pending++;
                return;
        }
        /* The first of a burst, another network (what was counted of the last one goes first),
         * or a cut that failed (never delayed). */
        refusals_flush(n, l);
        wireless_record(n, l, WIRELESS_RECORD_JOINED, net, VERDICT_BLOCK, reason, "", how, r, 1);
        l->pending_network = *net;
        snprintf(l->pending_reason, sizeof l->pending_reason, "%s", reason);
        snprintf(l->pending_how, sizeof l->pending_how, "%s", how);
        if (l->refused_window_end == 0) {
                l->refused_window_end = now + VIOLATION_WINDOW_USEC;
                violation_timer_arm(n);
        }
}

/* Reads L's association from the kernel and decides it. BSSID: the access point an event named
 * (NULL: whatever the kernel marks associated); REQ: what the station asked for, whose SSID
 * stands in when the access point's elements hide it. */
static void link_wireless_sync(struct net *n, struct net_link *l, const uint8_t *bssid,
                               const struct wireless_network *req) {
        struct wireless_network net;
        int r;

        if (!l->decided || !wireless_mode_is_client(l->id.wireless)) {
                link_assoc_end(n, l);
                return;
        }
        /* A blocked link is kept down itself: its association ends with that. */
        if (l->verdict == VERDICT_BLOCK)
                return;
        r = wifi_watch_get_association(n->wifi, l->id.ifindex, bssid, &net);
        if (r == -ENOLINK || (r < 0 && !bssid)) {
                if (r != -ENOLINK)
                        log_warning("Link %d (%s): its association cannot be read (%s)", l->id.ifindex, l->id.name,
                                    strerror(-r));
                /* Nothing to decide; what kyokad decided before is over. */
                if (r == -ENOLINK)
                        link_assoc_end(n, l);
                return;
        }
        if (r < 0) {
                /* The kernel said it joined BSSID, but not what that is: a network no entry
                 * names (fail closed). */
                net = (struct wireless_network) { .has_bssid = true, .security = WIRELESS_SECURITY_UNKNOWN };
                memcpy(net.bssid, bssid, 6);
        }
        if (net.ssid_len == 0 && req && req->ssid_len > 0) {
                memcpy(net.ssid, req->ssid, req->ssid_len);
                net.ssid_len = req->ssid_len;
        }
        link_assoc_decide(n, l, &net);
}

static void firewall_sync(struct net *n);
static void report_next_change(struct net *n);

/* nl80211: a mode changed, an association began, roamed or ended. */
static void on_wifi(const struct wifi_msg *m, void *userdata) {
        struct net *n = userdata;
        struct net_link *l = m->ifindex > 0 ? link_find(n, m->ifindex) : NULL;

        /* A link not seen yet reads its mode and association when its RTM_NEWLINK comes. */
        if (!l)
                return;
        switch (m->cmd) {
        case NL80211_CMD_NEW_INTERFACE:
        case NL80211_CMD_SET_INTERFACE:
                if (m->mode == WIRELESS_NONE || m->mode == l->id.wireless)
                        return;
                log_info("Link %d (%s): wireless mode %s -> %s: deciding again", l->id.ifindex, l->id.name,
                         wireless_mode_to_string(l->id.wireless), wireless_mode_to_string(m->mode));
                l->id.wireless = m->mode;
                link_decide(n, l, NET_RECORD_REEVALUATED);
                link_wireless_sync(n, l, NULL, NULL);
                break;
        case NL80211_CMD_CONNECT:
        case NL80211_CMD_ROAM:
                /* A CONNECT that failed joined nothing. */
                if (m->cmd == NL80211_CMD_CONNECT && ((m->has_status && m->status != 0) || m->timed_out))
                        return;
                link_wireless_sync(n, l, m->has_mac ? m->mac : NULL, m->has_req_ie ? &m->req : NULL);
                break;
        case NL80211_CMD_DISCONNECT:
                link_assoc_end(n, l);
                break;
        default:
                return;
        }
        firewall_sync(n);
        report_next_change(n);
}

/* Events were lost, or nl80211 appeared: every link's mode and association again. */
static void on_wifi_resync(void *userdata) {
        struct net *n = userdata;

        for (struct net_link *l = n->links; l; l = l->next) {
                enum wireless_mode mode;
                if (l->id.is_loopback)
                        continue;
                if (wifi_watch_get_mode(n->wifi, l->id.ifindex, &mode) >= 0 && mode != l->id.wireless) {
                        l->id.wireless = mode;
                        link_decide(n, l, NET_RECORD_REEVALUATED);
                }
                link_wireless_sync(n, l, NULL, NULL);
        }
        firewall_sync(n);
        report_next_change(n);
}

static void firewall_set_problem(struct net *n, const char *what) {
        snprintf(n->firewall_problem, sizeof n->firewall_problem, "%s", what);
}

static void firewall_sync(struct net *n) {
        _cleanup_free_ int *allowed = NULL;
        _cleanup_free_ char *error = NULL;
        size_t k = 0;
        int r;

        if (!n->firewall_dirty || !n->firewall)
                return;
        allowed = malloc(MAX(n->n_links, (size_t) 1) * sizeof *allowed);
        if (!allowed) {
                recorder_fault(n->rec, FAULT_OOM, -ENOMEM, "Out of memory updating the network firewall: the last tables stay");
                return;
        }
        for (struct net_link *l = n->links; l; l = l->next)
                if (link_passes(l))
                        allowed[k++] = l->id.ifindex;
        r = net_firewall_apply(n->firewall, allowed, k, &error);
        if (r < 0) {
                /* Links are still kept down; only the window is open again. */
                recorder_fault(n->rec, FAULT_NETWORK_FIREWALL, r, "Failed to install the nftables tables: %s", error ?: strerror(-r));
                firewall_set_problem(n, error ?: strerror(-r));
                return;
        }
        n->firewall_dirty = false;
        firewall_set_problem(n, "");
}

static void report_next_change(struct net *n) {
        int64_t next = net_next_change(n);
        if (next != n->next_change) {
                n->next_change = next;
                if (n->changed)
                        n->changed(n->userdata);
        }
}

static void on_link(const struct net_link_info *info, enum net_event ev, void *userdata) {
        struct net *n = userdata;
        struct net_link *l = link_find(n, info->ifindex);
        int r;

        if (ev == NET_EVENT_DEL) {
                if (!l)
                        return;
                violations_flush(n, l);
                refusals_flush(n, l);
                link_assoc_end(n, l);
                link_record(n, l, NET_RECORD_REMOVED, "removed", 0, 1);
                if (l->verdict != VERDICT_BLOCK)
                        n->firewall_dirty = true;
                link_egress_sync(n, l, true);
                link_forget(n, l);
                firewall_sync(n);
                report_next_change(n);
                return;
        }

        /* The window: a blocked link that is up goes down before any other work; so does a
         * wireless link cut off a network by going down, until that association is over. */
        if (l && l->decided && (l->verdict == VERDICT_BLOCK || l->kept_down) && (info->flags & IFF_UP)) {
                bool was_up = l->flags & IFF_UP;
                r = link_set_down(n, l);
                l->flags = info->flags;
                /* Several messages may show one attempt (the kernel reports the flag and the
                 * carrier separately) before the one our "down" causes: count it once. */
                if (l->verdict == VERDICT_BLOCK && (!was_up || r < 0))
                        link_violation(n, l, r);
                else if (r < 0)
                        recorder_fault(n->rec, FAULT_ENFORCE, r, "Link %d (%s) could not be kept down while its refused "
                                       "association ends: %s", l->id.ifindex, l->id.name, strerror(-r));
        } else if (l)
                l->flags = info->flags;

        /* A wireless extensions event describes no identity (it has no address): its flags were
         * all there was to look at. A link kyokad does not know yet gets its own RTM_NEWLINK. */
        if (info->wireless_event)
                return;

        bool is_new = !l;
        if (!l) {
                if (n->n_links >= NET_LINKS_MAX || !(l = calloc(1, sizeof *l))) {
                        struct net_identity id;
                        net_identity_from_info(info, &id);
                        r = id.is_loopback ? 0 : (info->flags & IFF_UP) ? net_enforce_set_down(n->enforce, info->ifindex) : 0;
                        recorder_fault(n->rec, FAULT_NETWORK_UNTRACKED, r ?: -ENOMEM,
                                     "Too many links or out of memory: link %d (%s) %s, not tracked", info->ifindex,
                                     id.name, id.is_loopback ? "left up" : "kept down");
                        return;
                }
                l->flags = info->flags;
                l->next = n->links;
                n->links = l;
                n->n_links++;
        }
        l->seen = true;

        struct net_identity id;
        link_identity(n, info, is_new ? NULL : &l->id, &id);
        if (is_new || !net_identity_equal(&id, &l->id)) {
                /* Without a policy, only a link of the installation keeps its state (a rename
                 * keeps it: udev's names are the ones the list was written with). */
                if (is_new && !id.is_loopback)
                        l->grandfathered = !n->policy && ((n->starting && n->first_start) ||
                                                          net_allowance_contains(n->allowance, &id));
                if (!is_new)
                        log_info("Link %d identity changed (%s -> %s): deciding again", id.ifindex, l->id.name, id.name);
                l->id = id;
                link_decide(n, l, is_new ? NET_RECORD_APPEARED : NET_RECORD_REEVALUATED);
                /* A card found associated (kyokad started, or the link came with an association
                 * it already had) is decided at once. */
                if (is_new)
                        link_wireless_sync(n, l, NULL, NULL);
        }
        if (!n->starting) {
                firewall_sync(n);
                report_next_change(n);
        }
}

/* udev finished a link (its "add", or the "move" of a rename): its database entry, with ID_PATH,
 * exists only now. rtnetlink's messages (the link's appearance, udev's own rename) usually come
 * before it, so a path read then is empty: read it again. Without this a hot-plugged PCIe NIC
 * kept an empty path, and a permit naming its path never matched (tests/vm/test-kyokad-net.py). */
static void on_udev_link(struct net *n, struct udev_device *dev) {
        const char *action = udev_device_get_action(dev), *ifindex_s = udev_device_get_property_value(dev, "IFINDEX");
        const char *sysname = udev_device_get_sysname(dev);
        char *end;

        if (!action || !ifindex_s || !sysname || streq(action, "remove"))
                return;
        errno = 0;
        long ifindex = strtol(ifindex_s, &end, 10);
        if (errno != 0 || end == ifindex_s || *end || ifindex <= 0 || ifindex > INT32_MAX)
                return;
        struct net_link *l = link_find(n, (int) ifindex);
        /* A name that is no longer the link's: a later rename is on its way through rtnetlink. */
        if (!l || strncmp(l->id.name, sysname, sizeof l->id.name) != 0)
                return;
        struct net_identity id = l->id;
        int r = net_identity_read_parent("/sys", udev_device_get_property_value(dev, "ID_PATH"), &id);
        if (r < 0 || net_identity_equal(&id, &l->id))
                return;
        log_info("Link %d (%s): udev gave its path \"%s\": deciding again", l->id.ifindex, l->id.name, id.path);
        l->id = id;
        link_decide(n, l, NET_RECORD_REEVALUATED);
        firewall_sync(n);
        report_next_change(n);
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct net *n = userdata;

        for (;;) {
                errno = 0;
                struct udev_device *dev = udev_monitor_receive_device(n->monitor);
                if (!dev) {
                        /* Lost events only delay a path: rtnetlink still decides every link. */
                        if (errno == ENOBUFS) {
                                log_warning("net uevent socket overrun");
                                continue;
                        }
                        break;
                }
                on_udev_link(n, dev);
                udev_device_unref(dev);
        }
        return 0;
}

static int monitor_start(struct net *n, sd_event *e) {
        int r;

        if (!n->udev)
                return -ENOMEM;
        n->monitor = udev_monitor_new_from_netlink(n->udev, "udev");
        if (!n->monitor)
                return -ENOMEM;
        r = udev_monitor_filter_add_match_subsystem_devtype(n->monitor, "net", NULL);
        if (r >= 0)
                r = udev_monitor_enable_receiving(n->monitor);
        if (r >= 0)
                r = sd_event_add_io(e, &n->monitor_source, udev_monitor_get_fd(n->monitor), EPOLLIN, on_monitor, n);
        if (r < 0)
                n->monitor = udev_monitor_unref(n->monitor);
        return r;
}

/* Events were lost: take the kernel's list again, decide what is new or changed, and forget
 * what is gone (its ifindex leaves the firewall set). */
static void on_overrun(void *userdata) {
        struct net *n = userdata;
        int r;

        for (struct net_link *l = n->links; l; l = l->next)
                l->seen = false;
        r = net_watch_enumerate(n->watch);
        if (r < 0) {
                recorder_fault(n->rec, FAULT_NETWORK_ENUMERATE, r, "Failed to re-read the links after lost events: %s", strerror(-r));
                return;
        }
        for (struct net_link *l = n->links, *next; l; l = next) {
                next = l->next;
                if (!l->seen) {
                        violations_flush(n, l);
                        refusals_flush(n, l);
                        link_assoc_end(n, l);
                        link_record(n, l, NET_RECORD_REMOVED, "removed (seen after lost events)", 0, 1);
                        n->firewall_dirty = true;
                        link_egress_sync(n, l, true);
                        link_forget(n, l);
                }
        }
        firewall_sync(n);
        report_next_change(n);
}

int net_start(sd_event *e, struct recorder *rec, const struct policy *p, struct net_allowance *install,
              bool first_start, net_timer_changed_t changed, void *userdata, struct net **ret) {
        struct net *n = calloc(1, sizeof *n);
        _cleanup_free_ char *error = NULL;
        int r;

        if (!n) {
                net_allowance_free(install);
                return -ENOMEM;
        }
        n->policy = p;
        n->rec = rec;
        n->event = e;
        n->allowance = p ? net_allowance_free(install) : install;
        n->first_start = !p && first_start;
        n->changed = changed;
        n->userdata = userdata;
        n->next_change = TIME_INFINITY;
        n->firewall_dirty = true;
        n->udev = udev_new();          /* ID_PATH only: without udev the path stays "" */

        r = net_enforce_new(&n->enforce);
        if (r < 0)
                goto fail;
        /* Before the dump: a link udev finishes in between is read again. Without it (no udev,
         * a network namespace) a path is read only from what udev had written by then. */
        r = monitor_start(n, e);
        if (r < 0)
                log_warning("No udev monitor for network links (%s): paths given by udev later are not read",
                            strerror(-r));
        /* Before the links are read: a mode change or an association from now on is an event. */
        r = wifi_watch_new(e, on_wifi, on_wifi_resync, n, &n->wifi);
        if (r < 0) {
                recorder_fault(n->rec, FAULT_WIRELESS_WATCH, r, "Cannot watch wireless links (nl80211): %s; wireless links "
                               "are kept down (their mode cannot be known)", strerror(-r));
                n->wifi = NULL;
        }
        r = net_firewall_new(NULL, &error, &n->firewall);
        if (r < 0) {
                recorder_fault(n->rec, FAULT_NETWORK_FIREWALL, r, "No network firewall: %s; unapproved links are only kept down",
                             error ?: strerror(-r));
                firewall_set_problem(n, error ?: strerror(-r));
                n->firewall = NULL;
        }
        /* Listen first, then enumerate: a link that appears in between is seen at least once. */
        r = net_watch_new(e, on_link, on_overrun, n, &n->watch);
        if (r < 0)
                goto fail;
        n->starting = true;
        r = net_watch_enumerate(n->watch);
        n->starting = false;
        if (r < 0)
                goto fail;

        size_t kept = 0;
        for (struct net_link *l = n->links; l; l = l->next)
                kept += l->grandfathered && !l->id.is_loopback;
        if (kept > 0)
                recorder_fault(n->rec, FAULT_NETWORK_UNENFORCED, 0,
                             "No policy accepted yet on this machine: %zu network link(s) present at installation "
                             "left as they are until the first policy; every other link is blocked", kept);

        /* Only now: a link created before this point is in no set, so it is dropped as well. */
        firewall_sync(n);
        n->next_change = net_next_change(n);
        *ret = n;
        return 0;
fail:
        net_free(n);
        return r;
}

void net_policy_changed(struct net *n, const struct policy *p) {
        if (!n)
                return;
        n->policy = p;
        /* Once a policy is in force the installation is over: without one from now on, links
         * are blocked. */
        if (p) {
                n->allowance = net_allowance_free(n->allowance);
                n->first_start = false;
        }
        for (struct net_link *l = n->links; l; l = l->next) {
                link_decide(n, l, NET_RECORD_REEVALUATED);
                /* Associations under the new policy (or the new time): approved ones may be
                 * refused now, and cut off. */
                link_wireless_sync(n, l, NULL, NULL);
        }
        firewall_sync(n);
        n->next_change = net_next_change(n);
}

const char *net_firewall_problem(const struct net *n) {
        return n && n->firewall_problem[0] ? n->firewall_problem : NULL;
}

int net_installation_list(const struct net *n, struct net_allowance **ret) {
        struct net_allowance *a = calloc(1, sizeof *a);
        int r;

        if (!a)
                return -ENOMEM;
        for (const struct net_link *l = n->links; l; l = l->next)
                if (l->grandfathered && (r = net_allowance_add(a, &l->id)) < 0) {
                        net_allowance_free(a);
                        return r;
                }
        *ret = a;
        return 0;
}

int64_t net_next_change(const struct net *n) {
        int64_t next = TIME_INFINITY;

        if (!n)
                return next;
        for (const struct net_link *l = n->links; l; l = l->next) {
                next = MIN(next, l->next_change);
                if (l->assoc != ASSOC_NONE)
                        next = MIN(next, l->assoc_next_change);
        }
        return next;
}

void net_foreach_link(struct net *n, net_link_visitor_t visit, void *userdata) {
        if (!n)
                return;
        for (struct net_link *l = n->links; l; l = l->next) {
                struct net_link_wireless w = {
                        .mode = l->id.wireless,
                        .associated = l->assoc != ASSOC_NONE,
                        .approved = l->assoc == ASSOC_APPROVED,
                        .network = &l->network,
                        .reason = l->assoc_reason,
                        .permit = l->assoc_permit,
                        .refused = l->refused,
                        .last_refused = l->has_last_refused ? &l->last_refused : NULL,
                };
                struct net_link_status s = {
                        .id = &l->id,
                        .up = l->flags & IFF_UP,
                        .verdict = l->verdict,
                        .reason = l->reason,
                        .permit = l->permit,
                        .violations = l->violations,
                        .wireless = l->id.wireless != WIRELESS_NONE ? &w : NULL,
                };
                visit(&s, userdata);
        }
}

int net_wireless_scan(struct net *n, int ifindex, const uint8_t *ssid, size_t len, struct wireless_request *ret) {
        struct net_link *l = n ? link_find(n, ifindex) : NULL;

        if (!l || l->id.wireless == WIRELESS_NONE)
                return -ENODEV;
        return wifi_watch_scan_results(n->wifi, ifindex, ssid, len, ret);
}

void net_stop(struct net *n) {
        if (!n)
                return;
        for (struct net_link *l = n->links; l; l = l->next) {
                violations_flush(n, l);
                refusals_flush(n, l);
                l->violation_window_end = l->refused_window_end = 0;
        }
        n->violation_timer = sd_event_source_disable_unref(n->violation_timer);
}

struct net *net_free(struct net *n) {
        if (!n)
                return NULL;
        net_stop(n);
        while (n->links) {
                struct net_link *l = n->links;
                n->links = l->next;
                free(l);
        }
        /* The firewall tables stay in the kernel: new links are denied while kyokad is down. */
        sd_event_source_disable_unref(n->monitor_source);
        udev_monitor_unref(n->monitor);
        net_watch_free(n->watch);
        wifi_watch_free(n->wifi);
        net_firewall_free(n->firewall);
        net_enforce_free(n->enforce);
        net_allowance_free(n->allowance);
        udev_unref(n->udev);
        return mfree(n);
}
