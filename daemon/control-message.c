/* SPDX-License-Identifier: MIT */
/* Messages of the control socket (control-message.h). A client's message is untrusted input:
 * it is bounded before it gets here, must be exactly one JSON object, and only the fields a
 * command needs are read. */
#include "control-message.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "hexutil.h"
#include "json-util.h"
#include "macro.h"
#include "timeutil.h"

DEFINE_CLEANUP(struct json_tokener, json_tokener_free);

#define CONTROL_JSON_DEPTH 8          /* commands are flat: anything deeper is garbage */

static const char *const cmd_names[] = {
        [CONTROL_STATUS] = KYOKA_CMD_STATUS,
        [CONTROL_LIST] = KYOKA_CMD_LIST,
        [CONTROL_REQUEST] = KYOKA_CMD_REQUEST,
        [CONTROL_RELOAD] = KYOKA_CMD_RELOAD,
        [CONTROL_WATCH] = KYOKA_CMD_WATCH,
};

const char *control_cmd_to_string(enum control_cmd cmd) {
        return (unsigned) cmd < ELEMENTSOF(cmd_names) ? cmd_names[cmd] : NULL;
}

enum control_access control_cmd_access(enum control_cmd cmd) {
        /* Nothing a client says can allow or block a device; reload only makes kyokad read the
         * signed files again, but it is still an admin's act (it is logged as one). */
        return cmd == CONTROL_RELOAD ? ACCESS_ADMIN : ACCESS_SEAT;
}

static bool in_group(gid_t want, gid_t gid, const gid_t *groups, size_t n_groups) {
        if (want == (gid_t) -1)
                return false;
        if (gid == want)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == want)
                        return true;
        return false;
}

enum control_access control_peer_access(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                                        gid_t read_gid, gid_t admin_gid) {
        if (uid == 0 || in_group(admin_gid, gid, groups, n_groups))
                return ACCESS_ADMIN;
        if (in_group(read_gid, gid, groups, n_groups))
                return ACCESS_READ;
        return ACCESS_NONE;
}

bool control_seat_sees_device(const struct seat_set *seats, const struct usb_identity *id) {
        return seat_set_contains(seats, id->seat);
}

bool control_seat_sees_links(const struct seat_set *seats) {
        return seat_set_contains(seats, SEAT_DEFAULT);
}

static const char *get_string(struct json_object *o, const char *key);

bool control_record_visible(struct json_object *record, enum control_access access, const struct seat_set *seats) {
        if (access >= ACCESS_READ)
                return true;
        if (access != ACCESS_SEAT || !seats || seats->n == 0)
                return false;
        const char *subject = get_string(record, "subject");
        if (streq_ptr(subject, "usb"))
                return seat_set_contains(seats, get_string(record, "seat"));
        if (streq_ptr(subject, "network"))
                return control_seat_sees_links(seats);
        return streq_ptr(subject, "policy");
}

enum control_admission control_admit(const struct control_peer *peers, size_t n, uid_t uid, bool admin,
                                     size_t *ret_evict) {
        size_t n_uid = 0, n_readers = 0, idle = SIZE_MAX, oldest = SIZE_MAX;

        for (size_t i = 0; i < n; i++) {
                const struct control_peer *p = &peers[i];
                if (p->uid == uid)
                        n_uid++;
                if (p->admin)
                        continue;
                n_readers++;
                if (!p->watching && (idle == SIZE_MAX || p->active_usec < peers[idle].active_usec))
                        idle = i;
                if (oldest == SIZE_MAX || p->connected_usec < peers[oldest].connected_usec)
                        oldest = i;
        }

        /* Not root: a limit would let root's own watchers (a monitoring check, a kiosk display)
         * keep `policyctl install` out. Root is bounded by the table alone. */
        if (uid != 0 && n_uid >= CONTROL_CLIENTS_PER_UID_MAX)
                return CONTROL_REFUSE_UID;
        if (!admin)
                return n < CONTROL_CLIENTS_MAX && n_readers < CONTROL_CLIENTS_MAX - CONTROL_CLIENTS_ADMIN_RESERVED ?
                               CONTROL_ADMIT : CONTROL_REFUSE_FULL;
        if (n < CONTROL_CLIENTS_MAX)
                return CONTROL_ADMIT;
        if (idle == SIZE_MAX)
                idle = oldest;
        if (idle == SIZE_MAX)
                return CONTROL_REFUSE_FULL;
        *ret_evict = idle;
        return CONTROL_ADMIT_EVICT;
}

