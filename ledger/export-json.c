/* SPDX-License-Identifier: MIT */
/* records.jsonl: every field of every record of the week, one JSON object a line (LF), in seq
 * order, with prev_hash and hash, so that verify-export can rebuild each canonical encoding and
 * walk the chain without the database. The bytes are json-c's (ledger_record_to_json()
 * serialised plain, "/" not escaped, UTF-8 kept as it is), written without building the
 * object: ledger_record_to_jsonl(), which the fuzz targets hold to json-c's output. */
#include <errno.h>

#include "export.h"

size_t jsonl_format_record(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                           const uint8_t hash[static LEDGER_HASH_SIZE], char *buf) {
        size_t len = ledger_record_to_jsonl(r, prev, hash, buf);
        buf[len++] = '\n';
        return len;
}

int jsonl_write_record(FILE *f, const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                       const uint8_t hash[static LEDGER_HASH_SIZE]) {
        static _Thread_local char line[LEDGER_JSONL_MAX];

        size_t len = jsonl_format_record(r, prev, hash, line);
        if (fwrite(line, 1, len, f) != len)
                return -EIO;
        return 0;
}
