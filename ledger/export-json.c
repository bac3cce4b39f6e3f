/* SPDX-License-Identifier: MIT */
/* records.jsonl: every field of every record of the week, one JSON object a line (LF), in seq
 * order, with prev_hash and hash, so that verify-export can rebuild each canonical encoding and
 * walk the chain without the database. */
#include <errno.h>
#include <json-c/json.h>

#include "export.h"

int jsonl_write_record(FILE *f, const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                       const uint8_t hash[static LEDGER_HASH_SIZE]) {
        struct json_object *o = NULL;
        size_t len;
        int r2;

        r2 = ledger_record_to_json(r, prev, hash, &o);
        if (r2 < 0)
                return r2;
        /* Plain: stable bytes (no pretty-printing), "/" not escaped, UTF-8 kept as it is. */
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                          &len);
        if (s) {
                fwrite(s, 1, len, f);
                fputc('\n', f);
        }
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        return ferror(f) ? -EIO : 0;
}
