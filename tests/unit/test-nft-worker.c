/* SPDX-License-Identifier: MIT */
/* The nft script of kyokad's tables: only integers, sorted and unique, one transaction that
 * replaces whatever tables were there. */
#include "test-util.h"
#include "nft-worker.h"

static void test_ruleset_lists_each_ifindex_once_sorted(void **state) {
        const int allowed[] = { 7, 1, 7, 3 };
        _cleanup_free_ char *s = NULL;

        assert_int_equal(nft_ruleset(allowed, 4, &s), 0);
        assert_non_null(strstr(s, "elements = { 1, 3, 7 }"));
        /* one set in each of the three tables */
        size_t n = 0;
        for (const char *p = s; (p = strstr(p, "elements = { 1, 3, 7 }")); p++)
                n++;
        assert_int_equal(n, 3);
}

static void test_ruleset_replaces_existing_tables(void **state) {
        _cleanup_free_ char *s = NULL;

        assert_int_equal(nft_ruleset((const int[]) { 1 }, 1, &s), 0);
        assert_non_null(strstr(s, "add table inet kyoka\ndelete table inet kyoka\n"));
        assert_non_null(strstr(s, "add table arp kyoka\ndelete table arp kyoka\n"));
        assert_non_null(strstr(s, "add table bridge kyoka\ndelete table bridge kyoka\n"));
        assert_non_null(strstr(s, "iif != @allowed drop"));
        assert_non_null(strstr(s, "oif != @allowed drop"));
}

static void test_ruleset_without_approved_links_has_empty_sets(void **state) {
        _cleanup_free_ char *s = NULL;

        assert_int_equal(nft_ruleset(NULL, 0, &s), 0);
        assert_null(strstr(s, "elements"));
        assert_non_null(strstr(s, "type iface_index"));
}

static void test_ruleset_refuses_invalid_ifindex(void **state) {
        char *s = NULL;

        assert_int_equal(nft_ruleset((const int[]) { 2, 0 }, 2, &s), -EINVAL);
        assert_null(s);
        assert_int_equal(nft_ruleset((const int[]) { -5 }, 1, &s), -EINVAL);
        assert_null(s);
}

static void test_ruleset_families_leaves_the_others_out(void **state) {
        _cleanup_free_ char *s = NULL, *b = NULL;

        /* net_firewall_apply's fallback: one table per transaction, e.g. when the kernel has no
         * nft_meta_bridge (tests/vm/test-kyokad-net.py) */
        assert_int_equal(nft_ruleset_families((const int[]) { 1 }, 1, NFT_TABLE_INET | NFT_TABLE_ARP, &s), 0);
        assert_non_null(strstr(s, "table inet kyoka {"));
        assert_non_null(strstr(s, "table arp kyoka {"));
        assert_null(strstr(s, "bridge"));
        assert_int_equal(nft_ruleset_families((const int[]) { 1 }, 1, NFT_TABLE_BRIDGE, &b), 0);
        assert_non_null(strstr(b, "add table bridge kyoka\ndelete table bridge kyoka\ntable bridge kyoka {"));
        assert_null(strstr(b, "inet"));
        assert_null(strstr(b, "arp"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ruleset_lists_each_ifindex_once_sorted),
                cmocka_unit_test(test_ruleset_replaces_existing_tables),
                cmocka_unit_test(test_ruleset_without_approved_links_has_empty_sets),
                cmocka_unit_test(test_ruleset_refuses_invalid_ifindex),
                cmocka_unit_test(test_ruleset_families_leaves_the_others_out),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
