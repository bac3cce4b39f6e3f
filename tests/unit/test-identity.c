/* SPDX-License-Identifier: MIT */
/* identity.c: sanitising device strings, class and MAC text forms, and the request JSON. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "identity.h"
#include <json-c/json.h>
#include "macro.h"

#define SAN(s, size) sanitize_into((s), sizeof(s) - 1, (size))

static char out[512];

static const char *sanitize_into(const char *s, size_t len, size_t size) {
        assert_true(size <= sizeof out);
        memset(out, 'Z', sizeof out);
        size_t n = identity_sanitize(s, len, out, size);
        if (size > 0) {
                assert_int_equal(n, strlen(out));
                assert_true(n < size);
        }
        return out;
}

/* ---- identity_sanitize ---- */

static void test_sanitize_keeps_japanese(void **state) {
        assert_string_equal(SAN("サンディスク株式会社", 256), "サンディスク株式会社");
}

static void test_sanitize_keeps_four_byte_utf8(void **state) {
        assert_string_equal(SAN("\xf0\x9f\x94\x91 key", 256), "\xf0\x9f\x94\x91 key");
}

static void test_sanitize_escapes_control_characters(void **state) {
        assert_string_equal(SAN("a\x1b[2Jb\n\x7f", 256), "a\\x1b[2Jb\\x0a\\x7f");
}

static void test_sanitize_escapes_embedded_nul(void **state) {
        assert_string_equal(SAN("a\0b", 256), "a\\x00b");
}

static void test_sanitize_escapes_backslash(void **state) {
        assert_string_equal(SAN("C:\\x41", 256), "C:\\x5cx41");
}

static void test_sanitize_escapes_c1_controls(void **state) {
        /* U+0085 (NEL) and U+009B (CSI) are valid UTF-8 but steer terminals */
        assert_string_equal(SAN("a\xc2\x85" "b\xc2\x9b", 256), "a\\xc2\\x85b\\xc2\\x9b");
}

static void test_sanitize_escapes_bidi_override(void **state) {
        assert_string_equal(SAN("x\xe2\x80\xaey", 256), "x\\xe2\\x80\\xaey");
}

static void test_sanitize_escapes_invalid_byte_and_resynchronises(void **state) {
        assert_string_equal(SAN("a\xff\xe3\x81\x82", 256), "a\\xffあ");
}

static void test_sanitize_escapes_overlong_encoding(void **state) {
        /* "/" as 2 bytes and as 3 bytes */
        assert_string_equal(SAN("\xc0\xaf\xe0\x80\xaf", 256), "\\xc0\\xaf\\xe0\\x80\\xaf");
}

static void test_sanitize_escapes_surrogate(void **state) {
        assert_string_equal(SAN("\xed\xa0\x80", 256), "\\xed\\xa0\\x80");
}

static void test_sanitize_escapes_beyond_unicode(void **state) {
        assert_string_equal(SAN("\xf4\x90\x80\x80", 256), "\\xf4\\x90\\x80\\x80");
}

static void test_sanitize_escapes_truncated_sequence_at_end(void **state) {
        assert_string_equal(SAN("ok\xe3\x81", 256), "ok\\xe3\\x81");
}

static void test_sanitize_truncates_before_a_character_that_does_not_fit(void **state) {
        /* "あい" is 6 bytes; 5 bytes of room (plus NUL) hold only "あ" */
        assert_string_equal(SAN("あい", 6), "あ");
        assert_string_equal(SAN("あい", 7), "あい");
}

static void test_sanitize_never_splits_an_escape(void **state) {
        /* "ab" + 4-byte escape needs 7 bytes with the NUL; 6 gives "ab" */
        assert_string_equal(SAN("ab\n", 6), "ab");
        assert_string_equal(SAN("ab\n", 7), "ab\\x0a");
}

static void test_sanitize_never_splits_an_escaped_character(void **state) {
        /* U+0085 is escaped as two escapes (8 bytes): both or neither */
        assert_string_equal(SAN("a\xc2\x85", 8), "a");
        assert_string_equal(SAN("a\xc2\x85", 10), "a\\xc2\\x85");
}

static void test_sanitize_size_one_gives_empty_string(void **state) {
        assert_string_equal(SAN("abc", 1), "");
}

static void test_sanitize_size_zero_writes_nothing(void **state) {
        char b[2] = { 'Q', 'Q' };
        assert_int_equal(identity_sanitize("abc", 3, b, 0), 0);
        assert_int_equal(b[0], 'Q');
}

static void test_sanitize_null_source_gives_empty_string(void **state) {
        char b[4] = "xyz";
        assert_int_equal(identity_sanitize(NULL, 5, b, sizeof b), 0);
        assert_string_equal(b, "");
}

static void test_sanitize_stops_at_len_not_at_nul(void **state) {
        assert_string_equal(sanitize_into("abcdef", 3, 256), "abc");
}

/* ---- identity_sanitize against its former self ---- */

/* identity_sanitize() as it was before its UTF-8 decoder moved to basic/utf8.c, kept verbatim:
 * device strings reach logs, spreadsheets and terminals through it, and ledger records hash
 * them, so its output must stay the same for every input. */
/* Length of the valid UTF-8 sequence starting at S (at most LEN bytes), with its code point,
 * or 0 if it is not valid: truncated, overlong, a surrogate or beyond U+10FFFF. */
static size_t old_utf8_decode(const uint8_t *s, size_t len, uint32_t *ret_cp) {
        uint32_t cp;
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;   /* allowed range of the second byte (RFC 3629, table 3-7) */

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0f;
                if (s[0] == 0xe0)
                        lo = 0xa0;      /* overlong */
                else if (s[0] == 0xed)
                        hi = 0x9f;      /* surrogates */
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07;
                if (s[0] == 0xf0)
                        lo = 0x90;      /* overlong */
                else if (s[0] == 0xf4)
                        hi = 0x8f;      /* > U+10FFFF */
        } else
                return 0;               /* continuation byte, C0/C1 (overlong), F5..FF */

        if (len < n || s[1] < lo || s[1] > hi)
                return 0;
        cp = (cp << 6) | (s[1] & 0x3f);
        for (size_t i = 2; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        *ret_cp = cp;
        return n;
}

