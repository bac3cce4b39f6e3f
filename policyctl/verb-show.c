/* SPDX-License-Identifier: MIT */
/* policyctl show [--json] FILE: the policy for people (who may use which device, until when,
 * on whose approval) or for programs (JSON). This reads the file without checking its
 * signature, so the output says so; 'verify' says whether it is in force. Every string from
 * the file is printed with control characters escaped: a policy must not drive the terminal. */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "json-util.h"
#include "policyctl.h"
#include "timeutil.h"
#include "wireless.h"

static void help(void) {
        printf(_("Usage: policyctl show [--json] FILE\n"
               "\n"
               "Print a policy: its header, the defaults, and for each permit the device, its port,\n"
               "access, raw HID, virus scan, validity, who approved it and when, holder, label and\n"
               "purpose, and the bounds of a scan.\n"
               "The signature is not checked ('policyctl verify' does that).\n"
               "\n"
               "Options:\n"
               "  --json      print JSON instead of a table\n"
               "  -h --help   show this help\n"));
}

/* A date as written, or formatted from its value; NULL if not set. */
static const char *date_or_null(const char *text, int64_t t, char buf[static ISO8601_MAX]) {
        if (text)
                return text;
        if (t == TIME_INFINITY || t == TIME_NEG_INFINITY || time_format_iso8601(t, buf, ISO8601_MAX) < 0)
                return NULL;
        return buf;
}

/* ---- table ------------------------------------------------------------------------------- */

static void row(const char *name, const char *value) {
        if (!value)
                return;
        printf("  %-12s ", name);
        fputs_safe(value, stdout);
        putchar('\n');
}

static void print_validity(const struct policy_approval *a) {
        char b1[ISO8601_MAX], b2[ISO8601_MAX];
        const char *from = date_or_null(a->valid_from_text, a->valid_from, b1);
        const char *until = date_or_null(a->valid_until_text, a->valid_until, b2);

        printf("  %-12s ", "validity");
        if (!from && !until)
                fputs("no limit", stdout);
        if (from) {
                fputs("from ", stdout);
                fputs_safe(from, stdout);
        }
        if (until) {
                fputs(from ? " through " : "through ", stdout);
                fputs_safe(until, stdout);
        }
        putchar('\n');
}

static void print_approval(const struct policy_approval *a) {
        char b[ISO8601_MAX];
        const char *on = date_or_null(a->approved_on_text, a->approved_on, b);

        print_validity(a);
        printf("  %-12s ", "approved");
        fputs("by ", stdout);
        fputs_safe(a->approved_by ? a->approved_by : "?", stdout);
        fputs(" on ", stdout);
        fputs_safe(on ? on : "?", stdout);
        putchar('\n');
        row("holder", a->holder);
        row("label", a->label);
        row("purpose", a->purpose);
        /* Only where it narrows: an entry without the key applies on every workstation. */
        if (a->n_workstations > 0) {
                printf("  %-12s ", "applies on");
                for (size_t i = 0; i < a->n_workstations; i++) {
                        fputs(i ? ", " : "", stdout);
                        fputs_safe(a->workstations[i], stdout);
                }
                fputs(" only\n", stdout);
        }
}

static void print_media_keys(const char *vendor, const char *model, const char *serial, const char *oemid,
                             const char *date, const char *path) {
        const char *keys[] = { "vendor", "model", "serial", "oemid", "date", "path" };
        const char *values[] = { vendor, model, serial, oemid, date, path };
        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                if (values[k]) {
                        printf(" %s ", keys[k]);
                        fputs_safe(values[k], stdout);
                }
}

/* Whether an entry's storage must pass a scan, and why: its own key or defaults.scan. */
static void print_scan(const struct policy *p, enum policy_scan scan) {
        enum policy_scan s = policy_scan_effective(p, scan);
        printf("  %-12s %s%s\n", "scan",
               s == POLICY_SCAN_IN_AND_OUT ? "required before use, and of every file written to it" :
               s == POLICY_SCAN_REQUIRED   ? "required before use" : "none",
               scan == POLICY_SCAN_DEFAULT ? " (defaults.scan)" : "");
}

