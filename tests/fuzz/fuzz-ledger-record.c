/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a ledger record's canonical encoding (what the chain hashes, what the
 * database holds), of any version. A decoded record must be exactly what the encoder would
 * write for it: it re-encodes to the same bytes (in its own version), normalising it changes
 * nothing, its JSON form (what records.jsonl holds) reads back to the same record, and the
 * versions of a record with count 1 and no media or wireless fields differ only in the version
 * byte and the fields each version appended. */
#include <stdbool.h>
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

        /* ledger_record_is_normal() answers what normalising would: accepted, every byte kept.
         * Any bytes as a record: enums out of range, text without its NUL or not sanitised. */
        static struct ledger_record raw, copy;
        memset(&raw, 0, sizeof raw);
        memcpy(&raw, data, size < sizeof raw ? size : sizeof raw);
        copy = raw;
        if (ledger_record_is_normal(&raw) != (ledger_record_normalise(&copy) == 0 && memcmp(&copy, &raw, sizeof raw) == 0))
                abort();

        if (ledger_record_decode(data, size, &r) < 0)
                return 0;
        if (!ledger_record_is_normal(&r))
                abort();
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
        /* records.jsonl's line: the exporter's direct writer gives json-c's bytes. */
        static char direct[LEDGER_JSONL_MAX];
        size_t dlen = ledger_record_to_jsonl(&r, prev, hash, direct), jlen;
        const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jlen);
        if (!js || dlen != jlen || memcmp(js, direct, dlen) != 0)
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

        /* The same record in the other versions: each later one is the one before with its own
         * fields appended (version 2: the count; version 3: the five media fields; version 4: the
         * four wireless fields; empty here). */
        bool media_empty = !r.bus[0] && !r.device_name[0] && !r.device_path[0] && !r.oemid[0] && !r.manufacture_date[0];
        bool wireless_empty = !r.wireless_mode[0] && !r.ssid[0] && !r.bssid[0] && !r.security[0];
        bool scan_empty = !r.files && !r.bytes && !r.duration_ms && !r.scanner[0] && !r.signature[0] && !r.file_path[0] &&
                          !r.sha256[0] && !r.pid && !r.process[0];
        if (r.count == 1 && media_empty && wireless_empty && scan_empty) {
                static uint8_t enc_v[6][LEDGER_ENCODING_MAX];
                size_t len[6] = { 0 };
                for (uint8_t v = 1; v <= 5; v++) {
                        struct ledger_record other = r;
                        other.version = v;
                        len[v] = ledger_record_encode(&other, enc_v[v]);
                        if (enc_v[v][0] != v || ledger_record_decode(enc_v[v], len[v], &back) < 0 ||
                            memcmp(&back, &other, sizeof other) != 0)
                                abort();
                }
                static const uint8_t media_none[5 * 4] = { 0 }, wireless_none[4 * 4] = { 0 };
                if (len[2] != len[1] + sizeof count_one || memcmp(enc_v[1] + 1, enc_v[2] + 1, len[1] - 1) != 0 ||
                    memcmp(enc_v[2] + len[1], count_one, sizeof count_one) != 0 ||
                    len[3] != len[2] + sizeof media_none || memcmp(enc_v[2] + 1, enc_v[3] + 1, len[2] - 1) != 0 ||
                    memcmp(enc_v[3] + len[2], media_none, sizeof media_none) != 0 ||
                    len[4] != len[3] + sizeof wireless_none || memcmp(enc_v[3] + 1, enc_v[4] + 1, len[3] - 1) != 0 ||
                    memcmp(enc_v[4] + len[3], wireless_none, sizeof wireless_none) != 0)
                        abort();
                /* Version 5: files, bytes, duration_ms (8-byte zeros), four empty texts, pid, process. */
                static const uint8_t z8[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0 }, z0[4] = { 0 };
                uint8_t scan_none[7 * sizeof z8 + 5 * sizeof z0], *q = scan_none;
                const uint8_t *parts[] = { z8, z8, z8, z0, z0, z0, z0, z8, z0 };
                for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
                        size_t m = parts[i] == z8 ? sizeof z8 : sizeof z0;
                        memcpy(q, parts[i], m);
                        q += m;
                }
                size_t scan_len = (size_t) (q - scan_none);
                if (len[5] != len[4] + scan_len || memcmp(enc_v[4] + 1, enc_v[5] + 1, len[4] - 1) != 0 ||
                    memcmp(enc_v[5] + len[4], scan_none, scan_len) != 0)
                        abort();
                if (len[r.version] != size || memcmp(enc_v[r.version], data, size) != 0)
                        abort();
        }
        return 0;
}
