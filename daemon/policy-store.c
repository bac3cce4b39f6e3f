/* SPDX-License-Identifier: MIT */
/* The accepted copy of the policy (policy-store.h): written after every successful load from
 * CONFIG_DIR, read only when CONFIG_DIR's pair is refused. */
#include "policy-store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "fileio.h"
#include "hexutil.h"
#include "macro.h"

#define STORE_DIR_PREFIX "accepted-"
#define SIG_FILE_MAX 4096u

char *policy_store_path(const char *state_dir) {
        char *p;
        if (asprintf(&p, "%s/" KYOKA_ACCEPTED_LINK "/" KYOKA_POLICY_FILE, state_dir) < 0)
                return NULL;
        return p;
}

int policy_store_load(const struct policy_load_options *opts, const char *state_dir,
                      struct policy_load_result *result, bool *ret_fallback, struct policy_store_note *ret_note) {
        _cleanup_free_ char *copy_path = NULL;
        char refusal[sizeof result->message];
        int r, q;

        ret_note->kind = POLICY_STORE_NOTE_NONE;
        ret_note->text[0] = 0;
        r = policy_load(opts, result);
        if (r >= 0 || !state_dir) {
                if (r >= 0)
                        *ret_fallback = false;
                return r;
        }

        copy_path = policy_store_path(state_dir);
        if (!copy_path || access(copy_path, F_OK) < 0)
                return r;               /* no copy: the CONFIG_DIR refusal stands */

        struct policy_load_result copy;
        struct policy_load_options copy_opts = *opts;
        copy_opts.policy_path = copy_path;
        q = policy_load(&copy_opts, &copy);
        if (q < 0) {
                ret_note->kind = POLICY_STORE_NOTE_COPY_REFUSED;
                ret_note->cause = copy.error;
                ret_note->error = q;
                snprintf(ret_note->text, sizeof ret_note->text, "The accepted copy %s is refused too: %s", copy_path,
                         copy.message);
                policy_load_result_done(&copy);
                return r;
        }

        snprintf(refusal, sizeof refusal, "%s", result->message);
        ret_note->kind = POLICY_STORE_NOTE_FALLBACK;
        ret_note->cause = result->error;
        ret_note->error = r;
        snprintf(ret_note->text, sizeof ret_note->text,
                 "%s; falling back to the last accepted policy (serial %" PRIu64 ", %s)", refusal, copy.policy->serial,
                 copy_path);
        policy_load_result_done(result);
        *result = copy;
        snprintf(result->message, sizeof result->message,
                 "%.250s; the last accepted policy (serial %" PRIu64 ", kept in %.120s) is in force instead", refusal,
                 result->policy->serial, copy_path);
        *ret_fallback = true;
        return 0;
}

/* Removes DIR/NAME/policy.conf{,.sig} and DIR/NAME (a copy directory; nothing else lives there). */
static void remove_copy_dir(int dirfd, const char *name) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return;
        (void) unlinkat(fd, KYOKA_POLICY_FILE, 0);
        (void) unlinkat(fd, KYOKA_POLICY_SIG_FILE, 0);
        (void) unlinkat(dirfd, name, AT_REMOVEDIR);
}

int policy_store_save(const char *state_dir, const char *policy_path, const struct keyring *keys,
                      const struct policy_load_result *result) {
        _cleanup_free_ char *text = NULL, *sig = NULL, *sig_path = NULL, *dir_path = NULL, *conf_copy = NULL,
                            *sig_copy = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        char name[sizeof STORE_DIR_PREFIX + 64], old[NAME_MAX + 1], hex[65];
        const struct trusted_key *signer;
        size_t size, sig_size;
        uint8_t sha[32];
        ssize_t n;
        int r;

        if (!result || result->error != LOAD_OK)
                return -EINVAL;

        hex_encode(result->sha256, 32, hex);
        snprintf(name, sizeof name, STORE_DIR_PREFIX "%s", hex);

        dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return negative_errno();

        n = readlinkat(dirfd, KYOKA_ACCEPTED_LINK, old, sizeof old - 1);
        old[n > 0 ? n : 0] = 0;
        if (streq(old, name) && faccessat(dirfd, KYOKA_ACCEPTED_LINK "/" KYOKA_POLICY_SIG_FILE, F_OK, 0) == 0)
                return 0;               /* the copy holds this policy already */

        /* The very bytes that were accepted, with a signature that still verifies. */
        r = read_file_bounded(policy_path, POLICY_FILE_MAX, &text, &size);
        if (r < 0)
                return r;
        r = sha256_digest(text, size, sha);
        if (r < 0)
                return r;
        if (memcmp(sha, result->sha256, 32) != 0)
                return -ESTALE;
        if (asprintf(&sig_path, "%s.sig", policy_path) < 0)
                return -ENOMEM;
        r = read_file_bounded(sig_path, SIG_FILE_MAX, &sig, &sig_size);
        if (r < 0)
                return r;
        if (keyring_verify(keys, text, size, (const uint8_t *) sig, sig_size, &signer) < 0)
                return -ESTALE;

        dir_path = path_join(state_dir, name);
        conf_copy = dir_path ? path_join(dir_path, KYOKA_POLICY_FILE) : NULL;
        sig_copy = dir_path ? path_join(dir_path, KYOKA_POLICY_SIG_FILE) : NULL;
        if (!conf_copy || !sig_copy)
                return -ENOMEM;

        remove_copy_dir(dirfd, name); /* a leftover of an interrupted save */
        if (mkdirat(dirfd, name, 0755) < 0)
                return negative_errno();
        r = write_file_atomic(conf_copy, text, size, 0644);
        if (r >= 0)
                r = write_file_atomic(sig_copy, sig, sig_size, 0644);
        if (r < 0) {
                remove_copy_dir(dirfd, name);
                return r;
        }

        /* The swap: one rename of a symlink, so "accepted" is always a whole pair. */
        (void) unlinkat(dirfd, KYOKA_ACCEPTED_LINK ".tmp", 0);
        if (symlinkat(name, dirfd, KYOKA_ACCEPTED_LINK ".tmp") < 0 ||
            renameat(dirfd, KYOKA_ACCEPTED_LINK ".tmp", dirfd, KYOKA_ACCEPTED_LINK) < 0) {
                r = negative_errno();
                (void) unlinkat(dirfd, KYOKA_ACCEPTED_LINK ".tmp", 0);
                remove_copy_dir(dirfd, name);
                return r;
        }
        if (fsync(dirfd) < 0)
                return negative_errno();

        if (old[0] && !streq(old, name) && strncmp(old, STORE_DIR_PREFIX, strlen(STORE_DIR_PREFIX)) == 0 &&
            !strchr(old, '/'))
                remove_copy_dir(dirfd, old);
        return 0;
}
