/* SPDX-License-Identifier: MIT */
/* Anti-rollback state: the verdicts for newer, older, same and reused serials, the file's
 * exact format, its atomic replacement, and the refusal of every kind of damaged state. */
#include <dirent.h>
#include <sys/stat.h>

#include "test-util.h"

#include "policy-rollback.h"

static const uint8_t hash_a[32] = { 0xaa, 1, 2, 3 };
static const uint8_t hash_b[32] = { 0xbb, 1, 2, 3 };

static int setup(void **state) {
        *state = test_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        test_rmdir_r(*state);
        free(*state);
        return 0;
}

static void write_state(const char *dir, const char *text, size_t size) {
        free(test_write(dir, KYOKA_POLICY_STATE_FILE, text, size));
}

static void test_no_state_accepts_any_serial(void **state) {
        const char *dir = *state;
        struct rollback_state st;

        assert_int_equal(rollback_state_read(dir, &st), -ENOENT);
        assert_int_equal(rollback_check(dir, 1, hash_a), 0);
}

static void test_missing_state_dir_accepts_and_commit_creates_it(void **state) {
        _cleanup_free_ char *dir = path_join(*state, "lib-kyoka");
        struct stat st;

        assert_int_equal(rollback_check(dir, 5, hash_a), 0);
        assert_int_equal(rollback_commit(dir, 5, hash_a), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(rollback_check(dir, 5, hash_a), 1);
}

static void test_greater_serial_is_accepted(void **state) {
        const char *dir = *state;

        assert_int_equal(rollback_commit(dir, 41, hash_a), 0);
        assert_int_equal(rollback_check(dir, 42, hash_b), 0);
}

static void test_lower_serial_is_stale(void **state) {
        const char *dir = *state;

        assert_int_equal(rollback_commit(dir, 42, hash_a), 0);
        assert_int_equal(rollback_check(dir, 41, hash_b), -ESTALE);
        /* Even the very bytes that were once accepted: an old policy stays old. */
        assert_int_equal(rollback_check(dir, 41, hash_a), -ESTALE);
}

static void test_same_serial_same_bytes_is_the_same_policy(void **state) {
        const char *dir = *state;

        assert_int_equal(rollback_commit(dir, 42, hash_a), 0);
        assert_int_equal(rollback_check(dir, 42, hash_a), 1);
}

static void test_same_serial_other_bytes_is_refused(void **state) {
        const char *dir = *state;

        assert_int_equal(rollback_commit(dir, 42, hash_a), 0);
        assert_int_equal(rollback_check(dir, 42, hash_b), -EEXIST);
}

static void test_commit_writes_the_documented_format_mode_0644(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *path = path_join(dir, KYOKA_POLICY_STATE_FILE), *text = NULL;
        struct stat st;
        size_t n;

        mode_t old = umask(077);
        int r = rollback_commit(dir, 42, hash_a);
        umask(old);
        assert_int_equal(r, 0);
        assert_int_equal(read_file_bounded(path, 4096, &text, &n), 0);
        assert_string_equal(text, "kyoka-policy-state 1\nserial 42\n"
                                  "sha256 aa01020300000000000000000000000000000000000000000000000000000000\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
}

static void test_commit_round_trips_the_largest_serial(void **state) {
        const char *dir = *state;
        struct rollback_state st;

        assert_int_equal(rollback_commit(dir, UINT64_MAX, hash_b), 0);
        assert_int_equal(rollback_state_read(dir, &st), 0);
        assert_true(st.serial == UINT64_MAX);
        assert_memory_equal(st.sha256, hash_b, 32);
}

static void test_commit_replaces_the_previous_state(void **state) {
        const char *dir = *state;
        struct rollback_state st;

        assert_int_equal(rollback_commit(dir, 1, hash_a), 0);
        assert_int_equal(rollback_commit(dir, 2, hash_b), 0);
        assert_int_equal(rollback_state_read(dir, &st), 0);
        assert_int_equal(st.serial, 2);
        assert_memory_equal(st.sha256, hash_b, 32);
}

static void test_commit_leaves_no_temporary_files(void **state) {
        const char *dir = *state;
        size_t n = 0;

        for (uint64_t s = 1; s <= 5; s++)
                assert_int_equal(rollback_commit(dir, s, hash_a), 0);

        DIR *d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                assert_string_equal(de->d_name, KYOKA_POLICY_STATE_FILE);
                n++;
        }
        closedir(d);
        assert_int_equal(n, 1);
}

static void test_corrupt_state_is_ebadmsg(void **state) {
        const char *dir = *state;
        static const char good_hash[] = "aa01020300000000000000000000000000000000000000000000000000000000";
        static const struct {
                const char *what;
                const char *text;
        } cases[] = {
                { "empty", "" },
                { "header only", "kyoka-policy-state 1\n" },
                { "other version", "kyoka-policy-state 2\nserial 1\nsha256 %s\n" },
                { "no final newline", "kyoka-policy-state 1\nserial 1\nsha256 %s" },
                { "trailing line", "kyoka-policy-state 1\nserial 1\nsha256 %s\nextra\n" },
                { "trailing blank line", "kyoka-policy-state 1\nserial 1\nsha256 %s\n\n" },
                { "CRLF", "kyoka-policy-state 1\r\nserial 1\r\nsha256 %s\r\n" },
                { "lines swapped", "kyoka-policy-state 1\nsha256 %s\nserial 1\n" },
                { "negative serial", "kyoka-policy-state 1\nserial -1\nsha256 %s\n" },
                { "plus sign", "kyoka-policy-state 1\nserial +1\nsha256 %s\n" },
                { "leading zero", "kyoka-policy-state 1\nserial 042\nsha256 %s\n" },
                { "empty serial", "kyoka-policy-state 1\nserial \nsha256 %s\n" },
                { "space after serial", "kyoka-policy-state 1\nserial 1 \nsha256 %s\n" },
                { "overflow", "kyoka-policy-state 1\nserial 18446744073709551616\nsha256 %s\n" },
                { "hex serial", "kyoka-policy-state 1\nserial 0x10\nsha256 %s\n" },
                { "short hash", "kyoka-policy-state 1\nserial 1\nsha256 aa\n" },
                { "long hash", "kyoka-policy-state 1\nserial 1\nsha256 %s00\n" },
                { "upper-case hash", "kyoka-policy-state 1\nserial 1\nsha256 AA01020300000000000000000000000000000000000000000000000000000000\n" },
                { "non-hex hash", "kyoka-policy-state 1\nserial 1\nsha256 zz01020300000000000000000000000000000000000000000000000000000000\n" },
        };

        /* The template itself is well-formed, so each case fails for its own reason. */
        _cleanup_free_ char *good = NULL;
        struct rollback_state ok;
        assert_true(asprintf(&good, "kyoka-policy-state 1\nserial 1\nsha256 %s\n", good_hash) >= 0);
        write_state(dir, good, strlen(good));
        assert_int_equal(rollback_state_read(dir, &ok), 0);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = NULL;
                struct rollback_state st;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                assert_true(asprintf(&text, cases[i].text, good_hash) >= 0);
#pragma GCC diagnostic pop
                write_state(dir, text, strlen(text));
                if (rollback_state_read(dir, &st) != -EBADMSG)
                        fail_msg("state \"%s\" was not refused", cases[i].what);
        }
}

