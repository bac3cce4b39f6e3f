/* SPDX-License-Identifier: MIT */
/* policyctl keygen --out PREFIX: the approver's Ed25519 key pair. The private key is created
 * exclusively and 0600, so an existing key (and with it every signature made so far) is never
 * overwritten by a slip of the keyboard. */
#include <getopt.h>
#include <stdio.h>

#include "policy-sign.h"
#include "kyoka-names.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl keygen --out PREFIX\n"
               "\n"
               "Create an Ed25519 key pair for signing policies: PREFIX.key (private, mode 0600;\n"
               "keep it on the approver's machine) and PREFIX.pub (public; install it on every\n"
               "workstation in %s/%s/). Both are PEM files that openssl(1) reads.\n"
               "An existing PREFIX.key or PREFIX.pub is never overwritten.\n"
               "\n"
               "Options:\n"
               "  --out PREFIX   where to write the keys\n"
               "  -h --help      show this help\n"),
               arg_config_dir, KYOKA_KEYS_DIR);
}

int verb_keygen(int argc, char *argv[]) {
        static const struct option options[] = {
                { "out", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(trusted_key_freep) struct trusted_key *k = NULL;
        _cleanup_free_ char *pub = NULL;
        const char *prefix = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        prefix = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("keygen", c, argv);
                }
        if (optind < argc)
                return usage_error("keygen", _("unexpected argument '%s'"), argv[optind]);
        if (!prefix || !*prefix)
                return usage_error("keygen", _("--out PREFIX is required"));

        r = key_generate(prefix);
        if (r == -EEXIST) {
                log_error(_("%s.key or %s.pub exists already; refusing to overwrite a key"), prefix, prefix);
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, _("cannot create the key pair %s.key/%s.pub: %m"), prefix, prefix);
                return EXIT_REFUSED;
        }

        if (asprintf(&pub, "%s.pub", prefix) < 0) {
                return log_oom();
        }
        r = trusted_key_load(pub, &k);
        if (r < 0) {
                log_error_errno(r, _("%s: written, but cannot be read back: %m"), pub);
                return EXIT_REFUSED;
        }
        printf("%s.key: private key (mode 0600): keep it on the approver's machine only\n"
               "%s: public key: install it in %s/" KYOKA_KEYS_DIR "/ on each workstation\n"
               "fingerprint: %s\n",
               prefix, pub, arg_config_dir, trusted_key_fingerprint(k));
        return EXIT_OK;
}
