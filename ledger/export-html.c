/* SPDX-License-Identifier: MIT */
/* report.html: the week's submission document (docs/ledger.md, "report.html"). One
 * self-contained file (inline CSS, an inline SVG chart, no script, no external resource) that
 * prints on A4 with page numbers and every table's header repeated on each page, and that
 * export-pdf.c renders as report.pdf: who submits to whom under which contract, the period and
 * the workstation, a sign-off box (確認欄), the summary, the devices and links used under which
 * permit (re-evaluations included, loopback left out), the record book of storage media
 * (Akiruno form no. 3), the blocked attempts, the faults, the policy's changes, a per-day chart,
 * and the chain hashes that tie it to the signed MANIFEST and to the week before. Fed one record
 * at a time, so a week of a million records needs memory only for what is shown; long lists
 * are cut with a count. Uses and blocked attempts are counted in events (a record stands for
 * its count), faults and records in records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "hexutil.h"
#include "kyoka-names.h"

#define LIST_MAX 500            /* rows shown of each list */
#define DEVICES_MAX 4096        /* distinct devices tracked; more are counted, not listed */
#define DAYS_MAX 16             /* distinct dates seen (7 unless the clock jumped) */

struct device {
        struct ledger_record first;     /* the first use: name, identity, permit, decision */
        int64_t last_time, last_offset;
        uint64_t count;
        uint64_t hash;
};

struct day {
        char date[11];
        uint64_t usage, blocked, faults;
};

struct item {
        struct ledger_record r;
        enum export_media_kind media;
        char permit[LEDGER_TEXT_MAX];   /* media: the permit it was used under */
};

struct list {
        struct item *items;
        size_t n;
        uint64_t total;
};

struct html_report {
        struct device *devices;         /* open addressing, DEVICES_MAX slots */
        size_t n_devices;
        uint64_t devices_untracked;
        struct list blocked, faults, policies, media;
        struct day days[DAYS_MAX];
        size_t n_days;
        uint64_t usage, blocked_events, records;
        struct day *last_day;           /* day_of()'s last answer, and its wall-clock start */
        int64_t last_day_start;
        bool has_offset;
        int64_t offset;                 /* of the first record: the report's time zone */
};

/* Adds a record's count to a tally; a ledger read from disk could hold any count. */
static void tally(uint64_t *n, const struct ledger_record *r) {
        uint64_t c = r->count > 0 ? (uint64_t) r->count : 1;
        if (__builtin_add_overflow(*n, c, n))
                *n = UINT64_MAX;
}

