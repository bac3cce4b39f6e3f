/* SPDX-License-Identifier: MIT */
/* policyctl export: the weekly folder for the city (ledger/export.h), by default for the last
 * complete ISO week in local time, signed with the export key (created on first use). After a
 * successful export the ledger's "exported through" marker moves on, which is what allows
 * pruning (never of records not exported). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "kyoka-names.h"
#include "ledger.h"
#include "policy-sign.h"
#include "policyctl.h"

static void help(void) {
        printf("Usage: policyctl export [--week YYYY-Www] [--lang ja|en] [--format csv,json,html] --out DIR\n"
               "\n"
               "Write the usage and fault records of one ISO week to DIR/HOST/YYYY-Www/:\n"
               "usage.csv and faults.csv (Excel: UTF-8 with BOM, CRLF), records.jsonl (every\n"
               "record with its chain hashes), report.html (printable), MANIFEST (SHA-256 of each\n"
               "file and the chain hashes at the week's start and end) and MANIFEST.sig (signed\n"
               "with %s/" KYOKA_EXPORT_KEY_FILE ", created if absent). The same week always gives the\n"
               "same bytes. DIR and the folders below it must be writable by no one but root\n"
               "and you (or be root's and sticky, as /tmp); symlinks below DIR are refused.\n"
               "\n"
               "Options:\n"
               "  --week YYYY-Www     the week [the last complete week, local time]\n"
               "  --lang ja|en        language of the CSV headers and the report [ja]\n"
               "  --format LIST       any of csv,json,html [all]\n"
               "  --out DIR           where to write (required)\n"
               "  -h --help           show this help\n",
               arg_state_dir);
}

int verb_export(int argc, char *argv[]) {
        enum { ARG_WEEK = 0x100, ARG_LANG, ARG_FORMAT, ARG_OUT };
        static const struct option options[] = {
                { "week", required_argument, NULL, ARG_WEEK },
                { "lang", required_argument, NULL, ARG_LANG },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "out", required_argument, NULL, ARG_OUT },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ledger_closep) struct ledger *l = NULL;
        _cleanup_(signing_key_freep) struct signing_key *key = NULL;
        _cleanup_(trusted_key_freep) struct trusted_key *pub = NULL;
        _cleanup_free_ char *key_path = NULL;
        const char *week_arg = NULL, *out = NULL;
        enum export_lang lang = EXPORT_LANG_JA;
        unsigned formats = EXPORT_ALL;
        struct export_week week;
        struct export_result res;
        bool created = false;
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case ARG_WEEK:
                        week_arg = optarg;
                        break;
                case ARG_LANG:
                        if (streq(optarg, "ja"))
                                lang = EXPORT_LANG_JA;
                        else if (streq(optarg, "en"))
                                lang = EXPORT_LANG_EN;
                        else
                                return usage_error("export", "--lang: ja or en, not '%s'", optarg);
                        break;
                case ARG_FORMAT:
                        if (export_formats_parse(optarg, &formats) < 0)
                                return usage_error("export", "--format: a list of csv, json, html, not '%s'", optarg);
                        break;
                case ARG_OUT:
                        out = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("export", c, argv);
                }
        if (optind < argc)
                return usage_error("export", "unexpected argument '%s'", argv[optind]);
        if (!out || !*out)
                return usage_error("export", "--out DIR is required");
        if (week_arg) {
                if (export_week_parse(week_arg, &week) < 0)
                        return usage_error("export", "--week: an ISO week such as 2026-W47, not '%s'", week_arg);
        } else if (export_week_last_complete((int64_t) time(NULL), &week) < 0) {
                log_error("cannot work out the last complete week");
                return EXIT_REFUSED;
        }
        if (week.end > (int64_t) time(NULL))
                fprintf(stderr, "policyctl: note: %s is not over yet: exporting it again later gives more records\n",
                        week.name);

        if (open_ledger(0, &l) < 0)
                return EXIT_REFUSED;
        if (export_key_ensure(true, &key_path, &pub, &created) < 0)
                return EXIT_REFUSED;
        if (created)
                fprintf(stderr, "policyctl: created the export key %s (give %s/" KYOKA_EXPORT_PUB_FILE " to the city)\n", key_path,
                        arg_state_dir);
        r = signing_key_load(key_path, &key);
        if (r < 0) {
                log_error_errno(r, "%s: cannot load the export key: %m", key_path);
                return EXIT_REFUSED;
        }

        char err[PATH_MAX + 256];
        r = export_write(l, &week, lang, formats, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
        if (r == -ESTALE) {
                log_error("%s: its first records were pruned already; it cannot be exported whole", week.name);
                return EXIT_REFUSED;
        }
        if (r == -EBADMSG) {
                log_error("%s: a record does not match its canonical bytes: run 'policyctl ledger verify'", week.name);
                return EXIT_REFUSED;
        }
        if (r < 0 && err[0]) {
                log_error("cannot export %s: %s", week.name, err);
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, "cannot export %s to %s: %m", week.name, out);
                return EXIT_REFUSED;
        }
        if (res.last_seq >= res.first_seq && week.end <= (int64_t) time(NULL)) {
                r = ledger_mark_exported(l, res.first_seq, res.last_seq);
                if (r < 0)
                        log_error_errno(r, "note: exported, but cannot record it in the ledger: %m");
        }
        printf("%s: ", res.dir);
        if (res.last_seq >= res.first_seq)
                printf("%s, records %lld..%lld (%llu usage rows, %llu fault rows)\n", week.name,
                       (long long) res.first_seq, (long long) res.last_seq, (unsigned long long) res.usage_rows,
                       (unsigned long long) res.fault_rows);
        else
                printf("%s, no records\n", week.name);
        return EXIT_OK;
}
