/* SPDX-License-Identifier: MIT */
/* basic/utf8.c: the one strict UTF-8 decoder, validity, the code points shown escaped, and where
 * text is cut. */
#include "test-util.h"

#include "utf8.h"

/* The definition, written independently of the decoder: a sequence is valid when it is the
 * shortest encoding of a code point that is neither a surrogate nor beyond U+10FFFF. Decodes by
 * the lead byte's bit pattern alone, then checks the value. */
static size_t reference_decode(const uint8_t *s, size_t len, uint32_t *ret_cp) {
        size_t n;
        uint32_t cp;

        if (len == 0)
                return 0;
        if (s[0] < 0x80)
                n = 1, cp = s[0];
        else if ((s[0] & 0xe0) == 0xc0)
                n = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        if (n != (cp < 0x80 ? 1u : cp < 0x800 ? 2u : cp < 0x10000 ? 3u : 4u))
                return 0;               /* overlong */
        *ret_cp = cp;
        return n;
}

static void check_decode(const uint8_t *b, size_t len) {
        uint32_t want_cp = 0xffffffff, cp = 0xffffffff;
        size_t want = reference_decode(b, len, &want_cp);
        size_t n = utf8_decode((const char *) b, len, &cp);

        if (n != want)
                fail_msg("utf8_decode(%02x %02x %02x %02x, len %zu) = %zu, expected %zu", b[0], b[1], b[2], b[3], len,
                         n, want);
        if (n > 0 && cp != want_cp)
                fail_msg("utf8_decode(%02x %02x %02x %02x) = U+%04X, expected U+%04X", b[0], b[1], b[2], b[3], cp,
                         want_cp);
}

/* Every sequence of up to three bytes, each with a fourth byte from every class (and the length
 * cut at each point): the decoder agrees with the definition. */
static void test_decode_agrees_with_the_definition(void **state) {
        static const uint8_t fourth[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xc2, 0xf4, 0xff };

        for (uint32_t x = 0; x < (1u << 24); x++) {
                uint8_t b[4] = { (uint8_t) (x >> 16), (uint8_t) (x >> 8), (uint8_t) x, 0 };
                /* the fourth byte matters only after a four-byte lead */
                size_t k = b[0] >= 0xf0 ? ELEMENTSOF(fourth) : 1;
                for (size_t j = 0; j < k; j++) {
                        b[3] = fourth[j];
                        for (size_t len = 1; len <= 4; len++)
                                check_decode(b, len);
                }
        }
}

static void test_decode_known_characters(void **state) {
        uint32_t cp;

        assert_int_equal(utf8_decode("A", 1, &cp), 1);
        assert_int_equal(cp, 'A');
        assert_int_equal(utf8_decode("\xc3\xa9", 2, &cp), 2);
        assert_int_equal(cp, 0xe9);
        assert_int_equal(utf8_decode("京", 3, &cp), 3);
        assert_int_equal(cp, 0x4eac);
        assert_int_equal(utf8_decode("\xf0\x9f\x94\x91", 4, &cp), 4);
        assert_int_equal(cp, 0x1f511);
        assert_int_equal(utf8_decode("\xf4\x8f\xbf\xbf", 4, &cp), 4);
        assert_int_equal(cp, 0x10ffff);
        /* a NULL code point pointer is allowed */
        assert_int_equal(utf8_decode("\xe4\xba\xac", 3, NULL), 3);
}

static void test_decode_refuses_overlong_surrogate_and_beyond_unicode(void **state) {
        uint32_t cp = 7;

        assert_int_equal(utf8_decode("\xc0\xaf", 2, &cp), 0);           /* "/" in two bytes */
        assert_int_equal(utf8_decode("\xc1\xbf", 2, &cp), 0);
        assert_int_equal(utf8_decode("\xe0\x9f\xbf", 3, &cp), 0);       /* U+07FF in three */
        assert_int_equal(utf8_decode("\xf0\x8f\xbf\xbf", 4, &cp), 0);   /* U+FFFF in four */
        assert_int_equal(utf8_decode("\xed\xa0\x80", 3, &cp), 0);       /* U+D800 */
        assert_int_equal(utf8_decode("\xed\xbf\xbf", 3, &cp), 0);       /* U+DFFF */
        assert_int_equal(utf8_decode("\xf4\x90\x80\x80", 4, &cp), 0);   /* U+110000 */
        assert_int_equal(utf8_decode("\xf5\x80\x80\x80", 4, &cp), 0);
        assert_int_equal(utf8_decode("\xff", 1, &cp), 0);
        assert_int_equal(utf8_decode("\x80", 1, &cp), 0);               /* a continuation byte alone */
        assert_int_equal(cp, 7);                                        /* not written on failure */
}

