/* SPDX-License-Identifier: MIT */
/* usage.csv and faults.csv: what Excel on a Japanese Windows opens as it should. UTF-8 with a
 * BOM (without it Excel reads Shift_JIS), CRLF line ends, every cell quoted (RFC 4180), one row
 * per record; the last column says how many events the row stands for, after the older columns
 * so that a sheet that refers to them by position still finds them. A cell that a spreadsheet
 * would run as a formula gets a leading single quote; control characters and invalid UTF-8
 * appear as \xHH (docs/ledger.md, "CSV"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static const char *const header_ja[] = {
        "日時", "端末", "利用者", "機器種別", "事象", "機器名", "ベンダー/製品", "シリアル番号", "許可番号", "判定", "備考",
        "記録番号", "回数",
};
static const char *const header_en[] = {
        "Date/time", "Workstation", "User", "Device type", "Event", "Device name", "Vendor/product", "Serial number",
        "Permit number", "Decision", "Remarks", "Record no.", "Count",
};
_Static_assert(ELEMENTSOF(header_ja) == ELEMENTSOF(header_en), "headers differ");

/* Characters that make a spreadsheet treat a cell as a formula (or, with tab and CR, as
 * something other than the text shown), including the full-width forms an IME produces. */
static bool starts_like_formula(const char *s) {
        static const char *const triggers[] = { "=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠" };
        for (size_t i = 0; i < ELEMENTSOF(triggers); i++)
                if (strncmp(s, triggers[i], strlen(triggers[i])) == 0)
                        return true;
        return false;
}

char *csv_cell(const char *s) {
        size_t len = strlen(s), size = 4 * len + 1, o = 0;
        _cleanup_free_ char *clean = malloc(size);
        char *out;

        if (!clean)
                return NULL;
        /* Visible escapes first: a tab or CR at the start becomes "\x09", no longer a trigger. */
        ledger_text_set(clean, size, s);
        bool neutralise = starts_like_formula(s) || starts_like_formula(clean);

        out = malloc(2 * strlen(clean) + 4);
        if (!out)
                return NULL;
        out[o++] = '"';
        if (neutralise)
                out[o++] = '\'';
        for (const char *p = clean; *p; p++) {
                if (*p == '"')
                        out[o++] = '"';
                out[o++] = *p;
        }
        out[o++] = '"';
        out[o] = 0;
        return out;
}

static int write_cells(FILE *f, const char *const *cells, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *c = csv_cell(cells[i]);
                if (!c)
                        return -ENOMEM;
                if (i > 0)
                        fputc(',', f);
                fputs(c, f);
        }
        fputs("\r\n", f);
        return ferror(f) ? -EIO : 0;
}

int csv_write_header(FILE *f, enum export_lang lang) {
        fputs("\xef\xbb\xbf", f);
        return write_cells(f, lang == EXPORT_LANG_EN ? header_en : header_ja, ELEMENTSOF(header_ja));
}

int csv_write_row(FILE *f, const struct ledger_record *r, enum export_lang lang) {
        char when[ISO8601_MAX_LEDGER], user[LEDGER_USER_MAX + 32], name[2 * USB_STRING_MAX + 8];
        char vp[LEDGER_TEXT_MAX], seq[24], count[24], remarks[2 * LEDGER_MESSAGE_MAX];
        const char *serial = r->subject == LEDGER_SUBJECT_NETWORK ? r->mac : r->serial;

        if (ledger_record_format_time(r, when, sizeof when) < 0)
                return -EINVAL;
        export_user(r, user, sizeof user);
        export_device_name(r, name, sizeof name);
        export_vendor_product(r, vp, sizeof vp);
        export_remarks(r, lang, remarks, sizeof remarks);
        snprintf(seq, sizeof seq, "%lld", (long long) r->seq);
        /* Every row, 1 included: SUM() over the column is the number of events. */
        snprintf(count, sizeof count, "%lld", (long long) r->count);

        const char *cells[] = {
                when, r->hostname, user, export_label_device_type(r, lang), export_label_event(r, lang), name, vp,
                serial, r->permit, export_label_decision(r->decision, lang), remarks, seq, count,
        };
        _Static_assert(ELEMENTSOF(cells) == ELEMENTSOF(header_ja), "row and header differ");
        return write_cells(f, cells, ELEMENTSOF(cells));
}
