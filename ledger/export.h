/* SPDX-License-Identifier: MIT */
/* The weekly export (docs/ledger.md, "Export"): a folder OUT/<hostname>/<YYYY-Www>/ with
 * usage.csv, faults.csv and media.csv (for Excel on a Japanese Windows), records.jsonl (the
 * full records), report.html and report.pdf (the submission document), MANIFEST (sha256sum
 * lines, the submission's header, the chain hashes at the week's start and end and the
 * ledger's first record) and MANIFEST.sig (raw Ed25519 over MANIFEST with the workstation's
 * export key). The same week and the same policy export the same bytes every time.
 *
 * export.c: weeks, the export and its verification, one week and several; export-text.c: what
 * the city reads, in Japanese or English; export-csv.c, export-json.c, export-html.c,
 * export-pdf.c, export-manifest.c: one format each. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger.h"
#include "policy-sign.h"
#include "policy.h"

enum export_lang {
        EXPORT_LANG_JA,
        EXPORT_LANG_EN,
};

enum {
        EXPORT_CSV = 1 << 0,              /* usage.csv, faults.csv, media.csv */
        EXPORT_JSON = 1 << 1,             /* records.jsonl */
        EXPORT_HTML = 1 << 2,             /* report.html */
        EXPORT_PDF = 1 << 3,              /* report.pdf (report.html rendered; needs EXPORT_HTML) */
        EXPORT_ALL = EXPORT_CSV | EXPORT_JSON | EXPORT_HTML | EXPORT_PDF,
};

#define EXPORT_WEEK_MAX 16                /* "2026-W47" */
#define EXPORT_HEADER_MAX 1024            /* a header value (issuer, contract, ...), sanitised */
#define EXPORT_PDF_ENGINE "/usr/bin/weasyprint"

struct export_week {
        char name[EXPORT_WEEK_MAX];       /* ISO 8601 week, "2026-W47" */
        int64_t start, end;               /* local Monday 00:00, the next Monday 00:00 */
};

/* "YYYY-Www" (local time, TZ) -> the week. -EINVAL if malformed or not a week of that year. */
int export_week_parse(const char *s, struct export_week *ret);
/* The last complete ISO week before NOW, in local time. */
int export_week_last_complete(int64_t now, struct export_week *ret);
/* The ISO week after NAME ("2026-W52" -> "2026-W53" or "2027-W01"), by the calendar alone (no
 * time zone). -EINVAL if NAME is not a week. */
int export_week_next(const char *name, char ret[static EXPORT_WEEK_MAX]);

/* Parses "csv,json,html,pdf" (any subset, any order; pdf needs html). */
int export_formats_parse(const char *s, unsigned *ret);

/* Who submits what to whom: the header of the report and of MANIFEST, from the signed policy
 * (its serial; 0 and empty strings when there is none). */
struct export_header {
        int64_t policy_serial;
        char issuer[EXPORT_HEADER_MAX];
        char contract[EXPORT_HEADER_MAX];
        char contractor[EXPORT_HEADER_MAX];
        char responsible[EXPORT_HEADER_MAX];
};
void export_header_from_policy(const struct policy *p, struct export_header *ret);

struct export_options {
        enum export_lang lang;
        unsigned formats;
        /* The signed policy the header and the record book's approvers and purposes come from
         * (policyctl picks the one in force at the week's end); NULL: none, they stay blank. */
        const struct policy *policy;
        /* The program that renders report.html as report.pdf (EXPORT_PDF): it reads HTML on
         * stdin and writes PDF on stdout, as `weasyprint - -`. NULL: EXPORT_PDF_ENGINE. */
        const char *pdf_engine;
};