int html_report_new(struct html_report **ret) {
        struct html_report *h = calloc(1, sizeof *h);

        if (!h)
                return -ENOMEM;
        h->devices = calloc(DEVICES_MAX, sizeof *h->devices);
        struct list *lists[] = { &h->blocked, &h->faults, &h->policies, &h->media };
        bool ok = h->devices;
        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                ok = ok && (lists[i]->items = calloc(LIST_MAX, sizeof(struct item)));
        if (!ok) {
                html_report_free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

struct html_report *html_report_free(struct html_report *h) {
        if (!h)
                return NULL;
        free(h->devices);
        free(h->blocked.items);
        free(h->faults.items);
        free(h->policies.items);
        free(h->media.items);
        free(h);
        return NULL;
}

static struct item *list_add(struct list *l, const struct ledger_record *r) {
        l->total++;
        if (l->n >= LIST_MAX)
                return NULL;
        struct item *it = &l->items[l->n++];
        it->r = *r;
        return it;
}

static struct day *day_find(struct html_report *h, const char date[static 11]);

static uint64_t fnv1a(uint64_t h, const char *s) {
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 0x100000001b3ULL;
        return (h ^ 0xff) * 0x100000001b3ULL;   /* a separator, so "ab"+"c" differs from "a"+"bc" */
}

/* A device is what the permit names: the identity plus the permit and decision it was used under. */
static uint64_t device_key(const struct ledger_record *r) {
        uint64_t h = 0xcbf29ce484222325ULL;
        const char *parts[] = { r->vendor, r->product, r->serial, r->ifname, r->mac, r->permit,
                                ledger_decision_to_string(r->decision), r->ssid, r->bssid };
        h = fnv1a(h, ledger_subject_to_string(r->subject));
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                h = fnv1a(h, parts[i]);
        return h | 1;   /* 0 marks a free slot */
}

static bool same_device(const struct ledger_record *a, const struct ledger_record *b) {
        return a->subject == b->subject && a->decision == b->decision && streq(a->vendor, b->vendor) &&
               streq(a->product, b->product) && streq(a->serial, b->serial) && streq(a->ifname, b->ifname) &&
               streq(a->mac, b->mac) && streq(a->permit, b->permit) && streq(a->ssid, b->ssid) &&
               streq(a->bssid, b->bssid);
}

static void device_add(struct html_report *h, const struct ledger_record *r) {
        uint64_t k = device_key(r);

        for (size_t i = 0; i < DEVICES_MAX; i++) {
                struct device *d = &h->devices[(k + i) % DEVICES_MAX];
                if (d->hash == 0) {
                        if (h->n_devices >= DEVICES_MAX / 2) /* keep probing short */
                                break;
                        *d = (struct device) { .first = *r, .hash = k };
                        h->n_devices++;
                } else if (d->hash != k || !same_device(&d->first, r))
                        continue;
                tally(&d->count, r);
                d->last_time = r->time;
                d->last_offset = r->utc_offset;
                return;
        }
        h->devices_untracked++;
}

static struct day *day_of(struct html_report *h, const struct ledger_record *r) {
        time_t t = (time_t) (r->time + r->utc_offset);
        struct tm tm;
        char date[11];

        /* The day before: its wall-clock seconds [day_start, day_start + 86400) are that date. */
        if (h->last_day && t >= h->last_day_start && t < h->last_day_start + 86400)
                return h->last_day;
        /* The record's own wall-clock date, as its time is shown. */
        if (!gmtime_r(&t, &tm) || strftime(date, sizeof date, "%Y-%m-%d", &tm) == 0)
                return NULL;
        struct day *d = day_find(h, date);
        if (d) {
                h->last_day = d;
                h->last_day_start = t - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
        }
        return d;
}

static struct day *day_find(struct html_report *h, const char date[static 11]) {
        for (size_t i = 0; i < h->n_days; i++)
                if (streq(h->days[i].date, date))
                        return &h->days[i];
        if (h->n_days >= DAYS_MAX)
                return NULL;
        struct day *d = &h->days[h->n_days++];
        memcpy(d->date, date, sizeof d->date);
        return d;
}

int html_report_add(struct html_report *h, const struct ledger_record *r, const char *permit) {
        struct day *d = day_of(h, r);
        bool fault = ledger_record_is_fault(r);
        enum export_media_kind mk = export_media_kind(r);
        struct item *it;

        if (!h->has_offset) {
                h->has_offset = true;
                h->offset = r->utc_offset;
        }
        h->records++;
        if (r->subject == LEDGER_SUBJECT_POLICY && !fault)
                (void) list_add(&h->policies, r);
        if (export_is_use(r)) {
                device_add(h, r);
                tally(&h->usage, r);
                if (d)
                        tally(&d->usage, r);
        }
        if (mk != EXPORT_MEDIA_NONE && (it = list_add(&h->media, r))) {
                it->media = mk;
                snprintf(it->permit, sizeof it->permit, "%s", permit ?: "");
        }
        if (export_is_blocked_attempt(r)) {
                (void) list_add(&h->blocked, r);
                tally(&h->blocked_events, r);
                if (d)
                        tally(&d->blocked, r);
        }
        if (fault) {
                (void) list_add(&h->faults, r);
                if (d)
                        d->faults++;
        }
        return 0;
}

/* ---- writing ----------------------------------------------------------------------------- */

void html_escape(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '&': fputs("&amp;", f); break;
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&#39;", f); break;
                default: fputc(*s, f);
                }
}

static void td(FILE *f, const char *s) {
        fputs("<td>", f);
        html_escape(f, s);
        fputs("</td>", f);
}

static void td_n(FILE *f, uint64_t n) {
        fprintf(f, "<td class=\"n\">%llu</td>", (unsigned long long) n);
}

/* A time in the report's zone; another offset (DST, a moved machine) is named. */
static void td_time(FILE *f, const struct html_report *h, int64_t t, int64_t offset) {
        char buf[32], off[16];
        (void) export_format_time(t, offset, buf, sizeof buf);
        /* "2026/12/02" over "09:35:48": narrow, and still one reading. */
        char *space = strchr(buf, ' ');
        if (space)
                *space = 0;
        fputs("<td class=\"t\">", f);
        html_escape(f, buf);
        if (space) {
                fputs("<br>", f);
                html_escape(f, space + 1);
        }
        if (offset != h->offset) {
                export_format_offset(offset, off, sizeof off);
                fprintf(f, "<br>%s", off);
        }
        fputs("</td>", f);
}

struct text {
        const char *title, *subtitle, *submitted, *issuer, *contract, *contractor, *responsible, *host, *period,
                *policy, *policy_none, *signoff, *signoff_cols[3], *summary, *n_usage, *n_devices,
                *n_blocked, *n_faults, *n_media, *n_records, *continuity, *devices, *media, *blocked, *faults,
                *policies, *chart, *integrity, *none, *more[2], *when, *category, *name, *ident, *permit,
                *decision, *approver, *user, *uses, *first, *last, *event, *reason, *remarks, *count, *entry,
                *purpose, *medium, *access, *check, *serial, *signer, *records, *chain_start, *chain_end, *ledger_first,
                *legend[3], *untracked[2], *verify, *page, *blank_date, *unknown, *holder;
};

static const struct text text_ja = {
        .title = "機器等の使用記録及び障害記録（週次報告）",
        .subtitle = "契約の情報セキュリティに関する特記事項に基づく定期報告：情報システムの使用記録・障害記録、記憶媒体の記録簿",
        .submitted = "提出日　　　　年　　月　　日",
        .issuer = "発注者", .contract = "契約", .contractor = "受注者", .responsible = "情報管理責任者",
        .host = "端末", .period = "対象期間", .policy = "適用ポリシー",
        .policy_none = "ポリシーの記録はありません（有効なポリシーがないため全面遮断）",
        .signoff = "確認欄", .signoff_cols = { "情報管理責任者（受注者）", "確認者（発注者）", "確認日" },
        .summary = "1. 概要", .n_usage = "許可された使用（回）", .n_devices = "使用された機器・ネットワーク（件）",
        .n_blocked = "拒否された接続（回）", .n_faults = "障害記録（件）", .n_media = "記憶媒体の記録簿（件）",
        .n_records = "記録の総数（件）", .continuity = "前週からの連続性",
        .devices = "2. 使用した機器・ネットワークと許可", .media = "3. 記憶媒体の記録簿（様式第3号相当）",
        .blocked = "4. 拒否された接続", .faults = "5. 障害記録", .policies = "6. ポリシーの適用と変更",
        .chart = "7. 日別の件数", .integrity = "8. 記録の完全性（改ざん検知）",
        .none = "なし", .more = { "ほか ", " 件は CSV と records.jsonl を参照してください。" },
        .when = "日時", .category = "区分", .name = "機器名", .ident = "識別情報", .permit = "許可番号",
        .decision = "判定", .approver = "承認者", .user = "利用者", .uses = "回数", .first = "初回", .last = "最終",
        .event = "事象", .reason = "理由", .remarks = "備考", .count = "回数", .entry = "区分", .purpose = "利用目的", .medium = "媒体",
        .access = "利用の範囲", .check = "確認", .serial = "通し番号", .signer = "署名者", .records = "記録番号",
        .chain_start = "開始ハッシュ（前週の最終記録）", .chain_end = "終了ハッシュ（本週の最終記録）",
        .ledger_first = "記録台帳の最初の記録",
        .legend = { "許可された使用", "拒否", "障害" },
        .untracked = { "ほか ", " 回の使用は機器数の上限を超えたため一覧にありません。" },
        .verify = "この報告書とCSV・records.jsonl は同じフォルダーの MANIFEST に SHA-256 で記載され、MANIFEST は端末の出力鍵で"
                  "署名されています（MANIFEST.sig）。前週の報告の終了ハッシュと本週の開始ハッシュが一致することで、週の間に記録が"
                  "削除・変更されていないことを確認できます。検証: policyctl verify-export 前週のフォルダー 本週のフォルダー --key "
                  KYOKA_EXPORT_PUB_FILE,
        .page = "ページ", .blank_date = "", .unknown = "（記載なし）", .holder = "貸与先",
};

static const struct text text_en = {
        .title = "Device usage and fault records: weekly report",
        .subtitle = "Periodic report under the contract's information security clauses: system usage records, fault "
                    "records and the record book of storage media",
        .submitted = "Submitted on ____ / __ / __",
        .issuer = "Issuer", .contract = "Contract", .contractor = "Contractor", .responsible = "Responsible person",
        .host = "Workstation", .period = "Period", .policy = "Policy in force",
        .policy_none = "No record of a policy (without one, everything is blocked)",
        .signoff = "Sign-off", .signoff_cols = { "Responsible person (contractor)", "Checked by (issuer)", "Date" },
        .summary = "1. Summary", .n_usage = "Allowed uses (events)", .n_devices = "Devices and links used",
        .n_blocked = "Blocked attempts (events)", .n_faults = "Fault records", .n_media = "Record book entries",
        .n_records = "All records", .continuity = "Continuity from the week before",
        .devices = "2. Devices and links used, and their permits", .media = "3. Record book of storage media",
        .blocked = "4. Blocked attempts", .faults = "5. Fault records", .policies = "6. The policy: applied and changed",
        .chart = "7. Per day", .integrity = "8. Integrity of the records",
        .none = "None", .more = { "", " more: see the CSV files and records.jsonl." },
        .when = "Date and time", .category = "Category", .name = "Device", .ident = "Identity", .permit = "Permit",
        .decision = "Decision", .approver = "Approved by", .user = "User", .uses = "Uses", .first = "First",
        .last = "Last", .event = "Event", .reason = "Reason", .remarks = "Remarks", .count = "Count",
        .entry = "Entry", .purpose = "Purpose", .medium = "Medium", .access = "Access", .check = "Check", .serial = "Serial",
        .signer = "Signer", .records = "Records", .chain_start = "Start hash (the week before's last record)",
        .chain_end = "End hash (this week's last record)", .ledger_first = "The ledger's first record",
        .legend = { "Allowed uses", "Blocked", "Faults" },
        .untracked = { "", " more uses are not listed: too many distinct devices." },
        .verify = "This report, the CSV files and records.jsonl are listed with their SHA-256 in MANIFEST in the same "
                  "folder, which the workstation's export key signs (MANIFEST.sig). The week before's end hash equal "
                  "to this week's start hash shows that no record was removed or changed between them. To check: "
                  "policyctl verify-export LAST-WEEK THIS-WEEK --key " KYOKA_EXPORT_PUB_FILE,
        .page = "page", .blank_date = "", .unknown = "(not given)", .holder = "Holder",
};

const char html_print_css[] =
        "body{font-family:\"IPAexGothic\",\"Noto Sans CJK JP\",\"Noto Sans JP\",\"Yu Gothic\",\"Meiryo\",sans-serif;"
        "font-size:9.5pt;color:#111;margin:16px 24px;line-height:1.4}"
        "h1{font-size:15pt;margin:0 0 2px;text-align:center;letter-spacing:1px}"
        ".sub{text-align:center;font-size:8.5pt;margin:0 0 8px}"
        "h2{font-size:11.5pt;margin:14px 0 4px;border-left:5px solid #555;padding-left:6px;break-after:avoid}"
        "table{border-collapse:collapse;width:100%;margin:3px 0 6px;font-size:8.5pt}"
        "th,td{border:1px solid #888;padding:2px 4px;vertical-align:top;text-align:left;overflow-wrap:anywhere}"
        "th{background:#eee;font-weight:bold;overflow-wrap:normal}"
        "thead{display:table-header-group}tr{break-inside:avoid}"
        "table.kv{font-size:9.5pt}table.kv th{width:9.5em;white-space:nowrap}"
        "td.n{text-align:right;white-space:nowrap}th.n{white-space:nowrap}"
        "td.t{white-space:nowrap}.id{font-size:7.5pt;color:#333}"
        ".h{font-family:\"DejaVu Sans Mono\",monospace;font-size:7.5pt;word-break:break-all}"
        ".note{font-size:8.5pt;color:#333}.legend span{display:inline-block;margin-right:14px}"
        ".sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}"
        "table.layout,table.layout>tbody>tr>td{border:none;padding:0;margin:0}"
        "table.layout>tbody>tr>td.right{width:62mm;padding-left:4mm}"
        "table.signoff th{font-size:7.5pt;text-align:center;padding:1px}"
        "table.signoff td{height:18mm}"
        ".submitted{text-align:right;font-size:9pt;margin:0 0 4px}"
        "@page{size:A4;margin:14mm 12mm 16mm;"
        "@bottom-center{content:counter(page) \" / \" counter(pages);font-size:8pt;font-family:\"IPAexGothic\",sans-serif}"
        "@bottom-left{content:string(doc);font-size:7.5pt;color:#444;font-family:\"IPAexGothic\",sans-serif}}"
        "h1{string-set:doc attr(data-doc)}"
        "@media print{body{margin:0}}";

static const char *const colours[3] = { "#3b73b9", "#d9822b", "#c23b3b" };

static void write_chart(FILE *f, struct html_report *h, const struct html_context *c, const struct text *tx) {
        struct day week[7] = {};
        uint64_t max = 1;
        const int W = 700, H = 190, top = 10, base = 165, group = 100;

        for (int i = 0; i < 7; i++) {
                /* Noon of each local day: immune to DST shifts at midnight. */
                time_t t = (time_t) (c->week->start + i * 86400 + 43200);
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(week[i].date, sizeof week[i].date, "%Y-%m-%d", &tm);
                for (size_t k = 0; k < h->n_days; k++)
                        if (streq(h->days[k].date, week[i].date))
                                week[i] = h->days[k];
                max = MAX(max, MAX(week[i].usage, MAX(week[i].blocked, week[i].faults)));
        }

        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "role=\"img\">\n", W, H, W, H);
        fprintf(f, "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", base, W, base);
        for (int i = 0; i < 7; i++) {
                uint64_t v[3] = { week[i].usage, week[i].blocked, week[i].faults };
                for (int k = 0; k < 3; k++) {
                        /* Linear, so that a burst stands out; but a day with any at all keeps a
                         * visible bar beside one of thousands. */
                        int bh = (int) ((unsigned __int128) v[k] * (unsigned) (base - top - 14) / max);
                        if (v[k] > 0 && bh < 3)
                                bh = 3;
                        int x = i * group + 14 + k * 24;
                        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"20\" height=\"%d\" fill=\"%s\"/>", x, base - bh,
                                bh, colours[k]);
                        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%llu</text>\n",
                                x + 10, base - bh - 3, (unsigned long long) v[k]);
                }
                fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
                        i * group + 48, base + 18, week[i].date + 5);
        }
        fputs("</svg>\n<div class=\"legend note\">", f);
        for (int k = 0; k < 3; k++) {
                fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>", colours[k]);
                html_escape(f, tx->legend[k]);
                fputs("</span>", f);
        }
        fputs("</div>\n", f);
}

