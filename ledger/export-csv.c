/* SPDX-License-Identifier: MIT */
/* usage.csv, faults.csv and media.csv: what Excel on a Japanese Windows opens as it should.
 * UTF-8 with a BOM (without it Excel reads Shift_JIS), CRLF line ends, every cell quoted (RFC
 * 4180), one row per record, each column one thing. The date and time is one Excel reads as a
 * date ("2026/12/02 09:35:48"), the UTC offset in a column of its own; record numbers and
 * counts are numbers. Every other cell is text and stays text: one that a spreadsheet would
 * take for a number, a date or a time ("0123", "1-2", "12E4") is written as the text formula
 * ="0123", which Excel and LibreOffice show as the text 0123. A cell that a spreadsheet would
 * run as a formula gets a leading single quote; control characters and invalid UTF-8 appear as
 * \xHH (docs/ledger.md, "CSV"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "export.h"
#include "utf8.h"

static const char *const header_ja[] = {
        "日時", "時差", "端末", "利用者", "区分", "事象", "判定", "許可番号", "判定理由", "機器名",
        "ベンダーID:製品ID", "シリアル番号", "接続位置", "MACアドレス", "ポリシー通し番号", "ポリシー署名者", "回数",
        "備考", "記録番号",
};
static const char *const header_en[] = {
        "Date and time", "UTC offset", "Workstation", "User", "Category", "Event", "Decision", "Permit number",
        "Reason", "Device name", "Vendor:product ID", "Serial number", "Port", "MAC address", "Policy serial",
        "Policy signer", "Count", "Remarks", "Record no.",
};
_Static_assert(ELEMENTSOF(header_ja) == ELEMENTSOF(header_en), "headers differ");
/* Columns written as numbers or dates (bit i: column i). */
#define NUMBERS ((1u << 0) | (1u << 14) | (1u << 16) | (1u << 18))

static const char *const media_ja[] = {
        "日時", "時差", "端末", "区分", "媒体", "ベンダーID:製品ID", "シリアル番号", "許可番号", "承認者", "承認日",
        "利用目的", "貸与先", "利用者", "利用の範囲", "ファイル", "大きさ（バイト）", "SHA-256", "プロセス", "回数",
        "記録番号",
};
static const char *const media_en[] = {
        "Date and time", "UTC offset", "Workstation", "Entry", "Medium", "Vendor:product ID", "Serial number",
        "Permit number", "Approved by", "Approved on", "Purpose", "Holder", "User", "Access", "File", "Size (bytes)",
        "SHA-256", "Process", "Count", "Record no.",
};
_Static_assert(ELEMENTSOF(media_ja) == ELEMENTSOF(media_en), "headers differ");
#define MEDIA_NUMBERS ((1u << 0) | (1u << 15) | (1u << 18) | (1u << 19))

/* Characters that make a spreadsheet treat a cell as a formula (or, with tab and CR, as
 * something other than the text shown), including the full-width forms an IME produces. */
static bool starts_like_formula(const char *s) {
        static const char *const wide[] = { "＝", "＋", "－", "＠" };
        switch (s[0]) {
        case '=': case '+': case '-': case '@': case '\t': case '\r':
                return true;
        case '\xef':         /* the full-width forms all start so */
                for (size_t i = 0; i < ELEMENTSOF(wide); i++)
                        if (strncmp(s, wide[i], strlen(wide[i])) == 0)
                                return true;
                return false;
        default:
                return false;
        }
}

/* Whether a spreadsheet would read S as something other than text: a number ("0123",
 * "1.5E3", "1,234", "(12)", "12%"), a date or time ("1-2", "2026/1/2", "12:30") or a truth
 * value. Such a cell holds digits and a few signs only; letters make it text (but E). */
static bool reads_as_value(const char *s) {
        bool digit = false;

        if ((s[0] == 'T' || s[0] == 't' || s[0] == 'F' || s[0] == 'f') &&
            (strcasecmp(s, "TRUE") == 0 || strcasecmp(s, "FALSE") == 0))
                return true;
        for (const char *p = s; *p; p++) {
                switch (*p) {
                case '0' ... '9':
                        digit = true;
                        break;
                case ' ': case '+': case '-': case '.': case ',': case '/': case ':': case '(': case ')':
                case '%': case '$': case 'E': case 'e':
                        break;
                default:
                        return false;
                }
        }
        return digit;
}

/* Excel takes at most 255 characters in a formula's string. */
#define TEXT_FORMULA_MAX 255