static void test_state_with_an_embedded_nul_is_ebadmsg(void **state) {
        const char *dir = *state;
        static const char text[] = "kyoka-policy-state 1\nserial 1\0\nsha256 "
                                   "aa01020300000000000000000000000000000000000000000000000000000000\n";
        struct rollback_state st;

        write_state(dir, text, sizeof(text) - 1);
        assert_int_equal(rollback_state_read(dir, &st), -EBADMSG);
}

static void test_oversized_state_is_ebadmsg(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *big = malloc(8192);
        struct rollback_state st;

        assert_non_null(big);
        memset(big, '1', 8192);
        write_state(dir, big, 8192);
        assert_int_equal(rollback_state_read(dir, &st), -EBADMSG);
}

/* The buffer-level parser is the file reader's: what format writes parses back, a prefix does not. */
static void test_parse_reads_what_format_writes(void **state) {
        char text[ROLLBACK_STATE_TEXT_MAX];
        struct rollback_state st;
        int n = rollback_state_format(UINT64_MAX, hash_b, text, sizeof text);

        assert_true(n > 0);
        assert_int_equal(rollback_state_parse(text, (size_t) n, &st), 0);
        assert_true(st.serial == UINT64_MAX);
        assert_memory_equal(st.sha256, hash_b, 32);
        assert_int_equal(rollback_state_parse(text, (size_t) n - 1, &st), -EBADMSG);
        assert_int_equal(rollback_state_format(1, hash_b, text, 16), -ENOBUFS);
}

/* Damage must not read as "nothing accepted yet", which would re-open every old policy. */
static void test_corrupt_state_refuses_rather_than_accepts(void **state) {
        const char *dir = *state;

        write_state(dir, "garbage\n", 8);
        assert_int_equal(rollback_check(dir, 1000, hash_a), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_no_state_accepts_any_serial),
                T(test_missing_state_dir_accepts_and_commit_creates_it),
                T(test_greater_serial_is_accepted),
                T(test_lower_serial_is_stale),
                T(test_same_serial_same_bytes_is_the_same_policy),
                T(test_same_serial_other_bytes_is_refused),
                T(test_commit_writes_the_documented_format_mode_0644),
                T(test_commit_round_trips_the_largest_serial),
                T(test_commit_replaces_the_previous_state),
                T(test_commit_leaves_no_temporary_files),
                T(test_corrupt_state_is_ebadmsg),
                T(test_state_with_an_embedded_nul_is_ebadmsg),
                T(test_oversized_state_is_ebadmsg),
                T(test_corrupt_state_refuses_rather_than_accepts),
                T(test_parse_reads_what_format_writes),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
