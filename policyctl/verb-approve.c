/* SPDX-License-Identifier: MIT */
/* policyctl approve: turns a written permission into a policy entry. The device's identity
 * comes from a request (the JSON kyokad writes for a blocked device or link, docs/request.md)
 * or from the command line; the approval fields come from the approver. The entry is added as
 * text, keeping the file's comments, and the serial rises by one. Signing stays a separate,
 * deliberate step.
 *
 * By default a USB entry approves exactly the interfaces the device had when it was requested,
 * so that a "stick" which later presents a keyboard interface is not covered. --bind-port
 * also binds it to the port the request names (udev's ID_PATH): the narrowest permit for a
 * device without a serial number, which any clone of its model would otherwise match.
 *
 * A wireless network (--ssid/--ssid-hex, or a request of type "wireless") becomes a `wireless`
 * entry: by default limited to the access points the request saw, and accepting no less than
 * the security the network offered; an open network only with an explicit --security open. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "hexutil.h"
#include "identity.h"
#include "policy-edit.h"
#include "policyctl.h"
#include "timeutil.h"

static void help(void) {
        printf(_("Usage: policyctl approve FILE --request REQ.json --permit REF --by NAME [OPTIONS]\n"
               "       policyctl approve FILE --vendor V --product P --serial S [--interfaces LIST]\n"
               "                              --permit REF --by NAME [OPTIONS]\n"
               "       policyctl approve FILE --ssid TEXT | --ssid-hex HEX [--bssid MAC]... [--security S]\n"
               "                              --permit REF --by NAME [OPTIONS]\n"
               "\n"
               "Add a permit to the policy FILE and raise its serial by one. FILE is replaced\n"
               "atomically, keeping its comments and layout. Sign it afterwards.\n"
               "\n"
               "The device:\n"
               "  --request REQ.json  a request from a workstation (USB device, medium on another\n"
               "                      bus, network link or wireless network); a USB entry\n"
               "                      approves the interfaces the device had, a wireless entry\n"
               "                      the access points the network was seen with\n"
               "  --vendor V          USB vendor ID, 4 hex digits\n"
               "  --product P         USB product ID, 4 hex digits\n"
               "  --serial S          USB serial number (\"\" for units without one)\n"
               "  --interfaces LIST   approved interfaces, e.g. 08:06:50,03:*:* (default with\n"
               "                      --request: the device's own; otherwise: any, with a warning)\n"
               "The wireless network:\n"
               "  --ssid TEXT         its name (UTF-8 text, at most 32 bytes)\n"
               "  --ssid-hex HEX      its name as hex, for names that are not text\n"
               "  --bssid MAC         an access point it may be joined through (repeat it; default\n"
               "                      with --request: those the request saw; otherwise: any)\n"
               "  --any-bssid         any access point with that name (with --request)\n"
               "  --security S        the least accepted: open, wpa2-psk, wpa2-enterprise or\n"
               "                      wpa3-sae (default: what the request saw, else wpa2-psk; an open\n"
               "                      network needs --security open)\n"
               "The approval:\n"
               "  --permit REF        the written permission's reference (unique in FILE)\n"
               "  --by NAME           who approved it\n"
               "  --from DATE         valid from (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])\n"
               "  --until DATE        valid until; a date means through that day\n"
               "  --read-only         storage is attached read-only (USB, media); for an optical\n"
               "                      drive: discs may be read (carry-in) but not written\n"
               "  --bind-port         the device must be plugged into the port the request names\n"
               "                      (its id_path or path; USB and media, with --request; an\n"
               "                      optical drive's permit always names its drive)\n"
               "  --hidraw-user       its raw HID nodes (/dev/hidraw*) are left to udev's rules,\n"
               "                      which give security keys to the user at the seat (USB)\n"
               "  --scan              its storage must pass a virus scan each time it is connected\n"
               "                      before it is usable (scan = \"required\"; USB, media)\n"
               "  --scan-in-and-out   as --scan, and every file written to it is scanned when it is\n"
               "                      closed (scan = \"in-and-out\"; USB)\n"
               "  --label S           what the device is (default: the request's manufacturer and\n"
               "                      product strings)\n"
               "  --purpose S         what it is for\n"
               "  --holder S          the worker it is issued to\n"
               "  --workstation NAME  the entry applies on this workstation only (repeat it for\n"
               "                      several; each one of the policy's `workstation` list)\n"
               "  -h --help           show this help\n"));
}

#define APPROVE_WORKSTATIONS_MAX 256
#define USB_CLASS_MASS_STORAGE 0x08   /* what --scan is about on USB */

