/* SPDX-License-Identifier: MIT */
/* report.html: the week on paper. One self-contained file (inline CSS, an inline SVG chart, no
 * script, no external resource) that prints on A4: the policy in force and its signer, the
 * devices used under which permit, the blocked attempts, the faults, a per-day chart, and the
 * chain hashes that tie it to the signed MANIFEST. Fed one record at a time, so a week of a
 * million records needs memory only for what is shown; long lists are cut with a count.
 * Connections and blocked attempts are counted in events: a record that stands for N of them
 * (its count) adds N, and its row says N. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "hexutil.h"
#include "kyoka-names.h"

#define LIST_MAX 500            /* rows shown of blocked attempts, faults, policy changes */
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

struct list {
        struct ledger_record *items;
        size_t n;
        uint64_t total;
};

struct html_report {
        struct device *devices;         /* open addressing, DEVICES_MAX slots */
        size_t n_devices;
        uint64_t devices_untracked;
        struct list blocked, faults, policies;
        struct day days[DAYS_MAX];
        size_t n_days;
        uint64_t usage, blocked_events, records;
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
        h->blocked.items = calloc(LIST_MAX, sizeof(struct ledger_record));
        h->faults.items = calloc(LIST_MAX, sizeof(struct ledger_record));
        h->policies.items = calloc(LIST_MAX, sizeof(struct ledger_record));
        if (!h->devices || !h->blocked.items || !h->faults.items || !h->policies.items) {
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
        free(h);
        return NULL;
}

static void list_add(struct list *l, const struct ledger_record *r) {
        if (l->n < LIST_MAX)
                l->items[l->n++] = *r;
        l->total++;
}

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

        /* The record's own wall-clock date, as its time is shown. */
        if (!gmtime_r(&t, &tm) || strftime(date, sizeof date, "%Y-%m-%d", &tm) == 0)
                return NULL;
        for (size_t i = 0; i < h->n_days; i++)
                if (streq(h->days[i].date, date))
                        return &h->days[i];
        if (h->n_days >= DAYS_MAX)
                return NULL;
        struct day *d = &h->days[h->n_days++];
        memcpy(d->date, date, sizeof date);
        return d;
}

static bool is_blocked_attempt(const struct ledger_record *r) {
        return r->decision == LEDGER_DECISION_BLOCK &&
               (r->event == LEDGER_EVENT_CONNECTED || r->event == LEDGER_EVENT_APPEARED ||
                r->event == LEDGER_EVENT_REEVALUATED || r->event == LEDGER_EVENT_VIOLATION ||
                r->event == LEDGER_EVENT_WIRELESS_JOINED);
}

int html_report_add(struct html_report *h, const struct ledger_record *r) {
        struct day *d = day_of(h, r);
        bool fault = ledger_record_is_fault(r);

        h->records++;
        if (r->subject == LEDGER_SUBJECT_POLICY && !fault)
                list_add(&h->policies, r);
        if ((r->subject == LEDGER_SUBJECT_USB || r->subject == LEDGER_SUBJECT_NETWORK) &&
            (r->event == LEDGER_EVENT_CONNECTED || r->event == LEDGER_EVENT_APPEARED ||
             r->event == LEDGER_EVENT_WIRELESS_JOINED) &&
            (r->decision == LEDGER_DECISION_ALLOW || r->decision == LEDGER_DECISION_READ_ONLY)) {
                device_add(h, r);
                tally(&h->usage, r);
                if (d)
                        tally(&d->usage, r);
        }
        if (is_blocked_attempt(r)) {
                list_add(&h->blocked, r);
                tally(&h->blocked_events, r);
                if (d)
                        tally(&d->blocked, r);
        }
        if (fault) {
                list_add(&h->faults, r);
                if (d)
                        d->faults++;
        }
        return 0;
}

/* ---- writing ----------------------------------------------------------------------------- */

static void esc(FILE *f, const char *s) {
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
        esc(f, s);
        fputs("</td>", f);
}