/* Code points shown escaped although they are valid: C0/C1 controls and DEL would reach a
 * terminal, the backslash would make an escape ambiguous, and the line separators and bidi
 * overrides can make a device name look like another one in `policyctl show` and the ledger. */
static bool old_codepoint_needs_escape(uint32_t cp) {
        return cp < 0x20 || cp == 0x7f || cp == '\\' ||
                (cp >= 0x80 && cp <= 0x9f) ||
                cp == 0x2028 || cp == 0x2029 ||
                (cp >= 0x202a && cp <= 0x202e) ||
                (cp >= 0x2066 && cp <= 0x2069);
}

static size_t old_identity_sanitize(const char *src, size_t len, char *dst, size_t dst_size) {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *s = (const uint8_t *) src;
        size_t o = 0;

        if (dst_size == 0)
                return 0;
        if (!src)
                len = 0;

        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n = old_utf8_decode(s + i, len - i, &cp);
                bool escape = n == 0 || old_codepoint_needs_escape(cp);

                if (n == 0)
                        n = 1;          /* escape the one bad byte and resynchronise after it */

                /* A whole character or a whole run of escapes fits, or we stop: never half. */
                size_t need = escape ? 4 * n : n;
                if (o + need + 1 > dst_size)
                        break;

                for (size_t k = 0; k < n; k++) {
                        if (escape) {
                                dst[o++] = '\\';
                                dst[o++] = 'x';
                                dst[o++] = hex[s[i + k] >> 4];
                                dst[o++] = hex[s[i + k] & 15];
                        } else
                                dst[o++] = (char) s[i + k];
                }
                i += n;
        }
        dst[o] = 0;
        return o;
}

static void check_same_as_before(const char *s, size_t len, size_t size) {
        char a[2048], b[2048];

        assert_true(size <= sizeof a);
        memset(a, 'Z', sizeof a);
        memset(b, 'Z', sizeof b);
        size_t na = old_identity_sanitize(s, len, a, size), nb = identity_sanitize(s, len, b, size);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, sizeof a);
}

static void check_same_as_before_all_sizes(const char *s, size_t len) {
        static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 6, 8, 13, 17, 64, 256 };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                check_same_as_before(s, len, sizes[i]);
        check_same_as_before(s, len, MIN(4 * len + 1, (size_t) 2048));
}

/* Every seed of every fuzz target (policies, requests, ledger lines, descriptors: real text and
 * real garbage), from each offset, in windows of up to 400 bytes. */
static void test_sanitize_unchanged_on_fuzz_corpora(void **state) {
        const char *top = TEST_DATA_DIR "/../fuzz/corpus";
        DIR *d = opendir(top);
        size_t files = 0;

        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *sub = path_join(top, de->d_name);
                DIR *e = opendir(sub);
                assert_non_null(e);
                for (struct dirent *fe; (fe = readdir(e));) {
                        if (fe->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *path = path_join(sub, fe->d_name), *text = NULL;
                        size_t n;
                        assert_int_equal(read_file_bounded(path, 1 << 20, &text, &n), 0);
                        for (size_t i = 0; i < n; i++)
                                check_same_as_before_all_sizes(text + i, MIN(n - i, (size_t) 400));
                        files++;
                }
                closedir(e);
        }
        closedir(d);
        assert_true(files >= 50);
}

/* Random bytes, drawn so that valid and broken sequences of every length, controls, backslashes
 * and bidi characters all occur often. Deterministic (a fixed xorshift seed). */
static void test_sanitize_unchanged_on_random_bytes(void **state) {
        static const uint8_t alphabet[] = { 0x00, 0x09, 0x0a, 0x1b, 0x20, 0x41, 0x5c, 0x78, 0x7f, 0x80, 0x85, 0x8f,
                                            0x90, 0x9f, 0xa0, 0xaa, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2,
                                            0xe3, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff };
        uint64_t x = 0x9e3779b97f4a7c15;
        char s[96];

        for (int round = 0; round < 200000; round++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t len = x % sizeof s;
                for (size_t i = 0; i < len; i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        /* half the bytes from the alphabet, half uniformly */
                        s[i] = (char) ((x >> 32) & 1 ? alphabet[(x >> 8) % sizeof alphabet] : (uint8_t) (x >> 40));
                }
                check_same_as_before(s, len, (size_t) (x >> 48) % 400);
                check_same_as_before(s, len, 4 * len + 1);
        }
}

/* identity_take_clean() accepts exactly what the readers of state files accepted before it
 * existed: no NUL, shorter than the buffer, and unchanged by identity_sanitize(). */
static int old_take_text(const char *s, size_t len, char *dst, size_t size) {
        char again[1024];
        if (len >= size || memchr(s, 0, len))
                return -EBADMSG;
        size_t n = identity_sanitize(s, len, again, sizeof again);
        if (n != len || memcmp(again, s, len) != 0)
                return -EBADMSG;
        memcpy(dst, s, len);
        dst[len] = 0;
        return 0;
}

static void test_take_clean_same_as_sanitize_round_trip(void **state) {
        static const uint8_t alphabet[] = { 0x00, 0x09, 0x20, 0x41, 0x5c, 0x78, 0x7f, 0x80, 0x85, 0x9f,
                                            0xbf, 0xc2, 0xe2, 0xe3, 0xed, 0xf0, 0xf4, 0xf5, 0xff };
        uint64_t x = 0x2545f4914f6cdd1d;
        char s[48], a[64], b[64];
        unsigned accepted = 0;

        for (int round = 0; round < 200000; round++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t len = x % sizeof s, size = (size_t) (x >> 40) % sizeof a + 1;
                for (size_t i = 0; i < len; i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        /* mostly plain letters, so that a good share is clean */
                        s[i] = (char) ((x >> 32) % 8 == 0 ? alphabet[(x >> 8) % sizeof alphabet] : 'a' + (x >> 40) % 26);
                }
                memset(a, 'Z', sizeof a);
                memset(b, 'Z', sizeof b);
                int ra = old_take_text(s, len, a, size), rb = identity_take_clean(s, len, b, size);
                assert_int_equal(ra, rb);
                assert_memory_equal(a, b, sizeof a);
                accepted += ra == 0;
        }
        assert_true(accepted > 1000);
}

