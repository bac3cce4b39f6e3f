/* SPDX-License-Identifier: MIT */
/* Hex encoding for hashes and key fingerprints. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int hexval(char c);

/* Writes 2*n lowercase hex digits and a NUL into out (size >= 2*n+1). */
void hex_encode(const uint8_t *data, size_t n, char *out);

/* Decodes exactly 2*n hex digits (either case) into out; -EINVAL otherwise. */
int hex_decode(const char *s, uint8_t *out, size_t n);
