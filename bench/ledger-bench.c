/* SPDX-License-Identifier: MIT */
/* The ledger under load (bench/ledger.sh writes bench/LEDGER.md from its output).
 *   ledger-bench storm DB N BATCH [T]  append N records, committing every BATCH; after each
 *                                   commit print the seq of every record it made durable, one a
 *                                   line (tests/integration/test-ledger.sh kills it with SIGKILL);
 *                                   stamped T (seconds since the epoch) if given, else now
 *   ledger-bench throughput DIR N   durable appends per second for several group-commit sizes
 *   ledger-bench week DIR N         N records in one week: fill, export (all formats), verify
 *                                   the export, verify the ledger; times in seconds */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"
#include "ledger.h"
#include "policy-sign.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A USB decision as kyokad records it, every identity field filled. */
static struct ledger_record sample(int64_t t, uint64_t i) {
        struct ledger_record r;
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

static int week(const char *dir, long n) {
        char db[4096], out[4096], keyprefix[2048], keypath[4096], pubpath[4096];
        struct ledger *l;
        struct signing_key *key;
        struct trusted_key *pub;
        struct export_week w;
        struct export_result res;
        struct export_verify_report rep;
        struct ledger_verify_report vrep;
        int r;

        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        snprintf(db, sizeof db, "%s/week.db", dir);
        snprintf(out, sizeof out, "%s/exports", dir);
        snprintf(keyprefix, sizeof keyprefix, "%s/export", dir);
        snprintf(keypath, sizeof keypath, "%s.key", keyprefix);
        snprintf(pubpath, sizeof pubpath, "%s.pub", keyprefix);
        if (key_generate(keyprefix) < 0 || signing_key_load(keypath, &key) < 0 || trusted_key_load(pubpath, &pub) < 0)
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
        double t_fill = now() - t0;

        t0 = now();
        char err[512];
        r = export_write(l, &w, EXPORT_LANG_JA, EXPORT_ALL, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
        if (r < 0)
                return fprintf(stderr, "export: %s %s\n", strerror(-r), err), 1;
        double t_export = now() - t0;

        t0 = now();
        r = export_verify(res.dir, pub, &rep);
        if (r < 0)
                return fprintf(stderr, "verify-export: %s %s\n", strerror(-r), rep.problem), 1;
        double t_verify_export = now() - t0;

        t0 = now();
        r = ledger_verify(l, &vrep);
        if (r < 0)
                return fprintf(stderr, "ledger verify: %s\n", strerror(-r)), 1;
        double t_verify = now() - t0;

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
        printf("week records=%ld fill_s=%.1f export_s=%.1f verify_export_s=%.1f ledger_verify_s=%.1f "
               "jsonl_mib=%.0f usage_csv_mib=%.0f report_kib=%.0f\n",
               n, t_fill, t_export, t_verify_export, t_verify, jsonl / 1048576.0, usage / 1048576.0, html / 1024.0);
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
        fprintf(stderr, "usage: ledger-bench storm DB N BATCH [TIME] | throughput DIR N | week DIR N\n");
        return 2;
}