/* ---- classes, hubs, HID ---- */

static void test_class_parse_accepts_either_case(void **state) {
        struct usb_interface_class c;
        assert_int_equal(usb_interface_class_parse("08:06:50", &c), 0);
        assert_int_equal(c.cls, 8);
        assert_int_equal(c.subclass, 6);
        assert_int_equal(c.protocol, 0x50);
        assert_int_equal(usb_interface_class_parse("FF:aB:0c", &c), 0);
        assert_int_equal(c.cls, 0xff);
        assert_int_equal(c.subclass, 0xab);
}

static void test_class_parse_rejects_malformed(void **state) {
        static const char *bad[] = { "", "8:6:50", "08:06:5", "08:06:500", "08-06-50", "08:06:5g",
                                     " 08:06:50", "08:06:50 ", "0806:50:", "+8:06:50" };
        struct usb_interface_class c = { 1, 2, 3 };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(usb_interface_class_parse(bad[i], &c), -EINVAL);
                assert_int_equal(c.cls, 1);   /* untouched */
        }
}

static void test_class_format_is_lowercase(void **state) {
        char b[9];
        usb_interface_class_format(&(struct usb_interface_class) { 0xe0, 0x01, 0x0a }, b);
        assert_string_equal(b, "e0:01:0a");
}

static struct usb_identity usb_with(uint8_t devclass, size_t n, const uint8_t *classes) {
        struct usb_identity id = { .device_class = { devclass, 0, 0 }, .n_interfaces = n };
        for (size_t i = 0; i < n; i++)
                id.interfaces[i].cls = classes[i];
        return id;
}

static void test_hid_only_needs_every_interface_hid(void **state) {
        struct usb_identity kbd = usb_with(0, 2, (uint8_t[]) { 3, 3 });
        struct usb_identity combo = usb_with(0, 2, (uint8_t[]) { 8, 3 });
        struct usb_identity none = usb_with(0, 0, NULL);
        assert_true(usb_identity_is_hid_only(&kbd));
        assert_false(usb_identity_is_hid_only(&combo));
        assert_false(usb_identity_is_hid_only(&none));
}

static void test_hub_by_device_class_or_interfaces(void **state) {
        struct usb_identity by_class = usb_with(9, 0, NULL);
        struct usb_identity by_class_and_if = usb_with(9, 1, (uint8_t[]) { 9 });
        struct usb_identity by_if = usb_with(0, 1, (uint8_t[]) { 9 });
        assert_true(usb_identity_is_hub(&by_class));
        assert_true(usb_identity_is_hub(&by_class_and_if));
        assert_true(usb_identity_is_hub(&by_if));
}

static void test_hub_class_with_storage_interface_is_not_a_hub(void **state) {
        /* would otherwise be admitted whole under defaults.usb_hub */
        struct usb_identity fake = usb_with(9, 2, (uint8_t[]) { 9, 8 });
        assert_false(usb_identity_is_hub(&fake));
}

static void test_no_interfaces_and_no_hub_class_is_not_a_hub(void **state) {
        struct usb_identity id = usb_with(0, 0, NULL);
        assert_false(usb_identity_is_hub(&id));
}

/* ---- MAC ---- */

#define MAC_PARSE(s, c, m) mac_parse((s), strlen(s), (c), (m))

static void test_mac_parse_accepts_either_case(void **state) {
        uint8_t m[6];
        assert_int_equal(MAC_PARSE("52:54:00:AB:cd:Ef", HEX_ANY_CASE, m), 0);
        assert_memory_equal(m, ((uint8_t[]) { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }), 6);
}

/* The network allowance is read in the spelling kyokad writes it in. */
static void test_mac_parse_lowercase_refuses_uppercase(void **state) {
        uint8_t m[6] = { 7, 7, 7, 7, 7, 7 };
        assert_int_equal(MAC_PARSE("52:54:00:AB:cd:ef", HEX_LOWERCASE, m), -EINVAL);
        assert_int_equal(MAC_PARSE("52:54:00:ab:cd:eF", HEX_LOWERCASE, m), -EINVAL);
        assert_int_equal(m[0], 7);
        assert_int_equal(MAC_PARSE("52:54:00:ab:cd:ef", HEX_LOWERCASE, m), 0);
        assert_memory_equal(m, ((uint8_t[]) { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }), 6);
}

/* Only LEN bytes are read: what follows (the allowance's tab) is not part of the address. */
static void test_mac_parse_takes_len_bytes(void **state) {
        uint8_t m[6];
        assert_int_equal(mac_parse("52:54:00:ab:cd:ef\tP", 17, HEX_LOWERCASE, m), 0);
        assert_int_equal(mac_parse("52:54:00:ab:cd:ef\tP", 18, HEX_LOWERCASE, m), -EINVAL);
        assert_int_equal(mac_parse("52:54:00:ab:cd:ef", 16, HEX_ANY_CASE, m), -EINVAL);
}

static void test_mac_parse_rejects_malformed(void **state) {
        static const char *bad[] = { "", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52-54-00-ab-cd-ef",
                                     "5254.00ab.cdef", "52:54:00:ab:cd:eg", "52:54:00:ab:cd:e", "2:54:00:ab:cd:ef0" };
        uint8_t m[6] = { 7, 7, 7, 7, 7, 7 };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(MAC_PARSE(bad[i], HEX_ANY_CASE, m), -EINVAL);
        assert_int_equal(m[0], 7);
}

static void test_mac_format_is_lowercase(void **state) {
        char b[18];
        mac_format((uint8_t[]) { 0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF }, b);
        assert_string_equal(b, "52:54:00:ab:cd:ef");
}

/* ---- request JSON ---- */

