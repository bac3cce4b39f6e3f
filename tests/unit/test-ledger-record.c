/* SPDX-License-Identifier: MIT */
/* The record model: sanitising on the way in, the canonical encoding (a known vector, round
 * trips, refusal of anything not ours), the chain hash, and the JSON form verify-export reads;
 * for both encoding versions: version 1 as the code before the count wrote it (records read from
 * tests/data/export/v1/, which that code made), version 2 with the count. */
#include <json-c/json.h>
#include <sqlite3.h>

#include "test-util.h"

#include "fileio.h"
#include "hexutil.h"
#include "record.h"

#define V1_DB TEST_DATA_DIR "/export/v1/ledger.db"
#define V1_JSONL TEST_DATA_DIR "/export/v1/ja/ws-test01/2026-W47/records.jsonl"

static struct ledger_record sample(void) {
        struct ledger_record r = { .version = LEDGER_ENCODING_VERSION, .seq = 7, .time = 1794754800, .time_nsec = 5,
                                   .utc_offset = 32400, .subject = LEDGER_SUBJECT_USB,
                                   .event = LEDGER_EVENT_CONNECTED, .count = 1,
                                   .decision = LEDGER_DECISION_ALLOW, .uid = 1000 };
        strcpy(r.hostname, "ws-test01");
        strcpy(r.vendor, "0781");
        strcpy(r.product, "5581");
        strcpy(r.serial, "4C53");
        strcpy(r.permit, "KIS-2026-0142");
        strcpy(r.user, "tanaka");
        return r;
}

static void test_text_set_escapes_controls_and_invalid_utf8(void **state) {
        char buf[64];
        ledger_text_set(buf, sizeof buf, "a\x1b[2J\r\n\xff\xc3\xa9");
        assert_string_equal(buf, "a\\x1b[2J\\x0d\\x0a\\xff\xc3\xa9");
}

static void test_text_set_is_idempotent_on_sanitised_text(void **state) {
        char once[64], twice[64];
        ledger_text_set(once, sizeof once, "x\x07y\\z");
        ledger_text_set(twice, sizeof twice, once);
        assert_string_equal(once, "x\\x07y\\x5cz");
        assert_string_equal(twice, once);
}

static void test_text_set_cuts_at_character_boundary(void **state) {
        char buf[5];
        /* "aé\x01": 'a' (1) + 'é' (2) fit in 4 bytes; the escape (4) does not. */
        assert_int_equal(ledger_text_set(buf, sizeof buf, "a\xc3\xa9\x01"), 3);
        assert_string_equal(buf, "a\xc3\xa9");
        assert_int_equal(ledger_text_set(buf, 3, "\xe3\x81\x82"), 0);  /* a 3-byte character in 2 bytes: nothing */
}

static void test_text_set_escapes_bidi_override(void **state) {
        char buf[64];
        ledger_text_set(buf, sizeof buf, "Stick \xe2\x80\xae" "fdp.exe");
        assert_string_equal(buf, "Stick \\xe2\\x80\\xaefdp.exe");
}

/* ledger_text_set() as it was before its UTF-8 decoder and escape test moved to basic/utf8.c
 * and identity.c, kept verbatim: records are hash-chained evidence, so the text they keep must
 * not change. */
static bool is_hex_digit(char c) {
        return hexval(c) >= 0;
}

static bool old_is_escape(const char *s) {
        return s[0] == '\\' && s[1] == 'x' && is_hex_digit(s[2]) && is_hex_digit(s[3]);
}

/* Length of the valid UTF-8 sequence at S (at most LEN bytes), or 1 for a byte that does not
 * start one (RFC 3629: no overlongs, surrogates or code points beyond U+10FFFF). */
static size_t old_utf8_length(const uint8_t *s, size_t len) {
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                lo = s[0] == 0xe0 ? 0xa0 : lo;
                hi = s[0] == 0xed ? 0x9f : hi;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                lo = s[0] == 0xf0 ? 0x90 : lo;
                hi = s[0] == 0xf4 ? 0x8f : hi;
        } else
                return 1;
        if (len < n || s[1] < lo || s[1] > hi)
                return 1;
        for (size_t i = 2; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 1;
        return n;
}