struct approve_args {
        const char *request, *vendor, *product, *serial, *interfaces;
        const char *permit, *by, *from, *until, *label, *purpose, *holder;
        const char *ssid, *ssid_hex, *security;
        bool read_only, bind_port, hidraw_user, any_bssid;
        enum policy_scan scan;        /* DEFAULT: no option */
        size_t n_bssids;
        uint8_t bssids[WIRELESS_BSSIDS_MAX][6];       /* parsed --bssid */
        char *workstations[APPROVE_WORKSTATIONS_MAX]; /* --workstation, as given */
        size_t n_workstations;
        struct policy_interface_pattern patterns[USB_INTERFACES_MAX]; /* parsed --interfaces */
        size_t n_patterns;
};

/* Adds P to the list unless it is there already (a device often repeats a class triple). */
static void patterns_add(struct policy_interface_pattern *list, size_t *n, const struct policy_interface_pattern *p) {
        for (size_t i = 0; i < *n; i++)
                if (policy_interface_pattern_equal(&list[i], p))
                        return;
        list[(*n)++] = *p;
}

/* "08:06:50,03:*:*" (blanks around commas allowed). */
static int parse_pattern_list(const char *s, struct policy_interface_pattern list[static USB_INTERFACES_MAX],
                              size_t *ret_n) {
        size_t n = 0;

        for (const char *p = s;;) {
                p += strspn(p, " ");
                size_t len = strcspn(p, ",");
                size_t trimmed = len;
                while (trimmed > 0 && p[trimmed - 1] == ' ')
                        trimmed--;
                struct policy_interface_pattern pat;
                if (trimmed == 0 || policy_interface_pattern_parse(p, trimmed, &pat) < 0)
                        return -EINVAL;
                if (n >= USB_INTERFACES_MAX)
                        return -E2BIG;
                patterns_add(list, &n, &pat);
                if (p[len] == 0)
                        break;
                p += len + 1;
        }
        *ret_n = n;
        return 0;
}

/* The command line's checks below say what is wrong with usage_error() and return -EINVAL:
 * verb_approve() then exits EXIT_USAGE. */
#define approve_usage(...) (usage_error("approve", __VA_ARGS__), -EINVAL)

/* A text option: valid UTF-8 without control characters, within the policy's bound. */
static int check_text(const char *option, const char *value, bool required) {
        if (!value) {
                if (required)
                        return approve_usage(_("--%s is required"), option);
                return 0;
        }
        if (required && !*value)
                return approve_usage(_("--%s must not be empty"), option);
        if (!string_is_safe(value))
                return approve_usage(_("--%s must be UTF-8 text without control characters"), option);
        if (strlen(value) > POLICY_STRING_MAX)
                return approve_usage(_("--%s is longer than %u bytes"), option, POLICY_STRING_MAX);
        return 0;
}