struct export_result {
        char dir[4096];                   /* OUT/<host>/<week> */
        int64_t first_seq, last_seq;      /* the week's records (first > last: none) */
        uint64_t usage_rows, fault_rows, media_rows;
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
 * For these, a PDF engine that fails (-ENOENT when it is missing), and any other failure with
 * a directory, ERR (ERR_SIZE bytes; may be NULL) says what in English, naming the path; it is
 * "" for other errors. Nothing is renamed into place unless every file was made. */
int export_write(struct ledger *l, const struct export_week *week, const struct export_options *opts,
                 const char *out, const struct signing_key *key, const char *key_fingerprint,
                 struct export_result *ret, char *err, size_t err_size);

/* export-pdf.c: runs ENGINE with HTML_FD as stdin and PDF_FD as stdout (`ENGINE - -`), with
 * SOURCE_DATE_EPOCH=EPOCH so that the same HTML gives the same PDF. -ENOENT if ENGINE is not
 * there, -ETIMEDOUT after TIMEOUT_SEC, -EPROTO if it failed (ERR holds its last words). */
int pdf_render(const char *engine, int html_fd, int pdf_fd, int64_t epoch, unsigned timeout_sec, char *err,
               size_t err_size);

/* --- MANIFEST (export-manifest.c) ------------------------------------------------------- */

#define MANIFEST_FILES_MAX 12
#define MANIFEST_TEXT_MAX (64u << 10)
#define MANIFEST_VERSION 2
struct manifest {
        unsigned version;                  /* 1: before the header and ledger-first; 2 */
        char host[LEDGER_HOSTNAME_MAX];
        char machine_id[LEDGER_ID_MAX];
        char week[EXPORT_WEEK_MAX];
        char key[KEY_FINGERPRINT_HEX];     /* the export key's fingerprint */
        struct export_header header;       /* version 2 */
        uint64_t records;
        /* Version 2: the ledger's first record (seq 1 and its hash; 0 and zeros when the ledger
         * held none up to the week's end, or pruning took it before this was kept), so that a
         * ledger wiped and started afresh shows as another ledger. */
        int64_t ledger_seq;
        uint8_t ledger_hash[LEDGER_HASH_SIZE];
        /* The record before the week (the week before's last: its chain-end), and the week's
         * last one. */
        int64_t start_seq, end_seq;
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
/* Hashing files on a second thread (the CPU's other core) while the caller does something else:
 * file_sha256_at() for each of N names under DIRFD. If no thread can be made, the files are
 * hashed by files_sha256_start() itself. Every file's result is in HASHES and ERRORS after
 * files_sha256_wait(). */
struct files_sha256 {
        int dirfd;
        size_t n;
        const char *names[MANIFEST_FILES_MAX];
        uint8_t hashes[MANIFEST_FILES_MAX][32];
        int errors[MANIFEST_FILES_MAX];
        bool threaded;
        pthread_t thread;
};
void files_sha256_start(struct files_sha256 *job);
void files_sha256_wait(struct files_sha256 *job);
/* A file the export writes, hashed on its way out: what goes through the stream *RET_F is
 * hashed (SHA-256) and written to FD, so that MANIFEST's hash is of the bytes written, without
 * reading the file back. FD stays the caller's. */
struct hashing_file;
int hashing_file_open(int fd, FILE **ret_f, struct hashing_file **ret_h);
/* Flushes F, fsyncs the file and closes F: 0 and the SHA-256 of everything written, or the
 * first error. */
int hashing_file_close(FILE *f, struct hashing_file *h, uint8_t ret[static 32]);
struct hashing_file *hashing_file_free(struct hashing_file *h);
/* MANIFEST's text (newly allocated), in M's version. */
int manifest_format(const struct manifest *m, char **ret, size_t *ret_size);
/* -EBADMSG with a message in ERR (ERR_SIZE) for anything not in one of the documented formats
 * (version 1 or 2). */
int manifest_parse(const char *text, size_t size, struct manifest *ret, char *err, size_t err_size);
/* Reads and parses DIR's MANIFEST without checking its signature (to find the key it names). */
int manifest_read(const char *dir, struct manifest *ret, char *err, size_t err_size);

/* --- verification (export.c) ------------------------------------------------------------ */

/* What kind of problem verification found first (for a reader's wording). */
enum export_problem {
        EXPORT_PROBLEM_NONE,
        EXPORT_PROBLEM_MANIFEST,          /* no MANIFEST, or not in the format */
        EXPORT_PROBLEM_SIGNATURE,         /* MANIFEST.sig missing or not the key's */
        EXPORT_PROBLEM_FILE_MISSING,      /* a listed file is gone (or not a file) */
        EXPORT_PROBLEM_FILE_CHANGED,      /* a file's SHA-256 differs */
        EXPORT_PROBLEM_FILE_ADDED,        /* a file MANIFEST does not list */
        EXPORT_PROBLEM_CHAIN,             /* records.jsonl does not chain from start to end */
};

struct export_verify_report {
        uint64_t files;                   /* files whose hash matched */
        uint64_t records;                 /* records chained */
        bool chain_checked;               /* false when the folder has no records.jsonl */
        struct manifest manifest;         /* valid once the signature verified (signed) */
        bool signed_ok;
        char week[EXPORT_WEEK_MAX];
        char problem[512];                /* the first problem found, "" if none (English) */
        enum export_problem kind;
};
/* "署名が一致しない（改ざんまたは別の鍵）", ...: the kind in the reader's words. */
const char *export_problem_label(enum export_problem k, enum export_lang lang);

/* Called for each record of records.jsonl once it chained (collect's tallies). */
typedef int (*export_record_cb)(const struct ledger_record *r, void *userdata);

/* Checks a folder: MANIFEST.sig over MANIFEST with KEY, every listed file's hash, no unlisted
 * file, and that records.jsonl chains from the start hash to the end hash without a gap.
 * 0 if all holds; -EBADMSG with REPORT->problem saying what failed first. CB (may be NULL)
 * sees every record that chained. */
int export_verify(const char *dir, const struct trusted_key *key, export_record_cb cb, void *userdata,
                  struct export_verify_report *report);

/* Continuity between the weeks of one workstation (docs/ledger.md, "Across weeks"). */
enum export_link {
        EXPORT_LINK_CONTINUOUS,           /* B starts where A ended */
        EXPORT_LINK_GAP_EMPTY,            /* weeks missing between them, but the chain goes on: they held no record */
        EXPORT_LINK_GAP,                  /* weeks missing between them, and records with them */
        EXPORT_LINK_BROKEN,               /* B does not start where A ended: records removed or changed */
        EXPORT_LINK_NEW_LEDGER,           /* B belongs to another ledger: wiped and started afresh */
        EXPORT_LINK_OTHER_WORKSTATION,    /* another machine-id */
        EXPORT_LINK_DUPLICATE,            /* the same week twice, identical */
        EXPORT_LINK_CONFLICT,             /* the same week twice, different */
};
/* How week B (later) follows week A of the same workstation; DETAIL says how, in LANG. */
enum export_link export_link_check(const struct manifest *a, const struct manifest *b, enum export_lang lang,
                                   char *detail, size_t size);
/* The missing ISO weeks strictly between A and B (at most MAX named in RET), their number. */
size_t export_weeks_between(const char *a, const char *b, char (*ret)[EXPORT_WEEK_MAX], size_t max);

/* --- what the city reads (export-text.c) ------------------------------------------------ */

/* "2026/12/02 09:35:48" in the record's own offset, as Excel reads a date and time. */
int export_format_time(int64_t t, int64_t offset, char *buf, size_t size);
/* "UTC+09:00". */
void export_format_offset(int64_t offset, char *buf, size_t size);
const char *export_label_event(const struct ledger_record *r, enum export_lang lang);
const char *export_label_decision(enum ledger_decision d, enum export_lang lang);
/* USB記憶媒体, USB入力機器, ..., ネットワーク, 無線LAN, ポリシー, kyokad, 記録台帳. */
const char *export_label_category(const struct ledger_record *r, enum export_lang lang);
/* "SanDisk Ultra", a link's interface name, a wireless network as "\"SSID\" BSSID security (card)"; "" for
 * the others. */
void export_device_name(const struct ledger_record *r, char *buf, size_t size);
/* A record about a wireless network (joined or left), not about a link. */
bool export_is_wireless(const struct ledger_record *r);
/* The record book's medium: the device name, for a medium on another bus than USB with its
 * kind in front (「SDカード: QEMU! (mmcblk0)」): it has no vendor:product ID to tell it by. */
void export_medium_name(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size);
/* Why the decision or the fault, in words (the record's reason code or text mapped). */
void export_reason(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size);
/* What else a reader needs: a failure and its error, a refused policy's consequence, a fault's
 * particulars. Never the journal's English in Japanese. */
void export_remarks(const struct ledger_record *r, enum export_lang lang, char *buf, size_t size);
/* "EIO（入出力エラー）" / "EIO (input/output error)": locale-free. */
void export_errno(int64_t e, enum export_lang lang, char *buf, size_t size);

/* What a policy-loaded record stands for: its reason code tells them apart. */
enum export_policy_kind {
        EXPORT_POLICY_APPLIED,            /* a new policy took effect */
        EXPORT_POLICY_UNCHANGED,          /* the policy in force, read again */
        EXPORT_POLICY_KEPT,               /* the policy offered was refused: the last accepted one stays */
};
enum export_policy_kind export_policy_kind(const struct ledger_record *r);

/* Records a reader counts: allowed uses, blocked attempts (a record stands for COUNT events). */
bool export_is_usage(const struct ledger_record *r);
bool export_is_use(const struct ledger_record *r);          /* a device or link allowed (re-evaluations too) */
bool export_is_blocked_attempt(const struct ledger_record *r);
bool export_is_loopback(const struct ledger_record *r);

/* The record book (Akiruno form no. 3): a storage medium connected, permitted where it sits,
 * removed, or no longer permitted; between its connection and removal (the medium's session),
 * the files written to it (carried out), read from it (carried in), and file events lost. */
enum export_media_kind {
        EXPORT_MEDIA_NONE,
        EXPORT_MEDIA_CONNECTED,
        EXPORT_MEDIA_PERMITTED,           /* permitted while plugged in (re-evaluation) */
        EXPORT_MEDIA_WITHDRAWN,           /* blocked while plugged in (revoked, expired) */
        EXPORT_MEDIA_REMOVED,
        EXPORT_MEDIA_FILE_WRITTEN,        /* the carry-out record (version 5) */
        EXPORT_MEDIA_FILE_READ,
        EXPORT_MEDIA_FILES_LOST,
};
enum export_media_kind export_media_kind(const struct ledger_record *r);
const char *export_label_media(enum export_media_kind k, enum export_lang lang);

/* A removal record carries no permit: the media tracker remembers the permit each medium was
 * last used under, bounded (a medium beyond the bound shows no permit on its removal). */
struct media_tracker;
int media_tracker_new(struct media_tracker **ret);
struct media_tracker *media_tracker_free(struct media_tracker *t);
static inline void media_tracker_freep(struct media_tracker **t) {
        if (*t)
                media_tracker_free(*t);
}
/* The permit R was used under (a removal: the one its medium was connected under). */
const char *media_tracker_permit(struct media_tracker *t, const struct ledger_record *r);

/* The approval of PERMIT in P (a USB, network or media permit), or NULL (no policy, no such
 * permit, PERMIT empty). */
const struct policy_approval *export_approval_of(const struct policy *p, const char *permit);

/* --- the format writers ----------------------------------------------------------------- */

/* export-csv.c */
int csv_write_header(FILE *f, enum export_lang lang);
int csv_write_row(FILE *f, const struct ledger_record *r, enum export_lang lang);
int csv_write_media_header(FILE *f, enum export_lang lang);
int csv_write_media_row(FILE *f, const struct ledger_record *r, enum export_media_kind kind, const char *permit,
                        const struct policy *policy, enum export_lang lang);
/* One cell as export-csv.c writes it (quoted, neutralised, escaped, kept text), into a new
 * string. */
char *csv_cell(const char *s);
/* Writes CELLS as one CSV row (CRLF); a cell of NUMBERS (a bit per column) is written as a
 * plain number when it is one. */
int csv_write_cells(FILE *f, const char *const *cells, size_t n, uint64_t numbers);

/* export-json.c: records.jsonl's line for R, LF included, into BUF (LEDGER_JSONL_MAX bytes):
 * its length. */
size_t jsonl_format_record(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                           const uint8_t hash[static LEDGER_HASH_SIZE], char *buf);
int jsonl_write_record(FILE *f, const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                       const uint8_t hash[static LEDGER_HASH_SIZE]);

/* export-html.c: fed one record at a time, written at the end. */
struct html_report;
struct html_context {
        const char *host, *machine_id;
        const struct export_week *week;
        const struct export_header *header;
        const struct policy *policy;                   /* approvers and purposes of permits; may be NULL */
        const struct ledger_record *policy_at_end;     /* the last policy record up to the week's end; NULL: none */
        int64_t first_seq, last_seq;
        const uint8_t *start_hash, *end_hash;
        int64_t ledger_seq;                            /* the ledger's first record (0: unknown) */
        const uint8_t *ledger_hash;
};
int html_report_new(struct html_report **ret);
struct html_report *html_report_free(struct html_report *h);
static inline void html_report_freep(struct html_report **h) {
        if (*h)
                html_report_free(*h);
}
/* PERMIT: the permit R was used under (media_tracker_permit). */
int html_report_add(struct html_report *h, const struct ledger_record *r, const char *permit);
int html_report_write(struct html_report *h, FILE *f, const struct html_context *c, enum export_lang lang);

/* Shared by export-html.c and collect (policyctl/verb-collect.c): HTML escaping and the page
 * style of a printed document (A4, page numbers, headers repeated on every page). */
void html_escape(FILE *f, const char *s);
extern const char html_print_css[];
