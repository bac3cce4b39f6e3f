/* SPDX-License-Identifier: MIT */
/* gettext set-up for policyctl and kyokad's --help (i18n.h). */
#include "i18n.h"

#include <locale.h>
#include <stdlib.h>

#ifndef KYOKA_LOCALEDIR
#define KYOKA_LOCALEDIR "/usr/local/share/locale"   /* the Makefile defines it: $(LOCALEDIR) */
#endif

const char *i18n_locale_dir(void) {
        /* The tests point this at the build tree's catalogues. A catalogue holds printf formats,
         * so one from an attacker's directory could turn a message into a format-string attack:
         * secure_getenv() ignores the variable in a setuid, setgid or file-capability process
         * (AT_SECURE), as glibc ignores LOCPATH and LD_LIBRARY_PATH there. Whoever sets the
         * environment of any other process (root running policyctl itself, or through sudo,
         * which does not pass this variable on) controls that process already. */
        const char *d = secure_getenv("KYOKA_LOCALEDIR");

        if (d && d[0] == '/')
                return d;
        return KYOKA_LOCALEDIR;
}

void i18n_init(void) {
        (void) setlocale(LC_CTYPE, "");         /* the terminal's encoding, for gettext's conversion */
        (void) setlocale(LC_MESSAGES, "");
        (void) bindtextdomain(KYOKA_TEXTDOMAIN, i18n_locale_dir());
        (void) textdomain(KYOKA_TEXTDOMAIN);
}
