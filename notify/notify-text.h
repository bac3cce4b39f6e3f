/* SPDX-License-Identifier: MIT */
/* What kyoka-notify says, in the session's language: the language chosen from the locale
 * (Japanese unless the session asks for another), and the summary and body of each
 * notification built from kyokad's records (docs/control.md "watch"). Source strings are
 * English, wrapped in gettext; po/ja.po holds the Japanese. No D-Bus and no sockets here, so
 * that the texts can be unit tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define NOTIFY_TEXT_MAX 2048          /* a summary or a body, bytes */

/* "ja" or "en" from the first of LC_ALL, LC_MESSAGES and LANG that is set and not empty: a
 * value starting with "ja", none at all, or C/POSIX (a service's default) is Japanese; any
 * other language English, the source strings. */
const char *notify_language(const char *lc_all, const char *lc_messages, const char *lang);

/* Sets up gettext (basic/i18n.h's domain) for LANGUAGE ("ja" or "en") with the catalogues under
 * LOCALEDIR (NULL: i18n_locale_dir(), $KYOKA_LOCALEDIR or the one compiled in), whether or not
 * the session's locale is installed on this host (C.UTF-8 is used when it is not, which glibc
 * always has). Messages come out in UTF-8, as D-Bus needs them. */
int notify_i18n_setup(const char *language, const char *localedir);

struct notify_text {
        char summary[NOTIFY_TEXT_MAX];
        char body[NOTIFY_TEXT_MAX];
};

/* Why kyokad blocked it, in words for the person at the keyboard, from a record's "reason"
 * (policy_decision_format()'s text: "default usb_other", "... (permit P expired ...)", ...). */
const char *notify_reason_text(const char *reason);

/* The name of a USB device from a record or a `list` entry: "Manufacturer Product (0781:5581)",
 * the ids alone only when the device names nothing. */
void notify_usb_name(struct json_object *o, char *buf, size_t size);
/* The name of a network link: "enx00e04c680001 (USB, MAC 00:e0:4c:68:00:01, driver r8152)". */
void notify_link_name(struct json_object *o, char *buf, size_t size);

/* A blocked USB device (a usb record with "decision":"block"). Returns whether asking for
 * permission helps (false for a device disconnected because a virus was found on it: a
 * scan-infected record, which names the signature and the file). */
bool notify_text_usb_blocked(struct json_object *record, struct notify_text *ret);
/* A blocked network link: appeared blocked (ATTEMPTS 0) or set up ATTEMPTS times while blocked
 * and set down again each time (the coalesced violations). */
void notify_text_link_blocked(struct json_object *record, uint64_t attempts, struct notify_text *ret);
/* The request file was saved at PATH (already shown to the user as a path in their home). */
void notify_text_request_saved(const char *path, struct notify_text *ret);
void notify_text_request_failed(const char *why, struct notify_text *ret);
/* The policy (POLICY true; WHAT is the contract or "") or a permit (WHAT is the permit and
 * NAME the device or link it approves) ends on DATE (the last valid day as the policy says
 * it), DAYS days from now (0: today). */
void notify_text_expiry(bool policy, const char *what, const char *name, const char *date, int64_t days,
                        struct notify_text *ret);

/* TEXT with &, < and > as entities, for a server that renders body markup: a device's name
 * ("AT&T <Stick>") must show as it is, not break the markup. Cut (never inside an entity) to
 * fit SIZE, which NOTIFY_TEXT_MAX * 5 always suffices for. */
void notify_escape_markup(const char *text, char *buf, size_t size);

/* The action's label: 「許可を申請」. */
const char *notify_action_label(void);