static size_t old_ledger_text_set(char *dst, size_t size, const char *src) {
        size_t o = 0, len;

        if (size == 0)
                return 0;
        dst[0] = 0;
        if (!src)
                return 0;

        /* One character at a time, so that the output is cut at a character (or escape)
         * boundary; identity_sanitize decides what is escaped, so both agree. Escapes already
         * in SRC are copied whole. */
        len = strlen(src);
        for (size_t i = 0; i < len;) {
                char piece[4 * 4 + 1];
                size_t n, m;

                if (old_is_escape(src + i)) {
                        n = 4;
                        memcpy(piece, src + i, 4);
                        m = 4;
                } else {
                        n = old_utf8_length((const uint8_t *) src + i, len - i);
                        m = identity_sanitize(src + i, n, piece, sizeof piece);
                }
                if (o + m + 1 > size)
                        break;
                memcpy(dst + o, piece, m);
                o += m;
                i += n;
        }
        dst[o] = 0;
        return o;
}

/* Random text with escapes, controls and valid and broken UTF-8, at random sizes. */
static void test_text_set_unchanged_on_random_text(void **state) {
        static const char *const pieces[] = { "\\x41", "\\xAb", "\\xZZ", "\\x4", "\\", "x", "\x01", "\x7f",
                                              "\xc2\x85", "\xc3\xa9", "\xe4\xba\xac", "\xe2\x80\xae",
                                              "\xed\xa0\x80", "\xf0\x9f\x94\x91", "\xf4\x90\x80\x80",
                                              "\xc0\xaf", "\xe4\xba", "\x80", "\xff", "a", " " };
        uint64_t x = 0x2545f4914f6cdd1d;
        char src[160], a[200], b[200];

        for (int round = 0; round < 100000; round++) {
                size_t len = 0;
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                for (size_t k = x % 24; k > 0; k--) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        const char *p = pieces[x % ELEMENTSOF(pieces)];
                        memcpy(src + len, p, strlen(p));
                        len += strlen(p);
                }
                src[len] = 0;
                size_t size = (size_t) (x >> 40) % sizeof a;
                memset(a, 'Z', sizeof a);
                memset(b, 'Z', sizeof b);
                assert_int_equal(old_ledger_text_set(a, size, src), ledger_text_set(b, size, src));
                assert_memory_equal(a, b, sizeof a);
        }
}

static void test_normalise_sanitises_every_text_field(void **state) {
        struct ledger_record r = sample();
        strcpy(r.manufacturer, "=cmd\x07");
        memset(r.message, 'x', sizeof r.message);      /* no NUL at all */
        assert_int_equal(ledger_record_normalise(&r), 0);
        assert_string_equal(r.manufacturer, "=cmd\\x07");
        assert_int_equal(strlen(r.message), sizeof r.message - 1);
}

static void test_normalise_refuses_bad_enum_and_nsec(void **state) {
        struct ledger_record r = sample();
        r.event = _LEDGER_EVENT_MAX;
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        r = sample();
        r.time_nsec = 1000000000;
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
}

static void test_encoding_known_prefix(void **state) {
        struct ledger_record r = sample();
        uint8_t buf[LEDGER_ENCODING_MAX];
        size_t n = ledger_record_encode(&r, buf);
        /* version, then seq as length 8 + big-endian 7, then time. */
        static const uint8_t head[] = { 5, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 0, 0x6a, 0xf9, 0xc8, 0xf0 };
        assert_true(n > sizeof head);
        assert_memory_equal(buf, head, sizeof head);
}

static void test_encoding_round_trips(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t buf[LEDGER_ENCODING_MAX];
        size_t n = ledger_record_encode(&r, buf);
        assert_int_equal(ledger_record_decode(buf, n, &back), 0);
        assert_memory_equal(&r, &back, sizeof r);
}

static void test_encoding_separates_fields(void **state) {
        /* Length prefixes: moving a byte from one field to the next changes the encoding. */
        struct ledger_record a = sample(), b = sample();
        uint8_t ea[LEDGER_ENCODING_MAX], eb[LEDGER_ENCODING_MAX];
        strcpy(a.manufacturer, "ab");
        strcpy(a.product_name, "c");
        strcpy(b.manufacturer, "a");
        strcpy(b.product_name, "bc");
        size_t na = ledger_record_encode(&a, ea), nb = ledger_record_encode(&b, eb);
        assert_int_equal(na, nb);
        assert_true(memcmp(ea, eb, na) != 0);
}