static struct request usb_request(void) {
        struct request r;
        /* compared with memcmp after the round trip: no stray padding or tail bytes */
        memset(&r, 0, sizeof r);
        r.type = REQUEST_USB;
        r.time = 1795320309; /* 2026-11-22T13:05:09+09:00 */
        strcpy(r.hostname, "yakusho-pc-12");
        strcpy(r.machine_id, "0123456789abcdef0123456789abcdef");
        r.usb.vendor = 0x0781;
        r.usb.product = 0x5581;
        r.usb.has_serial = true;
        r.usb.n_interfaces = 2;
        r.usb.interfaces[0] = (struct usb_interface_class) { 8, 6, 0x50 };
        r.usb.interfaces[1] = (struct usb_interface_class) { 3, 1, 1 };
        strcpy(r.usb.serial, "4C530001231120115142");
        strcpy(r.usb.manufacturer, "サンディスク株式会社");
        strcpy(r.usb.product_name, "Ultra \\x1b \"quoted\" /path");
        strcpy(r.usb.bus_path, "1-2.1");
        strcpy(r.usb.id_path, "pci-0000:00:14.0-usb-0:2.1");
        return r;
}

static struct request net_request(void) {
        struct request r;
        memset(&r, 0, sizeof r);
        r.type = REQUEST_NETWORK;
        r.time = 1795320309;
        strcpy(r.hostname, "yakusho-pc-12");
        r.net.ifindex = 7;
        r.net.has_mac = r.net.mac_is_permanent = true;
        memcpy(r.net.mac, (uint8_t[]) { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, 6);
        strcpy(r.net.name, "enx525400123456");
        strcpy(r.net.path, "pci-0000:00:14.0-usb-0:3:1.0");
        strcpy(r.net.driver, "cdc_ether");
        return r;
}

static void test_request_usb_round_trip(void **state) {
        struct request in = usb_request(), back;
        _cleanup_free_ char *json = NULL, *err = NULL;

        assert_int_equal(request_to_json(&in, &json), 0);
        assert_non_null(strstr(json, "\"vendor\": \"0781\""));
        assert_non_null(strstr(json, "サンディスク株式会社"));   /* UTF-8, not \u escapes */
        assert_non_null(strstr(json, "\"time\": \"2026-11-22T13:05:09+09:00\""));
        assert_non_null(strstr(json, "\"08:06:50\""));
        assert_int_equal(request_from_json(json, strlen(json), &back, &err), 0);
        assert_null(err);
        assert_memory_equal(&in, &back, sizeof in);
}

static void test_request_usb_without_serial_writes_null(void **state) {
        struct request in = usb_request(), back;
        _cleanup_free_ char *json = NULL;

        in.usb.has_serial = false;
        memset(in.usb.serial, 0, sizeof in.usb.serial);
        memset(in.machine_id, 0, sizeof in.machine_id);
        assert_int_equal(request_to_json(&in, &json), 0);
        assert_non_null(strstr(json, "\"serial\": null"));
        assert_non_null(strstr(json, "\"machine_id\": null"));
        assert_int_equal(request_from_json(json, strlen(json), &back, NULL), 0);
        assert_false(back.usb.has_serial);
        assert_memory_equal(&in, &back, sizeof in);
}

static void test_request_network_round_trip(void **state) {
        struct request in = net_request(), back;
        _cleanup_free_ char *json = NULL;

        assert_int_equal(request_to_json(&in, &json), 0);
        assert_non_null(strstr(json, "\"mac\": \"52:54:00:12:34:56\""));
        assert_non_null(strstr(json, "\"type\": \"network\""));
        assert_int_equal(request_from_json(json, strlen(json), &back, NULL), 0);
        assert_memory_equal(&in, &back, sizeof in);
}

static void test_request_network_without_mac_round_trip(void **state) {
        struct request in = net_request(), back;
        _cleanup_free_ char *json = NULL;

        in.net.has_mac = in.net.mac_is_permanent = false;
        memset(in.net.mac, 0, 6);
        strcpy(in.net.kind, "wireguard");
        assert_int_equal(request_to_json(&in, &json), 0);
        assert_int_equal(request_from_json(json, strlen(json), &back, NULL), 0);
        assert_memory_equal(&in, &back, sizeof in);
}

static void assert_refused(const char *json, const char *message);

static struct request media_request(void) {
        struct request r = usb_request();
        memset(&r.usb, 0, sizeof r.usb);
        r.type = REQUEST_MEDIA;
        r.media.bus = MEDIA_BUS_MMC;
        strcpy(r.media.name, "mmcblk0");
        strcpy(r.media.path, "pci-0000:00:04.0");
        strcpy(r.media.vendor, "0x0000aa");
        strcpy(r.media.model, "QEMU!");
        strcpy(r.media.serial, "0xdeadbeef");
        strcpy(r.media.oemid, "0x5859");
        strcpy(r.media.date, "02/2006");
        return r;
}

static void test_request_media_round_trip(void **state) {
        struct request in = media_request(), back;
        _cleanup_free_ char *json = NULL, *err = NULL;

        assert_int_equal(request_to_json(&in, &json), 0);
        assert_non_null(strstr(json, "\"type\": \"media\""));
        assert_non_null(strstr(json, "\"bus\": \"mmc\""));
        assert_non_null(strstr(json, "\"name\": \"mmcblk0\""));
        assert_non_null(strstr(json, "\"date\": \"02/2006\""));
        assert_int_equal(request_from_json(json, strlen(json), &back, &err), 0);
        assert_null(err);
        assert_memory_equal(&in, &back, sizeof in);

        in.media.bus = MEDIA_BUS_OPTICAL;
        memset(in.media.name, 0, sizeof in.media.name);
        strcpy(in.media.name, "sr0");
        memset(in.media.oemid, 0, sizeof in.media.oemid);
        memset(in.media.date, 0, sizeof in.media.date);
        json = mfree(json);
        assert_int_equal(request_to_json(&in, &json), 0);
        assert_int_equal(request_from_json(json, strlen(json), &back, NULL), 0);
        assert_memory_equal(&in, &back, sizeof in);
}

/* The disk's kernel name names a file (the access file) and a path: nothing but [a-z0-9]. */
static void test_request_media_refuses_bad_bus_and_name(void **state) {
        static const char head[] = "{\"kyoka_request\":1,\"type\":\"media\",\"host\":{\"hostname\":\"h\"},"
                                   "\"time\":\"2026-11-22T04:05:09Z\",\"device\":";
        static const struct { const char *device, *message; } cases[] = {
                { "{\"bus\":\"usb\",\"name\":\"sda\"}", "device.bus: expected" },
                { "{\"name\":\"sda\"}", "device.bus: missing" },
                { "{\"bus\":\"ata\"}", "device.name: missing" },
                { "{\"bus\":\"ata\",\"name\":\"../sda\"}", "device.name: not a disk's kernel name" },
                { "{\"bus\":\"ata\",\"name\":\"\"}", "device.name: not a disk's kernel name" },
                { "{\"bus\":\"ata\",\"name\":\"sda\",\"serial\":\"a\\u001bb\"}", "device.serial: not in sanitised form" },
                { "{\"bus\":\"mmc\",\"name\":\"mmcblk0\",\"oemid\":\"0123456789abcdef\"}", "device.oemid: too long" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *j = NULL;
                assert_true(asprintf(&j, "%s%s}", head, cases[i].device) > 0);
                assert_refused(j, cases[i].message);
        }
}

static void test_media_bus_names(void **state) {
        enum media_bus b;
        for (int i = 0; i < _MEDIA_BUS_MAX; i++) {
                const char *s = media_bus_to_string((enum media_bus) i);
                assert_non_null(s);
                assert_int_equal(media_bus_from_string(s, strlen(s), &b), 0);
                assert_int_equal(b, i);
        }
        assert_null(media_bus_to_string(_MEDIA_BUS_MAX));
        assert_int_equal(media_bus_from_string("mmc", 2, &b), -EINVAL);
        assert_int_equal(media_bus_from_string("MMC", 3, &b), -EINVAL);
        assert_int_equal(media_bus_from_string("mmcx", 4, &b), -EINVAL);
}

static void test_request_ignores_unknown_fields(void **state) {
        static const char j[] =
                "{\"kyoka_request\":1,\"type\":\"usb\",\"future\":[1,2],"
                "\"host\":{\"hostname\":\"h\",\"extra\":true},\"time\":\"2026-11-22T04:05:09Z\","
                "\"device\":{\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"S\",\"device_class\":\"00:00:00\","
                "\"interfaces\":[\"08:06:50\"],\"colour\":\"red\"}}";
        struct request r;
        assert_int_equal(request_from_json(j, strlen(j), &r, NULL), 0);
        assert_int_equal(r.usb.vendor, 0x0781);
        assert_string_equal(r.usb.serial, "S");
        assert_int_equal(r.time, 1795320309);
}

/* A minimal valid USB request with one field replaced by FIELD_JSON, e.g. "\"vendor\":\"78x1\"". */
static char *usb_request_with(const char *host, const char *time, const char *device) {
        char *j;
        assert_true(asprintf(&j,
                             "{\"kyoka_request\":1,\"type\":\"usb\",\"host\":{%s},\"time\":%s,\"device\":{%s}}",
                             host ?: "\"hostname\":\"h\"", time ?: "\"2026-11-22T13:05:09+09:00\"",
                             device ?: "\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"S\","
                                       "\"device_class\":\"00:00:00\",\"interfaces\":[\"08:06:50\"]") > 0);
        return j;
}

static void assert_refused(const char *json, const char *message) {
        struct request r;
        memset(&r, 0x5a, sizeof r);
        char *err = NULL;
        assert_int_equal(request_from_json(json, strlen(json), &r, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err, message))
                fail_msg("expected \"%s\" in \"%s\"", message, err);
        assert_int_equal(((uint8_t *) &r)[0], 0x5a);    /* ret untouched */
        free(err);
}

static void assert_device_refused(const char *device, const char *message) {
        _cleanup_free_ char *j = usb_request_with(NULL, NULL, device);
        assert_refused(j, message);
}

#define DEV_REST ",\"device_class\":\"00:00:00\",\"interfaces\":[]"

static void test_request_refuses_bad_vendor(void **state) {
        assert_device_refused("\"vendor\":\"78x1\",\"product\":\"5581\",\"serial\":null" DEV_REST,
                              "device.vendor: expected 4 hex digits, got \"78x1\"");
}

static void test_request_refuses_short_product(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"558\",\"serial\":null" DEV_REST,
                              "device.product: expected 4 hex digits");
}

static void test_request_refuses_numeric_vendor(void **state) {
        assert_device_refused("\"vendor\":781,\"product\":\"5581\",\"serial\":null" DEV_REST,
                              "device.vendor: expected a string, got an integer");
}

static void test_request_refuses_missing_serial(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\"" DEV_REST, "device.serial: missing");
}

