/* SPDX-License-Identifier: MIT */
/* decimal_put_int64() prints what "%" PRId64 prints, at the edges too. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "decimal.h"
#include "macro.h"

static void test_as_printf(void **state) {
        static const int64_t values[] = { 0, 1, -1, 9, 10, -10, 99, 100, 1234567890, -1234567890,
                                          INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1 };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char got[DECIMAL_INT64_MAX + 1], want[32];
                *decimal_put_int64(got, values[i]) = 0;
                snprintf(want, sizeof want, "%" PRId64, values[i]);
                assert_string_equal(got, want);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_as_printf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
