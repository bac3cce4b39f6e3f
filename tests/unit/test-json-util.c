/* SPDX-License-Identifier: MIT */
/* basic/json-util.c: adding members, json-c's null, and who owns a value when adding fails. */
#include <dlfcn.h>
#include <stdbool.h>

#include "test-util.h"

#include "json-util.h"

/* json_object_object_add() fails only when json-c runs out of memory: this test's own definition
 * (which json-util.o, linked into this program, calls) fails on request and otherwise calls
 * json-c's. */
static int adds_to_fail;

int json_object_object_add(struct json_object *o, const char *key, struct json_object *v) {
        static int (*real)(struct json_object *, const char *, struct json_object *);

        if (adds_to_fail > 0) {
                adds_to_fail--;
                return -1;
        }
        if (!real)
                *(void **) &real = dlsym(RTLD_NEXT, "json_object_object_add");
        assert_non_null(real);
        return real(o, key, v);
}

static const char *text(struct json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void test_add(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        assert_int_equal(json_add(o, "n", json_object_new_int(7)), 0);
        assert_int_equal(json_add(o, "b", json_object_new_boolean(true)), 0);
        assert_string_equal(text(o), "{\"n\":7,\"b\":true}");
}

/* NULL is what a failed json_object_new_*() returns: an error, not a null member. */
static void test_add_null_value_is_enomem(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        assert_int_equal(json_add(o, "x", NULL), -ENOMEM);
        assert_string_equal(text(o), "{}");
}

static void test_nulls_by_name(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        assert_int_equal(json_add_null(o, "a"), 0);
        assert_int_equal(json_add_nullable(o, "b", NULL), 0);
        assert_int_equal(json_add_nullable(o, "c", json_object_new_int(1)), 0);
        assert_int_equal(json_add_string(o, "d", NULL), 0);
        assert_int_equal(json_add_string(o, "e", "京都"), 0);
        assert_string_equal(text(o), "{\"a\":null,\"b\":null,\"c\":1,\"d\":null,\"e\":\"京都\"}");
}

/* A fixed-size field may fill its buffer without a NUL: nothing past SIZE is read. */
static void test_string_bounded(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const char full[4] = { 'a', 'b', 'c', 'd' };

        assert_int_equal(json_add_string_bounded(o, "full", full, sizeof full), 0);
        assert_int_equal(json_add_string_bounded(o, "short", "xy\0zz", 5), 0);
        assert_int_equal(json_add_string_bounded(o, "empty", "", 8), 0);
        assert_string_equal(text(o), "{\"full\":\"abcd\",\"short\":\"xy\",\"empty\":\"\"}");
}

/* When the add fails the helper puts the value: it neither leaks nor leaves it to the caller.
 * An extra reference taken here shows it: after the failed add ours is the last one. */
static void test_failed_add_puts_the_value(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct json_object *v = json_object_new_string("x");

        json_object_get(v);
        adds_to_fail = 1;
        assert_int_equal(json_add(o, "x", v), -ENOMEM);
        assert_int_equal(json_object_put(v), 1);        /* 1: that freed it */

        v = json_object_new_int(3);
        json_object_get(v);
        adds_to_fail = 1;
        assert_int_equal(json_add_nullable(o, "y", v), -ENOMEM);
        assert_int_equal(json_object_put(v), 1);

        adds_to_fail = 1;
        assert_int_equal(json_add_string(o, "s", "text"), -ENOMEM);
        adds_to_fail = 1;
        assert_int_equal(json_add_null(o, "n"), -ENOMEM);
        adds_to_fail = 1;
        assert_int_equal(json_add_string_bounded(o, "b", "abc", 3), -ENOMEM);
        assert_int_equal(adds_to_fail, 0);
        assert_string_equal(text(o), "{}");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add),
                cmocka_unit_test(test_add_null_value_is_enomem),
                cmocka_unit_test(test_nulls_by_name),
                cmocka_unit_test(test_string_bounded),
                cmocka_unit_test(test_failed_add_puts_the_value),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
