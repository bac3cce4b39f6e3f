/* SPDX-License-Identifier: MIT */
/* The installation's list of network links (net-allowance.c): what may stay up before the
 * first policy, and nothing else. */
#include <errno.h>
#include <sys/stat.h>

#include "net-allowance.h"
#include "test-util.h"

static struct net_identity link_id(const char *name, const char *mac_hex, bool permanent, const char *kind,
                                   const char *path) {
        struct net_identity id = { .ifindex = 7 };
        snprintf(id.name, sizeof id.name, "%s", name);
        snprintf(id.kind, sizeof id.kind, "%s", kind);
        snprintf(id.path, sizeof id.path, "%s", path);
        snprintf(id.driver, sizeof id.driver, "e1000e");
        if (mac_hex) {
                unsigned b[6];
                assert_int_equal(sscanf(mac_hex, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]), 6);
                for (int i = 0; i < 6; i++)
                        id.mac[i] = (uint8_t) b[i];
                id.has_mac = true;
                id.mac_is_permanent = permanent;
        }
        return id;
}

static void test_round_trip_matches_the_same_link_under_another_ifindex(void **state) {
        struct net_allowance a = {}, *back = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size;

        struct net_identity nic = link_id("enp1s0", "52:54:00:12:34:56", true, "", "pci-0000:01:00.0");
        struct net_identity br = link_id("br0", NULL, false, "bridge", "");
        assert_int_equal(net_allowance_add(&a, &nic), 0);
        assert_int_equal(net_allowance_add(&a, &br), 0);
        assert_int_equal(net_allowance_format(&a, &text, &size), 0);
        assert_int_equal(net_allowance_parse(text, size, &back), 0);
        assert_int_equal(back->n, 2);

        nic.ifindex = 42;               /* renumbered by the next boot */
        assert_true(net_allowance_contains(back, &nic));
        assert_true(net_allowance_contains(back, &br));

        struct net_identity other = nic;
        other.mac[5] ^= 1;
        assert_false(net_allowance_contains(back, &other));
        other = nic;
        snprintf(other.path, sizeof other.path, "pci-0000:02:00.0");
        assert_false(net_allowance_contains(back, &other));
        other = nic;
        other.mac_is_permanent = false;
        assert_false(net_allowance_contains(back, &other));
        other = nic;
        snprintf(other.name, sizeof other.name, "enp2s0");
        assert_false(net_allowance_contains(back, &other));
        assert_false(net_allowance_contains(NULL, &nic));
        free(a.links);
        net_allowance_free(back);
}

static void test_parse_refuses_anything_the_writer_does_not_write(void **state) {
        static const char *const bad[] = {
                "",
                "kyoka network links at installation 2\n",
                "kyoka network links at installation 1\nno newline at the end",
                "kyoka network links at installation 1\n52:54:00:12:34:56\tP\t\tenp1s0\n",            /* 4 fields */
                "kyoka network links at installation 1\n52:54:00:12:34:56\tP\t\tenp1s0\tp\textra\n",  /* 6 fields */
                "kyoka network links at installation 1\n52:54:00:12:34:5G\tP\t\tenp1s0\t\n",
                "kyoka network links at installation 1\n52:54:00:12:34:5A\tP\t\tenp1s0\t\n",          /* uppercase */
                "kyoka network links at installation 1\n52:54:00:12:34:56\tX\t\tenp1s0\t\n",
                "kyoka network links at installation 1\n-\tP\t\tenp1s0\t\n",
                "kyoka network links at installation 1\n-\t-\t\tenp1s0-is-far-too-long\t\n",
                "kyoka network links at installation 1\n-\t-\t\ten\x01p\t\n",                       /* not sanitised */
        };
        struct net_allowance *a = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(net_allowance_parse(bad[i], strlen(bad[i]), &a), -EBADMSG);
        const char *empty = "kyoka network links at installation 1\n";
        assert_int_equal(net_allowance_parse(empty, strlen(empty), &a), 0);
        assert_int_equal(a->n, 0);
        net_allowance_free(a);
}

static void test_begin_creates_an_empty_list_once_and_write_replaces_it(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct net_allowance a = {}, *back = NULL;
        struct stat st;

        assert_int_equal(net_allowance_read(dir, &back), -ENOENT);
        assert_int_equal(net_allowance_begin(dir), 0);
        assert_int_equal(net_allowance_begin(dir), -EEXIST);       /* never a second first start */
        assert_int_equal(net_allowance_read(dir, &back), 0);
        assert_int_equal(back->n, 0);                               /* a crash here allows nothing */
        back = net_allowance_free(back);

        struct net_identity nic = link_id("eth0", "02:00:00:00:00:01", false, "", "");
        assert_int_equal(net_allowance_add(&a, &nic), 0);
        assert_int_equal(net_allowance_write(dir, &a), 0);
        assert_int_equal(net_allowance_read(dir, &back), 0);
        assert_true(net_allowance_contains(back, &nic));
        _cleanup_free_ char *path = path_join(dir, KYOKA_NET_ALLOWANCE_FILE);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        free(a.links);
        net_allowance_free(back);
        test_rmdir_r(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip_matches_the_same_link_under_another_ifindex),
                cmocka_unit_test(test_parse_refuses_anything_the_writer_does_not_write),
                cmocka_unit_test(test_begin_creates_an_empty_list_once_and_write_replaces_it),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
