/* SPDX-License-Identifier: MIT */
/* Files in directories someone else may write (basic/fs-safe.h): who may be trusted, and that
 * no symlink planted by a directory's owner is ever followed when opening or creating under a
 * directory fd. Tests needing another owner use fchown and run as root (as in CI); they skip
 * otherwise. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#include "fs-safe.h"

#define OTHER_UID 12345

static char *fmt(const char *f, ...) _printf_(1, 2);
static char *fmt(const char *f, ...) {
        va_list ap;
        char *s;
        va_start(ap, f);
        assert_true(vasprintf(&s, f, ap) >= 0);
        va_end(ap);
        return s;
}

static int open_dir(const char *path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static char *slurp(const char *path) {
        char *s = NULL;
        assert_int_equal(read_file_bounded(path, 4096, &s, NULL), 0);
        return s;
}

static void test_trusted_owner_and_mode(void **state) {
        char why[128];
        struct stat st = { .st_uid = 0, .st_mode = S_IFREG | 0644 };

        assert_int_equal(stat_check_trusted(&st, 1000, TRUST_STICKY_DIR, why, sizeof why), 0);
        st.st_uid = 1000;
        assert_int_equal(stat_check_trusted(&st, 1000, TRUST_STICKY_DIR, why, sizeof why), 0);
        assert_int_equal(stat_check_trusted(&st, 0, TRUST_STICKY_DIR, why, sizeof why), -EPERM);
        assert_string_equal(why, "owned by uid 1000 (neither root nor uid 0)");

        st = (struct stat) { .st_uid = 0, .st_mode = S_IFREG | 0664 };
        assert_int_equal(stat_check_trusted(&st, 0, TRUST_STICKY_DIR, why, sizeof why), -EPERM);
        assert_string_equal(why, "writable by group or others (mode 0664)");
        st.st_mode = S_IFREG | 0646;
        assert_int_equal(stat_check_trusted(&st, 0, TRUST_STICKY_DIR, NULL, 0), -EPERM);
}

static void test_trusted_sticky_only_for_roots_directories(void **state) {
        char why[128];
        struct stat st = { .st_uid = 0, .st_mode = S_IFDIR | 01777 };

        assert_int_equal(stat_check_trusted(&st, 1000, TRUST_STICKY_DIR, why, sizeof why), 0);     /* /tmp */
        st.st_mode = S_IFDIR | 0777;
        assert_int_equal(stat_check_trusted(&st, 0, TRUST_STICKY_DIR, why, sizeof why), -EPERM);
        assert_non_null(strstr(why, "mode 0777"));
        /* A user's sticky directory: that user can still swap our entries. */
        st = (struct stat) { .st_uid = 1000, .st_mode = S_IFDIR | 01777 };
        assert_int_equal(stat_check_trusted(&st, 1000, TRUST_STICKY_DIR, why, sizeof why), -EPERM);
        /* Without TRUST_STICKY_DIR (trusting what the directory holds) it is refused. */
        st = (struct stat) { .st_uid = 0, .st_mode = S_IFDIR | 01777 };
        assert_int_equal(stat_check_trusted(&st, 0, 0, why, sizeof why), -EPERM);
        assert_string_equal(why, "writable by group or others (mode 1777)");
        /* The sticky bit means nothing on a file. */
        st = (struct stat) { .st_uid = 0, .st_mode = S_IFREG | 01666 };
        assert_int_equal(stat_check_trusted(&st, 0, TRUST_STICKY_DIR, why, sizeof why), -EPERM);
}

