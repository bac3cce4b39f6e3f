/* SPDX-License-Identifier: MIT */
/* The load gate: the one place that decides whether a policy file may be enforced.
 *
 * The file is read once, and everything after that works on those bytes: their signature is
 * checked first, and only then are they parsed, so that the parser (the largest attack surface
 * here) never sees bytes the approver did not sign, and nothing can swap the file between the
 * check and the use. Each refusal fills one line for humans saying what was refused and why;
 * the callers (kyokad, policyctl) decide how to log or print it. */
#include "policy-load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


#include "fileio.h"
#include "macro.h"
#include "policy-image.h"
#include "policy-rollback.h"

#define SIGNATURE_FILE_MAX 4096u

static void set_message(struct policy_load_result *result, const char *format, ...) _printf_(2, 3);
static void set_message(struct policy_load_result *result, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(result->message, sizeof(result->message), format, ap);
        va_end(ap);
}

static int refuse(struct policy_load_result *result, enum policy_load_error error, int r) {
        result->error = error;
        result->errno_value = r;
        return r;
}

/* The first error of a failed parse, for the one-line message; the diag holds them all. */
static const char *first_error(const struct policy_diag *diag) {
        for (size_t i = 0; i < diag->n_messages; i++)
                if (!strstr(diag->messages[i], ": warning: "))
                        return diag->messages[i];
        return NULL;
}

static int check_signature(const struct policy_load_options *opts, const char *text, size_t size,
                           struct policy_load_result *result) {
        _cleanup_free_ char *sig_path = NULL, *sig = NULL;
        size_t sig_size;
        int r;

        if (asprintf(&sig_path, "%s.sig", opts->policy_path) < 0)
                return refuse(result, LOAD_UNREADABLE, -ENOMEM);

        r = read_file_bounded(sig_path, SIGNATURE_FILE_MAX, &sig, &sig_size);
        if (r == -ENOENT) {
                set_message(result, "%s: signature file %s does not exist: the policy is not signed",
                            opts->policy_path, sig_path);
                return refuse(result, LOAD_UNSIGNED, r);
        }
        if (r == -EFBIG) {
                set_message(result, "%s: signature file %s has more than %u bytes, expected %u",
                            opts->policy_path, sig_path, SIGNATURE_FILE_MAX, SIGNATURE_SIZE);
                return refuse(result, LOAD_BAD_SIGNATURE, -EINVAL);
        }
        if (r < 0) {
                set_message(result, "%s: cannot read signature file %s: %s", opts->policy_path, sig_path,
                            strerror(-r));
                return refuse(result, LOAD_UNREADABLE, r);
        }
        if (sig_size != SIGNATURE_SIZE) {
                set_message(result, "%s: signature file %s has %zu bytes, expected %u", opts->policy_path,
                            sig_path, sig_size, SIGNATURE_SIZE);
                return refuse(result, LOAD_BAD_SIGNATURE, -EINVAL);
        }

        r = keyring_verify(opts->keys, text, size, (const uint8_t *) sig, sig_size, &result->signer);
        if (r == -EBADMSG) {
                size_t n = keyring_size(opts->keys);
                set_message(result,
                            "%s: the signature does not match any trusted key (%zu %s from %s): the file was "
                            "changed after it was signed, or signed with a key that is not trusted",
                            opts->policy_path, n, n == 1 ? "key" : "keys", keyring_source(opts->keys));
                return refuse(result, LOAD_BAD_SIGNATURE, r);
        }
        if (r < 0) {
                set_message(result, "%s: cannot verify the signature: %s", opts->policy_path, strerror(-r));
                return refuse(result, LOAD_BAD_SIGNATURE, r);
        }
        return 0;
}

static int check_applicable(const struct policy_load_options *opts, const struct policy *p,
                            struct policy_load_result *result) {
        const char *hostname = opts->hostname;
        int r;

        /* No host identity given means "do not check the host" (policyctl verify on the
         * approver's machine). policy_check_applicable() would read it as "no host matches",
         * so let the policy's own workstation stand in for the host. */
        if (!opts->hostname && !opts->machine_id)
                hostname = p->n_workstations > 0 ? p->workstations[0] : NULL;

        r = policy_check_applicable(p, opts->now, hostname, opts->machine_id);
        if (r == -EKEYEXPIRED) {
                set_message(result, "%s: serial %" PRIu64 " expired: its valid_until %s has passed",
                            opts->policy_path, p->serial, p->valid_until_text ?: "(unknown)");
                return refuse(result, LOAD_EXPIRED, r);
        }
        if (r == -EXDEV) {
                set_message(result, "%s: serial %" PRIu64 " is for workstation \"%s\", not this host (%s%s%s)",
                            opts->policy_path, p->serial, p->workstation, opts->hostname ?: "",
                            opts->hostname && opts->machine_id ? ", machine-id " : "", opts->machine_id ?: "");
                return refuse(result, LOAD_OTHER_HOST, r);
        }
        if (r < 0) {
                set_message(result, "%s: cannot tell whether the policy applies here: %s", opts->policy_path,
                            strerror(-r));
                return refuse(result, LOAD_INVALID, r);
        }
        return 0;
}

