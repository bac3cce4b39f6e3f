/* SPDX-License-Identifier: MIT */
/* The control socket (control.h): accepting clients, checking who they are, answering their
 * commands, and fanning records out to watchers.
 *
 * Fail closed and never wait: every socket is non-blocking, a message that does not fit is an
 * error, and a client we cannot write to at once (a watcher that stopped reading) is dropped
 * rather than queued for. Dropped clients are freed from a deferred event, never in the middle
 * of a handler that may still be using them (a reload sends records to watchers while it runs).
 *
 * Nobody can lock root out (docs/control.md "Limits"): control_admit() decides at accept, from
 * the peer's credentials, whether it gets a connection (per-uid limit, slots only admins may
 * take, eviction of an idle reader for an admin), and one timer closes clients idle for
 * idle_timeout_usec. One timer for the whole table rather than one per client: at most 64
 * clients, so finding the next deadline is a short scan, and a message received needs no timer
 * call at all (the deadline only moves later; a timer that fires early re-arms itself). */
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "control-message.h"
#include "fileio.h"
#include "identity.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "recorder.h"
#include "seat.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59              /* Linux 4.13 */
#endif

#define PEER_GROUPS_MAX 65536         /* NGROUPS_MAX of the kernel */
#define REFUSE_DRAIN_MAX 64           /* messages of a refused client read before closing */

/* Set by kyokad's hidden --control-idle-timeout (tests only); read by control_new(). */
static uint64_t arg_idle_timeout_usec = CONTROL_IDLE_TIMEOUT_USEC;


struct client {
        struct client *next;
        struct control *control;
        int fd;
        sd_event_source *source;
        uid_t uid;
        pid_t pid;
        enum control_access access;
        struct seat_set seats;        /* ACCESS_SEAT: the seats it is the active user of, kept current */
        bool watching;
        bool dead;                    /* dropped: freed by on_reap */
        uint64_t connected_usec;      /* CLOCK_MONOTONIC */
        uint64_t active_usec;         /* connected, or the last message received */
};

struct control {
        struct manager *manager;
        sd_event *event;
        int fd;
        char *path;
        sd_event_source *source;
        sd_event_source *reaper;
        sd_event_source *idle_timer;
        uint64_t idle_timeout_usec;
        struct client *clients;
        struct control_refusal_log refusals;
        sd_login_monitor *login_monitor; /* NULL: seat changes cannot be followed, so no seat access */
        sd_event_source *login_source;
        gid_t read_gid;               /* (gid_t) -1: the group does not exist */
        gid_t admin_gid;
        char *buf;                    /* one incoming message, KYOKA_CONTROL_MESSAGE_MAX + 1 */
};

static gid_t lookup_group(const char *name) {
        struct group *gr = getgrnam(name);
        return gr ? gr->gr_gid : (gid_t) -1;
}

/* Logs a refusal of UID, unless one of UID for WHY (or too many others) was logged within the
 * last minute: a client refused in a loop must not flood the journal. */
_printf_(4, 5) static void log_refusal(struct control *c, uid_t uid, enum control_refusal why, const char *format, ...) {
        char text[LINE_MAX];
        uint64_t now, suppressed;
        va_list ap;

        if (sd_event_now(c->event, CLOCK_MONOTONIC, &now) < 0 ||
            !control_refusal_log_check(&c->refusals, uid, why, now, &suppressed))
                return;
        va_start(ap, format);
        (void) vsnprintf(text, sizeof text, format, ap);
        va_end(ap);
        if (suppressed > 0)
                log_notice("%s (%" PRIu64 " earlier refusals not logged: at most one line per uid a minute)",
                           text, suppressed);
        else
                log_notice("%s", text);
}