static void test_fd_trusted_with_another_owner(void **state) {
        if (geteuid() != 0)
                skip();
        _cleanup_free_ char *dir = test_mkdtemp();
        _cleanup_close_ int fd = open_dir(dir);
        char why[128];

        assert_int_equal(fchmod(fd, 0755), 0);
        assert_int_equal(fd_check_trusted(fd, 0, 0, why, sizeof why), 0);
        assert_int_equal(fchown(fd, OTHER_UID, OTHER_UID), 0);
        assert_int_equal(fd_check_trusted(fd, 0, 0, why, sizeof why), -EPERM);
        assert_string_equal(why, "owned by uid 12345 (neither root nor uid 0)");
        /* The same directory is trusted by its owner. */
        assert_int_equal(fd_check_trusted(fd, OTHER_UID, 0, why, sizeof why), 0);
        test_rmdir_r(dir);
}

static void test_dir_open_at_refuses_a_symlink(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *target = path_join(dir, "target"), *link = path_join(dir, "link");
        _cleanup_close_ int fd = open_dir(dir);

        assert_int_equal(mkdir(target, 0755), 0);
        assert_int_equal(symlink(target, link), 0);
        int r = dir_open_at(fd, "link");
        assert_true(r == -ELOOP || r == -ENOTDIR);
        r = dir_open_at(fd, "target");
        assert_true(r >= 0);
        close(r);
        /* One component at a time: "a/b" would let the kernel follow symlinks in between. */
        assert_int_equal(dir_open_at(fd, "link/."), -EINVAL);
        assert_int_equal(dir_make_at(fd, "x/y", 0755), -EINVAL);
        test_rmdir_r(dir);
}