static int check_rollback(const struct policy_load_options *opts, const struct policy *p,
                          struct policy_load_result *result) {
        struct rollback_state last = {};
        int r;

        r = rollback_check(opts->state_dir, p->serial, result->sha256);
        if (r == 1) {
                result->unchanged = true;
                return 0;
        }
        if (r == 0)
                return 0;

        /* For the message only; the verdict above already stands. */
        if (r == -ESTALE || r == -EEXIST)
                (void) rollback_state_read(opts->state_dir, &last);

        if (r == -ESTALE) {
                set_message(result,
                            "%s: serial %" PRIu64 " is not newer than the last accepted policy's serial %" PRIu64
                            " (refusing a rollback)",
                            opts->policy_path, p->serial, last.serial);
                return refuse(result, LOAD_ROLLBACK, r);
        }
        if (r == -EEXIST) {
                set_message(result,
                            "%s: serial %" PRIu64 " was already accepted with different contents; "
                            "a changed policy needs a higher serial",
                            opts->policy_path, p->serial);
                return refuse(result, LOAD_SERIAL_REUSED, r);
        }
        if (r == -EBADMSG)
                set_message(result, "%s/%s is corrupt: the anti-rollback state cannot be trusted, refusing %s",
                            opts->state_dir, KYOKA_POLICY_STATE_FILE, opts->policy_path);
        else
                set_message(result, "cannot read the anti-rollback state %s/%s: %s; refusing %s", opts->state_dir,
                            KYOKA_POLICY_STATE_FILE, strerror(-r), opts->policy_path);
        return refuse(result, LOAD_STATE_CORRUPT, r);
}

static int load_image(const struct policy_load_options *opts, const uint8_t sha256[static 32], struct policy **ret) {
        _cleanup_close_ int dirfd = open(opts->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dirfd < 0)
                return negative_errno();
        return policy_image_load_at(dirfd, KYOKA_POLICY_IMAGE_FILE, sha256, opts->hostname, opts->machine_id,
                                    opts->policy_path, ret);
}

/* Beside the signature check: the SHA-256 of the bytes, then (use_image) the image it names. */
struct beside {
        const struct policy_load_options *opts;
        const char *text;
        size_t size;
        uint8_t sha256[32];
        int hash_error;
        int image_error;
        struct policy *image;
};

#define BESIDE_THREAD_MIN (1u << 20)  /* bytes; below, a thread costs more than it saves */

static void *beside_run(void *userdata) {
        struct beside *b = userdata;

        b->hash_error = sha256_digest(b->text, b->size, b->sha256);
        if (b->hash_error >= 0 && b->opts->use_image && b->opts->state_dir)
                b->image_error = load_image(b->opts, b->sha256, &b->image);
        return NULL;
}

int policy_load(const struct policy_load_options *opts, struct policy_load_result *result) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        *result = (struct policy_load_result) {};

        if (!opts || !opts->policy_path) {
                set_message(result, "no policy file given");
                return refuse(result, LOAD_UNREADABLE, -EINVAL);
        }

        if (keyring_size(opts->keys) == 0) {
                set_message(result, "%s: no trusted key to check its signature against", opts->policy_path);
                return refuse(result, LOAD_NO_KEYS, -ENOKEY);
        }

        r = read_file_bounded(opts->policy_path, POLICY_FILE_MAX, &text, &size);
        if (r == -EFBIG) {
                set_message(result, "%s: larger than %u MiB, refusing to read it", opts->policy_path,
                            POLICY_FILE_MAX >> 20);
                return refuse(result, LOAD_UNREADABLE, r);
        }
        if (r < 0) {
                set_message(result, "cannot read policy %s: %s", opts->policy_path, strerror(-r));
                return refuse(result, LOAD_UNREADABLE, r);
        }
        /* The SHA-256 and the image it names are independent of the signature check (which hashes
         * the bytes with SHA-512 inside Ed25519): on a large policy they run on a second thread
         * meanwhile. Nothing they produce is used unless the signature verifies. */
        struct beside b = { .opts = opts, .text = text, .size = size };
        pthread_t thread;
        bool threaded = size >= BESIDE_THREAD_MIN && pthread_create(&thread, NULL, beside_run, &b) == 0;
        if (!threaded)
                (void) beside_run(&b);

        /* Before the parser: it only ever sees signed bytes. */
        r = check_signature(opts, text, size, result);
        if (threaded)
                (void) pthread_join(thread, NULL);
        _cleanup_(policy_freep) struct policy *image = TAKE_PTR(b.image);
        if (b.hash_error < 0) {
                set_message(result, "%s: cannot hash the policy: %s", opts->policy_path, strerror(-b.hash_error));
                return refuse(result, LOAD_UNREADABLE, b.hash_error);
        }
        memcpy(result->sha256, b.sha256, sizeof result->sha256);
        if (r < 0)
                return r;

        /* The image stands in for the parse only: every check below runs on it all the same. */
        result->image_error = b.image_error;
        result->from_image = image != NULL;
        p = TAKE_PTR(image);
        r = result->from_image ? 0 : policy_parse(text, size, opts->policy_path, &p, &result->diag);
        if (r < 0) {
                const char *first = first_error(&result->diag);
                if (first)
                        set_message(result, "%s is signed but not a valid policy: %s%s", opts->policy_path, first,
                                    result->diag.n_errors > 1 ? " (and more errors)" : "");
                else
                        set_message(result, "%s is signed but cannot be parsed: %s", opts->policy_path,
                                    strerror(-r));
                return refuse(result, LOAD_INVALID, r);
        }

        r = check_applicable(opts, p, result);
        if (r < 0)
                return r;
        /* One signed file may serve a fleet: this host enforces the entries meant for it. The
         * signature covers them all; what is dropped is what another workstation enforces. */
        if (opts->hostname || opts->machine_id) {
                r = policy_restrict_to_host(p, opts->hostname, opts->machine_id);
                if (r < 0) {
                        set_message(result, "%s: out of memory", opts->policy_path);
                        return refuse(result, LOAD_UNREADABLE, r);
                }
        }

        if (opts->state_dir) {
                r = check_rollback(opts, p, result);
                if (r < 0)
                        return r;
        }

        if (result->unchanged)
                set_message(result, "%s: serial %" PRIu64 " is the policy already in force (unchanged), signed by %s",
                            opts->policy_path, p->serial, trusted_key_name(result->signer));
        else
                set_message(result, "%s: serial %" PRIu64 " accepted, signed by %s (key %.32s)", opts->policy_path,
                            p->serial, trusted_key_name(result->signer), trusted_key_fingerprint(result->signer));
        result->policy = TAKE_PTR(p);
        result->error = LOAD_OK;
        return 0;
}

