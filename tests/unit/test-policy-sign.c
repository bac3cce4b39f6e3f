/* SPDX-License-Identifier: MIT */
/* Ed25519 keys and detached signatures: key files and their modes, tampering, wrong keys and
 * sizes, keys of the wrong kind, key directories, and interoperation with the openssl tool in
 * both directions (the admin's fallback when policyctl is not at hand). */
#include <fcntl.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "test-util.h"

#include "hexutil.h"
#include "policy-sign.h"

struct fixture {
        char *dir;
        char *prefix;                 /* DIR/admin: admin.key and admin.pub exist */
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

/* Runs a shell command built only from test-owned paths; returns its exit status. */
static int run(const char *cmd) {
        int status = system(cmd);
        assert_true(status != -1);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->dir = test_mkdtemp();
        f->prefix = path_join(f->dir, "admin");
        assert_int_equal(key_generate(f->prefix), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        test_rmdir_r(f->dir);
        free(f->dir);
        free(f->prefix);
        free(f);
        return 0;
}

static struct signing_key *load_signing(const char *prefix) {
        _cleanup_free_ char *p = fmt("%s.key", prefix);
        struct signing_key *k = NULL;
        assert_int_equal(signing_key_load(p, &k), 0);
        return k;
}

static struct trusted_key *load_trusted(const char *prefix) {
        _cleanup_free_ char *p = fmt("%s.pub", prefix);
        struct trusted_key *k = NULL;
        assert_int_equal(trusted_key_load(p, &k), 0);
        return k;
}

static mode_t file_mode(const char *path) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_mode & 07777;
}

static void write_pem(const char *path, EVP_PKEY *pkey, int private) {
        FILE *out = fopen(path, "we");
        assert_non_null(out);
        if (private)
                assert_int_equal(PEM_write_PrivateKey(out, pkey, NULL, NULL, 0, NULL, NULL), 1);
        else
                assert_int_equal(PEM_write_PUBKEY(out, pkey), 1);
        assert_int_equal(fclose(out), 0);
}

static const char policy_text[] = "kyoka_policy = 1;\nserial = 7;\nissued = \"2026-11-01\";\n";

static void test_keygen_writes_key_0600_and_pub_0644_whatever_the_umask(void **state) {
        struct fixture *f = *state;
        static const mode_t umasks[] = { 0, 022, 077 };

        for (size_t i = 0; i < ELEMENTSOF(umasks); i++) {
                _cleanup_free_ char *prefix = fmt("%s/k%zu", f->dir, i);
                _cleanup_free_ char *key = fmt("%s.key", prefix), *pub = fmt("%s.pub", prefix);
                mode_t old = umask(umasks[i]);
                int r = key_generate(prefix);
                umask(old);
                assert_int_equal(r, 0);
                assert_int_equal(file_mode(key), 0600);
                assert_int_equal(file_mode(pub), 0644);
        }
}

static void test_keygen_refuses_to_overwrite_a_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *key = fmt("%s.key", f->prefix), *pub = fmt("%s.pub", f->prefix);
        _cleanup_free_ char *before = NULL, *after = NULL;
        size_t n_before, n_after;

        assert_int_equal(read_file_bounded(key, 65536, &before, &n_before), 0);
        assert_int_equal(key_generate(f->prefix), -EEXIST);
        assert_int_equal(read_file_bounded(key, 65536, &after, &n_after), 0);
        assert_int_equal(n_before, n_after);
        assert_memory_equal(before, after, n_before);
}

static void test_keygen_leaves_no_key_when_the_pub_exists(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *prefix = fmt("%s/other", f->dir), *key = fmt("%s.key", prefix);
        free(test_write(f->dir, "other.pub", "someone's key\n", 14));

        assert_int_equal(key_generate(prefix), -EEXIST);
        assert_int_equal(access(key, F_OK), -1);
        assert_int_equal(errno, ENOENT);
}

static void test_signature_verifies_with_the_signing_key(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, sig, sizeof(sig)), 0);
}

static void test_signature_rejects_one_changed_byte(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        size_t n = sizeof(policy_text) - 1;
        uint8_t sig[SIGNATURE_SIZE];
        char copy[sizeof(policy_text)];

        assert_int_equal(signature_create(sk, policy_text, n, sig), 0);
        /* Every position, with a one-bit change (the smallest edit: "serial = 7" -> "6"). */
        for (size_t i = 0; i < n; i++) {
                memcpy(copy, policy_text, sizeof(copy));
                copy[i] ^= 0x01;
                assert_int_equal(signature_verify(tk, copy, n, sig, sizeof(sig)), -EBADMSG);
        }
}