/* "PRE N POST" as a note, when N > 0. */
static void write_more(FILE *f, const char *const text[2], uint64_t n) {
        if (n == 0)
                return;
        fputs("<p class=\"note\">", f);
        html_escape(f, text[0]);
        fprintf(f, "%llu", (unsigned long long) n);
        html_escape(f, text[1]);
        fputs("</p>\n", f);
}

/* A table's start: its column widths (percent) and a header repeated on every printed page.
 * NUMBERS: a bit per column holding numbers (its header is not broken). */
static void table_open(FILE *f, const char *const *cols, const unsigned *widths, size_t n, unsigned numbers) {
        fputs("<table style=\"table-layout:fixed\">\n<colgroup>", f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "<col style=\"width:%u%%\">", widths[i]);
        fputs("</colgroup>\n<thead><tr>", f);
        for (size_t i = 0; i < n; i++) {
                fputs(numbers & (1u << i) ? "<th class=\"n\">" : "<th>", f);
                html_escape(f, cols[i]);
                fputs("</th>", f);
        }
        fputs("</tr></thead>\n<tbody>\n", f);
}

static void table_close(FILE *f) {
        fputs("</tbody></table>\n", f);
}

static void h2(FILE *f, const char *s) {
        fputs("<h2>", f);
        html_escape(f, s);
        fputs("</h2>\n", f);
}

