/* SPDX-License-Identifier: MIT */
/* The carry-out record's parsing (daemon/carry.c): /proc/self/mountinfo lines (a mount point
 * comes from whoever mounted the medium, a volume label from the medium itself) and the path a
 * file gets in the record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "carry.h"

static void test_mountinfo_line(void **state) {
        char line[] = "36 35 8:17 / /media/user/KYOKA\\040STICK rw,nosuid,nodev,relatime shared:1 - ext4 /dev/sdb1 rw";
        struct carry_mount m;
        assert_int_equal(carry_mountinfo_parse_line(line, &m), 0);
        assert_int_equal(m.major, 8);
        assert_int_equal(m.minor, 17);
        assert_string_equal(m.root, "/");
        /* Octal escapes decoded: the path kyokad opens. */
        assert_string_equal(m.mount_point, "/media/user/KYOKA STICK");

        char bind[] = "40 36 8:17 /sub\\134dir /mnt/b rw - ext4 /dev/sdb1 rw";
        assert_int_equal(carry_mountinfo_parse_line(bind, &m), 0);
        assert_string_equal(m.root, "/sub\\dir");
        assert_string_equal(m.mount_point, "/mnt/b");
}

static void test_mountinfo_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "36 35 8:17 /",
                "36 35 8-17 / /mnt rw",
                "36 35 8:17x / /mnt rw",
                "36 35 8:17 relative /mnt rw",
                "36 35 8:17 / mnt rw",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                char line[128];
                struct carry_mount m;
                strcpy(line, bad[i]);
                assert_int_equal(carry_mountinfo_parse_line(line, &m), -EBADMSG);
        }
}

static void test_medium_path(void **state) {
        char buf[64];
        assert_int_equal(carry_medium_path("sdb1", "/", "/media/u/STICK", "/media/u/STICK/報告書/a.xlsx", buf, sizeof buf), 0);
        assert_string_equal(buf, "sdb1/報告書/a.xlsx");
        /* A bind mount of a subdirectory: the path in the file system, not in the namespace. */
        assert_int_equal(carry_medium_path("sdb1", "/sub", "/mnt/b", "/mnt/b/x", buf, sizeof buf), 0);
        assert_string_equal(buf, "sdb1/sub/x");
        assert_int_equal(carry_medium_path("sdb1", "/", "/", "/x/y", buf, sizeof buf), 0);
        assert_string_equal(buf, "sdb1/x/y");
        /* A prefix that is not a directory boundary is another mount. */
        assert_int_equal(carry_medium_path("sdb1", "/", "/mnt/s", "/mnt/sx/file", buf, sizeof buf), -ENOENT);
        assert_int_equal(carry_medium_path("sdb1", "/", "/mnt/s", "/other", buf, sizeof buf), -ENOENT);
        char small[8];
        assert_int_equal(carry_medium_path("sdb1", "/", "/m", "/m/long-name", small, sizeof small), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mountinfo_line),
                cmocka_unit_test(test_mountinfo_malformed),
                cmocka_unit_test(test_medium_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
