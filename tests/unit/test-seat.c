/* SPDX-License-Identifier: MIT */
/* seat.c: seat_of_syspath() reads ID_SEAT from udev's database as libudev would, for a device
 * and its parents, from a fake sysfs (directories, `subsystem` links, `dev` files) and a fake
 * database directory. */
#include "test-util.h"
#include "seat.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void dev(const char *root, const char *rel, const char *subsystem, const char *devnum) {
        _cleanup_free_ char *cmd = NULL, *link = NULL, *target = NULL, *p = NULL;
        assert_true(asprintf(&cmd, "mkdir -p '%s/%s'", root, rel) > 0);
        assert_int_equal(system(cmd), 0);
        if (subsystem) {
                assert_true(asprintf(&link, "%s/%s/subsystem", root, rel) > 0);
                assert_true(asprintf(&target, "../../../../bus/%s", subsystem) > 0);
                assert_int_equal(symlink(target, link), 0);
        }
        if (devnum) {
                assert_true(asprintf(&p, "%s/%s/dev", root, rel) > 0);
                FILE *f = fopen(p, "w");
                assert_non_null(f);
                fprintf(f, "%s\n", devnum);
                fclose(f);
        }
}

static void db(const char *root, const char *id, const char *text) {
        _cleanup_free_ char *p = NULL, *d = NULL;
        assert_true(asprintf(&d, "%s/db", root) > 0);
        (void) mkdir(d, 0755);
        assert_true(asprintf(&p, "%s/%s", d, id) > 0);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static const char *seat(const char *root, const char *rel) {
        static char buf[USB_SEAT_MAX];
        _cleanup_free_ char *p = path_join(root, rel), *d = path_join(root, "db");
        memset(buf, 'x', sizeof buf - 1);
        buf[sizeof buf - 1] = 0;
        assert_int_equal(seat_of_syspath(p, d, buf), 0);
        return buf;
}

#define HC "sys/devices/pci0000:00/0000:00:14.0"

static void tree(const char *d) {
        dev(d, "sys/devices/pci0000:00", NULL, NULL);
        dev(d, HC, "pci", NULL);
        dev(d, HC "/usb1", "usb", "189:0");
        dev(d, HC "/usb1/1-2", "usb", "189:5");
        dev(d, HC "/usb1/1-2/1-2.3", "usb", "189:9");
}

static void test_nearest_entry_wins(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        tree(d);
        /* No entry names a seat: seat0. */
        db(d, "c189:9", "I:1\nE:ID_VENDOR=QEMU\n");
        assert_string_equal(seat(d, HC "/usb1/1-2/1-2.3"), "seat0");
        /* The controller's PCI function (no `dev`: +SUBSYSTEM:SYSNAME), as logind's rules tag it. */
        db(d, "+pci:0000:00:14.0", "E:ID_FOR_SEAT=pci-0000_00_14_0\nE:ID_SEAT=seat-pci\nG:seat\n");
        assert_string_equal(seat(d, HC "/usb1/1-2/1-2.3"), "seat-pci");
        /* A hub (a char device, c189:5) nearer to the device wins. */
        db(d, "c189:5", "E:ID_SEAT=seat-hub\n");
        assert_string_equal(seat(d, HC "/usb1/1-2/1-2.3"), "seat-hub");
        assert_string_equal(seat(d, HC "/usb1/1-2"), "seat-hub");
        assert_string_equal(seat(d, HC "/usb1"), "seat-pci");
        /* The device's own. */
        db(d, "c189:9", "E:ID_SEAT=seat7\n");
        assert_string_equal(seat(d, HC "/usb1/1-2/1-2.3"), "seat7");
        test_rmdir_r(d);
}

static void test_invalid_and_empty(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        tree(d);
        /* An invalid name names no seat (""): nobody's user is told; the parents are not asked. */
        db(d, "c189:5", "E:ID_SEAT=../../etc\n");
        db(d, "+pci:0000:00:14.0", "E:ID_SEAT=seat-pci\n");
        assert_string_equal(seat(d, HC "/usb1/1-2/1-2.3"), "");
        /* An empty value is no value: the next parent's counts. */
        db(d, "c189:5", "E:ID_SEAT=\n");
        assert_string_equal(seat(d, HC "/usb1/1-2/1-2.3"), "seat-pci");
        /* A device gone (no directory): seat0, as libudev's failed lookup gave. */
        assert_string_equal(seat(d, HC "/usb1/1-4"), "seat-pci");
        _cleanup_free_ char *none = path_join(d, "db");
        char buf[USB_SEAT_MAX];
        assert_int_equal(seat_of_syspath("/nonexistent/sys/devices/x/1-1", none, buf), 0);
        assert_string_equal(buf, "seat0");
        test_rmdir_r(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nearest_entry_wins),
                cmocka_unit_test(test_invalid_and_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
