/* SPDX-License-Identifier: MIT */
/* The canonical policy file: every field present in the struct, in the order of
 * docs/policy.md, no comments. policy_parse() reads it back to an equal policy; that round
 * trip is what `policyctl approve/revoke` rely on when a text edit cannot keep the layout.
 *
 * Dates are written as they were read (*_text) so that "2027-03-31" stays a date-only,
 * through-that-day limit; a time without its text (a generated entry) is written as an exact
 * local time with its offset, which reads back to the same instant. */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "timeutil.h"

/* libconfig string syntax: '"' and '\' escaped; control bytes as \xHH (a validated policy has
 * none, but a generated entry must not be able to break the file's structure). */
static void put_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void put_key_string(FILE *f, const char *indent, const char *key, const char *value) {
        if (!value)
                return;
        fprintf(f, "%s%s = ", indent, key);
        put_string(f, value);
        fputs(";\n", f);
}

/* KEY = [ "a", "b" ]; (nothing for N == 0). */
static void put_key_strv(FILE *f, const char *indent, const char *key, char *const *v, size_t n) {
        if (n == 0)
                return;
        fprintf(f, "%s%s = [ ", indent, key);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        fputs(", ", f);
                put_string(f, v[i]);
        }
        fputs(" ];\n", f);
}

static int put_key_time(FILE *f, const char *indent, const char *key, const char *text, int64_t t) {
        char buf[ISO8601_MAX];

        if (!text) {
                if (t == TIME_INFINITY || t == TIME_NEG_INFINITY)
                        return 0;
                int r = time_format_iso8601(t, buf, sizeof buf);
                if (r < 0)
                        return r;
                text = buf;
        }
        put_key_string(f, indent, key, text);
        return 0;
}

static void put_approval_head(FILE *f, const struct policy_approval *a) {
        put_key_string(f, "        ", "permit", a->permit ?: "");
}

static int put_approval_tail(FILE *f, const struct policy_approval *a) {
        static const char in[] = "        ";
        int r;

        put_key_string(f, in, "label", a->label);
        put_key_string(f, in, "purpose", a->purpose);
        put_key_string(f, in, "holder", a->holder);
        put_key_strv(f, in, "workstations", a->workstations, a->n_workstations);
        put_key_string(f, in, "approved_by", a->approved_by ?: "");
        r = put_key_time(f, in, "approved_on", a->approved_on_text, a->approved_on);
        if (r < 0)
                return r;
        r = put_key_time(f, in, "valid_from", a->valid_from_text, a->valid_from);
        if (r < 0)
                return r;
        return put_key_time(f, in, "valid_until", a->valid_until_text, a->valid_until);
}

static void put_interface(FILE *f, const struct policy_interface_pattern *pat) {
        char buf[POLICY_INTERFACE_PATTERN_MAX];

        policy_interface_pattern_format(pat, buf);
        fprintf(f, "\"%s\"", buf);
}

static int put_usb(FILE *f, const struct policy_usb_entry *e) {
        static const char in[] = "        ";
        char id[5];

        put_approval_head(f, &e->approval);
        snprintf(id, sizeof id, "%04x", e->vendor);
        put_key_string(f, in, "vendor", id);
        snprintf(id, sizeof id, "%04x", e->product);
        put_key_string(f, in, "product", id);
        put_key_string(f, in, "serial", e->serial ?: "");
        put_key_string(f, in, "path", e->path);
        if (e->has_interfaces) {
                fprintf(f, "%sinterfaces = [ ", in);
                for (size_t i = 0; i < e->n_interfaces; i++) {
                        if (i > 0)
                                fputs(", ", f);
                        put_interface(f, &e->interfaces[i]);
                }
                fputs(" ];\n", f);
                /* The default is left out, so that the canonical form stays short. */
                if (e->unlisted == UNLISTED_DISABLE)
                        put_key_string(f, in, "unlisted_interfaces", "disable");
        }
        put_key_string(f, in, "access", e->read_only ? "read-only" : "read-write");
        /* Like unlisted_interfaces: the default ("root") is left out. */
        if (e->hidraw_user)
                put_key_string(f, in, "hidraw", "user");
        if (e->scan != POLICY_SCAN_DEFAULT)
                put_key_string(f, in, "scan", policy_scan_to_string(e->scan));
        return put_approval_tail(f, &e->approval);
}

