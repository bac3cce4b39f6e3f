/* SPDX-License-Identifier: MIT */
/* Bounded reads and atomic replacement: what the policy, keys and state files rely on. */
#include "test-util.h"

#include <dirent.h>
#include <sys/stat.h>

static void test_read_respects_bound(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *path = test_write(dir, "f", "0123456789", 10);
        _cleanup_free_ char *buf = NULL;
        size_t n;

        assert_int_equal(read_file_bounded(path, 9, &buf, &n), -EFBIG);
        assert_null(buf);
        assert_int_equal(read_file_bounded(path, 10, &buf, &n), 0);
        assert_int_equal(n, 10);
        assert_string_equal(buf, "0123456789");
        test_rmdir_r(dir);
}

static void test_read_empty_file_is_nul_terminated(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *path = test_write(dir, "f", "", 0);
        _cleanup_free_ char *buf = NULL;
        size_t n = 99;

        assert_int_equal(read_file_bounded(path, 10, &buf, &n), 0);
        assert_int_equal(n, 0);
        assert_string_equal(buf, "");
        test_rmdir_r(dir);
}

static void test_read_missing_file_is_enoent(void **state) {
        char *buf = NULL;
        assert_int_equal(read_file_bounded("/nonexistent/kyoka", 10, &buf, NULL), -ENOENT);
        assert_null(buf);
}

static void test_atomic_write_replaces_and_leaves_no_temp_file(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *path = test_write(dir, "state", "old", 3);
        _cleanup_free_ char *buf = NULL;
        struct stat st;

        assert_int_equal(write_file_atomic(path, "new contents", 12, 0640), 0);
        assert_int_equal(read_file_bounded(path, 100, &buf, NULL), 0);
        assert_string_equal(buf, "new contents");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);

        DIR *d = opendir(dir);
        assert_non_null(d);
        int entries = 0;
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        entries++;
        closedir(d);
        assert_int_equal(entries, 1);
        test_rmdir_r(dir);
}

static void test_exclusive_write_never_overwrites(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *path = test_write(dir, "key", "secret", 6);
        _cleanup_free_ char *buf = NULL;

        assert_int_equal(write_file_exclusive(path, "other", 5, 0600), -EEXIST);
        assert_int_equal(read_file_bounded(path, 100, &buf, NULL), 0);
        assert_string_equal(buf, "secret");
        test_rmdir_r(dir);
}

static void test_path_join(void **state) {
        _cleanup_free_ char *a = path_join("/etc/kyoka", "keys.d"), *b = path_join("/etc/kyoka/", "keys.d");
        assert_string_equal(a, "/etc/kyoka/keys.d");
        assert_string_equal(b, "/etc/kyoka/keys.d");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_respects_bound),
                cmocka_unit_test(test_read_empty_file_is_nul_terminated),
                cmocka_unit_test(test_read_missing_file_is_enoent),
                cmocka_unit_test(test_atomic_write_replaces_and_leaves_no_temp_file),
                cmocka_unit_test(test_exclusive_write_never_overwrites),
                cmocka_unit_test(test_path_join),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
