/* SPDX-License-Identifier: MIT */
/* The ledger under load (bench/ledger.sh writes bench/LEDGER.md from its output).
 *   ledger-bench storm DB N BATCH [T]  append N records, committing every BATCH; after each
 *                                   commit print the seq of every record it made durable, one a
 *                                   line (tests/integration/test-ledger.sh kills it with SIGKILL);
 *                                   stamped T (seconds since the epoch) if given, else now
 *   ledger-bench throughput DIR N   durable appends per second for several group-commit sizes
 *   ledger-bench week DIR N         N records in one week: fill, export (csv, json, html), the
 *                                   PDF of its report, verify the export, collect it, verify
 *                                   the ledger; times in seconds
 *   ledger-bench fill DIR N         only the first step of `week`: DIR/week.db with N records
 *                                   and the export key, for `phase`
 *   ledger-bench phase DIR WHAT     one step of `week` again on DIR/week.db as `week` left it
 *                                   (WHAT: export, verify-export, ledger-verify or breakdown),
 *                                   for perf
 *   ledger-bench fleet DIR WS WEEKS N  WS workstations, each with its own key and WEEKS weeks of
 *                                   N records: export every week (all formats, the PDF too),
 *                                   then collect them all; times in seconds
 * The PDF is made by KYOKA_PDF_ENGINE (default /usr/bin/weasyprint); without it, pdf_s=-1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect.h"
#include "export.h"
#include "fileio.h"
#include "ledger.h"
#include "policy-sign.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process, every thread (user + system). */
static double cpu(void) {
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* A USB decision as kyokad records it, every identity field filled. */
static struct ledger_record sample(int64_t t, uint64_t i) {
        struct ledger_record r;
        /* One record in a thousand is a fault: the report lists them. */
        if (i % 1000 == 999) {
                ledger_record_init(&r, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_FAULT);
                r.time = t;
                r.utc_offset = 9 * 3600;
                strcpy(r.hostname, "ws-bench01");
                strcpy(r.machine_id, "0123456789abcdef0123456789abcdef");
                r.outcome = LEDGER_OUTCOME_FAILED;
                r.error_number = EIO;
                strcpy(r.reason, "enforce");
                strcpy(r.message, "Failed to queue enforcement for USB device 1-2: Input/output error");
                return r;
        }
        ledger_record_init(&r, LEDGER_SUBJECT_USB, i % 7 == 0 ? LEDGER_EVENT_REMOVED : LEDGER_EVENT_CONNECTED);
        r.time = t;
        r.utc_offset = 9 * 3600;
        strcpy(r.hostname, "ws-bench01");
        strcpy(r.machine_id, "0123456789abcdef0123456789abcdef");
        strcpy(r.boot_id, "fedcba9876543210fedcba9876543210");
        strcpy(r.vendor, "0781");
        strcpy(r.product, "5581");
        snprintf(r.serial, sizeof r.serial, "4C5300012311201%05llu", (unsigned long long) (i % 50));
        strcpy(r.manufacturer, "SanDisk");
        strcpy(r.product_name, "Ultra");
        strcpy(r.bus_path, "1-2");
        strcpy(r.interfaces, "08:06:50");
        r.decision = i % 5 == 0 ? LEDGER_DECISION_BLOCK : LEDGER_DECISION_ALLOW;
        strcpy(r.permit, r.decision == LEDGER_DECISION_ALLOW ? "KIS-2026-0142" : "");
        strcpy(r.reason, r.decision == LEDGER_DECISION_ALLOW ? "permit KIS-2026-0142" : "default: block");
        r.uid = 1000;
        strcpy(r.user, "tanaka");
        return r;
}

static int storm(const char *db, long n, long batch, int64_t t) {
        struct ledger *l;
        int64_t last = 0, prev = 0;
        int r;

        r = ledger_open(db, 0, (size_t) batch, &l);
        if (r < 0)
                return fprintf(stderr, "open: %s\n", strerror(-r)), 1;
        (void) ledger_tail(l, &prev, (uint8_t[LEDGER_HASH_SIZE]) {});
        for (long i = 0; i < n;) {
                for (long k = 0; k < batch && i < n; k++, i++) {
                        struct ledger_record rec = sample(t ?: time(NULL), (uint64_t) i);
                        if (ledger_append(l, &rec) < 0)
                                return fprintf(stderr, "append failed\n"), 1;
                }
                r = ledger_commit(l, &last);
                if (r < 0)
                        return fprintf(stderr, "commit: %s\n", strerror(-r)), 1;
                /* Only now are they durable: say so, one seq a line. */
                for (int64_t s = prev + 1; s <= last; s++)
                        printf("%lld\n", (long long) s);
                fflush(stdout);
                prev = last;
        }
        ledger_close(l);
        return 0;
}

static int throughput(const char *dir, long n) {
        static const long batches[] = { 1, 16, 256, 4096 };

        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
                char db[4096];
                struct ledger *l;
                long total = batches[b] == 1 ? MIN(n, 2000L) : n;  /* one fsync each: keep it short */

                snprintf(db, sizeof db, "%s/throughput-%ld.db", dir, batches[b]);
                if (ledger_open(db, 0, (size_t) batches[b], &l) < 0)
                        return 1;
                double t0 = now();
                for (long i = 0; i < total;) {
                        for (long k = 0; k < batches[b] && i < total; k++, i++) {
                                struct ledger_record rec = sample(time(NULL), (uint64_t) i);
                                if (ledger_append(l, &rec) < 0)
                                        return 1;
                        }
                        if (ledger_commit(l, NULL) < 0)
                                return 1;
                }
                double dt = now() - t0;
                printf("throughput batch=%ld records=%ld seconds=%.2f per_second=%.0f\n", batches[b], total, dt,
                       total / dt);
                fflush(stdout);
                ledger_close(l);
        }
        return 0;
}

