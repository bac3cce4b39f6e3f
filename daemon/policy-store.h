/* SPDX-License-Identifier: MIT */
/* The last accepted policy, kept by kyokad beside the anti-rollback state so that a broken or
 * half-installed CONFIG_DIR pair (policy.conf written, policy.conf.sig not yet: a crash in the
 * middle of `policyctl install`, or a bad hand copy) never drops the last good policy.
 *
 * STATE_DIR/accepted is a symlink to STATE_DIR/accepted-<sha256>/ holding policy.conf and
 * policy.conf.sig; a new copy is written into a new directory and the link is swapped with one
 * rename(2), so the copy itself is never seen half-written. The copy is not trusted for being
 * there: it goes through policy_load like any other policy (signature, host, expiry, and
 * rollback, which it passes as "the same policy again"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyoka-names.h"
#include "policy-load.h"

/* What policy_store_load did beyond the load itself, for the caller to record (this module
 * records nothing: plain file logic, testable alone). */
struct policy_store_note {
        enum {
                POLICY_STORE_NOTE_NONE,
                POLICY_STORE_NOTE_FALLBACK,      /* CONFIG_DIR's policy refused, the accepted copy in force */
                POLICY_STORE_NOTE_COPY_REFUSED,  /* CONFIG_DIR's policy refused, and the copy too */
        } kind;
        enum policy_load_error cause; /* FALLBACK: why CONFIG_DIR's was refused; COPY_REFUSED: why the copy was */
        int error;                    /* the refusal's negative errno */
        char text[1024];              /* one line for the fault record */
};

/* Runs policy_load on OPTS (the CONFIG_DIR policy). If that is refused and STATE_DIR holds an
 * accepted copy, loads the copy instead: then returns 0 with *ret_fallback = true, RESULT
 * describes the copy, and RESULT's message says why CONFIG_DIR's policy was refused. If both
 * are refused, RESULT describes the CONFIG_DIR refusal. RESULT and *RET_NOTE are always
 * initialised. */
int policy_store_load(const struct policy_load_options *opts, const char *state_dir,
                      struct policy_load_result *result, bool *ret_fallback, struct policy_store_note *ret_note);

/* Saves the policy that RESULT accepted from POLICY_PATH as the accepted copy, unless the copy
 * already holds it. The files are read again and must still be the bytes RESULT hashed, with a
 * signature KEYS accept (-ESTALE otherwise: they changed since the load, the next load will
 * see them). */
int policy_store_save(const char *state_dir, const char *policy_path, const struct keyring *keys,
                      const struct policy_load_result *result);

/* STATE_DIR/accepted/policy.conf, newly allocated (NULL on OOM). */
char *policy_store_path(const char *state_dir);
