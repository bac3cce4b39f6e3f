/* SPDX-License-Identifier: MIT */
/* policyctl export: the weekly folder for the city (ledger/export.h), by default for the last
 * complete ISO week in local time, signed with the export key (created on first use). The
 * report's header (issuer, contract, contractor, responsible person) and the record book's
 * approvers come from the signed policy in force at the week's end. After a successful export
 * the ledger's "exported through" marker moves on, which is what allows pruning (never of
 * records not exported). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"
#include "kyoka-names.h"
#include "ledger.h"
#include "policy-sign.h"
#include "policy.h"
#include "policyctl.h"

#define SIG_FILE_MAX 4096u

static void help(void) {
        printf(_("Usage: policyctl export [--week YYYY-Www] [--lang ja|en] [--format csv,json,html,pdf] --out DIR\n"
               "\n"
               "Write the usage and fault records of one ISO week to DIR/HOST/YYYY-Www/:\n"
               "usage.csv, faults.csv and media.csv (Excel: UTF-8 with BOM, CRLF),\n"
               "records.jsonl (every record with its chain hashes), report.html and report.pdf\n"
               "(the submission document), MANIFEST (SHA-256 of each file, the report's header,\n"
               "the chain hashes at the week's start and end) and MANIFEST.sig (signed with\n"
               "%s/%s, created if absent). The header and the approvers come\n"
               "from the signed policy in force at the week's end. The same week and policy\n"
               "always give the same bytes. DIR and the folders below it must be writable by no\n"
               "one but root and you (or be root's and sticky, as /tmp); symlinks below DIR are\n"
               "refused.\n"
               "\n"
               "Options:\n"
               "  --week YYYY-Www     the week [the last complete week, local time]\n"
               "  --lang ja|en        language of the CSV files and the report [ja]\n"
               "  --format LIST       any of csv,json,html,pdf (pdf needs html) [all; pdf where\n"
               "                      its engine is installed]\n"
               "  --out DIR           where to write (required)\n"
               "  -h --help           show this help\n"
               "\n"
               "report.pdf is made by %s (KYOKA_PDF_ENGINE overrides it).\n"),
               arg_state_dir, KYOKA_EXPORT_KEY_FILE, EXPORT_PDF_ENGINE);
}

/* A policy file and its signature, verified against KEYS and parsed; NULL (and no message) when
 * it is not there, not signed by a trusted key or not valid: then it simply is not a
 * candidate. */
static struct policy *signed_policy(const char *path, const struct keyring *keys) {
        _cleanup_free_ char *text = NULL, *sig = NULL, *sig_path = NULL;
        struct policy *p = NULL;
        const struct trusted_key *signer;
        size_t size, sig_size;

        if (asprintf(&sig_path, "%s.sig", path) < 0)
                return NULL;
        if (read_file_bounded(path, POLICY_FILE_MAX, &text, &size) < 0 ||
            read_file_bounded(sig_path, SIG_FILE_MAX, &sig, &sig_size) < 0 ||
            keyring_verify(keys, text, size, (const uint8_t *) sig, sig_size, &signer) < 0 ||
            policy_parse(text, size, path, &p, NULL) < 0)
                return NULL;
        return p;
}

/* The signed policy whose header the report names: the one in force at the week's end
 * (SERIAL, from the ledger; 0 when none was), looked for in CONFIG_DIR/policy.conf and in the
 * copy kyokad keeps of the last accepted one. Without it, the newest of them that verifies
 * (the report names its serial); NULL when none does. */
static struct policy *find_policy(uint64_t serial) {
        _cleanup_free_ char *keys_dir = path_join(arg_config_dir, KYOKA_KEYS_DIR),
                            *configured = path_join(arg_config_dir, KYOKA_POLICY_FILE), *accepted = NULL;
        _cleanup_(keyring_freep) struct keyring *keys = NULL;
        struct policy *best = NULL;

        if (!keys_dir || !configured || asprintf(&accepted, "%s/" KYOKA_ACCEPTED_LINK "/" KYOKA_POLICY_FILE, arg_state_dir) < 0)
                return NULL;
        if (keyring_load_dir(keys_dir, NULL, NULL, &keys) < 0) {
                fprintf(stderr, "policyctl: note: no trusted key in %s: the report names no issuer, contract or "
                        "contractor\n", keys_dir);
                return NULL;
        }
        const char *paths[] = { configured, accepted };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                struct policy *p = signed_policy(paths[i], keys);
                if (!p)
                        continue;
                if (!best || (best->serial != serial && (p->serial == serial || p->serial > best->serial))) {
                        policy_free(best);
                        best = p;
                } else
                        policy_free(p);
        }
        if (!best)
                fprintf(stderr, "policyctl: note: no signed policy in %s or %s: the report names no issuer, "
                        "contract or contractor\n", configured, accepted);
        else if (serial > 0 && best->serial != serial)
                fprintf(stderr, "policyctl: note: the week ended under policy serial %llu, which is no longer on "
                        "this machine: the report's header is from serial %llu\n", (unsigned long long) serial,
                        (unsigned long long) best->serial);
        return best;
}