static int check_args(struct approve_args *a) {
        static const char *const names[] = { "permit", "by", "label", "purpose", "holder" };
        const char *const values[] = { a->permit, a->by, a->label, a->purpose, a->holder };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                r = check_text(names[i], values[i], i < 2);
                if (r < 0)
                        return r;
        }

        bool by_id = a->vendor || a->product || a->serial, by_ssid = a->ssid || a->ssid_hex;
        bool wireless_opts = by_ssid || a->n_bssids > 0 || a->any_bssid || a->security;
        if (a->ssid && a->ssid_hex)
                return approve_usage(_("--ssid and --ssid-hex exclude each other"));
        if (a->request && (by_id || by_ssid))
                return approve_usage(_("--request and --vendor/--product/--serial or --ssid/--ssid-hex exclude each other"));
        if (by_id && wireless_opts)
                return approve_usage(_("--vendor/--product/--serial (USB) and the wireless options exclude each other"));
        if (!a->request && !by_id && !by_ssid)
                return approve_usage(_("give --request REQ.json, --vendor, --product and --serial, or --ssid/--ssid-hex"));
        if (!a->request && !by_ssid && wireless_opts)
                return approve_usage(_("--bssid, --any-bssid and --security need --ssid, --ssid-hex or a wireless --request"));
        if (a->any_bssid && a->n_bssids > 0)
                return approve_usage(_("--bssid and --any-bssid exclude each other"));
        if (a->any_bssid && !a->request)
                return approve_usage(_("--any-bssid is for --request (without --bssid an entry approves any access point)"));
        if (wireless_opts && (a->interfaces || a->read_only || a->bind_port || a->hidraw_user))
                return approve_usage(_("--interfaces, --read-only, --bind-port and --hidraw-user are for USB devices"));
        if (wireless_opts && a->scan)
                return approve_usage(_("--scan is for storage (USB devices and media), not for wireless networks"));
        enum wireless_security level;
        if (a->security && wireless_security_from_policy_name(a->security, &level) < 0)
                return approve_usage(_("--security: expected open, wpa2-psk, wpa2-enterprise or wpa3-sae, got \"%s\""),
                                     a->security);
        if (by_id && !(a->vendor && a->product && a->serial))
                return approve_usage(_("--vendor, --product and --serial go together"));
        if (a->bind_port && !a->request)
                return approve_usage(_("--bind-port needs --request: the port is the request's id_path"));
        if (a->serial && (!string_is_safe(a->serial) || strlen(a->serial) >= USB_STRING_MAX))
                return approve_usage(_("--serial must be UTF-8 text without control characters, at most %d bytes"),
                                     USB_STRING_MAX - 1);
        if (a->interfaces) {
                r = parse_pattern_list(a->interfaces, a->patterns, &a->n_patterns);
                if (r == -E2BIG)
                        return approve_usage(_("--interfaces: more than %d interfaces"), USB_INTERFACES_MAX);
                if (r < 0)
                        return approve_usage(_("--interfaces: expected CC:SS:PP[,CC:SS:PP...] (hex; SS and PP may be *), "
                                             "got \"%s\""),
                                             a->interfaces);
        }
        return 0;
}

/* --from / --until. An end given as a date means through that day, as in the policy. */
static int parse_window(const struct approve_args *a, struct policy_approval *ap) {
        int64_t now = (int64_t) time(NULL);
        bool date_only;

        ap->valid_from = TIME_NEG_INFINITY;
        ap->valid_until = TIME_INFINITY;
        if (a->from && time_parse_iso8601(a->from, &ap->valid_from, NULL) < 0)
                return approve_usage(_("--from: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM], got \"%s\""), a->from);
        if (a->until) {
                if (time_parse_iso8601(a->until, &ap->valid_until, &date_only) < 0)
                        return approve_usage(_("--until: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM], got \"%s\""),
                                             a->until);
                if (date_only)
                        ap->valid_until = time_next_local_midnight(ap->valid_until);
                if (ap->valid_until <= now)
                        return approve_usage(_("--until %s is in the past: the permit would never apply"), a->until);
        }
        if (ap->valid_from >= ap->valid_until)
                return approve_usage(_("--from %s is not before --until %s"), a->from, a->until);
        ap->valid_from_text = (char *) a->from;
        ap->valid_until_text = (char *) a->until;
        return 0;
}

/* "SanDisk Ultra": what the device calls itself, when the approver gave no label. */
static char *label_from_names(const char *manufacturer, const char *product) {
        char *s;
        const char *sep = *manufacturer && *product ? " " : "";

        if (asprintf(&s, "%s%s%s", manufacturer, sep, product) < 0)
                return NULL;
        return s;
}

static int read_request(const char *path, struct request *ret) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        size_t size;
        int r;

        r = read_file_bounded(path, REQUEST_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return log_error_errno(r, _("%s: larger than %u KiB, not a request"), path, REQUEST_FILE_MAX >> 10);
        if (r < 0)
                return log_error_errno(r, _("%s: cannot read: %m"), path);
        r = request_from_json(text, size, ret, &error);
        if (r < 0) {
                if (error)
                        log_error(_("%s: not a valid request: %s"), path, error);
                else
                        log_error_errno(r, _("%s: not a valid request: %m"), path);
                return r;
        }
        return 0;
}

/* Writes the edited policy and tells the approver what it did and what is left to do. */
static int finish(const char *path, const char *permit, const char *out, bool rewritten, const char *device) {
        size_t len = strlen(out);     /* once: a policy may be 40 MB */
        int r;

        r = replace_policy_file(path, out, len, rewritten);
        if (r < 0)
                return r;
        printf("%s: added permit ", path);
        fputs_safe(permit, stdout);
        fputs(" for ", stdout);
        fputs_safe(device, stdout);
        printf("; serial is now %" PRIu64 "\nSign it: policyctl sign --key KEY %s\n", policy_text_serial(out, len), path);
        return 0;
}

