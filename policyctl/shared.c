/* SPDX-License-Identifier: MIT */
/* What the verbs share (policyctl.h): messages on stderr, usage errors, input checks, and
 * reading and replacing a policy file. Apart from policyctl.c's main() and verb table, so that
 * the verbs can be linked into unit tests (tests/unit/test-policyctl.c). */
#include "policyctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "policy-config.h"
#include "timeutil.h"
#include "utf8.h"

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
        log_error(_("out of memory"));
        return -ENOMEM;
}

int usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "policyctl: %s%s", verb ? verb : "", verb ? ": " : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fprintf(stderr, _("Try 'policyctl %s%s--help'.\n"), verb ? verb : "", verb ? " " : "");
        return EXIT_USAGE;
}

int option_error(const char *verb, int c, char *argv[]) {
        /* getopt_long leaves the offending word at argv[optind - 1]. */
        const char *word = optind > 0 ? argv[optind - 1] : "?";

        if (c == ':')
                return usage_error(verb, _("option '%s' needs a value"), word);
        return usage_error(verb, _("unknown option '%s'"), word);
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
                return log_error_errno(r, _("%s: larger than %u MiB, refusing to read it"), path, POLICY_FILE_MAX >> 20);
        if (r < 0)
                return log_error_errno(r, _("%s: cannot read: %m"), path);
        return 0;
}

int replace_policy_file(const char *path, const char *text, size_t len, bool rewritten) {
        struct stat st;
        mode_t mode = 0644;
        int r;

        if (stat(path, &st) == 0)
                mode = st.st_mode & 07777;
        r = write_file_atomic(path, text, len, mode);
        if (r < 0)
                return log_error_errno(r, _("%s: cannot write: %m"), path);
        if (rewritten)
                log_error(_("note: %s: the file was rewritten in canonical form; comments were not kept"), path);
        return 0;
}

uint64_t policy_text_serial(const char *text, size_t len) {
        int64_t serial;

        /* TEXT is an edit policy_edit_*() checked: the lexer finds its serial without another
         * parse of a policy that may be 40 MB. */
        if (pconf_root_int64(text, len, "serial", &serial) < 0 || serial <= 0)
                return 0;
        return (uint64_t) serial;
}

int today(char buf[static 16]) {
        return time_format_date((int64_t) time(NULL), buf, 16);
}

/* Length of the valid UTF-8 sequence at S, or 0 if there is none or it is a C1 control. */
static size_t utf8_sequence_length(const unsigned char *s) {
        uint32_t c;
        size_t n = utf8_decode_str((const char *) s, &c);

        if (n == 0 || (c >= 0x80 && c < 0xa0))
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