/* The serial of the policy in force at the week's end (the last one that took effect). */
static uint64_t serial_at(struct ledger *l, int64_t before_seq) {
        struct ledger_record r;
        int64_t seq = before_seq;

        /* A policy-loaded record that kept the last accepted policy names that one's serial. */
        while (ledger_find_last(l, LEDGER_EVENT_POLICY_LOADED, seq, &r) >= 0) {
                if (r.policy_serial > 0)
                        return (uint64_t) r.policy_serial;
                seq = r.seq;
        }
        return 0;
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
        _cleanup_(policy_freep) struct policy *policy = NULL;
        _cleanup_free_ char *key_path = NULL;
        const char *week_arg = NULL, *out = NULL;
        struct export_options opts = { .lang = EXPORT_LANG_JA, .formats = EXPORT_ALL };
        struct export_week week;
        struct export_result res;
        bool created = false, formats_given = false;
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case ARG_WEEK:
                        week_arg = optarg;
                        break;
                case ARG_LANG:
                        if (streq(optarg, "ja"))
                                opts.lang = EXPORT_LANG_JA;
                        else if (streq(optarg, "en"))
                                opts.lang = EXPORT_LANG_EN;
                        else
                                return usage_error("export", _("--lang: ja or en, not '%s'"), optarg);
                        break;
                case ARG_FORMAT:
                        formats_given = true;
                        if (export_formats_parse(optarg, &opts.formats) < 0)
                                return usage_error("export", _("--format: a list of csv, json, html, pdf (pdf needs html), "
                                                   "not '%s'"), optarg);
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
                return usage_error("export", _("unexpected argument '%s'"), argv[optind]);
        if (!out || !*out)
                return usage_error("export", _("--out DIR is required"));
        if (week_arg) {
                if (export_week_parse(week_arg, &week) < 0)
                        return usage_error("export", _("--week: an ISO week such as 2026-W47, not '%s'"), week_arg);
        } else if (export_week_last_complete((int64_t) time(NULL), &week) < 0) {
                log_error(_("cannot work out the last complete week"));
                return EXIT_REFUSED;
        }
        if (week.end > (int64_t) time(NULL))
                fprintf(stderr, "policyctl: note: %s is not over yet: exporting it again later gives more records\n",
                        week.name);
        opts.pdf_engine = getenv("KYOKA_PDF_ENGINE") ?: EXPORT_PDF_ENGINE;
        /* Asked for, the PDF must be made; by default it is made where the engine is installed,
         * and a workstation without it still exports the week (the report as HTML). */
        if (!formats_given && access(opts.pdf_engine, X_OK) < 0) {
                opts.formats &= ~EXPORT_PDF;
                fprintf(stderr, "policyctl: note: %s is not installed: no report.pdf this time (report.html is "
                        "printable; install weasyprint for the PDF)\n", opts.pdf_engine);
        }

        if (open_ledger(0, &l) < 0)
                return EXIT_REFUSED;
        if (export_key_ensure(true, &key_path, &pub, &created) < 0)
                return EXIT_REFUSED;
        if (created)
                fprintf(stderr, "policyctl: created the export key %s (give %s/" KYOKA_EXPORT_PUB_FILE " to the city)\n", key_path,
                        arg_state_dir);
        r = signing_key_load(key_path, &key);
        if (r < 0) {
                log_error_errno(r, _("%s: cannot load the export key: %m"), key_path);
                return EXIT_REFUSED;
        }
        int64_t end_seq;
        if (ledger_seq_at_time(l, week.end, &end_seq) < 0)
                end_seq = INT64_MAX;
        policy = find_policy(serial_at(l, end_seq));
        opts.policy = policy;

        char err[PATH_MAX + 512];
        r = export_write(l, &week, &opts, out, key, trusted_key_fingerprint(pub), &res, err, sizeof err);
        if (r == -ESTALE) {
                log_error(_("%s: its first records were pruned already; it cannot be exported whole"), week.name);
                return EXIT_REFUSED;
        }
        if (r == -EBADMSG) {
                log_error(_("%s: a record does not match its canonical bytes: run 'policyctl ledger verify'"), week.name);
                return EXIT_REFUSED;
        }
        if (r < 0 && err[0]) {
                log_error(_("cannot export %s: %s"), week.name, err);
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, _("cannot export %s to %s: %m"), week.name, out);
                return EXIT_REFUSED;
        }
        if (res.last_seq >= res.first_seq && week.end <= (int64_t) time(NULL)) {
                r = ledger_mark_exported(l, res.first_seq, res.last_seq);
                if (r < 0)
                        log_error_errno(r, _("note: exported, but cannot record it in the ledger: %m"));
        }
        printf("%s: ", res.dir);
        if (res.last_seq >= res.first_seq)
                printf("%s, records %lld..%lld (%llu usage rows, %llu fault rows, %llu record book rows)\n", week.name,
                       (long long) res.first_seq, (long long) res.last_seq, (unsigned long long) res.usage_rows,
                       (unsigned long long) res.fault_rows, (unsigned long long) res.media_rows);
        else
                printf("%s, no records\n", week.name);
        return EXIT_OK;
}
