/* SPDX-License-Identifier: MIT */
/* Matching: identity + time -> decision + reason (the rules are on top of policy-match.h).
 *
 * The indices are chained hash tables of entry numbers: heads[] per bucket, next[] per entry.
 * Entries that share a key (a permit and its renewal) simply share a chain, and chains keep
 * file order, so "the first entry in the file" is well defined whichever index found it. The
 * tables are sized from the entry count at build time and never change afterwards: lookups
 * are read-only and may run on any thread. Memory: 4 bytes per bucket (a power of two at least
 * the keyed count) and 4 per entry; a lookup compares the keys of its chain's entries (no stored
 * hashes: at a load factor below 1 a chain holds one or two entries). */

#include "policy-match.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "timeutil.h"
#include "utf8.h"

#define NONE UINT32_MAX

struct chain_table {
        uint32_t mask;                /* buckets - 1, buckets a power of two */
        uint32_t *heads;              /* first entry number per bucket, or NONE */
        uint32_t *next;               /* next entry number in the same bucket, per entry */
        bool borrowed;                /* heads and next are another's (a compiled image's mapping) */
};

struct policy_index {
        struct chain_table usb;       /* (vendor, product, serial) */
        struct chain_table net_mac;   /* network entries with a MAC */
        struct chain_table net_path;  /* network entries without a MAC, with a path */
        size_t n_net_scan;            /* entries with only kind and/or name */
        uint32_t *net_scan;
        struct chain_table wireless;  /* wireless entries by SSID */
        struct chain_table media;     /* media entries with a serial: (bus, serial) */
        size_t n_media_scan;          /* media entries without one (a drive, a slot: by path) */
        uint32_t *media_scan;
};

static uint32_t fnv1a(uint32_t h, const void *data, size_t n) {
        const uint8_t *p = data;

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 16777619u;
        }
        return h;
}

#define FNV_OFFSET 2166136261u

static uint32_t usb_key_hash(uint16_t vendor, uint16_t product, const char *serial) {
        uint8_t vp[4] = { vendor >> 8, vendor & 0xff, product >> 8, product & 0xff };
        uint32_t h = fnv1a(FNV_OFFSET, vp, sizeof vp);

        return fnv1a(h, serial, strlen(serial));
}

static uint32_t media_key_hash(enum media_bus bus, const char *serial) {
        uint8_t b = (uint8_t) bus;
        return fnv1a(fnv1a(FNV_OFFSET, &b, 1), serial, strlen(serial));
}

static uint32_t mac_hash(const uint8_t mac[static 6]) {
        return fnv1a(FNV_OFFSET, mac, 6);
}

static uint32_t path_hash(const char *path) {
        return fnv1a(FNV_OFFSET, path, strlen(path));
}

static uint32_t ssid_hash(const uint8_t *ssid, size_t len) {
        return fnv1a(FNV_OFFSET, ssid, len);
}

static void chain_table_done(struct chain_table *t) {
        if (t->borrowed) {
                t->heads = t->next = NULL;
                t->borrowed = false;
                return;
        }
        t->heads = mfree(t->heads);
        t->next = mfree(t->next);
}

/* Room for N_KEYED entries among N_ENTRIES: buckets at least the keyed count, so chains stay
 * short; next[] is indexed by entry number. */
static int chain_table_init(struct chain_table *t, size_t n_keyed, size_t n_entries) {
        size_t buckets = 16;

        while (buckets < n_keyed)
                buckets <<= 1;
        t->mask = (uint32_t) (buckets - 1);
        t->heads = malloc(buckets * sizeof *t->heads);
        t->next = malloc(MAX(n_entries, (size_t) 1) * sizeof *t->next);
        if (!t->heads || !t->next) {
                chain_table_done(t);
                return -ENOMEM;
        }
        memset(t->heads, 0xff, buckets * sizeof *t->heads);     /* NONE */
        return 0;
}

/* Callers insert in reverse file order, so each chain reads in file order. */
static void chain_table_insert(struct chain_table *t, uint32_t entry, uint32_t hash) {
        uint32_t b = hash & t->mask;

        t->next[entry] = t->heads[b];
        t->heads[b] = entry;
}

int policy_index_usb_table(const struct policy *p, const uint32_t **ret_heads, size_t *ret_n_buckets,
                           const uint32_t **ret_next) {
        if (!p || !p->index)
                return -ENOENT;
        *ret_heads = p->index->usb.heads;
        *ret_n_buckets = (size_t) p->index->usb.mask + 1;
        *ret_next = p->index->usb.next;
        return 0;
}