static void td_time(FILE *f, int64_t t, int64_t offset) {
        struct ledger_record tmp = { .time = t, .utc_offset = offset };
        char buf[ISO8601_MAX_LEDGER] = "";
        (void) ledger_record_format_time(&tmp, buf, sizeof buf);
        fputs("<td class=\"t\">", f);
        esc(f, buf);
        fputs("</td>", f);
}

struct text {
        const char *title, *host, *machine, *week, *period, *records, *chain_start, *chain_end, *policy, *policy_none,
                *policy_serial, *policy_signer, *policy_since, *policy_changes, *summary, *n_usage, *n_blocked,
                *n_faults, *n_records, *chart, *devices, *blocked, *faults, *none, *more[2], *when, *type, *name,
                *vendor, *serial, *permit, *decision, *count, *times, *first, *last, *event, *remarks, *untracked[2], *verify,
                *legend_usage, *legend_blocked, *legend_faults, *user;
};

static const struct text text_ja = {
        .title = "機器利用・障害記録 週次報告",
        .host = "端末", .machine = "マシンID", .week = "対象週", .period = "期間", .records = "記録番号",
        .chain_start = "開始ハッシュ", .chain_end = "終了ハッシュ",
        .policy = "適用中のポリシー", .policy_none = "週の開始時に適用されていたポリシーの記録はありません。",
        .policy_serial = "通し番号", .policy_signer = "署名者", .policy_since = "適用日時",
        .policy_changes = "週内のポリシー変更",
        .summary = "概要", .n_usage = "許可された接続", .n_blocked = "拒否された接続", .n_faults = "障害記録",
        .n_records = "記録の総数",
        .chart = "日別の件数", .devices = "使用された機器と許可", .blocked = "拒否された接続",
        .faults = "障害記録", .none = "なし", .more = { "ほか ", " 件は records.jsonl と CSV を参照してください。" },
        .when = "日時", .type = "機器種別", .name = "機器名", .vendor = "ベンダー/製品", .serial = "シリアル番号",
        .permit = "許可番号", .decision = "判定", .count = "回数", .times = "回数", .first = "初回", .last = "最終",
        .event = "事象", .remarks = "備考", .user = "利用者",
        .untracked = { "ほか ", " 件の接続は機器数の上限を超えたため一覧にありません。" },
        .verify = "この報告書は同じフォルダーの MANIFEST に SHA-256 で記載され、MANIFEST は端末の出力鍵で署名されています"
                  "（MANIFEST.sig）。検証: policyctl verify-export フォルダー --key " KYOKA_EXPORT_PUB_FILE,
        .legend_usage = "許可された接続", .legend_blocked = "拒否", .legend_faults = "障害",
};

static const struct text text_en = {
        .title = "Device usage and fault records: weekly report",
        .host = "Workstation", .machine = "Machine ID", .week = "Week", .period = "Period", .records = "Records",
        .chain_start = "Start hash", .chain_end = "End hash",
        .policy = "Policy in force", .policy_none = "No record of a policy in force at the start of the week.",
        .policy_serial = "Serial", .policy_signer = "Signer", .policy_since = "In force since",
        .policy_changes = "Policy changes during the week",
        .summary = "Summary", .n_usage = "Allowed connections", .n_blocked = "Blocked attempts", .n_faults = "Fault records",
        .n_records = "All records",
        .chart = "Per day", .devices = "Devices used and their permits", .blocked = "Blocked attempts",
        .faults = "Fault records", .none = "None", .more = { "", " more: see records.jsonl and the CSV files." },
        .when = "Date/time", .type = "Device type", .name = "Device name", .vendor = "Vendor/product",
        .serial = "Serial number", .permit = "Permit number", .decision = "Decision", .count = "Uses", .times = "Count",
        .first = "First", .last = "Last", .event = "Event", .remarks = "Remarks", .user = "User",
        .untracked = { "", " more connections are not listed: too many distinct devices." },
        .verify = "This report is listed with its SHA-256 in MANIFEST in the same folder, which the workstation's "
                  "export key signs (MANIFEST.sig). To check: policyctl verify-export FOLDER --key " KYOKA_EXPORT_PUB_FILE,
        .legend_usage = "Allowed connections", .legend_blocked = "Blocked", .legend_faults = "Faults",
};

