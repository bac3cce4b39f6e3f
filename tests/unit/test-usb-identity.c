/* SPDX-License-Identifier: MIT */
/* A device's identity read from a sysfs-shaped directory: classes from raw descriptors even
 * without interface directories, strings bounded and sanitised. */
#include "test-util.h"
#include "usb-identity.h"

#include <fcntl.h>

static const uint8_t stick[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0x00, 0x01, 1, 2, 3, 1,
        9, 2, 32, 0, 1, 1, 0, 0xc0, 50,
        9, 4, 0, 0, 2, 0x08, 0x06, 0x50, 0,
        7, 5, 0x81, 2, 0x00, 0x02, 0,
        7, 5, 0x02, 2, 0x00, 0x02, 0,
};

static int read_identity(const char *dir, struct usb_identity *ret) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return usb_identity_read(fd, "1-2.1", ret, NULL);
}

static void write_attr(const char *dir, const char *name, const char *value) {
        free(test_write(dir, name, value, strlen(value)));
}

static void test_identity_of_unauthorised_stick(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct usb_identity id;

        free(test_write(dir, "descriptors", stick, sizeof stick));
        write_attr(dir, "serial", "4C530001230101115425\n");
        write_attr(dir, "manufacturer", "SanDisk\n");
        write_attr(dir, "product", "Ultra 日本語\n");

        assert_int_equal(read_identity(dir, &id), 0);
        assert_int_equal(id.vendor, 0x0781);
        assert_int_equal(id.product, 0x5581);
        assert_true(id.has_serial);
        assert_string_equal(id.serial, "4C530001230101115425");
        assert_string_equal(id.manufacturer, "SanDisk");
        assert_string_equal(id.product_name, "Ultra 日本語");
        assert_string_equal(id.bus_path, "1-2.1");
        assert_int_equal(id.n_interfaces, 1);
        assert_int_equal(id.interfaces[0].cls, 0x08);
        test_rmdir_r(dir);
}

static void test_missing_serial_is_not_an_error(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct usb_identity id;

        free(test_write(dir, "descriptors", stick, sizeof stick));
        assert_int_equal(read_identity(dir, &id), 0);
        assert_false(id.has_serial);
        assert_string_equal(id.serial, "");
        test_rmdir_r(dir);
}

static void test_hostile_strings_are_escaped_and_bounded(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct usb_identity id;
        char big[5000];

        memset(big, 'A', sizeof big - 1);
        big[sizeof big - 1] = 0;
        free(test_write(dir, "descriptors", stick, sizeof stick));
        write_attr(dir, "serial", "=cmd|' /C calc'!A0\x1b[2J\xff\n");
        write_attr(dir, "product", big);

        assert_int_equal(read_identity(dir, &id), 0);
        assert_null(strchr(id.serial, '\x1b'));
        assert_null(strchr(id.serial, '\xff'));
        assert_non_null(strstr(id.serial, "\\x1b"));
        assert_non_null(strstr(id.serial, "\\xff"));
        assert_true(strlen(id.product_name) < USB_STRING_MAX);
        test_rmdir_r(dir);
}

static void test_malformed_descriptors_are_refused(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct usb_identity id;

        free(test_write(dir, "descriptors", stick, sizeof stick - 3));
        assert_int_equal(read_identity(dir, &id), -EBADMSG);
        test_rmdir_r(dir);
}

static void test_missing_descriptors_is_an_error(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct usb_identity id;

        assert_int_equal(read_identity(dir, &id), -ENOENT);
        test_rmdir_r(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_identity_of_unauthorised_stick),
                cmocka_unit_test(test_missing_serial_is_not_an_error),
                cmocka_unit_test(test_hostile_strings_are_escaped_and_bounded),
                cmocka_unit_test(test_malformed_descriptors_are_refused),
                cmocka_unit_test(test_missing_descriptors_is_an_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