/* Says why policy_edit_add_*() refused with R, and returns R. */
static int report_edit_error(int r, const char *path, const char *permit) {
        if (r == -EEXIST)
                log_error(_("%s: permit \"%s\" exists already; revoke it first or use another reference"), path, permit);
        else if (r == -EINVAL)
                log_error(_("%s: not a valid policy; fix it first (see 'policyctl check')"), path);
        else if (r == -EBADMSG)
                log_error(_("%s: the new entry does not make a valid policy; nothing was written"), path);
        else
                log_error_errno(r, _("%s: cannot add permit \"%s\": %m"), path, permit);
        return r;
}

static int approve_net(const char *path, const char *text, size_t size, const struct approve_args *a,
                       const struct net_identity *id, struct policy_approval *ap) {
        _cleanup_free_ char *out = NULL, *label = NULL, *device = NULL;
        struct policy_diag diag = {};
        struct policy_net_entry e = { .approval = *ap };
        bool rewritten = false;
        char mac[18] = "";
        int r;

        /* Only stable identities: a current MAC can be changed by anyone with CAP_NET_ADMIN, and a
         * name by a udev rule. */
        e.has_mac = id->has_mac && id->mac_is_permanent;
        if (e.has_mac) {
                memcpy(e.mac, id->mac, 6);
                mac_format(e.mac, mac);
        }
        e.path = *id->path ? (char *) id->path : NULL;
        e.kind = *id->kind ? (char *) id->kind : NULL;
        /* A kind alone would approve every veth or tun on the machine: a virtual link is named
         * too (docs/request.md). */
        if (e.kind && !e.has_mac && !e.path && *id->name)
                e.name = (char *) id->name;
        if (!e.has_mac && !e.path && !e.kind) {
                log_error(_("%s: the link %s has no stable identity (no permanent MAC address, no bus path, no kind); "
                          "write its entry by hand (docs/policy.md)"),
                          a->request, id->name);
                return -ENODATA;
        }

        if (!a->label) {
                if (asprintf(&label, "%s%s%s%s", id->name, *id->driver ? " (" : "", id->driver, *id->driver ? ")" : "") < 0)
                        return log_oom();
                e.approval.label = label;
        }
        if (asprintf(&device, "network%s%s%s%s%s%s%s%s", e.has_mac ? " mac " : "", mac, e.path ? " path " : "",
                     e.path ?: "", e.kind ? " kind " : "", e.kind ?: "", e.name ? " name " : "", e.name ?: "") < 0)
                return log_oom();

        r = policy_edit_add_net(text, size, path, &e, &out, &rewritten, &diag);
        print_diag(&diag);
        policy_diag_done(&diag);
        if (r < 0)
                return report_edit_error(r, path, a->permit);
        return finish(path, a->permit, out, rewritten, device);
}