static void print_table(const struct policy *p) {
        char b[ISO8601_MAX];
        const char *issued = date_or_null(p->issued_text, p->issued, b);

        printf("policy       ");
        fputs_safe(p->source, stdout);
        printf(" (signature not checked)\nserial       %" PRIu64 "\n", p->serial);
        printf("issued       ");
        fputs_safe(issued ? issued : "?", stdout);
        printf("\nissuer       ");
        fputs_safe(p->issuer ? p->issuer : "", stdout);
        printf("\ncontract     ");
        fputs_safe(p->contract ? p->contract : "", stdout);
        if (p->contractor) {
                printf("\ncontractor   ");
                fputs_safe(p->contractor, stdout);
        }
        if (p->responsible) {
                printf("\nresponsible  ");
                fputs_safe(p->responsible, stdout);
        }
        printf("\nworkstation  ");
        fputs_safe(p->workstation ? p->workstation : "any", stdout);
        printf("\nvalid until  ");
        fputs_safe(p->valid_until_text ? p->valid_until_text : "no limit", stdout);
        printf("\ndefaults     usb_hid %s, usb_hub %s, usb_other %s, network %s, wireless %s, media %s\n",
               policy_action_to_string(p->default_usb_hid), policy_action_to_string(p->default_usb_hub),
               policy_action_to_string(p->default_usb_other), policy_action_to_string(p->default_network),
               policy_action_to_string(p->default_wireless), policy_action_to_string(p->default_media));
        const struct policy_scan_limits *l = &p->scan_limits;
        printf("scan         %s; at most %" PRId64 " s and %" PRId64 " MiB per medium, ",
               policy_scan_effective(p, POLICY_SCAN_DEFAULT) == POLICY_SCAN_IN_AND_OUT
                       ? "required by default, also of files written (defaults.scan)"
               : policy_scan_effective(p, POLICY_SCAN_DEFAULT) == POLICY_SCAN_REQUIRED
                       ? "required by default (defaults.scan)" : "where a permit requires it",
               l->max_seconds, l->max_megabytes);
        if (l->max_database_days > 0)
                printf("signatures at most %" PRId64 " days old\n", l->max_database_days);
        else
                printf("signature age not checked\n");

        for (size_t i = 0; i < p->n_usb; i++) {
                const struct policy_usb_entry *e = &p->usb[i];

                printf("\npermit       ");
                fputs_safe(e->approval.permit, stdout);
                printf("\n  %-12s usb %04x:%04x serial ", "device", e->vendor, e->product);
                if (e->serial && *e->serial)
                        fputs_safe(e->serial, stdout);
                else
                        fputs("(none: units without a serial number)", stdout);
                printf("\n  %-12s ", "port");
                fputs_safe(e->path ? e->path : "any", stdout);
                printf("\n  %-12s ", "interfaces");
                if (!e->has_interfaces)
                        fputs("any", stdout);
                for (size_t j = 0; j < e->n_interfaces; j++) {
                        char c[POLICY_INTERFACE_PATTERN_MAX];
                        policy_interface_pattern_format(&e->interfaces[j], c);
                        printf("%s%s", j > 0 ? " " : "", c);
                }
                if (e->has_interfaces && e->unlisted == UNLISTED_DISABLE)
                        fputs(" (others disabled)", stdout);
                printf("\n  %-12s %s\n", "access", e->read_only ? "read-only" : "read-write");
                printf("  %-12s %s\n", "hidraw", e->hidraw_user ? "user (as udev's rules give it)" : "root only");
                print_scan(p, e->scan);
                print_approval(&e->approval);
        }

        for (size_t i = 0; i < p->n_net; i++) {
                const struct policy_net_entry *e = &p->net[i];

                printf("\npermit       ");
                fputs_safe(e->approval.permit, stdout);
                printf("\n  %-12s network", "device");
                if (e->has_mac) {
                        char mac[18];
                        mac_format(e->mac, mac);
                        printf(" mac %s", mac);
                }
                if (e->path) {
                        fputs(" path ", stdout);
                        fputs_safe(e->path, stdout);
                }
                if (e->kind) {
                        fputs(" kind ", stdout);
                        fputs_safe(e->kind, stdout);
                }
                if (e->name) {
                        fputs(" name ", stdout);
                        fputs_safe(e->name, stdout);
                }
                if (e->wireless_modes) {
                        printf("\n  %-12s", "wireless");
                        for (int m = 0; m < _WIRELESS_MODE_MAX; m++)
                                if (e->wireless_modes & (1u << m))
                                        printf(" %s", wireless_mode_to_string(m));
                }
                printf("\n  %-12s %s\n", "access", "allow");
                print_approval(&e->approval);
        }

        for (size_t i = 0; i < p->n_wireless; i++) {
                const struct policy_wireless_entry *e = &p->wireless[i];
                char ssid[WIRELESS_SSID_TEXT_MAX];

                /* The SSID as escaped text: its bytes are whatever the approver was given. */
                wireless_ssid_text(e->ssid, e->ssid_len, ssid);
                printf("\npermit       ");
                fputs_safe(e->approval.permit, stdout);
                printf("\n  %-12s wireless ssid \"", "network");
                fputs_safe(ssid, stdout);
                printf("\"\n  %-12s", "bssid");
                if (e->n_bssids == 0)
                        fputs(" any", stdout);
                for (size_t j = 0; j < e->n_bssids; j++) {
                        char mac[18];
                        mac_format(e->bssids[j], mac);
                        printf(" %s", mac);
                }
                printf("\n  %-12s %s or better\n", "security", wireless_security_to_string(e->security));
                print_approval(&e->approval);
        }

        for (size_t i = 0; i < p->n_media; i++) {
                const struct policy_media_entry *e = &p->media[i];

                printf("\npermit       ");
                fputs_safe(e->approval.permit, stdout);
                printf("\n  %-12s media %s", "device", media_bus_to_string(e->bus));
                print_media_keys(e->vendor, e->model, e->serial, e->oemid, e->date, e->path);
                printf("\n  %-12s %s\n", "access",
                       e->bus == MEDIA_BUS_OPTICAL ? (e->read_only ? "read discs (carry-in)" : "read and write discs")
                                                   : e->read_only ? "read-only" : "read-write");
                print_scan(p, e->scan);
                print_approval(&e->approval);
        }

        if (p->n_usb + p->n_net + p->n_wireless + p->n_media == 0)
                puts("\n(no permits)");
        for (size_t i = 0; i < p->n_fixed; i++) {
                const struct policy_fixed_disk *f = &p->fixed[i];
                printf("%sfixed disk   %s", i == 0 ? "\n" : "", media_bus_to_string(f->bus));
                print_media_keys(f->vendor, f->model, f->serial, NULL, NULL, f->path);
                if (f->label) {
                        fputs(" (", stdout);
                        fputs_safe(f->label, stdout);
                        putchar(')');
                }
                putchar('\n');
        }
}