static void kv_row(FILE *f, const char *k, const char *v) {
        fputs("<tr><th>", f);
        html_escape(f, k);
        fputs("</th>", f);
        td(f, v);
        fputs("</tr>\n", f);
}

static void para(FILE *f, const char *cls, const char *s) {
        fprintf(f, "<p%s%s%s>", cls ? " class=\"" : "", cls ?: "", cls ? "\"" : "");
        html_escape(f, s);
        fputs("</p>\n", f);
}

static void identity_of(const struct ledger_record *r, char *buf, size_t size);

/* A device as a person reads it: its name (NAME, or the device name), and under it what
 * identifies it. */
static void td_device_named(FILE *f, const struct ledger_record *r, const char *name) {
        char id[2 * USB_STRING_MAX + 8];
        identity_of(r, id, sizeof id);
        fputs("<td>", f);
        html_escape(f, name);
        if (name[0] && id[0])
                fputs("<br>", f);
        fputs("<span class=\"id\">", f);
        html_escape(f, id);
        fputs("</span></td>", f);
}

static void td_device(FILE *f, const struct ledger_record *r) {
        char name[2 * USB_STRING_MAX + 8];
        export_device_name(r, name, sizeof name);
        td_device_named(f, r, name);
}

/* What identifies a device: "0781:5581 / serial" for USB, the MAC for a link, "serial / port"
 * for a medium on another bus (a disc's drive has no serial: its port). */