static void test_decode_refuses_malformed(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t buf[LEDGER_ENCODING_MAX];
        size_t n = ledger_record_encode(&r, buf);

        assert_int_equal(ledger_record_decode(buf, n - 1, &back), -EBADMSG);     /* truncated */
        buf[n] = 0;
        assert_int_equal(ledger_record_decode(buf, n + 1, &back), -EBADMSG);     /* trailing byte */
        buf[0] = 6;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);         /* version */
        buf[0] = 0;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);
        buf[0] = 1;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);         /* version 1 has no count */
        buf[0] = 2;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);         /* version 2 has no media fields */
        buf[0] = 3;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);         /* version 3 has no wireless fields */
        buf[0] = 4;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);         /* version 4 has no scan fields */
        buf[0] = 5;
        buf[4] = 9;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);         /* int of 9 bytes */
}

static void test_decode_refuses_unsanitised_text(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t buf[LEDGER_ENCODING_MAX];
        strcpy(r.serial, "ABCD");
        size_t n = ledger_record_encode(&r, buf);
        uint8_t *p = memmem(buf, n, "ABCD", 4);
        assert_non_null(p);
        p[1] = 0x07;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);
}

static void test_chain_hash_is_sha256_of_prev_and_encoding(void **state) {
        uint8_t prev[LEDGER_HASH_SIZE] = {}, h[LEDGER_HASH_SIZE];
        char hex[LEDGER_HASH_HEX];
        assert_int_equal(ledger_chain_hash(prev, (const uint8_t *) "abc", 3, h), 0);
        hex_encode(h, sizeof h, hex);
        /* printf '\0%.0s' {1..32} abc | sha256sum  (32 zero bytes, then "abc") */
        assert_string_equal(hex, "365aa7d8f7f9402c4b9434502b4cc89ddb09fe50d7cd95b493b834c62d5a5370");
}

static void test_json_round_trips_with_hashes(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t prev[LEDGER_HASH_SIZE], hash[LEDGER_HASH_SIZE], p2[LEDGER_HASH_SIZE], h2[LEDGER_HASH_SIZE];
        struct json_object *o;
        memset(prev, 0xaa, sizeof prev);
        memset(hash, 0xbb, sizeof hash);
        strcpy(r.product_name, "バッファロー \\x07");
        assert_int_equal(ledger_record_to_json(&r, prev, hash, &o), 0);
        struct json_object *parsed = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        assert_int_equal(ledger_record_from_json(parsed, &back, p2, h2), 0);
        assert_memory_equal(&r, &back, sizeof r);
        assert_memory_equal(prev, p2, sizeof prev);
        assert_memory_equal(hash, h2, sizeof hash);
        json_object_put(parsed);
        json_object_put(o);
}

static void test_json_refuses_unsanitised_or_missing(void **state) {
        struct ledger_record r = sample(), back;
        struct json_object *o;
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        json_object_object_add(o, "serial", json_object_new_string("a\x01"));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_object_del(o, "serial");
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_put(o);
}

static void test_record_time_uses_its_own_offset(void **state) {
        struct ledger_record r = sample();
        char buf[ISO8601_MAX_LEDGER];
        assert_int_equal(ledger_record_format_time(&r, buf, sizeof buf), 0);
        assert_string_equal(buf, "2026-11-16T00:00:00+09:00");
        r.utc_offset = -(3 * 3600 + 30 * 60);
        assert_int_equal(ledger_record_format_time(&r, buf, sizeof buf), 0);
        assert_string_equal(buf, "2026-11-15T11:30:00-03:30");
}

/* Found by fuzz-ledger-record: a decoded record's time plus its offset overflowed int64_t, and a
 * failure left BUF unwritten for callers that print it regardless. */
static void test_record_time_out_of_range_is_einval_and_empty(void **state) {
        struct ledger_record r = sample();
        char buf[ISO8601_MAX_LEDGER];
        memset(buf, 'x', sizeof buf);
        r.time = INT64_MAX - 10;
        assert_int_equal(ledger_record_format_time(&r, buf, sizeof buf), -EINVAL);
        assert_string_equal(buf, "");
        r.time = INT64_MIN + 10;
        r.utc_offset = -3600;
        assert_int_equal(ledger_record_format_time(&r, buf, sizeof buf), -EINVAL);
        assert_string_equal(buf, "");
}