static void test_decode_respects_len(void **state) {
        assert_int_equal(utf8_decode("\xe4\xba\xac", 2, NULL), 0);
        assert_int_equal(utf8_decode("\xf0\x9f\x94\x91", 3, NULL), 0);
        assert_int_equal(utf8_decode("A", 0, NULL), 0);
        /* an embedded NUL is a character when LEN says so */
        assert_int_equal(utf8_decode("\0A", 2, NULL), 1);
}

static void test_decode_str_stops_at_nul(void **state) {
        uint32_t cp;
        /* a sequence cut by the NUL is invalid, and nothing after the NUL is read */
        char cut[] = { (char) 0xe4, (char) 0xba, 0, (char) 0xac };

        assert_int_equal(utf8_decode_str(cut, NULL), 0);
        assert_int_equal(utf8_decode_str("京都", &cp), 3);
        assert_int_equal(cp, 0x4eac);
        assert_int_equal(utf8_decode_str("", NULL), 0);
}

static void test_is_valid(void **state) {
        assert_true(utf8_is_valid(""));
        assert_true(utf8_is_valid("permit 2026-001 京都市"));
        assert_true(utf8_is_valid("\x01\x7f"));         /* valid, though unsafe */
        assert_false(utf8_is_valid("abc\xe4\xba"));
        assert_false(utf8_is_valid("\xed\xa0\x80"));
        assert_false(utf8_is_valid("a\xc0\xafz"));
}

static void test_unsafe_codepoints(void **state) {
        static const uint32_t unsafe[] = { 0x00, 0x09, 0x0a, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f,
                                           0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069 };
        static const uint32_t safe[] = { 0x20, '\\', 'A', 0x7e, 0xa0, 0xe9, 0x2027, 0x202f,
                                         0x2065, 0x206a, 0x4eac, 0xfeff, 0x1f511, 0x10ffff };

        for (size_t i = 0; i < ELEMENTSOF(unsafe); i++)
                assert_true(utf8_is_unsafe_codepoint(unsafe[i]));
        for (size_t i = 0; i < ELEMENTSOF(safe); i++)
                assert_false(utf8_is_unsafe_codepoint(safe[i]));
}

static void test_cut_never_splits_a_character(void **state) {
        const char *s = "ab京都";     /* 2 + 3 + 3 bytes */

        assert_int_equal(utf8_cut(s, 8, 8), 8);
        assert_int_equal(utf8_cut(s, 8, 20), 8);
        assert_int_equal(utf8_cut(s, 8, 7), 5);
        assert_int_equal(utf8_cut(s, 8, 5), 5);
        assert_int_equal(utf8_cut(s, 8, 4), 2);
        assert_int_equal(utf8_cut(s, 8, 2), 2);
        assert_int_equal(utf8_cut(s, 8, 1), 1);
        assert_int_equal(utf8_cut(s, 8, 0), 0);
        /* invalid text: moved back over every continuation byte, as far as the start */
        assert_int_equal(utf8_cut("\x80\x80\x80\x80", 4, 3), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_agrees_with_the_definition),
                cmocka_unit_test(test_decode_known_characters),
                cmocka_unit_test(test_decode_refuses_overlong_surrogate_and_beyond_unicode),
                cmocka_unit_test(test_decode_respects_len),
                cmocka_unit_test(test_decode_str_stops_at_nul),
                cmocka_unit_test(test_is_valid),
                cmocka_unit_test(test_unsafe_codepoints),
                cmocka_unit_test(test_cut_never_splits_a_character),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
