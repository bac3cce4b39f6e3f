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

static int decide_one(struct json_object *o, bool is_link, const struct policy *policy, int64_t now,
                      struct preview_item *item, char *err, size_t err_size) {
        _cleanup_free_ char *error = NULL;
        struct json_object *v;
        struct policy_decision d;
        int r;

        item->listed = o;
        item->is_link = is_link;
        item->before = verdict_from_string(json_object_object_get_ex(o, "verdict", &v) ? json_object_get_string(v) : NULL);
        if (is_link) {
                struct net_identity id;
                r = net_identity_from_json(o, &id, &error);
                if (r < 0)
                        goto bad;
                snprintf(item->name, sizeof item->name, "%s", id.name);
                policy_match_net(policy, &id, now, &d);
                policy_decision_describe(&d, NULL, item->reason, sizeof item->reason);
        } else {
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
        }
        item->after = d.verdict;
        return 0;
bad:
        snprintf(err, err_size, "kyokad listed a %s that cannot be read: %s", is_link ? "link" : "device",
                 error ?: "out of memory");
        return r == -ENOMEM ? r : -EBADMSG;
}

int preview_compute(struct json_object *list, const struct policy *policy, int64_t now, struct preview *ret,
                    char *err, size_t err_size) {
        struct json_object *devices = NULL, *links = NULL;
        size_t n_dev = 0, n_links = 0;
        _cleanup_free_ struct preview_item *items = NULL;
        size_t changed = 0;
        int r;

        if (json_object_object_get_ex(list, "devices", &devices) && json_object_is_type(devices, json_type_array))
                n_dev = json_object_array_length(devices);
        /* null: kyokad runs with --network off. */
        if (json_object_object_get_ex(list, "links", &links) && json_object_is_type(links, json_type_array))
                n_links = json_object_array_length(links);
        if (n_dev + n_links > 0) {
                items = calloc(n_dev + n_links, sizeof *items);
                if (!items)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n_dev + n_links; i++) {
                bool is_link = i >= n_dev;
                r = decide_one(json_object_array_get_idx(is_link ? links : devices, is_link ? i - n_dev : i), is_link,
                               policy, now, &items[i], err, err_size);
                if (r < 0)
                        return r;
                changed += items[i].before != items[i].after;
        }
        *ret = (struct preview) { .items = TAKE_PTR(items), .n_items = n_dev + n_links, .n_changed = changed };
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