static char path_buf[4200];

/* ---- where the export's and the verification's time goes --------------------------------- */

struct parts {
        FILE *null;
        struct html_report *html;
        struct media_tracker *media;
        struct ledger_hasher *hasher;
        unsigned what;
};
enum { PART_READ, PART_JSONL, PART_CSV, PART_HTML, PART_DECODE_JSONL, PART_CHAIN_HASH };

static int part_cb(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                   const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        static char line[LEDGER_JSONL_MAX];
        static uint8_t enc[LEDGER_ENCODING_MAX];
        struct parts *p = userdata;
        struct ledger_record back;
        uint8_t p2[LEDGER_HASH_SIZE], h2[LEDGER_HASH_SIZE];
        size_t len;

        switch (p->what) {
        case PART_JSONL:
                return jsonl_write_record(p->null, r, prev, hash);
        case PART_CSV: {
                const char *permit = media_tracker_permit(p->media, r);
                enum export_media_kind mk = export_media_kind(r);
                int k = export_is_usage(r) ? csv_write_row(p->null, r, EXPORT_LANG_JA) : 0;
                if (k >= 0 && ledger_record_is_fault(r))
                        k = csv_write_row(p->null, r, EXPORT_LANG_JA);
                if (k >= 0 && mk != EXPORT_MEDIA_NONE)
                        k = csv_write_media_row(p->null, r, mk, permit, NULL, EXPORT_LANG_JA);
                return k;
        }
        case PART_HTML:
                return html_report_add(p->html, r, media_tracker_permit(p->media, r));
        case PART_DECODE_JSONL:
                /* verify-export's work on a line: read it back, then rebuild its canonical bytes. */
                len = ledger_record_to_jsonl(r, prev, hash, line);
                if (ledger_record_from_jsonl(line, len, &back, p2, h2) < 0)
                        return -EBADMSG;
                return 0;
        case PART_CHAIN_HASH:
                len = ledger_record_encode(r, enc);
                return ledger_hasher_chain(p->hasher, prev, enc, len, h2);
        default:
                return 0;
        }
}

/* CPU seconds of each part alone, one thread, over the week's records: reading them (SQLite
 * step, decode, the columns checked against the hashed bytes), formatting records.jsonl, the
 * three CSVs, feeding the report, reading a records.jsonl line back (less the formatting),
 * hashing the chain; and SHA-256 of the export's files (MANIFEST's hashes, and verify-export's). */
