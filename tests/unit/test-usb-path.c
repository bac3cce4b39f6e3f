/* SPDX-License-Identifier: MIT */
/* usb-path.c: udev's ID_PATH of a USB device, from a fake sysfs (directories and `subsystem`
 * links), as path_id composes it. The real kernel's value is compared with udev's own in
 * tests/vm/test-kyokad-usb.py. */
#include "test-util.h"
#include "usb-path.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* DIR/REL as a device of SUBSYSTEM (NULL: no `subsystem` link). */
static void dev(const char *root, const char *rel, const char *subsystem) {
        _cleanup_free_ char *cmd = NULL, *link = NULL, *target = NULL;
        assert_true(asprintf(&cmd, "mkdir -p '%s/%s'", root, rel) > 0);
        assert_int_equal(system(cmd), 0);
        if (!subsystem)
                return;
        assert_true(asprintf(&link, "%s/%s/subsystem", root, rel) > 0);
        assert_true(asprintf(&target, "../../../../bus/%s", subsystem) > 0);
        (void) unlink(link);
        assert_int_equal(symlink(target, link), 0);
}

static char *id_path(const char *root, const char *rel, int *ret_r) {
        _cleanup_free_ char *p = path_join(root, rel);
        static char buf[128];
        *ret_r = usb_device_id_path(p, buf, sizeof buf);
        return buf;
}

static void test_pci_controller_behind_a_bridge(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        int r;

        dev(d, "sys/devices/pci0000:00", NULL);
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0", "pci");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0", "pci");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb1", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb1/1-2", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb1/1-2/1-2.1", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb2", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb2/2-2", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb2/2-2/2-2.1", "usb");

        /* The nearest PCI device only, the bus number left out: USB 2 and 3 in one connector agree. */
        assert_string_equal(id_path(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb1/1-2/1-2.1", &r),
                            "pci-0000:02:00.0-usb-0:2.1");
        assert_int_equal(r, 0);
        assert_string_equal(id_path(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb2/2-2/2-2.1", &r),
                            "pci-0000:02:00.0-usb-0:2.1");
        assert_string_equal(id_path(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb1/1-2", &r),
                            "pci-0000:02:00.0-usb-0:2");
        /* A hub's port is another port. */
        assert_string_equal(id_path(d, "sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/usb2/2-2", &r),
                            "pci-0000:02:00.0-usb-0:2");
        test_rmdir_r(d);
}

static void test_platform_controller(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        int r;

        dev(d, "sys/devices/platform", NULL);
        dev(d, "sys/devices/platform/soc", "platform");
        dev(d, "sys/devices/platform/soc/xhci-hcd.0.auto", "platform");
        dev(d, "sys/devices/platform/soc/xhci-hcd.0.auto/usb3", "usb");
        dev(d, "sys/devices/platform/soc/xhci-hcd.0.auto/usb3/3-1", "usb");
        assert_string_equal(id_path(d, "sys/devices/platform/soc/xhci-hcd.0.auto/usb3/3-1", &r),
                            "platform-xhci-hcd.0.auto-usb-0:1");
        assert_int_equal(r, 0);
        test_rmdir_r(d);
}

/* Refusals: no controller path_id knows (udev gives no ID_PATH either), not a USB device,
 * too small a buffer, a name path_id would never copy. */
static void test_refusals(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        char small[8];
        int r;

        dev(d, "sys/devices/virtual/vhci/usb9", "usb");
        dev(d, "sys/devices/virtual/vhci/usb9/9-1", "usb");
        id_path(d, "sys/devices/virtual/vhci/usb9/9-1", &r);
        assert_int_equal(r, -ENOENT);

        dev(d, "sys/devices/pci0000:00/0000:00:14.0", "pci");
        dev(d, "sys/devices/pci0000:00/0000:00:14.0/usb1", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3", "usb");
        id_path(d, "sys/devices/pci0000:00/0000:00:14.0/usb1", &r);
        assert_int_equal(r, -EINVAL);
        id_path(d, "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0", &r);
        assert_int_equal(r, -EINVAL);
        _cleanup_free_ char *p = path_join(d, "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3");
        assert_int_equal(usb_device_id_path(p, small, sizeof small), -ENAMETOOLONG);
        assert_int_equal(usb_device_id_path(NULL, small, sizeof small), -ENAMETOOLONG);

        dev(d, "sys/devices/pci0000:00/0000:00 14.0", "pci");
        dev(d, "sys/devices/pci0000:00/0000:00 14.0/usb4", "usb");
        dev(d, "sys/devices/pci0000:00/0000:00 14.0/usb4/4-1", "usb");
        id_path(d, "sys/devices/pci0000:00/0000:00 14.0/usb4/4-1", &r);
        assert_int_equal(r, -EINVAL);
        test_rmdir_r(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pci_controller_behind_a_bridge),
                cmocka_unit_test(test_platform_controller),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
