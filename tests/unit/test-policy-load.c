/* SPDX-License-Identifier: MIT */
/* The load gate with real signed policy files: every outcome, its one-line message, the order
 * of the steps (signature before parsing), and the anti-rollback commit. */
#include <sys/stat.h>

#include <openssl/evp.h>

#include "test-util.h"

#include "policy-load.h"
#include "policy-rollback.h"
#include "timeutil.h"

struct fixture {
        char *dir;
        char *key_prefix;             /* DIR/admin.{key,pub} */
        char *policy;                 /* DIR/policy.conf */
        char *state;                  /* DIR/state */
        struct keyring *keys;         /* admin.pub alone */
        struct policy_load_options opts;
};

static char *fmt(const char *f, ...) _printf_(1, 2);
static char *fmt(const char *f, ...) {
        va_list ap;
        char *s;
        va_start(ap, f);
        assert_true(vasprintf(&s, f, ap) >= 0);
        va_end(ap);
        return s;
}

static int64_t at(const char *s) {
        int64_t t;
        bool date_only;
        assert_int_equal(time_parse_iso8601(s, &t, &date_only), 0);
        return t;
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->dir = test_mkdtemp();
        f->key_prefix = path_join(f->dir, "admin");
        f->policy = path_join(f->dir, "policy.conf");
        f->state = path_join(f->dir, "state");
        assert_int_equal(key_generate(f->key_prefix), 0);

        _cleanup_free_ char *pub = fmt("%s.pub", f->key_prefix);
        struct trusted_key *k = NULL;
        assert_int_equal(trusted_key_load(pub, &k), 0);
        assert_int_equal(keyring_new_single(k, &f->keys), 0);

        f->opts = (struct policy_load_options) {
                .policy_path = f->policy,
                .keys = f->keys,
                .state_dir = f->state,
                .hostname = "ws-01",
                .now = at("2026-11-15T12:00"),
        };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        keyring_free(f->keys);
        test_rmdir_r(f->dir);
        free(f->dir);
        free(f->key_prefix);
        free(f->policy);
        free(f->state);
        free(f);
        return 0;
}

static void sign_file(const char *key_prefix, const char *path) {
        _cleanup_free_ char *key = fmt("%s.key", key_prefix), *sig_path = fmt("%s.sig", path), *text = NULL;
        _cleanup_(signing_key_freep) struct signing_key *sk = NULL;
        uint8_t sig[SIGNATURE_SIZE];
        size_t n;

        assert_int_equal(signing_key_load(key, &sk), 0);
        assert_int_equal(read_file_bounded(path, POLICY_FILE_MAX, &text, &n), 0);
        assert_int_equal(signature_create(sk, text, n, sig), 0);
        assert_int_equal(write_file_atomic(sig_path, sig, sizeof(sig), 0644), 0);
}

/* Writes a small valid policy with SERIAL (plus EXTRA header lines) and signs it with admin.key. */
static void write_signed_policy(struct fixture *f, unsigned serial, const char *extra) {
        _cleanup_free_ char *text = fmt("# 契約 2026-017 の許可\n"
                                        "kyoka_policy = 1;\n"
                                        "serial = %u;\n"
                                        "issued = \"2026-11-01\";\n"
                                        "issuer = \"情報政策課 山田\";\n"
                                        "contract = \"2026-017\";\n"
                                        "%s",
                                        serial, extra ?: "");
        free(test_write(f->dir, "policy.conf", text, strlen(text)));
        sign_file(f->key_prefix, f->policy);
}

static void write_sig(struct fixture *f, const void *data, size_t size) {
        free(test_write(f->dir, "policy.conf.sig", data, size));
}