static void identity_of(const struct ledger_record *r, char *buf, size_t size) {
        if (r->subject == LEDGER_SUBJECT_USB)
                snprintf(buf, size, "%s:%s%s%s", r->vendor, r->product, r->serial[0] ? " / " : "", r->serial);
        else if (r->subject == LEDGER_SUBJECT_NETWORK)
                snprintf(buf, size, "%s", r->mac);
        else if (r->subject == LEDGER_SUBJECT_MEDIA)
                snprintf(buf, size, "%s%s%s", r->serial, r->serial[0] && r->device_path[0] ? " / " : "", r->device_path);
        else
                buf[0] = 0;
}

/* A policy string as every other text: sanitised. */
static void td_policy_text(FILE *f, const char *s) {
        char buf[EXPORT_HEADER_MAX];
        ledger_text_set(buf, sizeof buf, s ?: "");
        td(f, buf);
}

static int cmp_devices(const void *a, const void *b) {
        const struct device *x = a, *y = b;
        if (x->first.seq != y->first.seq)
                return x->first.seq < y->first.seq ? -1 : 1;
        return 0;
}

static void write_header(FILE *f, struct html_report *h, const struct html_context *c, const struct text *tx,
                         enum export_lang lang) {
        static const char *const wday_ja[] = { "日", "月", "火", "水", "木", "金", "土" };
        const struct export_header *hd = c->header;
        char buf[2 * EXPORT_HEADER_MAX], from[48] = "", to[48] = "", when[32] = "";
        time_t s = (time_t) c->week->start, e = (time_t) (c->week->end - 1);
        struct tm a, b;

        snprintf(buf, sizeof buf, "%s %s", c->host, c->week->name);
        fputs("<p class=\"submitted\">", f);
        html_escape(f, tx->submitted);
        fputs("</p>\n<h1 data-doc=\"", f);
        html_escape(f, buf);
        fputs("\">", f);
        html_escape(f, tx->title);
        fputs("</h1>\n", f);
        para(f, "sub", tx->subtitle);

        /* The header on the left, the sign-off box on the right: a layout table, which every
         * engine (browsers, WeasyPrint) lays out alike. */
        fputs("<table class=\"layout\"><tbody><tr><td>\n<table class=\"kv\">\n", f);
        kv_row(f, tx->issuer, hd->issuer[0] ? hd->issuer : tx->unknown);
        kv_row(f, tx->contract, hd->contract[0] ? hd->contract : tx->unknown);
        kv_row(f, tx->contractor, hd->contractor[0] ? hd->contractor : tx->unknown);
        kv_row(f, tx->responsible, hd->responsible[0] ? hd->responsible : tx->unknown);
        snprintf(buf, sizeof buf, "%s（machine-id %s）", c->host, c->machine_id);
        if (lang == EXPORT_LANG_EN)
                snprintf(buf, sizeof buf, "%s (machine-id %s)", c->host, c->machine_id);
        kv_row(f, tx->host, buf);
        if (localtime_r(&s, &a) && localtime_r(&e, &b)) {
                if (lang == EXPORT_LANG_EN) {
                        strftime(from, sizeof from, "%Y-%m-%d (%a)", &a);
                        strftime(to, sizeof to, "%Y-%m-%d (%a)", &b);
                } else {
                        snprintf(from, sizeof from, "%d年%d月%d日（%s）", a.tm_year + 1900, a.tm_mon + 1, a.tm_mday,
                                 wday_ja[a.tm_wday]);
                        snprintf(to, sizeof to, "%d年%d月%d日（%s）", b.tm_year + 1900, b.tm_mon + 1, b.tm_mday,
                                 wday_ja[b.tm_wday]);
                }
        }
        snprintf(buf, sizeof buf, "%s 〜 %s　%s", from, to, c->week->name);
        kv_row(f, tx->period, buf);
        if (c->policy_at_end) {
                const struct ledger_record *p = c->policy_at_end;
                (void) export_format_time(p->time, p->utc_offset, when, sizeof when);
                if (lang == EXPORT_LANG_EN)
                        snprintf(buf, sizeof buf, "serial %lld (signed by %s, in force since %s)",
                                 (long long) p->policy_serial, p->signer[0] ? p->signer : "-", when);
                else
                        snprintf(buf, sizeof buf, "通し番号 %lld（署名者 %s、%s から適用）", (long long) p->policy_serial,
                                 p->signer[0] ? p->signer : "-", when);
                if (h->policies.total > 0)
                        strncat(buf, lang == EXPORT_LANG_EN ? "; changed during the week: see 6." : "。週の途中の変更は 6. を参照",
                                sizeof buf - strlen(buf) - 1);
                kv_row(f, tx->policy, buf);
        } else
                kv_row(f, tx->policy, tx->policy_none);
        fputs("</table>\n</td><td class=\"right\">\n", f);

        /* The sign-off box: stamped or signed on paper by both sides. */
        fputs("<table class=\"signoff\" style=\"table-layout:fixed\"><thead><tr><th colspan=\"3\">", f);
        html_escape(f, tx->signoff);
        fputs("</th></tr><tr>", f);
        for (int i = 0; i < 3; i++) {
                fputs("<th>", f);
                html_escape(f, tx->signoff_cols[i]);
                fputs("</th>", f);
        }
        fputs("</tr></thead><tbody><tr><td></td><td></td><td></td></tr></tbody></table>\n</td></tr></tbody></table>\n", f);
}