bool control_peer_idle_expired(const struct control_peer *p, uint64_t now, uint64_t timeout) {
        return !p->watching && now >= p->active_usec && now - p->active_usec >= timeout;
}

uint64_t control_idle_deadline(const struct control_peer *peers, size_t n, uint64_t timeout) {
        uint64_t deadline = UINT64_MAX;

        for (size_t i = 0; i < n; i++)
                if (!peers[i].watching)
                        deadline = MIN(deadline, peers[i].active_usec > UINT64_MAX - timeout ?
                                                         UINT64_MAX : peers[i].active_usec + timeout);
        return deadline;
}

bool control_refusal_log_check(struct control_refusal_log *l, uid_t uid, enum control_refusal why, uint64_t now,
                               uint64_t *ret_suppressed) {
        struct control_refusal_entry *e = NULL, *stale = NULL;

        for (size_t i = 0; i < ELEMENTSOF(l->entries); i++) {
                struct control_refusal_entry *x = &l->entries[i];
                if (x->used && x->uid == uid && x->why == why) {
                        e = x;
                        break;
                }
                bool fresh = x->used && now >= x->logged_usec && now - x->logged_usec < CONTROL_REFUSAL_LOG_INTERVAL_USEC;
                /* A free entry, else the one logged longest ago. */
                if (!fresh && (!stale || (stale->used && (!x->used || x->logged_usec < stale->logged_usec))))
                        stale = x;
        }

        if (e) {
                /* now < logged_usec cannot happen on CLOCK_MONOTONIC; if it did, stay quiet. */
                if (now < e->logged_usec || now - e->logged_usec < CONTROL_REFUSAL_LOG_INTERVAL_USEC) {
                        e->suppressed++;
                        return false;
                }
        } else {
                if (!stale) {
                        /* CONTROL_REFUSAL_LOG_UIDS lines within the interval: enough. */
                        l->suppressed_other++;
                        return false;
                }
                /* A uid's count not yet said goes with the next line of any uid: never lost. */
                if (stale->used)
                        l->suppressed_other += stale->suppressed;
                e = stale;
                *e = (struct control_refusal_entry) { .uid = uid, .why = why, .used = true };
        }
        *ret_suppressed = e->suppressed + l->suppressed_other;
        e->suppressed = 0;
        e->logged_usec = now;
        l->suppressed_other = 0;
        return true;
}

