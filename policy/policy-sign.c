/* SPDX-License-Identifier: MIT */
/* Ed25519 keys and detached signatures with OpenSSL 3 libcrypto.
 *
 * Signatures are "pure" Ed25519 over the file's exact bytes (EVP_DigestSign with no digest),
 * which is what `openssl pkeyutl -sign -rawin` makes, so either tool checks the other's work.
 * Every key is checked to be Ed25519 when it is loaded: a PEM file holding an RSA or EC key
 * would otherwise verify nothing and confuse, or worse, sign with a scheme no one audits.
 * Failure paths clear OpenSSL's thread-local error queue so that a refused key does not leave
 * stale errors for an unrelated later call to trip over. */
#include "policy-sign.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fileio.h"
#include "fs-safe.h"
#include "hexutil.h"
#include "macro.h"

#define KEY_FILE_MAX (64u * 1024u)

DEFINE_CLEANUP(EVP_PKEY, EVP_PKEY_free);
DEFINE_CLEANUP(EVP_MD_CTX, EVP_MD_CTX_free);
DEFINE_CLEANUP(BIO, BIO_free);

struct signing_key {
        EVP_PKEY *pkey;
};

struct trusted_key {
        EVP_PKEY *pkey;
        char *path;
        const char *name;             /* points into path */
        char fingerprint[KEY_FINGERPRINT_HEX];
};

struct keyring {
        char *source;                 /* the directory, or the single key's path */
        size_t n_keys;
        struct trusted_key **keys;
};

/* Private key files pass through this buffer: wipe it before it goes back to the heap. */
struct secret_buf {
        char *data;
        size_t size;
};

static void secret_buf_done(struct secret_buf *b) {
        if (b->data) {
                explicit_bzero(b->data, b->size);
                free(b->data);
        }
}

static int openssl_fail(int r) {
        ERR_clear_error();
        return r;
}

/* OpenSSL's default would prompt on the terminal for an encrypted key; library code never
 * prompts, so an encrypted key simply fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

/* Exactly one PEM block and no NUL: a file holding two keys would otherwise be read as its
 * first key only, and an admin who concatenated keys would trust fewer than intended. */
static int pem_check_single(const char *text, size_t size) {
        if (strlen(text) != size)
                return -EBADMSG;
        const char *p = strstr(text, "-----BEGIN ");
        if (!p || strstr(p + 1, "-----BEGIN "))
                return -EBADMSG;
        return 0;
}

static int pkey_check_ed25519(const EVP_PKEY *pkey) {
        return EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519 ? 0 : -EKEYREJECTED;
}

static int pkey_fingerprint(EVP_PKEY *pkey, char ret[static KEY_FINGERPRINT_HEX]) {
        uint8_t raw[32], digest[KEY_FINGERPRINT_SIZE];
        size_t n = sizeof(raw);
        unsigned digest_size = 0;

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &n) != 1 || n != sizeof(raw))
                return openssl_fail(-EKEYREJECTED);
        if (EVP_Digest(raw, n, digest, &digest_size, EVP_sha256(), NULL) != 1 ||
            digest_size != sizeof(digest))
                return openssl_fail(-EIO);

        hex_encode(digest, sizeof(digest), ret);
        return 0;
}

int crypto_init(void) {
        return OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) == 1 ? 0 : -EIO;
}

int key_generate(const char *prefix) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(BIO_freep) BIO *priv = NULL, *pub = NULL;
        _cleanup_free_ char *key_path = NULL, *pub_path = NULL;
        char *data;
        long size;
        int r;

        if (!prefix || !*prefix)
                return -EINVAL;
        if (asprintf(&key_path, "%s.key", prefix) < 0 || asprintf(&pub_path, "%s.pub", prefix) < 0)
                return -ENOMEM;

        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!pkey)
                return openssl_fail(-EIO);

        /* The secure-memory BIO clears its buffer when freed. */
        priv = BIO_new(BIO_s_secmem());
        pub = BIO_new(BIO_s_mem());
        if (!priv || !pub)
                return openssl_fail(-ENOMEM);
        if (PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
            PEM_write_bio_PUBKEY(pub, pkey) != 1)
                return openssl_fail(-EIO);

        /* O_EXCL: an existing key is someone's identity and is never overwritten. Mode 0600 is
         * set at creation and again with fchmod, so the umask can neither widen nor narrow it. */
        size = BIO_get_mem_data(priv, &data);
        if (size <= 0)
                return openssl_fail(-EIO);
        r = write_file_exclusive(key_path, data, (size_t) size, 0600);
        if (r < 0)
                return r;

        size = BIO_get_mem_data(pub, &data);
        r = size > 0 ? write_file_exclusive(pub_path, data, (size_t) size, 0644) : -EIO;
        if (r < 0) {
                /* No half key pair: a .key without its .pub would be refused next time (-EEXIST). */
                (void) unlink(key_path);
                return openssl_fail(r);
        }
        return 0;
}

