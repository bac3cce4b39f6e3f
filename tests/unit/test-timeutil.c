/* SPDX-License-Identifier: MIT */
/* Dates as permits are written: local midnight for a bare date, explicit offsets honoured,
 * impossible dates refused. */
#include "test-util.h"
#include "timeutil.h"

#include <time.h>

static int setup_tokyo(void **state) {
        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        return 0;
}

static void test_date_only_is_local_midnight(void **state) {
        int64_t t;
        bool date_only;
        assert_int_equal(time_parse_iso8601("2026-11-22", &t, &date_only), 0);
        assert_true(date_only);
        assert_int_equal(t, 1795273200); /* 2026-11-21T15:00:00Z */
}

static void test_offset_is_honoured(void **state) {
        int64_t a, b, c;
        assert_int_equal(time_parse_iso8601("2026-11-22T00:00:00+09:00", &a, NULL), 0);
        assert_int_equal(time_parse_iso8601("2026-11-21T15:00:00Z", &b, NULL), 0);
        assert_int_equal(time_parse_iso8601("2026-11-22T00:00", &c, NULL), 0);
        assert_int_equal(a, b);
        assert_int_equal(a, c);
}

static void test_malformed_and_impossible_dates_are_refused(void **state) {
        static const char *bad[] = {
                "", "2026", "2026-1-01", "2026-13-01", "2026-02-30", "2026-02-29", "2026-11-22T24:00",
                "2026-11-22T10:00:00+15:00", "2026-11-22x", "2026/11/22", "１２３４-11-22", "1969-12-31",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int64_t t = 42;
                assert_int_equal(time_parse_iso8601(bad[i], &t, NULL), -EINVAL);
                assert_int_equal(t, 42); /* ret_ untouched on failure */
        }
}

static void test_leap_day_is_accepted(void **state) {
        int64_t t;
        assert_int_equal(time_parse_iso8601("2028-02-29", &t, NULL), 0);
}

static void test_format_round_trips_with_offset(void **state) {
        char buf[ISO8601_MAX];
        int64_t t;
        assert_int_equal(time_format_iso8601(1795273200, buf, sizeof buf), 0);
        assert_string_equal(buf, "2026-11-22T00:00:00+09:00");
        assert_int_equal(time_parse_iso8601(buf, &t, NULL), 0);
        assert_int_equal(t, 1795273200);
        assert_int_equal(time_format_date(1795273200, buf, sizeof buf), 0);
        assert_string_equal(buf, "2026-11-22");
}

static void test_next_local_midnight(void **state) {
        /* 2026-11-22T13:00+09:00 -> 2026-11-23T00:00+09:00 */
        assert_int_equal(time_next_local_midnight(1795273200 + 13 * 3600), 1795273200 + 86400);
        assert_int_equal(time_next_local_midnight(1795273200), 1795273200 + 86400);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_date_only_is_local_midnight, setup_tokyo),
                cmocka_unit_test_setup(test_offset_is_honoured, setup_tokyo),
                cmocka_unit_test_setup(test_malformed_and_impossible_dates_are_refused, setup_tokyo),
                cmocka_unit_test_setup(test_leap_day_is_accepted, setup_tokyo),
                cmocka_unit_test_setup(test_format_round_trips_with_offset, setup_tokyo),
                cmocka_unit_test_setup(test_next_local_midnight, setup_tokyo),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
