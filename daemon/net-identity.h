/* SPDX-License-Identifier: MIT */
/* What kyokad knows about a network link: the fields of an RTM_NEWLINK/RTM_DELLINK message
 * (parsed here, bounded, without trusting any length the message claims), and the identity
 * the policy matches on (policy/identity.h: permanent MAC where the driver gives one, kind,
 * the parent device's bus path and driver from sysfs/udev, name, loopback). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

struct nlmsghdr;

/* One link as an rtnetlink message describes it. Strings are sanitised (identity_sanitize). */
struct net_link_info {
        int ifindex;
        unsigned flags;               /* IFF_* as the kernel reports them */
        unsigned short type;          /* ARPHRD_* */
        char name[NET_NAME_MAX];
        bool has_address;             /* a 6-byte link-layer address (Ethernet-like links only) */
        uint8_t address[6];
        bool has_perm_address;        /* IFLA_PERM_ADDRESS: the driver reported the burned-in MAC */
        uint8_t perm_address[6];
        char kind[NET_KIND_MAX];      /* IFLA_INFO_KIND, "" for hardware */
        /* IFLA_WIRELESS: a wireless extensions event (cfg80211 sends one for every scan and
         * association). It carries the name and the flags but no address: it says nothing of
         * the link's identity. */
        bool wireless_event;
};

/* Parses an RTM_NEWLINK or RTM_DELLINK message of LEN bytes (LEN may exceed the message; the
 * header's own length is checked against it). -EBADMSG if it is truncated or malformed, -EINVAL
 * if it is another message type, -ENODATA if it has no name (the kernel always sends one). */
int net_link_parse(const struct nlmsghdr *h, size_t len, struct net_link_info *ret);

/* The identity from INFO alone: MAC (permanent if given, else the current one flagged as not
 * permanent), kind, name, loopback. Path and driver stay empty (net_identity_read_parent). */
void net_identity_from_info(const struct net_link_info *info, struct net_identity *ret);

/* Fills ID's path and driver from SYSFS_ROOT/class/net/NAME/device (and udev's ID_PATH when
 * UDEV_PATH is not NULL: the caller reads it from udev's database). Checks first that
 * class/net/NAME/ifindex is ID's ifindex, so a rename race or a sysfs mounted for another
 * network namespace cannot lend a link someone else's parent. A link without a parent device
 * (virtual links) keeps both empty. Returns 0, or a negative errno if sysfs disagrees. */
int net_identity_read_parent(const char *sysfs_root, const char *udev_path, struct net_identity *id);

/* 1 if SYSFS_ROOT/class/net/NAME (checked to be ID's ifindex, as above) belongs to a wireless
 * card (it has a phy80211 link), 0 if not, a negative errno if sysfs cannot say. */
int net_identity_is_wireless(const char *sysfs_root, const struct net_identity *id);

/* True if A and B describe the same identity (everything the policy can match on). */
bool net_identity_equal(const struct net_identity *a, const struct net_identity *b);