int signing_key_load(const char *path, struct signing_key **ret) {
        _cleanup_(secret_buf_done) struct secret_buf buf = {};
        _cleanup_(BIO_freep) BIO *bio = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        int r;

        r = read_file_bounded(path, KEY_FILE_MAX, &buf.data, &buf.size);
        if (r < 0)
                return r;
        r = pem_check_single(buf.data, buf.size);
        if (r < 0)
                return r;

        bio = BIO_new_mem_buf(buf.data, (int) buf.size);
        if (!bio)
                return openssl_fail(-ENOMEM);
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        if (!pkey)
                return openssl_fail(-EBADMSG);
        r = pkey_check_ed25519(pkey);
        if (r < 0)
                return r;

        struct signing_key *k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->pkey = TAKE_PTR(pkey);
        *ret = k;
        return 0;
}

struct signing_key *signing_key_free(struct signing_key *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        return mfree(k);
}

/* The DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410) before its 32 key bytes. */
static const uint8_t ed25519_spki_prefix[12] = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};

/* The key of a PEM "PUBLIC KEY" block. An Ed25519 key, the only kind kyoka trusts, is taken from
 * its 44 DER bytes as they must be; anything else goes through OpenSSL's decoders, only to tell
 * a key of another kind (-EKEYREJECTED) from junk (-EBADMSG). (The decoders try every key type
 * OpenSSL knows: 1 ms of CPU at every kyokad start, measured, for the one key it trusts.) */
static int public_key_from_pem(BIO *bio, EVP_PKEY **ret) {
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long len = 0;

        if (PEM_read_bio(bio, &name, &header, &der, &len) != 1)
                return openssl_fail(-EBADMSG);
        bool public = streq(name, PEM_STRING_PUBLIC);
        EVP_PKEY *pkey = NULL;
        if (public && len == (long) sizeof(ed25519_spki_prefix) + 32 &&
            memcmp(der, ed25519_spki_prefix, sizeof(ed25519_spki_prefix)) == 0)
                pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der + sizeof(ed25519_spki_prefix), 32);
        else if (public) {
                const unsigned char *p = der;
                pkey = d2i_PUBKEY(NULL, &p, len);
                if (pkey && p != der + len) {
                        EVP_PKEY_free(pkey);
                        pkey = NULL;
                }
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        if (!pkey)
                return openssl_fail(-EBADMSG);
        *ret = pkey;
        return 0;
}

/* A public key from the bytes of the file at PATH (kept for messages). */
static int trusted_key_parse(const char *path, const char *buf, size_t size, struct trusted_key **ret) {
        _cleanup_(BIO_freep) BIO *bio = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        char fingerprint[KEY_FINGERPRINT_HEX];
        int r;

        r = pem_check_single(buf, size);
        if (r < 0)
                return r;

        bio = BIO_new_mem_buf(buf, (int) size);
        if (!bio)
                return openssl_fail(-ENOMEM);
        r = public_key_from_pem(bio, &pkey);
        if (r < 0)
                return r;
        r = pkey_check_ed25519(pkey);
        if (r < 0)
                return r;
        r = pkey_fingerprint(pkey, fingerprint);
        if (r < 0)
                return r;

        struct trusted_key *k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->path = strdup(path);
        if (!k->path) {
                free(k);
                return -ENOMEM;
        }
        const char *slash = strrchr(k->path, '/');
        k->name = slash ? slash + 1 : k->path;
        memcpy(k->fingerprint, fingerprint, sizeof(fingerprint));
        k->pkey = TAKE_PTR(pkey);
        *ret = k;
        return 0;
}