static int breakdown(struct ledger *l, const struct export_week *w, const char *dir) {
        static const char *const names[] = { "read_cpu_s", "jsonl_cpu_s", "csv_cpu_s", "html_cpu_s",
                                             "jsonl_read_cpu_s", "chain_hash_cpu_s" };
        double t[6], read_t = 0;
        int64_t first, end;

        if (ledger_seq_at_time(l, w->start, &first) < 0 || ledger_seq_at_time(l, w->end, &end) < 0)
                return 1;
        printf("breakdown");
        for (unsigned i = 0; i < 6; i++) {
                struct parts p = { .what = i };
                if (!(p.null = fopen("/dev/null", "we")) || html_report_new(&p.html) < 0 ||
                    media_tracker_new(&p.media) < 0 || ledger_hasher_new(&p.hasher) < 0)
                        return 1;
                (void) setvbuf(p.null, NULL, _IOFBF, 1u << 20);
                double c0 = cpu();
                if (ledger_foreach(l, first, end - 1, part_cb, &p) < 0)
                        return fprintf(stderr, "breakdown: %s failed\n", names[i]), 1;
                t[i] = cpu() - c0;
                if (i == PART_READ)
                        read_t = t[i];
                else
                        t[i] -= read_t;
                if (i == PART_DECODE_JSONL)
                        t[i] -= t[PART_JSONL];
                printf(" %s=%.1f", names[i], t[i] > 0 ? t[i] : 0.0);
                fclose(p.null);
                html_report_free(p.html);
                media_tracker_free(p.media);
                ledger_hasher_free(p.hasher);
        }
        double c0 = cpu();
        static const char *const files[] = { "records.jsonl", "usage.csv", "media.csv", "faults.csv", "report.html" };
        for (size_t i = 0; i < 5; i++) {
                uint8_t h[32];
                if (file_sha256(dir, files[i], h) < 0)
                        return 1;
        }
        printf(" files_sha256_cpu_s=%.1f\n", cpu() - c0);
        return 0;
}

static const char *engine(void) {
        return getenv("KYOKA_PDF_ENGINE") ?: EXPORT_PDF_ENGINE;
}

/* DIR/week.db with N records in 2026-W47, and DIR/export.key, DIR/export.pub; *L stays open. */
static int week_fill(const char *dir, long n, struct ledger **ret, double *fill_s) {
        char db[4096], keyprefix[2048];
        struct ledger *l;
        struct export_week w;

        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        snprintf(db, sizeof db, "%s/week.db", dir);
        snprintf(keyprefix, sizeof keyprefix, "%s/export", dir);
        if (key_generate(keyprefix) < 0)
                return 1;
        if (ledger_open(db, 0, 10000, &l) < 0 || export_week_parse("2026-W47", &w) < 0)
                return 1;

        double t0 = now();
        for (long i = 0; i < n;) {
                for (long k = 0; k < 10000 && i < n; k++, i++) {
                        struct ledger_record rec = sample(w.start + (int64_t) ((double) i / n * (w.end - w.start)), (uint64_t) i);
                        if (ledger_append(l, &rec) < 0)
                                return 1;
                }
                if (ledger_commit(l, NULL) < 0)
                        return 1;
        }
        *fill_s = now() - t0;
        *ret = l;
        return 0;
}

