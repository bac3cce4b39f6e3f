/* SPDX-License-Identifier: MIT */
/* policyctl collect --keys KEYDIR --out OUTDIR EXPORTDIR...: the city's side. Verifies every
 * week of every workstation of a contract (signature, files, chain, continuity, missing weeks)
 * and writes one summary across them: OUTDIR/summary.csv, summary.html, summary.pdf
 * (ledger/collect.h). Every problem is named on stderr too, per workstation and week. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "collect.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl collect --keys KEYDIR --out OUTDIR [--lang ja|en] [--no-pdf] EXPORTDIR...\n"
               "\n"
               "Verify the weekly exports of the workstations of one contract and write one\n"
               "summary across workstations and weeks: OUTDIR/summary.csv, summary.html and\n"
               "summary.pdf. EXPORTDIR is a week's folder, a workstation's folder or the folder\n"
               "'policyctl export --out' wrote; KEYDIR holds each workstation's export.pub under\n"
               "any name. Every week is checked (signature, files, hash chain) and against the\n"
               "week before (nothing removed between them, the same ledger); weeks missing from\n"
               "the range are listed. Problems are named per workstation and week.\n"
               "Exit status: 0 all verified and continuous, 1 problems found (the summary is\n"
               "written all the same) or the summary could not be made, 2 usage.\n"
               "\n"
               "Options:\n"
               "  --keys KEYDIR   the workstations' export keys (required)\n"
               "  --out OUTDIR    where to write the summary (required)\n"
               "  --lang ja|en    language of the summary [ja]\n"
               "  --no-pdf        no summary.pdf\n"
               "  -h --help       show this help\n"));
}

static void on_problem(const char *text, void *userdata) {
        fputs("policyctl: collect: ", stderr);
        fputs_safe(text, stderr);
        fputc('\n', stderr);
}

int verb_collect(int argc, char *argv[]) {
        enum { ARG_KEYS = 0x100, ARG_OUT, ARG_LANG, ARG_NO_PDF };
        static const struct option options[] = {
                { "keys", required_argument, NULL, ARG_KEYS },
                { "out", required_argument, NULL, ARG_OUT },
                { "lang", required_argument, NULL, ARG_LANG },
                { "no-pdf", no_argument, NULL, ARG_NO_PDF },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct collect_options opts = { .lang = EXPORT_LANG_JA, .pdf = true };
        struct collect_result res = {};
        const char *keys = NULL, *out = NULL;
        char err[PATH_MAX + 512];
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case ARG_KEYS:
                        keys = optarg;
                        break;
                case ARG_OUT:
                        out = optarg;
                        break;
                case ARG_LANG:
                        if (streq(optarg, "ja"))
                                opts.lang = EXPORT_LANG_JA;
                        else if (streq(optarg, "en"))
                                opts.lang = EXPORT_LANG_EN;
                        else
                                return usage_error("collect", _("--lang: ja or en, not '%s'"), optarg);
                        break;
                case ARG_NO_PDF:
                        opts.pdf = false;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("collect", c, argv);
                }
        if (!keys || !*keys)
                return usage_error("collect", _("--keys KEYDIR is required"));
        if (!out || !*out)
                return usage_error("collect", _("--out OUTDIR is required"));
        if (optind >= argc)
                return usage_error("collect", _("at least one EXPORTDIR is required"));
        opts.pdf_engine = getenv("KYOKA_PDF_ENGINE") ?: EXPORT_PDF_ENGINE;

        r = collect_run(keys, argv + optind, (size_t) (argc - optind), out, &opts, on_problem, NULL, &res, err, sizeof err);
        if (r < 0) {
                if (err[0])
                        log_error("collect: %s", err);
                else
                        log_error_errno(r, "collect: %m");
                return EXIT_REFUSED;
        }
        printf("%s/summary.csv, summary.html%s: %zu workstations, %zu weeks, %zu verified and continuous, %zu problems "
               "(%zu keys)\n", out, opts.pdf ? ", summary.pdf" : "", res.workstations, res.weeks, res.good, res.problems,
               res.keys);
        return r > 0 ? EXIT_REFUSED : EXIT_OK;
}