static void assert_contains(const char *haystack, const char *needle) {
        if (!strstr(haystack, needle))
                fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void test_load_accepts_a_signed_valid_policy(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *text = NULL;
        uint8_t expected[32];
        unsigned n_hash;
        size_t n;

        write_signed_policy(f, 7, NULL);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(res.error, LOAD_OK);
        assert_int_equal(res.errno_value, 0);
        assert_non_null(res.policy);
        assert_int_equal(res.policy->serial, 7);
        assert_false(res.unchanged);
        assert_string_equal(trusted_key_name(res.signer), "admin.pub");
        assert_contains(res.message, "serial 7 accepted, signed by admin.pub");

        assert_int_equal(read_file_bounded(f->policy, POLICY_FILE_MAX, &text, &n), 0);
        assert_int_equal(EVP_Digest(text, n, expected, &n_hash, EVP_sha256(), NULL), 1);
        assert_memory_equal(res.sha256, expected, 32);
        policy_load_result_done(&res);
}

static void test_load_reports_a_missing_policy_as_unreadable(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        assert_int_equal(policy_load(&f->opts, &res), -ENOENT);
        assert_int_equal(res.error, LOAD_UNREADABLE);
        assert_int_equal(res.errno_value, -ENOENT);
        assert_null(res.policy);
        assert_contains(res.message, "cannot read policy");
        policy_load_result_done(&res);
}

static void test_load_reports_a_missing_signature_as_unsigned(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, NULL);
        _cleanup_free_ char *sig = fmt("%s.sig", f->policy);
        assert_int_equal(unlink(sig), 0);
        assert_int_equal(policy_load(&f->opts, &res), -ENOENT);
        assert_int_equal(res.error, LOAD_UNSIGNED);
        assert_contains(res.message, "is not signed");
        policy_load_result_done(&res);
}

static void test_load_refuses_one_changed_byte_as_bad_signature(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *text = NULL;
        size_t n;

        write_signed_policy(f, 7, NULL);
        assert_int_equal(read_file_bounded(f->policy, POLICY_FILE_MAX, &text, &n), 0);
        char *p = strstr(text, "serial = 7");
        assert_non_null(p);
        p[9] = '8';
        free(test_write(f->dir, "policy.conf", text, n));

        assert_int_equal(policy_load(&f->opts, &res), -EBADMSG);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_null(res.policy);
        assert_contains(res.message, "the signature does not match any trusted key (1 key from ");
        assert_contains(res.message, "admin.pub");
        policy_load_result_done(&res);
}

/* The parser must never see bytes nobody signed: a broken, unsigned file is refused for its
 * signature, and the parser leaves no diagnostics because it never ran. */
static void test_load_checks_the_signature_before_parsing(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        static const char garbage[] = "kyoka_policy = 1; serial = {{{ @include \"/etc/shadow\"\n";
        uint8_t zero_sig[SIGNATURE_SIZE] = {};

        free(test_write(f->dir, "policy.conf", garbage, strlen(garbage)));
        write_sig(f, zero_sig, sizeof(zero_sig));

        assert_int_equal(policy_load(&f->opts, &res), -EBADMSG);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_int_equal(res.diag.n_messages, 0);
        policy_load_result_done(&res);
}

static void test_load_refuses_a_63_byte_signature_file(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        uint8_t sig[63] = {};

        write_signed_policy(f, 7, NULL);
        write_sig(f, sig, sizeof(sig));
        assert_int_equal(policy_load(&f->opts, &res), -EINVAL);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_contains(res.message, "policy.conf.sig has 63 bytes, expected 64");
        policy_load_result_done(&res);
}

static void test_load_refuses_a_65_byte_signature_file(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *sig_path = fmt("%s.sig", f->policy), *sig = NULL;
        uint8_t padded[65];
        size_t n;

        /* A good signature with a newline appended, as an editor might leave it. */
        write_signed_policy(f, 7, NULL);
        assert_int_equal(read_file_bounded(sig_path, 4096, &sig, &n), 0);
        memcpy(padded, sig, 64);
        padded[64] = '\n';
        write_sig(f, padded, sizeof(padded));
        assert_int_equal(policy_load(&f->opts, &res), -EINVAL);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_contains(res.message, "has 65 bytes, expected 64");
        policy_load_result_done(&res);
}

static void test_load_refuses_a_huge_signature_file(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *big = calloc(1, 100000);

        assert_non_null(big);
        write_signed_policy(f, 7, NULL);
        write_sig(f, big, 100000);
        assert_int_equal(policy_load(&f->opts, &res), -EINVAL);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_contains(res.message, "expected 64");
        policy_load_result_done(&res);
}