static void test_signature_rejects_one_changed_signature_byte(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        size_t n = sizeof(policy_text) - 1;
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, policy_text, n, sig), 0);
        for (size_t i = 0; i < SIGNATURE_SIZE; i++) {
                sig[i] ^= 0x80;
                assert_int_equal(signature_verify(tk, policy_text, n, sig, sizeof(sig)), -EBADMSG);
                sig[i] ^= 0x80;
        }
}

static void test_signature_rejects_appended_and_removed_bytes(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        char longer[sizeof(policy_text) + 1];
        size_t n = sizeof(policy_text) - 1;
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, policy_text, n, sig), 0);
        memcpy(longer, policy_text, n);
        longer[n] = '\n';
        assert_int_equal(signature_verify(tk, longer, n + 1, sig, sizeof(sig)), -EBADMSG);
        assert_int_equal(signature_verify(tk, policy_text, n - 1, sig, sizeof(sig)), -EBADMSG);
}

static void test_signature_rejects_another_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *other = fmt("%s/other", f->dir);
        assert_int_equal(key_generate(other), 0);
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(other);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, sig, sizeof(sig)), -EBADMSG);
}

static void test_signature_of_63_bytes_is_invalid(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, sig, 63), -EINVAL);
}

static void test_signature_of_65_bytes_is_invalid(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        uint8_t sig[SIGNATURE_SIZE + 1] = {};

        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, sig, 65), -EINVAL);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, sig, 0), -EINVAL);
}

static void test_signature_of_an_empty_file_verifies_and_binds_emptiness(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, "", 0, sig), 0);
        assert_int_equal(signature_verify(tk, "", 0, sig, sizeof(sig)), 0);
        assert_int_equal(signature_verify(tk, NULL, 0, sig, sizeof(sig)), 0);
        assert_int_equal(signature_verify(tk, "\n", 1, sig, sizeof(sig)), -EBADMSG);
}

static void test_trusted_key_rejects_an_ec_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = path_join(f->dir, "ec.pub");
        EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_non_null(ec);
        write_pem(path, ec, 0);
        EVP_PKEY_free(ec);

        struct trusted_key *k = NULL;
        ERR_clear_error();
        assert_int_equal(trusted_key_load(path, &k), -EKEYREJECTED);
        assert_null(k);
        assert_int_equal(ERR_peek_error(), 0);
}

static void test_trusted_key_rejects_an_rsa_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = path_join(f->dir, "rsa.pub");
        EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
        assert_non_null(rsa);
        write_pem(path, rsa, 0);
        EVP_PKEY_free(rsa);

        struct trusted_key *k = NULL;
        assert_int_equal(trusted_key_load(path, &k), -EKEYREJECTED);
}

/* X25519 keys are also 32 raw bytes: only the key type tells them apart. */
static void test_trusted_key_rejects_an_x25519_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = path_join(f->dir, "x.pub");
        EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        assert_non_null(x);
        write_pem(path, x, 0);
        EVP_PKEY_free(x);

        struct trusted_key *k = NULL;
        assert_int_equal(trusted_key_load(path, &k), -EKEYREJECTED);
}

static void test_signing_key_rejects_an_ec_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = path_join(f->dir, "ec.key");
        EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_non_null(ec);
        write_pem(path, ec, 1);
        EVP_PKEY_free(ec);

        struct signing_key *k = NULL;
        assert_int_equal(signing_key_load(path, &k), -EKEYREJECTED);
}

static void test_rejected_key_leaves_no_openssl_errors_behind(void **state) {
        struct fixture *f = *state;
        static const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        _cleanup_free_ char *path = test_write(f->dir, "junk.pub", junk, strlen(junk));
        struct trusted_key *k = NULL;

        ERR_clear_error();
        assert_int_equal(trusted_key_load(path, &k), -EBADMSG);
        assert_int_equal(ERR_peek_error(), 0);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        assert_int_equal(signature_verify(tk, "x", 1, (const uint8_t *) junk, 64), -EBADMSG);
        assert_int_equal(ERR_peek_error(), 0);
}

