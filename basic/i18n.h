/* SPDX-License-Identifier: MIT */
/* Messages in the reader's language: gettext with the text domain "kyoka" (po/ja.po), English
 * source strings. Only what the person at the keyboard reads is translated: help, usage errors,
 * policyctl's errors and verdicts. Journal text, --json, CSV and the `status --check` lines stay
 * English (DEVELOPERS.md "Translations"). */
#pragma once

#include <libintl.h>

#define KYOKA_TEXTDOMAIN "kyoka"

/* _("...") translates; N_("...") marks a string for xgettext that is translated where it is
 * printed (the verb table's summaries). */
#define _(s) gettext(s)
#define N_(s) s

/* The directory of the catalogues: $KYOKA_LOCALEDIR if it is absolute and the process is not
 * running with privileges it did not get from its caller (secure_getenv), else the LOCALEDIR
 * compiled in. */
const char *i18n_locale_dir(void);

/* Chooses the language from the environment (LC_ALL, LC_MESSAGES, LANG, LANGUAGE) for messages
 * and their encoding only: LC_NUMERIC, LC_TIME and LC_COLLATE stay "C", so output that programs
 * read does not change with the locale. */
void i18n_init(void);
