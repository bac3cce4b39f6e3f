/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a ledger record's canonical encoding (what the chain hashes, what the
 * database holds), version 1 or 2. A decoded record must be exactly what the encoder would
 * write for it: it re-encodes to the same bytes (in its own version), normalising it changes
 * nothing, its JSON form (what records.jsonl holds) reads back to the same record, and the two
 * versions of a record with count 1 differ only in the version byte and the count field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t enc[LEDGER_ENCODING_MAX], other_enc[LEDGER_ENCODING_MAX];
        /* The count field as version 2 appends it: length 8, then 1 big-endian. */
        static const uint8_t count_one[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1 };
        static const uint8_t prev[LEDGER_HASH_SIZE] = { 1 }, hash[LEDGER_HASH_SIZE] = { 2 };
        struct ledger_record r, back, norm;
        uint8_t p2[LEDGER_HASH_SIZE], h2[LEDGER_HASH_SIZE];
        struct json_object *o = NULL;
        char time[64];

        if (ledger_record_decode(data, size, &r) < 0)
                return 0;
        if (size > LEDGER_ENCODING_MAX || ledger_record_encode(&r, enc) != size || memcmp(enc, data, size) != 0)
                abort();
        if (ledger_record_decode(enc, size, &back) < 0 || memcmp(&back, &r, sizeof r) != 0)
                abort();
        /* Decoded text is sanitised text: normalising it must leave it as it is. */
        norm = r;
        if (ledger_record_normalise(&norm) == 0 && memcmp(&norm, &r, sizeof r) != 0)
                abort();
        /* What export writes about the record. */
        (void) ledger_record_format_time(&r, time, sizeof time);
        (void) ledger_record_is_fault(&r);
        if (ledger_record_to_json(&r, prev, hash, &o) < 0)
                abort();
        int k = ledger_record_from_json(o, &back, p2, h2);
        json_object_put(o);
        /* from_json also refuses records that do not normalise (an out-of-range offset). */
        if (k == 0 && (memcmp(&back, &r, sizeof r) != 0 || memcmp(p2, prev, sizeof prev) != 0 ||
                       memcmp(h2, hash, sizeof hash) != 0))
                abort();
        if (k < 0 && ledger_record_normalise(&norm) == 0)
                abort();
        if (r.count < 1 || (r.version == 1 && r.count != 1))
                abort();

        /* The same record in the other version. */
        if (r.count == 1) {
                struct ledger_record other = r;
                other.version = r.version == 1 ? 2 : 1;
                size_t m = ledger_record_encode(&other, other_enc);
                const uint8_t *v1 = r.version == 1 ? data : other_enc, *v2 = r.version == 1 ? other_enc : data;
                size_t n1 = r.version == 1 ? size : m, n2 = r.version == 1 ? m : size;
                if (n2 != n1 + sizeof count_one || v1[0] != 1 || v2[0] != 2 || memcmp(v1 + 1, v2 + 1, n1 - 1) != 0 ||
                    memcmp(v2 + n1, count_one, sizeof count_one) != 0)
                        abort();
                if (ledger_record_decode(other_enc, m, &back) < 0 || memcmp(&back, &other, sizeof other) != 0)
                        abort();
        }
        return 0;
}