/* ---- JSON -------------------------------------------------------------------------------- */

static int add_date(struct json_object *o, const char *key, const char *text, int64_t t) {
        char b[ISO8601_MAX];
        return json_add_string(o, key, date_or_null(text, t, b));
}

/* KEY: the names as an array, or null for none (every workstation). */
static int add_strv(struct json_object *o, const char *key, char *const *v, size_t n) {
        if (n == 0)
                return json_add_null(o, key);
        struct json_object *a = json_object_new_array();
        if (json_add(o, key, a) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_new_string(v[i]);
                if (!e || json_object_array_add(a, e) < 0) {
                        json_object_put(e);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int add_approval(struct json_object *o, const struct policy_approval *a) {
        int r = 0;
        r = r < 0 ? r : json_add_string(o, "permit", a->permit);
        r = r < 0 ? r : json_add_string(o, "label", a->label);
        r = r < 0 ? r : json_add_string(o, "purpose", a->purpose);
        r = r < 0 ? r : json_add_string(o, "holder", a->holder);
        r = r < 0 ? r : json_add_string(o, "approved_by", a->approved_by);
        r = r < 0 ? r : add_date(o, "approved_on", a->approved_on_text, a->approved_on);
        r = r < 0 ? r : add_date(o, "valid_from", a->valid_from_text, a->valid_from);
        r = r < 0 ? r : add_date(o, "valid_until", a->valid_until_text, a->valid_until);
        r = r < 0 ? r : add_strv(o, "workstations", a->workstations, a->n_workstations);
        return r;
}

/* "scan": the entry's key as written (null: it follows defaults.scan); "scan_required" and
 * "scan_written": what applies (before use; and each file written to it). */
static int add_scan(struct json_object *o, const struct policy *p, enum policy_scan scan) {
        enum policy_scan s = policy_scan_effective(p, scan);
        int r = json_add_string(o, "scan", policy_scan_to_string(scan));
        r = r < 0 ? r : json_add(o, "scan_required", json_object_new_boolean(s != POLICY_SCAN_NONE));
        return r < 0 ? r : json_add(o, "scan_written", json_object_new_boolean(s == POLICY_SCAN_IN_AND_OUT));
}

static int usb_to_json(const struct policy *p, const struct policy_usb_entry *e, struct json_object **ret) {
        struct json_object *o = json_object_new_object(), *ifs = NULL;
        char hex[5];
        int r;

        if (!o)
                return -ENOMEM;
        r = add_approval(o, &e->approval);
        snprintf(hex, sizeof hex, "%04x", e->vendor);
        r = r < 0 ? r : json_add_string(o, "vendor", hex);
        snprintf(hex, sizeof hex, "%04x", e->product);
        r = r < 0 ? r : json_add_string(o, "product", hex);
        r = r < 0 ? r : json_add_string(o, "serial", e->serial ? e->serial : "");
        r = r < 0 ? r : json_add_string(o, "path", e->path);
        if (r >= 0 && e->has_interfaces) {
                ifs = json_object_new_array();
                for (size_t i = 0; ifs && i < e->n_interfaces; i++) {
                        char c[POLICY_INTERFACE_PATTERN_MAX];
                        policy_interface_pattern_format(&e->interfaces[i], c);
                        if (json_object_array_add(ifs, json_object_new_string(c)) < 0)
                                r = -ENOMEM;
                }
                if (json_add(o, "interfaces", ifs) < 0)
                        r = -ENOMEM;
                r = r < 0 ? r
                          : json_add_string(o, "unlisted_interfaces",
                                            e->unlisted == UNLISTED_DISABLE ? "disable" : "block-device");
        } else if (r >= 0)
                r = json_add_null(o, "interfaces");
        r = r < 0 ? r : json_add_string(o, "access", e->read_only ? "read-only" : "read-write");
        r = r < 0 ? r : json_add_string(o, "hidraw", e->hidraw_user ? "user" : "root");
        r = r < 0 ? r : add_scan(o, p, e->scan);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int net_to_json(const struct policy_net_entry *e, struct json_object **ret) {
        struct json_object *o = json_object_new_object();
        char mac[18];
        int r;

        if (!o)
                return -ENOMEM;
        if (e->has_mac)
                mac_format(e->mac, mac);
        r = add_approval(o, &e->approval);
        r = r < 0 ? r : json_add_string(o, "mac", e->has_mac ? mac : NULL);
        r = r < 0 ? r : json_add_string(o, "path", e->path);
        r = r < 0 ? r : json_add_string(o, "kind", e->kind);
        r = r < 0 ? r : json_add_string(o, "name", e->name);
        if (r >= 0 && e->wireless_modes) {
                struct json_object *modes = json_object_new_array();
                for (int m = 0; modes && m < _WIRELESS_MODE_MAX; m++)
                        if ((e->wireless_modes & (1u << m)) &&
                            json_object_array_add(modes, json_object_new_string(wireless_mode_to_string(m))) < 0)
                                r = -ENOMEM;
                if (json_add(o, "wireless_modes", modes) < 0)
                        r = -ENOMEM;
        }
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int wireless_to_json(const struct policy_wireless_entry *e, struct json_object **ret) {
        struct json_object *o = json_object_new_object(), *bssids = NULL;
        char text[WIRELESS_SSID_TEXT_MAX], hex[WIRELESS_SSID_HEX_MAX];
        int r;

        if (!o)
                return -ENOMEM;
        wireless_ssid_text(e->ssid, e->ssid_len, text);
        wireless_ssid_hex(e->ssid, e->ssid_len, hex);
        r = add_approval(o, &e->approval);
        r = r < 0 ? r : json_add_string(o, "ssid", text);
        r = r < 0 ? r : json_add_string(o, "ssid_hex", hex);
        if (r >= 0 && e->n_bssids > 0) {
                bssids = json_object_new_array();
                for (size_t i = 0; bssids && i < e->n_bssids; i++) {
                        char mac[18];
                        mac_format(e->bssids[i], mac);
                        if (json_object_array_add(bssids, json_object_new_string(mac)) < 0)
                                r = -ENOMEM;
                }
                if (json_add(o, "bssid", bssids) < 0)
                        r = -ENOMEM;
        } else if (r >= 0)
                r = json_add_null(o, "bssid");
        r = r < 0 ? r : json_add_string(o, "security", wireless_security_to_string(e->security));
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int media_keys_to_json(struct json_object *o, enum media_bus bus, const char *vendor, const char *model,
                              const char *serial, const char *path) {
        int r = json_add_string(o, "bus", media_bus_to_string(bus));
        r = r < 0 ? r : json_add_string(o, "vendor", vendor);
        r = r < 0 ? r : json_add_string(o, "model", model);
        r = r < 0 ? r : json_add_string(o, "serial", serial);
        r = r < 0 ? r : json_add_string(o, "path", path);
        return r;
}

static int media_to_json(const struct policy *p, const struct policy_media_entry *e, struct json_object **ret) {
        struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = add_approval(o, &e->approval);
        r = r < 0 ? r : media_keys_to_json(o, e->bus, e->vendor, e->model, e->serial, e->path);
        r = r < 0 ? r : json_add_string(o, "oemid", e->oemid);
        r = r < 0 ? r : json_add_string(o, "date", e->date);
        r = r < 0 ? r : json_add_string(o, "access", e->read_only ? "read-only" : "read-write");
        r = r < 0 ? r : add_scan(o, p, e->scan);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int fixed_to_json(const struct policy_fixed_disk *f, struct json_object **ret) {
        struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = media_keys_to_json(o, f->bus, f->vendor, f->model, f->serial, f->path);
        r = r < 0 ? r : json_add_string(o, "label", f->label);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int print_json(const struct policy *p) {
        struct json_object *root = json_object_new_object(), *defaults = NULL, *usb = NULL, *net = NULL,
                           *wireless = NULL;
        int r = 0;

        if (!root)
                return -ENOMEM;
        r = r < 0 ? r : json_add_string(root, "source", p->source);
        r = r < 0 ? r : json_add(root, "kyoka_policy", json_object_new_int(p->version));
        r = r < 0 ? r : json_add(root, "serial", json_object_new_uint64(p->serial));
        r = r < 0 ? r : add_date(root, "issued", p->issued_text, p->issued);
        r = r < 0 ? r : json_add_string(root, "issuer", p->issuer);
        r = r < 0 ? r : json_add_string(root, "contract", p->contract);
        r = r < 0 ? r : json_add_string(root, "contractor", p->contractor);
        r = r < 0 ? r : json_add_string(root, "responsible", p->responsible);
        r = r < 0 ? r : json_add_string(root, "workstation", p->workstation);
        r = r < 0 ? r : add_strv(root, "workstations", p->workstations, p->n_workstations);
        r = r < 0 ? r : add_date(root, "valid_until", p->valid_until_text, p->valid_until);

        defaults = json_object_new_object();
        if (json_add(root, "defaults", defaults) < 0)
                r = -ENOMEM;
        r = r < 0 ? r : json_add_string(defaults, "usb_hid", policy_action_to_string(p->default_usb_hid));
        r = r < 0 ? r : json_add_string(defaults, "usb_hub", policy_action_to_string(p->default_usb_hub));
        r = r < 0 ? r : json_add_string(defaults, "usb_other", policy_action_to_string(p->default_usb_other));
        r = r < 0 ? r : json_add_string(defaults, "network", policy_action_to_string(p->default_network));
        r = r < 0 ? r : json_add_string(defaults, "wireless", policy_action_to_string(p->default_wireless));
        r = r < 0 ? r : json_add_string(defaults, "media", policy_action_to_string(p->default_media));
        r = r < 0 ? r : json_add_string(defaults, "scan",
                                        policy_scan_to_string(policy_scan_effective(p, POLICY_SCAN_DEFAULT)));

        /* The bounds of every scan (the policy's `scan` group, its defaults when not given). */
        struct json_object *scan = json_object_new_object();
        if (json_add(root, "scan", scan) < 0)
                r = -ENOMEM;
        r = r < 0 ? r : json_add(scan, "max_seconds", json_object_new_int64(p->scan_limits.max_seconds));
        r = r < 0 ? r : json_add(scan, "max_megabytes", json_object_new_int64(p->scan_limits.max_megabytes));
        r = r < 0 ? r : json_add(scan, "max_database_days", json_object_new_int64(p->scan_limits.max_database_days));

        struct json_object *media = json_object_new_array(), *fixed = json_object_new_array();
        if (json_add(root, "media", media) < 0 || json_add(root, "fixed_disks", fixed) < 0)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < p->n_media; i++) {
                struct json_object *o;
                r = media_to_json(p, &p->media[i], &o);
                if (r >= 0 && json_object_array_add(media, o) < 0)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < p->n_fixed; i++) {
                struct json_object *o;
                r = fixed_to_json(&p->fixed[i], &o);
                if (r >= 0 && json_object_array_add(fixed, o) < 0)
                        r = -ENOMEM;
        }

        usb = json_object_new_array();
        net = json_object_new_array();
        if (json_add(root, "usb", usb) < 0)
                r = -ENOMEM;
        if (json_add(root, "network", net) < 0)
                r = -ENOMEM;
        wireless = json_object_new_array();
        if (json_add(root, "wireless", wireless) < 0)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < p->n_usb; i++) {
                struct json_object *o;
                r = usb_to_json(p, &p->usb[i], &o);
                if (r >= 0 && json_object_array_add(usb, o) < 0)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < p->n_net; i++) {
                struct json_object *o;
                r = net_to_json(&p->net[i], &o);
                if (r >= 0 && json_object_array_add(net, o) < 0)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < p->n_wireless; i++) {
                struct json_object *o;
                r = wireless_to_json(&p->wireless[i], &o);
                if (r >= 0 && json_object_array_add(wireless, o) < 0)
                        r = -ENOMEM;
        }

        if (r >= 0) {
                const char *s = json_object_to_json_string_ext(
                        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!s)
                        r = -ENOMEM;
                else
                        puts(s);
        }
        json_object_put(root);
        return r;
}

int verb_show(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_free_ char *text = NULL;
        struct policy_diag diag = {};
        bool json = false;
        size_t size;
        int c, r;

        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("show", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("show", _("expected one FILE"));
        const char *path = argv[optind];

        if (read_policy_text(path, &text, &size) < 0)
                return EXIT_REFUSED;
        r = policy_parse(text, size, path, &p, &diag);
        if (r < 0) {
                print_diag(&diag);
                policy_diag_done(&diag);
                log_error(_("%s: not a valid policy (see 'policyctl check')"), path);
                return EXIT_REFUSED;
        }
        policy_diag_done(&diag);

        if (json) {
                r = print_json(p);
                if (r < 0) {
                        log_error_errno(r, _("cannot format JSON: %m"));
                        return EXIT_REFUSED;
                }
        } else
                print_table(p);
        return EXIT_OK;
}