int policy_index_usb_borrow(struct policy *p, const uint32_t *heads, size_t n_buckets, const uint32_t *next) {
        if (!p || !p->index || !heads || !next)
                return -EINVAL;
        struct chain_table *t = &p->index->usb;
        /* Taken only when it is exactly the table just built from the entries: a lookup then
         * reads what it would have read on the heap. */
        if (n_buckets != (size_t) t->mask + 1 || memcmp(heads, t->heads, n_buckets * sizeof *heads) != 0 ||
            memcmp(next, t->next, p->n_usb * sizeof *next) != 0)
                return -EBADMSG;
        chain_table_done(t);
        t->heads = (uint32_t *) heads;
        t->next = (uint32_t *) next;
        t->borrowed = true;
        return 0;
}

void policy_index_free(struct policy_index *idx) {
        if (!idx)
                return;
        chain_table_done(&idx->usb);
        chain_table_done(&idx->net_mac);
        chain_table_done(&idx->net_path);
        chain_table_done(&idx->wireless);
        free(idx->net_scan);
        chain_table_done(&idx->media);
        free(idx->media_scan);
        free(idx);
}

DEFINE_CLEANUP(struct policy_index, policy_index_free);

int policy_index_build(struct policy *p) {
        _cleanup_(policy_index_freep) struct policy_index *idx = NULL;
        size_t n_mac = 0, n_path = 0;
        int r;

        if (!p)
                return -EINVAL;
        /* entry numbers are uint32_t with NONE reserved */
        if (p->n_usb >= NONE || p->n_net >= NONE || p->n_wireless >= NONE || p->n_media >= NONE)
                return -E2BIG;

        idx = calloc(1, sizeof *idx);
        if (!idx)
                return -ENOMEM;

        r = chain_table_init(&idx->usb, p->n_usb, p->n_usb);
        if (r < 0)
                return r;
        for (size_t i = p->n_usb; i-- > 0;) {
                const struct policy_usb_entry *e = &p->usb[i];
                chain_table_insert(&idx->usb, (uint32_t) i, usb_key_hash(e->vendor, e->product, e->serial ?: ""));
        }

        for (size_t i = 0; i < p->n_net; i++) {
                if (p->net[i].has_mac)
                        n_mac++;
                else if (p->net[i].path)
                        n_path++;
        }
        r = chain_table_init(&idx->net_mac, n_mac, p->n_net);
        if (r < 0)
                return r;
        r = chain_table_init(&idx->net_path, n_path, p->n_net);
        if (r < 0)
                return r;
        idx->net_scan = malloc(MAX(p->n_net - n_mac - n_path, (size_t) 1) * sizeof *idx->net_scan);
        if (!idx->net_scan)
                return -ENOMEM;
        for (size_t i = p->n_net; i-- > 0;) {
                const struct policy_net_entry *e = &p->net[i];

                if (e->has_mac)
                        chain_table_insert(&idx->net_mac, (uint32_t) i, mac_hash(e->mac));
                else if (e->path)
                        chain_table_insert(&idx->net_path, (uint32_t) i, path_hash(e->path));
        }
        for (size_t i = 0; i < p->n_net; i++)
                if (!p->net[i].has_mac && !p->net[i].path)
                        idx->net_scan[idx->n_net_scan++] = (uint32_t) i;

        r = chain_table_init(&idx->wireless, p->n_wireless, p->n_wireless);
        if (r < 0)
                return r;
        for (size_t i = p->n_wireless; i-- > 0;)
                chain_table_insert(&idx->wireless, (uint32_t) i, ssid_hash(p->wireless[i].ssid, p->wireless[i].ssid_len));

        size_t n_serial = 0;
        for (size_t i = 0; i < p->n_media; i++)
                n_serial += p->media[i].serial != NULL;
        r = chain_table_init(&idx->media, n_serial, p->n_media);
        if (r < 0)
                return r;
        idx->media_scan = malloc(MAX(p->n_media - n_serial, (size_t) 1) * sizeof *idx->media_scan);
        if (!idx->media_scan)
                return -ENOMEM;
        for (size_t i = p->n_media; i-- > 0;)
                if (p->media[i].serial)
                        chain_table_insert(&idx->media, (uint32_t) i, media_key_hash(p->media[i].bus, p->media[i].serial));
        for (size_t i = 0; i < p->n_media; i++)
                if (!p->media[i].serial)
                        idx->media_scan[idx->n_media_scan++] = (uint32_t) i;

        policy_index_free(p->index);
        p->index = TAKE_PTR(idx);
        return 0;
}

/* ---- deciding ------------------------------------------------------------------------------ */