static void test_load_refuses_a_signature_by_an_untrusted_key(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *other = path_join(f->dir, "intruder");

        write_signed_policy(f, 7, NULL);
        assert_int_equal(key_generate(other), 0);
        sign_file(other, f->policy);
        assert_int_equal(policy_load(&f->opts, &res), -EBADMSG);
        assert_int_equal(res.error, LOAD_BAD_SIGNATURE);
        assert_null(res.signer);
        policy_load_result_done(&res);
}

static void test_load_names_the_key_directory_when_no_key_matches(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        _cleanup_free_ char *keys_dir = path_join(f->dir, "keys.d");
        _cleanup_free_ char *a = fmt("%s/a", keys_dir), *b = fmt("%s/b", keys_dir);
        _cleanup_(keyring_freep) struct keyring *kr = NULL;

        assert_int_equal(mkdir(keys_dir, 0755), 0);
        assert_int_equal(key_generate(a), 0);
        assert_int_equal(key_generate(b), 0);
        assert_int_equal(keyring_load_dir(keys_dir, NULL, NULL, &kr), 0);
        write_signed_policy(f, 7, NULL);

        f->opts.keys = kr;
        assert_int_equal(policy_load(&f->opts, &res), -EBADMSG);
        _cleanup_free_ char *expected = fmt("(2 keys from %s)", keys_dir);
        assert_contains(res.message, expected);
        policy_load_result_done(&res);

        /* And with the approver's key added to the directory, the same file is accepted. */
        sign_file(b, f->policy);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_string_equal(trusted_key_name(res.signer), "b.pub");
        policy_load_result_done(&res);
}

static void test_load_without_keys_is_no_keys(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, NULL);
        f->opts.keys = NULL;
        assert_int_equal(policy_load(&f->opts, &res), -ENOKEY);
        assert_int_equal(res.error, LOAD_NO_KEYS);
        assert_contains(res.message, "no trusted key");
        policy_load_result_done(&res);
}

static void test_load_reports_a_signed_invalid_policy_with_its_diag(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, "frobnicate = true;\n");
        assert_int_equal(policy_load(&f->opts, &res), -EINVAL);
        assert_int_equal(res.error, LOAD_INVALID);
        assert_null(res.policy);
        assert_non_null(res.signer);
        assert_true(res.diag.n_errors >= 1);
        assert_contains(res.message, "is signed but not a valid policy: ");
        assert_contains(res.message, "policy.conf:7:");
        policy_load_result_done(&res);
}

/* An empty file can be signed, and then it is the parser that refuses it. */
static void test_load_refuses_a_signed_empty_file_as_invalid(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        free(test_write(f->dir, "policy.conf", "", 0));
        sign_file(f->key_prefix, f->policy);
        assert_int_equal(policy_load(&f->opts, &res), -EINVAL);
        assert_int_equal(res.error, LOAD_INVALID);
        policy_load_result_done(&res);
}

static void test_load_refuses_an_expired_policy(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, "valid_until = \"2026-11-14\";\n");
        assert_int_equal(policy_load(&f->opts, &res), -EKEYEXPIRED);
        assert_int_equal(res.error, LOAD_EXPIRED);
        assert_null(res.policy);
        assert_contains(res.message, "valid_until 2026-11-14 has passed");
        policy_load_result_done(&res);
}

static void test_load_accepts_a_policy_on_its_last_day(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, "valid_until = \"2026-11-15\";\n");
        assert_int_equal(policy_load(&f->opts, &res), 0);
        policy_load_result_done(&res);
}

static void test_load_refuses_a_policy_for_another_workstation(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, "workstation = \"ws-02\";\n");
        assert_int_equal(policy_load(&f->opts, &res), -EXDEV);
        assert_int_equal(res.error, LOAD_OTHER_HOST);
        assert_contains(res.message, "is for workstation \"ws-02\", not this host (ws-01)");
        policy_load_result_done(&res);
}

/* One signed file for a fleet: ws-01 is named, so it loads; the entry meant for ws-02 alone is
 * not enforced here, the one for every workstation is. Without a host identity (the approver's
 * verify) every entry stays. */