static void client_drop(struct client *cl) {
        if (cl->dead)
                return;
        cl->dead = true;
        cl->watching = false;
        (void) sd_event_source_set_enabled(cl->source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(cl->control->reaper, SD_EVENT_ONESHOT);
}

/* Closes a client's socket so that it reads our last reply rather than ECONNRESET: the kernel
 * resets a peer (and its recv() reports that before queued data) when we close with its
 * messages unread. SHUT_RD makes its further sends fail (EPIPE); then what it sent before is
 * read and thrown away. A client that still has more queued than REFUSE_DRAIN_MAX gets the
 * reset. */
static void close_gracefully(int fd) {
        if (fd < 0)
                return;
        (void) shutdown(fd, SHUT_RD);
        for (unsigned i = 0; i < REFUSE_DRAIN_MAX; i++)
                if (recv(fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC) <= 0)
                        break;
        (void) close(fd);
}

static void client_free(struct client *cl) {
        sd_event_source_disable_unref(cl->source);
        close_gracefully(cl->fd);
        free(cl);
}

static int on_reap(sd_event_source *s, void *userdata) {
        struct control *c = userdata;

        for (struct client **p = &c->clients; *p;) {
                struct client *cl = *p;
                if (!cl->dead) {
                        p = &cl->next;
                        continue;
                }
                *p = cl->next;
                client_free(cl);
        }
        return 0;
}

/* Sends one message; a client that cannot take it now is dropped (never waited for). */
static int client_send(struct client *cl, struct json_object *o) {
        const char *s;
        size_t n;
        int r;

        if (cl->dead)
                return -ECONNRESET;
        if (!o) {
                client_drop(cl);
                return -ENOMEM;
        }
        r = control_message_serialize(o, &s, &n);
        if (r == -EMSGSIZE) {
                _cleanup_(json_object_putp) struct json_object *e = control_error_new("reply too large");
                if (e && control_message_serialize(e, &s, &n) >= 0)
                        (void) send(cl->fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (r >= 0 && send(cl->fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                r = negative_errno();
        if (r < 0) {
                log_debug("control: dropping client pid %d: %s", (int) cl->pid, strerror(-r));
                client_drop(cl);
        }
        return r;
}

static int client_send_error(struct client *cl, const char *message) {
        _cleanup_(json_object_putp) struct json_object *e = control_error_new(message);
        return client_send(cl, e);
}

/* Closes a client that did nothing wrong (idle, or its slot went to an admin) and says why;
 * a watcher is closed without a word, as when it falls behind: its stream has no replies. */
static void client_close(struct client *cl, const char *message) {
        if (!cl->watching)
                (void) client_send_error(cl, message);
        client_drop(cl);
}

/* The live clients as control-message.c's pure functions see them. OWNERS[i] is PEERS[i]'s
 * client. Admission keeps the live clients at CONTROL_CLIENTS_MAX at most; should that ever
 * not hold, the table is reported full, never larger. */
static size_t collect_peers(struct control *c, struct control_peer peers[static CONTROL_CLIENTS_MAX],
                            struct client *owners[static CONTROL_CLIENTS_MAX]) {
        size_t n = 0;

        for (struct client *cl = c->clients; cl && n < CONTROL_CLIENTS_MAX; cl = cl->next) {
                if (cl->dead)
                        continue;
                peers[n] = (struct control_peer) { .uid = cl->uid, .admin = cl->access == ACCESS_ADMIN,
                                                   .watching = cl->watching, .connected_usec = cl->connected_usec,
                                                   .active_usec = cl->active_usec };
                owners[n++] = cl;
        }
        return n;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Arms the idle timer for the earliest deadline, or turns it off when no client can be idle. */
static void idle_timer_update(struct control *c) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        struct client *owners[CONTROL_CLIENTS_MAX];
        size_t n = collect_peers(c, peers, owners);
        uint64_t deadline = control_idle_deadline(peers, n, c->idle_timeout_usec);
        int r;

        if (deadline == UINT64_MAX) {
                (void) sd_event_source_set_enabled(c->idle_timer, SD_EVENT_OFF);
                return;
        }
        if (!c->idle_timer) {
                /* Accuracy a tenth of the timeout (at most 1 s): the loop may coalesce wake-ups. */
                r = sd_event_add_time(c->event, &c->idle_timer, CLOCK_MONOTONIC, deadline,
                                      MIN(c->idle_timeout_usec / 10, CONTROL_USEC_PER_SEC), on_idle_timer, c);
        } else {
                r = sd_event_source_set_time(c->idle_timer, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->idle_timer, SD_EVENT_ONESHOT);
        }
        /* Without the timer idle clients stay until they go; the limits still hold. */
        if (r < 0)
                log_warning_errno(r, "control: cannot arm the idle timer: %m");
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct control *c = userdata;
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        struct client *owners[CONTROL_CLIENTS_MAX];
        char message[64];
        uint64_t now;
        size_t n;

        if (sd_event_now(c->event, CLOCK_MONOTONIC, &now) < 0)
                now = usec;
        n = collect_peers(c, peers, owners);
        snprintf(message, sizeof message, "closed: idle for %" PRIu64 " s",
                 c->idle_timeout_usec / CONTROL_USEC_PER_SEC);
        for (size_t i = 0; i < n; i++)
                if (control_peer_idle_expired(&peers[i], now, c->idle_timeout_usec)) {
                        log_debug("control: closing the idle connection of uid %u (pid %d)",
                                  (unsigned) owners[i]->uid, (int) owners[i]->pid);
                        client_close(owners[i], message);
                }
        idle_timer_update(c);
        return 0;
}

static void on_record(struct json_object *record, void *userdata) {
        struct control *c = userdata;

        for (struct client *cl = c->clients; cl; cl = cl->next)
                if (cl->watching && control_record_visible(record, cl->access, &cl->seats))
                        (void) client_send(cl, record);
}

struct devices_visit {
        const struct seat_set *seats; /* NULL: every device; else a seat's user's view */
        struct json_object *array;
        size_t allowed, blocked;
        struct control_scan_counts *scans; /* NULL: not counted */
        bool failed;
};

static void devices_visit(const struct usb_device_status *d, void *userdata) {
        struct devices_visit *v = userdata;
        struct json_object *o;

        if (v->failed || (v->seats && !control_seat_sees_device(v->seats, d->id)))
                return;
        o = control_device_to_json(d);
        if (!o || json_object_array_add(v->array, o) < 0) {
                json_object_put(o);
                v->failed = true;
                return;
        }
        if (d->decided && d->verdict != VERDICT_BLOCK)
                v->allowed++;
        else
                v->blocked++;
        if (v->scans)
                control_scan_count(v->scans, d->scan);
}

static struct json_object *devices_json(struct control *c, const struct seat_set *seats, size_t *ret_allowed,
                                       size_t *ret_blocked, struct control_scan_counts *scans) {
        struct devices_visit v = { .seats = seats, .array = json_object_new_array(), .scans = scans };

        if (!v.array)
                return NULL;
        manager_foreach_device(c->manager, devices_visit, &v);
        if (v.failed)
                return json_object_put(v.array), NULL;
        if (ret_allowed)
                *ret_allowed = v.allowed;
        if (ret_blocked)
                *ret_blocked = v.blocked;
        return v.array;
}

struct media_visit {
        struct json_object *array;
        size_t allowed, blocked, fixed;
        struct control_scan_counts *scans; /* NULL: not counted */
        bool failed;
};

static void media_visit(const struct media_status *m, void *userdata) {
        struct media_visit *v = userdata;
        struct json_object *o;

        if (v->failed)
                return;
        o = control_medium_to_json(m);
        if (!o || json_object_array_add(v->array, o) < 0) {
                json_object_put(o);
                v->failed = true;
                return;
        }
        if (m->fixed)
                v->fixed++;
        else if (m->decided && m->verdict != VERDICT_BLOCK)
                v->allowed++;
        else
                v->blocked++;
        if (v->scans)
                control_scan_count(v->scans, m->scan);
}

/* The disks on other buses than USB as `list` shows them, fixed ones included. */
static struct json_object *media_json(struct control *c, struct media_visit *ret_counts,
                                     struct control_scan_counts *scans) {
        struct media_visit v = { .array = json_object_new_array(), .scans = scans };

        if (!v.array)
                return NULL;
        manager_foreach_medium(c->manager, media_visit, &v);
        if (v.failed)
                return json_object_put(v.array), NULL;
        if (ret_counts)
                *ret_counts = (struct media_visit) { .allowed = v.allowed, .blocked = v.blocked, .fixed = v.fixed };
        return v.array;
}

struct links_visit {
        struct json_object *array;
        size_t allowed, blocked;
        uint64_t violations;
        bool failed;
};

static void links_visit(const struct net_link_status *s, void *userdata) {
        struct links_visit *v = userdata;
        struct json_object *o;

        if (v->failed)
                return;
        o = control_link_to_json(s);
        if (!o || json_object_array_add(v->array, o) < 0) {
                json_object_put(o);
                v->failed = true;
                return;
        }
        if (s->verdict != VERDICT_BLOCK)
                v->allowed++;
        else
                v->blocked++;
        v->violations += s->violations;
}

/* The links as `list` shows them; a JSON null when kyokad does not watch links (--network off),
 * so that a client can tell "none" from "not watched". *RET_FAILED: out of memory. */
static struct json_object *links_json(struct control *c, struct links_visit *ret_counts, bool *ret_failed) {
        _cleanup_(json_object_putp) struct json_object *a = json_object_new_array();
        struct links_visit v = { .array = a };

        *ret_failed = !a;
        if (!a)
                return NULL;
        if (!manager_foreach_link(c->manager, links_visit, &v))
                return NULL;
        if (v.failed) {
                *ret_failed = true;
                return NULL;
        }
        if (ret_counts)
                *ret_counts = (struct links_visit) { .allowed = v.allowed, .blocked = v.blocked,
                                                     .violations = v.violations };
        return TAKE_PTR(a);
}

static struct json_object *link_counts_json(const struct links_visit *v) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o || json_add(o, "present", json_object_new_uint64(v->allowed + v->blocked)) < 0 ||
            json_add(o, "allowed", json_object_new_uint64(v->allowed)) < 0 ||
            json_add(o, "blocked", json_object_new_uint64(v->blocked)) < 0 ||
            json_add(o, "violations", json_object_new_uint64(v->violations)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* "firewall": null without network enforcement, else {"in_force": bool, "problem": text|null}. */
static int add_firewall(struct control *c, struct json_object *o) {
        const char *problem;

        if (!manager_get_firewall(c->manager, &problem))
                return json_add_null(o, "firewall");
        struct json_object *fw = json_object_new_object();
        if (json_add(o, "firewall", fw) < 0 || json_add(fw, "in_force", json_object_new_boolean(!problem)) < 0 ||
            json_add_string(fw, "problem", problem) < 0)
                return -ENOMEM;
        return 0;
}

static struct json_object *reply_list(struct control *c, const struct seat_set *seats);

static struct json_object *reply_status(struct control *c) {
        _cleanup_(json_object_putp) struct json_object *o = control_ok_new();
        struct manager_policy_info info;
        struct links_visit link_counts = {};
        const char *hostname, *machine_id;
        size_t allowed, blocked;
        struct media_visit media_counts = {};
        bool failed;
        struct control_scan_counts scans = {};
        uint64_t totals[_SCAN_RECORD_MAX];

        manager_get_policy_info(c->manager, &info);
        manager_get_host(c->manager, &hostname, &machine_id);
        _cleanup_(json_object_putp) struct json_object *devices = devices_json(c, NULL, &allowed, &blocked, &scans);
        _cleanup_(json_object_putp) struct json_object *links = links_json(c, &link_counts, &failed);
        _cleanup_(json_object_putp) struct json_object *media = media_json(c, &media_counts, &scans);
        recorder_scan_totals(manager_get_recorder(c->manager), totals);
        scans.since_passed = totals[SCAN_RECORD_PASSED];
        scans.since_infected = totals[SCAN_RECORD_INFECTED];
        scans.since_held = totals[SCAN_RECORD_HELD];
        struct json_object *counts = json_object_new_object(), *host = json_object_new_object(),
                           *mc = json_object_new_object();
        if (!o || !devices || !media || failed || json_add(o, "devices", counts) < 0 || json_add(o, "host", host) < 0 ||
            json_add(o, "media", mc) < 0 ||
            json_add(mc, "present", json_object_new_uint64(media_counts.allowed + media_counts.blocked)) < 0 ||
            json_add(mc, "allowed", json_object_new_uint64(media_counts.allowed)) < 0 ||
            json_add(mc, "blocked", json_object_new_uint64(media_counts.blocked)) < 0 ||
            json_add(mc, "fixed", json_object_new_uint64(media_counts.fixed)) < 0 ||
            (links ? json_add(o, "links", link_counts_json(&link_counts)) : json_add_null(o, "links")) < 0 ||
            json_add(counts, "present", json_object_new_uint64(allowed + blocked)) < 0 ||
            json_add(counts, "allowed", json_object_new_uint64(allowed)) < 0 ||
            json_add(counts, "blocked", json_object_new_uint64(blocked)) < 0 ||
            json_add(host, "hostname", json_object_new_string(hostname)) < 0 ||
            json_add_string(host, "machine_id", machine_id[0] ? machine_id : NULL) < 0 ||
            json_add(o, "policy", control_policy_to_json(&info)) < 0 ||
            json_add(o, "faults", recorder_recent_faults(manager_get_recorder(c->manager))) < 0 ||
            json_add(o, "ledger", recorder_ledger_status(manager_get_recorder(c->manager))) < 0 ||
            json_add(o, "scans", control_scan_counts_to_json(&scans)) < 0 || add_firewall(c, o) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* The permits deciding the entries of LIST (a `list` array) as a seat's user sees them, added
 * to the array TO: when each ends, so that kyoka-notify can say it in time. */
static int add_permits(struct json_object *to, struct json_object *list, const struct policy *p) {
        size_t n = json_object_array_length(list);

        for (size_t i = 0; p && i < n; i++) {
                struct json_object *what = json_object_array_get_idx(list, i), *v = NULL, *type = NULL;
                if (!json_object_object_get_ex(what, "permit", &v) || !json_object_is_type(v, json_type_string))
                        continue;
                const char *permit = json_object_get_string(v);
                const struct policy_approval *a = NULL;
                if (json_object_object_get_ex(what, "type", &type) && streq(json_object_get_string(type), "network")) {
                        const struct policy_net_entry *e = policy_find_net_permit(p, permit);
                        a = e ? &e->approval : NULL;
                } else {
                        const struct policy_usb_entry *e = policy_find_usb_permit(p, permit);
                        a = e ? &e->approval : NULL;
                }
                if (!a)
                        continue;
                struct json_object *o = control_permit_to_json(what, permit, a->valid_until_text, a->valid_until);
                if (!o || json_object_array_add(to, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* `status` for the active user of SEATS: the policy's state and end, the seats, and the permits
 * of the devices and links present there with their ends; nothing of the host (faults, ledger,
 * counts), nothing of other seats. */
static struct json_object *reply_status_seat(struct control *c, const struct seat_set *seats) {
        _cleanup_(json_object_putp) struct json_object *o = control_ok_new(), *list = reply_list(c, seats);
        struct json_object *names = json_object_new_array(), *permits = json_object_new_array(), *a = NULL;
        struct manager_policy_info info;

        manager_get_policy_info(c->manager, &info);
        if (!o || !list || json_add(o, "seats", names) < 0 || json_add(o, "permits", permits) < 0 ||
            json_add(o, "policy", control_policy_seat_view(&info)) < 0)
                return NULL;
        for (size_t i = 0; i < seats->n; i++)
                if (json_object_array_add(names, json_object_new_string(seats->names[i])) < 0)
                        return NULL;
        if ((json_object_object_get_ex(list, "devices", &a) && add_permits(permits, a, info.policy) < 0) ||
            (json_object_object_get_ex(list, "links", &a) && a && add_permits(permits, a, info.policy) < 0))
                return NULL;
        return TAKE_PTR(o);
}

/* SEATS: NULL for everything, else a seat's user's view: the devices of those seats, and the
 * links only with SEAT_DEFAULT (an empty array otherwise, as if none were present). */
static struct json_object *reply_list(struct control *c, const struct seat_set *seats) {
        _cleanup_(json_object_putp) struct json_object *o = control_ok_new();
        bool failed = false;

        /* Media on other buses (SD cards, optical discs, disks) have no seat of their own here:
         * a seat's user sees none of them (docs/control.md). */
        if (!o || json_add(o, "devices", devices_json(c, seats, NULL, NULL, NULL)) < 0 ||
            json_add(o, "media", seats ? json_object_new_array() : media_json(c, NULL, NULL)) < 0)
                return NULL;
        struct json_object *links = !seats || control_seat_sees_links(seats) ? links_json(c, NULL, &failed) :
                                    json_object_new_array();
        failed = failed || (seats && !links && !control_seat_sees_links(seats));
        if (failed) {
                json_object_put(links);
                return NULL;
        }
        if (json_add_nullable(o, "links", links) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct link_find {
        const char *arg;
        size_t n;
        struct net_identity id;       /* a copy: the status is borrowed for the visit only */
        enum policy_verdict verdict;
        /* A wireless link's networks: the current association's and the last one cut off. */
        bool associated, approved, has_last_refused;
        struct wireless_network network, last_refused;
};

static void link_find_visit(const struct net_link_status *s, void *userdata) {
        struct link_find *f = userdata;

        if (!control_link_matches(s->id, f->arg))
                return;
        f->n++;
        f->id = *s->id;
        f->verdict = s->verdict;
        if (s->wireless) {
                f->associated = s->wireless->associated;
                f->approved = s->wireless->approved;
                if (f->associated)
                        f->network = *s->wireless->network;
                f->has_last_refused = s->wireless->last_refused;
                if (f->has_last_refused)
                        f->last_refused = *s->wireless->last_refused;
        }
}

/* The network a wireless request names: of the scan (SSID given), the link's current association,
 * or the last it was cut off from. A static message in *RET_ERROR when there is none. */
static int wireless_request_fill(struct control *c, const struct control_command *cmd, const struct link_find *f,
                                 struct wireless_request *ret, const char **ret_error) {
        const struct wireless_network *net;
        int r;

        *ret = (struct wireless_request) {};
        snprintf(ret->ifname, sizeof ret->ifname, "%s", f->id.name);
        if (f->id.wireless == WIRELESS_NONE) {
                *ret_error = "that link is not a wireless link";
                return -ENODEV;
        }
        if (cmd->ssid_len > 0) {
                r = manager_wireless_scan(c->manager, f->id.ifindex, cmd->ssid, cmd->ssid_len, ret);
                if (r < 0) {
                        *ret_error = r == -ENOENT ? "no access point with that SSID in the link's scan results (scan first)" :
                                                    "the link's scan results cannot be read";
                        return r;
                }
                ret->source = WIRELESS_SEEN_SCAN;
                return 0;
        }
        if (f->associated) {
                net = &f->network;
                ret->source = f->approved ? WIRELESS_SEEN_ASSOCIATED : WIRELESS_SEEN_REFUSED;
        } else if (f->has_last_refused) {
                net = &f->last_refused;
                ret->source = WIRELESS_SEEN_REFUSED;
        } else {
                *ret_error = "the link is not associated and was never cut off a network: name one of its scan (ssid)";
                return -ENOENT;
        }
        if (net->ssid_len == 0) {
                *ret_error = "the network's SSID is not known (a hidden network): name it (ssid)";
                return -ENOENT;
        }
        memcpy(ret->ssid, net->ssid, net->ssid_len);
        ret->ssid_len = net->ssid_len;
        ret->security = net->security;
        if (net->has_bssid) {
                memcpy(ret->bssids[0], net->bssid, 6);
                ret->n_bssids = 1;
        }
        return 0;
}

/* The medium a request names (a copy). Fixed disks are not offered: they are not media. */
struct medium_find {
        const char *arg;
        size_t n;
        bool exact;
        struct media_identity id;
        enum policy_verdict verdict;
        bool fixed;
};

static void medium_find_visit(const struct media_status *s, void *userdata) {
        struct medium_find *f = userdata;

        if (f->exact || !control_medium_matches(s, f->arg))
                return;
        f->exact = streq(s->id->name, f->arg);
        f->n = f->exact ? 1 : f->n + 1;
        f->id = *s->id;
        f->verdict = s->decided ? s->verdict : VERDICT_BLOCK;
        f->fixed = s->fixed != NULL;
}

/* The device a request names (a copy: the status is borrowed for the visit only). */
struct device_find {
        const struct seat_set *seats; /* NULL: any device; else only those of these seats */
        const char *arg;
        size_t n;
        bool exact;                   /* found by its kernel name: unique, the others do not count */
        char name[64];
        struct usb_identity id;
        bool identity_ok;
        enum policy_verdict verdict;
};

static void device_find_visit(const struct usb_device_status *d, void *userdata) {
        struct device_find *f = userdata;

        if (f->exact || !control_device_matches(d, f->arg) ||
            (f->seats && !control_seat_sees_device(f->seats, d->id)))
                return;
        /* A kernel name is unique; a serial may not be (two units of a cheap model): then the
         * bus path must say which. */
        f->exact = streq(d->name, f->arg);
        f->n = f->exact ? 1 : f->n + 1;
        snprintf(f->name, sizeof f->name, "%s", d->name);
        f->id = *d->id;
        f->identity_ok = d->identity_ok;
        f->verdict = d->verdict;
}

/* SEATS: NULL for any device or link; else a seat's user's: what another seat holds is "not
 * present" (never said to exist). */
static struct json_object *reply_request(struct control *c, const struct control_command *cmd, const struct seat_set *seats) {
        _cleanup_(json_object_putp) struct json_object *o = NULL, *req_json = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct device_find *found = calloc(1, sizeof *found);
        _cleanup_free_ struct medium_find *found_medium = calloc(1, sizeof *found_medium);
        struct link_find found_link = { .arg = cmd->device };
        const char *hostname, *machine_id;

        if (!found || !found_medium)
                return NULL;
        found->arg = cmd->device;
        found->seats = seats;
        found_medium->arg = cmd->device;
        if (cmd->subject == SUBJECT_ANY || cmd->subject == SUBJECT_USB)
                manager_foreach_device(c->manager, device_find_visit, found);
        size_t n = found->n;
        if ((cmd->subject == SUBJECT_ANY || cmd->subject == SUBJECT_NETWORK || cmd->subject == SUBJECT_WIRELESS) &&
            (!seats || control_seat_sees_links(seats)))
                (void) manager_foreach_link(c->manager, link_find_visit, &found_link);
        /* Media have no seat: not a seat user's to request (docs/control.md). */
        if ((cmd->subject == SUBJECT_ANY || cmd->subject == SUBJECT_MEDIA) && !seats)
                manager_foreach_medium(c->manager, medium_find_visit, found_medium);

        if (found_medium->n > 0) {
                /* Never guess between kinds: the request would approve the wrong one. */
                if (n > 0 || found_link.n > 0)
                        return control_error_new("that names a medium and a USB device or network link: say which (\"type\")");
                if (found_medium->n > 1)
                        return control_error_new("several media have that serial: name one by its kernel name");
                if (found_medium->fixed)
                        return control_error_new("that is one of the workstation's own disks (fixed): there is nothing to request");
                _cleanup_free_ char *mtext = NULL;
                _cleanup_free_ struct request *req = calloc(1, sizeof *req);
                if (!req)
                        return NULL;
                manager_get_host(c->manager, &hostname, &machine_id);
                snprintf(req->hostname, sizeof req->hostname, "%s", hostname);
                snprintf(req->machine_id, sizeof req->machine_id, "%s", machine_id);
                req->time = (int64_t) time(NULL);
                req->type = REQUEST_MEDIA;
                req->media = found_medium->id;
                int r = request_to_json(req, &mtext);
                if (r < 0)
                        return r == -ENOMEM ? NULL : control_error_new("cannot write a request for this medium");
                _cleanup_(json_object_putp) struct json_object *mo = control_ok_new();
                if (!mo || json_add(mo, "request", json_tokener_parse(mtext)) < 0 ||
                    json_add(mo, "type", json_object_new_string("media")) < 0 ||
                    json_add(mo, "device", json_object_new_string(found_medium->id.name)) < 0 ||
                    json_add(mo, "verdict", json_object_new_string(policy_verdict_to_string(found_medium->verdict))) < 0)
                        return NULL;
                return TAKE_PTR(mo);
        }
        if (n == 0 && found_link.n == 0)
                return control_error_new(
                        cmd->subject == SUBJECT_USB ? "no present USB device has that bus path or serial" :
                        cmd->subject == SUBJECT_NETWORK || cmd->subject == SUBJECT_WIRELESS ?
                                "no network link has that name or ifindex" :
                        cmd->subject == SUBJECT_MEDIA ? "no medium has that kernel name or serial" :
                        "no present USB device has that bus path or serial, no network link that name or ifindex, "
                        "and no medium that kernel name or serial");
        /* Never guess between a device and a link: the request would approve the wrong one. */
        if (n > 0 && found_link.n > 0)
                return control_error_new("that names both a USB device and a network link: say which (\"type\")");
        if (n > 1)
                return control_error_new("several present devices have that serial: name one by its bus path");
        if (found_link.n > 1)
                return control_error_new("one link has that name and another that ifindex: name the link by the other");
        if (n == 1 && !found->identity_ok)
                return control_error_new("the device's descriptors could not be read: there is no identity to request");

        struct request *req = calloc(1, sizeof *req);
        if (!req)
                return NULL;
        manager_get_host(c->manager, &hostname, &machine_id);
        snprintf(req->hostname, sizeof req->hostname, "%s", hostname);
        snprintf(req->machine_id, sizeof req->machine_id, "%s", machine_id);
        req->time = (int64_t) time(NULL);
        if (n == 1) {
                req->type = REQUEST_USB;
                req->usb = found->id;
        } else if (cmd->subject == SUBJECT_WIRELESS) {
                const char *error = NULL;
                req->type = REQUEST_WIRELESS;
                if (wireless_request_fill(c, cmd, &found_link, &req->wireless, &error) < 0) {
                        free(req);
                        return control_error_new(error);
                }
        } else {
                req->type = REQUEST_NETWORK;
                req->net = found_link.id;
        }
        bool wireless = req->type == REQUEST_WIRELESS, seen_refused = wireless && req->wireless.source == WIRELESS_SEEN_REFUSED;
        int r = request_to_json(req, &text);
        free(req);
        if (r < 0)
                return r == -ENOMEM ? NULL : control_error_new("cannot write a request for this device");

        /* Embedded as an object: the client writes it out as a request file. */
        req_json = json_tokener_parse(text);
        o = control_ok_new();
        if (!o || json_add(o, "request", TAKE_PTR(req_json)) < 0 ||
            json_add(o, "type", json_object_new_string(n == 1 ? "usb" : wireless ? "wireless" : "network")) < 0 ||
            json_add(o, "device", json_object_new_string(n == 1 ? found->name : found_link.id.name)) < 0 ||
            (n == 0 && json_add(o, "ifindex", json_object_new_int(found_link.id.ifindex)) < 0) ||
            /* A wireless request's verdict is the network's: "block" when it was cut off. */
            json_add(o, "verdict", json_object_new_string(
                             wireless ? (seen_refused ? "block" : "allow") :
                             policy_verdict_to_string(n == 1 ? found->verdict : found_link.verdict))) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *reply_reload(struct control *c, struct client *cl) {
        _cleanup_(json_object_putp) struct json_object *before = NULL, *after = NULL, *o = NULL;
        _cleanup_(json_object_putp) struct json_object *links_before = NULL, *links_after = NULL;
        _cleanup_(json_object_putp) struct json_object *media_before = NULL, *media_after = NULL;
        struct manager_policy_info info;
        bool failed;
        int r;

        log_notice("control: reload requested by uid %u (pid %d)", (unsigned) cl->uid, (int) cl->pid);
        before = devices_json(c, NULL, NULL, NULL, NULL);
        links_before = links_json(c, NULL, &failed);
        media_before = media_json(c, NULL, NULL);
        if (!before || failed || !media_before)
                return NULL;
        r = manager_reload(c->manager);
        after = devices_json(c, NULL, NULL, NULL, NULL);
        media_after = media_json(c, NULL, NULL);
        links_after = links_json(c, NULL, &failed);
        manager_get_policy_info(c->manager, &info);

        /* "ok" is whether CONFIG_DIR's policy was accepted; devices may change either way (a
         * fallback to the accepted copy), so the changes always come along. */
        o = r >= 0 && info.load_ok ? control_ok_new() : control_error_new(info.load_message);
        if (!o || !after || failed || json_add(o, "message", json_object_new_string(info.load_message)) < 0 ||
            json_add(o, "policy", control_policy_to_json(&info)) < 0 ||
            json_add(o, "changes", control_devices_diff(before, after)) < 0 || !media_after ||
            json_add(o, "media_changes", control_media_diff(media_before, media_after)) < 0)
                return NULL;
        /* Links: null when not watched, like `list`. */
        if (links_before && links_after ? json_add(o, "link_changes", control_links_diff(links_before, links_after)) < 0 :
                          json_add_null(o, "link_changes") < 0)
                return NULL;
        return TAKE_PTR(o);
}

static struct json_object *reply_watch(void) {
        _cleanup_(json_object_putp) struct json_object *o = control_ok_new();

        if (!o || json_add(o, "watching", json_object_new_boolean(true)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static void client_handle(struct client *cl, const char *buf, size_t len) {
        struct control *c = cl->control;
        _cleanup_(json_object_putp) struct json_object *reply = NULL;
        struct control_command cmd;
        const char *error;
        int r;

        if (cl->access == ACCESS_NONE || (cl->access == ACCESS_SEAT && cl->seats.n == 0)) {
                (void) client_send_error(cl, CONTROL_REFUSAL_ACCESS_MESSAGE);
                client_drop(cl);
                return;
        }

        r = control_command_parse(buf, len, &cmd, &error);
        if (r < 0) {
                (void) client_send_error(cl, error);
                if (r == -EBADMSG || r == -ENOMEM)
                        client_drop(cl);
                return;
        }
        if (control_cmd_access(cmd.cmd) > cl->access) {
                log_refusal(c, cl->uid, CONTROL_REFUSAL_COMMAND, "control: refused %s from uid %u (pid %d): needs root or group " KYOKA_GROUP_ADMIN,
                            control_cmd_to_string(cmd.cmd), (unsigned) cl->uid, (int) cl->pid);
                (void) client_send_error(cl, "permission denied: needs root or group " KYOKA_GROUP_ADMIN);
                return;
        }

        switch (cmd.cmd) {
        case CONTROL_STATUS:
                reply = cl->access == ACCESS_SEAT ? reply_status_seat(c, &cl->seats) : reply_status(c);
                break;
        case CONTROL_LIST:
                reply = reply_list(c, cl->access == ACCESS_SEAT ? &cl->seats : NULL);
                break;
        case CONTROL_REQUEST:
                reply = reply_request(c, &cmd, cl->access == ACCESS_SEAT ? &cl->seats : NULL);
                break;
        case CONTROL_RELOAD:
                reply = reply_reload(c, cl);
                break;
        case CONTROL_WATCH:
                reply = reply_watch();
                break;
        }
        if (!reply) {
                (void) client_send_error(cl, "out of memory");
                client_drop(cl);
                return;
        }
        /* Watching starts after the reply, so the reply is the first message the watcher sees. */
        if (client_send(cl, reply) >= 0 && cmd.cmd == CONTROL_WATCH)
                cl->watching = true;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct client *cl = userdata;
        struct control *c = cl->control;

        if (cl->dead)
                return 0;
        if (revents & EPOLLIN) {
                /* MSG_TRUNC: the real length of a message larger than the buffer. */
                ssize_t n = recv(fd, c->buf, KYOKA_CONTROL_MESSAGE_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0) {
                        client_drop(cl);
                        return 0;
                }
                if ((size_t) n > KYOKA_CONTROL_MESSAGE_MAX) {
                        (void) client_send_error(cl, "message too large");
                        client_drop(cl);
                        return 0;
                }
                /* The idle timer needs no call: this deadline only moved later. */
                (void) sd_event_now(c->event, CLOCK_MONOTONIC, &cl->active_usec);
                client_handle(cl, c->buf, (size_t) n);
                return 0;
        }
        if (revents & (EPOLLHUP | EPOLLERR))
                client_drop(cl);
        return 0;
}

/* The peer's supplementary groups as the kernel had them at connect() (SO_PEERGROUPS, Linux
 * 4.13+), else from the group database for the peer's uid (getgrouplist). Never from
 * /proc/PID/status: the PID may be reused by another process by the time we read it. */
static int peer_groups(int fd, uid_t uid, gid_t gid, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 64 * sizeof(gid_t);

        for (;;) {
                gid_t *p = realloc(groups, len);
                if (!p)
                        return -ENOMEM;
                groups = p;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) >= 0) {
                        *ret_n = len / sizeof(gid_t);
                        *ret = TAKE_PTR(groups);
                        return 0;
                }
                if (errno != ERANGE || len > PEER_GROUPS_MAX * sizeof(gid_t))
                        break;
                /* ERANGE: len now holds the size needed. */
        }
        if (errno != ENOPROTOOPT)
                return negative_errno();

        struct passwd *pw = getpwuid(uid);
        if (!pw)
                return -ESRCH;
        int n = 64;
        for (;;) {
                gid_t *p = realloc(groups, (size_t) n * sizeof(gid_t));
                if (!p)
                        return -ENOMEM;
                groups = p;
                int want = n;
                if (getgrouplist(pw->pw_name, gid, groups, &want) >= 0) {
                        *ret_n = (size_t) want;
                        *ret = TAKE_PTR(groups);
                        return 0;
                }
                if (want <= n || want > PEER_GROUPS_MAX)
                        return -E2BIG;
                n = want;
        }
}

/* Answers a client we do not keep with MESSAGE and closes it (the caller's fd is taken). */
static void refuse(int *fd, const char *message) {
        _cleanup_(json_object_putp) struct json_object *e = control_error_new(message);
        const char *s;
        size_t n;

        if (e && control_message_serialize(e, &s, &n) >= 0)
                (void) send(*fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        close_gracefully(TAKE_FD(*fd));
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct control *c = userdata;
        _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        _cleanup_free_ gid_t *groups = NULL;
        struct ucred cred;
        socklen_t len = sizeof cred;
        size_t n_groups = 0;
        int r;

        if (cfd < 0)
                return 0;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warning_errno(errno, "control: cannot read a client's credentials: %m");
                return 0;
        }
        r = peer_groups(cfd, cred.uid, cred.gid, &groups, &n_groups);
        if (r < 0)
                log_notice("control: cannot read the groups of uid %u (pid %d): %s; judging by its primary group",
                           (unsigned) cred.uid, (int) cred.pid, strerror(-r));

        /* A peer with no access is still accepted (as a reader, within the readers' limits): it
         * is refused once its first message has been read, so that the refusal is the reply to
         * its command for any client, not a send() that fails with EPIPE. */
        enum control_access access = control_peer_access(cred.uid, cred.gid, groups, n_groups, c->read_gid, c->admin_gid);
        struct seat_set seats = {};
        if (access == ACCESS_NONE && c->login_monitor) {
                r = seat_lookup(cred.uid, &seats);
                if (r < 0)
                        log_notice("control: cannot look up the seats of uid %u (pid %d): %s", (unsigned) cred.uid,
                                   (int) cred.pid, strerror(-r));
                else if (seats.n > 0)
                        access = ACCESS_SEAT;
        }
        /* Nobody else gets a slot, a byte of kyokad's state or a read of its message: the
         * socket is open to every local user (0666), so this is the only gate. */
        if (access == ACCESS_NONE) {
                log_refusal(c, cred.uid, CONTROL_REFUSAL_ACCESS, "control: refused uid %u (pid %d): not root, not in group "
                            KYOKA_GROUP_READ " or " KYOKA_GROUP_ADMIN ", not the active user of a seat",
                            (unsigned) cred.uid, (int) cred.pid);
                refuse(&cfd, CONTROL_REFUSAL_ACCESS_MESSAGE);
                return 0;
        }

        struct control_peer peers[CONTROL_CLIENTS_MAX];
        struct client *owners[CONTROL_CLIENTS_MAX];
        size_t n = collect_peers(c, peers, owners), evict = SIZE_MAX;
        switch (control_admit(peers, n, cred.uid, access == ACCESS_ADMIN, &evict)) {
        case CONTROL_ADMIT:
                break;
        case CONTROL_ADMIT_EVICT:
                log_notice("control: closing the connection of uid %u (pid %d), %s, to serve uid %u (pid %d): "
                           "all %u connections are taken",
                           (unsigned) owners[evict]->uid, (int) owners[evict]->pid,
                           owners[evict]->watching ? "a watcher" : "idle", (unsigned) cred.uid, (int) cred.pid,
                           CONTROL_CLIENTS_MAX);
                client_close(owners[evict], "closed: every connection is taken and an administrator needed one");
                break;
        case CONTROL_REFUSE_UID: {
                log_refusal(c, cred.uid, CONTROL_REFUSAL_UID_LIMIT, "control: refused uid %u (pid %d): it has %u connections open already, "
                            "the most one uid may have", (unsigned) cred.uid, (int) cred.pid,
                            CONTROL_CLIENTS_PER_UID_MAX);
                char message[128];
                snprintf(message, sizeof message, "too many connections from this user (at most %u at once): "
                         "close idle ones, such as a forgotten policyctl watch", CONTROL_CLIENTS_PER_UID_MAX);
                refuse(&cfd, message);
                return 0;
        }
        case CONTROL_REFUSE_FULL:
                log_refusal(c, cred.uid, CONTROL_REFUSAL_FULL, "control: refused uid %u (pid %d): all connections it may use are taken",
                            (unsigned) cred.uid, (int) cred.pid);
                refuse(&cfd, "too many clients: try again later");
                return 0;
        }

        /* Replies can be large (a list of many devices): allow one whole in the send buffer. */
        int sndbuf = 2 * KYOKA_CONTROL_REPLY_MAX;
        if (setsockopt(cfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
                (void) setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

        struct client *cl = calloc(1, sizeof *cl);
        if (!cl) {
                refuse(&cfd, "out of memory");
                return 0;
        }
        *cl = (struct client) { .control = c, .fd = cfd, .uid = cred.uid, .pid = cred.pid, .access = access,
                                .seats = seats };
        (void) sd_event_now(c->event, CLOCK_MONOTONIC, &cl->connected_usec);
        cl->active_usec = cl->connected_usec;
        r = sd_event_add_io(c->event, &cl->source, cfd, EPOLLIN, on_client, cl);
        if (r < 0) {
                free(cl);
                refuse(&cfd, "out of resources");
                return 0;
        }
        TAKE_FD(cfd);
        cl->next = c->clients;
        c->clients = cl;
        idle_timer_update(c);
        return 0;
}

/* logind's state changed (a session started, ended, or another became the active one): every
 * seat's user is looked up again. One no longer the active user of any seat is closed: what it
 * could see was its seat's, and that seat is now someone else's. */
static int on_login_change(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct control *c = userdata;

        (void) sd_login_monitor_flush(c->login_monitor);
        for (struct client *cl = c->clients; cl; cl = cl->next) {
                if (cl->dead || cl->access != ACCESS_SEAT)
                        continue;
                struct seat_set seats = {};
                int r = seat_lookup(cl->uid, &seats);
                if (r < 0 || seats.n == 0) {
                        log_debug("control: uid %u (pid %d) is no longer the active user of a seat", (unsigned) cl->uid,
                                  (int) cl->pid);
                        cl->seats = (struct seat_set) {};
                        client_close(cl, "closed: no longer the active user of a seat");
                } else
                        cl->seats = seats;
        }
        return 0;
}

/* Seat access needs logind's changes followed; without a monitor (no logind) seats give none. */
static void login_monitor_start(struct control *c) {
        int r = sd_login_monitor_new(NULL, &c->login_monitor);
        if (r >= 0)
                r = sd_event_add_io(c->event, &c->login_source, sd_login_monitor_get_fd(c->login_monitor),
                                    (uint32_t) sd_login_monitor_get_events(c->login_monitor), on_login_change, c);
        if (r < 0) {
                log_info("control: cannot follow logind's seats (%s): the active user of a seat gets no access, "
                         "only root and groups " KYOKA_GROUP_READ " and " KYOKA_GROUP_ADMIN, strerror(-r));
                c->login_source = sd_event_source_disable_unref(c->login_source);
                c->login_monitor = sd_login_monitor_unref(c->login_monitor);
        }
}

int control_new(struct manager *m, sd_event *event, const char *runtime_dir, struct control **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct control *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (struct control) { .manager = m, .event = sd_event_ref(event), .fd = -EBADF,
                                .idle_timeout_usec = arg_idle_timeout_usec };
        c->path = path_join(runtime_dir, KYOKA_CONTROL_SOCKET);
        c->buf = malloc(KYOKA_CONTROL_MESSAGE_MAX + 1);
        if (!c->path || !c->buf) {
                r = -ENOMEM;
                goto fail;
        }
        if (strlen(c->path) >= sizeof sa.sun_path) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        strcpy(sa.sun_path, c->path);

        if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST) {
                r = negative_errno();
                goto fail;
        }

        /* Resolved once: a group created later counts after a restart (sysusers creates them
         * before kyokad first starts). */
        c->read_gid = lookup_group(KYOKA_GROUP_READ);
        c->admin_gid = lookup_group(KYOKA_GROUP_ADMIN);

        c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0) {
                r = negative_errno();
                goto fail;
        }
        (void) unlink(c->path); /* a stale socket of an earlier run */

        /* Every local user may connect (0666): kyokad itself decides at accept, from the peer's
         * credentials and logind, who gets a connection (docs/control.md "Who may do what"), as
         * bolt's and usbguard's daemons do. Born 0600 all the same, opened only once bound. */
        mode_t old = umask(0077);
        r = bind(c->fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0) {
                r = negative_errno();
                goto fail;
        }
        if (chmod(c->path, 0666) < 0)
                log_warning_errno(errno, "control: cannot open %s to local users: %m; it stays root-only", c->path);
        if (listen(c->fd, 16) < 0) {
                r = negative_errno();
                goto fail;
        }

        r = sd_event_add_io(event, &c->source, c->fd, EPOLLIN, on_accept, c);
        if (r >= 0)
                r = sd_event_add_defer(event, &c->reaper, on_reap, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->reaper, SD_EVENT_OFF);
        if (r < 0)
                goto fail;

        login_monitor_start(c);
        recorder_set_listener(manager_get_recorder(m), on_record, c);
        log_info("control socket %s (readers: group %s%s)", c->path,
                 c->read_gid != (gid_t) -1 ? KYOKA_GROUP_READ : "none", c->login_monitor ? ", the active user of a seat" : "");
        *ret = c;
        return 0;
fail:
        control_free(c);
        return r;
}

struct control *control_free(struct control *c) {
        if (!c)
                return NULL;
        recorder_set_listener(manager_get_recorder(c->manager), NULL, NULL);
        while (c->clients) {
                struct client *cl = c->clients;
                c->clients = cl->next;
                client_free(cl);
        }
        sd_event_source_disable_unref(c->source);
        sd_event_source_disable_unref(c->reaper);
        sd_event_source_disable_unref(c->idle_timer);
        sd_event_source_disable_unref(c->login_source);
        sd_login_monitor_unref(c->login_monitor);
        if (c->fd >= 0) {
                (void) close(c->fd);
                (void) unlink(c->path);
        }
        sd_event_unref(c->event);
        free(c->path);
        free(c->buf);
        return mfree(c);
}

int control_set_idle_timeout(uint64_t usec) {
        if (usec < CONTROL_USEC_PER_SEC || usec > CONTROL_IDLE_TIMEOUT_MAX_USEC)
                return -ERANGE;
        arg_idle_timeout_usec = usec;
        return 0;
}