static void test_request_refuses_serial_with_control_character(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"A\\u001bB\"" DEV_REST,
                              "device.serial: not in sanitised form");
}

static void test_request_refuses_serial_with_bare_backslash(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"A\\\\B\"" DEV_REST,
                              "device.serial: not in sanitised form");
}

static void test_request_refuses_serial_with_nul(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"A\\u0000B\"" DEV_REST,
                              "device.serial: not in sanitised form");
}

static void test_request_refuses_too_long_manufacturer(void **state) {
        char dev[600];
        char m[300];
        memset(m, 'a', 256);
        m[256] = 0;
        snprintf(dev, sizeof dev, "\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":null,\"manufacturer\":\"%s\"" DEV_REST, m);
        assert_device_refused(dev, "device.manufacturer: too long (256 bytes, at most 255)");
}

static void test_request_refuses_bad_interface_class(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":null,\"device_class\":\"00:00:00\","
                              "\"interfaces\":[\"08:06:50\",\"3:1:1\"]",
                              "device.interfaces[1]: expected \"cc:ss:pp\" (hex), got \"3:1:1\"");
}

static void test_request_refuses_non_string_interface(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":null,\"device_class\":\"00:00:00\","
                              "\"interfaces\":[8]",
                              "device.interfaces[0]: expected a string, got an integer");
}

