/* SPDX-License-Identifier: MIT */
/* The weekly export (docs/ledger.md, "Export"): a folder OUT/<hostname>/<YYYY-Www>/ with
 * usage.csv and faults.csv (for Excel on a Japanese Windows), records.jsonl (the full records),
 * report.html (printable), MANIFEST (sha256sum lines plus the chain hashes at the week's start
 * and end) and MANIFEST.sig (raw Ed25519 over MANIFEST with the workstation's export key).
 * The same week exports the same bytes every time: nothing depends on when it was made.
 *
 * export.c: weeks, labels, the export and its verification; export-csv.c, export-json.c,
 * export-html.c, export-manifest.c: one format each. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger.h"
#include "policy-sign.h"

enum export_lang {
        EXPORT_LANG_JA,
        EXPORT_LANG_EN,
};

enum {
        EXPORT_CSV = 1 << 0,
        EXPORT_JSON = 1 << 1,
        EXPORT_HTML = 1 << 2,
        EXPORT_ALL = EXPORT_CSV | EXPORT_JSON | EXPORT_HTML,
};

#define EXPORT_WEEK_MAX 16                /* "2026-W47" */

struct export_week {
        char name[EXPORT_WEEK_MAX];       /* ISO 8601 week, "2026-W47" */
        int64_t start, end;               /* local Monday 00:00, the next Monday 00:00 */
};

/* "YYYY-Www" (local time, TZ) -> the week. -EINVAL if malformed or not a week of that year. */
int export_week_parse(const char *s, struct export_week *ret);
/* The last complete ISO week before NOW, in local time. */
int export_week_last_complete(int64_t now, struct export_week *ret);

/* Parses "csv,json,html" (any subset, any order). */
int export_formats_parse(const char *s, unsigned *ret);

struct export_result {
        char dir[4096];                   /* OUT/<host>/<week> */
        int64_t first_seq, last_seq;      /* the week's records (first > last: none) */
        uint64_t usage_rows, fault_rows;
};

/* Writes the week's folder under OUT (created as needed; files replaced atomically) and signs
 * its MANIFEST with KEY, whose public key's fingerprint is KEY_FINGERPRINT (named in MANIFEST).
 * -ESTALE if the week's start was pruned already.
 *
 * OUT may be anywhere, root may be the one exporting, and OUT's owner must not be able to
 * redirect what root writes: below OUT, each directory is opened relative to the one above
 * without following symlinks, files are created exclusively under unpredictable names and
 * renamed within their directory. OUT and every directory below it must be writable by no one
 * but root and the effective uid (or be root's and sticky, as /tmp): else -EPERM, and
 * -ELOOP/-ENOTDIR for a symlink where a directory belongs, before anything is written there.
 * For these, and any other failure with a directory, ERR (ERR_SIZE bytes; may be NULL) says
 * what in English, naming the path; it is "" for other errors. */
int export_write(struct ledger *l, const struct export_week *week, enum export_lang lang, unsigned formats,
                 const char *out, const struct signing_key *key, const char *key_fingerprint,
                 struct export_result *ret, char *err, size_t err_size);

struct export_verify_report {
        uint64_t files;                   /* files whose hash matched */
        uint64_t records;                 /* records chained */
        bool chain_checked;               /* false when the folder has no records.jsonl */
        char week[EXPORT_WEEK_MAX];
        char problem[512];                /* the first problem found, "" if none */
};

/* Checks a folder: MANIFEST.sig over MANIFEST with KEY, every listed file's hash, no unlisted
 * file, and that records.jsonl chains from the start hash to the end hash without a gap.
 * 0 if all holds; -EBADMSG with REPORT->problem saying what failed first. */
int export_verify(const char *dir, const struct trusted_key *key, struct export_verify_report *report);

/* --- shared by the format writers ------------------------------------------------------ */

/* Labels for the columns and values, in LANG. */
const char *export_label_event(const struct ledger_record *r, enum export_lang lang);
const char *export_label_decision(enum ledger_decision d, enum export_lang lang);
const char *export_label_device_type(const struct ledger_record *r, enum export_lang lang);
/* "SanDisk Ultra", "enp3s0 (veth)", "policy 42", ... */
void export_device_name(const struct ledger_record *r, char *buf, size_t size);
/* "0781:5581", a link's driver, ... */
void export_vendor_product(const struct ledger_record *r, char *buf, size_t size);
/* "tanaka (1000)", or "" for nobody */
void export_user(const struct ledger_record *r, char *buf, size_t size);
/* The remarks: reason, message, failure ("errno 28 ENOSPC"), joined by "; ". */
void export_remarks(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size);

/* export-csv.c */
int csv_write_header(FILE *f, enum export_lang lang);
int csv_write_row(FILE *f, const struct ledger_record *r, enum export_lang lang);
/* One cell as export-csv.c writes it (quoted, neutralised, escaped), into a new string. */
char *csv_cell(const char *s);

/* export-json.c */
int jsonl_write_record(FILE *f, const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                       const uint8_t hash[static LEDGER_HASH_SIZE]);

/* export-html.c: fed one record at a time, written at the end. */
struct html_report;
struct html_context {
        const char *host, *machine_id;
        const struct export_week *week;
        const struct ledger_record *policy_at_start;   /* NULL if none was loaded before the week */
        int64_t first_seq, last_seq;
        const uint8_t *start_hash, *end_hash;
};
int html_report_new(struct html_report **ret);
struct html_report *html_report_free(struct html_report *h);
static inline void html_report_freep(struct html_report **h) {
        if (*h)
                html_report_free(*h);
}
int html_report_add(struct html_report *h, const struct ledger_record *r);
int html_report_write(struct html_report *h, FILE *f, const struct html_context *c, enum export_lang lang);

/* export-manifest.c */
#define MANIFEST_FILES_MAX 8
struct manifest {
        char host[LEDGER_HOSTNAME_MAX];
        char machine_id[LEDGER_ID_MAX];
        char week[EXPORT_WEEK_MAX];
        char key[KEY_FINGERPRINT_HEX];     /* the export key's fingerprint */
        uint64_t records;
        int64_t start_seq, end_seq;        /* the record before the week, the week's last one */
        uint8_t start_hash[LEDGER_HASH_SIZE], end_hash[LEDGER_HASH_SIZE];
        size_t n_files;
        struct {
                char name[32];
                uint8_t sha256[32];
        } files[MANIFEST_FILES_MAX];
};
/* The SHA-256 of the regular file NAME under DIRFD (not through a symlink: -ELOOP). */
int file_sha256_at(int dirfd, const char *name, uint8_t ret[static 32]);
/* The same for DIR/NAME. */
int file_sha256(const char *dir, const char *name, uint8_t ret[static 32]);
/* MANIFEST's text (newly allocated). */
int manifest_format(const struct manifest *m, char **ret, size_t *ret_size);
/* -EBADMSG with a message in ERR (ERR_SIZE) for anything not in the documented format. */
int manifest_parse(const char *text, size_t size, struct manifest *ret, char *err, size_t err_size);