static const char css[] =
        "body{font-family:\"Noto Sans CJK JP\",\"Noto Sans JP\",\"Yu Gothic\",\"Meiryo\",sans-serif;font-size:10.5pt;"
        "color:#111;margin:16px 24px;line-height:1.45}"
        "h1{font-size:17pt;border-bottom:2px solid #333;padding-bottom:4px;margin:0 0 10px}"
        "h2{font-size:12.5pt;margin:18px 0 6px;border-left:5px solid #555;padding-left:6px}"
        "table{border-collapse:collapse;width:100%;margin:4px 0 8px}"
        "th,td{border:1px solid #999;padding:2px 5px;vertical-align:top;text-align:left;overflow-wrap:anywhere}"
        "th{background:#eee;font-weight:bold}"
        "table.kv{width:auto}table.kv th{width:9em}"
        "td.n{text-align:right;white-space:nowrap}th.n{white-space:nowrap;overflow-wrap:normal}"
        "td.t{white-space:nowrap}.h{font-family:monospace;font-size:8.5pt}"
        ".note{font-size:9pt;color:#333}.legend span{display:inline-block;margin-right:14px}"
        ".sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}"
        "tr{page-break-inside:avoid}h2{page-break-after:avoid}"
        "@page{size:A4;margin:14mm}"
        "@media print{body{margin:0}}";

static const char *const colours[3] = { "#3b73b9", "#d9822b", "#c23b3b" };

static void write_chart(FILE *f, struct html_report *h, const struct html_context *c, const struct text *tx) {
        struct day week[7] = {};
        uint64_t max = 1;
        const int W = 700, H = 200, top = 10, base = 170, group = 100;

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
        const char *names[3] = { tx->legend_usage, tx->legend_blocked, tx->legend_faults };
        for (int k = 0; k < 3; k++) {
                fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>", colours[k]);
                esc(f, names[k]);
                fputs("</span>", f);
        }
        fputs("</div>\n", f);
}

/* "PRE N POST" as a note, when N > 0. */
static void write_more(FILE *f, const char *const text[2], uint64_t n) {
        if (n == 0)
                return;
        fputs("<p class=\"note\">", f);
        esc(f, text[0]);
        fprintf(f, "%llu", (unsigned long long) n);
        esc(f, text[1]);
        fputs("</p>\n", f);
}

/* NUMBER: the column (if any) that holds numbers; its header is not broken inside a word. */
static void th_row(FILE *f, const char *const *cols, size_t n, const char *number) {
        fputs("<tr>", f);
        for (size_t i = 0; i < n; i++) {
                fputs(cols[i] == number ? "<th class=\"n\">" : "<th>", f);
                esc(f, cols[i]);
                fputs("</th>", f);
        }
        fputs("</tr>\n", f);
}

static int cmp_devices(const void *a, const void *b) {
        const struct device *x = a, *y = b;
        /* Stable for equal times: seq is unique. */
        if (x->first.seq != y->first.seq)
                return x->first.seq < y->first.seq ? -1 : 1;
        return 0;
}