static void test_request_refuses_too_many_interfaces(void **state) {
        char dev[1024] = "\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":null,\"device_class\":\"00:00:00\","
                         "\"interfaces\":[";
        for (int i = 0; i < 33; i++)
                strcat(dev, i ? ",\"08:06:50\"" : "\"08:06:50\"");
        strcat(dev, "]");
        assert_device_refused(dev, "device.interfaces: 33 interfaces, at most 32");
}

static void test_request_refuses_bad_device_class(void **state) {
        assert_device_refused("\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":null,\"device_class\":\"00:00\","
                              "\"interfaces\":[]", "device.device_class: expected \"cc:ss:pp\"");
}

static void test_request_refuses_missing_device(void **state) {
        assert_refused("{\"kyoka_request\":1,\"type\":\"usb\",\"host\":{\"hostname\":\"h\"},"
                       "\"time\":\"2026-11-22T13:05:09+09:00\"}", "device: missing");
}

static void test_request_refuses_unknown_type(void **state) {
        assert_refused("{\"kyoka_request\":1,\"type\":\"bluetooth\"}",
                       "type: expected \"usb\", \"network\", \"wireless\" or \"media\", got \"bluetooth\"");
}

static void test_request_refuses_other_version(void **state) {
        assert_refused("{\"kyoka_request\":2,\"type\":\"usb\"}", "kyoka_request: unsupported version 2");
}

static void test_request_refuses_missing_version(void **state) {
        assert_refused("{\"type\":\"usb\"}", "kyoka_request: missing");
}

static void test_request_refuses_time_without_offset(void **state) {
        _cleanup_free_ char *j = usb_request_with(NULL, "\"2026-11-22T13:05:09\"", NULL);
        assert_refused(j, "time: expected an ISO 8601 time with offset");
}

static void test_request_refuses_impossible_date(void **state) {
        _cleanup_free_ char *j = usb_request_with(NULL, "\"2026-02-30T13:05:09+09:00\"", NULL);
        assert_refused(j, "time: expected an ISO 8601 time with offset");
}

static void test_request_refuses_bad_machine_id(void **state) {
        _cleanup_free_ char *j = usb_request_with("\"hostname\":\"h\",\"machine_id\":\"XYZ\"", NULL, NULL);
        assert_refused(j, "host.machine_id: expected 32 lowercase hex digits");
}

static void test_request_refuses_missing_hostname(void **state) {
        _cleanup_free_ char *j = usb_request_with("\"machine_id\":null", NULL, NULL);
        assert_refused(j, "host.hostname: missing");
}

static void test_request_refuses_invalid_json(void **state) {
        assert_refused("{\"kyoka_request\":1,", "request: unexpected end of the document");
        assert_refused("{\"kyoka_request\":1,}", "request: not valid JSON");
}

static void test_request_refuses_trailing_data(void **state) {
        _cleanup_free_ char *j = usb_request_with(NULL, NULL, NULL);
        _cleanup_free_ char *k = NULL;
        assert_true(asprintf(&k, "%s {}", j) > 0);
        assert_refused(k, "request: not valid JSON at byte");
}

static void test_request_refuses_non_object(void **state) {
        assert_refused("[1,2,3]", "request: expected a JSON object");
}

static void test_request_refuses_invalid_utf8_in_document(void **state) {
        assert_refused("{\"kyoka_request\":1,\"type\":\"u\xffsb\"}", "request: not valid JSON");
}

static void test_request_refuses_embedded_nul(void **state) {
        static const char j[] = "{\"kyoka_request\":1}\0garbage";
        struct request r;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(request_from_json(j, sizeof j - 1, &r, &err), -EINVAL);
        assert_string_equal(err, "request: contains a NUL byte");
}

static void test_request_refuses_deep_nesting(void **state) {
        char j[256] = "{\"kyoka_request\":1,\"x\":";
        for (int i = 0; i < 40; i++)
                strcat(j, "[");
        assert_refused(j, "request: not valid JSON");
}

static void test_request_refuses_more_than_64k(void **state) {
        size_t n = (64u << 10) + 1;
        _cleanup_free_ char *j = malloc(n + 1);
        struct request r;
        _cleanup_free_ char *err = NULL;
        memset(j, ' ', n);
        j[n] = 0;
        assert_int_equal(request_from_json(j, n, &r, &err), -EINVAL);
        assert_non_null(strstr(err, "request: too large"));
}

static char *net_request_with(const char *device) {
        char *j;
        assert_true(asprintf(&j, "{\"kyoka_request\":1,\"type\":\"network\",\"host\":{\"hostname\":\"h\"},"
                                 "\"time\":\"2026-11-22T13:05:09+09:00\",\"device\":{%s}}", device) > 0);
        return j;
}

static void test_request_refuses_bad_mac(void **state) {
        _cleanup_free_ char *j = net_request_with("\"ifindex\":3,\"name\":\"eth0\",\"mac\":\"52:54:00:12:34\"");
        assert_refused(j, "device.mac: expected \"aa:bb:cc:dd:ee:ff\", got \"52:54:00:12:34\"");
}

static void test_request_refuses_overlong_mac(void **state) {
        _cleanup_free_ char *j = net_request_with("\"ifindex\":3,\"name\":\"eth0\",\"mac\":\"52:54:00:12:34:56:78:9a\"");
        assert_refused(j, "device.mac: expected \"aa:bb:cc:dd:ee:ff\"");
}

static void test_request_refuses_long_interface_name(void **state) {
        _cleanup_free_ char *j = net_request_with("\"ifindex\":3,\"name\":\"abcdefghijklmnop\",\"mac\":null");
        assert_refused(j, "device.name: too long (16 bytes, at most 15)");
}

static void test_request_refuses_interface_name_with_slash(void **state) {
        _cleanup_free_ char *j = net_request_with("\"ifindex\":3,\"name\":\"a/b\",\"mac\":null");
        assert_refused(j, "device.name: not a valid interface name");
}

static void test_request_refuses_zero_ifindex(void **state) {
        _cleanup_free_ char *j = net_request_with("\"ifindex\":0,\"name\":\"eth0\",\"mac\":null");
        assert_refused(j, "device.ifindex: expected a positive interface index");
}

