/* SPDX-License-Identifier: MIT */
/* policyctl export-key [--init]: the workstation's export key, STATE_DIR/export.key (0600) and
 * export.pub. It signs each weekly export's MANIFEST; the city keeps export.pub to check them.
 * Created at install (--init) or by the first export; never replaced. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"
#include "kyoka-names.h"
#include "policy-sign.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl export-key [--init]\n"
               "\n"
               "Show the workstation's export key (%s/%s and its fingerprint),\n"
               "or with --init create it if it does not exist yet. The city keeps %s to\n"
               "check exports with 'policyctl verify-export DIR --key %s'.\n"),
               arg_state_dir, KYOKA_EXPORT_PUB_FILE, KYOKA_EXPORT_PUB_FILE, KYOKA_EXPORT_PUB_FILE);
}

int export_key_ensure(bool create, char **ret_private, struct trusted_key **ret_public, bool *ret_created) {
        _cleanup_free_ char *prefix = path_join(arg_state_dir, KYOKA_EXPORT_KEY_STEM),
                            *priv = path_join(arg_state_dir, KYOKA_EXPORT_KEY_FILE),
                            *pub = path_join(arg_state_dir, KYOKA_EXPORT_PUB_FILE);
        struct trusted_key *k = NULL;
        bool created = false;
        int r;

        if (!prefix || !priv || !pub)
                return log_oom();
        if (create && access(priv, F_OK) < 0 && errno == ENOENT) {
                r = key_generate(prefix);
                if (r < 0)
                        return log_error_errno(r, _("%s: cannot create the export key: %m"), priv);
                created = true;
        }
        r = trusted_key_load(pub, &k);
        if (r < 0)
                return log_error_errno(r, _("%s: cannot load the export key's public half: %m"), pub);
        if (ret_private)
                *ret_private = TAKE_PTR(priv);
        *ret_public = k;
        if (ret_created)
                *ret_created = created;
        return 0;
}

int verb_export_key(int argc, char *argv[]) {
        static const struct option options[] = {
                { "init", no_argument, NULL, 'i' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(trusted_key_freep) struct trusted_key *k = NULL;
        bool init = false, created = false;
        int c;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'i':
                        init = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("export-key", c, argv);
                }
        if (optind < argc)
                return usage_error("export-key", _("unexpected argument '%s'"), argv[optind]);

        if (export_key_ensure(init, NULL, &k, &created) < 0)
                return EXIT_REFUSED;
        printf("%s/" KYOKA_EXPORT_PUB_FILE "%s\nfingerprint: %s\n", arg_state_dir, created ? " (created)" : "",
               trusted_key_fingerprint(k));
        return EXIT_OK;
}