/* The cell for S into OUT (at least 8 * strlen(S) + 16 bytes): its length. CLEAN (at least
 * 4 * strlen(S) + 1 bytes) is scratch space. */
static size_t csv_cell_into(const char *s, size_t len, char *clean, char *out) {
        size_t o = 0;

        /* Visible escapes first: a tab or CR at the start becomes "\x09", no longer a trigger. */
        size_t n = ledger_text_set(clean, 4 * len + 1, s);
        bool neutralise = starts_like_formula(s) || starts_like_formula(clean);
        /* Digits and signs only, so the formula can hold nothing but that text. */
        bool keep_text = !neutralise && n <= TEXT_FORMULA_MAX && reads_as_value(clean);

        out[o++] = '"';
        if (neutralise)
                out[o++] = '\'';
        if (keep_text) {
                memcpy(out + o, "=\"\"", 3);
                o += 3;
        }
        for (size_t i = 0; i < n; i++) {
                if (clean[i] == '"')
                        out[o++] = '"';
                out[o++] = clean[i];
        }
        if (keep_text) {
                memcpy(out + o, "\"\"", 2);
                o += 2;
        }
        out[o++] = '"';
        out[o] = 0;
        return o;
}

char *csv_cell(const char *s) {
        size_t len = strlen(s);
        _cleanup_free_ char *clean = malloc(4 * len + 1);
        char *out = malloc(8 * len + 16);

        if (!clean || !out) {
                free(out);
                return NULL;
        }
        csv_cell_into(s, len, clean, out);
        return out;
}

/* Cells up to this long are made in place; longer ones (none of ours) on the heap. */
#define CELL_INLINE_MAX 4096

int csv_write_cells(FILE *f, const char *const *cells, size_t n, uint64_t numbers) {
        static _Thread_local char clean[4 * CELL_INLINE_MAX + 1], out[8 * CELL_INLINE_MAX + 16];

        /* One writer per file: stdio's unlocked calls. */
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        fputc_unlocked(',', f);
                size_t len = strlen(cells[i]);
                if (numbers & (UINT64_C(1) << i)) {
                        /* Ours: digits, '/', ':' and a space; written as they are. */
                        fputc_unlocked('"', f);
                        fwrite_unlocked(cells[i], 1, len, f);
                        fputc_unlocked('"', f);
                        continue;
                }
                if (len <= CELL_INLINE_MAX) {
                        fwrite_unlocked(out, 1, csv_cell_into(cells[i], len, clean, out), f);
                        continue;
                }
                _cleanup_free_ char *c = csv_cell(cells[i]);
                if (!c)
                        return -ENOMEM;
                fputs(c, f);
        }
        fwrite_unlocked("\r\n", 1, 2, f);
        return ferror(f) ? -EIO : 0;
}

int csv_write_header(FILE *f, enum export_lang lang) {
        fputs("\xef\xbb\xbf", f);
        return csv_write_cells(f, lang == EXPORT_LANG_EN ? header_en : header_ja, ELEMENTSOF(header_ja), 0);
}

int csv_write_media_header(FILE *f, enum export_lang lang) {
        fputs("\xef\xbb\xbf", f);
        return csv_write_cells(f, lang == EXPORT_LANG_EN ? media_en : media_ja, ELEMENTSOF(media_ja), 0);
}

/* Where a device sits: a USB device's bus path, a link's or a medium's udev path. */
static const char *port_of(const struct ledger_record *r) {
        switch (r->subject) {
        case LEDGER_SUBJECT_USB: return r->bus_path;
        case LEDGER_SUBJECT_NETWORK: return r->link_path;
        case LEDGER_SUBJECT_MEDIA: return r->device_path;
        default: return "";
        }
}

/* The serial number the device reports (a USB device's, a medium's: an SD card's CID serial,
 * an NVMe or SATA drive's). */
static const char *serial_of(const struct ledger_record *r) {
        return r->subject == LEDGER_SUBJECT_USB || r->subject == LEDGER_SUBJECT_MEDIA ? r->serial : "";
}

/* snprintf(BUF, 24, "%lld", V) without the format (a few numbers a row, a million rows). */
static void format_int(char buf[static 24], int64_t v) {
        *decimal_put_int64(buf, v) = 0;
}

/* "VENDOR:PRODUCT" (each fits its 4 hex digits and NUL: the whole always fits). */
static void format_vendor_product(char buf[static LEDGER_HEX4_MAX * 2 + 1], const struct ledger_record *r) {
        stpcpy(stpcpy(stpcpy(buf, r->vendor), ":"), r->product);
}