static void test_trusted_key_rejects_a_private_key_file(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = fmt("%s.key", f->prefix);
        struct trusted_key *k = NULL;

        assert_int_equal(trusted_key_load(path, &k), -EBADMSG);
}

static void test_trusted_key_rejects_two_keys_in_one_file(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *pub = fmt("%s.pub", f->prefix), *text = NULL, *both = NULL;
        size_t n;

        assert_int_equal(read_file_bounded(pub, 65536, &text, &n), 0);
        both = fmt("%s%s", text, text);
        _cleanup_free_ char *path = test_write(f->dir, "both.pub", both, 2 * n);
        struct trusted_key *k = NULL;
        assert_int_equal(trusted_key_load(path, &k), -EBADMSG);
}

static void test_key_file_beyond_64k_is_refused(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *big = calloc(1, 65537);
        assert_non_null(big);
        memset(big, '\n', 65537);
        _cleanup_free_ char *path = test_write(f->dir, "big.pub", big, 65537);
        struct trusted_key *k = NULL;

        assert_int_equal(trusted_key_load(path, &k), -EFBIG);
}

static void test_encrypted_signing_key_fails_without_prompting(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *path = path_join(f->dir, "enc.key");
        _cleanup_free_ char *cmd = fmt("openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret -out '%s' </dev/null", path);
        assert_int_equal(run(cmd), 0);

        /* stdin is /dev/null in this process too: a prompt would fail, not hang. */
        struct signing_key *k = NULL;
        assert_int_equal(signing_key_load(path, &k), -EBADMSG);
}

static void test_fingerprint_is_sha256_of_the_raw_public_key(void **state) {
        struct fixture *f = *state;
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        _cleanup_free_ char *out = path_join(f->dir, "fp");
        /* SubjectPublicKeyInfo DER of Ed25519 ends with the 32 raw key bytes. */
        _cleanup_free_ char *cmd = fmt("openssl pkey -pubin -in '%s.pub' -outform DER | tail -c 32 | sha256sum | cut -c1-64 > '%s'",
                                       f->prefix, out);
        _cleanup_free_ char *expected = NULL;
        size_t n;

        assert_int_equal(run(cmd), 0);
        assert_int_equal(read_file_bounded(out, 1024, &expected, &n), 0);
        assert_int_equal(n, 65);
        expected[64] = 0;
        assert_string_equal(trusted_key_fingerprint(tk), expected);
        assert_string_equal(trusted_key_name(tk), "admin.pub");
}

static void test_keyring_dir_verifies_with_the_second_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = path_join(f->dir, "keys.d");
        _cleanup_free_ char *a = fmt("%s/a", keys), *b = fmt("%s/b", keys);
        assert_int_equal(mkdir(keys, 0755), 0);
        assert_int_equal(key_generate(a), 0);
        assert_int_equal(key_generate(b), 0);
        _cleanup_free_ char *akey = fmt("%s.key", a), *bkey = fmt("%s.key", b);
        assert_int_equal(unlink(akey), 0);
        /* Keep the private key out of the key directory, as an admin would. */
        _cleanup_free_ char *bkey_moved = path_join(f->dir, "b.key");
        assert_int_equal(rename(bkey, bkey_moved), 0);

        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        assert_int_equal(keyring_load_dir(keys, NULL, NULL, &kr), 0);
        assert_int_equal(keyring_size(kr), 2);
        assert_string_equal(keyring_source(kr), keys);

        _cleanup_free_ char *bprefix = path_join(f->dir, "b");
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(bprefix);
        uint8_t sig[SIGNATURE_SIZE];
        const struct trusted_key *signer = NULL;
        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(keyring_verify(kr, policy_text, sizeof(policy_text) - 1, sig, sizeof(sig), &signer), 0);
        assert_non_null(signer);
        assert_string_equal(trusted_key_name(signer), "b.pub");
}

static void test_keyring_dir_ignores_other_files(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = path_join(f->dir, "keys.d");
        _cleanup_free_ char *pub = fmt("%s.pub", f->prefix), *text = NULL;
        size_t n;
        assert_int_equal(mkdir(keys, 0755), 0);
        assert_int_equal(read_file_bounded(pub, 65536, &text, &n), 0);
        free(test_write(keys, "admin.pub", text, n));
        free(test_write(keys, "README", "not a key\n", 10));
        free(test_write(keys, "old.pub.bak", "not a key\n", 10));
        free(test_write(keys, ".hidden.pub", "not a key\n", 10));
        free(test_write(keys, ".pub", "not a key\n", 10));

        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        assert_int_equal(keyring_load_dir(keys, NULL, NULL, &kr), 0);
        assert_int_equal(keyring_size(kr), 1);
}