int html_report_write(struct html_report *h, FILE *f, const struct html_context *c, enum export_lang lang) {
        const struct text *tx = lang == EXPORT_LANG_EN ? &text_en : &text_ja;
        char buf[2 * LEDGER_MESSAGE_MAX], hex[LEDGER_HASH_HEX], from[16] = "", to[16] = "";

        fprintf(f, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
                lang == EXPORT_LANG_EN ? "en" : "ja");
        esc(f, tx->title);
        fputs(" ", f);
        esc(f, c->host);
        fputs(" ", f);
        esc(f, c->week->name);
        fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", css);
        esc(f, tx->title);
        fputs("</h1>\n<table class=\"kv\">\n", f);

        time_t s = (time_t) c->week->start, e = (time_t) (c->week->end - 1);
        struct tm tm;
        if (localtime_r(&s, &tm))
                strftime(from, sizeof from, "%Y-%m-%d", &tm);
        if (localtime_r(&e, &tm))
                strftime(to, sizeof to, "%Y-%m-%d", &tm);
        snprintf(buf, sizeof buf, "%s – %s", from, to);
        const char *kv[][2] = {
                { tx->host, c->host }, { tx->machine, c->machine_id }, { tx->week, c->week->name }, { tx->period, buf },
        };
        for (size_t i = 0; i < ELEMENTSOF(kv); i++) {
                fputs("<tr><th>", f);
                esc(f, kv[i][0]);
                fputs("</th>", f);
                td(f, kv[i][1]);
                fputs("</tr>\n", f);
        }
        if (c->last_seq >= c->first_seq)
                snprintf(buf, sizeof buf, "%lld – %lld", (long long) c->first_seq, (long long) c->last_seq);
        else
                snprintf(buf, sizeof buf, "%s", tx->none);
        fputs("<tr><th>", f);
        esc(f, tx->records);
        fputs("</th>", f);
        td(f, buf);
        fputs("</tr>\n", f);
        for (int k = 0; k < 2; k++) {
                hex_encode(k == 0 ? c->start_hash : c->end_hash, LEDGER_HASH_SIZE, hex);
                fputs("<tr><th>", f);
                esc(f, k == 0 ? tx->chain_start : tx->chain_end);
                fprintf(f, "</th><td class=\"h\">%s</td></tr>\n", hex);
        }
        fputs("</table>\n", f);

        /* The policy in force. */
        fputs("<h2>", f);
        esc(f, tx->policy);
        fputs("</h2>\n", f);
        if (c->policy_at_start) {
                const struct ledger_record *p = c->policy_at_start;
                snprintf(buf, sizeof buf, "%lld", (long long) p->policy_serial);
                fputs("<table class=\"kv\"><tr><th>", f);
                esc(f, tx->policy_serial);
                fputs("</th>", f);
                td(f, buf);
                fputs("</tr><tr><th>", f);
                esc(f, tx->policy_signer);
                fputs("</th>", f);
                td(f, p->signer);
                fputs("</tr><tr><th>", f);
                esc(f, tx->policy_since);
                fputs("</th>", f);
                td_time(f, p->time, p->utc_offset);
                fputs("</tr></table>\n", f);
        } else {
                fputs("<p>", f);
                esc(f, tx->policy_none);
                fputs("</p>\n", f);
        }
        if (h->policies.n > 0) {
                const char *cols[] = { tx->when, tx->event, tx->policy_serial, tx->policy_signer, tx->remarks };
                fputs("<p>", f);
                esc(f, tx->policy_changes);
                fputs("</p>\n<table>\n", f);
                th_row(f, cols, ELEMENTSOF(cols), NULL);
                for (size_t i = 0; i < h->policies.n; i++) {
                        const struct ledger_record *r = &h->policies.items[i];
                        fputs("<tr>", f);
                        td_time(f, r->time, r->utc_offset);
                        td(f, export_label_event(r, lang));
                        snprintf(buf, sizeof buf, "%lld", (long long) r->policy_serial);
                        td(f, r->policy_serial > 0 ? buf : "");
                        td(f, r->signer);
                        export_remarks(r, lang, buf, sizeof buf);
                        td(f, buf);
                        fputs("</tr>\n", f);
                }
                fputs("</table>\n", f);
                write_more(f, tx->more, h->policies.total - h->policies.n);
        }

        /* Summary and chart. */
        fputs("<h2>", f);
        esc(f, tx->summary);
        fputs("</h2>\n<table class=\"kv\">\n", f);
        const struct { const char *k; uint64_t v; } sums[] = {
                { tx->n_usage, h->usage }, { tx->n_blocked, h->blocked_events }, { tx->n_faults, h->faults.total },
                { tx->n_records, h->records },
        };
        for (size_t i = 0; i < ELEMENTSOF(sums); i++) {
                fputs("<tr><th>", f);
                esc(f, sums[i].k);
                fprintf(f, "</th><td class=\"n\">%llu</td></tr>\n", (unsigned long long) sums[i].v);
        }
        fputs("</table>\n<h2>", f);
        esc(f, tx->chart);
        fputs("</h2>\n", f);
        write_chart(f, h, c, tx);

        /* Devices used, in order of first use. */
        fputs("<h2>", f);
        esc(f, tx->devices);
        fputs("</h2>\n", f);
        _cleanup_free_ struct device *list = calloc(MAX(h->n_devices, (size_t) 1), sizeof *list);
        size_t n = 0;
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < DEVICES_MAX; i++)
                if (h->devices[i].hash)
                        list[n++] = h->devices[i];
        qsort(list, n, sizeof *list, cmp_devices);
        if (n == 0) {
                fputs("<p>", f);
                esc(f, tx->none);
                fputs("</p>\n", f);
        } else {
                const char *cols[] = { tx->type, tx->name, tx->vendor, tx->serial, tx->permit, tx->decision,
                                       tx->user, tx->count, tx->first, tx->last };
                fputs("<table>\n", f);
                th_row(f, cols, ELEMENTSOF(cols), tx->count);
                for (size_t i = 0; i < n; i++) {
                        const struct ledger_record *r = &list[i].first;
                        fputs("<tr>", f);
                        td(f, export_label_device_type(r, lang));
                        export_device_name(r, buf, sizeof buf);
                        td(f, buf);
                        export_vendor_product(r, buf, sizeof buf);
                        td(f, buf);
                        td(f, r->subject == LEDGER_SUBJECT_NETWORK ? r->mac : r->serial);
                        td(f, r->permit);
                        td(f, export_label_decision(r->decision, lang));
                        export_user(r, buf, sizeof buf);
                        td(f, buf);
                        fprintf(f, "<td class=\"n\">%llu</td>", (unsigned long long) list[i].count);
                        td_time(f, r->time, r->utc_offset);
                        td_time(f, list[i].last_time, list[i].last_offset);
                        fputs("</tr>\n", f);
                }
                fputs("</table>\n", f);
        }
        write_more(f, tx->untracked, h->devices_untracked);

        /* Blocked attempts and faults, in seq order. */
        for (int k = 0; k < 2; k++) {
                const struct list *l = k == 0 ? &h->blocked : &h->faults;
                fputs("<h2>", f);
                esc(f, k == 0 ? tx->blocked : tx->faults);
                fputs("</h2>\n", f);
                if (l->total == 0) {
                        fputs("<p>", f);
                        esc(f, tx->none);
                        fputs("</p>\n", f);
                        continue;
                }
                const char *cols_b[] = { tx->when, tx->type, tx->event, tx->times, tx->name, tx->vendor, tx->serial,
                                         tx->user, tx->remarks };
                const char *cols_f[] = { tx->when, tx->type, tx->event, tx->times, tx->name, tx->remarks };
                fputs("<table>\n", f);
                if (k == 0)
                        th_row(f, cols_b, ELEMENTSOF(cols_b), tx->times);
                else
                        th_row(f, cols_f, ELEMENTSOF(cols_f), tx->times);
                for (size_t i = 0; i < l->n; i++) {
                        const struct ledger_record *r = &l->items[i];
                        fputs("<tr>", f);
                        td_time(f, r->time, r->utc_offset);
                        td(f, export_label_device_type(r, lang));
                        td(f, export_label_event(r, lang));
                        fprintf(f, "<td class=\"n\">%lld</td>", (long long) r->count);
                        export_device_name(r, buf, sizeof buf);
                        td(f, buf);
                        if (k == 0) {
                                export_vendor_product(r, buf, sizeof buf);
                                td(f, buf);
                                td(f, r->subject == LEDGER_SUBJECT_NETWORK ? r->mac : r->serial);
                                export_user(r, buf, sizeof buf);
                                td(f, buf);
                        }
                        export_remarks(r, lang, buf, sizeof buf);
                        td(f, buf);
                        fputs("</tr>\n", f);
                }
                fputs("</table>\n", f);
                write_more(f, tx->more, l->total - l->n);
        }

        fputs("<p class=\"note\">", f);
        esc(f, tx->verify);
        fputs("</p>\n</body>\n</html>\n", f);
        return ferror(f) ? -EIO : 0;
}
