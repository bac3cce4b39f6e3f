/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "json-util.h"
#include "kyoka-names.h"
#include "policyctl.h"
#include "preview.h"

/* /proc/net/route and ipv6_route: one line per route, a few hundred bytes each. A router with a
 * full table is not a workstation; a file this large is refused rather than half read. */
#define ROUTE_FILE_MAX (4u << 20)

#define RTF_REJECT_BIT 0x0200u /* <linux/route.h> RTF_REJECT: an unreachable route leaves nowhere */

void preview_done(struct preview *p) {
        if (!p)
                return;
        p->items = mfree(p->items);
        p->n_items = p->n_changed = 0;
}

static enum policy_verdict verdict_from_string(const char *s) {
        if (streq_ptr(s, "allow"))
                return VERDICT_ALLOW;
        if (streq_ptr(s, "read-only"))
                return VERDICT_READ_ONLY;
        /* "block", a device not decided yet, or anything unknown: what the kernel holds is closed. */
        return VERDICT_BLOCK;
}

/* A medium of the list names its kernel name "device"; the request's parser reads "name". */
static int medium_identity(struct json_object *o, struct media_identity *id, char **error) {
        static const char *const keys[] = { "bus", "path", "vendor", "model", "serial", "oemid", "date" };
        _cleanup_(json_object_putp) struct json_object *d = json_object_new_object();
        struct json_object *v;

        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (json_object_object_get_ex(o, keys[i], &v) && v &&
                    json_object_object_add(d, keys[i], json_object_get(v)) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        if (json_object_object_get_ex(o, "device", &v) && v && json_object_object_add(d, "name", json_object_get(v)) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return media_identity_from_json(d, id, error);
}

static int decide_medium(struct json_object *o, const struct policy *policy, int64_t now, struct preview_item *item,
                         char **error) {
        const char *fixed = json_get_string(o, "fixed");
        struct media_identity id;
        struct policy_decision d;
        int r;

        r = medium_identity(o, &id, error);
        if (r < 0)
                return r;
        /* The workstation's own disk stays its own, unless only the policy's fixed_disks made it
         * so (daemon/media-fixed.c: media_fixed_from()): then the new policy decides. */
        bool by_policy = streq_ptr(fixed, KYOKA_FIXED_BY_POLICY);
        if (fixed && !by_policy) {
                item->after = item->before;
                snprintf(item->reason, sizeof item->reason, "%s", fixed);
                return 0;
        }
        if (policy_match_fixed(policy, &id)) {
                item->after = VERDICT_ALLOW;
                snprintf(item->reason, sizeof item->reason, "%s", KYOKA_FIXED_BY_POLICY);
                return 0;
        }
        policy_match_media(policy, &id, now, &d);
        policy_decision_describe(&d, NULL, item->reason, sizeof item->reason);
        item->after = d.verdict;
        return 0;
}

static int decide_one(struct json_object *o, enum preview_kind kind, const struct policy *policy, int64_t now,
                      struct preview_item *item, char *err, size_t err_size) {
        static const char *const nouns[] = { [PREVIEW_USB] = "device", [PREVIEW_MEDIUM] = "medium", [PREVIEW_LINK] = "link" };
        _cleanup_free_ char *error = NULL;
        struct json_object *v;
        struct policy_decision d;
        int r;

        item->listed = o;
        item->kind = kind;
        item->is_link = kind == PREVIEW_LINK;
        item->before = verdict_from_string(json_object_object_get_ex(o, "verdict", &v) ? json_object_get_string(v) : NULL);
        switch (kind) {
        case PREVIEW_LINK: {
                struct net_identity id;
                r = net_identity_from_json(o, &id, &error);
                if (r < 0)
                        goto bad;
                snprintf(item->name, sizeof item->name, "%s", id.name);
                policy_match_net(policy, &id, now, &d);
                policy_decision_describe(&d, NULL, item->reason, sizeof item->reason);
                item->after = d.verdict;
                return 0;
        }
        case PREVIEW_MEDIUM:
                /* A fixed disk has no verdict (null): it is usable, the workstation's own. */
                if (json_get_string(o, "fixed"))
                        item->before = VERDICT_ALLOW;
                r = decide_medium(o, policy, now, item, &error);
                if (r < 0)
                        goto bad;
                return 0;
        case PREVIEW_USB: {
                /* kyokad keeps a device whose identity it could not read blocked, whatever the
                 * policy says (docs/usb.md): so would the new policy. */
                if (json_object_object_get_ex(o, "identity_ok", &v) && !json_object_get_boolean(v)) {
                        item->unreadable = true;
                        item->after = VERDICT_BLOCK;
                        snprintf(item->reason, sizeof item->reason, "identity unreadable");
                        return 0;
                }
                struct usb_identity id;
                r = usb_identity_from_json(o, &id, &error);
                if (r < 0)
                        goto bad;
                policy_match_usb(policy, &id, now, &d);
                policy_decision_describe(&d, &id, item->reason, sizeof item->reason);
                item->after = d.verdict;
                return 0;
        }
        }
        return -EINVAL;
bad:
        snprintf(err, err_size, "kyokad listed a %s that cannot be read: %s", nouns[kind], error ?: "out of memory");
        return r == -ENOMEM ? r : -EBADMSG;
}

int preview_compute(struct json_object *list, const struct policy *policy, int64_t now, struct preview *ret,
                    char *err, size_t err_size) {
        static const struct {
                const char *key;
                enum preview_kind kind;
        } parts[] = { { "devices", PREVIEW_USB }, { "media", PREVIEW_MEDIUM }, { "links", PREVIEW_LINK } };
        struct json_object *arrays[ELEMENTSOF(parts)] = {};
        size_t counts[ELEMENTSOF(parts)] = {}, total = 0, k = 0, changed = 0;
        _cleanup_free_ struct preview_item *items = NULL;
        int r;

        /* An absent or null part: kyokad does not watch it (--network off, an older kyokad). */
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                if (json_object_object_get_ex(list, parts[i].key, &arrays[i]) &&
                    json_object_is_type(arrays[i], json_type_array))
                        total += counts[i] = json_object_array_length(arrays[i]);
        if (total > 0) {
                items = calloc(total, sizeof *items);
                if (!items)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                for (size_t j = 0; j < counts[i]; j++, k++) {
                        r = decide_one(json_object_array_get_idx(arrays[i], j), parts[i].kind, policy, now, &items[k], err,
                                       err_size);
                        if (r < 0)
                                return r;
                        changed += items[k].before != items[k].after;
                }
        *ret = (struct preview) { .items = TAKE_PTR(items), .n_items = total, .n_changed = changed };
        return 0;
}

/* ---- carriers ------------------------------------------------------------------------------ */

static int add_carrier(char names[static PREVIEW_CARRIERS_MAX][NET_NAME_MAX], unsigned bits[static PREVIEW_CARRIERS_MAX],
                       size_t *n, const char *name, unsigned bit) {
        for (size_t i = 0; i < *n; i++)
                if (streq(names[i], name)) {
                        bits[i] |= bit;
                        return 0;
                }
        if (*n >= PREVIEW_CARRIERS_MAX || strlen(name) >= NET_NAME_MAX)
                return -E2BIG;
        strcpy(names[*n], name);
        bits[(*n)++] = bit;
        return 0;
}

/* The link holding the local address of SSH_CONNECTION ("CLIENT CPORT SERVER SPORT"). */
static int ssh_carrier(const char *ssh_connection, char names[static PREVIEW_CARRIERS_MAX][NET_NAME_MAX],
                       unsigned bits[static PREVIEW_CARRIERS_MAX], size_t *n) {
        char client[INET6_ADDRSTRLEN + 16], server[INET6_ADDRSTRLEN + 16];
        unsigned cport, sport;
        union {
                struct in_addr v4;
                struct in6_addr v6;
        } addr;
        struct ifaddrs *ifa = NULL;
        int family, r = 0;

        if (!ssh_connection || !ssh_connection[0])
                return 0;
        if (sscanf(ssh_connection, "%55s %u %55s %u", client, &cport, server, &sport) != 4)
                return -EINVAL;
        /* A link-local address may carry its zone: fe80::1%eth0. */
        char *zone = strchr(server, '%');
        if (zone)
                *zone = 0;
        if (inet_pton(AF_INET, server, &addr.v4) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, server, &addr.v6) == 1)
                family = AF_INET6;
        else
                return -EINVAL;

        if (getifaddrs(&ifa) < 0)
                return negative_errno();
        for (struct ifaddrs *i = ifa; i && r >= 0; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != family)
                        continue;
                bool same = family == AF_INET ?
                        memcmp(&((struct sockaddr_in *) i->ifa_addr)->sin_addr, &addr.v4, sizeof addr.v4) == 0 :
                        memcmp(&((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, &addr.v6, sizeof addr.v6) == 0;
                if (same)
                        r = add_carrier(names, bits, n, i->ifa_name, PREVIEW_CARRIES_SSH);
        }
        freeifaddrs(ifa);
        return r;
}

/* The interfaces of the default routes in /proc/net/route (IPv4) and /proc/net/ipv6_route. */
static int route_carriers(char names[static PREVIEW_CARRIERS_MAX][NET_NAME_MAX], unsigned bits[static PREVIEW_CARRIERS_MAX],
                          size_t *n) {
        _cleanup_free_ char *v4 = NULL, *v6 = NULL;
        size_t size;
        int r;

        r = read_file_bounded("/proc/net/route", ROUTE_FILE_MAX, &v4, &size);
        if (r < 0)
                return r;
        /* "Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT", hex fields. */
        for (char *line = strchr(v4, '\n'), *next; line && *++line; line = next) {
                char ifname[NET_NAME_MAX + 1];
                unsigned dest, gw, flags, mask;
                next = strchr(line, '\n');
                if (sscanf(line, "%16s %x %x %x %*d %*d %*d %x", ifname, &dest, &gw, &flags, &mask) == 5 && dest == 0 &&
                    mask == 0 && !(flags & RTF_REJECT_BIT)) {
                        r = add_carrier(names, bits, n, ifname, PREVIEW_CARRIES_DEFAULT_ROUTE);
                        if (r < 0)
                                return r;
                }
                if (!next)
                        break;
        }

        r = read_file_bounded("/proc/net/ipv6_route", ROUTE_FILE_MAX, &v6, &size);
        if (r == -ENOENT) /* IPv6 disabled */
                return 0;
        if (r < 0)
                return r;
        /* "DEST PLEN SRC SLEN NEXTHOP METRIC REFCNT USE FLAGS IFACE" */
        for (char *line = v6, *next; line && *line; line = next) {
                char dest[33], ifname[NET_NAME_MAX + 1];
                unsigned plen, flags;
                next = strchr(line, '\n');
                if (next)
                        next++;
                if (sscanf(line, "%32s %x %*s %*x %*s %*x %*x %*x %x %16s", dest, &plen, &flags, ifname) == 4 &&
                    plen == 0 && strspn(dest, "0") == 32 && !(flags & RTF_REJECT_BIT) && !streq(ifname, "lo")) {
                        r = add_carrier(names, bits, n, ifname, PREVIEW_CARRIES_DEFAULT_ROUTE);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int preview_find_carriers(const char *ssh_connection, char names[static PREVIEW_CARRIERS_MAX][NET_NAME_MAX],
                          unsigned bits[static PREVIEW_CARRIERS_MAX]) {
        size_t n = 0;
        int r;

        r = ssh_carrier(ssh_connection, names, bits, &n);
        if (r >= 0)
                r = route_carriers(names, bits, &n);
        return r < 0 ? r : (int) n;
}

void preview_mark_carriers(struct preview *p, char names[][NET_NAME_MAX], const unsigned bits[], size_t n) {
        for (size_t i = 0; i < p->n_items; i++)
                for (size_t j = 0; j < n; j++)
                        if (p->items[i].is_link && streq(p->items[i].name, names[j]))
                                p->items[i].carries |= bits[j];
}

bool preview_item_cuts(const struct preview_item *item) {
        return item->is_link && item->carries && item->before != VERDICT_BLOCK && item->after == VERDICT_BLOCK;
}