static void test_load_fleet_policy_keeps_this_hosts_entries(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        static const char fleet[] =
                "workstation = [ \"ws-01\", \"ws-02\" ];\n"
                "usb = ( { permit = \"A\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\";\n"
                "          workstations = [ \"ws-02\" ]; approved_by = \"x\"; approved_on = \"2026-11-01\"; },\n"
                "        { permit = \"B\"; vendor = \"0781\"; product = \"5581\"; serial = \"S2\";\n"
                "          approved_by = \"x\"; approved_on = \"2026-11-01\"; } );\n";

        write_signed_policy(f, 7, fleet);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(res.policy->n_usb, 1);
        assert_string_equal(res.policy->usb[0].approval.permit, "B");
        policy_load_result_done(&res);

        f->opts.hostname = "ws-03";
        assert_int_equal(policy_load(&f->opts, &res), -EXDEV);
        assert_contains(res.message, "is for workstation \"ws-01, ws-02\", not this host (ws-03)");
        policy_load_result_done(&res);

        f->opts.hostname = NULL;
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(res.policy->n_usb, 2);
        policy_load_result_done(&res);
}

static void test_load_accepts_a_policy_bound_to_this_machine_id(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, "workstation = \"0123456789abcdef0123456789abcdef\";\n");
        f->opts.machine_id = "0123456789abcdef0123456789abcdef";
        assert_int_equal(policy_load(&f->opts, &res), 0);
        policy_load_result_done(&res);
}

static void test_load_without_host_identity_skips_the_workstation_check(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, "workstation = \"ws-02\";\n");
        f->opts.hostname = NULL;
        assert_int_equal(policy_load(&f->opts, &res), 0);
        policy_load_result_done(&res);
}

static void test_load_refuses_a_lower_serial_as_rollback(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        const uint8_t other[32] = { 1 };

        assert_int_equal(rollback_commit(f->state, 42, other), 0);
        write_signed_policy(f, 41, NULL);
        assert_int_equal(policy_load(&f->opts, &res), -ESTALE);
        assert_int_equal(res.error, LOAD_ROLLBACK);
        assert_null(res.policy);
        assert_contains(res.message, "serial 41 is not newer than the last accepted policy's serial 42");
        policy_load_result_done(&res);
}

static void test_load_refuses_a_reused_serial_with_other_bytes(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 42, NULL);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(policy_load_commit(f->state, &res), 0);
        policy_load_result_done(&res);

        write_signed_policy(f, 42, "# one more comment\n");
        assert_int_equal(policy_load(&f->opts, &res), -EEXIST);
        assert_int_equal(res.error, LOAD_SERIAL_REUSED);
        assert_contains(res.message, "serial 42 was already accepted with different contents");
        policy_load_result_done(&res);
}

static void test_load_reports_the_same_policy_as_unchanged(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 42, NULL);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_false(res.unchanged);
        assert_int_equal(policy_load_commit(f->state, &res), 0);
        policy_load_result_done(&res);

        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(res.error, LOAD_OK);
        assert_true(res.unchanged);
        assert_non_null(res.policy);
        assert_contains(res.message, "already in force (unchanged)");
        policy_load_result_done(&res);
}

static void test_load_refuses_everything_on_a_corrupt_state(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        assert_int_equal(mkdir(f->state, 0755), 0);
        free(test_write(f->state, KYOKA_POLICY_STATE_FILE, "kyoka-policy-state 1\nserial 4x\n", 31));
        write_signed_policy(f, 1000, NULL);
        assert_int_equal(policy_load(&f->opts, &res), -EBADMSG);
        assert_int_equal(res.error, LOAD_STATE_CORRUPT);
        assert_null(res.policy);
        assert_contains(res.message, "policy.state is corrupt");
        policy_load_result_done(&res);
}

static void test_load_without_state_dir_skips_the_rollback_check(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        const uint8_t other[32] = { 1 };

        assert_int_equal(rollback_commit(f->state, 42, other), 0);
        write_signed_policy(f, 41, NULL);
        f->opts.state_dir = NULL;
        assert_int_equal(policy_load(&f->opts, &res), 0);
        policy_load_result_done(&res);
}

static void test_load_does_not_commit_by_itself(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        struct rollback_state st;

        write_signed_policy(f, 42, NULL);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        policy_load_result_done(&res);
        assert_int_equal(rollback_state_read(f->state, &st), -ENOENT);
}