static void test_dir_make_at_makes_and_refuses_a_symlink(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *target = path_join(dir, "target"), *link = path_join(dir, "link");
        _cleanup_free_ char *made = path_join(dir, "made");
        _cleanup_close_ int fd = open_dir(dir);
        struct stat st;

        int sub = dir_make_at(fd, "made", 0755);
        assert_true(sub >= 0);
        close(sub);
        assert_int_equal(stat(made, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        sub = dir_make_at(fd, "made", 0755);      /* existing: opened */
        assert_true(sub >= 0);
        close(sub);

        assert_int_equal(mkdir(target, 0755), 0);
        assert_int_equal(symlink(target, link), 0);
        int r = dir_make_at(fd, "link", 0755);
        assert_true(r == -ELOOP || r == -ENOTDIR);
        test_rmdir_r(dir);
}

static void test_dir_make_path_makes_every_missing_level(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *deep = fmt("%s/a/b/c/", dir), *c = fmt("%s/a/b/c", dir);
        struct stat st;

        int fd = dir_make_path(deep, 0755);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(stat(c, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        fd = dir_make_path(c, 0755);              /* existing: opened */
        assert_true(fd >= 0);
        close(fd);
        test_rmdir_r(dir);
}

static void test_dir_make_path_refuses_a_dangling_symlink(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *link = path_join(dir, "out"), *target = path_join(dir, "elsewhere");
        struct stat st;

        /* open() says ENOENT for a dangling symlink: making "out" must not make its target. */
        assert_int_equal(symlink(target, link), 0);
        int r = dir_make_path(link, 0755);
        assert_true(r == -ELOOP || r == -ENOTDIR);
        assert_int_equal(lstat(target, &st), -1);
        test_rmdir_r(dir);
}

static void test_file_open_regular_at_refuses_other_kinds(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *file = test_write(dir, "file", "data", 4);
        _cleanup_free_ char *link = path_join(dir, "link"), *fifo = path_join(dir, "fifo"), *sub = path_join(dir, "sub");
        _cleanup_close_ int fd = open_dir(dir);

        assert_int_equal(symlink(file, link), 0);
        assert_int_equal(mkfifo(fifo, 0644), 0);
        assert_int_equal(mkdir(sub, 0755), 0);

        int f = file_open_regular_at(fd, "file");
        assert_true(f >= 0);
        close(f);
        assert_int_equal(file_open_regular_at(fd, "link"), -ELOOP);
        assert_int_equal(file_open_regular_at(fd, "fifo"), -EBADFD);      /* and did not block */
        assert_int_equal(file_open_regular_at(fd, "sub"), -EISDIR);
        assert_int_equal(file_open_regular_at(fd, "missing"), -ENOENT);
        test_rmdir_r(dir);
}

static void test_file_create_at_never_writes_through_a_symlink(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *victim = test_write(dir, "victim", "root's", 6);
        _cleanup_free_ char *link = path_join(dir, "link"), *dangling = path_join(dir, "dangling");
        _cleanup_free_ char *absent = path_join(dir, "absent"), *content = NULL;
        _cleanup_close_ int fd = open_dir(dir);
        struct stat st;

        assert_int_equal(symlink(victim, link), 0);
        assert_int_equal(symlink(absent, dangling), 0);
        assert_int_equal(file_create_at(fd, "link", 0644), -EEXIST);
        assert_int_equal(file_create_at(fd, "dangling", 0644), -EEXIST);
        assert_int_equal(lstat(absent, &st), -1);
        content = slurp(victim);
        assert_string_equal(content, "root's");

        int f = file_create_at(fd, "new", 0600);
        assert_true(f >= 0);
        assert_int_equal(fstat(f, &st), 0);
        assert_int_equal(st.st_mode & 0077, 0);
        close(f);
        assert_int_equal(file_create_at(fd, "new", 0600), -EEXIST);
        test_rmdir_r(dir);
}

static void test_file_create_tmp_at_names_are_fresh_and_recognised(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *a = NULL, *b = NULL;
        _cleanup_close_ int fd = open_dir(dir);

        int fa = file_create_tmp_at(fd, "usage.csv", 0644, &a);
        int fb = file_create_tmp_at(fd, "usage.csv", 0644, &b);
        assert_true(fa >= 0 && fb >= 0);
        close(fa);
        close(fb);
        assert_string_not_equal(a, b);
        assert_int_equal(strncmp(a, ".usage.csv.tmp-", 15), 0);
        assert_int_equal(strlen(a), 15 + 8);
        assert_true(file_is_tmp_name(a, "usage.csv"));
        assert_true(file_is_tmp_name(".usage.csv.tmp", "usage.csv"));    /* the old fixed name */
        assert_false(file_is_tmp_name(a, "faults.csv"));
        assert_false(file_is_tmp_name("usage.csv", "usage.csv"));
        assert_false(file_is_tmp_name(".usage.csv", "usage.csv"));
        test_rmdir_r(dir);
}

static void test_atomic_write_at_replaces_a_symlink_without_following_it(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *victim = test_write(dir, "victim", "root's", 6);
        _cleanup_free_ char *link = path_join(dir, "state"), *content = NULL, *written = NULL;
        _cleanup_close_ int fd = open_dir(dir);
        struct stat st;

        assert_int_equal(symlink(victim, link), 0);
        assert_int_equal(write_file_atomic_at(fd, "state", "new", 3, 0644), 0);
        content = slurp(victim);
        assert_string_equal(content, "root's");
        assert_int_equal(lstat(link, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        written = slurp(link);
        assert_string_equal(written, "new");
        test_rmdir_r(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trusted_owner_and_mode),
                cmocka_unit_test(test_trusted_sticky_only_for_roots_directories),
                cmocka_unit_test(test_fd_trusted_with_another_owner),
                cmocka_unit_test(test_dir_open_at_refuses_a_symlink),
                cmocka_unit_test(test_dir_make_at_makes_and_refuses_a_symlink),
                cmocka_unit_test(test_dir_make_path_makes_every_missing_level),
                cmocka_unit_test(test_dir_make_path_refuses_a_dangling_symlink),
                cmocka_unit_test(test_file_open_regular_at_refuses_other_kinds),
                cmocka_unit_test(test_file_create_at_never_writes_through_a_symlink),
                cmocka_unit_test(test_file_create_tmp_at_names_are_fresh_and_recognised),
                cmocka_unit_test(test_atomic_write_at_replaces_a_symlink_without_following_it),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
