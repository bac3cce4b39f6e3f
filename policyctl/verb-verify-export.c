/* SPDX-License-Identifier: MIT */
/* policyctl verify-export DIR [--key PUB]: what the city runs on a folder it received. The
 * signature over MANIFEST, every file's SHA-256, no file added, and the records chaining from
 * the week's start hash to its end hash without a gap (docs/ledger.md, "Verifying an export"). */
#include <getopt.h>
#include <stdio.h>

#include "export.h"
#include "fileio.h"
#include "kyoka-names.h"
#include "policy-sign.h"
#include "policyctl.h"

static void help(void) {
        printf("Usage: policyctl verify-export DIR [--key PUB]\n"
               "\n"
               "Check an export folder: MANIFEST.sig against the workstation's export key, the\n"
               "SHA-256 of every file, that no file was added, and that records.jsonl chains\n"
               "from the start hash to the end hash in MANIFEST without a gap.\n"
               "Exit status: 0 good, 1 refused, 2 usage.\n"
               "\n"
               "Options:\n"
               "  --key PUB    the workstation's " KYOKA_EXPORT_PUB_FILE " [%s/" KYOKA_EXPORT_PUB_FILE "]\n"
               "  -h --help    show this help\n",
               arg_state_dir);
}

int verb_verify_export(int argc, char *argv[]) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(trusted_key_freep) struct trusted_key *k = NULL;
        _cleanup_free_ char *default_key = NULL;
        struct export_verify_report rep;
        const char *key = NULL;
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
                return usage_error("verify-export", "DIR is required");
        if (optind + 1 < argc)
                return usage_error("verify-export", "unexpected argument '%s'", argv[optind + 1]);
        const char *dir = argv[optind];
        if (!key) {
                default_key = path_join(arg_state_dir, KYOKA_EXPORT_PUB_FILE);
                if (!default_key)
                        return log_oom();
                key = default_key;
        }

        r = trusted_key_load(key, &k);
        if (r < 0) {
                log_error_errno(r, "%s: cannot load the export key: %m", key);
                return EXIT_REFUSED;
        }
        r = export_verify(dir, k, &rep);
        if (r == -EBADMSG) {
                printf("%s: REFUSED: ", dir);
                fputs_safe(rep.problem, stdout);
                putchar('\n');
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, "%s: cannot check: %m", dir);
                return EXIT_REFUSED;
        }
        printf("%s: good: %s, signed by %s (%s), %llu files match", dir, rep.week, trusted_key_name(k),
               trusted_key_fingerprint(k), (unsigned long long) rep.files);
        if (rep.chain_checked)
                printf(", %llu records chain from start to end hash\n", (unsigned long long) rep.records);
        else
                printf("; no records.jsonl: the chain was not checked\n");
        return EXIT_OK;
}