static void test_keyring_dir_tries_keys_in_name_order(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = path_join(f->dir, "keys.d");
        _cleanup_free_ char *pub = fmt("%s.pub", f->prefix), *text = NULL;
        size_t n;
        assert_int_equal(mkdir(keys, 0755), 0);
        assert_int_equal(read_file_bounded(pub, 65536, &text, &n), 0);
        /* The same key twice: the signer reported must be the first by name, every time. */
        free(test_write(keys, "zz.pub", text, n));
        free(test_write(keys, "aa.pub", text, n));
        free(test_write(keys, "mm.pub", text, n));

        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        uint8_t sig[SIGNATURE_SIZE];
        const struct trusted_key *signer = NULL;
        assert_int_equal(keyring_load_dir(keys, NULL, NULL, &kr), 0);
        assert_int_equal(signature_create(sk, "x", 1, sig), 0);
        assert_int_equal(keyring_verify(kr, "x", 1, sig, sizeof(sig), &signer), 0);
        assert_string_equal(trusted_key_name(signer), "aa.pub");
}

static void test_keyring_dir_without_keys_is_enoent(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = path_join(f->dir, "keys.d");
        _cleanup_free_ char *missing = path_join(f->dir, "missing.d");
        assert_int_equal(mkdir(keys, 0755), 0);
        free(test_write(keys, "README", "no keys here\n", 13));

        struct keyring *kr = NULL;
        assert_int_equal(keyring_load_dir(keys, NULL, NULL, &kr), -ENOENT);
        assert_int_equal(keyring_load_dir(missing, NULL, NULL, &kr), -ENOENT);
        assert_null(kr);
}

static void test_keyring_dir_beyond_keyring_max_is_refused(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = path_join(f->dir, "keys.d");
        assert_int_equal(mkdir(keys, 0755), 0);
        for (int i = 0; i <= KEYRING_MAX; i++) {
                _cleanup_free_ char *name = fmt("k%03d.pub", i);
                free(test_write(keys, name, "x", 1));
        }

        struct keyring *kr = NULL;
        assert_int_equal(keyring_load_dir(keys, NULL, NULL, &kr), -E2BIG);
}

/* ---- keys.d: what is trusted (issue 9: one unparsable *.pub disabled every key, and a key
 * file or directory writable by others was trusted) ---------------------------------------- */

struct refusals {
        size_t n;
        struct {
                char name[64];                /* "" for the directory itself */
                int error;
                char reason[KEYRING_REASON_MAX];
        } r[8];
};

static void on_refusal(const char *name, int error, const char *reason, void *userdata) {
        struct refusals *rs = userdata;
        assert_true(rs->n < ELEMENTSOF(rs->r));
        snprintf(rs->r[rs->n].name, sizeof rs->r[0].name, "%s", name ?: "");
        rs->r[rs->n].error = error;
        snprintf(rs->r[rs->n].reason, sizeof rs->r[0].reason, "%s", reason);
        rs->n++;
}

/* DIR/keys.d (0755) holding the fixture's admin.pub (0644); returns its path. */
static char *make_keys_dir(struct fixture *f) {
        char *keys = path_join(f->dir, "keys.d");
        _cleanup_free_ char *pub = fmt("%s.pub", f->prefix), *text = NULL, *copy = NULL;
        size_t n;
        assert_int_equal(mkdir(keys, 0755), 0);
        assert_int_equal(chmod(keys, 0755), 0);
        assert_int_equal(read_file_bounded(pub, 65536, &text, &n), 0);
        copy = test_write(keys, "admin.pub", text, n);
        assert_int_equal(chmod(copy, 0644), 0);
        return keys;
}

/* A second, valid key NAME in KEYS (0644); its signing key stays in the fixture's directory.
 * Returns the path of the .pub. */