static void write_summary(FILE *f, struct html_report *h, const struct html_context *c, const struct text *tx,
                          enum export_lang lang) {
        char buf[256], off[16];

        h2(f, tx->summary);
        fputs("<table class=\"kv\">\n", f);
        const struct { const char *k; uint64_t v; } sums[] = {
                { tx->n_usage, h->usage }, { tx->n_devices, h->n_devices + h->devices_untracked },
                { tx->n_blocked, h->blocked_events }, { tx->n_faults, h->faults.total }, { tx->n_media, h->media.total },
                { tx->n_records, h->records },
        };
        for (size_t i = 0; i < ELEMENTSOF(sums); i++) {
                fputs("<tr><th>", f);
                html_escape(f, sums[i].k);
                fprintf(f, "</th><td class=\"n\">%llu</td></tr>\n", (unsigned long long) sums[i].v);
        }
        if (c->last_seq >= c->first_seq)
                snprintf(buf, sizeof buf, "%lld – %lld", (long long) c->first_seq, (long long) c->last_seq);
        else
                snprintf(buf, sizeof buf, "%s", tx->none);
        kv_row(f, tx->records, buf);
        if (c->first_seq <= 1)
                snprintf(buf, sizeof buf, "%s", lang == EXPORT_LANG_EN ? "this week starts the ledger (no record before it)" :
                                                 "本週から記録台帳が始まる（前の記録なし）");
        else
                snprintf(buf, sizeof buf, lang == EXPORT_LANG_EN ? "continues from record %lld, the last of the weeks before" :
                                          "前週までの最終記録（記録番号 %lld）のハッシュから連続",
                         (long long) c->first_seq - 1);
        kv_row(f, tx->continuity, buf);
        fputs("</table>\n", f);
        export_format_offset(h->has_offset ? h->offset : 0, off, sizeof off);
        if (lang == EXPORT_LANG_EN)
                snprintf(buf, sizeof buf, "Times are the workstation's (%s).", off);
        else
                snprintf(buf, sizeof buf, "時刻は端末の時刻（%s）です。", off);
        para(f, "note", buf);
}