static bool in_window(const struct policy_approval *a, int64_t now) {
        return a->valid_from <= now && now < a->valid_until;
}

/* Lowers *NEXT to T if T is a future instant earlier than it. */
static void next_change_consider(int64_t *next, int64_t t, int64_t now) {
        if (t > now && t < *next)
                *next = t;
}

static void window_boundaries(int64_t *next, const struct policy_approval *a, int64_t now) {
        next_change_consider(next, a->valid_from, now);
        next_change_consider(next, a->valid_until, now);
}

/* Of the entries that match an identity, which one decides and what to say about the rest. */
struct candidates {
        uint32_t open;                /* first in file order whose window contains now */
        uint32_t not_yet;             /* the one becoming valid soonest */
        uint32_t expired;             /* the one that expired last */
        uint32_t other_port;          /* USB: the first valid now for the identity, but bound to another port */
        int64_t next_change;          /* earliest future window boundary of any of them */
};

#define CANDIDATES_INIT { .open = NONE, .not_yet = NONE, .expired = NONE, .other_port = NONE, .next_change = TIME_INFINITY }

static void candidates_add(struct candidates *c, uint32_t i, const struct policy_approval *a,
                           const struct policy_approval *(*get)(const struct policy *, uint32_t),
                           const struct policy *p, int64_t now) {
        window_boundaries(&c->next_change, a, now);
        if (in_window(a, now)) {
                if (c->open == NONE || i < c->open)
                        c->open = i;
        } else if (now < a->valid_from) {
                if (c->not_yet == NONE || a->valid_from < get(p, c->not_yet)->valid_from)
                        c->not_yet = i;
        } else if (c->expired == NONE || a->valid_until > get(p, c->expired)->valid_until)
                c->expired = i;
}

static const struct policy_approval *usb_approval(const struct policy *p, uint32_t i) {
        return &p->usb[i].approval;
}

static const struct policy_approval *net_approval(const struct policy *p, uint32_t i) {
        return &p->net[i].approval;
}

static const struct policy_approval *wireless_approval(const struct policy *p, uint32_t i) {
        return &p->wireless[i].approval;
}