static char *add_key(struct fixture *f, const char *keys, const char *name) {
        _cleanup_free_ char *prefix = fmt("%s/%s", f->dir, name), *pub = fmt("%s.pub", prefix);
        _cleanup_free_ char *text = NULL;
        char *dest = fmt("%s/%s.pub", keys, name);
        size_t n;
        assert_int_equal(key_generate(prefix), 0);
        assert_int_equal(read_file_bounded(pub, 65536, &text, &n), 0);
        free(test_write(keys, strrchr(dest, '/') + 1, text, n));
        assert_int_equal(chmod(dest, 0644), 0);
        return dest;
}

/* The fixture's admin key signs; a keyring from KEYS must verify it. */
static void assert_admin_verifies(struct fixture *f, const struct keyring *kr) {
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        uint8_t sig[SIGNATURE_SIZE];
        const struct trusted_key *signer = NULL;
        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(keyring_verify(kr, policy_text, sizeof(policy_text) - 1, sig, sizeof(sig), &signer), 0);
        assert_string_equal(trusted_key_name(signer), "admin.pub");
}

static void assert_refused(const struct refusals *rs, size_t i, const char *name, int error, const char *reason) {
        assert_true(i < rs->n);
        assert_string_equal(rs->r[i].name, name);
        assert_int_equal(rs->r[i].error, error);
        if (!strstr(rs->r[i].reason, reason))
                fail_msg("refusal of \"%s\": \"%s\" lacks \"%s\"", name, rs->r[i].reason, reason);
}

static void test_keyring_dir_skips_a_malformed_pub_and_keeps_the_others(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f), *other = add_key(f, keys, "zz-other");
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        struct refusals rs = {};

        free(test_write(keys, "broken.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n", 32));
        free(test_write(keys, "empty.pub", "", 0));
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 2);
        assert_int_equal(rs.n, 2);
        assert_refused(&rs, 0, "broken.pub", -EBADMSG, "not exactly one public key in PEM form");
        assert_refused(&rs, 1, "empty.pub", -EBADMSG, "PEM");
        assert_admin_verifies(f, kr);
}

static void test_keyring_dir_skips_a_key_that_is_not_ed25519(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f), *ec = path_join(keys, "ec.pub");
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        struct refusals rs = {};

        assert_non_null(pkey);
        write_pem(ec, pkey, 0);
        EVP_PKEY_free(pkey);
        assert_int_equal(chmod(ec, 0644), 0);
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 1);
        assert_int_equal(rs.n, 1);
        assert_refused(&rs, 0, "ec.pub", -EKEYREJECTED, "not an Ed25519 key");
}

static void test_keyring_dir_with_only_bad_keys_is_enoent(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f), *admin = path_join(keys, "admin.pub");
        struct keyring *kr = NULL;
        struct refusals rs = {};

        free(test_write(keys, "broken.pub", "junk\n", 5));
        assert_int_equal(chmod(admin, 0666), 0);
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), -ENOENT);
        assert_null(kr);
        assert_int_equal(rs.n, 2);
        assert_refused(&rs, 0, "admin.pub", -EPERM, "writable by group or others (mode 0666)");
        assert_refused(&rs, 1, "broken.pub", -EBADMSG, "PEM");
}

static void test_keyring_dir_skips_a_group_or_other_writable_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f);
        _cleanup_free_ char *g = add_key(f, keys, "group"), *o = add_key(f, keys, "other");
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        struct refusals rs = {};

        assert_int_equal(chmod(g, 0664), 0);
        assert_int_equal(chmod(o, 0646), 0);
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 1);
        assert_int_equal(rs.n, 2);
        assert_refused(&rs, 0, "group.pub", -EPERM, "writable by group or others (mode 0664)");
        assert_refused(&rs, 1, "other.pub", -EPERM, "writable by group or others (mode 0646)");
        assert_admin_verifies(f, kr);

        /* A read-only group is fine: 0640 root:kyoka-admin, say. */
        assert_int_equal(chmod(g, 0640), 0);
        keyring_free(TAKE_PTR(kr));
        rs = (struct refusals) {};
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 2);
        assert_int_equal(rs.n, 1);
}

static void test_keyring_dir_skips_a_symlinked_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f), *link = path_join(keys, "linked.pub");
        _cleanup_free_ char *outside = fmt("%s/outside", f->dir), *outside_pub = fmt("%s.pub", outside);
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        struct refusals rs = {};

        /* A valid key, but elsewhere (the link could be changed by whoever owns the target). */
        assert_int_equal(key_generate(outside), 0);
        assert_int_equal(symlink(outside_pub, link), 0);
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 1);
        assert_int_equal(rs.n, 1);
        assert_refused(&rs, 0, "linked.pub", -ELOOP, "a symbolic link (not followed)");
}

