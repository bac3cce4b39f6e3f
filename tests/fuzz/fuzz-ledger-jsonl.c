/* SPDX-License-Identifier: MIT */
/* libFuzzer target: one line of records.jsonl as `policyctl verify-export` reads it
 * (json_tokener_parse, then ledger_record_from_json with both hashes), of any version: no
 * "version" key (written before the count), "version": 2 with "count", "version": 3 with the
 * media fields too, or "version": 4 with the wireless fields as well. A record read from
 * JSON must be one the ledger could have written: it normalises to itself, encodes in its own
 * version to bytes that decode to the same record, and its JSON form (with "version" and
 * "count" exactly from version 2, the media fields from version 3, the wireless fields from version 4) reads back to the same
 * record and hashes. The exporter's direct writer (ledger_record_to_jsonl) writes json-c's bytes,
 * and the direct reader (ledger_record_from_jsonl) reads nothing json-c would read otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t enc[LEDGER_ENCODING_MAX];
        struct ledger_record r, back, norm;
        uint8_t prev[LEDGER_HASH_SIZE], hash[LEDGER_HASH_SIZE], p2[LEDGER_HASH_SIZE], h2[LEDGER_HASH_SIZE];
        struct json_object *o, *again = NULL;
        char time[64];
        /* verify-export hands json-c a NUL-terminated line (getline). */
        char *line = malloc(size + 1);

        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = 0;
        /* The direct reader verify-export tries first (without the LF getline keeps): whatever it
         * reads, json-c and ledger_record_from_json() read the same from the same line. */
        struct ledger_record fast;
        uint8_t fast_prev[LEDGER_HASH_SIZE], fast_hash[LEDGER_HASH_SIZE];
        size_t len = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
        int kf = ledger_record_from_jsonl((const char *) data, len, &fast, fast_prev, fast_hash);
        o = json_tokener_parse(line);
        free(line);
        if (!o) {
                if (kf == 0)
                        abort();
                return 0;
        }
        int k = ledger_record_from_json(o, &r, prev, hash);
        json_object_put(o);
        if (kf == 0 && (k < 0 || memcmp(&fast, &r, sizeof r) != 0 || memcmp(fast_prev, prev, sizeof prev) != 0 ||
                        memcmp(fast_hash, hash, sizeof hash) != 0))
                abort();
        if (k < 0)
                return 0;

        norm = r;
        if (ledger_record_normalise(&norm) < 0 || memcmp(&norm, &r, sizeof r) != 0)
                abort();
        size_t n = ledger_record_encode(&r, enc);
        if (n > LEDGER_ENCODING_MAX || enc[0] != r.version || ledger_record_decode(enc, n, &back) < 0 ||
            memcmp(&back, &r, sizeof r) != 0)
                abort();
        if (r.count < 1 || (r.version == 1 && r.count != 1))
                abort();
        (void) ledger_chain_hash(prev, enc, n, p2);
        (void) ledger_record_format_time(&r, time, sizeof time);
        if (ledger_record_to_json(&r, prev, hash, &again) < 0)
                abort();
        if (json_object_object_get_ex(again, "version", NULL) != (r.version >= 2) ||
            json_object_object_get_ex(again, "count", NULL) != (r.version >= 2) ||
            json_object_object_get_ex(again, "device_name", NULL) != (r.version >= 3) ||
            json_object_object_get_ex(again, "sha256", NULL) != (r.version >= 5))
                abort();
        /* The exporter's bytes are json-c's, and the direct reader reads them back. */
        static char direct[LEDGER_JSONL_MAX];
        size_t dlen = ledger_record_to_jsonl(&r, prev, hash, direct), jlen;
        const char *js = json_object_to_json_string_length(again, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                           &jlen);
        if (!js || dlen != jlen || memcmp(js, direct, dlen) != 0 ||
            ledger_record_from_jsonl(direct, dlen, &back, p2, h2) < 0 || memcmp(&back, &r, sizeof r) != 0 ||
            memcmp(p2, prev, sizeof prev) != 0 || memcmp(h2, hash, sizeof hash) != 0)
                abort();
        k = ledger_record_from_json(again, &back, p2, h2);
        json_object_put(again);
        if (k < 0 || memcmp(&back, &r, sizeof r) != 0 || memcmp(p2, prev, sizeof prev) != 0 ||
            memcmp(h2, hash, sizeof hash) != 0)
                abort();
        return 0;
}
