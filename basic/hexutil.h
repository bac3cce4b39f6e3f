/* SPDX-License-Identifier: MIT */
/* Hex: encoding for hashes and key fingerprints, and the one parser of hex text kyoka reads (two
 * digits a byte, run together as in a hash or in groups as in "aa:bb:cc", and four-digit IDs). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Which spellings of a digit a parser takes. What a person writes or another program made (a
 * policy, a request, the command line, a JSON export) may use either case. The files kyoka writes
 * and reads back itself (the network allowance, the anti-rollback state, an export's manifest)
 * are read in the one spelling it writes them in, lowercase (hex_encode(), "%02x"): one value,
 * one byte sequence, in files that are hashed and signed or compared as text, and a file in
 * another spelling was not written by kyoka. */
enum hex_case {
        HEX_ANY_CASE,
        HEX_LOWERCASE,
};

/* The value of one hex digit (either case), or -1. */
static inline int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Writes 2*n lowercase hex digits and a NUL into out (size >= 2*n+1). */
void hex_encode(const uint8_t *data, size_t n, char *out);

/* N bytes written as two hex digits each, in groups separated by SEP ("aa:bb:cc") or, with SEP
 * 0, run together ("aabbcc"): exactly S's LEN bytes, nothing before or after. Only the LEN bytes
 * are read. OUT (may be NULL: a check only) is written on success; -EINVAL otherwise. */
int hex_parse_bytes(const char *s, size_t len, char sep, enum hex_case c, uint8_t *out, size_t n);

/* Decodes exactly 2*n hex digits (either case), the whole NUL-terminated S, into out; -EINVAL
 * otherwise. */
int hex_decode(const char *s, uint8_t *out, size_t n);

/* Exactly four hex digits (either case), S's LEN bytes, as a vendor or product ID is written. */
int hex_parse_u16(const char *s, size_t len, uint16_t *ret);
