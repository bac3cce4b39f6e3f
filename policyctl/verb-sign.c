/* SPDX-License-Identifier: MIT */
/* policyctl sign --key KEY FILE: the approver's signature, FILE.sig, over the file's exact
 * bytes. Only a policy that passes `check` is signed: a signature is the city's permission, and
 * a workstation would refuse an invalid policy anyway, after the approver had gone home. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "policy-sign.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl sign --key KEY FILE\n"
               "\n"
               "Sign a policy with the approver's private key and write the detached signature\n"
               "to FILE.sig (64 raw bytes, Ed25519; replaced atomically). The policy must pass\n"
               "'policyctl check' first. The same signature can be made with\n"
               "  openssl pkeyutl -sign -inkey KEY -rawin -in FILE -out FILE.sig\n"
               "\n"
               "Options:\n"
               "  --key KEY    the private key (PEM, from 'policyctl keygen' or openssl genpkey)\n"
               "  -h --help    show this help\n"));
}

static void warn_key_mode(const char *key) {
        struct stat st;

        /* The key is what makes a permission; others being able to read it is worth saying. */
        if (stat(key, &st) == 0 && (st.st_mode & 0077))
                log_error(_("warning: %s is readable by others (mode %04o); a private key should be 0600"), key,
                          (unsigned) (st.st_mode & 07777));
}

int verb_sign(int argc, char *argv[]) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_free_ char *text = NULL, *sig_path = NULL;
        _cleanup_(signing_key_freep) struct signing_key *key = NULL;
        struct policy_diag diag = {};
        uint8_t sig[SIGNATURE_SIZE];
        const char *key_path = NULL;
        size_t size;
        int c, r;

        while ((c = getopt_long(argc, argv, ":hk:", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        key_path = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("sign", c, argv);
                }
        if (!key_path)
                return usage_error("sign", _("--key KEY is required"));
        if (argc - optind != 1)
                return usage_error("sign", _("expected one FILE"));
        const char *path = argv[optind];

        if (read_policy_text(path, &text, &size) < 0)
                return EXIT_REFUSED;

        /* Parse the very bytes that get signed. */
        r = policy_parse(text, size, path, &p, &diag);
        print_diag(&diag);
        policy_diag_done(&diag);
        if (r < 0) {
                log_error(_("%s: not a valid policy; refusing to sign it (see 'policyctl check')"), path);
                return EXIT_REFUSED;
        }

        warn_key_mode(key_path);
        r = signing_key_load(key_path, &key);
        if (r == -EBADMSG) {
                log_error(_("%s: not a PEM private key (encrypted keys are not supported)"), key_path);
                return EXIT_REFUSED;
        }
        if (r == -EKEYREJECTED) {
                log_error(_("%s: not an Ed25519 key"), key_path);
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, _("%s: cannot load the key: %m"), key_path);
                return EXIT_REFUSED;
        }
        r = signature_create(key, text, size, sig);
        if (r < 0) {
                log_error_errno(r, _("%s: cannot sign: %m"), path);
                return EXIT_REFUSED;
        }

        if (asprintf(&sig_path, "%s.sig", path) < 0) {
                return log_oom();
        }
        r = write_file_atomic(sig_path, sig, sizeof sig, 0644);
        if (r < 0) {
                log_error_errno(r, _("%s: cannot write: %m"), sig_path);
                return EXIT_REFUSED;
        }

        printf("%s: signed serial %" PRIu64 " (%zu usb, %zu network entries)\n", sig_path, p->serial, p->n_usb,
               p->n_net);
        return EXIT_OK;
}