static void test_keyring_dir_skips_what_is_not_a_regular_file(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f), *fifo = path_join(keys, "fifo.pub"), *sub = path_join(keys, "sub.pub");
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        struct refusals rs = {};

        assert_int_equal(mkfifo(fifo, 0644), 0);      /* and the load must not block on it */
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 1);
        assert_int_equal(rs.n, 2);
        assert_refused(&rs, 0, "fifo.pub", -EBADFD, "not a regular file");
        assert_refused(&rs, 1, "sub.pub", -EISDIR, "a directory");
}

static void test_keyring_dir_writable_by_group_or_others_is_refused(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *keys = make_keys_dir(f);
        static const mode_t modes[] = { 0775, 0757, 01777 };  /* sticky or not: others could add keys */

        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                struct keyring *kr = NULL;
                struct refusals rs = {};
                char want[64];
                assert_int_equal(chmod(keys, modes[i]), 0);
                assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), -EPERM);
                assert_null(kr);
                assert_int_equal(rs.n, 1);
                snprintf(want, sizeof want, "writable by group or others (mode %04o)", (unsigned) modes[i]);
                assert_refused(&rs, 0, "", -EPERM, want);
        }
}

static void test_keyring_dir_owner_must_be_root_or_us(void **state) {
        struct fixture *f = *state;
        if (geteuid() != 0)
                skip();
        _cleanup_free_ char *keys = make_keys_dir(f), *other = add_key(f, keys, "theirs");
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        struct refusals rs = {};

        /* A key file someone else owns: they could rewrite it. */
        _cleanup_close_ int fd = open(other, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fchown(fd, 12345, 12345), 0);
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), 0);
        assert_int_equal(keyring_size(kr), 1);
        assert_int_equal(rs.n, 1);
        assert_refused(&rs, 0, "theirs.pub", -EPERM, "owned by uid 12345 (neither root nor uid 0)");
        assert_admin_verifies(f, kr);

        /* The directory someone else owns: they could add any key. */
        assert_int_equal(chown(keys, 12345, 12345), 0);
        keyring_free(TAKE_PTR(kr));
        rs = (struct refusals) {};
        assert_int_equal(keyring_load_dir(keys, on_refusal, &rs, &kr), -EPERM);
        assert_int_equal(rs.n, 1);
        assert_refused(&rs, 0, "", -EPERM, "owned by uid 12345 (neither root nor uid 0)");
}

static void test_keyring_rejects_a_signature_by_an_unknown_key(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *other = fmt("%s/other", f->dir);
        assert_int_equal(key_generate(other), 0);
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(other);
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        uint8_t sig[SIGNATURE_SIZE];
        const struct trusted_key *signer = NULL;

        assert_int_equal(keyring_new_single(load_trusted(f->prefix), &kr), 0);
        assert_int_equal(signature_create(sk, "x", 1, sig), 0);
        assert_int_equal(keyring_verify(kr, "x", 1, sig, sizeof(sig), &signer), -EBADMSG);
        assert_null(signer);
        assert_int_equal(keyring_verify(kr, "x", 1, sig, 63, &signer), -EINVAL);
}

static void test_openssl_verifies_our_signature(void **state) {
        struct fixture *f = *state;
        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(f->prefix);
        _cleanup_free_ char *file = test_write(f->dir, "policy.conf", policy_text, sizeof(policy_text) - 1);
        uint8_t sig[SIGNATURE_SIZE];

        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        free(test_write(f->dir, "policy.conf.sig", sig, sizeof(sig)));

        _cleanup_free_ char *cmd = fmt("openssl pkeyutl -verify -pubin -inkey '%s.pub' -rawin -in '%s' -sigfile '%s.sig' >/dev/null",
                                       f->prefix, file, file);
        assert_int_equal(run(cmd), 0);

        /* And openssl is not simply saying yes: a changed file fails there too. */
        free(test_write(f->dir, "policy.conf", "changed", 7));
        assert_int_not_equal(run(cmd), 0);
}