int trusted_key_load(const char *path, struct trusted_key **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_file_bounded(path, KEY_FILE_MAX, &buf, &size);
        if (r < 0)
                return r;
        return trusted_key_parse(path, buf, size, ret);
}

struct trusted_key *trusted_key_free(struct trusted_key *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k->path);
        return mfree(k);
}

const char *trusted_key_name(const struct trusted_key *k) {
        return k->name;
}

const char *trusted_key_fingerprint(const struct trusted_key *k) {
        return k->fingerprint;
}

/* EVP wants a non-NULL pointer even for an empty message (an empty policy is still signed). */
static const uint8_t empty_message[1];

int signature_create(const struct signing_key *k, const void *data, size_t size, uint8_t ret[static SIGNATURE_SIZE]) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        uint8_t sig[SIGNATURE_SIZE];
        size_t sig_size = sizeof(sig);

        if (!k || (!data && size > 0))
                return -EINVAL;

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return openssl_fail(-ENOMEM);
        /* No digest: pure Ed25519 signs the message itself, in one shot. */
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
            EVP_DigestSign(ctx, sig, &sig_size, size > 0 ? data : empty_message, size) != 1 ||
            sig_size != SIGNATURE_SIZE)
                return openssl_fail(-EIO);

        memcpy(ret, sig, SIGNATURE_SIZE);
        return 0;
}

int signature_verify(const struct trusted_key *k, const void *data, size_t size, const uint8_t *sig, size_t sig_size) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;

        if (!k || (!data && size > 0))
                return -EINVAL;
        if (!sig || sig_size != SIGNATURE_SIZE)
                return -EINVAL;

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return openssl_fail(-ENOMEM);
        if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1)
                return openssl_fail(-EIO);
        if (EVP_DigestVerify(ctx, sig, sig_size, size > 0 ? data : empty_message, size) != 1)
                return openssl_fail(-EBADMSG);
        return 0;
}

static int keyring_new(const char *source, size_t n_keys, struct keyring **ret) {
        struct keyring *kr = calloc(1, sizeof(*kr));
        if (!kr)
                return -ENOMEM;
        kr->source = strdup(source);
        kr->keys = calloc(n_keys, sizeof(*kr->keys));
        if (!kr->source || !kr->keys) {
                keyring_free(kr);
                return -ENOMEM;
        }
        *ret = kr;
        return 0;
}

static bool is_pub_name(const char *name) {
        size_t n = strlen(name);
        /* As the shell's *.pub: no hidden files (editors' and package managers' leftovers). */
        return name[0] != '.' && n > 4 && streq(name + n - 4, ".pub");
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void names_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
}

_printf_(5, 6) static void refuse(keyring_refusal_fn on_refusal, void *userdata, const char *name, int error,
                                  const char *fmt, ...) {
        char reason[KEYRING_REASON_MAX];
        va_list ap;

        if (!on_refusal)
                return;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        on_refusal(name, error, reason, userdata);
}