static int week(const char *dir, long n) {
        char out[4096], keypath[4096], pubpath[4096];
        struct ledger *l;
        struct signing_key *key;
        struct trusted_key *pub;
        struct export_week w;
        struct export_result res;
        struct export_verify_report rep;
        struct ledger_verify_report vrep;
        int r;

        double t_fill;
        if (week_fill(dir, n, &l, &t_fill) != 0)
                return 1;
        snprintf(out, sizeof out, "%s/exports", dir);
        snprintf(keypath, sizeof keypath, "%s/export.key", dir);
        snprintf(pubpath, sizeof pubpath, "%s/export.pub", dir);
        if (signing_key_load(keypath, &key) < 0 || trusted_key_load(pubpath, &pub) < 0 ||
            export_week_parse("2026-W47", &w) < 0)
                return 1;

        double t0 = now();
        double c0 = cpu();
        char err[512];
        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = EXPORT_CSV | EXPORT_JSON | EXPORT_HTML };
        r = export_write(l, &w, &o, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
        if (r < 0)
                return fprintf(stderr, "export: %s %s\n", strerror(-r), err), 1;
        double t_export = now() - t0, c_export = cpu() - c0;

        /* The whole export again with the PDF: the difference is the PDF's time. */
        double t_pdf = -1;
        if (access(engine(), X_OK) == 0) {
                o.formats = EXPORT_ALL;
                o.pdf_engine = engine();
                t0 = now();
                r = export_write(l, &w, &o, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
                if (r < 0)
                        return fprintf(stderr, "export with pdf: %s %s\n", strerror(-r), err), 1;
                t_pdf = now() - t0 - t_export;
        }

        t0 = now();
        c0 = cpu();
        r = export_verify(res.dir, pub, NULL, NULL, &rep);
        if (r < 0)
                return fprintf(stderr, "verify-export: %s %s\n", strerror(-r), rep.problem), 1;
        double t_verify_export = now() - t0, c_verify_export = cpu() - c0;

        /* The city's side: collect the week (keys folder, summary with its PDF). */
        char keys[4096], summary[4096], *dirs[] = { out };
        snprintf(keys, sizeof keys, "%s/keys", dir);
        snprintf(summary, sizeof summary, "%s/summary", dir);
        if (mkdir(keys, 0755) < 0 || link(pubpath, (snprintf(path_buf, sizeof path_buf, "%s/ws.pub", keys), path_buf)) < 0)
                return 1;
        struct collect_options co = { .lang = EXPORT_LANG_JA, .pdf = t_pdf >= 0, .pdf_engine = engine() };
        struct collect_result cres;
        t0 = now();
        r = collect_run(keys, dirs, 1, summary, &co, NULL, NULL, &cres, err, sizeof err);
        if (r != 0)
                return fprintf(stderr, "collect: %d %s\n", r, err), 1;
        double t_collect = now() - t0;

        t0 = now();
        c0 = cpu();
        r = ledger_verify(l, &vrep);
        if (r < 0)
                return fprintf(stderr, "ledger verify: %s\n", strerror(-r)), 1;
        double t_verify = now() - t0, c_verify = cpu() - c0;

        char path[4200];
        size_t jsonl = 0, usage = 0, html = 0;
        struct { const char *name; size_t *size; } files[] = { { "records.jsonl", &jsonl }, { "usage.csv", &usage },
                                                               { "report.html", &html } };
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof path, "%s/%s", res.dir, files[i].name);
                FILE *f = fopen(path, "re");
                if (f) {
                        fseek(f, 0, SEEK_END);
                        *files[i].size = (size_t) ftell(f);
                        fclose(f);
                }
        }
        size_t pdf = 0;
        snprintf(path, sizeof path, "%s/report.pdf", res.dir);
        FILE *pf = fopen(path, "re");
        if (pf) {
                fseek(pf, 0, SEEK_END);
                pdf = (size_t) ftell(pf);
                fclose(pf);
        }
        printf("week records=%ld fill_s=%.1f export_s=%.1f pdf_s=%.1f verify_export_s=%.1f collect_s=%.1f "
               "ledger_verify_s=%.1f jsonl_mib=%.0f usage_csv_mib=%.0f report_kib=%.0f pdf_kib=%.0f "
               "export_cpu_s=%.1f verify_export_cpu_s=%.1f ledger_verify_cpu_s=%.1f\n",
               n, t_fill, t_export, t_pdf, t_verify_export, t_collect, t_verify, jsonl / 1048576.0, usage / 1048576.0,
               html / 1024.0, pdf / 1024.0, c_export, c_verify_export, c_verify);
        fflush(stdout);
        r = breakdown(l, &w, res.dir);
        if (r != 0)
                return r;
        ledger_close(l);
        signing_key_free(key);
        trusted_key_free(pub);
        return 0;
}