int policy_load_commit(const char *state_dir, const struct policy_load_result *result) {
        int r;

        if (!state_dir || !result || result->error != LOAD_OK || !result->policy)
                return -EINVAL;

        /* Checked again here, not trusted from policy_load(): the load may have run without a
         * state dir, or another process may have committed since. The state never goes back. */
        r = rollback_check(state_dir, result->policy->serial, result->sha256);
        if (r < 0)
                return r;
        if (r == 1)
                return 0;

        return rollback_commit(state_dir, result->policy->serial, result->sha256);
}

int policy_load_save_image(const struct policy_load_options *opts, const struct policy_load_result *result) {
        _cleanup_close_ int dirfd = -EBADF;

        if (!opts || !opts->state_dir || !result || result->error != LOAD_OK || !result->policy)
                return -EINVAL;
        if (result->from_image)
                return 0;
        dirfd = open(opts->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();
        return policy_image_write_at(dirfd, KYOKA_POLICY_IMAGE_FILE, result->policy, result->sha256, opts->hostname,
                                     opts->machine_id);
}

int policy_load_take_image(const struct policy_load_options *opts, struct policy_load_result *result) {
        _cleanup_(policy_freep) struct policy *image = NULL;
        int r;

        if (!opts || !opts->state_dir || !result || result->error != LOAD_OK || !result->policy)
                return -EINVAL;
        if (result->from_image)
                return 0;
        _cleanup_close_ int dirfd = open(opts->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();
        r = policy_image_load_at(dirfd, KYOKA_POLICY_IMAGE_FILE, result->sha256, opts->hostname, opts->machine_id,
                                 result->policy->source, &image);
        if (r < 0)
                return r;
        /* Made from this very policy a moment ago (its SHA-256 and host checked by the load): the
         * same entries in the same order. Anything else is not taken. */
        const struct policy *p = result->policy;
        if (image->serial != p->serial || image->n_usb != p->n_usb || image->n_net != p->n_net ||
            image->n_wireless != p->n_wireless || image->n_media != p->n_media || image->n_fixed != p->n_fixed)
                return -EBADMSG;
        policy_free(result->policy);
        result->policy = TAKE_PTR(image);
        result->from_image = true;
        return 0;
}

void policy_load_result_done(struct policy_load_result *result) {
        if (!result)
                return;
        result->policy = policy_free(result->policy);
        policy_diag_done(&result->diag);
}

const char *policy_load_error_to_string(enum policy_load_error e) {
        static const char *const table[] = {
                [LOAD_OK] = "ok",
                [LOAD_UNREADABLE] = "unreadable",
                [LOAD_UNSIGNED] = "unsigned",
                [LOAD_NO_KEYS] = "no-keys",
                [LOAD_BAD_SIGNATURE] = "bad-signature",
                [LOAD_INVALID] = "invalid",
                [LOAD_EXPIRED] = "expired",
                [LOAD_OTHER_HOST] = "other-host",
                [LOAD_ROLLBACK] = "rollback",
                [LOAD_SERIAL_REUSED] = "serial-reused",
                [LOAD_STATE_CORRUPT] = "state-corrupt",
                [LOAD_STATE_UNWRITABLE] = "state-unwritable",
        };
        _Static_assert(ELEMENTSOF(table) == _LOAD_ERROR_MAX, "a code per error");

        if ((unsigned) e >= ELEMENTSOF(table))
                return NULL;
        return table[e];
}
