/* SPDX-License-Identifier: MIT */
/* policyctl: the admin's tool for keys, policies, approvals and signatures. This file holds the
 * global options, the verb table and main(); the helpers the verbs share are in shared.c and
 * each verb is in verb-<verb>.c. Global options come before the verb, so a verb's own options
 * never collide with them. */
#include "policyctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "kyoka-names.h"
#include "policy-sign.h"

#ifndef KYOKA_VERSION
#error "KYOKA_VERSION is defined by the Makefile (packaging/debian/changelog's top entry)"
#endif

const char *arg_config_dir = KYOKA_CONFIG_DIR;
const char *arg_state_dir = KYOKA_STATE_DIR;
const char *arg_runtime_dir = KYOKA_RUNTIME_DIR;

static int verb_help(int argc, char *argv[]);

static const struct verb verbs[] = {
        { "help", verb_help, N_("show this list, or a verb's help (help VERB)") },
        { "keygen", verb_keygen, N_("create an Ed25519 key pair for signing policies") },
        { "init", verb_init, N_("print a commented skeleton policy") },
        { "check", verb_check, N_("validate a policy file (no signature needed)") },
        { "sign", verb_sign, N_("sign a policy file (writes FILE.sig)") },
        { "verify", verb_verify, N_("check a policy's signature, validity and serial") },
        { "show", verb_show, N_("print a policy as a table or JSON") },
        { "approve", verb_approve, N_("add a permit (USB device, medium, link, wireless network), raise the serial") },
        { "revoke", verb_revoke, N_("remove a permit from a policy and raise its serial") },
        { "install", verb_install, N_("install a signed policy; kyokad re-decides devices and links") },
        { "status", verb_status, N_("the policy in force, device, medium and link counts, recent faults") },
        { "list", verb_list, N_("present USB devices, media and network links, and their verdicts") },
        { "request", verb_request, N_("write the request JSON for a blocked device, medium or link") },
        { "watch", verb_watch, N_("print kyokad's decisions and faults as they happen") },
        { "ledger", verb_ledger, N_("verify, show or prune the usage and fault ledger") },
        { "export", verb_export, N_("write and sign a week's records for the city") },
        { "export-key", verb_export_key, N_("show (or --init) the workstation's export key") },
        { "verify-export", verb_verify_export, N_("check export folders: signature, hashes, chain, continuity") },
        { "collect", verb_collect, N_("verify the exports of a contract's workstations and summarise them") },
};

static void help(FILE *f) {
        fprintf(f, _("Usage: policyctl [GLOBAL OPTIONS] VERB [OPTIONS] [ARGS]\n"
              "\n"
              "Manage kyoka's signed policy, the city's prior written permission in machine\n"
              "form for USB devices and network links, and read kyokad's state and ledger.\n"
              "\n"
              "Global options:\n"
              "  --config-dir DIR    configuration (trusted keys in DIR/%s) [%s]\n"
              "  --state-dir DIR     state (anti-rollback record) [%s]\n"
              "  --runtime-dir DIR   runtime directory of kyokad [%s]\n"
              "  -h --help           show this help\n"
              "  --version           show the version\n"
              "\n"
              "Verbs:\n"),
              KYOKA_KEYS_DIR, KYOKA_CONFIG_DIR, KYOKA_STATE_DIR, KYOKA_RUNTIME_DIR);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-14s %s\n", verbs[i].name, _(verbs[i].summary));
        fputs(_("\n"
              "'policyctl help VERB' or 'policyctl VERB --help' describes a verb; policyctl(8)\n"
              "has them all. Exit status: 0 success, 1 refused or failed, 2 usage error.\n"),
              f);
}

/* "policyctl help" lists the verbs, "policyctl help VERB" is "policyctl VERB --help". */
static int verb_help(int argc, char *argv[]) {
        if (argc > 2)
                return usage_error("help", "at most one verb");
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                help(stdout);
                return EXIT_OK;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[1]) && verbs[i].run != verb_help) {
                        char *help_argv[] = { argv[1], (char *) "--help", NULL };
                        optind = 0;
                        return verbs[i].run(2, help_argv);
                }
        return usage_error("help", "unknown verb '%s'", argv[1]);
}

int main(int argc, char *argv[]) {
        enum { ARG_CONFIG_DIR = 0x100, ARG_STATE_DIR, ARG_RUNTIME_DIR, ARG_VERSION };
        static const struct option options[] = {
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        i18n_init();
        (void) crypto_init();   /* a failure shows at libcrypto's first use */
        opterr = 0; /* option_error() words the messages */
        /* "+": stop at the verb, whose options are its own. */
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_CONFIG_DIR:
                        arg_config_dir = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        arg_runtime_dir = optarg;
                        break;
                case 'h':
                        help(stdout);
                        return EXIT_OK;
                case ARG_VERSION:
                        puts("policyctl (kyoka) " KYOKA_VERSION);
                        return EXIT_OK;
                default:
                        return option_error(NULL, c, argv);
                }
        }

        if (optind >= argc)
                return usage_error(NULL, _("no verb given"));

        const char *name = argv[optind];
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, name))
                        continue;
                int verb_argc = argc - optind;
                char **verb_argv = argv + optind;
                optind = 0; /* glibc: re-initialise getopt for the verb */
                int r = policyctl_exit_status(verbs[i].run(verb_argc, verb_argv));
                /* A lost stdout (a full disk under `policyctl init > policy.conf`) must fail. */
                if (fflush(stdout) != 0 || ferror(stdout)) {
                        log_error_errno(-EIO, _("cannot write to standard output: %m"));
                        return EXIT_REFUSED;
                }
                return r;
        }

        return usage_error(NULL, _("unknown verb '%s'"), name);
}