/* A wireless entry from the command line (REQ NULL) or a request. */
static int approve_wireless(const char *path, const char *text, size_t size, const struct approve_args *a,
                            const struct wireless_request *req, struct policy_approval *ap) {
        _cleanup_free_ char *out = NULL, *label = NULL, *device = NULL;
        struct policy_wireless_entry e = { .approval = *ap, .security = WIRELESS_SECURITY_WPA2_PSK };
        char shown[WIRELESS_SSID_TEXT_MAX];
        struct policy_diag diag = {};
        bool rewritten = false;
        int r;

        if (req) {
                memcpy(e.ssid, req->ssid, req->ssid_len);
                e.ssid_len = req->ssid_len;
                e.ssid_is_hex = !wireless_ssid_is_printable(e.ssid, e.ssid_len);
        } else if (a->ssid) {
                size_t n = strlen(a->ssid);
                if (n == 0 || n > WIRELESS_SSID_MAX || !string_is_safe(a->ssid))
                        return usage_error("approve", "--ssid: 1 to %d bytes of UTF-8 text without control characters "
                                                      "(--ssid-hex for other names)", WIRELESS_SSID_MAX);
                memcpy(e.ssid, a->ssid, n);
                e.ssid_len = n;
        } else {
                size_t n = strlen(a->ssid_hex);
                if (n == 0 || n % 2 || n > 2 * WIRELESS_SSID_MAX ||
                    hex_parse_bytes(a->ssid_hex, n, 0, HEX_ANY_CASE, e.ssid, n / 2) < 0)
                        return usage_error("approve", "--ssid-hex: expected 2 to %d hex digits, got \"%s\"",
                                           2 * WIRELESS_SSID_MAX, a->ssid_hex);
                e.ssid_len = n / 2;
                e.ssid_is_hex = true;
        }

        /* The access points: given, else the request's (the narrowest), else any. */
        if (a->n_bssids > 0) {
                e.n_bssids = a->n_bssids;
                e.bssids = (uint8_t (*)[6]) a->bssids;
        } else if (req && !a->any_bssid && req->n_bssids > 0) {
                e.n_bssids = req->n_bssids;
                e.bssids = (uint8_t (*)[6]) req->bssids;
        }

        /* The least security: given, else what the network offered. Below WPA2 is open, which
         * nobody approves by accident. */
        if (a->security)
                (void) wireless_security_from_policy_name(a->security, &e.security);
        else if (req) {
                if (wireless_security_level(req->security) == 0) {
                        log_error("%s: the network offers %s, which is as good as open: anyone nearby can run one with "
                                  "this name; approve it with --security open (and --bssid) if that is meant",
                                  a->request, wireless_security_to_string(req->security));
                        return -EPERM;
                }
                e.security = req->security;
        }
        if (req && wireless_security_level(req->security) < wireless_security_level(e.security))
                log_error("warning: the network offers %s, less than --security %s: the entry does not approve it as seen",
                          wireless_security_to_string(req->security), wireless_security_to_string(e.security));
        if (e.security == WIRELESS_SECURITY_OPEN && e.n_bssids == 0)
                log_error("warning: an open network without --bssid: any access point calling itself this is approved");

        wireless_ssid_text(e.ssid, e.ssid_len, shown);
        if (!a->label) {
                if (asprintf(&label, "Wi-Fi %s", shown) < 0)
                        return log_oom();
                e.approval.label = label;
        }
        if (asprintf(&device, "wireless network \"%s\"%s (%s or better)", shown,
                     e.n_bssids ? " at its listed access points" : "", wireless_security_to_string(e.security)) < 0)
                return log_oom();

        r = policy_edit_add_wireless(text, size, path, &e, &out, &rewritten, &diag);
        print_diag(&diag);
        policy_diag_done(&diag);
        if (r < 0)
                return report_edit_error(r, path, a->permit);
        return finish(path, a->permit, out, rewritten, device);
}

