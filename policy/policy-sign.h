/* SPDX-License-Identifier: MIT */
/* Ed25519 keys and detached signatures (OpenSSL libcrypto).
 *
 * A signature is the raw 64-byte Ed25519 signature over the policy file's exact bytes, kept in
 * FILE.sig. Keys are PEM (PKCS#8 private, SubjectPublicKeyInfo public), so that
 *   openssl pkeyutl -sign -inkey admin.key -rawin -in policy.conf -out policy.conf.sig
 *   openssl pkeyutl -verify -pubin -inkey admin.pub -rawin -in policy.conf -sigfile policy.conf.sig
 * interoperate with policyctl both ways. A key is named by its fingerprint: the SHA-256 of the
 * raw 32-byte public key, in hex (the first 16 bytes shown to people). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SIGNATURE_SIZE 64
#define KEY_FINGERPRINT_SIZE 32
#define KEY_FINGERPRINT_HEX (2 * KEY_FINGERPRINT_SIZE + 1)
#define KEYRING_MAX 256               /* trusted keys read from a directory, at most */

struct signing_key;                   /* a private key */
struct trusted_key;                   /* a public key and where it came from */
struct keyring;                       /* the trusted public keys of a directory */

/* Creates PREFIX.key (mode 0600, created exclusively: an existing key is never overwritten,
 * -EEXIST) and PREFIX.pub (0644). */
/* Initialises libcrypto without the system's OpenSSL configuration (openssl.cnf): kyoka uses
 * the default provider's Ed25519 and SHA-256 alone, and a configuration could load other
 * providers (shared objects) into kyokad and policyctl; reading it also cost 0.3 ms of CPU at
 * every start. Called first thing by each program; 0 or -EIO. */
int crypto_init(void);

int key_generate(const char *prefix);

/* Key loaders: -EBADMSG for a file that is not exactly one PEM key of the right kind
 * (encrypted private keys included: nothing here prompts), -EKEYREJECTED for a key that is
 * not Ed25519, -EFBIG beyond 64 KiB. */
int signing_key_load(const char *path, struct signing_key **ret);
struct signing_key *signing_key_free(struct signing_key *k);

int trusted_key_load(const char *path, struct trusted_key **ret);
struct trusted_key *trusted_key_free(struct trusted_key *k);
/* The key's file name (e.g. "admin.pub") and hex fingerprint. */
const char *trusted_key_name(const struct trusted_key *k);
const char *trusted_key_fingerprint(const struct trusted_key *k);

static inline void signing_key_freep(struct signing_key **k) {
        if (*k)
                signing_key_free(*k);
}
static inline void trusted_key_freep(struct trusted_key **k) {
        if (*k)
                trusted_key_free(*k);
}

/* Signs DATA; writes exactly SIGNATURE_SIZE bytes. */
int signature_create(const struct signing_key *k, const void *data, size_t size, uint8_t ret[static SIGNATURE_SIZE]);

/* 0 if SIG (SIG_SIZE bytes) is K's signature over DATA; -EBADMSG if it does not match;
 * -EINVAL if SIG_SIZE is not SIGNATURE_SIZE (truncated or padded). */
int signature_verify(const struct trusted_key *k, const void *data, size_t size, const uint8_t *sig, size_t sig_size);

/* Told about each thing keyring_load_dir refuses, once each, in name order: a key file left out
 * (NAME: its file name in the directory) or the directory itself (NAME NULL: the load fails with
 * ERROR). ERROR is a negative errno, REASON a short English phrase ("writable by group or others
 * (mode 0664)", "a symbolic link (not followed)", "not an Ed25519 key", ...). */
#define KEYRING_REASON_MAX 160
typedef void (*keyring_refusal_fn)(const char *name, int error, const char *reason, void *userdata);

/* Loads the trusted keys of DIR: every "*.pub" (not hidden; other files ignored), tried in name
 * order. Who can write a key can sign policies, so:
 *  - DIR must be owned by root or the effective uid and writable by neither group nor others,
 *    else the whole directory is refused (-EPERM);
 *  - each key file must be a regular file (opened relative to DIR without following a symlink),
 *    owned by root or the effective uid and writable by neither group nor others, and hold
 *    exactly one Ed25519 public key in PEM form; one that is not is left out, and the others
 *    are loaded: one broken file must not take every key away.
 * Each refusal goes to ON_REFUSAL (may be NULL) with USERDATA. -ENOENT if DIR is missing or no
 * key is usable, -E2BIG beyond KEYRING_MAX *.pub files. */
int keyring_load_dir(const char *dir, keyring_refusal_fn on_refusal, void *userdata, struct keyring **ret);
/* A keyring holding one key (for --key PUB). Takes ownership of K, also on failure. */
int keyring_new_single(struct trusted_key *k, struct keyring **ret);
struct keyring *keyring_free(struct keyring *kr);
size_t keyring_size(const struct keyring *kr);
/* Where the keys came from, for messages: the directory, or the single key's path. */
const char *keyring_source(const struct keyring *kr);
static inline void keyring_freep(struct keyring **kr) {
        if (*kr)
                keyring_free(*kr);
}

/* 0 if any key of KR signed DATA, with *ret_signer set to it (owned by KR); -EBADMSG if none
 * did; -EINVAL for a signature of the wrong size. */
int keyring_verify(const struct keyring *kr, const void *data, size_t size, const uint8_t *sig, size_t sig_size,
                   const struct trusted_key **ret_signer);

/* SHA-256 of DATA (the hash the anti-rollback state and the accepted copy are bound to). */
int sha256_digest(const void *data, size_t size, uint8_t ret[static 32]);
