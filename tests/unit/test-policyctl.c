/* SPDX-License-Identifier: MIT */
/* policyctl's helpers return 0 or a negative errno, never an exit code, and only main()
 * (policyctl_exit_status) turns an error into one. The regression: open_ledger() returned
 * log_oom()'s EXIT_REFUSED (+1) when out of memory; its callers tested `< 0`, took it for
 * success and used the NULL ledger.
 *
 * Linked with policyctl's objects but policyctl.o (main, the global options: defined here) and
 * with -Wl,--wrap=path_join (Makefile), so that a test can make path_join() fail as it does
 * when malloc fails. */
#include <errno.h>
#include <unistd.h>

#include "test-util.h"

#include "kyoka-names.h"
#include "ledger.h"
#include "policyctl.h"

const char *arg_config_dir = "/nonexistent";
const char *arg_state_dir = "/nonexistent";
const char *arg_runtime_dir = "/nonexistent";

static bool path_join_fails;

char *__real_path_join(const char *dir, const char *name);
char *__wrap_path_join(const char *dir, const char *name);
char *__wrap_path_join(const char *dir, const char *name) {
        if (path_join_fails)
                return NULL;
        return __real_path_join(dir, name);
}

/* A state directory holding an empty ledger. */
static int setup(void **state) {
        char *dir = test_mkdtemp(), *db = path_join(dir, KYOKA_LEDGER_FILE);
        struct ledger *l = NULL;

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        ledger_close(l);
        free(db);
        arg_state_dir = dir;
        path_join_fails = false;
        *state = dir;
        return 0;
}

static int teardown(void **state) {
        path_join_fails = false;
        arg_state_dir = "/nonexistent";
        test_rmdir_r(*state);
        free(*state);
        return 0;
}

/* Runs `policyctl ledger ARGS...` as main() would, and returns the exit status. */
static int run_ledger(const char *action) {
        char *argv[] = { (char *) "ledger", (char *) action, NULL };

        optind = 0;
        return policyctl_exit_status(verb_ledger(2, argv));
}

static void test_open_ledger_opens_the_state_dirs_ledger(void **state) {
        struct ledger *l = NULL;

        assert_int_equal(open_ledger(LEDGER_OPEN_READ_ONLY, &l), 0);
        assert_non_null(l);
        ledger_close(l);
}

static void test_open_ledger_out_of_memory_returns_negative_errno(void **state) {
        struct ledger *l = NULL;

        path_join_fails = true;
        assert_int_equal(open_ledger(LEDGER_OPEN_READ_ONLY, &l), -ENOMEM);
        assert_null(l);
}

static void test_open_ledger_without_a_ledger_returns_negative_errno(void **state) {
        struct ledger *l = NULL;

        arg_state_dir = "/nonexistent";
        assert_int_equal(open_ledger(LEDGER_OPEN_READ_ONLY, &l), -ENOENT);
        assert_null(l);
}

static void test_ledger_verbs_succeed_on_an_empty_ledger(void **state) {
        assert_int_equal(run_ledger("verify"), EXIT_OK);
        assert_int_equal(run_ledger("show"), EXIT_OK);
}

/* Each used to go on with the NULL ledger (a crash). */
static void test_ledger_verbs_out_of_memory_exit_refused(void **state) {
        path_join_fails = true;
        assert_int_equal(run_ledger("verify"), EXIT_REFUSED);
        assert_int_equal(run_ledger("show"), EXIT_REFUSED);
        assert_int_equal(run_ledger("prune"), EXIT_REFUSED);
}

static void test_exit_status_maps_errors_to_refused(void **state) {
        assert_int_equal(policyctl_exit_status(0), EXIT_OK);
        assert_int_equal(policyctl_exit_status(-ENOMEM), EXIT_REFUSED);
        assert_int_equal(policyctl_exit_status(-EBADMSG), EXIT_REFUSED);
        assert_int_equal(policyctl_exit_status(EXIT_REFUSED), EXIT_REFUSED);
        assert_int_equal(policyctl_exit_status(EXIT_USAGE), EXIT_USAGE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_ledger_opens_the_state_dirs_ledger, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_ledger_out_of_memory_returns_negative_errno, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_ledger_without_a_ledger_returns_negative_errno, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ledger_verbs_succeed_on_an_empty_ledger, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ledger_verbs_out_of_memory_exit_refused, setup, teardown),
                cmocka_unit_test(test_exit_status_maps_errors_to_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
