/* SPDX-License-Identifier: MIT */
/* The words of kyoka-notify (notify-text.h). Every string a person reads goes through _() or
 * N_(); device strings come from kyokad already sanitised (docs/request.md) and are copied, not
 * interpreted: the notification server gets plain text (no markup is asked for). */
#include "notify-text.h"

#include <errno.h>
#include <json-c/json.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "macro.h"

static const char *get(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

const char *notify_language(const char *lc_all, const char *lc_messages, const char *lang) {
        const char *v = lc_all && lc_all[0] ? lc_all : lc_messages && lc_messages[0] ? lc_messages : lang;

        if (!v || !v[0] || strncmp(v, "ja", 2) == 0 || streq(v, "C") || streq(v, "POSIX") || strncmp(v, "C.", 2) == 0)
                return "ja";
        return "en";
}

int notify_i18n_setup(const char *language, const char *localedir) {
        if (!localedir)
                localedir = i18n_locale_dir();
        const char *cur;

        /* The session's locale if this host has it; else C.UTF-8, in which glibc still follows
         * LANGUAGE (it ignores it in plain "C"). LANGUAGE then picks the catalog. */
        if (!setlocale(LC_ALL, "") || !(cur = setlocale(LC_MESSAGES, NULL)) || streq(cur, "C") || streq(cur, "POSIX"))
                if (!setlocale(LC_ALL, "C.UTF-8"))
                        return -ENOENT;
        if (setenv("LANGUAGE", language, 1) < 0)
                return -errno;
        if (!bindtextdomain(KYOKA_TEXTDOMAIN, localedir) || !bind_textdomain_codeset(KYOKA_TEXTDOMAIN, "UTF-8") ||
            !textdomain(KYOKA_TEXTDOMAIN))
                return -ENOMEM;
        return 0;
}

const char *notify_action_label(void) {
        return _("Request permission");
}

const char *notify_reason_text(const char *reason) {
        if (!reason)
                return _("it is not permitted by this workstation's policy");
        if (strncmp(reason, "lockdown", 8) == 0)
                return _("no valid policy is in force on this workstation, so only keyboards and mice work");
        if (strstr(reason, " expired "))
                return _("its permission has expired");
        if (strstr(reason, " not valid before "))
                return _("its permission is not valid yet");
        if (strstr(reason, " is for port "))
                return _("it is permitted only in another USB port");
        if (strstr(reason, " does not approve interface "))
                return _("it has a function (USB interface) that its permission does not cover");
        return _("it is not permitted by this workstation's policy");
}

void notify_usb_name(struct json_object *o, char *buf, size_t size) {
        const char *man = get(o, "manufacturer"), *prod = get(o, "product_name");
        const char *vid = get(o, "vendor") ?: "????", *pid = get(o, "product") ?: "????";
        bool has_man = man && man[0], has_prod = prod && prod[0];

        if (has_man || has_prod)
                snprintf(buf, size, "%s%s%s (%.4s:%.4s)", has_man ? man : "", has_man && has_prod ? " " : "",
                         has_prod ? prod : "", vid, pid);
        else
                snprintf(buf, size, _("USB device %.4s:%.4s"), vid, pid);
}

void notify_link_name(struct json_object *o, char *buf, size_t size) {
        const char *name = get(o, "ifname") ?: get(o, "name") ?: "?", *mac = get(o, "mac"), *driver = get(o, "driver"),
                   *path = get(o, "path");
        char details[256] = "";
        size_t n = 0;

        /* A USB adapter says so: the person knows it as the thing they plugged in. */
        if (path && strstr(path, "-usb-"))
                n += (size_t) snprintf(details + n, sizeof details - n, "%s", _("USB"));
        if (mac && mac[0] && n < sizeof details)
                n += (size_t) snprintf(details + n, sizeof details - n, "%sMAC %s", n ? ", " : "", mac);
        if (driver && driver[0] && n < sizeof details)
                n += (size_t) snprintf(details + n, sizeof details - n, _("%sdriver %s"), n ? ", " : "", driver);
        if (details[0])
                snprintf(buf, size, "%s (%s)", name, details);
        else
                snprintf(buf, size, "%s", name);
}

bool notify_text_usb_blocked(struct json_object *record, struct notify_text *ret) {
        char name[768];

        notify_usb_name(record, name, sizeof name);
        if (streq_ptr(get(record, "event"), "scan-infected")) {
                /* Found when it was connected, or in a file just written to it: not a matter of
                 * permission, so no request is offered. */
                snprintf(ret->summary, sizeof ret->summary, "%s", _("Virus found: USB device disconnected"));
                snprintf(ret->body, sizeof ret->body,
                         _("%s has been disconnected: the virus scanner found %s in \"%s\".\nDo not use the device "
                           "or the file again; tell your administrator at once."),
                         name, get(record, "signature") ?: "?", get(record, "file_path") ?: "?");
                return false;
        }
        snprintf(ret->summary, sizeof ret->summary, "%s", _("USB device blocked"));
        snprintf(ret->body, sizeof ret->body,
                 _("%s cannot be used: %s.\nIf you need it for your work, choose \"Request permission\" and send "
                   "the request file to your administrator."),
                 name, notify_reason_text(get(record, "reason")));
        return true;
}

void notify_text_link_blocked(struct json_object *record, uint64_t attempts, struct notify_text *ret) {
        char name[512], times[256] = "";

        notify_link_name(record, name, sizeof name);
        if (attempts > 0)
                snprintf(times, sizeof times, ngettext("It was connected %llu time and cut off again.\n",
                                                       "It was connected %llu times and cut off again each time.\n",
                                                       attempts > 1000000 ? 1000000 : (unsigned long) attempts),
                         (unsigned long long) attempts);
        snprintf(ret->summary, sizeof ret->summary, "%s", _("Network connection blocked"));
        snprintf(ret->body, sizeof ret->body,
                 _("The network connection %s cannot be used: %s.\n%sIf you need it for your work, choose "
                   "\"Request permission\" and send the request file to your administrator."),
                 name, notify_reason_text(get(record, "reason")), times);
}

void notify_text_request_saved(const char *path, struct notify_text *ret) {
        snprintf(ret->summary, sizeof ret->summary, "%s", _("Request saved"));
        snprintf(ret->body, sizeof ret->body,
                 _("The request file is %s.\nSend it to your administrator as your organisation asks (for example "
                   "by e-mail). Once the permission is granted, it can be used."),
                 path);
}

void notify_text_request_failed(const char *why, struct notify_text *ret) {
        snprintf(ret->summary, sizeof ret->summary, "%s", _("The request could not be made"));
        snprintf(ret->body, sizeof ret->body, _("%s\nAsk your administrator to make the request."), why);
}

void notify_text_expiry(bool policy, const char *what, const char *name, const char *date, int64_t days,
                        struct notify_text *ret) {
        char left[128];

        if (days <= 0)
                snprintf(left, sizeof left, "%s", _("today"));
        else
                snprintf(left, sizeof left, ngettext("in %lld day", "in %lld days",
                                                     days > 1000 ? 1000 : (unsigned long) days), (long long) days);
        snprintf(ret->summary, sizeof ret->summary, "%s", _("Permission about to expire"));
        if (policy)
                snprintf(ret->body, sizeof ret->body,
                         _("This workstation's policy %s ends on %s (%s). After that, USB devices and network "
                           "connections are blocked. Ask your administrator to renew it in time."),
                         what && what[0] ? what : "", date, left);
        else
                snprintf(ret->body, sizeof ret->body,
                         _("The permission %s for %s ends on %s (%s). Ask your administrator to renew it in time."),
                         what, name, date, left);
}

void notify_escape_markup(const char *text, char *buf, size_t size) {
        size_t j = 0;

        if (size == 0)
                return;
        for (size_t i = 0; text[i]; i++) {
                const char *e = text[i] == '&' ? "&amp;" : text[i] == '<' ? "&lt;" : text[i] == '>' ? "&gt;" : NULL;
                size_t n = e ? strlen(e) : 1;
                if (j + n >= size)
                        break;
                if (e)
                        memcpy(buf + j, e, n);
                else
                        buf[j] = text[i];
                j += n;
        }
        buf[j] = 0;
}
