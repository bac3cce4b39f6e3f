/* SPDX-License-Identifier: MIT */
/* The raw descriptor parser: what an unauthorised device tells kyoka about its interfaces.
 * The bytes are the device's: malformed input must be refused, never over-read. */
#include "test-util.h"
#include "usb-descriptors.h"

/* A USB stick as QEMU's usb-storage presents it: 46f4:0001, one interface 08:06:50. */
static const uint8_t stick[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xf4, 0x46, 0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1,
        9, 2, 32, 0, 1, 1, 0, 0xc0, 50,
        9, 4, 0, 0, 2, 0x08, 0x06, 0x50, 0,
        7, 5, 0x81, 2, 0x00, 0x02, 0,
        7, 5, 0x02, 2, 0x00, 0x02, 0,
};

/* A "stick" that is also a keyboard: interface 0 mass storage, interface 1 HID boot keyboard
 * with its HID class descriptor (type 0x21) in between. */
static const uint8_t stick_and_keyboard[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0x00, 0x01, 1, 2, 3, 1,
        9, 2, 57, 0, 2, 1, 0, 0x80, 50,
        9, 4, 0, 0, 2, 0x08, 0x06, 0x50, 0,
        7, 5, 0x81, 2, 0x00, 0x02, 0,
        7, 5, 0x02, 2, 0x00, 0x02, 0,
        9, 4, 1, 0, 1, 0x03, 0x01, 0x01, 0,
        9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0,
        7, 5, 0x83, 3, 8, 0, 10,
};

static void test_stick_has_one_mass_storage_interface(void **state) {
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(stick, sizeof stick, &d), 0);
        assert_int_equal(d.vendor, 0x46f4);
        assert_int_equal(d.product, 0x0001);
        assert_int_equal(d.n_interfaces, 1);
        assert_int_equal(d.interfaces[0].c.cls, 0x08);
        assert_int_equal(d.interfaces[0].c.subclass, 0x06);
        assert_int_equal(d.interfaces[0].c.protocol, 0x50);
        assert_int_equal(d.interfaces[0].config_value, 1);
}

static void test_composite_device_lists_every_interface(void **state) {
        struct usb_descriptors d;
        struct usb_identity id = {};
        assert_int_equal(usb_descriptors_parse(stick_and_keyboard, sizeof stick_and_keyboard, &d), 0);
        assert_int_equal(d.n_interfaces, 2);
        assert_int_equal(d.interfaces[1].number, 1);
        assert_int_equal(d.interfaces[1].c.cls, 0x03);
        usb_descriptors_to_identity(&d, &id);
        assert_int_equal(id.vendor, 0x0781);
        assert_int_equal(id.n_interfaces, 2);
        assert_int_equal(id.interfaces[1].protocol, 0x01);
}

static void test_device_descriptor_only_has_no_interfaces(void **state) {
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(stick, 18, &d), 0);
        assert_int_equal(d.n_interfaces, 0);
}

static void test_every_truncation_is_refused(void **state) {
        /* Cutting anywhere inside the configuration must be refused, not half-read. */
        for (size_t n = 0; n < sizeof stick_and_keyboard; n++) {
                struct usb_descriptors d;
                int r = usb_descriptors_parse(stick_and_keyboard, n, &d);
                if (n == 18)
                        assert_int_equal(r, 0);
                else
                        assert_int_equal(r, -EBADMSG);
        }
}

static void test_zero_length_descriptor_is_refused(void **state) {
        uint8_t bad[sizeof stick];
        memcpy(bad, stick, sizeof stick);
        bad[18 + 9 + 9] = 0; /* first endpoint's bLength */
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(bad, sizeof bad, &d), -EBADMSG);
}

static void test_total_length_beyond_data_is_refused(void **state) {
        uint8_t bad[sizeof stick];
        memcpy(bad, stick, sizeof stick);
        bad[18 + 2] = 33;
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(bad, sizeof bad, &d), -EBADMSG);
}

static void test_descriptor_overrunning_configuration_is_refused(void **state) {
        uint8_t bad[sizeof stick];
        memcpy(bad, stick, sizeof stick);
        bad[sizeof stick - 7] = 8; /* last endpoint claims one byte more than the config holds */
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(bad, sizeof bad, &d), -EBADMSG);
}

static void test_wrong_device_descriptor_is_refused(void **state) {
        uint8_t bad[sizeof stick];
        memcpy(bad, stick, sizeof stick);
        bad[1] = 2;
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(bad, sizeof bad, &d), -EBADMSG);
}

static void test_more_interfaces_than_tracked_is_refused(void **state) {
        /* Fail closed: kyoka never decides on a partial list of interfaces. */
        size_t n_if = USB_INTERFACES_MAX + 1, total = 9 + 9 * n_if;
        _cleanup_free_ uint8_t *buf = malloc(18 + total);
        memcpy(buf, stick, 18);
        uint8_t *p = buf + 18;
        memcpy(p, (uint8_t[]) { 9, 2, total & 0xff, total >> 8, (uint8_t) n_if, 1, 0, 0x80, 50 }, 9);
        for (size_t i = 0; i < n_if; i++)
                memcpy(p + 9 + 9 * i, (uint8_t[]) { 9, 4, (uint8_t) i, 0, 0, 0x08, 0x06, 0x50, 0 }, 9);
        struct usb_descriptors d;
        assert_int_equal(usb_descriptors_parse(buf, 18 + total, &d), -E2BIG);
}

static void test_parse_failure_leaves_output_untouched(void **state) {
        struct usb_descriptors d = { .vendor = 0x1234 };
        assert_int_equal(usb_descriptors_parse(stick, 17, &d), -EBADMSG);
        assert_int_equal(d.vendor, 0x1234);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stick_has_one_mass_storage_interface),
                cmocka_unit_test(test_composite_device_lists_every_interface),
                cmocka_unit_test(test_device_descriptor_only_has_no_interfaces),
                cmocka_unit_test(test_every_truncation_is_refused),
                cmocka_unit_test(test_zero_length_descriptor_is_refused),
                cmocka_unit_test(test_total_length_beyond_data_is_refused),
                cmocka_unit_test(test_descriptor_overrunning_configuration_is_refused),
                cmocka_unit_test(test_wrong_device_descriptor_is_refused),
                cmocka_unit_test(test_more_interfaces_than_tracked_is_refused),
                cmocka_unit_test(test_parse_failure_leaves_output_untouched),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
