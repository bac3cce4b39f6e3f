/* SPDX-License-Identifier: MIT */
/* A link's identity from an RTM_NEWLINK message (bounded, never trusting its lengths) and from
 * a sysfs-shaped directory (parent driver, checked against the ifindex). */
#include "test-util.h"
#include "net-identity.h"

#include <net/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/stat.h>
#include <unistd.h>

struct msg {
        union {
                struct nlmsghdr h;
                uint8_t raw[1024];
        };
};

static void msg_init(struct msg *m, int ifindex, unsigned flags, unsigned short type) {
        memset(m, 0, sizeof *m);
        m->h.nlmsg_type = RTM_NEWLINK;
        m->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
        struct ifinfomsg *ifi = NLMSG_DATA(&m->h);
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = flags;
        ifi->ifi_type = type;
}

static struct rtattr *msg_put(struct msg *m, unsigned short type, const void *data, size_t len) {
        struct rtattr *a = (struct rtattr *) (m->raw + NLMSG_ALIGN(m->h.nlmsg_len));
        a->rta_type = type;
        a->rta_len = (unsigned short) RTA_LENGTH(len);
        if (len)
                memcpy(RTA_DATA(a), data, len);
        m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
        return a;
}

static void msg_put_kind(struct msg *m, const char *kind) {
        struct rtattr *outer = msg_put(m, IFLA_LINKINFO, NULL, 0);
        msg_put(m, IFLA_INFO_KIND, kind, strlen(kind) + 1);
        outer->rta_len = (unsigned short) (m->raw + m->h.nlmsg_len - (uint8_t *) outer);
}

static const uint8_t mac_cur[6] = { 0x02, 0, 0, 0, 0, 0x0b }, mac_perm[6] = { 0x00, 0xe0, 0x4c, 0x68, 0, 1 };

static void test_parse_usb_adapter_with_permanent_mac(void **state) {
        struct msg m;
        struct net_link_info info;
        struct net_identity id;

        msg_init(&m, 7, IFF_UP | IFF_BROADCAST, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "enx00e04c680001", 16);
        msg_put(&m, IFLA_ADDRESS, mac_cur, 6);
        msg_put(&m, IFLA_PERM_ADDRESS, mac_perm, 6);
        assert_int_equal(net_link_parse(&m.h, sizeof m, &info), 0);
        assert_int_equal(info.ifindex, 7);
        assert_true(info.flags & IFF_UP);
        assert_string_equal(info.name, "enx00e04c680001");
        assert_string_equal(info.kind, "");

        net_identity_from_info(&info, &id);
        assert_true(id.has_mac);
        assert_true(id.mac_is_permanent);
        assert_memory_equal(id.mac, mac_perm, 6);
        assert_false(id.is_loopback);
}

static void test_parse_veth_has_current_mac_not_permanent(void **state) {
        struct msg m;
        struct net_link_info info;
        struct net_identity id;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "veth0", 6);
        msg_put(&m, IFLA_ADDRESS, mac_cur, 6);
        msg_put_kind(&m, "veth");
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), 0);
        assert_string_equal(info.kind, "veth");
        net_identity_from_info(&info, &id);
        assert_true(id.has_mac);
        assert_false(id.mac_is_permanent);
        assert_memory_equal(id.mac, mac_cur, 6);
        assert_string_equal(id.kind, "veth");
}

static void test_parse_ignores_zero_permanent_address(void **state) {
        static const uint8_t zero[6];
        struct msg m;
        struct net_link_info info;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "eth0", 5);
        msg_put(&m, IFLA_PERM_ADDRESS, zero, 6);
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), 0);
        assert_false(info.has_perm_address);
        assert_false(info.has_address);
}

static void test_parse_loopback(void **state) {
        struct msg m;
        struct net_link_info info;
        struct net_identity id;

        msg_init(&m, 1, IFF_UP | IFF_LOOPBACK, ARPHRD_LOOPBACK);
        msg_put(&m, IFLA_IFNAME, "lo", 3);
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), 0);
        net_identity_from_info(&info, &id);
        assert_true(id.is_loopback);
        assert_false(id.has_mac);
}

