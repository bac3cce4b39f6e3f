/* SPDX-License-Identifier: MIT */
/* policy-pattern.c: the one text form of an interface pattern ("08:06:50", "03:*:*"), read by
 * the policy parser and `policyctl approve --interfaces`, written by the policy writer, the
 * editor and `policyctl show`. */
#include "test-util.h"

#include "policy.h"

#define PARSE(s, ret) policy_interface_pattern_parse((s), strlen(s), (ret))

static struct policy_interface_pattern pattern(int cls, int sub, int proto) {
        return (struct policy_interface_pattern) {
                .c = { .cls = (uint8_t) cls, .subclass = sub < 0 ? 0 : (uint8_t) sub,
                       .protocol = proto < 0 ? 0 : (uint8_t) proto },
                .any_subclass = sub < 0,
                .any_protocol = proto < 0,
        };
}

static void test_parse_exact_and_wildcards(void **state) {
        struct policy_interface_pattern p, want;

        assert_int_equal(PARSE("08:06:50", &p), 0);
        want = pattern(0x08, 0x06, 0x50);
        assert_memory_equal(&p, &want, sizeof p);
        assert_int_equal(PARSE("03:*:*", &p), 0);
        want = pattern(0x03, -1, -1);
        assert_memory_equal(&p, &want, sizeof p);
        assert_int_equal(PARSE("e0:01:*", &p), 0);
        want = pattern(0xe0, 0x01, -1);
        assert_memory_equal(&p, &want, sizeof p);
        assert_int_equal(PARSE("FF:*:0A", &p), 0);
        want = pattern(0xff, -1, 0x0a);
        assert_memory_equal(&p, &want, sizeof p);
}

static void test_parse_refuses_everything_else(void **state) {
        static const char *const bad[] = { "", "*:*:*", "08:06", "08:06:50:", "08:06:5", "8:06:50", "08:**:50",
                                           "08:*6:50", "08:6*:50", "08:06:50 ", " 08:06:50", "08-06-50", "080650",
                                           "08:06:500", "0x8:06:50", "08::06", "g8:06:50", "08:06:*:" };
        struct policy_interface_pattern p = pattern(1, 2, 3), before = p;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (PARSE(bad[i], &p) != -EINVAL)
                        fail_msg("\"%s\" was taken as a pattern", bad[i]);
        assert_memory_equal(&p, &before, sizeof p);
}

/* `approve --interfaces "08:06:50, 03:*:*"` hands over each item by its length. */
static void test_parse_takes_len_bytes(void **state) {
        struct policy_interface_pattern p, want = pattern(0x08, 0x06, 0x50);

        assert_int_equal(policy_interface_pattern_parse("08:06:50, 03:*:*", 8, &p), 0);
        assert_memory_equal(&p, &want, sizeof p);
        assert_int_equal(policy_interface_pattern_parse("08:06:50", 7, &p), -EINVAL);
        assert_int_equal(policy_interface_pattern_parse("03:*:*", 5, &p), -EINVAL);
}

static void test_format(void **state) {
        char buf[POLICY_INTERFACE_PATTERN_MAX];
        struct policy_interface_pattern p;

        p = pattern(0x08, 0x06, 0x50);
        policy_interface_pattern_format(&p, buf);
        assert_string_equal(buf, "08:06:50");
        p = pattern(0xE0, -1, -1);
        policy_interface_pattern_format(&p, buf);
        assert_string_equal(buf, "e0:*:*");
        p = pattern(0xff, 0xab, -1);
        policy_interface_pattern_format(&p, buf);
        assert_string_equal(buf, "ff:ab:*");
}

/* Every class with every subclass and protocol (or "*"): written, read back, the same. */
static void test_format_parse_round_trip(void **state) {
        char buf[POLICY_INTERFACE_PATTERN_MAX];

        for (int cls = 0; cls < 256; cls++)
                for (int sub = -1; sub < 256; sub++)
                        for (int proto = -1; proto < 256; proto += 17) {
                                struct policy_interface_pattern p = pattern(cls, sub, proto), back;
                                policy_interface_pattern_format(&p, buf);
                                assert_int_equal(strlen(buf), p.any_subclass + p.any_protocol == 0 ? 8 :
                                                              p.any_subclass + p.any_protocol == 1 ? 7 : 6);
                                assert_int_equal(PARSE(buf, &back), 0);
                                assert_memory_equal(&p, &back, sizeof p);
                        }
}

static void test_equal_ignores_wildcard_bytes(void **state) {
        struct policy_interface_pattern a = pattern(0x03, -1, -1), b = pattern(0x03, -1, -1);

        b.c.subclass = 0x01;            /* not compared under "*" */
        assert_true(policy_interface_pattern_equal(&a, &b));
        b = pattern(0x03, 0x01, -1);
        assert_false(policy_interface_pattern_equal(&a, &b));
        a = pattern(0x08, 0x06, 0x50);
        b = pattern(0x08, 0x06, 0x50);
        assert_true(policy_interface_pattern_equal(&a, &b));
        b = pattern(0x08, 0x06, 0x62);
        assert_false(policy_interface_pattern_equal(&a, &b));
        b = pattern(0x09, 0x06, 0x50);
        assert_false(policy_interface_pattern_equal(&a, &b));
        b = pattern(0x08, 0x06, -1);
        assert_false(policy_interface_pattern_equal(&a, &b));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_exact_and_wildcards),
                cmocka_unit_test(test_parse_refuses_everything_else),
                cmocka_unit_test(test_parse_takes_len_bytes),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_format_parse_round_trip),
                cmocka_unit_test(test_equal_ignores_wildcard_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