/* No record with an offset beyond a day was ever appended (normalise refuses it): decoding one
 * is refused like the JSON reader refuses it. */
static void test_decode_refuses_offset_out_of_range(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t enc[LEDGER_ENCODING_MAX];
        r.utc_offset = INT64_MIN;
        size_t n = ledger_record_encode(&r, enc);
        assert_int_equal(ledger_record_decode(enc, n, &back), -EBADMSG);
        r.utc_offset = 24 * 3600;
        n = ledger_record_encode(&r, enc);
        assert_int_equal(ledger_record_decode(enc, n, &back), 0);
}

/* ---- the count and the two versions ------------------------------------------------------- */

/* The canonical bytes, prev_hash and hash of record SEQ in the version 1 ledger.db that the
 * code before the count wrote. */
static size_t v1_row(int64_t seq, uint8_t *enc, uint8_t prev[static LEDGER_HASH_SIZE],
                     uint8_t hash[static LEDGER_HASH_SIZE]) {
        sqlite3 *db;
        sqlite3_stmt *s;
        /* immutable: read the fixture in place without a -shm or -wal beside it. */
        assert_int_equal(sqlite3_open_v2("file:" V1_DB "?immutable=1", &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT encoding, prev_hash, hash FROM records WHERE seq = ?", -1, &s, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(s, 1, seq);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        size_t n = (size_t) sqlite3_column_bytes(s, 0);
        assert_true(n <= LEDGER_ENCODING_MAX);
        memcpy(enc, sqlite3_column_blob(s, 0), n);
        memcpy(prev, sqlite3_column_blob(s, 1), LEDGER_HASH_SIZE);
        memcpy(hash, sqlite3_column_blob(s, 2), LEDGER_HASH_SIZE);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return n;
}

static void test_init_sets_count_one_and_current_version(void **state) {
        struct ledger_record r;
        ledger_record_init(&r, LEDGER_SUBJECT_NETWORK, LEDGER_EVENT_VIOLATION);
        assert_int_equal(r.count, 1);
        assert_int_equal(r.version, LEDGER_ENCODING_VERSION);
        assert_int_equal(LEDGER_ENCODING_VERSION, 5);
}

/* Below 1 is clamped, not refused: ledger_append() would otherwise drop a record that happened. */
static void test_normalise_clamps_count_below_one(void **state) {
        struct ledger_record r = sample();
        r.count = 0;
        r.version = 0;
        assert_int_equal(ledger_record_normalise(&r), 0);
        assert_int_equal(r.count, 1);
        assert_int_equal(r.version, LEDGER_ENCODING_VERSION);
        r.count = INT64_MIN;
        assert_int_equal(ledger_record_normalise(&r), 0);
        assert_int_equal(r.count, 1);
        r.count = INT64_MAX;
        assert_int_equal(ledger_record_normalise(&r), 0);
        assert_int_equal(r.count, INT64_MAX);
}

static void test_normalise_refuses_count_in_version_1_and_unknown_version(void **state) {
        struct ledger_record r = sample();
        r.version = 1;
        assert_int_equal(ledger_record_normalise(&r), 0);
        r.count = 2;
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        r = sample();
        r.version = 6;
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        /* A scan field, text or number, in a record before version 5. */
        r = sample();
        r.version = 4;
        assert_int_equal(ledger_record_normalise(&r), 0);
        strcpy(r.signature, "Eicar");
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        r = sample();
        r.version = 4;
        r.files = 1;
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        /* A media field in a record whose version has none. */
        r = sample();
        r.version = 2;
        assert_int_equal(ledger_record_normalise(&r), 0);
        strcpy(r.device_name, "mmcblk0");
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        r.version = 3;
        assert_int_equal(ledger_record_normalise(&r), 0);
        /* A wireless field likewise, in a record before version 4. */
        strcpy(r.bssid, "02:00:00:00:01:00");
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
        r.version = 4;
        assert_int_equal(ledger_record_normalise(&r), 0);
}

/* Version 3 is version 2 with the five media fields appended, each a text field (length, bytes). */
static void test_encoding_v3_is_v2_plus_media_fields(void **state) {
        struct ledger_record r = sample();
        uint8_t v2[LEDGER_ENCODING_MAX], v3[LEDGER_ENCODING_MAX];
        static const uint8_t tail[] = { 0, 0, 0, 3, 'm', 'm', 'c', 0, 0, 0, 7, 'm', 'm', 'c', 'b', 'l', 'k', '0',
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

        r.version = 2;
        size_t n2 = ledger_record_encode(&r, v2);
        r.version = 3;
        strcpy(r.bus, "mmc");
        strcpy(r.device_name, "mmcblk0");
        size_t n3 = ledger_record_encode(&r, v3);
        assert_int_equal(v2[0], 2);
        assert_int_equal(v3[0], 3);
        assert_int_equal(n3, n2 + sizeof tail);
        assert_memory_equal(v2 + 1, v3 + 1, n2 - 1);
        assert_memory_equal(v3 + n2, tail, sizeof tail);
}

static void test_set_media_fills_fields_that_mean_one_thing(void **state) {
        struct ledger_record r;
        struct media_identity id = { .bus = MEDIA_BUS_NVME, .name = "nvme0n1", .path = "pci-0000:01:00.0-nvme-1",
                                     .model = "QEMU NVMe Ctrl", .serial = "NVSER\\x1b-1" };
        ledger_record_init(&r, LEDGER_SUBJECT_MEDIA, LEDGER_EVENT_CONNECTED);
        ledger_record_set_media(&r, &id);
        assert_string_equal(r.bus, "nvme");
        assert_string_equal(r.device_name, "nvme0n1");
        assert_string_equal(r.device_path, "pci-0000:01:00.0-nvme-1");
        assert_string_equal(r.product_name, "QEMU NVMe Ctrl");
        assert_string_equal(r.serial, "NVSER\\x1b-1");
        assert_string_equal(r.manufacturer, "");
        assert_string_equal(r.vendor, "");
        assert_string_equal(r.bus_path, "");
        assert_string_equal(ledger_subject_to_string(r.subject), "media");
        assert_int_equal(ledger_record_normalise(&r), 0);
}

/* Version 2 is version 1 with the count appended: the same fields in the same order, then
 * length 8 and the count big-endian. */
static void test_encoding_v2_is_v1_plus_count(void **state) {
        struct ledger_record r = sample();
        uint8_t v1[LEDGER_ENCODING_MAX], v2[LEDGER_ENCODING_MAX];
        static const uint8_t tail[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x0b, 0xb7 };   /* 2999 */

        r.version = 1;
        size_t n1 = ledger_record_encode(&r, v1);
        r.version = 2;
        r.count = 2999;
        size_t n2 = ledger_record_encode(&r, v2);
        assert_int_equal(v1[0], 1);
        assert_int_equal(v2[0], 2);
        assert_int_equal(n2, n1 + sizeof tail);
        assert_memory_equal(v1 + 1, v2 + 1, n1 - 1);
        assert_memory_equal(v2 + n1, tail, sizeof tail);
}

static void test_decode_refuses_count_below_one(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t buf[LEDGER_ENCODING_MAX];
        for (int64_t c = 1; c >= -1; c--) {
                r.count = c;
                size_t n = ledger_record_encode(&r, buf);
                assert_int_equal(ledger_record_decode(buf, n, &back), c >= 1 ? 0 : -EBADMSG);
        }
}

/* A record the old code stored decodes as version 1, count 1, and re-encodes to exactly the
 * stored bytes, whose chain hash is the stored hash: old ledgers keep verifying. */
static void test_v1_record_from_the_old_code_reencodes_to_its_bytes(void **state) {
        uint8_t enc[LEDGER_ENCODING_MAX], again[LEDGER_ENCODING_MAX], prev[LEDGER_HASH_SIZE], hash[LEDGER_HASH_SIZE],
                h[LEDGER_HASH_SIZE];
        struct ledger_record r;

        for (int64_t seq = 1; seq <= 16; seq++) {
                size_t n = v1_row(seq, enc, prev, hash);
                assert_int_equal(enc[0], 1);
                assert_int_equal(ledger_record_decode(enc, n, &r), 0);
                assert_int_equal(r.version, 1);
                assert_int_equal(r.count, 1);
                assert_int_equal(r.seq, seq);
                assert_int_equal(ledger_record_encode(&r, again), n);
                assert_memory_equal(again, enc, n);
                assert_int_equal(ledger_chain_hash(prev, again, n, h), 0);
                assert_memory_equal(h, hash, sizeof h);
        }
}

/* The JSON of a version 1 record is byte for byte what the old code exported; it reads back as
 * version 1 and rebuilds the stored encoding. */
static void test_v1_json_is_what_the_old_code_exported(void **state) {
        _cleanup_free_ char *text = NULL;
        uint8_t enc[LEDGER_ENCODING_MAX], again[LEDGER_ENCODING_MAX], prev[LEDGER_HASH_SIZE], hash[LEDGER_HASH_SIZE],
                p2[LEDGER_HASH_SIZE], h2[LEDGER_HASH_SIZE];
        size_t size, lines = 0;

        assert_int_equal(read_file_bounded(V1_JSONL, 1 << 20, &text, &size), 0);
        for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
                *nl = 0;
                struct json_object *o = json_tokener_parse(line), *out;
                struct ledger_record r;
                assert_non_null(o);
                assert_false(json_object_object_get_ex(o, "version", NULL));
                assert_false(json_object_object_get_ex(o, "count", NULL));
                assert_int_equal(ledger_record_from_json(o, &r, p2, h2), 0);
                assert_int_equal(r.version, 1);
                assert_int_equal(r.count, 1);
                size_t n = v1_row(r.seq, enc, prev, hash);
                assert_int_equal(ledger_record_encode(&r, again), n);
                assert_memory_equal(again, enc, n);
                assert_memory_equal(h2, hash, sizeof hash);
                assert_int_equal(ledger_record_to_json(&r, p2, h2, &out), 0);
                assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                                    line);
                /* The export's direct writer and verify-export's direct reader: the same line, the
                 * same record (a version 1 line starts without "version"). */
                static char direct[LEDGER_JSONL_MAX];
                struct ledger_record back;
                uint8_t p3[LEDGER_HASH_SIZE], h3[LEDGER_HASH_SIZE];
                size_t dlen = ledger_record_to_jsonl(&r, p2, h2, direct);
                assert_int_equal(dlen, strlen(line));
                assert_memory_equal(direct, line, dlen);
                assert_int_equal(ledger_record_from_jsonl(line, strlen(line), &back, p3, h3), 0);
                assert_memory_equal(&back, &r, sizeof r);
                assert_memory_equal(p3, p2, sizeof p2);
                assert_memory_equal(h3, h2, sizeof h2);
                json_object_put(out);
                json_object_put(o);
        }
        assert_int_equal(lines, 14);
}

static void test_v4_json_has_version_count_media_and_wireless_fields(void **state) {
        struct ledger_record r = sample(), back;
        struct json_object *o, *v;
        r.count = 2999;
        strcpy(r.device_path, "pci-0000:00:04.0");
        strcpy(r.ssid, "hot\\x1bspot");
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        assert_true(json_object_object_get_ex(o, "version", &v));
        assert_int_equal(json_object_get_int(v), 5);
        assert_true(json_object_object_get_ex(o, "count", &v));
        assert_int_equal(json_object_get_int64(v), 2999);
        assert_true(json_object_object_get_ex(o, "device_path", &v));
        assert_string_equal(json_object_get_string(v), "pci-0000:00:04.0");
        assert_true(json_object_object_get_ex(o, "ssid", &v));
        assert_string_equal(json_object_get_string(v), "hot\\x1bspot");
        /* "version" first, as the version byte comes first in the encoding. */
        const char *head = "{\"version\":5,\"seq\":7,";
        assert_memory_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), head, strlen(head));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        assert_memory_equal(&back, &r, sizeof r);
        json_object_put(o);

        /* A version 3 record keeps its shape: a count and the media keys, no wireless keys ... */
        r.ssid[0] = 0;
        r.version = 3;
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        assert_true(json_object_object_get_ex(o, "count", NULL));
        assert_true(json_object_object_get_ex(o, "device_path", NULL));
        assert_false(json_object_object_get_ex(o, "ssid", NULL));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        assert_int_equal(back.version, 3);
        /* ... and a wireless key in it is refused (shown but not hashed). */
        json_object_object_add(o, "ssid", json_object_new_string(""));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_put(o);

        /* A version 2 record keeps its shape: a count, no media keys. */
        r.device_path[0] = 0;
        r.version = 2;
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        assert_true(json_object_object_get_ex(o, "count", NULL));
        assert_false(json_object_object_get_ex(o, "bus", NULL));
        assert_false(json_object_object_get_ex(o, "device_path", NULL));
        assert_false(json_object_object_get_ex(o, "ssid", NULL));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        assert_int_equal(back.version, 2);
        /* ... and a media key in it is refused (shown but not hashed). */
        json_object_object_add(o, "bus", json_object_new_string(""));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_put(o);
}