static void test_parse_refuses_message_longer_than_buffer(void **state) {
        struct msg m;
        struct net_link_info info;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "eth0", 5);
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len - 1, &info), -EBADMSG);
        assert_int_equal(net_link_parse(&m.h, 8, &info), -EBADMSG);
}

static void test_parse_refuses_overlong_name(void **state) {
        struct msg m;
        struct net_link_info info;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "abcdefghijklmnopqrstuvwxyz", 26); /* no NUL, > IFNAMSIZ */
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), -EBADMSG);
}

static void test_parse_attribute_claiming_more_than_message_is_ignored(void **state) {
        struct msg m;
        struct net_link_info info;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "eth0", 5);
        struct rtattr *a = msg_put(&m, IFLA_ADDRESS, mac_cur, 6);
        a->rta_len = 200;    /* beyond nlmsg_len: RTA_OK stops there */
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), 0);
        assert_false(info.has_address);
}

static void test_parse_needs_a_name_and_a_link_message(void **state) {
        struct msg m;
        struct net_link_info info;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), -ENODATA);
        m.h.nlmsg_type = RTM_NEWADDR;
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), -EINVAL);
        msg_init(&m, 0, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "eth0", 5);
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), -EBADMSG);
}

static void test_parse_sanitises_control_characters_in_name(void **state) {
        struct msg m;
        struct net_link_info info;

        msg_init(&m, 3, 0, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "a\x01" "b", 4);
        assert_int_equal(net_link_parse(&m.h, m.h.nlmsg_len, &info), 0);
        assert_string_equal(info.name, "a\\x01b");
}

