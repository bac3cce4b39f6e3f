/* SPDX-License-Identifier: MIT */
/* Decimal numbers written without printf: the export's rows and records.jsonl's lines carry a few
 * numbers each, a million lines a week. The text is what "%" PRId64 prints (json-c's too). */
#pragma once

#include <stdint.h>

#define DECIMAL_INT64_MAX 21          /* "-9223372036854775808", without a NUL */

/* V's digits (and '-') at P, no NUL: the end. P has room for DECIMAL_INT64_MAX bytes. */
char *decimal_put_int64(char *p, int64_t v);