static void test_openssl_signature_verifies_here(void **state) {
        struct fixture *f = *state;
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(f->prefix);
        _cleanup_free_ char *file = test_write(f->dir, "policy.conf", policy_text, sizeof(policy_text) - 1);
        _cleanup_free_ char *cmd = fmt("openssl pkeyutl -sign -inkey '%s.key' -rawin -in '%s' -out '%s.sig'",
                                       f->prefix, file, file);
        _cleanup_free_ char *sigpath = fmt("%s.sig", file), *sig = NULL;
        size_t n;

        assert_int_equal(run(cmd), 0);
        assert_int_equal(read_file_bounded(sigpath, 4096, &sig, &n), 0);
        assert_int_equal(n, SIGNATURE_SIZE);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, (uint8_t *) sig, n), 0);
}

static void test_openssl_generated_keys_load_and_work(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *prefix = path_join(f->dir, "ossl");
        _cleanup_free_ char *cmd = fmt("openssl genpkey -algorithm ed25519 -out '%s.key' && "
                                       "openssl pkey -in '%s.key' -pubout -out '%s.pub'",
                                       prefix, prefix, prefix);
        assert_int_equal(run(cmd), 0);

        _cleanup_(signing_key_freep) struct signing_key *sk = load_signing(prefix);
        _cleanup_(trusted_key_freep) struct trusted_key *tk = load_trusted(prefix);
        uint8_t sig[SIGNATURE_SIZE];
        assert_int_equal(signature_create(sk, policy_text, sizeof(policy_text) - 1, sig), 0);
        assert_int_equal(signature_verify(tk, policy_text, sizeof(policy_text) - 1, sig, sizeof(sig)), 0);
}

static void test_free_functions_accept_null(void **state) {
        assert_null(signing_key_free(NULL));
        assert_null(trusted_key_free(NULL));
        assert_null(keyring_free(NULL));
        assert_int_equal(keyring_size(NULL), 0);
}

int main(void) {
        /* Key files are written 0666 & ~umask here: keys.d refuses group-writable ones. */
        umask(022);
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_keygen_writes_key_0600_and_pub_0644_whatever_the_umask),
                T(test_keygen_refuses_to_overwrite_a_key),
                T(test_keygen_leaves_no_key_when_the_pub_exists),
                T(test_signature_verifies_with_the_signing_key),
                T(test_signature_rejects_one_changed_byte),
                T(test_signature_rejects_one_changed_signature_byte),
                T(test_signature_rejects_appended_and_removed_bytes),
                T(test_signature_rejects_another_key),
                T(test_signature_of_63_bytes_is_invalid),
                T(test_signature_of_65_bytes_is_invalid),
                T(test_signature_of_an_empty_file_verifies_and_binds_emptiness),
                T(test_trusted_key_rejects_an_ec_key),
                T(test_trusted_key_rejects_an_rsa_key),
                T(test_trusted_key_rejects_an_x25519_key),
                T(test_signing_key_rejects_an_ec_key),
                T(test_rejected_key_leaves_no_openssl_errors_behind),
                T(test_trusted_key_rejects_a_private_key_file),
                T(test_trusted_key_rejects_two_keys_in_one_file),
                T(test_key_file_beyond_64k_is_refused),
                T(test_encrypted_signing_key_fails_without_prompting),
                T(test_fingerprint_is_sha256_of_the_raw_public_key),
                T(test_keyring_dir_verifies_with_the_second_key),
                T(test_keyring_dir_ignores_other_files),
                T(test_keyring_dir_tries_keys_in_name_order),
                T(test_keyring_dir_without_keys_is_enoent),
                T(test_keyring_dir_beyond_keyring_max_is_refused),
                T(test_keyring_dir_skips_a_malformed_pub_and_keeps_the_others),
                T(test_keyring_dir_skips_a_key_that_is_not_ed25519),
                T(test_keyring_dir_with_only_bad_keys_is_enoent),
                T(test_keyring_dir_skips_a_group_or_other_writable_key),
                T(test_keyring_dir_skips_a_symlinked_key),
                T(test_keyring_dir_skips_what_is_not_a_regular_file),
                T(test_keyring_dir_writable_by_group_or_others_is_refused),
                T(test_keyring_dir_owner_must_be_root_or_us),
                T(test_keyring_rejects_a_signature_by_an_unknown_key),
                T(test_openssl_verifies_our_signature),
                T(test_openssl_signature_verifies_here),
                T(test_openssl_generated_keys_load_and_work),
                T(test_free_functions_accept_null),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
