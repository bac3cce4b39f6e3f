/* SPDX-License-Identifier: MIT */
/* Anti-rollback: the serial and SHA-256 of the last accepted policy, in STATE_DIR/policy.state,
 * replaced atomically. A policy is accepted only if its serial is greater than the last one;
 * the same serial with the same bytes is the same policy (a no-op); the same serial with other
 * bytes is refused. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kyoka-names.h"  /* KYOKA_POLICY_STATE_FILE */

struct rollback_state {
        uint64_t serial;
        uint8_t sha256[32];
};

/* Reads the state. -ENOENT if no policy was ever accepted; -EBADMSG if the file is corrupt
 * (callers must treat that as a fault, not as "nothing accepted"). */
int rollback_state_read(const char *state_dir, struct rollback_state *ret);

/* The file's contents (SIZE bytes, not NUL-terminated) -> the state, as rollback_state_read
 * parses them: -EBADMSG for anything but the one spelling rollback_state_format writes. */
int rollback_state_parse(const char *text, size_t size, struct rollback_state *ret);

/* The file's contents for SERIAL/SHA256 into BUF (SIZE bytes, ROLLBACK_STATE_TEXT_MAX is
 * enough); returns the length without the NUL, or -ENOBUFS. */
#define ROLLBACK_STATE_TEXT_MAX 128
int rollback_state_format(uint64_t serial, const uint8_t sha256[static 32], char *buf, size_t size);

/* Compares a candidate with the state: 0 newer (accept), 1 the same policy again (no-op),
 * -ESTALE serial lower than the last accepted, -EEXIST same serial with other bytes.
 * No state file counts as "newer". */
int rollback_check(const char *state_dir, uint64_t serial, const uint8_t sha256[static 32]);

/* Records SERIAL/SHA256 as the last accepted policy (atomic replace, creates STATE_DIR's file). */
int rollback_commit(const char *state_dir, uint64_t serial, const uint8_t sha256[static 32]);