static void write_devices(FILE *f, struct html_report *h, const struct html_context *c, const struct text *tx,
                          enum export_lang lang) {

        h2(f, tx->devices);
        if (h->n_devices == 0) {
                para(f, NULL, tx->none);
                write_more(f, tx->untracked, h->devices_untracked);
                return;
        }
        _cleanup_free_ struct device *sorted = malloc(h->n_devices * sizeof *sorted);
        size_t n = 0;
        if (!sorted)
                return;
        for (size_t i = 0; i < DEVICES_MAX; i++)
                if (h->devices[i].hash)
                        sorted[n++] = h->devices[i];
        qsort(sorted, n, sizeof *sorted, cmp_devices);

        const char *cols[] = { tx->category, tx->name, tx->permit, tx->decision, tx->approver, tx->user, tx->uses,
                               tx->first, tx->last };
        static const unsigned widths[] = { 10, 23, 13, 8, 12, 7, 5, 11, 11 };
        table_open(f, cols, widths, ELEMENTSOF(cols), 1u << 6);
        for (size_t i = 0; i < n && i < LIST_MAX; i++) {
                const struct device *d = &sorted[i];
                const struct ledger_record *r = &d->first;
                const struct policy_approval *a = export_approval_of(c->policy, r->permit);
                fputs("<tr>", f);
                td(f, export_label_category(r, lang));
                td_device(f, r);
                td(f, r->permit[0] ? r->permit : (lang == EXPORT_LANG_EN ? "(none)" : "（なし）"));
                td(f, export_label_decision(r->decision, lang));
                td_policy_text(f, a ? a->approved_by : "");
                td(f, r->uid >= 0 ? r->user : "");
                td_n(f, d->count);
                td_time(f, h, r->time, r->utc_offset);
                td_time(f, h, d->last_time, d->last_offset);
                fputs("</tr>\n", f);
        }
        table_close(f);
        write_more(f, tx->more, n > LIST_MAX ? n - LIST_MAX : 0);
        write_more(f, tx->untracked, h->devices_untracked);
}

static void write_media(FILE *f, struct html_report *h, const struct html_context *c, const struct text *tx,
                        enum export_lang lang) {

        h2(f, tx->media);
        if (h->media.total == 0) {
                para(f, NULL, tx->none);
                return;
        }
        char name[2 * USB_STRING_MAX + 64];
        const char *cols[] = { tx->when, tx->entry, tx->medium, tx->permit, tx->approver, tx->purpose, tx->user,
                               tx->access, tx->check };
        static const unsigned widths[] = { 11, 11, 21, 13, 11, 12, 7, 8, 6 };
        table_open(f, cols, widths, ELEMENTSOF(cols), 0);
        for (size_t i = 0; i < h->media.n; i++) {
                const struct item *it = &h->media.items[i];
                const struct ledger_record *r = &it->r;
                const struct policy_approval *a = export_approval_of(c->policy, it->permit);
                fputs("<tr>", f);
                td_time(f, h, r->time, r->utc_offset);
                td(f, export_label_media(it->media, lang));
                export_medium_name(r, lang, name, sizeof name);
                if (it->media == EXPORT_MEDIA_FILE_WRITTEN || it->media == EXPORT_MEDIA_FILE_READ ||
                    it->media == EXPORT_MEDIA_FILES_LOST) {
                        /* The file, with the medium it is on (the session's rows around it). */
                        char with[sizeof name + LEDGER_FILE_PATH_MAX + LEDGER_TEXT_MAX + 96];
                        if (it->media == EXPORT_MEDIA_FILES_LOST)
                                snprintf(with, sizeof with, "%s: %s ×%lld", name, r->file_path, (long long) r->count);
                        else
                                snprintf(with, sizeof with, "%s: %s (%lld %s%s%s)", name, r->file_path, (long long) r->bytes,
                                         lang == EXPORT_LANG_EN ? "bytes" : "バイト",
                                         /* scan = "in-and-out": scanned when written (the scanner named) */
                                         !r->scanner[0]      ? "" :
                                         r->signature[0]     ? (lang == EXPORT_LANG_EN ? ", virus found: " : "、ウイルス検出: ") :
                                         lang == EXPORT_LANG_EN ? ", virus-scanned" : "、ウイルス検査済み",
                                         r->scanner[0] ? r->signature : "");
                        td_device_named(f, r, with);
                } else
                        td_device_named(f, r, name);
                td(f, it->permit);
                td_policy_text(f, a ? a->approved_by : "");
                td_policy_text(f, a ? a->purpose : "");
                td(f, r->uid >= 0 ? r->user : "");
                td(f, it->media == EXPORT_MEDIA_WITHDRAWN ? "" :
                      r->decision == LEDGER_DECISION_READ_ONLY ? (lang == EXPORT_LANG_EN ? "read-only" : "読み取り専用") :
                                                                 (lang == EXPORT_LANG_EN ? "read-write" : "読み書き"));
                td(f, "");
                fputs("</tr>\n", f);
        }
        table_close(f);
        write_more(f, tx->more, h->media.total - h->media.n);
}

static void write_blocked(FILE *f, struct html_report *h, const struct text *tx, enum export_lang lang) {
        char buf[2 * LEDGER_MESSAGE_MAX];

        h2(f, tx->blocked);
        if (h->blocked.total == 0) {
                para(f, NULL, tx->none);
                return;
        }
        const char *cols[] = { tx->when, tx->category, tx->event, tx->name, tx->reason, tx->user, tx->count };
        static const unsigned widths[] = { 11, 11, 12, 24, 28, 8, 6 };
        table_open(f, cols, widths, ELEMENTSOF(cols), 1u << 6);
        for (size_t i = 0; i < h->blocked.n; i++) {
                const struct ledger_record *r = &h->blocked.items[i].r;
                fputs("<tr>", f);
                td_time(f, h, r->time, r->utc_offset);
                td(f, export_label_category(r, lang));
                td(f, export_label_event(r, lang));
                td_device(f, r);
                export_reason(r, lang, buf, sizeof buf);
                td(f, buf);
                td(f, r->uid >= 0 ? r->user : "");
                td_n(f, (uint64_t) MAX(r->count, (int64_t) 1));
                fputs("</tr>\n", f);
        }
        table_close(f);
        write_more(f, tx->more, h->blocked.total - h->blocked.n);
}