static int put_net(FILE *f, const struct policy_net_entry *e) {
        static const char in[] = "        ";

        put_approval_head(f, &e->approval);
        if (e->has_mac) {
                char mac[18];
                mac_format(e->mac, mac);
                put_key_string(f, in, "mac", mac);
        }
        put_key_string(f, in, "path", e->path);
        put_key_string(f, in, "kind", e->kind);
        put_key_string(f, in, "name", e->name);
        if (e->wireless_modes) {
                bool first = true;
                fprintf(f, "%swireless_modes = [ ", in);
                for (int m = 0; m < _WIRELESS_MODE_MAX; m++)
                        if (e->wireless_modes & (1u << m)) {
                                fprintf(f, "%s\"%s\"", first ? "" : ", ", wireless_mode_to_string(m));
                                first = false;
                        }
                fputs(" ];\n", f);
        }
        return put_approval_tail(f, &e->approval);
}

static int put_wireless(FILE *f, const struct policy_wireless_entry *e) {
        static const char in[] = "        ";
        char ssid[WIRELESS_SSID_HEX_MAX];

        put_approval_head(f, &e->approval);
        /* Text only where it reads back as the same bytes. */
        if (!e->ssid_is_hex && wireless_ssid_is_printable(e->ssid, e->ssid_len)) {
                memcpy(ssid, e->ssid, e->ssid_len);
                ssid[e->ssid_len] = 0;
                put_key_string(f, in, "ssid", ssid);
        } else {
                wireless_ssid_hex(e->ssid, e->ssid_len, ssid);
                put_key_string(f, in, "ssid_hex", ssid);
        }
        if (e->n_bssids > 0) {
                fprintf(f, "%sbssid = [ ", in);
                for (size_t i = 0; i < e->n_bssids; i++) {
                        char mac[18];
                        mac_format(e->bssids[i], mac);
                        fprintf(f, "%s\"%s\"", i > 0 ? ", " : "", mac);
                }
                fputs(" ];\n", f);
        }
        put_key_string(f, in, "security", wireless_security_to_string(e->security));
        return put_approval_tail(f, &e->approval);
}

static void put_media_identity(FILE *f, enum media_bus bus, const char *vendor, const char *model, const char *serial,
                               const char *oemid, const char *date, const char *path) {
        static const char in[] = "        ";

        put_key_string(f, in, "bus", media_bus_to_string(bus) ?: "");
        put_key_string(f, in, "vendor", vendor);
        put_key_string(f, in, "model", model);
        put_key_string(f, in, "serial", serial);
        put_key_string(f, in, "oemid", oemid);
        put_key_string(f, in, "date", date);
        put_key_string(f, in, "path", path);
}

static int put_media(FILE *f, const struct policy_media_entry *e) {
        put_approval_head(f, &e->approval);
        put_media_identity(f, e->bus, e->vendor, e->model, e->serial, e->oemid, e->date, e->path);
        put_key_string(f, "        ", "access", e->read_only ? "read-only" : "read-write");
        if (e->scan != POLICY_SCAN_DEFAULT)
                put_key_string(f, "        ", "scan", policy_scan_to_string(e->scan));
        return put_approval_tail(f, &e->approval);
}

static void put_fixed(FILE *f, const struct policy_fixed_disk *d) {
        put_media_identity(f, d->bus, d->vendor, d->model, d->serial, NULL, NULL, d->path);
        put_key_string(f, "        ", "label", d->label);
}

