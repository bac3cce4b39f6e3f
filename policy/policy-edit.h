/* SPDX-License-Identifier: MIT */
/* Editing a policy file as text (approve: add an entry; revoke: remove one), keeping the
 * file's comments and layout, and raising `serial` by one. Every edit is checked: the result
 * must read as the same settings but for the new serial and exactly one entry more (which
 * passes every check of the parser) or less; otherwise the edit falls back to the canonical
 * writer (policy_write), whose result is parsed whole, and says so. */
#pragma once

#include <stdbool.h>

#include "policy.h"

/* S as a libconfig string literal, quotes included: `"` and `\` escaped, newline, tab, CR and
 * form feed as \n \t \r \f, other control bytes as \xHH, everything else (UTF-8) as is.
 * Newly allocated; NULL on OOM. */
char *policy_quote_string(const char *s);

/* All three return 0 with the edited text in *RET_TEXT (and *RET_REWRITTEN true if the canonical
 * writer had to be used); -EINVAL if TEXT is not a valid policy (DIAG says why); -EEXIST if an
 * added permit exists already; -EOVERFLOW if the serial cannot rise; -EBADMSG if not even the
 * canonical form holds the change (DIAG says why); -ENOMEM. Nothing is printed. */

/* Appends ENTRY (a usb entry; its approval.line is ignored) to the `usb` list of TEXT. */
int policy_edit_add_usb(const char *text, size_t len, const char *source, const struct policy_usb_entry *entry,
                        char **ret_text, bool *ret_rewritten, struct policy_diag *diag);
/* Appends ENTRY to the `network` list of TEXT. */
int policy_edit_add_net(const char *text, size_t len, const char *source, const struct policy_net_entry *entry,
                        char **ret_text, bool *ret_rewritten, struct policy_diag *diag);
/* Appends ENTRY to the `wireless` list of TEXT. */
int policy_edit_add_wireless(const char *text, size_t len, const char *source, const struct policy_wireless_entry *entry,
                             char **ret_text, bool *ret_rewritten, struct policy_diag *diag);
/* Removes the entry (usb, network or wireless) whose permit is PERMIT; -ENOENT if there is none. */
/* Appends ENTRY to the `media` list of TEXT. */
int policy_edit_add_media(const char *text, size_t len, const char *source, const struct policy_media_entry *entry,
                          char **ret_text, bool *ret_rewritten, struct policy_diag *diag);
/* Removes the entry (usb, network or media) whose permit is PERMIT; -ENOENT if there is none. */
int policy_edit_remove(const char *text, size_t len, const char *source, const char *permit,
                       char **ret_text, bool *ret_rewritten, struct policy_diag *diag);

/* For tests only: every edit takes the canonical fallback, as if the text edit had failed its
 * check. (No valid policy is known to need the fallback; the path must still work.) */
extern bool policy_edit_force_fallback;
/* For tests only: every text edit is checked by reading the edited text whole, as if the check
 * around the changed bytes could not tell. */
extern bool policy_edit_force_full_check;
/* For tests only: how many edits were checked by reading the edited text whole. */
extern unsigned policy_edit_full_checks;
