/* SPDX-License-Identifier: MIT */
/* policyctl revoke FILE --permit REF: removes a permit and raises the serial, so that the
 * signed result replaces the old policy on every workstation and the old one cannot come back
 * (anti-rollback). The file's comments and layout are kept where possible. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy-edit.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl revoke FILE --permit REF\n"
               "\n"
               "Remove the usb or network entry with permit REF from the policy FILE and raise\n"
               "its serial by one. FILE is replaced atomically; comments and layout are kept\n"
               "(if that is impossible, FILE is rewritten in canonical form and you are told).\n"
               "Sign the result afterwards.\n"
               "\n"
               "Options:\n"
               "  --permit REF   the permission's reference, e.g. 許可-2026-017\n"
               "  -h --help      show this help\n"));
}

int verb_revoke(int argc, char *argv[]) {
        static const struct option options[] = {
                { "permit", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *text = NULL, *out = NULL;
        struct policy_diag diag = {};
        const char *permit = NULL;
        bool rewritten = false;
        size_t size;
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        permit = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("revoke", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("revoke", _("expected one FILE"));
        if (!permit || !*permit)
                return usage_error("revoke", _("--permit REF is required"));
        if (!string_is_safe(permit))
                return usage_error("revoke", _("--permit must be UTF-8 text without control characters"));
        const char *path = argv[optind];

        if (read_policy_text(path, &text, &size) < 0)
                return EXIT_REFUSED;

        r = policy_edit_remove(text, size, path, permit, &out, &rewritten, &diag);
        print_diag(&diag);
        policy_diag_done(&diag);
        if (r == -ENOENT) {
                log_error(_("%s: no entry with permit \"%s\""), path, permit);
                return EXIT_REFUSED;
        }
        if (r == -EINVAL) {
                log_error(_("%s: not a valid policy; fix it first (see 'policyctl check')"), path);
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, _("%s: cannot remove permit \"%s\": %m"), path, permit);
                return EXIT_REFUSED;
        }

        size_t len = strlen(out);     /* once: a policy may be 40 MB */
        if (replace_policy_file(path, out, len, rewritten) < 0)
                return EXIT_REFUSED;

        printf("%s: revoked permit ", path);
        fputs_safe(permit, stdout);
        printf("; serial is now %" PRIu64 "\nSign it again: policyctl sign --key KEY %s\n", policy_text_serial(out, len), path);
        return EXIT_OK;
}