int policy_write(const struct policy *p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r = 0;

        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "# kyoka policy (docs/policy.md), canonical form\n");
        fprintf(f, "kyoka_policy = %d;\n", POLICY_FORMAT_VERSION);
        /* libconfig 1.5 truncates an integer above 2^31-1 unless it carries the L suffix. */
        fprintf(f, "serial = %" PRIu64 "%s;\n", p->serial, p->serial > INT32_MAX ? "L" : "");
        r = put_key_time(f, "", "issued", p->issued_text, p->issued);
        put_key_string(f, "", "issuer", p->issuer ?: "");
        put_key_string(f, "", "contract", p->contract ?: "");
        put_key_string(f, "", "contractor", p->contractor);
        put_key_string(f, "", "responsible", p->responsible);
        /* One name as a string, as before lists existed; a fleet as an array. */
        if (p->n_workstations == 1)
                put_key_string(f, "", "workstation", p->workstations[0]);
        else
                put_key_strv(f, "", "workstation", p->workstations, p->n_workstations);
        if (r >= 0)
                r = put_key_time(f, "", "valid_until", p->valid_until_text, p->valid_until);

        fprintf(f, "\ndefaults = {\n        usb_hid = \"%s\";\n        usb_hub = \"%s\";\n"
                   "        usb_other = \"%s\";\n        network = \"%s\";\n        media = \"%s\";\n",
                policy_action_to_string(p->default_usb_hid), policy_action_to_string(p->default_usb_hub),
                policy_action_to_string(p->default_usb_other), policy_action_to_string(p->default_network),
                policy_action_to_string(p->default_media));
        /* Like the entries' defaults: written only when not the default, so older files read the same. */
        if (p->default_wireless != POLICY_BLOCK)
                fprintf(f, "        wireless = \"%s\";\n", policy_action_to_string(p->default_wireless));
        /* Written only when they say something: policies without scans keep their canonical form. */
        if (policy_scan_effective(p, POLICY_SCAN_DEFAULT) != POLICY_SCAN_NONE)
                fprintf(f, "        scan = \"%s\";\n", policy_scan_to_string(p->default_scan));
        fputs("};\n", f);
        const struct policy_scan_limits *l = &p->scan_limits;
        if (l->max_seconds != POLICY_SCAN_SECONDS_DEFAULT || l->max_megabytes != POLICY_SCAN_MEGABYTES_DEFAULT ||
            l->max_database_days != POLICY_SCAN_DATABASE_DAYS_DEFAULT)
                fprintf(f, "\nscan = {\n        max_seconds = %" PRId64 ";\n        max_megabytes = %" PRId64 "%s;\n"
                           "        max_database_days = %" PRId64 ";\n};\n",
                        l->max_seconds, l->max_megabytes, l->max_megabytes > INT32_MAX ? "L" : "", l->max_database_days);

        if (p->n_usb > 0) {
                fputs("\nusb = (\n", f);
                for (size_t i = 0; i < p->n_usb && r >= 0; i++) {
                        fputs("    {\n", f);
                        r = put_usb(f, &p->usb[i]);
                        fputs(i + 1 < p->n_usb ? "    },\n" : "    }\n", f);
                }
                fputs(");\n", f);
        }
        if (p->n_net > 0) {
                fputs("\nnetwork = (\n", f);
                for (size_t i = 0; i < p->n_net && r >= 0; i++) {
                        fputs("    {\n", f);
                        r = put_net(f, &p->net[i]);
                        fputs(i + 1 < p->n_net ? "    },\n" : "    }\n", f);
                }
                fputs(");\n", f);
        }
        if (p->n_wireless > 0) {
                fputs("\nwireless = (\n", f);
                for (size_t i = 0; i < p->n_wireless && r >= 0; i++) {
                        fputs("    {\n", f);
                        r = put_wireless(f, &p->wireless[i]);
                        fputs(i + 1 < p->n_wireless ? "    },\n" : "    }\n", f);
                }
                fputs(");\n", f);
        }

        if (p->n_media > 0) {
                fputs("\nmedia = (\n", f);
                for (size_t i = 0; i < p->n_media && r >= 0; i++) {
                        fputs("    {\n", f);
                        r = put_media(f, &p->media[i]);
                        fputs(i + 1 < p->n_media ? "    },\n" : "    }\n", f);
                }
                fputs(");\n", f);
        }
        if (p->n_fixed > 0) {
                fputs("\nfixed_disks = (\n", f);
                for (size_t i = 0; i < p->n_fixed; i++) {
                        fputs("    {\n", f);
                        put_fixed(f, &p->fixed[i]);
                        fputs(i + 1 < p->n_fixed ? "    },\n" : "    }\n", f);
                }
                fputs(");\n", f);
        }

        bool failed = ferror(f);
        if (fclose(f) != 0 || failed)
                return -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}
