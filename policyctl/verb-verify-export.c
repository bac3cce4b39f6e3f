/* SPDX-License-Identifier: MIT */
/* policyctl verify-export DIR... [--key PUB]: what the city runs on the folders it received.
 * Each folder: the signature over MANIFEST, every file's SHA-256, no file added, and the records
 * chaining from the week's start hash to its end hash without a gap. Several weeks of one
 * workstation: each week starts where the one before ended, so nothing was removed between
 * them; a missing or altered week and a ledger wiped and started afresh are named
 * (docs/ledger.md, "Verifying an export" and "Across weeks"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "fileio.h"
#include "kyoka-names.h"
#include "policy-sign.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl verify-export DIR... [--key PUB]\n"
               "\n"
               "Check export folders: MANIFEST.sig against the workstation's export key, the\n"
               "SHA-256 of every file, that no file was added, and that records.jsonl chains\n"
               "from the start hash to the end hash in MANIFEST without a gap. Given several\n"
               "weeks of one workstation, also that each week starts where the week before\n"
               "ended: a missing or altered week, records removed between weeks and a ledger\n"
               "started afresh are named.\n"
               "Exit status: 0 good, 1 refused, 2 usage.\n"
               "\n"
               "Options:\n"
               "  --key PUB    the workstation's %s [%s/%s]\n"
               "  -h --help    show this help\n"),
               KYOKA_EXPORT_PUB_FILE, arg_state_dir, KYOKA_EXPORT_PUB_FILE);
}

struct week_result {
        const char *dir;
        struct export_verify_report rep;
        bool good;
};

static int cmp_weeks(const void *a, const void *b) {
        const struct week_result *x = a, *y = b;
        /* Good ones by week; the others after them, as given. */
        if (x->good != y->good)
                return x->good ? -1 : 1;
        if (!x->good)
                return 0;
        return strcmp(x->rep.manifest.week, y->rep.manifest.week);
}

static bool link_ok(enum export_link k) {
        return k == EXPORT_LINK_CONTINUOUS || k == EXPORT_LINK_DUPLICATE;
}

int verb_verify_export(int argc, char *argv[]) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(trusted_key_freep) struct trusted_key *k = NULL;
        _cleanup_free_ char *default_key = NULL;
        _cleanup_free_ struct week_result *weeks = NULL;
        const char *key = NULL;
        size_t n, n_good = 0;
        bool all_good = true;
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        key = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("verify-export", c, argv);
                }
        if (optind >= argc)
                return usage_error("verify-export", _("DIR is required"));
        if (!key) {
                default_key = path_join(arg_state_dir, KYOKA_EXPORT_PUB_FILE);
                if (!default_key)
                        return log_oom();
                key = default_key;
        }

        r = trusted_key_load(key, &k);
        if (r < 0) {
                log_error_errno(r, _("%s: cannot load the export key: %m"), key);
                return EXIT_REFUSED;
        }
        n = (size_t) (argc - optind);
        weeks = calloc(n, sizeof *weeks);
        if (!weeks)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                struct week_result *w = &weeks[i];
                w->dir = argv[optind + i];
                r = export_verify(w->dir, k, NULL, NULL, &w->rep);
                if (r == -EBADMSG) {
                        printf("%s: REFUSED: ", w->dir);
                        fputs_safe(w->rep.problem, stdout);
                        putchar('\n');
                        all_good = false;
                        continue;
                }
                if (r < 0) {
                        log_error_errno(r, _("%s: cannot check: %m"), w->dir);
                        all_good = false;
                        continue;
                }
                w->good = true;
                n_good++;
                printf("%s: good: %s, signed by %s (%s), %llu files match", w->dir, w->rep.week, trusted_key_name(k),
                       trusted_key_fingerprint(k), (unsigned long long) w->rep.files);
                if (w->rep.chain_checked)
                        printf(", %llu records chain from start to end hash\n", (unsigned long long) w->rep.records);
                else
                        printf("; no records.jsonl: the chain was not checked\n");
        }
        if (n == 1)
                return all_good ? EXIT_OK : EXIT_REFUSED;

        /* Across weeks: in order, each against the one before. */
        qsort(weeks, n, sizeof *weeks, cmp_weeks);
        for (size_t i = 0; i < n; i++)
                if (!weeks[i].good) {
                        printf("continuity: REFUSED: %s did not verify: the weeks around it cannot be linked through it\n",
                               weeks[i].dir);
                        all_good = false;
                }
        if (n_good > 0) {
                const struct manifest *first = &weeks[0].rep.manifest;
                if (first->start_seq == 0)
                        printf("continuity: %s starts the ledger (no record before it)\n", first->week);
                else
                        printf("continuity: note: records up to seq %lld come before %s, the first week given\n",
                               (long long) first->start_seq, first->week);
        }
        for (size_t i = 1; i < n_good; i++) {
                char detail[512];
                enum export_link l = export_link_check(&weeks[i - 1].rep.manifest, &weeks[i].rep.manifest,
                                                       EXPORT_LANG_EN, detail, sizeof detail);
                printf("continuity: %s: ", link_ok(l) ? "good" : "REFUSED");
                fputs_safe(detail, stdout);
                putchar('\n');
                if (!link_ok(l))
                        all_good = false;
        }
        if (all_good)
                printf("good: %zu weeks, each starting where the one before ended: nothing was removed between them\n", n);
        return all_good ? EXIT_OK : EXIT_REFUSED;
}
