/* SPDX-License-Identifier: MIT */
/* UTF-8: one strict decoder (RFC 3629) for every place that reads text a device, a file or a
 * person controls, and the few things its callers build on it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence at the start of S (LEN bytes available), with its
 * code point in *ret_cp (if not NULL); 0 if S does not start one: an empty S, a continuation
 * byte, C0/C1 or F5..FF, a truncated sequence, an overlong form, a surrogate, or a code point
 * beyond U+10FFFF. */
size_t utf8_decode(const char *s, size_t len, uint32_t *ret_cp);

/* As utf8_decode() on the NUL-terminated S: reads at most four bytes and never past the NUL (a
 * NUL is not a continuation byte). 0 at the NUL itself. */
size_t utf8_decode_str(const char *s, uint32_t *ret_cp);

/* Whether the NUL-terminated S is valid UTF-8 throughout. */
bool utf8_is_valid(const char *s);

/* Code points that act on what a reader sees beyond their own glyph: C0 and C1 controls and DEL
 * reach a terminal, the line and paragraph separators fake a line, and the bidi embeddings,
 * overrides and isolates (U+202A-U+202E, U+2066-U+2069) can make one device, permit or name
 * look like another in `policyctl show`, the ledger or a spreadsheet. */
bool utf8_is_unsafe_codepoint(uint32_t cp);

/* Where to cut S (LEN bytes) to keep at most MAX of them without splitting a character: LEN if
 * it fits, else MAX moved back over continuation bytes (S[MAX] is read, so LEN > MAX). */
size_t utf8_cut(const char *s, size_t len, size_t max);
