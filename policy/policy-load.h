/* SPDX-License-Identifier: MIT */
/* The gate between a policy file on disk and a policy in force: read the bytes once, verify
 * their signature against the trusted keys, parse those same bytes, check that the policy
 * applies to this host and time, and check anti-rollback. kyokad and `policyctl verify` and
 * `install` all pass through here, so there is exactly one definition of "acceptable". */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy-sign.h"
#include "policy.h"

enum policy_load_error {
        LOAD_OK = 0,
        LOAD_UNREADABLE,              /* the policy or its .sig could not be read */
        LOAD_UNSIGNED,                /* the policy has no .sig beside it */
        LOAD_NO_KEYS,                 /* no trusted key */
        LOAD_BAD_SIGNATURE,           /* no trusted key signed these bytes, or the .sig is malformed */
        LOAD_INVALID,                 /* signed, but not a valid policy (diag says why) */
        LOAD_EXPIRED,                 /* the policy's valid_until has passed */
        LOAD_OTHER_HOST,              /* `workstation` names another host */
        LOAD_ROLLBACK,                /* serial lower than the last accepted */
        LOAD_SERIAL_REUSED,           /* same serial as the last accepted, other bytes */
        LOAD_STATE_CORRUPT,           /* the anti-rollback state cannot be read */
        LOAD_STATE_UNWRITABLE,        /* accepted, but policy_load_commit() could not record the serial */
        _LOAD_ERROR_MAX,
};

struct policy_load_options {
        const char *policy_path;      /* the policy; its signature is POLICY_PATH.sig */
        const struct keyring *keys;
        const char *state_dir;        /* NULL: skip the anti-rollback check */
        const char *hostname;         /* hostname and machine_id both NULL: skip the workstation check
                                       * and keep every entry; else only the entries for this host */
        const char *machine_id;
        int64_t now;
        /* Take STATE_DIR's compiled image (policy-image.h) instead of parsing when it was made from
         * the very bytes verified, for this host; anything else about it: parse. kyokad sets it;
         * policyctl parses (it shows the parser's warnings). */
        bool use_image;
};

struct policy_load_result {
        enum policy_load_error error;
        int errno_value;              /* negative errno of the failing step, 0 on success */
        struct policy *policy;        /* owned by the result; NULL unless error == LOAD_OK */
        const struct trusted_key *signer; /* owned by the keyring */
        uint8_t sha256[32];           /* of the policy's bytes (valid once they were read) */
        bool unchanged;               /* same serial and bytes as the last accepted */
        bool from_image;              /* the policy was read from STATE_DIR's image, not parsed */
        int image_error;              /* use_image and parsed: why the image was not taken (negative
                                       * errno: -ENOENT none, -ESTALE made from other bytes, for
                                       * another host or by another image version, -EBADMSG damaged, -EPERM not trusted) */
        struct policy_diag diag;
        char message[512];            /* one line for humans: what was refused and why */
};

/* Runs the whole gate. Returns 0 if the policy may be enforced, otherwise a negative errno
 * with RESULT saying which step refused it. RESULT is always initialised; release it with
 * policy_load_result_done(). Does not commit the anti-rollback state: that is the caller's
 * decision once the policy is really in force (policy_load_commit). */
int policy_load(const struct policy_load_options *opts, struct policy_load_result *result);
/* Records RESULT's serial and hash as the last accepted policy. Checks again first, so the state
 * never moves back (-ESTALE, -EEXIST, -EBADMSG as rollback_check); 0 without writing when the
 * policy is unchanged; -EINVAL unless RESULT is LOAD_OK. */
int policy_load_commit(const char *state_dir, const struct policy_load_result *result);
void policy_load_result_done(struct policy_load_result *result);
/* Writes STATE_DIR's compiled image of the policy RESULT accepted (parsed, and restricted to the
 * host OPTS names), so that the next load of the same bytes need not parse them; 0 without
 * writing when RESULT came from the image. -EINVAL unless RESULT is LOAD_OK and OPTS has a
 * state_dir. The image is only an aid: callers report a failure and go on. */
int policy_load_save_image(const struct policy_load_options *opts, const struct policy_load_result *result);
/* After policy_load_save_image(): puts the policy read back from that image in RESULT in place of
 * the parsed one (the same entries; the parse's strings are freed, the image's live in its
 * read-only mapping, as on every later start). Returns 0 and sets RESULT->from_image (0 too when
 * it was set already); on an error RESULT keeps the parsed policy. For kyokad, which holds the
 * policy for long; -EINVAL unless RESULT is LOAD_OK and OPTS has a state_dir. */
int policy_load_take_image(const struct policy_load_options *opts, struct policy_load_result *result);
/* A stable code per error ("bad-signature", ...): kyokad records it in the ledger (a refusal's
 * reason is "FAULT:CODE", daemon/recorder.h), so a code never changes once released. */
const char *policy_load_error_to_string(enum policy_load_error e);
