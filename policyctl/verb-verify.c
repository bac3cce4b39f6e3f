/* SPDX-License-Identifier: MIT */
/* policyctl verify (--key PUB | --keys DIR) FILE: the same gate kyokad uses (policy_load):
 * signature over the exact bytes, validity, and, if this machine has accepted a policy before,
 * anti-rollback against --state-dir. It never records anything: only kyokad commits a serial. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "kyoka-names.h"
#include "policy-load.h"
#include "policy-sign.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl verify [--key PUB | --keys DIR] FILE\n"
               "\n"
               "Check a policy as a workstation would: the signature in FILE.sig against the\n"
               "trusted keys, the policy's validity and expiry, and (if %s/%s\n"
               "exists) that its serial is newer than the last policy accepted there.\n"
               "The workstation binding is not checked here. Exit status: 0 good, 1 refused.\n"
               "\n"
               "Options:\n"
               "  --key PUB    trust this one public key\n"
               "  --keys DIR   trust every *.pub in DIR [%s/%s]\n"
               "  -h --help    show this help\n"),
               arg_state_dir, KYOKA_POLICY_STATE_FILE, arg_config_dir, KYOKA_KEYS_DIR);
}

static void on_key_refused(const char *name, int error, const char *reason, void *userdata) {
        const char *dir = userdata;

        if (name)
                log_error(_("warning: %s/%s: key skipped: %s"), dir, name, reason);
        else
                log_error(_("%s: refused, no key in it is trusted: %s"), dir, reason);
}

int load_keys_dir(const char *dir, struct keyring **ret) {
        int r = keyring_load_dir(dir, on_key_refused, (void *) dir, ret);
        if (r == -ENOENT)
                return log_error_errno(r, _("%s: no usable trusted key (*.pub): nothing can verify a policy"), dir);
        if (r == -EPERM)
                return r;       /* said by on_key_refused */
        if (r < 0)
                return log_error_errno(r, _("%s: cannot load the trusted keys: %m"), dir);
        return 0;
}

static int load_keys(const char *key, const char *dir, struct keyring **ret) {
        int r;

        if (key) {
                struct trusted_key *k = NULL;
                r = trusted_key_load(key, &k);
                if (r == -EBADMSG || r == -EKEYREJECTED)
                        return log_error_errno(r, _("%s: not an Ed25519 public key in PEM form"), key);
                if (r < 0)
                        return log_error_errno(r, _("%s: cannot load the key: %m"), key);
                r = keyring_new_single(k, ret);
                if (r < 0)
                        return log_error_errno(r, "%s: %m", key);
                return 0;
        }

        return load_keys_dir(dir, ret);
}

/* The load gate's message already names the file and the reason; a bad signature is said
 * first and in capitals, since it is the one an inspector looks for. */
static void report_refusal(const struct policy_load_result *res) {
        const char *m = res->message[0] ? res->message : policy_load_error_to_string(res->error);

        switch (res->error) {
        case LOAD_BAD_SIGNATURE:
                if (res->errno_value == -EINVAL)
                        log_error(_("BAD SIGNATURE: %s; the signature does not match the file"), m);
                else
                        log_error(_("BAD SIGNATURE: %s"), m);
                break;
        case LOAD_INVALID:
                print_diag(&res->diag);
                log_error(_("refused: %s"), m);
                break;
        default:
                log_error(_("refused: %s"), m);
        }
}

int verb_verify(int argc, char *argv[]) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "keys", required_argument, NULL, 'K' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *default_dir = NULL, *state_file = NULL;
        _cleanup_(keyring_freep) struct keyring *keys = NULL;
        const char *key = NULL, *keys_dir = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, ":hk:K:", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        key = optarg;
                        break;
                case 'K':
                        keys_dir = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("verify", c, argv);
                }
        if (key && keys_dir)
                return usage_error("verify", _("--key and --keys exclude each other"));
        if (argc - optind != 1)
                return usage_error("verify", _("expected one FILE"));
        const char *path = argv[optind];

        if (!key && !keys_dir) {
                default_dir = path_join(arg_config_dir, KYOKA_KEYS_DIR);
                if (!default_dir) {
                        return log_oom();
                }
                keys_dir = default_dir;
        }
        if (load_keys(key, keys_dir, &keys) < 0)
                return EXIT_REFUSED;

        /* Anti-rollback only where a policy was accepted before: on the approver's machine
         * there is no state, and every serial is "newer". */
        state_file = path_join(arg_state_dir, KYOKA_POLICY_STATE_FILE);
        if (!state_file) {
                return log_oom();
        }
        bool have_state = access(state_file, F_OK) == 0;

        struct policy_load_options opts = {
                .policy_path = path,
                .keys = keys,
                .state_dir = have_state ? arg_state_dir : NULL,
                .now = (int64_t) time(NULL),
        };
        struct policy_load_result res;
        r = policy_load(&opts, &res);
        if (r < 0) {
                report_refusal(&res);
                policy_load_result_done(&res);
                return EXIT_REFUSED;
        }

        print_diag(&res.diag); /* warnings */
        printf("%s: good signature by %s (fingerprint %.32s), serial %" PRIu64 "\n", path,
               trusted_key_name(res.signer), trusted_key_fingerprint(res.signer), res.policy->serial);
        if (have_state)
                printf("%s: %s\n", path,
                       res.unchanged ? "the same policy as the last one accepted on this machine"
                                     : "newer than the last policy accepted on this machine");
        policy_load_result_done(&res);
        return EXIT_OK;
}