static void test_request_refuses_string_loopback(void **state) {
        _cleanup_free_ char *j = net_request_with("\"ifindex\":1,\"name\":\"lo\",\"mac\":null,\"loopback\":\"yes\"");
        assert_refused(j, "device.loopback: expected a boolean, got a string");
}

/* kyokad's `request` reply -> the file policyctl request and kyoka-notify write: only a request
 * that approve --request reads back. */
static void test_request_file_text_from_reply(void **state) {
        struct request in = usb_request(), back;
        _cleanup_free_ char *json = NULL, *text = NULL, *error = NULL, *err2 = NULL;

        assert_int_equal(request_to_json(&in, &json), 0);
        struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "ok", json_object_new_boolean(true));
        json_object_object_add(reply, "request", json_tokener_parse(json));
        assert_int_equal(request_file_text(reply, &text, &error), 0);
        assert_int_equal(text[strlen(text) - 1], '\n');
        assert_int_equal(request_from_json(text, strlen(text), &back, &err2), 0);
        assert_memory_equal(&in, &back, sizeof in);
        json_object_put(reply);
}

static void test_request_file_text_refuses_what_approve_would(void **state) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        struct json_object *reply = json_object_new_object();

        /* No request at all. */
        assert_int_equal(request_file_text(reply, &text, &error), -ENOMSG);
        assert_null(error);
        /* A request approve would refuse (a bad vendor id): never handed out. */
        json_object_object_add(reply, "request",
                               json_tokener_parse("{\"kyoka_request\":1,\"type\":\"usb\",\"device\":{\"vendor\":\"xyz\"}}"));
        assert_int_equal(request_file_text(reply, &text, &error), -EBADMSG);
        assert_null(text);
        assert_non_null(error);       /* the parser's message: which field */
        json_object_put(reply);
}

static struct request wireless_request(void) {
        struct request r;
        memset(&r, 0, sizeof r);
        r.type = REQUEST_WIRELESS;
        r.time = 1795320309;
        strcpy(r.hostname, "yakusho-pc-12");
        strcpy(r.wireless.ifname, "wlan0");
        r.wireless.source = WIRELESS_SEEN_REFUSED;
        memcpy(r.wireless.ssid, "My\x1b[2J\xff\\hot", 11);
        r.wireless.ssid_len = 11;
        r.wireless.n_bssids = 2;
        memcpy(r.wireless.bssids[0], (uint8_t[]) { 0x02, 0, 0, 0, 0x01, 0 }, 6);
        memcpy(r.wireless.bssids[1], (uint8_t[]) { 0x02, 0, 0, 0, 0x0a, 0 }, 6);
        r.wireless.security = WIRELESS_SECURITY_OPEN;
        return r;
}

static void test_request_wireless_round_trip_escapes_the_ssid(void **state) {
        struct request in = wireless_request(), back;
        _cleanup_free_ char *json = NULL, *err = NULL;

        assert_int_equal(request_to_json(&in, &json), 0);
        assert_non_null(strstr(json, "\"type\": \"wireless\""));
        /* The SSID's escape sequence and invalid byte never reach the file raw. */
        assert_null(strchr(json, '\x1b'));
        assert_null(strchr(json, '\xff'));
        assert_non_null(strstr(json, "\"ssid\": \"My\\\\x1b[2J\\\\xff\\\\x5chot\""));
        assert_non_null(strstr(json, "\"ssid_hex\": \"4d791b5b324aff5c686f74\""));
        assert_non_null(strstr(json, "\"seen\": \"refused\""));
        assert_non_null(strstr(json, "\"security\": \"open\""));
        assert_int_equal(request_from_json(json, strlen(json), &back, &err), 0);
        assert_memory_equal(&in, &back, sizeof in);
}

static void test_request_wireless_refuses_ssid_that_disagrees_with_hex(void **state) {
        assert_refused("{\"kyoka_request\":1,\"type\":\"wireless\",\"host\":{\"hostname\":\"h\"},\"time\":\"2026-11-22T04:05:09Z\","
                       "\"network\":{\"seen\":\"scan\",\"ssid\":\"city-net\",\"ssid_hex\":\"636974792d6e6574ff\",\"security\":\"wpa2-psk\"}}",
                       "network.ssid: does not match ssid_hex");
        assert_refused("{\"kyoka_request\":1,\"type\":\"wireless\",\"host\":{\"hostname\":\"h\"},\"time\":\"2026-11-22T04:05:09Z\","
                       "\"network\":{\"seen\":\"scan\",\"ssid_hex\":\"\",\"security\":\"wpa2-psk\"}}",
                       "network.ssid_hex: expected 2 to 64 hex digits");
        assert_refused("{\"kyoka_request\":1,\"type\":\"wireless\",\"host\":{\"hostname\":\"h\"},\"time\":\"2026-11-22T04:05:09Z\","
                       "\"network\":{\"seen\":\"scan\",\"ssid_hex\":\"61\",\"security\":\"wpa9\"}}",
                       "network.security: unknown security \"wpa9\"");
        assert_refused("{\"kyoka_request\":1,\"type\":\"wireless\",\"host\":{\"hostname\":\"h\"},\"time\":\"2026-11-22T04:05:09Z\","
                       "\"network\":{\"seen\":\"scan\",\"ssid_hex\":\"61\",\"bssids\":[\"02:00\"],\"security\":\"open\"}}",
                       "network.bssids[0]: expected");
        assert_refused("{\"kyoka_request\":1,\"type\":\"wireless\",\"host\":{\"hostname\":\"h\"},\"time\":\"2026-11-22T04:05:09Z\","
                       "\"device\":{}}", "network: missing");
}

static void test_request_network_carries_wireless_mode(void **state) {
        struct request in = net_request(), back;
        _cleanup_free_ char *json = NULL, *plain = NULL;

        assert_int_equal(request_to_json(&in, &plain), 0);
        assert_null(strstr(plain, "wireless_mode"));
        in.net.wireless = WIRELESS_AP;
        assert_int_equal(request_to_json(&in, &json), 0);
        assert_non_null(strstr(json, "\"wireless_mode\": \"ap\""));
        assert_int_equal(request_from_json(json, strlen(json), &back, NULL), 0);
        assert_memory_equal(&in, &back, sizeof in);
}