int csv_write_row(FILE *f, const struct ledger_record *r, enum export_lang lang) {
        char when[32], offset[16], name[2 * USB_STRING_MAX + 8], vp[LEDGER_HEX4_MAX * 2 + 1], seq[24], count[24];
        char policy[24] = "", reason[2 * LEDGER_TEXT_MAX], remarks[2 * LEDGER_MESSAGE_MAX];

        if (export_format_time(r->time, r->utc_offset, when, sizeof when) < 0)
                return -EINVAL;
        export_format_offset(r->utc_offset, offset, sizeof offset);
        export_device_name(r, name, sizeof name);
        vp[0] = 0;
        if (r->subject == LEDGER_SUBJECT_USB && r->vendor[0])
                format_vendor_product(vp, r);
        export_reason(r, lang, reason, sizeof reason);
        export_remarks(r, lang, remarks, sizeof remarks);
        format_int(seq, r->seq);
        /* Every row, 1 included: SUM() over the column is the number of events. */
        format_int(count, r->count);
        if (r->policy_serial > 0)
                format_int(policy, r->policy_serial);

        const char *cells[] = {
                when, offset, r->hostname, r->uid >= 0 ? r->user : "", export_label_category(r, lang),
                export_label_event(r, lang), export_label_decision(r->decision, lang), r->permit, reason, name, vp,
                serial_of(r), port_of(r),
                r->subject == LEDGER_SUBJECT_NETWORK ? r->mac : "", policy, r->signer, count, remarks, seq,
        };
        _Static_assert(ELEMENTSOF(cells) == ELEMENTSOF(header_ja), "row and header differ");
        return csv_write_cells(f, cells, ELEMENTSOF(cells), NUMBERS);
}

int csv_write_media_row(FILE *f, const struct ledger_record *r, enum export_media_kind kind, const char *permit,
                        const struct policy *policy, enum export_lang lang) {
        const struct policy_approval *a = export_approval_of(policy, permit);
        char when[32], offset[16], name[2 * USB_STRING_MAX + 64], vp[LEDGER_HEX4_MAX * 2 + 1], seq[24];
        char by[EXPORT_HEADER_MAX] = "", on[EXPORT_HEADER_MAX] = "", purpose[EXPORT_HEADER_MAX] = "",
             holder[EXPORT_HEADER_MAX] = "";
        const char *access = "";
        char size[24] = "", count[24] = "", process[LEDGER_PROCESS_MAX + 24] = "";
        bool file = kind == EXPORT_MEDIA_FILE_WRITTEN || kind == EXPORT_MEDIA_FILE_READ || kind == EXPORT_MEDIA_FILES_LOST;

        if (export_format_time(r->time, r->utc_offset, when, sizeof when) < 0)
                return -EINVAL;
        export_format_offset(r->utc_offset, offset, sizeof offset);
        export_medium_name(r, lang, name, sizeof name);
        vp[0] = 0;
        if (r->subject == LEDGER_SUBJECT_USB)
                format_vendor_product(vp, r);
        format_int(seq, r->seq);
        if (a) {
                /* Policy text is the city's, but shown as every other text: sanitised. */
                ledger_text_set(by, sizeof by, a->approved_by ?: "");
                ledger_text_set(on, sizeof on, a->approved_on_text ?: "");
                ledger_text_set(purpose, sizeof purpose, a->purpose ?: "");
                ledger_text_set(holder, sizeof holder, a->holder ?: "");
        }
        if (kind != EXPORT_MEDIA_WITHDRAWN)
                access = r->decision == LEDGER_DECISION_READ_ONLY ? (lang == EXPORT_LANG_EN ? "read-only" : "読み取り専用") :
                         (lang == EXPORT_LANG_EN ? "read-write" : "読み書き");

        if (file) {
                if (kind != EXPORT_MEDIA_FILES_LOST)
                        format_int(size, r->bytes);
                format_int(count, r->count);
                if (r->pid > 0)
                        snprintf(process, sizeof process, "%s[%lld]", r->process, (long long) r->pid);
        }
        const char *cells[] = {
                when, offset, r->hostname, export_label_media(kind, lang), name, vp, r->serial, permit, by, on,
                purpose, holder, r->uid >= 0 ? r->user : "", access, file ? r->file_path : "", size,
                file ? r->sha256 : "", process, count, seq,
        };
        _Static_assert(ELEMENTSOF(cells) == ELEMENTSOF(media_ja), "row and header differ");
        return csv_write_cells(f, cells, ELEMENTSOF(cells), MEDIA_NUMBERS);
}