/* Version 4 is version 3 with the four wireless fields appended, each a text field. */
static void test_encoding_v4_is_v3_plus_wireless_fields(void **state) {
        struct ledger_record r = sample();
        uint8_t v3[LEDGER_ENCODING_MAX], v4[LEDGER_ENCODING_MAX];
        static const uint8_t tail[] = { 0, 0, 0, 7, 's', 't', 'a', 't', 'i', 'o', 'n', 0, 0, 0, 2, 'a', 'b',
                                        0, 0, 0, 0, 0, 0, 0, 4, 'o', 'p', 'e', 'n' };

        r.version = 3;
        size_t n3 = ledger_record_encode(&r, v3);
        r.version = 4;
        strcpy(r.wireless_mode, "station");
        strcpy(r.ssid, "ab");
        strcpy(r.security, "open");
        size_t n4 = ledger_record_encode(&r, v4);
        assert_int_equal(v3[0], 3);
        assert_int_equal(v4[0], 4);
        assert_int_equal(n4, n3 + sizeof tail);
        assert_memory_equal(v3 + 1, v4 + 1, n3 - 1);
        assert_memory_equal(v4 + n3, tail, sizeof tail);
}

/* The SSID is attacker-chosen bytes: escaped, never raw, and the bytes can be read back. */
static void test_set_wireless_escapes_the_ssid(void **state) {
        struct ledger_record r;
        struct wireless_network n = { .ssid = "\x1b[2J\xff\\\0x", .ssid_len = 8, .has_bssid = true,
                                      .bssid = { 2, 0, 0, 0, 1, 0 }, .security = WIRELESS_SECURITY_OPEN };
        struct net_identity id = { .ifindex = 4, .name = "wlan2", .wireless = WIRELESS_STATION };

        ledger_record_init(&r, LEDGER_SUBJECT_NETWORK, LEDGER_EVENT_WIRELESS_JOINED);
        ledger_record_set_net(&r, &id);
        ledger_record_set_wireless(&r, &n);
        assert_string_equal(r.ssid, "\\x1b[2J\\xff\\x5c\\x00x");
        assert_string_equal(r.bssid, "02:00:00:00:01:00");
        assert_string_equal(r.security, "open");
        assert_string_equal(r.wireless_mode, "station");
        assert_string_equal(ledger_event_to_string(r.event), "wireless-joined");
        assert_int_equal(ledger_record_normalise(&r), 0);
        assert_string_equal(r.ssid, "\\x1b[2J\\xff\\x5c\\x00x");
        /* 32 bytes that all need escaping fit the field. */
        memset(n.ssid, 0xff, sizeof n.ssid);
        n.ssid_len = 32;
        ledger_record_set_wireless(&r, &n);
        assert_int_equal(strlen(r.ssid), 128);
        /* In a version 3 record it is refused: that version cannot say it. */
        r.version = 3;
        assert_int_equal(ledger_record_normalise(&r), -EINVAL);
}

