/* SPDX-License-Identifier: MIT */
/* policyctl check FILE: validation without a signature, for the approver while editing. Every
 * message names the file, line and field; warnings do not fail the check. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl check FILE\n"
               "\n"
               "Validate a policy file; the signature is not needed. Each problem is printed as\n"
               "FILE:LINE: FIELD: message. Warnings are printed but do not fail the check.\n"
               "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n"
               "\n"
               "Options:\n"
               "  -h --help   show this help\n"));
}

int verb_check(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_free_ char *text = NULL;
        struct policy_diag diag = {};
        size_t size;
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("check", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("check", _("expected one FILE"));
        const char *path = argv[optind];

        if (read_policy_text(path, &text, &size) < 0)
                return EXIT_REFUSED;

        r = policy_parse(text, size, path, &p, &diag);
        print_diag(&diag);
        if (r < 0) {
                if (diag.n_errors == 0)
                        log_error_errno(r, _("%s: cannot check: %m"), path);
                else
                        log_error(ngettext("%s: invalid: %zu error", "%s: invalid: %zu errors", diag.n_errors), path,
                                  diag.n_errors);
                policy_diag_done(&diag);
                return EXIT_REFUSED;
        }

        printf("%s: valid, serial %" PRIu64 ", %zu usb and %zu network entr%s", path, p->serial, p->n_usb, p->n_net,
               p->n_net == 1 ? "y" : "ies");
        if (p->n_wireless > 0)
                printf(", %zu wireless entr%s", p->n_wireless, p->n_wireless == 1 ? "y" : "ies");
        /* Said only when there are any, so that the line stays as it was for USB and links. */
        if (p->n_media > 0)
                printf(", %zu media entr%s", p->n_media, p->n_media == 1 ? "y" : "ies");
        if (p->n_fixed > 0)
                printf(", %zu fixed disk%s", p->n_fixed, p->n_fixed == 1 ? "" : "s");
        if (diag.n_warnings > 0)
                printf(", %zu warning%s", diag.n_warnings, diag.n_warnings == 1 ? "" : "s");
        putchar('\n');
        policy_diag_done(&diag);
        return EXIT_OK;
}