static int approve_usb(const char *path, const char *text, size_t size, const struct approve_args *a,
                       const struct usb_identity *id, struct policy_approval *ap) {
        _cleanup_free_ char *out = NULL, *label = NULL, *device = NULL;
        struct policy_interface_pattern patterns[USB_INTERFACES_MAX];
        struct policy_usb_entry e = { .approval = *ap, .read_only = a->read_only, .hidraw_user = a->hidraw_user,
                                      .scan = a->scan };
        struct policy_diag diag = {};
        bool rewritten = false;
        size_t n = 0;
        int r;

        e.vendor = id->vendor;
        e.product = id->product;
        e.serial = id->has_serial ? (char *) id->serial : (char *) "";
        if (a->bind_port) {
                size_t n_path = strnlen(id->id_path, sizeof id->id_path);
                if (n_path == 0 || n_path >= sizeof id->id_path) {
                        log_error(_("%s: the request names no port (id_path, udev's ID_PATH): cannot --bind-port"),
                                  a->request);
                        return -ENODATA;
                }
                e.path = (char *) id->id_path;
        }

        if (a->interfaces) {
                memcpy(patterns, a->patterns, a->n_patterns * sizeof patterns[0]);
                n = a->n_patterns;
                e.has_interfaces = true;
        } else if (a->request) {
                for (size_t i = 0; i < id->n_interfaces && i < USB_INTERFACES_MAX; i++)
                        patterns_add(patterns, &n, &(struct policy_interface_pattern) { .c = id->interfaces[i] });
                if (n == 0) {
                        log_error(_("%s: the request lists no interfaces; give --interfaces"), a->request);
                        return -ENODATA;
                }
                e.has_interfaces = true;
        } else
                log_error(_("warning: no --interfaces: the entry approves any interfaces the device presents "
                          "(a storage device that is also a keyboard would pass)"));
        e.n_interfaces = n;
        e.interfaces = patterns;

        if (!a->label && a->request) {
                label = label_from_names(id->manufacturer, id->product_name);
                if (!label)
                        return log_oom();
                /* The request's strings are sanitised, but a hand-made request is still input. */
                if (*label && string_is_safe(label))
                        e.approval.label = label;
        }
        if (!id->has_serial && e.path)
                log_error(_("warning: the device reports no serial number: the entry approves every unit of %04x:%04x "
                          "without one, plugged into port %s"),
                          id->vendor, id->product, e.path);
        else if (!id->has_serial)
                log_error(_("warning: the device reports no serial number: the entry approves every unit of %04x:%04x "
                          "without one (a clone needs only vendor:product)%s"),
                          id->vendor, id->product,
                          a->request ? "; --bind-port binds it to the port in the request" : "");
        if (a->hidraw_user && e.has_interfaces) {
                bool hid = false;
                for (size_t i = 0; i < n; i++)
                        hid = hid || patterns[i].c.cls == USB_CLASS_HID;
                if (!hid)
                        log_error(_("warning: --hidraw-user has no effect: the entry approves no HID interface (03)"));
        }
        if (a->scan && e.has_interfaces) {
                bool storage = false;
                for (size_t i = 0; i < n; i++)
                        storage = storage || patterns[i].c.cls == USB_CLASS_MASS_STORAGE;
                if (!storage)
                        log_error(_("warning: --scan has no effect: the entry approves no mass storage interface (08)"));
        }

        if (asprintf(&device, "usb %04x:%04x serial %s%s%s", id->vendor, id->product,
                     id->has_serial ? id->serial : "(none)", e.path ? " on port " : "", e.path ?: "") < 0)
                return log_oom();

        r = policy_edit_add_usb(text, size, path, &e, &out, &rewritten, &diag);
        print_diag(&diag);
        policy_diag_done(&diag);
        if (r < 0)
                return report_edit_error(r, path, a->permit);
        return finish(path, a->permit, out, rewritten, device);
}

/* A medium on another bus: its identity from the request, every key it has. A drive's permit
 * names the drive (its path): its discs have no identity of their own. */
static int approve_media(const char *path, const char *text, size_t size, const struct approve_args *a,
                         const struct media_identity *id, struct policy_approval *ap) {
        _cleanup_free_ char *out = NULL, *label = NULL, *device = NULL;
        struct policy_media_entry e = { .approval = *ap, .bus = id->bus, .read_only = a->read_only,
                                        .scan = a->scan };
        struct policy_diag diag = {};
        bool rewritten = false;
        int r;

        e.vendor = id->vendor[0] ? (char *) id->vendor : NULL;
        e.model = id->model[0] ? (char *) id->model : NULL;
        e.serial = id->serial[0] ? (char *) id->serial : NULL;
        if (id->bus == MEDIA_BUS_MMC) {
                e.oemid = id->oemid[0] ? (char *) id->oemid : NULL;
                e.date = id->date[0] ? (char *) id->date : NULL;
        }
        if (a->bind_port || id->bus == MEDIA_BUS_OPTICAL || !e.serial) {
                if (!id->path[0]) {
                        log_error("%s: the request names no port (path): %s", a->request,
                                  e.serial ? "cannot --bind-port" : "the medium has no serial either; write its entry by hand");
                        return -ENODATA;
                }
                e.path = (char *) id->path;
        }
        if (!a->label) {
                label = label_from_names(id->vendor, id->model);
                if (!label)
                        return log_oom();
                if (*label && string_is_safe(label))
                        e.approval.label = label;
        }
        if (id->bus == MEDIA_BUS_OPTICAL)
                log_error("note: the permit is for the optical drive at %s: every disc put into it may be %s", id->path,
                          a->read_only ? "read (carry-in), not written" : "read and written (carry-in and carry-out)");
        else if (!e.serial)
                log_error("warning: the medium reports no serial number: the entry approves every %s medium of that model "
                          "in the slot %s", media_bus_to_string(id->bus), id->path);

        if (asprintf(&device, "media %s %s serial %s%s%s", media_bus_to_string(id->bus), id->model[0] ? id->model : id->name,
                     e.serial ?: "(none)", e.path ? " at " : "", e.path ?: "") < 0)
                return log_oom();

        r = policy_edit_add_media(text, size, path, &e, &out, &rewritten, &diag);
        print_diag(&diag);
        policy_diag_done(&diag);
        if (r < 0)
                return report_edit_error(r, path, a->permit);
        return finish(path, a->permit, out, rewritten, device);
}