static void write_faults(FILE *f, struct html_report *h, const struct text *tx, enum export_lang lang) {
        char buf[2 * LEDGER_MESSAGE_MAX];

        h2(f, tx->faults);
        if (h->faults.total == 0) {
                para(f, NULL, tx->none);
                return;
        }
        const char *cols[] = { tx->when, tx->category, tx->event, tx->reason, tx->remarks, tx->records };
        static const unsigned widths[] = { 11, 11, 13, 25, 32, 8 };
        table_open(f, cols, widths, ELEMENTSOF(cols), 1u << 5);
        for (size_t i = 0; i < h->faults.n; i++) {
                const struct ledger_record *r = &h->faults.items[i].r;
                fputs("<tr>", f);
                td_time(f, h, r->time, r->utc_offset);
                td(f, export_label_category(r, lang));
                td(f, export_label_event(r, lang));
                export_reason(r, lang, buf, sizeof buf);
                td(f, buf);
                export_remarks(r, lang, buf, sizeof buf);
                td(f, buf);
                td_n(f, (uint64_t) r->seq);
                fputs("</tr>\n", f);
        }
        table_close(f);
        write_more(f, tx->more, h->faults.total - h->faults.n);
}

static void write_policies(FILE *f, struct html_report *h, const struct text *tx, enum export_lang lang) {
        char buf[2 * LEDGER_MESSAGE_MAX];

        h2(f, tx->policies);
        if (h->policies.total == 0) {
                para(f, NULL, tx->none);
                return;
        }
        const char *cols[] = { tx->when, tx->event, tx->serial, tx->signer, tx->remarks };
        static const unsigned widths[] = { 11, 22, 8, 20, 39 };
        table_open(f, cols, widths, ELEMENTSOF(cols), 1u << 2);
        for (size_t i = 0; i < h->policies.n; i++) {
                const struct ledger_record *r = &h->policies.items[i].r;
                fputs("<tr>", f);
                td_time(f, h, r->time, r->utc_offset);
                td(f, export_label_event(r, lang));
                snprintf(buf, sizeof buf, "%lld", (long long) r->policy_serial);
                fputs("<td class=\"n\">", f);
                html_escape(f, r->policy_serial > 0 ? buf : "");
                fputs("</td>", f);
                td(f, r->signer);
                export_remarks(r, lang, buf, sizeof buf);
                td(f, buf);
                fputs("</tr>\n", f);
        }
        table_close(f);
        write_more(f, tx->more, h->policies.total - h->policies.n);
}

static void write_integrity(FILE *f, const struct html_context *c, const struct text *tx) {
        char hex[LEDGER_HASH_HEX], buf[LEDGER_HASH_HEX + 64];

        h2(f, tx->integrity);
        fputs("<table class=\"kv\">\n", f);
        for (int k = 0; k < 3; k++) {
                int64_t seq = k == 0 ? c->first_seq - 1 : k == 1 ? c->last_seq : c->ledger_seq;
                const uint8_t *hash = k == 0 ? c->start_hash : k == 1 ? c->end_hash : c->ledger_hash;
                if (k == 1 && c->last_seq < c->first_seq)
                        seq = c->first_seq - 1;
                if (!hash)
                        continue;
                hex_encode(hash, LEDGER_HASH_SIZE, hex);
                snprintf(buf, sizeof buf, "%lld: %s", (long long) seq, hex);
                fputs("<tr><th>", f);
                html_escape(f, k == 0 ? tx->chain_start : k == 1 ? tx->chain_end : tx->ledger_first);
                fputs("</th><td class=\"h\">", f);
                html_escape(f, buf);
                fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
        para(f, "note", tx->verify);
}

int html_report_write(struct html_report *h, FILE *f, const struct html_context *c, enum export_lang lang) {
        const struct text *tx = lang == EXPORT_LANG_EN ? &text_en : &text_ja;

        fprintf(f, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
                lang == EXPORT_LANG_EN ? "en" : "ja");
        html_escape(f, tx->title);
        fputs(" ", f);
        html_escape(f, c->host);
        fputs(" ", f);
        html_escape(f, c->week->name);
        fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", html_print_css);

        write_header(f, h, c, tx, lang);
        write_summary(f, h, c, tx, lang);
        write_devices(f, h, c, tx, lang);
        write_media(f, h, c, tx, lang);
        write_blocked(f, h, tx, lang);
        write_faults(f, h, tx, lang);
        write_policies(f, h, tx, lang);
        h2(f, tx->chart);
        write_chart(f, h, c, tx);
        write_integrity(f, c, tx);
        fputs("</body>\n</html>\n", f);
        return ferror(f) ? -EIO : 0;
}