int main(void) {
        /* request times are written in local time with an offset: pin the zone */
        setenv("TZ", "Asia/Tokyo", 1);
        tzset();

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_wireless_round_trip_escapes_the_ssid),
                cmocka_unit_test(test_request_wireless_refuses_ssid_that_disagrees_with_hex),
                cmocka_unit_test(test_request_network_carries_wireless_mode),
                cmocka_unit_test(test_sanitize_keeps_japanese),
                cmocka_unit_test(test_sanitize_keeps_four_byte_utf8),
                cmocka_unit_test(test_sanitize_escapes_control_characters),
                cmocka_unit_test(test_sanitize_escapes_embedded_nul),
                cmocka_unit_test(test_sanitize_escapes_backslash),
                cmocka_unit_test(test_sanitize_escapes_c1_controls),
                cmocka_unit_test(test_sanitize_escapes_bidi_override),
                cmocka_unit_test(test_sanitize_escapes_invalid_byte_and_resynchronises),
                cmocka_unit_test(test_sanitize_escapes_overlong_encoding),
                cmocka_unit_test(test_sanitize_escapes_surrogate),
                cmocka_unit_test(test_sanitize_escapes_beyond_unicode),
                cmocka_unit_test(test_sanitize_escapes_truncated_sequence_at_end),
                cmocka_unit_test(test_sanitize_truncates_before_a_character_that_does_not_fit),
                cmocka_unit_test(test_sanitize_never_splits_an_escape),
                cmocka_unit_test(test_sanitize_never_splits_an_escaped_character),
                cmocka_unit_test(test_sanitize_size_one_gives_empty_string),
                cmocka_unit_test(test_sanitize_size_zero_writes_nothing),
                cmocka_unit_test(test_sanitize_null_source_gives_empty_string),
                cmocka_unit_test(test_sanitize_stops_at_len_not_at_nul),
                cmocka_unit_test(test_sanitize_unchanged_on_fuzz_corpora),
                cmocka_unit_test(test_sanitize_unchanged_on_random_bytes),
                cmocka_unit_test(test_take_clean_same_as_sanitize_round_trip),
                cmocka_unit_test(test_class_parse_accepts_either_case),
                cmocka_unit_test(test_class_parse_rejects_malformed),
                cmocka_unit_test(test_class_format_is_lowercase),
                cmocka_unit_test(test_hid_only_needs_every_interface_hid),
                cmocka_unit_test(test_hub_by_device_class_or_interfaces),
                cmocka_unit_test(test_hub_class_with_storage_interface_is_not_a_hub),
                cmocka_unit_test(test_no_interfaces_and_no_hub_class_is_not_a_hub),
                cmocka_unit_test(test_mac_parse_accepts_either_case),
                cmocka_unit_test(test_mac_parse_lowercase_refuses_uppercase),
                cmocka_unit_test(test_mac_parse_takes_len_bytes),
                cmocka_unit_test(test_mac_parse_rejects_malformed),
                cmocka_unit_test(test_mac_format_is_lowercase),
                cmocka_unit_test(test_request_usb_round_trip),
                cmocka_unit_test(test_request_file_text_from_reply),
                cmocka_unit_test(test_request_file_text_refuses_what_approve_would),
                cmocka_unit_test(test_request_usb_without_serial_writes_null),
                cmocka_unit_test(test_request_network_round_trip),
                cmocka_unit_test(test_request_network_without_mac_round_trip),
                cmocka_unit_test(test_request_media_round_trip),
                cmocka_unit_test(test_request_media_refuses_bad_bus_and_name),
                cmocka_unit_test(test_media_bus_names),
                cmocka_unit_test(test_request_ignores_unknown_fields),
                cmocka_unit_test(test_request_refuses_bad_vendor),
                cmocka_unit_test(test_request_refuses_short_product),
                cmocka_unit_test(test_request_refuses_numeric_vendor),
                cmocka_unit_test(test_request_refuses_missing_serial),
                cmocka_unit_test(test_request_refuses_serial_with_control_character),
                cmocka_unit_test(test_request_refuses_serial_with_bare_backslash),
                cmocka_unit_test(test_request_refuses_serial_with_nul),
                cmocka_unit_test(test_request_refuses_too_long_manufacturer),
                cmocka_unit_test(test_request_refuses_bad_interface_class),
                cmocka_unit_test(test_request_refuses_non_string_interface),
                cmocka_unit_test(test_request_refuses_too_many_interfaces),
                cmocka_unit_test(test_request_refuses_bad_device_class),
                cmocka_unit_test(test_request_refuses_missing_device),
                cmocka_unit_test(test_request_refuses_unknown_type),
                cmocka_unit_test(test_request_refuses_other_version),
                cmocka_unit_test(test_request_refuses_missing_version),
                cmocka_unit_test(test_request_refuses_time_without_offset),
                cmocka_unit_test(test_request_refuses_impossible_date),
                cmocka_unit_test(test_request_refuses_bad_machine_id),
                cmocka_unit_test(test_request_refuses_missing_hostname),
                cmocka_unit_test(test_request_refuses_invalid_json),
                cmocka_unit_test(test_request_refuses_trailing_data),
                cmocka_unit_test(test_request_refuses_non_object),
                cmocka_unit_test(test_request_refuses_invalid_utf8_in_document),
                cmocka_unit_test(test_request_refuses_embedded_nul),
                cmocka_unit_test(test_request_refuses_deep_nesting),
                cmocka_unit_test(test_request_refuses_more_than_64k),
                cmocka_unit_test(test_request_refuses_bad_mac),
                cmocka_unit_test(test_request_refuses_overlong_mac),
                cmocka_unit_test(test_request_refuses_long_interface_name),
                cmocka_unit_test(test_request_refuses_interface_name_with_slash),
                cmocka_unit_test(test_request_refuses_zero_ifindex),
                cmocka_unit_test(test_request_refuses_string_loopback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
