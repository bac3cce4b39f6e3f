/* SPDX-License-Identifier: MIT */
/* sysfs writes of usb-enforce.c on a scratch directory standing in for sysfs. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "test-util.h"
#include "usb-enforce.h"

static char *read_back(const char *dir, const char *name) {
        _cleanup_free_ char *path = path_join(dir, name);
        char *text = NULL;
        assert_int_equal(read_file_bounded(path, 64, &text, NULL), 0);
        return text;
}

static void test_core_lockdown_closes_later_controllers_and_says_what_it_was(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *p = NULL, *after = NULL;
        char was[16];

        free(test_write(dir, "authorized_default", "-1\n", 3));
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(usb_core_lockdown(fd, was, sizeof was), 0);
        assert_string_equal(was, "-1");                  /* the kernel's default: booted open */
        after = read_back(dir, "authorized_default");
        assert_int_equal(after[0], '0');                /* a scratch file is not truncated as sysfs is */
        free(test_write(dir, "authorized_default", "0\n", 2));   /* as the kernel shows it now */
        assert_int_equal(usb_core_lockdown(fd, was, sizeof was), 0);
        assert_string_equal(was, "0");
        test_rmdir_r(dir);
}

static void test_core_lockdown_reports_a_failed_write(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *sub = NULL;
        char was[16];

        /* A directory where the parameter should be: the write fails, nothing is pretended. */
        sub = path_join(dir, "authorized_default");
        assert_int_equal(mkdir(sub, 0755), 0);
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(usb_core_lockdown(fd, was, sizeof was) < 0);
        assert_string_equal(was, "");
        test_rmdir_r(dir);
}

static void test_controller_lockdown_tries_both_defaults(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *sub = NULL, *iface = NULL;

        /* authorized_default cannot be written (a directory), interface_authorized_default is
         * still closed, and the failure is returned. */
        sub = path_join(dir, "authorized_default");
        assert_int_equal(mkdir(sub, 0755), 0);
        free(test_write(dir, "interface_authorized_default", "1", 1));
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(usb_controller_lockdown(fd) < 0);
        iface = read_back(dir, "interface_authorized_default");
        assert_string_equal(iface, "0");
        test_rmdir_r(dir);
}

static void test_interfaces_all(void **state) {
        struct usb_descriptors d = { .n_interfaces = 3 };

        assert_true(usb_interfaces_all(&d, 0x7));
        assert_true(usb_interfaces_all(&d, 0xffffffff));
        assert_false(usb_interfaces_all(&d, 0x3));
        assert_false(usb_interfaces_all(&d, 0x6));
        d.n_interfaces = 0;
        assert_true(usb_interfaces_all(&d, 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_core_lockdown_closes_later_controllers_and_says_what_it_was),
                cmocka_unit_test(test_core_lockdown_reports_a_failed_write),
                cmocka_unit_test(test_controller_lockdown_tries_both_defaults),
                cmocka_unit_test(test_interfaces_all),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