int verb_approve(int argc, char *argv[]) {
        enum { ARG_REQUEST = 0x100, ARG_VENDOR, ARG_PRODUCT, ARG_SERIAL, ARG_INTERFACES, ARG_PERMIT, ARG_BY,
               ARG_FROM, ARG_UNTIL, ARG_READ_ONLY, ARG_BIND_PORT, ARG_HIDRAW_USER, ARG_LABEL, ARG_PURPOSE, ARG_HOLDER,
               ARG_SSID, ARG_SSID_HEX, ARG_BSSID, ARG_ANY_BSSID, ARG_SECURITY, ARG_WORKSTATION, ARG_SCAN, ARG_SCAN_IN_AND_OUT };
        static const struct option options[] = {
                { "request", required_argument, NULL, ARG_REQUEST },
                { "vendor", required_argument, NULL, ARG_VENDOR },
                { "product", required_argument, NULL, ARG_PRODUCT },
                { "serial", required_argument, NULL, ARG_SERIAL },
                { "interfaces", required_argument, NULL, ARG_INTERFACES },
                { "permit", required_argument, NULL, ARG_PERMIT },
                { "by", required_argument, NULL, ARG_BY },
                { "from", required_argument, NULL, ARG_FROM },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "read-only", no_argument, NULL, ARG_READ_ONLY },
                { "bind-port", no_argument, NULL, ARG_BIND_PORT },
                { "hidraw-user", no_argument, NULL, ARG_HIDRAW_USER },
                { "scan", no_argument, NULL, ARG_SCAN },
                { "scan-in-and-out", no_argument, NULL, ARG_SCAN_IN_AND_OUT },
                { "label", required_argument, NULL, ARG_LABEL },
                { "purpose", required_argument, NULL, ARG_PURPOSE },
                { "holder", required_argument, NULL, ARG_HOLDER },
                { "ssid", required_argument, NULL, ARG_SSID },
                { "ssid-hex", required_argument, NULL, ARG_SSID_HEX },
                { "bssid", required_argument, NULL, ARG_BSSID },
                { "any-bssid", no_argument, NULL, ARG_ANY_BSSID },
                { "security", required_argument, NULL, ARG_SECURITY },
                { "workstation", required_argument, NULL, ARG_WORKSTATION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *text = NULL;
        struct approve_args a = {};
        char date[16];
        size_t size;
        int c, r;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case ARG_REQUEST: a.request = optarg; break;
                case ARG_VENDOR: a.vendor = optarg; break;
                case ARG_PRODUCT: a.product = optarg; break;
                case ARG_SERIAL: a.serial = optarg; break;
                case ARG_INTERFACES: a.interfaces = optarg; break;
                case ARG_PERMIT: a.permit = optarg; break;
                case ARG_BY: a.by = optarg; break;
                case ARG_FROM: a.from = optarg; break;
                case ARG_UNTIL: a.until = optarg; break;
                case ARG_READ_ONLY: a.read_only = true; break;
                case ARG_BIND_PORT: a.bind_port = true; break;
                case ARG_HIDRAW_USER: a.hidraw_user = true; break;
                case ARG_SCAN: a.scan = MAX(a.scan, POLICY_SCAN_REQUIRED); break;
                case ARG_SCAN_IN_AND_OUT: a.scan = POLICY_SCAN_IN_AND_OUT; break;
                case ARG_LABEL: a.label = optarg; break;
                case ARG_PURPOSE: a.purpose = optarg; break;
                case ARG_HOLDER: a.holder = optarg; break;
                case ARG_SSID: a.ssid = optarg; break;
                case ARG_SSID_HEX: a.ssid_hex = optarg; break;
                case ARG_SECURITY: a.security = optarg; break;
                case ARG_ANY_BSSID: a.any_bssid = true; break;
                case ARG_WORKSTATION:
                        /* Checked where every policy name is: the edited file is parsed again. */
                        if (a.n_workstations >= APPROVE_WORKSTATIONS_MAX)
                                return usage_error("approve", _("more than %d --workstation"), APPROVE_WORKSTATIONS_MAX);
                        a.workstations[a.n_workstations++] = optarg;
                        break;
                case ARG_BSSID:
                        if (a.n_bssids >= WIRELESS_BSSIDS_MAX)
                                return usage_error("approve", "more than %d --bssid", WIRELESS_BSSIDS_MAX);
                        if (mac_parse(optarg, strlen(optarg), HEX_ANY_CASE, a.bssids[a.n_bssids]) < 0)
                                return usage_error("approve", "--bssid: expected aa:bb:cc:dd:ee:ff, got \"%s\"", optarg);
                        a.n_bssids++;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("approve", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("approve", _("expected one FILE"));
        const char *path = argv[optind];

        if (check_args(&a) < 0)
                return EXIT_USAGE;

        struct policy_approval ap = {
                .permit = (char *) a.permit,
                .approved_by = (char *) a.by,
                .label = (char *) a.label,
                .purpose = (char *) a.purpose,
                .holder = (char *) a.holder,
                .workstations = a.n_workstations ? a.workstations : NULL,
                .n_workstations = a.n_workstations,
        };
        if (parse_window(&a, &ap) < 0)
                return EXIT_USAGE;
        if (today(date) < 0 || time_parse_iso8601(date, &ap.approved_on, NULL) < 0) {
                log_error(_("cannot tell today's date"));
                return EXIT_REFUSED;
        }
        ap.approved_on_text = date;

        struct usb_identity usb = {};
        if (a.request) {
                /* Large (two identities with fixed buffers): on the heap, not the stack. */
                _cleanup_free_ struct request *req = calloc(1, sizeof *req);
                if (!req)
                        return log_oom();
                r = read_request(a.request, req);
                if (r < 0)
                        return r;
                r = read_policy_text(path, &text, &size);
                if (r < 0)
                        return r;
                if (req->type == REQUEST_WIRELESS && a.scan)
                        return usage_error("approve", _("--scan is for storage (USB devices and media), not for wireless networks"));
                if (req->type == REQUEST_WIRELESS)
                        return approve_wireless(path, text, size, &a, &req->wireless, &ap);
                if (a.n_bssids > 0 || a.any_bssid || a.security)
                        return usage_error("approve", "--bssid, --any-bssid and --security are for wireless networks, the "
                                                      "request is for a %s", req->type == REQUEST_USB ? "USB device" :
                                                      req->type == REQUEST_MEDIA ? "medium" : "network link");
                if (req->type == REQUEST_MEDIA) {
                        if (a.scan == POLICY_SCAN_IN_AND_OUT)
                                return usage_error("approve", _("--scan-in-and-out is for USB storage: kyoka does not see "
                                                              "files written to media on other buses (use --scan)"));
                        if (a.interfaces || a.hidraw_user)
                                return usage_error("approve", "--interfaces and --hidraw-user are for USB devices, the "
                                                              "request is for a medium");
                        return approve_media(path, text, size, &a, &req->media, &ap);
                }
                if (req->type == REQUEST_NETWORK) {
                        if (a.interfaces || a.read_only || a.bind_port || a.hidraw_user)
                                return usage_error("approve", _("--interfaces, --read-only, --bind-port and --hidraw-user "
                                                              "are for USB devices, the request is for a network link"));
                        if (a.scan)
                                return usage_error("approve", _("--scan is for storage (USB devices and media), the "
                                                              "request is for a network link"));
                        return approve_net(path, text, size, &a, &req->net, &ap);
                }
                return approve_usb(path, text, size, &a, &req->usb, &ap);
        }
        if (a.ssid || a.ssid_hex) {
                r = read_policy_text(path, &text, &size);
                if (r < 0)
                        return r;
                return approve_wireless(path, text, size, &a, NULL, &ap);
        }

        if (hex_parse_u16(a.vendor, strlen(a.vendor), &usb.vendor) < 0)
                return usage_error("approve", _("--vendor: expected 4 hex digits, got \"%s\""), a.vendor);
        if (hex_parse_u16(a.product, strlen(a.product), &usb.product) < 0)
                return usage_error("approve", _("--product: expected 4 hex digits, got \"%s\""), a.product);
        usb.has_serial = *a.serial != 0;
        snprintf(usb.serial, sizeof usb.serial, "%s", a.serial);

        r = read_policy_text(path, &text, &size);
        if (r < 0)
                return r;
        return approve_usb(path, text, size, &a, &usb, &ap);
}
