/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a ledger record's canonical encoding (what the chain hashes, what the
 * database holds). A decoded record must be exactly what the encoder would write for it:
 * it re-encodes to the same bytes, normalising it changes nothing, and its JSON form (what
 * records.jsonl holds) reads back to the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t enc[LEDGER_ENCODING_MAX];
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
        return 0;
}
