/* SPDX-License-Identifier: MIT */
/* The compiled policy image (STATE_DIR/policy.image): the parsed struct policy of one signed
 * policy file, serialised into one read-only file of fixed-size records, string offsets and
 * counts (no pointers), bound to the SHA-256 of the signed bytes it was made from and to the
 * host it was restricted to.
 *
 * Why: parsing is most of a large policy's load (libconfig and the checks of every field). The
 * signature still guards what is enforced: policy_load() reads and verifies the signed bytes
 * every time and takes the image only when it was made from those very bytes (the SHA-256 in
 * its header); otherwise it parses them as before. The image is not trusted for being there:
 * it must be a regular file owned by root (or us) that nobody else may write, its checksum must
 * match, and every count, offset and length in it is checked before anything is built from it.
 * Anything wrong makes the load fall back to parsing (never a crash, never a looser policy).
 *
 * Memory: the image is mapped read-only and the policy's strings, interface patterns and
 * BSSIDs point into the mapping (page cache, only the pages a lookup touches are resident);
 * the entry arrays and the hash indices are built on the heap, and the USB table (the largest)
 * is then read from the mapping when the image's copy equals the one built. Such a policy is
 * released by policy_free() like any other (it calls policy_image_free()). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define POLICY_IMAGE_VERSION 3  /* 2: the USB hash table stored; 3: scan "in-and-out", defaults.scan an enum */
#define POLICY_IMAGE_MAX (256u << 20)  /* bytes: 1,000,000 entries with room */

/* Serialises P (parsed from the bytes whose SHA-256 is SOURCE_SHA256, and restricted to the host
 * HOSTNAME / MACHINE_ID; both NULL: not restricted) into a new buffer. -E2BIG when P does not fit
 * the image's bounds, -ENOMEM. */
int policy_image_serialize(const struct policy *p, const uint8_t source_sha256[static 32], const char *hostname,
                           const char *machine_id, void **ret, size_t *ret_size);

/* The same, written to NAME under DIRFD atomically (a new file, fsync, rename, 0600). */
int policy_image_write_at(int dirfd, const char *name, const struct policy *p, const uint8_t source_sha256[static 32],
                          const char *hostname, const char *machine_id);

/* Builds the policy an image describes. DATA (SIZE bytes) must hold an image made from the bytes
 * whose SHA-256 is SOURCE_SHA256, for the same HOSTNAME and MACHINE_ID; SOURCE names the policy
 * in messages (policy->source). The policy borrows DATA's strings: DATA must outlive it.
 * -ESTALE: an intact image of other bytes or for another host, or an image of another
 * POLICY_IMAGE_VERSION; -EBADMSG: not an intact image
 * (bad magic, version, checksum, a count or offset out of bounds, a value out of range);
 * -ENOMEM. *RET is written only on success. */
int policy_image_load_buffer(const void *data, size_t size, const uint8_t source_sha256[static 32],
                             const char *hostname, const char *machine_id, const char *source, struct policy **ret);

/* Opens NAME under DIRFD (no symlink, a regular file, trusted: fd_check_trusted), checks it as
 * above and maps it; the policy owns the mapping. -ENOENT when there is no image, -EPERM when it
 * is not trusted, else as policy_image_load_buffer. */
int policy_image_load_at(int dirfd, const char *name, const uint8_t source_sha256[static 32], const char *hostname,
                         const char *machine_id, const char *source, struct policy **ret);

/* For tests and fuzzing: recomputes the checksum of the image DATA (SIZE bytes) in place, so
 * that a crafted image reaches the structural checks, and returns the SHA-256 its header names.
 * -EBADMSG when DATA is too short to have a header. */
int policy_image_seal(void *data, size_t size, uint8_t ret_source_sha256[static 32]);

/* Releases a policy built by policy_image_load_*: its heap arrays, indices and mapping.
 * policy_free() calls it for a policy whose ->image is set. Returns NULL. */
struct policy *policy_image_free(struct policy *p);
