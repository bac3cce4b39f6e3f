/* SPDX-License-Identifier: MIT */
/* basic/hexutil.c: hex digits, bytes in groups or run together, four-digit IDs, and the one
 * spelling kyoka writes. */
#include "test-util.h"

#include "hexutil.h"

#define PARSE(s, sep, c, out, n) hex_parse_bytes((s), strlen(s), (sep), (c), (out), (n))

static void test_hexval(void **state) {
        assert_int_equal(hexval('0'), 0);
        assert_int_equal(hexval('9'), 9);
        assert_int_equal(hexval('a'), 10);
        assert_int_equal(hexval('F'), 15);
        assert_int_equal(hexval('g'), -1);
        assert_int_equal(hexval('G'), -1);
        assert_int_equal(hexval(' '), -1);
        assert_int_equal(hexval(0), -1);
        assert_int_equal(hexval((char) 0xb0), -1);
}

static void test_encode_is_lowercase_and_terminated(void **state) {
        char out[9];

        memset(out, 'Z', sizeof out);
        hex_encode((const uint8_t[]) { 0x00, 0xab, 0xcd, 0xef }, 4, out);
        assert_string_equal(out, "00abcdef");
}

static void test_encode_decode_round_trip(void **state) {
        uint8_t in[256], back[256];
        char hex[513];

        for (size_t i = 0; i < sizeof in; i++)
                in[i] = (uint8_t) i;
        hex_encode(in, sizeof in, hex);
        assert_int_equal(hex_decode(hex, back, sizeof back), 0);
        assert_memory_equal(in, back, sizeof in);
        assert_int_equal(PARSE(hex, 0, HEX_LOWERCASE, back, sizeof back), 0);
}

static void test_decode_takes_either_case_and_exact_length(void **state) {
        uint8_t b[2] = { 7, 7 };

        assert_int_equal(hex_decode("aBcD", b, 2), 0);
        assert_memory_equal(b, ((uint8_t[]) { 0xab, 0xcd }), 2);
        b[0] = 7;
        assert_int_equal(hex_decode("abc", b, 2), -EINVAL);
        assert_int_equal(hex_decode("abcde", b, 2), -EINVAL);
        assert_int_equal(hex_decode("", b, 2), -EINVAL);
        assert_int_equal(hex_decode("ab c", b, 2), -EINVAL);
        assert_int_equal(b[0], 7);
}

/* A bad digit at the end leaves OUT as it was: nothing is written before everything is checked. */
static void test_parse_writes_nothing_on_failure(void **state) {
        uint8_t b[4] = { 1, 2, 3, 4 };

        assert_int_equal(PARSE("aabbccgg", 0, HEX_ANY_CASE, b, 4), -EINVAL);
        assert_int_equal(PARSE("aa:bb:cc-dd", ':', HEX_ANY_CASE, b, 4), -EINVAL);
        assert_memory_equal(b, ((uint8_t[]) { 1, 2, 3, 4 }), 4);
}