/* Version 5: the scan and file fields round-trip through the encoding and JSON; a version 4 record
 * has none of their keys, and one of them in it is refused. */
static void test_v5_scan_fields(void **state) {
        struct ledger_record r = sample(), back;
        uint8_t buf[LEDGER_ENCODING_MAX];
        struct json_object *o, *v;

        r.event = LEDGER_EVENT_FILE_WRITTEN;
        r.bytes = 1048576;
        r.pid = 4242;
        strcpy(r.file_path, "sdb1/報告書.xlsx");
        strcpy(r.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        strcpy(r.process, "cp");
        assert_int_equal(ledger_record_normalise(&r), 0);
        size_t n = ledger_record_encode(&r, buf);
        assert_int_equal(ledger_record_decode(buf, n, &back), 0);
        assert_memory_equal(&back, &r, sizeof r);
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        assert_true(json_object_object_get_ex(o, "sha256", &v));
        assert_string_equal(json_object_get_string(v), r.sha256);
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        assert_memory_equal(&back, &r, sizeof r);
        json_object_put(o);

        r = sample();
        r.version = 4;
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        assert_false(json_object_object_get_ex(o, "files", NULL));
        assert_false(json_object_object_get_ex(o, "sha256", NULL));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        json_object_object_add(o, "files", json_object_new_int64(0));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_put(o);
        /* The version byte 6 is refused. */
        r = sample();
        n = ledger_record_encode(&r, buf);
        buf[0] = 6;
        assert_int_equal(ledger_record_decode(buf, n, &back), -EBADMSG);
}

/* Each version's keys and no other: a count in a version 1 record would be shown but not hashed. */
static void test_json_refuses_count_that_does_not_fit_the_version(void **state) {
        struct ledger_record r = sample(), back;
        struct json_object *o;

        r.version = 2;
        assert_int_equal(ledger_record_to_json(&r, NULL, NULL, &o), 0);
        json_object_object_del(o, "count");
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);  /* version 2 needs it */
        json_object_object_add(o, "count", json_object_new_int64(0));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_object_add(o, "count", json_object_new_int64(-3));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_object_add(o, "count", json_object_new_string("5"));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);
        json_object_object_add(o, "count", json_object_new_int64(5));
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        assert_int_equal(back.count, 5);

        json_object_object_del(o, "version");
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), -EBADMSG);  /* version 1 with a count */
        json_object_object_del(o, "count");
        assert_int_equal(ledger_record_from_json(o, &back, NULL, NULL), 0);
        assert_int_equal(back.version, 1);
        assert_int_equal(back.count, 1);

        const char *bad[] = { "1", "5", "0", "\"2\"", "2.0", "null" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object_object_add(o, "version", json_tokener_parse(bad[i]));
                json_object_object_add(o, "count", json_object_new_int64(1));
                if (ledger_record_from_json(o, &back, NULL, NULL) != -EBADMSG)
                        fail_msg("\"version\": %s was accepted", bad[i]);
        }
        json_object_put(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text_set_escapes_controls_and_invalid_utf8),
                cmocka_unit_test(test_text_set_is_idempotent_on_sanitised_text),
                cmocka_unit_test(test_text_set_cuts_at_character_boundary),
                cmocka_unit_test(test_text_set_escapes_bidi_override),
                cmocka_unit_test(test_text_set_unchanged_on_random_text),
                cmocka_unit_test(test_normalise_sanitises_every_text_field),
                cmocka_unit_test(test_normalise_refuses_bad_enum_and_nsec),
                cmocka_unit_test(test_encoding_known_prefix),
                cmocka_unit_test(test_encoding_round_trips),
                cmocka_unit_test(test_encoding_separates_fields),
                cmocka_unit_test(test_decode_refuses_malformed),
                cmocka_unit_test(test_decode_refuses_unsanitised_text),
                cmocka_unit_test(test_chain_hash_is_sha256_of_prev_and_encoding),
                cmocka_unit_test(test_json_round_trips_with_hashes),
                cmocka_unit_test(test_json_refuses_unsanitised_or_missing),
                cmocka_unit_test(test_record_time_uses_its_own_offset),
                cmocka_unit_test(test_record_time_out_of_range_is_einval_and_empty),
                cmocka_unit_test(test_decode_refuses_offset_out_of_range),
                cmocka_unit_test(test_init_sets_count_one_and_current_version),
                cmocka_unit_test(test_normalise_clamps_count_below_one),
                cmocka_unit_test(test_normalise_refuses_count_in_version_1_and_unknown_version),
                cmocka_unit_test(test_encoding_v2_is_v1_plus_count),
                cmocka_unit_test(test_decode_refuses_count_below_one),
                cmocka_unit_test(test_v1_record_from_the_old_code_reencodes_to_its_bytes),
                cmocka_unit_test(test_v1_json_is_what_the_old_code_exported),
                cmocka_unit_test(test_v4_json_has_version_count_media_and_wireless_fields),
                cmocka_unit_test(test_v5_scan_fields),
                cmocka_unit_test(test_encoding_v3_is_v2_plus_media_fields),
                cmocka_unit_test(test_set_media_fills_fields_that_mean_one_thing),
                cmocka_unit_test(test_encoding_v4_is_v3_plus_wireless_fields),
                cmocka_unit_test(test_set_wireless_escapes_the_ssid),
                cmocka_unit_test(test_json_refuses_count_that_does_not_fit_the_version),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