int control_command_parse(const char *buf, size_t len, struct control_command *ret, const char **ret_error) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        struct json_object *v;
        struct control_command c = {};
        size_t i;

        *ret_error = "not a JSON object with a \"cmd\"";
        if (len == 0 || len > KYOKA_CONTROL_MESSAGE_MAX || memchr(buf, 0, len))
                return -EBADMSG;
        tok = json_tokener_new_ex(CONTROL_JSON_DEPTH);
        if (!tok) {
                *ret_error = "out of memory";
                return -ENOMEM;
        }
        o = json_tokener_parse_ex(tok, buf, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len ||
            !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (!json_object_object_get_ex(o, "cmd", &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;

        const char *name = json_object_get_string(v);
        for (i = 0; i < ELEMENTSOF(cmd_names); i++)
                if (streq(name, cmd_names[i]))
                        break;
        if (i == ELEMENTSOF(cmd_names)) {
                *ret_error = "unknown command";
                return -EOPNOTSUPP;
        }
        c.cmd = (enum control_cmd) i;

        if (c.cmd == CONTROL_REQUEST) {
                *ret_error = "\"device\" must be a bus path such as \"1-2\" or a serial (1 to 255 bytes)";
                if (!json_object_object_get_ex(o, "device", &v) || !json_object_is_type(v, json_type_string))
                        return -EINVAL;
                const char *s = json_object_get_string(v);
                size_t n = (size_t) json_object_get_string_len(v);
                if (n == 0 || n >= sizeof c.device || strlen(s) != n)
                        return -EINVAL;
                memcpy(c.device, s, n + 1);

                /* Optional: a name that is both a USB serial and a link's name needs it. */
                if (json_object_object_get_ex(o, "type", &v)) {
                        *ret_error = "\"type\" must be \"usb\", \"network\", \"wireless\" or \"media\"";
                        if (!json_object_is_type(v, json_type_string))
                                return -EINVAL;
                        if (streq(json_object_get_string(v), "usb"))
                                c.subject = SUBJECT_USB;
                        else if (streq(json_object_get_string(v), "network"))
                                c.subject = SUBJECT_NETWORK;
                        else if (streq(json_object_get_string(v), "wireless"))
                                c.subject = SUBJECT_WIRELESS;
                        else if (streq(json_object_get_string(v), "media"))
                                c.subject = SUBJECT_MEDIA;
                        else
                                return -EINVAL;
                }
                if (json_object_object_get_ex(o, "ssid_hex", &v)) {
                        *ret_error = "\"ssid_hex\" must be 2 to 64 hex digits, with \"type\": \"wireless\"";
                        if (c.subject != SUBJECT_WIRELESS || !json_object_is_type(v, json_type_string))
                                return -EINVAL;
                        size_t digits = (size_t) json_object_get_string_len(v);
                        if (digits == 0 || digits % 2 || digits > 2 * WIRELESS_SSID_MAX ||
                            hex_parse_bytes(json_object_get_string(v), digits, 0, HEX_ANY_CASE, c.ssid, digits / 2) < 0)
                                return -EINVAL;
                        c.ssid_len = digits / 2;
                }
        }

        *ret = c;
        *ret_error = NULL;
        return 0;
}

struct json_object *control_error_new(const char *message) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o || json_add(o, "ok", json_object_new_boolean(false)) < 0 ||
            json_add(o, "error", json_object_new_string(message)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *control_ok_new(void) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o || json_add(o, "ok", json_object_new_boolean(true)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

int control_message_serialize(struct json_object *o, const char **ret, size_t *ret_len) {
        size_t n;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                          &n);
        if (!s)
                return -ENOMEM;
        if (n > KYOKA_CONTROL_REPLY_MAX)
                return -EMSGSIZE;
        *ret = s;
        *ret_len = n;
        return 0;
}

/* KEY: the time in ISO 8601, or null when there is none (or it cannot be written). */
static int add_time(struct json_object *o, const char *key, int64_t t) {
        char buf[ISO8601_MAX];

        if (t == TIME_INFINITY || t == TIME_NEG_INFINITY || time_format_iso8601(t, buf, sizeof buf) < 0)
                return json_add_null(o, key);
        return json_add_string(o, key, buf);
}

/* Its virus scan, only when one was asked for (docs/control.md): "scan": {state, fault, files,
 * bytes}. */
static int add_scan(struct json_object *o, const char *state, const char *fault, uint64_t files, uint64_t bytes) {
        if (!state || !state[0])
                return 0;
        struct json_object *scan = json_object_new_object();
        if (json_add(o, "scan", scan) < 0 || json_add_string(scan, "state", state) < 0 ||
            json_add_string(scan, "fault", fault) < 0 ||
            json_add(scan, "files", json_object_new_int64((int64_t) MIN(files, (uint64_t) INT64_MAX))) < 0 ||
            json_add(scan, "bytes", json_object_new_int64((int64_t) MIN(bytes, (uint64_t) INT64_MAX))) < 0)
                return -ENOMEM;
        return 0;
}

struct json_object *control_device_to_json(const struct usb_device_status *d) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const struct usb_identity *id = d->id;
        char buf[9];

        if (!o || json_add_string(o, "type", "usb") < 0 || json_add_string(o, "device", d->name) < 0 ||
            json_add_string(o, "bus_path", id->bus_path) < 0 ||
            json_add_string(o, "id_path", id->id_path) < 0 || json_add_string(o, "seat", id->seat[0] ? id->seat : NULL) < 0)
                return NULL;
        snprintf(buf, sizeof buf, "%04x", id->vendor);
        if (json_add_string(o, "vendor", buf) < 0)
                return NULL;
        snprintf(buf, sizeof buf, "%04x", id->product);
        if (json_add_string(o, "product", buf) < 0 || json_add_string(o, "serial", id->has_serial ? id->serial : NULL) < 0 ||
            json_add_string(o, "manufacturer", id->manufacturer) < 0 || json_add_string(o, "product_name", id->product_name) < 0)
                return NULL;
        usb_interface_class_format(&id->device_class, buf);
        if (json_add_string(o, "device_class", buf) < 0)
                return NULL;

        struct json_object *ifs = json_object_new_array();
        if (json_add(o, "interfaces", ifs) < 0)
                return NULL;
        for (size_t i = 0; i < MIN(id->n_interfaces, (size_t) USB_INTERFACES_MAX); i++) {
                usb_interface_class_format(&id->interfaces[i], buf);
                struct json_object *s = json_object_new_string(buf);
                if (!s || json_object_array_add(ifs, s) < 0) {
                        json_object_put(s);
                        return NULL;
                }
        }

        if (json_add(o, "identity_ok", json_object_new_boolean(d->identity_ok)) < 0 ||
            json_add(o, "decided", json_object_new_boolean(d->decided)) < 0 ||
            /* Until it is decided a device is blocked: that is what the kernel holds. */
            json_add_string(o, "verdict", policy_verdict_to_string(d->decided ? d->verdict : VERDICT_BLOCK)) < 0 ||
            json_add_string(o, "reason", d->decided ? d->reason : "not decided yet") < 0 ||
            json_add_string(o, "permit", d->permit && d->permit[0] ? d->permit : NULL) < 0)
                return NULL;
        if (add_scan(o, d->scan, d->scan_fault, d->scan_files, d->scan_bytes) < 0)
                return NULL;
        return TAKE_PTR(o);
}

void control_scan_count(struct control_scan_counts *c, const char *state) {
        if (!state || !state[0])
                return;
        if (streq(state, "waiting"))
                c->waiting++;
        else if (streq(state, "scanning"))
                c->scanning++;
        else if (streq(state, "passed"))
                c->passed++;
        else if (streq(state, "infected"))
                c->infected++;
        else
                c->held++;              /* "held", and a state this build does not name: not usable */
}

struct json_object *control_scan_counts_to_json(const struct control_scan_counts *c) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct json_object *since = json_object_new_object();

        if (!o || json_add(o, "since_start", since) < 0 || json_add(o, "waiting", json_object_new_uint64(c->waiting)) < 0 ||
            json_add(o, "scanning", json_object_new_uint64(c->scanning)) < 0 ||
            json_add(o, "held", json_object_new_uint64(c->held)) < 0 ||
            json_add(o, "passed", json_object_new_uint64(c->passed)) < 0 ||
            json_add(o, "infected", json_object_new_uint64(c->infected)) < 0 ||
            json_add(since, "passed", json_object_new_uint64(c->since_passed)) < 0 ||
            json_add(since, "infected", json_object_new_uint64(c->since_infected)) < 0 ||
            json_add(since, "held", json_object_new_uint64(c->since_held)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

bool control_device_matches(const struct usb_device_status *d, const char *arg) {
        if (streq(d->name, arg))
                return true;
        return d->identity_ok && d->id->has_serial && d->id->serial[0] && streq(d->id->serial, arg);
}

struct json_object *control_permit_to_json(struct json_object *what, const char *permit, const char *valid_until_text,
                                           int64_t valid_until) {
        static const char *const keys[] = { "type", "device", "vendor", "product", "serial", "manufacturer",
                                            "product_name", "ifindex", "name", "mac" };
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "permit", permit) < 0 ||
            json_add_string(o, "valid_until", valid_until_text && valid_until_text[0] ? valid_until_text : NULL) < 0 ||
            add_time(o, "valid_until_time", valid_until) < 0)
                return NULL;
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                struct json_object *v = NULL;
                if (json_object_object_get_ex(what, keys[k], &v) && json_add(o, keys[k], json_object_get(v)) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

/* A network as `list` shows it: the SSID sanitised and as hex (its bytes are anyone's). */
static struct json_object *network_to_json(const struct wireless_network *n) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        char text[WIRELESS_SSID_TEXT_MAX], hex[WIRELESS_SSID_HEX_MAX], mac[18];

        wireless_ssid_text(n->ssid, n->ssid_len, text);
        wireless_ssid_hex(n->ssid, n->ssid_len, hex);
        if (n->has_bssid)
                mac_format(n->bssid, mac);
        if (!o || json_add_string(o, "ssid", text) < 0 || json_add_string(o, "ssid_hex", hex) < 0 ||
            json_add_string(o, "bssid", n->has_bssid ? mac : NULL) < 0 ||
            json_add_string(o, "security", wireless_security_to_string(n->security)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* "wireless": {"mode", "association": {network, "decision", "reason", "permit"} | null,
 * "refused", "last_refused": network | null}. */
static struct json_object *wireless_to_json(const struct net_link_wireless *w) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object(), *a = NULL;

        if (!o || json_add_string(o, "mode", wireless_mode_to_string(w->mode)) < 0)
                return NULL;
        if (w->associated) {
                a = network_to_json(w->network);
                if (!a || json_add_string(a, "decision", w->approved ? "allow" : "block") < 0 ||
                    json_add_string(a, "reason", w->reason) < 0 ||
                    json_add_string(a, "permit", w->permit && w->permit[0] ? w->permit : NULL) < 0 ||
                    json_add(o, "association", TAKE_PTR(a)) < 0)
                        return NULL;
        } else if (json_add_null(o, "association") < 0)
                return NULL;
        if (json_add(o, "refused", json_object_new_uint64(w->refused)) < 0 ||
            (w->last_refused ? json_add(o, "last_refused", network_to_json(w->last_refused)) :
                               json_add_null(o, "last_refused")) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *control_link_to_json(const struct net_link_status *s) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const struct net_identity *id = s->id;
        char mac[18];

        if (id->has_mac)
                mac_format(id->mac, mac);
        /* The identity fields are named as in a request's "device" (docs/request.md). */
        if (!o || json_add_string(o, "type", "network") < 0 ||
            json_add(o, "ifindex", json_object_new_int(id->ifindex)) < 0 || json_add_string(o, "name", id->name) < 0 ||
            json_add_string(o, "mac", id->has_mac ? mac : NULL) < 0 ||
            json_add(o, "mac_permanent", json_object_new_boolean(id->has_mac && id->mac_is_permanent)) < 0 ||
            json_add_string(o, "kind", id->kind) < 0 || json_add_string(o, "path", id->path) < 0 ||
            json_add_string(o, "driver", id->driver) < 0 ||
            json_add(o, "loopback", json_object_new_boolean(id->is_loopback)) < 0 ||
            json_add(o, "up", json_object_new_boolean(s->up)) < 0 ||
            json_add_string(o, "verdict", policy_verdict_to_string(s->verdict)) < 0 ||
            json_add_string(o, "reason", s->reason) < 0 ||
            json_add_string(o, "permit", s->permit && s->permit[0] ? s->permit : NULL) < 0 ||
            json_add(o, "violations", json_object_new_uint64(s->violations)) < 0)
                return NULL;
        /* Only on wireless links: the JSON of the others stays as it was. The mode is an identity
         * field too, named as in a request's "device": what a link's decision depends on
         * (policy_match_net), so that `install --dry-run` (net_identity_from_json) decides a
         * card acting as an access point as kyokad does. */
        if (id->wireless != WIRELESS_NONE &&
            json_add_string(o, "wireless_mode", wireless_mode_to_string(id->wireless)) < 0)
                return NULL;
        if (s->wireless && json_add(o, "wireless", wireless_to_json(s->wireless)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

bool control_link_matches(const struct net_identity *id, const char *arg) {
        char buf[16];

        if (streq(id->name, arg))
                return true;
        /* Decimal as printed, so "07" or "+7" name nothing. */
        snprintf(buf, sizeof buf, "%d", id->ifindex);
        return streq(buf, arg);
}

struct json_object *control_policy_seat_view(const struct manager_policy_info *info) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const struct policy *p = info->policy;

        if (!o)
                return NULL;
        if (!p)
                return json_add_string(o, "state", "lockdown") < 0 ? NULL : TAKE_PTR(o);
        if (json_add_string(o, "state", "enforcing") < 0 || json_add(o, "serial", json_object_new_uint64(p->serial)) < 0 ||
            json_add_string(o, "issuer", p->issuer) < 0 || json_add_string(o, "contract", p->contract) < 0 ||
            json_add_string(o, "valid_until", p->valid_until_text) < 0 ||
            add_time(o, "valid_until_time", p->valid_until) < 0)
                return NULL;
        return TAKE_PTR(o);
}

struct json_object *control_medium_to_json(const struct media_status *s) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const struct media_identity *id = s->id;

        /* The identity fields are named as in a request's "device" (docs/request.md), but for
         * "device", the kernel name, which names a USB device's entry too. */
        if (!o || json_add_string(o, "type", "media") < 0 || json_add_string(o, "device", id->name) < 0 ||
            json_add_string(o, "bus", media_bus_to_string(id->bus)) < 0 || json_add_string(o, "path", id->path) < 0 ||
            json_add_string(o, "vendor", id->vendor) < 0 || json_add_string(o, "model", id->model) < 0 ||
            json_add_string(o, "serial", id->serial) < 0 || json_add_string(o, "oemid", id->oemid) < 0 ||
            json_add_string(o, "date", id->date) < 0 || json_add_string(o, "fixed", s->fixed) < 0 ||
            json_add(o, "decided", json_object_new_boolean(s->decided)) < 0 ||
            /* A fixed disk is never decided: it is the workstation's own ("verdict" null). */
            json_add_string(o, "verdict", s->fixed ? NULL : policy_verdict_to_string(s->decided ? s->verdict : VERDICT_BLOCK)) < 0 ||
            json_add_string(o, "reason", s->fixed ? s->fixed : s->decided ? s->reason : "not decided yet") < 0 ||
            json_add_string(o, "permit", s->permit && s->permit[0] ? s->permit : NULL) < 0 ||
            (id->bus == MEDIA_BUS_OPTICAL ? json_add(o, "disc", json_object_new_boolean(s->disc)) : json_add_null(o, "disc")) < 0 ||
            add_scan(o, s->scan, s->scan_fault, s->scan_files, s->scan_bytes) < 0)
                return NULL;
        return TAKE_PTR(o);
}

bool control_medium_matches(const struct media_status *s, const char *arg) {
        return streq(s->id->name, arg) || (s->id->serial[0] && streq(s->id->serial, arg));
}

struct json_object *control_policy_to_json(const struct manager_policy_info *info) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const struct policy *p = info->policy;

        if (!o)
                return NULL;
        if (!p) {
                if (json_add_string(o, "state", "lockdown") < 0 ||
                    json_add_string(o, "description",
                               "no valid policy: built-in lockdown (HID-only devices and hubs allowed, everything "
                               "else blocked)") < 0)
                        return NULL;
        } else {
                struct json_object *signer = json_object_new_object(), *entries = json_object_new_object();
                if (json_add(o, "signer", signer) < 0 || json_add(o, "entries", entries) < 0)
                        return NULL;
                if (json_add_string(o, "state", "enforcing") < 0 ||
                    json_add(o, "serial", json_object_new_uint64(p->serial)) < 0 ||
                    json_add_string(o, "issued", p->issued_text) < 0 || json_add_string(o, "issuer", p->issuer) < 0 ||
                    json_add_string(o, "contract", p->contract) < 0 || json_add_string(o, "workstation", p->workstation) < 0 ||
                    json_add_string(o, "valid_until", p->valid_until_text) < 0 ||
                    add_time(o, "valid_until_time", p->valid_until) < 0 ||
                    json_add_string(signer, "key", info->signer_name) < 0 ||
                    json_add_string(signer, "fingerprint", info->signer_fingerprint) < 0 ||
                    json_add(entries, "usb", json_object_new_uint64(p->n_usb)) < 0 ||
                    json_add(entries, "network", json_object_new_uint64(p->n_net)) < 0 ||
                    json_add(entries, "media", json_object_new_uint64(p->n_media)) < 0 ||
                    json_add(entries, "fixed_disks", json_object_new_uint64(p->n_fixed)) < 0 ||
                    add_time(o, "loaded_at", info->loaded_at) < 0 ||
                    json_add_string(o, "source", info->fallback ? "accepted-copy" : "config") < 0)
                        return NULL;
        }

        struct json_object *last = json_object_new_object();
        if (json_add(o, "last_load", last) < 0 || json_add(last, "ok", json_object_new_boolean(info->load_ok)) < 0 ||
            json_add_string(last, "message", info->load_message) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static const char *get_string(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* One entry of AFTER per element: KEYS copied from it, then "before" (the verdict of the element
 * of BEFORE with an equal ID_KEY, or null), "after" and "changed". */
static struct json_object *diff(struct json_object *before, struct json_object *after, const char *id_key,
                                const char *const *keys, size_t n_keys) {
        _cleanup_(json_object_putp) struct json_object *a = json_object_new_array();
        size_t n_before = json_object_array_length(before), n_after = json_object_array_length(after);

        if (!a)
                return NULL;
        for (size_t i = 0; i < n_after; i++) {
                struct json_object *d = json_object_array_get_idx(after, i), *id = NULL;
                const char *was = NULL, *now = get_string(d, "verdict");
                if (!json_object_object_get_ex(d, id_key, &id) || !id || !now)
                        continue;
                for (size_t j = 0; j < n_before && !was; j++) {
                        struct json_object *b = json_object_array_get_idx(before, j), *bid = NULL;
                        if (json_object_object_get_ex(b, id_key, &bid) && json_object_equal(bid, id))
                                was = get_string(b, "verdict");
                }

                _cleanup_(json_object_putp) struct json_object *c = json_object_new_object();
                if (!c)
                        return NULL;
                /* The identity and decision fields as they are now, then the change. */
                for (size_t k = 0; k < n_keys; k++) {
                        struct json_object *v = NULL;
                        (void) json_object_object_get_ex(d, keys[k], &v);
                        if (json_add_nullable(c, keys[k], json_object_get(v)) < 0)
                                return NULL;
                }
                if (json_add_string(c, "before", was) < 0 || json_add_string(c, "after", now) < 0 ||
                    json_add(c, "changed", json_object_new_boolean(!streq_ptr(was, now))) < 0)
                        return NULL;
                if (json_object_array_add(a, c) < 0)
                        return NULL;
                c = NULL;
        }
        return TAKE_PTR(a);
}

struct json_object *control_devices_diff(struct json_object *before, struct json_object *after) {
        static const char *const keys[] = { "device", "vendor", "product", "serial", "manufacturer",
                                            "product_name", "reason", "permit" };
        return diff(before, after, "device", keys, ELEMENTSOF(keys));
}

struct json_object *control_media_diff(struct json_object *before, struct json_object *after) {
        static const char *const keys[] = { "device", "bus", "vendor", "model", "serial", "reason", "permit" };
        return diff(before, after, "device", keys, ELEMENTSOF(keys));
}

struct json_object *control_links_diff(struct json_object *before, struct json_object *after) {
        static const char *const keys[] = { "ifindex", "name", "mac", "mac_permanent", "kind",
                                            "path", "driver", "reason", "permit" };
        return diff(before, after, "ifindex", keys, ELEMENTSOF(keys));
}