static void test_parse_groups(void **state) {
        uint8_t b[3];

        assert_int_equal(PARSE("08:06:50", ':', HEX_ANY_CASE, b, 3), 0);
        assert_memory_equal(b, ((uint8_t[]) { 0x08, 0x06, 0x50 }), 3);
        assert_int_equal(PARSE("ff:FF:0a", ':', HEX_ANY_CASE, b, 3), 0);
        assert_memory_equal(b, ((uint8_t[]) { 0xff, 0xff, 0x0a }), 3);

        static const char *const bad[] = { "", "08:06", "08:06:50:", ":08:06:50", "08:06:5", "8:06:50", "08-06-50",
                                           "08:06:500", "080:6:50", "08::06:50", "08:06:5g", "08:06:50\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (PARSE(bad[i], ':', HEX_ANY_CASE, b, 3) != -EINVAL)
                        fail_msg("\"%s\" was taken as three groups", bad[i]);
}

/* The files kyoka writes itself are read in its spelling only. */
static void test_parse_lowercase_refuses_uppercase(void **state) {
        uint8_t b[2];

        assert_int_equal(PARSE("abcd", 0, HEX_LOWERCASE, b, 2), 0);
        assert_int_equal(PARSE("abcD", 0, HEX_LOWERCASE, b, 2), -EINVAL);
        assert_int_equal(PARSE("Ab:cd", ':', HEX_LOWERCASE, b, 2), -EINVAL);
        assert_int_equal(PARSE("Ab:cd", ':', HEX_ANY_CASE, b, 2), 0);
}

/* Only LEN bytes are read, so a field inside a line needs no copy. */
static void test_parse_reads_only_len_bytes(void **state) {
        const char line[] = "ab:cd\tP";
        uint8_t b[2];

        assert_int_equal(hex_parse_bytes(line, 5, ':', HEX_LOWERCASE, b, 2), 0);
        assert_memory_equal(b, ((uint8_t[]) { 0xab, 0xcd }), 2);
        assert_int_equal(hex_parse_bytes(line, 6, ':', HEX_LOWERCASE, b, 2), -EINVAL);
        assert_int_equal(hex_parse_bytes("abc", 2, 0, HEX_ANY_CASE, b, 1), 0);
        assert_int_equal(b[0], 0xab);
}

static void test_parse_check_only(void **state) {
        assert_int_equal(PARSE("0123456789abcdef0123456789abcdef", 0, HEX_LOWERCASE, NULL, 16), 0);
        assert_int_equal(PARSE("0123456789ABCDEF0123456789abcdef", 0, HEX_LOWERCASE, NULL, 16), -EINVAL);
        assert_int_equal(PARSE("0123456789abcdef0123456789abcde", 0, HEX_LOWERCASE, NULL, 16), -EINVAL);
}

static void test_parse_nothing(void **state) {
        assert_int_equal(hex_parse_bytes("", 0, 0, HEX_ANY_CASE, NULL, 0), 0);
        assert_int_equal(hex_parse_bytes("", 0, ':', HEX_ANY_CASE, NULL, 0), 0);
        assert_int_equal(hex_parse_bytes("a", 1, ':', HEX_ANY_CASE, NULL, 0), -EINVAL);
}

static void test_parse_u16(void **state) {
        uint16_t v = 7;

        assert_int_equal(hex_parse_u16("0781", 4, &v), 0);
        assert_int_equal(v, 0x0781);
        assert_int_equal(hex_parse_u16("ABcd", 4, &v), 0);
        assert_int_equal(v, 0xabcd);
        v = 7;
        assert_int_equal(hex_parse_u16("781", 3, &v), -EINVAL);
        assert_int_equal(hex_parse_u16("07810", 5, &v), -EINVAL);
        assert_int_equal(hex_parse_u16("0x81", 4, &v), -EINVAL);
        assert_int_equal(hex_parse_u16(" 781", 4, &v), -EINVAL);
        assert_int_equal(hex_parse_u16("+781", 4, &v), -EINVAL);
        /* a JSON string may hold a NUL: its length counts, not strlen */
        assert_int_equal(hex_parse_u16("07\0" "1", 4, &v), -EINVAL);
        assert_int_equal(v, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hexval),
                cmocka_unit_test(test_encode_is_lowercase_and_terminated),
                cmocka_unit_test(test_encode_decode_round_trip),
                cmocka_unit_test(test_decode_takes_either_case_and_exact_length),
                cmocka_unit_test(test_parse_writes_nothing_on_failure),
                cmocka_unit_test(test_parse_groups),
                cmocka_unit_test(test_parse_lowercase_refuses_uppercase),
                cmocka_unit_test(test_parse_reads_only_len_bytes),
                cmocka_unit_test(test_parse_check_only),
                cmocka_unit_test(test_parse_nothing),
                cmocka_unit_test(test_parse_u16),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
