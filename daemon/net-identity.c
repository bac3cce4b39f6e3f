/* SPDX-License-Identifier: MIT */
#include "net-identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

/* Attribute types may carry NLA_F_NESTED / NLA_F_NET_BYTEORDER in their top bits. */
#define RTA_TYPE(a) ((a)->rta_type & 0x3fff)

static int parse_string(const struct rtattr *a, size_t max_chars, char *dst, size_t dst_size) {
        size_t n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));
        if (n == 0 || n > max_chars)
                return -EBADMSG;
        identity_sanitize(RTA_DATA(a), n, dst, dst_size);
        return 0;
}

static bool mac_is_zero(const uint8_t *mac) {
        static const uint8_t zero[6];
        return memcmp(mac, zero, 6) == 0;
}

int net_link_parse(const struct nlmsghdr *h, size_t len, struct net_link_info *ret) {
        if (len < sizeof *h || h->nlmsg_len > len || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
                return -EBADMSG;
        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
                return -EINVAL;

        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        if (ifi->ifi_index <= 0)
                return -EBADMSG;

        struct net_link_info info = {
                .ifindex = ifi->ifi_index,
                .flags = ifi->ifi_flags,
                .type = ifi->ifi_type,
        };
        bool has_name = false;
        int rem = (int) (h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi));
        int r;

        for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, rem); a = RTA_NEXT(a, rem)) {
                switch (RTA_TYPE(a)) {
                case IFLA_IFNAME:
                        r = parse_string(a, IFNAMSIZ - 1, info.name, sizeof info.name);
                        if (r < 0)
                                return r;
                        has_name = true;
                        break;
                case IFLA_ADDRESS:
                        /* Only Ethernet-like addresses are identities the policy can name. */
                        if (RTA_PAYLOAD(a) == 6) {
                                memcpy(info.address, RTA_DATA(a), 6);
                                info.has_address = !mac_is_zero(info.address);
                        }
                        break;
                case IFLA_PERM_ADDRESS:
                        if (RTA_PAYLOAD(a) == 6) {
                                memcpy(info.perm_address, RTA_DATA(a), 6);
                                info.has_perm_address = !mac_is_zero(info.perm_address);
                        }
                        break;
                case IFLA_WIRELESS:
                        info.wireless_event = true;
                        break;
                case IFLA_LINKINFO: {
                        int nrem = (int) RTA_PAYLOAD(a);
                        for (const struct rtattr *n = RTA_DATA(a); RTA_OK(n, nrem); n = RTA_NEXT(n, nrem))
                                if (RTA_TYPE(n) == IFLA_INFO_KIND) {
                                        r = parse_string(n, NET_KIND_MAX - 1, info.kind, sizeof info.kind);
                                        if (r < 0)
                                                return r;
                                }
                        break;
                }
                default:
                        break;
                }
        }
        if (!has_name)
                return -ENODATA;
        *ret = info;
        return 0;
}

void net_identity_from_info(const struct net_link_info *info, struct net_identity *ret) {
        struct net_identity id = {
                .ifindex = info->ifindex,
                .is_loopback = info->type == ARPHRD_LOOPBACK || (info->flags & IFF_LOOPBACK),
        };

        memcpy(id.name, info->name, sizeof id.name);
        id.name[sizeof id.name - 1] = 0;
        memcpy(id.kind, info->kind, sizeof id.kind);
        id.kind[sizeof id.kind - 1] = 0;
        if (info->has_perm_address) {
                id.has_mac = id.mac_is_permanent = true;
                memcpy(id.mac, info->perm_address, 6);
        } else if (info->has_address) {
                /* Software links and some drivers have no burned-in address: the current one
                 * can be changed by whoever may configure the link (docs/request.md). */
                id.has_mac = true;
                memcpy(id.mac, info->address, 6);
        }
        *ret = id;
}

/* The last component of the symlink DIR/NAME (at most SIZE-1 bytes), "" if there is none. */
static int read_link_basename(int dirfd, const char *name, char *buf, size_t size) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
        if (n < 0)
                return errno == ENOENT ? 0 : negative_errno();
        target[n] = 0;
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        identity_sanitize(base, strlen(base), buf, size);
        return 0;
}

/* SYSFS_ROOT/class/net/NAME, once its ifindex says it is ID's link (see net_identity_read_parent). */
static int open_link_dir(const char *sysfs_root, const struct net_identity *id) {
        char path[PATH_MAX], buf[32];

        /* A sanitised name with escapes is not the kernel's name: do not look it up. Names
         * cannot contain '/' (the kernel refuses them), nor be "." or "..". */
        if (strchr(id->name, '\\') || strchr(id->name, '/') || streq(id->name, ".") || streq(id->name, ".."))
                return -EINVAL;
        if (snprintf(path, sizeof path, "%s/class/net/%s", sysfs_root, id->name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        _cleanup_close_ int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();

        _cleanup_close_ int fd = openat(dirfd, "ifindex", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read_fd_prefix(fd, buf, sizeof buf - 1);
        if (n < 0)
                return (int) n;
        buf[n] = 0;
        char *end;
        errno = 0;
        long ifindex = strtol(buf, &end, 10);
        if (errno != 0 || end == buf || (*end != '\n' && *end != 0))
                return -EBADMSG;
        if (ifindex != id->ifindex)
                return -ESTALE;
        return TAKE_FD(dirfd);
}

int net_identity_read_parent(const char *sysfs_root, const char *udev_path, struct net_identity *id) {
        int r;

        _cleanup_close_ int dirfd = open_link_dir(sysfs_root, id);
        if (dirfd < 0)
                return dirfd;

        char driver[NET_DRIVER_MAX] = "";
        _cleanup_close_ int devfd = openat(dirfd, "device", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (devfd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                /* No parent device: a virtual link. */
        } else {
                r = read_link_basename(devfd, "driver", driver, sizeof driver);
                if (r < 0)
                        return r;
        }

        memcpy(id->driver, driver, sizeof id->driver);
        if (devfd >= 0 && udev_path)
                identity_sanitize(udev_path, strnlen(udev_path, sizeof id->path), id->path, sizeof id->path);
        else
                id->path[0] = 0;
        return 0;
}

int net_identity_is_wireless(const char *sysfs_root, const struct net_identity *id) {
        _cleanup_close_ int dirfd = open_link_dir(sysfs_root, id);
        if (dirfd < 0)
                return dirfd;
        /* cfg80211 links every interface of a card to its wiphy. */
        if (faccessat(dirfd, "phy80211", F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                return 1;
        return errno == ENOENT ? 0 : negative_errno();
}

bool net_identity_equal(const struct net_identity *a, const struct net_identity *b) {
        return a->ifindex == b->ifindex &&
               strncmp(a->name, b->name, sizeof a->name) == 0 &&
               a->has_mac == b->has_mac &&
               a->mac_is_permanent == b->mac_is_permanent &&
               (!a->has_mac || memcmp(a->mac, b->mac, 6) == 0) &&
               strncmp(a->kind, b->kind, sizeof a->kind) == 0 &&
               strncmp(a->path, b->path, sizeof a->path) == 0 &&
               strncmp(a->driver, b->driver, sizeof a->driver) == 0 &&
               a->is_loopback == b->is_loopback &&
               a->wireless == b->wireless;
}