static void mkdirs(const char *dir, const char *sub) {
        char *cmd;
        /* Test-owned paths from mkdtemp. */
        assert_true(asprintf(&cmd, "mkdir -p '%s/%s'", dir, sub) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

static void test_parent_driver_and_udev_path(void **state) {
        _cleanup_free_ char *root = test_mkdtemp();
        char link[512], target[512];
        struct net_identity id = { .ifindex = 5 };

        mkdirs(root, "devices/pci0000:00/0000:00:1f.6");
        mkdirs(root, "bus/pci/drivers/e1000e");
        mkdirs(root, "class/net/eth0");
        free(test_write(root, "class/net/eth0/ifindex", "5\n", 2));
        snprintf(link, sizeof link, "%s/class/net/eth0/device", root);
        snprintf(target, sizeof target, "%s/devices/pci0000:00/0000:00:1f.6", root);
        assert_int_equal(symlink(target, link), 0);
        snprintf(link, sizeof link, "%s/devices/pci0000:00/0000:00:1f.6/driver", root);
        snprintf(target, sizeof target, "%s/bus/pci/drivers/e1000e", root);
        assert_int_equal(symlink(target, link), 0);

        strcpy(id.name, "eth0");
        assert_int_equal(net_identity_read_parent(root, "pci-0000:00:1f.6", &id), 0);
        assert_string_equal(id.driver, "e1000e");
        assert_string_equal(id.path, "pci-0000:00:1f.6");

        /* Another link now has that name (a rename race, or sysfs of another namespace). */
        struct net_identity other = { .ifindex = 9 };
        strcpy(other.name, "eth0");
        assert_int_equal(net_identity_read_parent(root, "pci-0000:00:1f.6", &other), -ESTALE);
        assert_string_equal(other.path, "");
        test_rmdir_r(root);
}

static void test_virtual_link_has_no_parent(void **state) {
        _cleanup_free_ char *root = test_mkdtemp();
        struct net_identity id = { .ifindex = 4 };

        mkdirs(root, "class/net/veth0");
        free(test_write(root, "class/net/veth0/ifindex", "4\n", 2));
        strcpy(id.name, "veth0");
        /* A udev ID_PATH without a parent device is not believed. */
        assert_int_equal(net_identity_read_parent(root, "pci-bogus", &id), 0);
        assert_string_equal(id.driver, "");
        assert_string_equal(id.path, "");

        strcpy(id.name, "..");
        assert_int_equal(net_identity_read_parent(root, NULL, &id), -EINVAL);
        test_rmdir_r(root);
}

static void test_rename_changes_identity(void **state) {
        struct net_identity a = { .ifindex = 3, .has_mac = true }, b;

        strcpy(a.name, "usb0");
        b = a;
        assert_true(net_identity_equal(&a, &b));
        strcpy(b.name, "enx020000000001");
        assert_false(net_identity_equal(&a, &b));
        b = a;
        b.mac[5] = 1;
        assert_false(net_identity_equal(&a, &b));
}

/* Regression: cfg80211 sends a wireless extensions event as an RTM_NEWLINK with IFLA_WIRELESS, a
 * name and flags but no address. Read as a description of the link, it made an approved Wi-Fi
 * card lose its MAC, fall to "default network: block" and be set down at every scan and
 * association (found on the real kernel, tests/vm/test-kyokad-wifi.py). */
static void test_parse_marks_wireless_extensions_event(void **state) {
        struct msg m;
        struct net_link_info info;
        static const uint8_t wext[8] = { 8, 0, 0x15, 0x8b, 0, 0, 0, 0 };    /* an iw_event: SIOCGIWSCAN */

        msg_init(&m, 4, IFF_UP | IFF_BROADCAST, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "wlan0", 6);
        msg_put(&m, IFLA_WIRELESS, wext, sizeof wext);
        assert_int_equal(net_link_parse(&m.h, sizeof m, &info), 0);
        assert_true(info.wireless_event);
        assert_false(info.has_address);
        assert_true(info.flags & IFF_UP);

        msg_init(&m, 4, IFF_UP | IFF_BROADCAST, ARPHRD_ETHER);
        msg_put(&m, IFLA_IFNAME, "wlan0", 6);
        msg_put(&m, IFLA_ADDRESS, mac_cur, 6);
        assert_int_equal(net_link_parse(&m.h, sizeof m, &info), 0);
        assert_false(info.wireless_event);
}

static void test_wireless_link_is_known_by_its_phy80211_link(void **state) {
        _cleanup_free_ char *root = test_mkdtemp();
        _cleanup_free_ char *target = NULL;
        struct net_identity id = { .ifindex = 4 };

        mkdirs(root, "class/net/wlan0");
        mkdirs(root, "class/net/eth0");
        free(test_write(root, "class/net/wlan0/ifindex", "4\n", 2));
        free(test_write(root, "class/net/eth0/ifindex", "5\n", 2));
        assert_true(asprintf(&target, "%s/class/net/wlan0/phy80211", root) > 0);
        assert_int_equal(symlink("../../ieee80211/phy0", target), 0);   /* dangling, as a lstat sees it */
        strcpy(id.name, "wlan0");
        assert_int_equal(net_identity_is_wireless(root, &id), 1);
        strcpy(id.name, "eth0");
        assert_int_equal(net_identity_is_wireless(root, &id), -ESTALE);  /* another ifindex */
        id.ifindex = 5;
        assert_int_equal(net_identity_is_wireless(root, &id), 0);
        test_rmdir_r(root);
}

static void test_wireless_mode_is_part_of_the_identity(void **state) {
        struct net_identity a = { .ifindex = 3, .wireless = WIRELESS_STATION }, b;

        strcpy(a.name, "wlan0");
        b = a;
        assert_true(net_identity_equal(&a, &b));
        b.wireless = WIRELESS_AP;
        assert_false(net_identity_equal(&a, &b));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_usb_adapter_with_permanent_mac),
                cmocka_unit_test(test_parse_veth_has_current_mac_not_permanent),
                cmocka_unit_test(test_parse_ignores_zero_permanent_address),
                cmocka_unit_test(test_parse_loopback),
                cmocka_unit_test(test_parse_refuses_message_longer_than_buffer),
                cmocka_unit_test(test_parse_refuses_overlong_name),
                cmocka_unit_test(test_parse_attribute_claiming_more_than_message_is_ignored),
                cmocka_unit_test(test_parse_needs_a_name_and_a_link_message),
                cmocka_unit_test(test_parse_sanitises_control_characters_in_name),
                cmocka_unit_test(test_parent_driver_and_udev_path),
                cmocka_unit_test(test_virtual_link_has_no_parent),
                cmocka_unit_test(test_rename_changes_identity),
                cmocka_unit_test(test_parse_marks_wireless_extensions_event),
                cmocka_unit_test(test_wireless_link_is_known_by_its_phy80211_link),
                cmocka_unit_test(test_wireless_mode_is_part_of_the_identity),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