/* WS workstations of one contract, WEEKS weeks of N records each: every week exported with its
 * PDF, as each workstation's timer does, then all of them collected, as the city does. */
static int fleet(const char *dir, long ws, long weeks, long n) {
        char keys[4096], out[4096], summary[4096], err[512];
        double t_fill = 0, t_export = 0;
        int r;

        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        snprintf(keys, sizeof keys, "%s/keys", dir);
        snprintf(out, sizeof out, "%s/exports", dir);
        snprintf(summary, sizeof summary, "%s/summary", dir);
        if (mkdir(keys, 0755) < 0)
                return 1;
        bool pdf = access(engine(), X_OK) == 0;
        for (long k = 0; k < ws; k++) {
                char db[4200], prefix[4200], keypath[4300], pubpath[4300], host[64];
                struct signing_key *key;
                struct trusted_key *pub;
                struct ledger *l;
                struct export_week w0;

                snprintf(db, sizeof db, "%s/ws%02ld.db", dir, k);
                snprintf(prefix, sizeof prefix, "%s/ws%02ld", keys, k);
                snprintf(keypath, sizeof keypath, "%s.key", prefix);
                snprintf(pubpath, sizeof pubpath, "%s.pub", prefix);
                snprintf(host, sizeof host, "ws-bench%02ld", k);
                if (key_generate(prefix) < 0 || signing_key_load(keypath, &key) < 0 || trusted_key_load(pubpath, &pub) < 0 ||
                    unlink(keypath) < 0 || ledger_open(db, 0, 10000, &l) < 0 || export_week_parse("2026-W45", &w0) < 0)
                        return 1;
                double t0 = now();
                int64_t span = weeks * 7 * 86400;
                for (long i = 0; i < weeks * n;) {
                        for (long b = 0; b < 10000 && i < weeks * n; b++, i++) {
                                struct ledger_record rec = sample(w0.start + (int64_t) ((double) i / (weeks * n) * span), (uint64_t) i);
                                snprintf(rec.hostname, sizeof rec.hostname, "%s", host);
                                snprintf(rec.machine_id, sizeof rec.machine_id, "%032lx", 0xb0000 + k);
                                if (ledger_append(l, &rec) < 0)
                                        return 1;
                        }
                        if (ledger_commit(l, NULL) < 0)
                                return 1;
                }
                t_fill += now() - t0;
                t0 = now();
                char name[EXPORT_WEEK_MAX] = "2026-W45";
                for (long k2 = 0; k2 < weeks; k2++, (void) export_week_next(name, name)) {
                        struct export_week w;
                        struct export_result res;
                        struct export_options o = { .lang = EXPORT_LANG_JA, .formats = pdf ? EXPORT_ALL : EXPORT_CSV | EXPORT_JSON | EXPORT_HTML,
                                                    .pdf_engine = engine() };
                        if (export_week_parse(name, &w) < 0)
                                return 1;
                        r = export_write(l, &w, &o, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
                        if (r < 0)
                                return fprintf(stderr, "export: %s %s\n", strerror(-r), err), 1;
                }
                t_export += now() - t0;
                ledger_close(l);
                signing_key_free(key);
                trusted_key_free(pub);
        }
        char *dirs[] = { out };
        struct collect_options co = { .lang = EXPORT_LANG_JA, .pdf = pdf, .pdf_engine = engine() };
        struct collect_result cres;
        double t0 = now();
        r = collect_run(keys, dirs, 1, summary, &co, NULL, NULL, &cres, err, sizeof err);
        double t_collect = now() - t0;
        if (r != 0 || cres.good != (size_t) (ws * weeks))
                return fprintf(stderr, "collect: %d %s (%zu good)\n", r, err, cres.good), 1;
        printf("fleet workstations=%ld weeks=%ld records_per_week=%ld pdf=%s fill_s=%.1f export_s=%.1f "
               "export_per_week_s=%.2f collect_s=%.1f\n", ws, weeks, n, pdf ? "yes" : "no", t_fill, t_export,
               t_export / (double) (ws * weeks), t_collect);
        return 0;
}

/* One step of week() on the ledger and key it left in DIR: export (csv, jsonl, html) to
 * DIR/exports, verify that export, or verify the ledger; its time in seconds. */
static int phase(const char *dir, const char *what) {
        char db[4096], out[4096], keypath[4096], pubpath[4096], err[512];
        struct ledger *l;
        struct signing_key *key;
        struct trusted_key *pub;
        struct export_week w;
        struct export_result res;
        int r;

        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        snprintf(db, sizeof db, "%s/week.db", dir);
        snprintf(out, sizeof out, "%s/exports", dir);
        snprintf(keypath, sizeof keypath, "%s/export.key", dir);
        snprintf(pubpath, sizeof pubpath, "%s/export.pub", dir);
        if (signing_key_load(keypath, &key) < 0 || trusted_key_load(pubpath, &pub) < 0 ||
            ledger_open(db, LEDGER_OPEN_READ_ONLY, 16, &l) < 0 || export_week_parse("2026-W47", &w) < 0)
                return fprintf(stderr, "phase: cannot open %s\n", dir), 1;
        double t0 = now();
        if (strcmp(what, "export") == 0) {
                struct export_options o = { .lang = EXPORT_LANG_JA, .formats = EXPORT_CSV | EXPORT_JSON | EXPORT_HTML };
                r = export_write(l, &w, &o, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
                if (r < 0)
                        return fprintf(stderr, "export: %s %s\n", strerror(-r), err), 1;
        } else if (strcmp(what, "verify-export") == 0) {
                struct export_verify_report rep;
                char path[4200];
                snprintf(path, sizeof path, "%s/ws-bench01/%s", out, w.name);
                r = export_verify(path, pub, NULL, NULL, &rep);
                if (r < 0)
                        return fprintf(stderr, "verify-export: %s %s\n", strerror(-r), rep.problem), 1;
        } else if (strcmp(what, "ledger-verify") == 0) {
                struct ledger_verify_report vrep;
                r = ledger_verify(l, &vrep);
                if (r < 0)
                        return fprintf(stderr, "ledger verify: %s\n", strerror(-r)), 1;
        } else if (strcmp(what, "breakdown") == 0) {
                char path[4200];
                snprintf(path, sizeof path, "%s/ws-bench01/%s", out, w.name);
                r = breakdown(l, &w, path);
                if (r != 0)
                        return r;
        } else
                return fprintf(stderr, "phase: export, verify-export, ledger-verify or breakdown\n"), 2;
        printf("%s_s=%.2f\n", what, now() - t0);
        ledger_close(l);
        signing_key_free(key);
        trusted_key_free(pub);
        return 0;
}

int main(int argc, char *argv[]) {
        if ((argc == 5 || argc == 6) && strcmp(argv[1], "storm") == 0)
                return storm(argv[2], atol(argv[3]), atol(argv[4]), argc == 6 ? atoll(argv[5]) : 0);
        if (argc == 4 && strcmp(argv[1], "throughput") == 0)
                return throughput(argv[2], atol(argv[3]));
        if (argc == 4 && strcmp(argv[1], "week") == 0)
                return week(argv[2], atol(argv[3]));
        if (argc == 4 && strcmp(argv[1], "fill") == 0) {
                struct ledger *l;
                double t;
                if (week_fill(argv[2], atol(argv[3]), &l, &t) != 0)
                        return 1;
                ledger_close(l);
                printf("fill_s=%.1f\n", t);
                return 0;
        }
        if (argc == 4 && strcmp(argv[1], "phase") == 0)
                return phase(argv[2], argv[3]);
        if (argc == 6 && strcmp(argv[1], "fleet") == 0)
                return fleet(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]));
        fprintf(stderr, "usage: ledger-bench storm DB N BATCH [TIME] | throughput DIR N | week DIR N | fill DIR N | phase DIR WHAT | fleet DIR WS WEEKS N\n");
        return 2;
}