static void test_commit_records_the_serial_and_hash(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        struct rollback_state st;

        write_signed_policy(f, 42, NULL);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(policy_load_commit(f->state, &res), 0);
        assert_int_equal(rollback_state_read(f->state, &st), 0);
        assert_int_equal(st.serial, 42);
        assert_memory_equal(st.sha256, res.sha256, 32);
        policy_load_result_done(&res);
}

/* A load that skipped the rollback check must still not move the state backwards. */
static void test_commit_never_moves_the_state_back(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;
        struct rollback_state st;
        const uint8_t other[32] = { 1 };

        assert_int_equal(rollback_commit(f->state, 42, other), 0);
        write_signed_policy(f, 41, NULL);
        f->opts.state_dir = NULL;
        assert_int_equal(policy_load(&f->opts, &res), 0);
        assert_int_equal(policy_load_commit(f->state, &res), -ESTALE);
        assert_int_equal(rollback_state_read(f->state, &st), 0);
        assert_int_equal(st.serial, 42);
        policy_load_result_done(&res);
}

static void test_commit_refuses_a_refused_load(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        assert_int_equal(policy_load(&f->opts, &res), -ENOENT);
        assert_int_equal(policy_load_commit(f->state, &res), -EINVAL);
        policy_load_result_done(&res);
}

static void test_load_accepts_a_policy_signed_by_openssl(void **state) {
        struct fixture *f = *state;
        struct policy_load_result res;

        write_signed_policy(f, 7, NULL);
        _cleanup_free_ char *cmd = fmt("openssl pkeyutl -sign -inkey '%s.key' -rawin -in '%s' -out '%s.sig'",
                                       f->key_prefix, f->policy, f->policy);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(policy_load(&f->opts, &res), 0);
        policy_load_result_done(&res);
}

static void test_load_error_names_cover_every_outcome(void **state) {
        for (int e = LOAD_OK; e < _LOAD_ERROR_MAX; e++)
                assert_non_null(policy_load_error_to_string((enum policy_load_error) e));
        assert_string_equal(policy_load_error_to_string(LOAD_BAD_SIGNATURE), "bad-signature");
        assert_null(policy_load_error_to_string((enum policy_load_error) 1000));
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_load_accepts_a_signed_valid_policy),
                T(test_load_reports_a_missing_policy_as_unreadable),
                T(test_load_reports_a_missing_signature_as_unsigned),
                T(test_load_refuses_one_changed_byte_as_bad_signature),
                T(test_load_checks_the_signature_before_parsing),
                T(test_load_refuses_a_63_byte_signature_file),
                T(test_load_refuses_a_65_byte_signature_file),
                T(test_load_refuses_a_huge_signature_file),
                T(test_load_refuses_a_signature_by_an_untrusted_key),
                T(test_load_names_the_key_directory_when_no_key_matches),
                T(test_load_without_keys_is_no_keys),
                T(test_load_reports_a_signed_invalid_policy_with_its_diag),
                T(test_load_refuses_a_signed_empty_file_as_invalid),
                T(test_load_refuses_an_expired_policy),
                T(test_load_accepts_a_policy_on_its_last_day),
                T(test_load_refuses_a_policy_for_another_workstation),
                T(test_load_fleet_policy_keeps_this_hosts_entries),
                T(test_load_accepts_a_policy_bound_to_this_machine_id),
                T(test_load_without_host_identity_skips_the_workstation_check),
                T(test_load_refuses_a_lower_serial_as_rollback),
                T(test_load_refuses_a_reused_serial_with_other_bytes),
                T(test_load_reports_the_same_policy_as_unchanged),
                T(test_load_refuses_everything_on_a_corrupt_state),
                T(test_load_without_state_dir_skips_the_rollback_check),
                T(test_load_does_not_commit_by_itself),
                T(test_commit_records_the_serial_and_hash),
                T(test_commit_never_moves_the_state_back),
                T(test_commit_refuses_a_refused_load),
                T(test_load_accepts_a_policy_signed_by_openssl),
                T(test_load_error_names_cover_every_outcome),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