static uint32_t all_interfaces(size_t n) {
        return n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

static bool pattern_matches(const struct policy_interface_pattern *pat, const struct usb_interface_class *c) {
        return pat->c.cls == c->cls &&
                (pat->any_subclass || pat->c.subclass == c->subclass) &&
                (pat->any_protocol || pat->c.protocol == c->protocol);
}

static bool entry_covers(const struct policy_usb_entry *e, const struct usb_interface_class *c) {
        for (size_t k = 0; k < e->n_interfaces; k++)
                if (pattern_matches(&e->interfaces[k], c))
                        return true;
        return false;
}

static bool usb_path_matches(const char *path, const struct usb_identity *id) {
        size_t n = strnlen(id->id_path, sizeof id->id_path);
        return n > 0 && n < sizeof id->id_path && streq(path, id->id_path);
}

/* Bounded copy of the identity's interface count: the struct may come from anywhere. */
static size_t usb_n_interfaces(const struct usb_identity *id) {
        return MIN(id->n_interfaces, (size_t) USB_INTERFACES_MAX);
}

enum policy_scan policy_scan_effective(const struct policy *p, enum policy_scan s) {
        if (s == POLICY_SCAN_DEFAULT)
                s = p ? p->default_scan : POLICY_SCAN_NONE;
        return s == POLICY_SCAN_DEFAULT ? POLICY_SCAN_NONE : s;
}

static void decision_set_scan(struct policy_decision *d, enum policy_scan s) {
        d->scan_required = s == POLICY_SCAN_REQUIRED || s == POLICY_SCAN_IN_AND_OUT;
        d->scan_written = s == POLICY_SCAN_IN_AND_OUT;
}

static void decide_usb_default(const struct policy *p, const struct usb_identity *id, struct policy_decision *d) {
        enum policy_action a;

        if (usb_identity_is_hid_only(id)) {
                d->reason = p ? REASON_DEFAULT_HID : REASON_LOCKDOWN_HID;
                a = p ? p->default_usb_hid : POLICY_ALLOW;
        } else if (usb_identity_is_hub(id)) {
                d->reason = p ? REASON_DEFAULT_HUB : REASON_LOCKDOWN_HUB;
                a = p ? p->default_usb_hub : POLICY_ALLOW;
        } else {
                d->reason = p ? REASON_DEFAULT_OTHER : REASON_LOCKDOWN_OTHER;
                a = p ? p->default_usb_other : POLICY_BLOCK;
        }
        d->verdict = a == POLICY_ALLOW ? VERDICT_ALLOW : VERDICT_BLOCK;
        d->interface_mask = a == POLICY_ALLOW ? all_interfaces(usb_n_interfaces(id)) : 0;
        /* Keyboards and hubs bring no storage: only "other" devices allowed by default are held. */
        if (p && d->reason == REASON_DEFAULT_OTHER && a == POLICY_ALLOW)
                decision_set_scan(d, policy_scan_effective(p, POLICY_SCAN_DEFAULT));
}

/* A policy past its own valid_until is no policy: the same lockdown as P == NULL. The loader
 * refuses such a policy too; this covers a daemon that has not reloaded yet. */
static bool policy_usable(const struct policy *p, int64_t now) {
        return p && now < p->valid_until;
}

void policy_match_usb(const struct policy *p, const struct usb_identity *id, int64_t now, struct policy_decision *ret) {
        struct policy_decision d = {
                .unapproved_interface = -1,
                .next_change = TIME_INFINITY,
        };
        struct candidates c = CANDIDATES_INIT;
        size_t n_if = usb_n_interfaces(id);

        if (!policy_usable(p, now)) {
                decide_usb_default(NULL, id, &d);
                *ret = d;
                return;
        }
        next_change_consider(&d.next_change, p->valid_until, now);

        /* A device without a serial string is keyed with "": entries with serial "" approve it. */
        const char *serial = id->has_serial ? id->serial : "";
        size_t serial_len = strnlen(serial, sizeof id->serial);
        if (serial_len < sizeof id->serial && p->index) {
                const struct chain_table *t = &p->index->usb;
                uint32_t h = usb_key_hash(id->vendor, id->product, serial);

                for (uint32_t i = t->heads[h & t->mask]; i != NONE; i = t->next[i]) {
                        const struct policy_usb_entry *e = &p->usb[i];
                        if (e->vendor != id->vendor || e->product != id->product ||
                            !streq(e->serial ?: "", serial))
                                continue;
                        /* Bound to a port: only there. A device whose port udev did not name
                         * (id_path "") matches no such entry. */
                        if (e->path && !usb_path_matches(e->path, id)) {
                                if (c.other_port == NONE && in_window(&e->approval, now))
                                        c.other_port = i;
                                continue;
                        }
                        candidates_add(&c, i, &e->approval, usb_approval, p, now);
                }
        }
        d.next_change = MIN(d.next_change, c.next_change);

        if (c.open == NONE) {
                /* Nothing approves it now: the defaults decide, and the reason names the permit
                 * that would have, preferring the one still to come (a renewal). */
                uint32_t shown = c.not_yet != NONE ? c.not_yet : c.expired;
                if (shown != NONE) {
                        d.usb_entry = &p->usb[shown];
                        d.window = c.not_yet != NONE ? WINDOW_NOT_YET : WINDOW_EXPIRED;
                } else if (c.other_port != NONE) {
                        d.usb_entry = &p->usb[c.other_port];
                        d.window = WINDOW_OTHER_PORT;
                }
                decide_usb_default(p, id, &d);
                *ret = d;
                return;
        }

        const struct policy_usb_entry *e = &p->usb[c.open];
        uint32_t covered = all_interfaces(n_if);

        d.usb_entry = e;
        d.window = WINDOW_OPEN;
        if (e->has_interfaces) {
                covered = 0;
                for (size_t i = 0; i < n_if; i++) {
                        if (entry_covers(e, &id->interfaces[i]))
                                covered |= UINT32_C(1) << i;
                        else if (d.unapproved_interface < 0)
                                d.unapproved_interface = (int) i;
                }
        }

        if (d.unapproved_interface >= 0 && (e->unlisted != UNLISTED_DISABLE || covered == 0)) {
                d.verdict = VERDICT_BLOCK;
                d.reason = REASON_INTERFACES_NOT_APPROVED;
                d.interface_mask = 0;
        } else {
                d.verdict = e->read_only ? VERDICT_READ_ONLY : VERDICT_ALLOW;
                d.reason = REASON_PERMIT;
                d.interface_mask = covered;
                d.hidraw_user = e->hidraw_user;
                decision_set_scan(&d, policy_scan_effective(p, e->scan));
        }
        *ret = d;
}

static bool net_entry_matches(const struct policy_net_entry *e, const struct net_identity *id) {
        /* an entry without any identity key would match every link: never let it */
        if (!e->has_mac && !e->path && !e->kind && !e->name)
                return false;
        if (e->has_mac && (!id->has_mac || memcmp(e->mac, id->mac, 6) != 0))
                return false;
        if (e->path && strncmp(e->path, id->path, sizeof id->path) != 0)
                return false;
        if (e->kind && strncmp(e->kind, id->kind, sizeof id->kind) != 0)
                return false;
        if (e->name) {
                char name[NET_NAME_MAX];
                /* the identity's buffer may lack its NUL; fnmatch needs one */
                snprintf(name, sizeof name, "%.*s", (int) sizeof id->name - 1, id->name);
                if (fnmatch(e->name, name, 0) != 0)
                        return false;
        }
        return true;
}

static void net_consider(const struct policy *p, uint32_t i, const struct net_identity *id, int64_t now,
                         struct candidates *c) {
        if (net_entry_matches(&p->net[i], id))
                candidates_add(c, i, &p->net[i].approval, net_approval, p, now);
}

void policy_match_net(const struct policy *p, const struct net_identity *id, int64_t now, struct policy_decision *ret) {
        struct policy_decision d = {
                .unapproved_interface = -1,
                .next_change = TIME_INFINITY,
        };
        struct candidates c = CANDIDATES_INIT;

        if (id->is_loopback) {
                d.verdict = VERDICT_ALLOW;
                d.reason = REASON_LOOPBACK;
                *ret = d;
                return;
        }
        if (!policy_usable(p, now)) {
                d.verdict = VERDICT_BLOCK;
                d.reason = REASON_LOCKDOWN_NETWORK;
                *ret = d;
                return;
        }
        next_change_consider(&d.next_change, p->valid_until, now);

        const struct policy_index *idx = p->index;
        if (idx) {
                if (id->has_mac) {
                        uint32_t h = mac_hash(id->mac);
                        for (uint32_t i = idx->net_mac.heads[h & idx->net_mac.mask]; i != NONE; i = idx->net_mac.next[i])
                                net_consider(p, i, id, now, &c);
                }
                size_t path_len = strnlen(id->path, sizeof id->path);
                if (path_len > 0 && path_len < sizeof id->path) {
                        uint32_t h = path_hash(id->path);
                        for (uint32_t i = idx->net_path.heads[h & idx->net_path.mask]; i != NONE; i = idx->net_path.next[i])
                                net_consider(p, i, id, now, &c);
                }
                for (size_t k = 0; k < idx->n_net_scan; k++)
                        net_consider(p, idx->net_scan[k], id, now, &c);
        }
        d.next_change = MIN(d.next_change, c.next_change);

        if (c.open != NONE) {
                d.verdict = VERDICT_ALLOW;
                d.reason = REASON_PERMIT;
                d.window = WINDOW_OPEN;
                d.net_entry = &p->net[c.open];
        } else {
                uint32_t shown = c.not_yet != NONE ? c.not_yet : c.expired;
                if (shown != NONE) {
                        d.net_entry = &p->net[shown];
                        d.window = c.not_yet != NONE ? WINDOW_NOT_YET : WINDOW_EXPIRED;
                }
                d.verdict = p->default_network == POLICY_ALLOW ? VERDICT_ALLOW : VERDICT_BLOCK;
                d.reason = REASON_DEFAULT_NETWORK;
        }

        /* A card that is an access point (or mesh, ad hoc, monitor) serves or sees what no
         * association check covers: it needs its own permission. */
        if (d.verdict == VERDICT_ALLOW && id->wireless != WIRELESS_NONE && !wireless_mode_is_client(id->wireless)) {
                bool permitted = d.reason == REASON_PERMIT ?
                        id->wireless < 32 && (d.net_entry->wireless_modes & (1u << id->wireless)) :
                        p->default_wireless == POLICY_ALLOW;
                if (!permitted) {
                        d.verdict = VERDICT_BLOCK;
                        d.reason = REASON_WIRELESS_MODE;
                        d.wireless_mode = id->wireless;
                }
        }
        *ret = d;
}

static bool bssid_listed(const struct policy_wireless_entry *e, const struct wireless_network *n) {
        if (e->n_bssids == 0)
                return true;
        if (!n->has_bssid)
                return false;
        for (size_t i = 0; i < e->n_bssids; i++)
                if (memcmp(e->bssids[i], n->bssid, 6) == 0)
                        return true;
        return false;
}

void policy_match_wireless(const struct policy *p, const struct wireless_network *n, int64_t now,
                           struct policy_decision *ret) {
        struct policy_decision d = {
                .unapproved_interface = -1,
                .next_change = TIME_INFINITY,
                .verdict = VERDICT_BLOCK,
        };
        struct candidates c = CANDIDATES_INIT;
        uint32_t other_ap = NONE, weaker = NONE;

        if (!policy_usable(p, now)) {
                d.reason = REASON_LOCKDOWN_WIRELESS;
                *ret = d;
                return;
        }
        next_change_consider(&d.next_change, p->valid_until, now);

        size_t len = MIN(n->ssid_len, (size_t) WIRELESS_SSID_MAX);
        if (len > 0 && p->index) {
                const struct chain_table *t = &p->index->wireless;
                uint32_t h = ssid_hash(n->ssid, len);

                for (uint32_t i = t->heads[h & t->mask]; i != NONE; i = t->next[i]) {
                        const struct policy_wireless_entry *e = &p->wireless[i];
                        if (e->ssid_len != len || memcmp(e->ssid, n->ssid, len) != 0)
                                continue;
                        /* The entry names the network, but not as it is now: said in the reason. */
                        if (!bssid_listed(e, n)) {
                                if (other_ap == NONE && in_window(&e->approval, now))
                                        other_ap = i;
                                continue;
                        }
                        if (wireless_security_level(n->security) < wireless_security_level(e->security)) {
                                if (weaker == NONE && in_window(&e->approval, now))
                                        weaker = i;
                                continue;
                        }
                        candidates_add(&c, i, &e->approval, wireless_approval, p, now);
                }
        }
        d.next_change = MIN(d.next_change, c.next_change);

        if (c.open != NONE) {
                d.verdict = VERDICT_ALLOW;
                d.reason = REASON_PERMIT;
                d.window = WINDOW_OPEN;
                d.wireless_entry = &p->wireless[c.open];
                *ret = d;
                return;
        }
        uint32_t shown = c.not_yet != NONE ? c.not_yet : c.expired;
        if (shown != NONE) {
                d.wireless_entry = &p->wireless[shown];
                d.window = c.not_yet != NONE ? WINDOW_NOT_YET : WINDOW_EXPIRED;
        } else if (weaker != NONE) {
                d.wireless_entry = &p->wireless[weaker];
                d.window = WINDOW_WEAKER_SECURITY;
        } else if (other_ap != NONE) {
                d.wireless_entry = &p->wireless[other_ap];
                d.window = WINDOW_OTHER_ACCESS_POINT;
        }
        d.verdict = p->default_wireless == POLICY_ALLOW ? VERDICT_ALLOW : VERDICT_BLOCK;
        d.reason = REASON_DEFAULT_WIRELESS;
        *ret = d;
}

static const struct policy_approval *media_approval(const struct policy *p, uint32_t i) {
        return &p->media[i].approval;
}

/* A key of an entry: NULL is not compared; otherwise the identity's (bounded) value equals it. */
static bool key_matches(const char *key, const char *value, size_t size) {
        return !key || (strnlen(value, size) < size && streq(key, value));
}

static bool media_entry_matches(enum media_bus bus, const char *vendor, const char *model, const char *serial,
                                const char *oemid, const char *date, const char *path,
                                const struct media_identity *id) {
        /* An entry names a serial or a path (the parser insists): never one that matches all. */
        if (!serial && !path)
                return false;
        return bus == id->bus && key_matches(vendor, id->vendor, sizeof id->vendor) &&
               key_matches(model, id->model, sizeof id->model) && key_matches(serial, id->serial, sizeof id->serial) &&
               key_matches(oemid, id->oemid, sizeof id->oemid) && key_matches(date, id->date, sizeof id->date) &&
               /* A path that udev could not name ("") matches no entry bound to one. */
               (!path || (id->path[0] && key_matches(path, id->path, sizeof id->path)));
}

static void media_consider(const struct policy *p, uint32_t i, const struct media_identity *id, int64_t now,
                           struct candidates *c) {
        const struct policy_media_entry *e = &p->media[i];
        if (media_entry_matches(e->bus, e->vendor, e->model, e->serial, e->oemid, e->date, e->path, id))
                candidates_add(c, i, &e->approval, media_approval, p, now);
}

void policy_match_media(const struct policy *p, const struct media_identity *id, int64_t now,
                        struct policy_decision *ret) {
        struct policy_decision d = {
                .unapproved_interface = -1,
                .next_change = TIME_INFINITY,
        };
        struct candidates c = CANDIDATES_INIT;

        if (!policy_usable(p, now)) {
                d.verdict = VERDICT_BLOCK;
                d.reason = REASON_LOCKDOWN_MEDIA;
                *ret = d;
                return;
        }
        next_change_consider(&d.next_change, p->valid_until, now);

        const struct policy_index *idx = p->index;
        size_t serial_len = strnlen(id->serial, sizeof id->serial);
        if (idx) {
                if (serial_len > 0 && serial_len < sizeof id->serial) {
                        uint32_t h = media_key_hash(id->bus, id->serial);
                        for (uint32_t i = idx->media.heads[h & idx->media.mask]; i != NONE; i = idx->media.next[i])
                                media_consider(p, i, id, now, &c);
                }
                for (size_t k = 0; k < idx->n_media_scan; k++)
                        media_consider(p, idx->media_scan[k], id, now, &c);
        }
        d.next_change = MIN(d.next_change, c.next_change);

        if (c.open != NONE) {
                const struct policy_media_entry *e = &p->media[c.open];
                d.verdict = e->read_only ? VERDICT_READ_ONLY : VERDICT_ALLOW;
                d.reason = REASON_PERMIT;
                d.window = WINDOW_OPEN;
                d.media_entry = e;
                decision_set_scan(&d, policy_scan_effective(p, e->scan));
        } else {
                uint32_t shown = c.not_yet != NONE ? c.not_yet : c.expired;
                if (shown != NONE) {
                        d.media_entry = &p->media[shown];
                        d.window = c.not_yet != NONE ? WINDOW_NOT_YET : WINDOW_EXPIRED;
                }
                d.verdict = p->default_media == POLICY_ALLOW ? VERDICT_ALLOW : VERDICT_BLOCK;
                d.reason = REASON_DEFAULT_MEDIA;
                if (d.verdict != VERDICT_BLOCK)
                        decision_set_scan(&d, policy_scan_effective(p, POLICY_SCAN_DEFAULT));
        }
        *ret = d;
}

const struct policy_fixed_disk *policy_match_fixed(const struct policy *p, const struct media_identity *id) {
        if (!p)
                return NULL;
        /* Few entries (the workstation's own disks): a scan. */
        for (size_t i = 0; i < p->n_fixed; i++) {
                const struct policy_fixed_disk *f = &p->fixed[i];
                if (media_entry_matches(f->bus, f->vendor, f->model, f->serial, NULL, NULL, f->path, id))
                        return f;
        }
        return NULL;
}

/* ---- words --------------------------------------------------------------------------------- */

const char *policy_verdict_to_string(enum policy_verdict v) {
        switch (v) {
        case VERDICT_BLOCK:     return "block";
        case VERDICT_ALLOW:     return "allow";
        case VERDICT_READ_ONLY: return "read-only";
        }
        return NULL;
}

const char *policy_reason_to_string(enum policy_reason r) {
        switch (r) {
        case REASON_PERMIT:                  return "permit";
        case REASON_INTERFACES_NOT_APPROVED: return "interfaces not approved";
        case REASON_DEFAULT_HID:             return "default usb_hid";
        case REASON_DEFAULT_HUB:             return "default usb_hub";
        case REASON_DEFAULT_OTHER:           return "default usb_other";
        case REASON_DEFAULT_NETWORK:         return "default network";
        case REASON_LOCKDOWN_HID:            return "lockdown usb_hid";
        case REASON_LOCKDOWN_HUB:            return "lockdown usb_hub";
        case REASON_LOCKDOWN_OTHER:          return "lockdown usb_other";
        case REASON_LOCKDOWN_NETWORK:        return "lockdown network";
        case REASON_LOOPBACK:                return "loopback";
        case REASON_WIRELESS_MODE:           return "wireless mode";
        case REASON_DEFAULT_WIRELESS:        return "default wireless";
        case REASON_LOCKDOWN_WIRELESS:       return "lockdown wireless";
        case REASON_DEFAULT_MEDIA:           return "default media";
        case REASON_LOCKDOWN_MEDIA:          return "lockdown media";
        }
        return NULL;
}

/* A date as the permit wrote it ("2027-03-31" is through that day); else the instant. */
static const char *when_text(const char *text, int64_t t, char buf[static ISO8601_MAX]) {
        if (text)
                return text;
        if (time_format_iso8601(t, buf, ISO8601_MAX) < 0)
                snprintf(buf, ISO8601_MAX, "@%lld", (long long) t);
        return buf;
}

/* Copies SRC into BUF of SIZE, cutting at a UTF-8 character boundary (permits are Japanese). */
static size_t copy_utf8_truncated(const char *src, char *buf, size_t size) {
        size_t n;

        if (size == 0)
                return 0;
        n = utf8_cut(src, strlen(src), size - 1);
        memcpy(buf, src, n);
        buf[n] = 0;
        return n;
}

size_t policy_decision_describe(const struct policy_decision *d, const struct usb_identity *usb, char *buf, size_t size) {
        /* a permit is at most POLICY_STRING_MAX bytes; the rest of the line is short */
        char line[2 * POLICY_STRING_MAX + 256], when[ISO8601_MAX], cls[9] = "?";
        const struct policy_approval *a = d->usb_entry ? &d->usb_entry->approval :
                                          d->net_entry ? &d->net_entry->approval :
                                          d->wireless_entry ? &d->wireless_entry->approval :
                                          d->media_entry ? &d->media_entry->approval : NULL;
        const char *permit = a && a->permit ? a->permit : "?";
        int n_disabled = 0;

        if (usb && d->unapproved_interface >= 0 && (size_t) d->unapproved_interface < usb_n_interfaces(usb))
                usb_interface_class_format(&usb->interfaces[d->unapproved_interface], cls);
        if (usb)
                for (size_t i = 0; i < usb_n_interfaces(usb); i++)
                        n_disabled += !(d->interface_mask & (UINT32_C(1) << i));

        switch (d->reason) {
        case REASON_PERMIT:
                if (d->unapproved_interface >= 0 && n_disabled > 1)
                        snprintf(line, sizeof line, "permit %s (%s%d unlisted interfaces disabled, first %s)", permit,
                                 d->verdict == VERDICT_READ_ONLY ? "read-only; " : "", n_disabled, cls);
                else if (d->unapproved_interface >= 0)
                        snprintf(line, sizeof line, "permit %s (%sunlisted interface %s disabled)", permit,
                                 d->verdict == VERDICT_READ_ONLY ? "read-only; " : "", cls);
                else
                        snprintf(line, sizeof line, "permit %s%s", permit,
                                 d->verdict == VERDICT_READ_ONLY ? " (read-only)" : "");
                break;
        case REASON_INTERFACES_NOT_APPROVED:
                snprintf(line, sizeof line, "permit %s does not approve interface %s", permit, cls);
                break;
        case REASON_DEFAULT_HID:
        case REASON_DEFAULT_HUB:
        case REASON_DEFAULT_OTHER:
        case REASON_DEFAULT_NETWORK:
        case REASON_DEFAULT_WIRELESS:
        case REASON_DEFAULT_MEDIA:
                if (a && d->window == WINDOW_EXPIRED)
                        snprintf(line, sizeof line, "%s (permit %s expired %s)", policy_reason_to_string(d->reason),
                                 permit, when_text(a->valid_until_text, a->valid_until, when));
                else if (a && d->window == WINDOW_NOT_YET)
                        snprintf(line, sizeof line, "%s (permit %s not valid before %s)",
                                 policy_reason_to_string(d->reason), permit,
                                 when_text(a->valid_from_text, a->valid_from, when));
                else if (d->usb_entry && d->window == WINDOW_OTHER_PORT)
                        snprintf(line, sizeof line, "%s (permit %s is for port %s)", policy_reason_to_string(d->reason),
                                 permit, d->usb_entry->path);
                else if (d->wireless_entry && d->window == WINDOW_OTHER_ACCESS_POINT)
                        snprintf(line, sizeof line, "%s (permit %s is for other access points)",
                                 policy_reason_to_string(d->reason), permit);
                else if (d->wireless_entry && d->window == WINDOW_WEAKER_SECURITY)
                        snprintf(line, sizeof line, "%s (permit %s needs at least %s)", policy_reason_to_string(d->reason),
                                 permit, wireless_security_to_string(d->wireless_entry->security));
                else
                        snprintf(line, sizeof line, "%s", policy_reason_to_string(d->reason));
                break;
        case REASON_LOCKDOWN_HID:
                snprintf(line, sizeof line, "lockdown: no valid policy (HID-only device allowed)");
                break;
        case REASON_LOCKDOWN_HUB:
                snprintf(line, sizeof line, "lockdown: no valid policy (hub allowed)");
                break;
        case REASON_LOCKDOWN_OTHER:
        case REASON_LOCKDOWN_NETWORK:
        case REASON_LOCKDOWN_WIRELESS:
        case REASON_LOCKDOWN_MEDIA:
                snprintf(line, sizeof line, "lockdown: no valid policy");
                break;
        case REASON_WIRELESS_MODE:
                if (d->net_entry && d->window == WINDOW_OPEN)
                        snprintf(line, sizeof line, "permit %s does not permit wireless mode %s", permit,
                                 wireless_mode_to_string(d->wireless_mode));
                else
                        snprintf(line, sizeof line, "wireless mode %s needs a permit (wireless_modes)",
                                 wireless_mode_to_string(d->wireless_mode));
                break;
        case REASON_LOOPBACK:
                snprintf(line, sizeof line, "loopback");
                break;
        default:
                snprintf(line, sizeof line, "unknown reason %d", (int) d->reason);
        }
        return copy_utf8_truncated(line, buf, size);
}