/* One key file of the directory DIRFD (DIR, for the key's path), or why not, in REASON. */
static int load_dir_key(int dirfd, const char *dir, const char *name, struct trusted_key **ret, char *reason,
                        size_t reason_size) {
        _cleanup_free_ char *buf = NULL, *path = NULL;
        size_t size;
        int r;

        /* Opened once, not through a symlink, and checked and read through the same fd: what
         * is checked is what is trusted. */
        _cleanup_close_ int fd = file_open_regular_at(dirfd, name);
        if (fd < 0) {
                snprintf(reason, reason_size, "%s",
                         fd == -ELOOP    ? "a symbolic link (not followed)"
                         : fd == -EISDIR ? "a directory"
                         : fd == -EBADFD ? "not a regular file"
                                         : strerror(-fd));
                return fd;
        }
        r = fd_check_trusted(fd, geteuid(), 0, reason, reason_size);
        if (r < 0)
                return r;
        r = read_fd_bounded(fd, KEY_FILE_MAX, &buf, &size);
        if (r < 0) {
                snprintf(reason, reason_size, "%s", r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
                return r;
        }
        path = path_join(dir, name);
        if (!path)
                return -ENOMEM;
        r = trusted_key_parse(path, buf, size, ret);
        if (r < 0)
                snprintf(reason, reason_size, "%s",
                         r == -EKEYREJECTED ? "not an Ed25519 key"
                         : r == -EBADMSG    ? "not exactly one public key in PEM form"
                                            : strerror(-r));
        return r;
}

int keyring_load_dir(const char *dir, keyring_refusal_fn on_refusal, void *userdata, struct keyring **ret) {
        _cleanup_(keyring_freep) struct keyring *kr = NULL;
        char *names[KEYRING_MAX];
        char reason[KEYRING_REASON_MAX];
        size_t n = 0;
        int r = 0;

        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();
        /* Whoever can add a file here can add a key: the directory must be root's or ours. */
        r = fd_check_trusted(dirfd, geteuid(), 0, reason, sizeof reason);
        if (r < 0) {
                refuse(on_refusal, userdata, NULL, r, "%s", reason);
                return r;
        }

        DIR *d;
        r = dir_stream_at(dirfd, &d);
        if (r < 0)
                return r;
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = negative_errno();
                        break;
                }
                if (!is_pub_name(de->d_name))
                        continue;
                if (n >= KEYRING_MAX) {
                        r = -E2BIG;
                        refuse(on_refusal, userdata, NULL, r, "more than %d *.pub files", KEYRING_MAX);
                        break;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r >= 0)
                r = keyring_new(dir, MAX(n, 1u), &kr);
        if (r < 0) {
                names_free(names, n);
                return r;
        }

        /* Sorted, so that the order keys are tried in (and the signer reported, and the
         * refusals) is stable. A key that cannot be used is left out and reported: one broken
         * file must not take every other key, and with them the policy, away. */
        qsort(names, n, sizeof(names[0]), strcmp_ptr);
        for (size_t i = 0; i < n; i++) {
                r = load_dir_key(dirfd, dir, names[i], &kr->keys[kr->n_keys], reason, sizeof reason);
                if (r == -ENOMEM)
                        break;
                if (r < 0) {
                        refuse(on_refusal, userdata, names[i], r, "%s", reason);
                        r = 0;
                        continue;
                }
                kr->n_keys++;
        }
        names_free(names, n);
        if (r < 0)
                return r;
        if (kr->n_keys == 0)
                return -ENOENT;

        *ret = TAKE_PTR(kr);
        return 0;
}

int keyring_new_single(struct trusted_key *k, struct keyring **ret) {
        struct keyring *kr;
        int r;

        if (!k)
                return -EINVAL;
        r = keyring_new(k->path, 1, &kr);
        if (r < 0) {
                trusted_key_free(k);
                return r;
        }
        kr->keys[0] = k;
        kr->n_keys = 1;
        *ret = kr;
        return 0;
}

struct keyring *keyring_free(struct keyring *kr) {
        if (!kr)
                return NULL;
        for (size_t i = 0; i < kr->n_keys; i++)
                trusted_key_free(kr->keys[i]);
        free(kr->keys);
        free(kr->source);
        return mfree(kr);
}

size_t keyring_size(const struct keyring *kr) {
        return kr ? kr->n_keys : 0;
}

const char *keyring_source(const struct keyring *kr) {
        return kr ? kr->source : NULL;
}

int keyring_verify(const struct keyring *kr, const void *data, size_t size, const uint8_t *sig, size_t sig_size,
                   const struct trusted_key **ret_signer) {
        int r;

        if (!kr)
                return -EINVAL;
        if (!sig || sig_size != SIGNATURE_SIZE)
                return -EINVAL;

        for (size_t i = 0; i < kr->n_keys; i++) {
                r = signature_verify(kr->keys[i], data, size, sig, sig_size);
                if (r == -EBADMSG)
                        continue;
                if (r < 0)
                        return r;
                if (ret_signer)
                        *ret_signer = kr->keys[i];
                return 0;
        }
        return -EBADMSG;
}

int sha256_digest(const void *data, size_t size, uint8_t ret[static 32]) {
        unsigned n = 0;

        if (EVP_Digest(data, size, ret, &n, EVP_sha256(), NULL) != 1 || n != 32) {
                ERR_clear_error();
                return -EIO;
        }
        return 0;
}
