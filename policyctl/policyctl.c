/* SPDX-License-Identifier: MIT */
/* policyctl: the admin's tool for keys, policies, approvals and signatures. This file holds the
 * global options, the verb table and the helpers the verbs share; each verb is in
 * verb-<verb>.c. Global options come before the verb, so a verb's own options never collide
 * with them. */
#include "policyctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "kyoka-names.h"
#include "timeutil.h"

#ifndef KYOKA_VERSION
#define KYOKA_VERSION "0.1"
#endif

const char *arg_config_dir = KYOKA_CONFIG_DIR;
const char *arg_state_dir = KYOKA_STATE_DIR;
const char *arg_runtime_dir = KYOKA_RUNTIME_DIR;

static const struct verb verbs[] = {
        { "keygen", verb_keygen, "create an Ed25519 key pair for signing policies" },
        { "init", verb_init, "print a commented skeleton policy" },
        { "check", verb_check, "validate a policy file (no signature needed)" },
        { "sign", verb_sign, "sign a policy file (writes FILE.sig)" },
        { "verify", verb_verify, "check a policy's signature, validity and serial" },
        { "show", verb_show, "print a policy as a table or JSON" },
        { "approve", verb_approve, "add a permit to a policy and raise its serial" },
        { "revoke", verb_revoke, "remove a permit from a policy and raise its serial" },
        { "install", verb_install, "verify and install a signed policy, make kyokad reload it" },
        { "status", verb_status, "the policy in force, device counts, recent faults" },
        { "list", verb_list, "present USB devices and what was decided for them" },
        { "request", verb_request, "write the request JSON for a blocked device" },
        { "watch", verb_watch, "print kyokad's decisions and faults as they happen" },
        { "ledger", verb_ledger, "verify, show or prune the usage and fault ledger" },
        { "export", verb_export, "write and sign a week's records for the city" },
        { "export-key", verb_export_key, "show (or --init) the workstation's export key" },
        { "verify-export", verb_verify_export, "check an export folder's signature, hashes and chain" },
};

void log_error(const char *fmt, ...) {
        va_list ap;

        fputs("policyctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int log_error_errno(int r, const char *fmt, ...) {
        va_list ap;

        errno = r < 0 ? -r : r;
        fputs("policyctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r;
}

int log_oom(void) {
        log_error("out of memory");
        return EXIT_REFUSED;
}

int usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "policyctl: %s%s", verb ? verb : "", verb ? ": " : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'policyctl %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
        return EXIT_USAGE;
}

int option_error(const char *verb, int c, char *argv[]) {
        /* getopt_long leaves the offending word at argv[optind - 1]. */
        const char *word = optind > 0 ? argv[optind - 1] : "?";

        if (c == ':')
                return usage_error(verb, "option '%s' needs a value", word);
        return usage_error(verb, "unknown option '%s'", word);
}

void print_diag(const struct policy_diag *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_messages; i++) {
                fputs_safe(d->messages[i], stderr);
                fputc('\n', stderr);
        }
}

int read_policy_text(const char *path, char **ret, size_t *ret_size) {
        int r = read_file_bounded(path, POLICY_FILE_MAX, ret, ret_size);
        if (r == -EFBIG)
                return log_error_errno(r, "%s: larger than %u MiB, refusing to read it", path, POLICY_FILE_MAX >> 20);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read: %m", path);
        return 0;
}

int replace_policy_file(const char *path, const char *text, bool rewritten) {
        struct stat st;
        mode_t mode = 0644;
        int r;

        if (stat(path, &st) == 0)
                mode = st.st_mode & 07777;
        r = write_file_atomic(path, text, strlen(text), mode);
        if (r < 0)
                return log_error_errno(r, "%s: cannot write: %m", path);
        if (rewritten)
                log_error("note: %s: the file was rewritten in canonical form; comments were not kept", path);
        return 0;
}

uint64_t policy_text_serial(const char *text) {
        _cleanup_(policy_freep) struct policy *p = NULL;

        if (policy_parse(text, strlen(text), "policy", &p, NULL) < 0)
                return 0;
        return p->serial;
}

int today(char buf[static 16]) {
        return time_format_date((int64_t) time(NULL), buf, 16);
}

/* Length of the UTF-8 sequence at S, or 0 if it is not a valid, shortest-form one. */
static size_t utf8_sequence_length(const unsigned char *s) {
        size_t n;
        uint32_t c;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                n = 2, c = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, c = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, c = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
            (c >= 0xd800 && c <= 0xdfff))
                return 0;
        if (c >= 0x80 && c < 0xa0) /* C1 controls */
                return 0;
        return n;
}

bool string_is_safe(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                if (*p < 0x20 || *p == 0x7f)
                        return false;
                size_t n = utf8_sequence_length(p);
                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

void fputs_safe(const char *s, FILE *f) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                size_t n = *p < 0x20 || *p == 0x7f ? 0 : utf8_sequence_length(p);
                if (n == 0) {
                        fprintf(f, "\\x%02x", *p);
                        p++;
                        continue;
                }
                fwrite(p, 1, n, f);
                p += n;
        }
}

static void help(FILE *f) {
        fputs("Usage: policyctl [GLOBAL OPTIONS] VERB [OPTIONS] [ARGS]\n"
              "\n"
              "Manage kyoka's signed device policy: the city's prior written permission in\n"
              "machine form.\n"
              "\n"
              "Global options:\n"
              "  --config-dir DIR    configuration (trusted keys in DIR/" KYOKA_KEYS_DIR ") [" KYOKA_CONFIG_DIR "]\n"
              "  --state-dir DIR     state (anti-rollback record) [" KYOKA_STATE_DIR "]\n"
              "  --runtime-dir DIR   runtime directory of kyokad [" KYOKA_RUNTIME_DIR "]\n"
              "  -h --help           show this help\n"
              "  --version           show the version\n"
              "\n"
              "Verbs:\n",
              f);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
        fputs("\n"
              "'policyctl VERB --help' describes a verb. Exit status: 0 success, 1 refused or\n"
              "failed, 2 usage error.\n",
              f);
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
                return usage_error(NULL, "no verb given");

        const char *name = argv[optind];
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, name))
                        continue;
                int verb_argc = argc - optind;
                char **verb_argv = argv + optind;
                optind = 0; /* glibc: re-initialise getopt for the verb */
                int r = verbs[i].run(verb_argc, verb_argv);
                /* A lost stdout (a full disk under `policyctl init > policy.conf`) must fail. */
                if (fflush(stdout) != 0 || ferror(stdout)) {
                        log_error_errno(-EIO, "cannot write to standard output: %m");
                        return EXIT_REFUSED;
                }
                return r;
        }

        return usage_error(NULL, "unknown verb '%s'", name);
}
