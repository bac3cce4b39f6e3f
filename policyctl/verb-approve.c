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
 * device without a serial number, which any clone of its model would otherwise match. */
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
        printf("Usage: policyctl approve FILE --request REQ.json --permit REF --by NAME [OPTIONS]\n"
               "       policyctl approve FILE --vendor V --product P --serial S [--interfaces LIST]\n"
               "                              --permit REF --by NAME [OPTIONS]\n"
               "\n"
               "Add a permit to the policy FILE and raise its serial by one. FILE is replaced\n"
               "atomically, keeping its comments and layout. Sign it afterwards.\n"
               "\n"
               "The device:\n"
               "  --request REQ.json  a request from a workstation (USB device or network link);\n"
               "                      the entry approves the interfaces the device had\n"
               "  --vendor V          USB vendor ID, 4 hex digits\n"
               "  --product P         USB product ID, 4 hex digits\n"
               "  --serial S          USB serial number (\"\" for units without one)\n"
               "  --interfaces LIST   approved interfaces, e.g. 08:06:50,03:*:* (default with\n"
               "                      --request: the device's own; otherwise: any, with a warning)\n"
               "The approval:\n"
               "  --permit REF        the written permission's reference (unique in FILE)\n"
               "  --by NAME           who approved it\n"
               "  --from DATE         valid from (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM])\n"
               "  --until DATE        valid until; a date means through that day\n"
               "  --read-only         storage is attached read-only (USB)\n"
               "  --bind-port         the device must be plugged into the port the request names\n"
               "                      (its id_path; USB, with --request)\n"
               "  --hidraw-user       its raw HID nodes (/dev/hidraw*) are left to udev's rules,\n"
               "                      which give security keys to the user at the seat (USB)\n"
               "  --label S           what the device is (default: the request's manufacturer and\n"
               "                      product strings)\n"
               "  --purpose S         what it is for\n"
               "  --holder S          the worker it is issued to\n"
               "  -h --help           show this help\n");
}

struct approve_args {
        const char *request, *vendor, *product, *serial, *interfaces;
        const char *permit, *by, *from, *until, *label, *purpose, *holder;
        bool read_only, bind_port, hidraw_user;
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
                        return approve_usage("--%s is required", option);
                return 0;
        }
        if (required && !*value)
                return approve_usage("--%s must not be empty", option);
        if (!string_is_safe(value))
                return approve_usage("--%s must be UTF-8 text without control characters", option);
        if (strlen(value) > POLICY_STRING_MAX)
                return approve_usage("--%s is longer than %u bytes", option, POLICY_STRING_MAX);
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

        bool by_id = a->vendor || a->product || a->serial;
        if (a->request && by_id)
                return approve_usage("--request and --vendor/--product/--serial exclude each other");
        if (!a->request && !by_id)
                return approve_usage("give --request REQ.json, or --vendor, --product and --serial");
        if (by_id && !(a->vendor && a->product && a->serial))
                return approve_usage("--vendor, --product and --serial go together");
        if (a->bind_port && !a->request)
                return approve_usage("--bind-port needs --request: the port is the request's id_path");
        if (a->serial && (!string_is_safe(a->serial) || strlen(a->serial) >= USB_STRING_MAX))
                return approve_usage("--serial must be UTF-8 text without control characters, at most %d bytes",
                                     USB_STRING_MAX - 1);
        if (a->interfaces) {
                r = parse_pattern_list(a->interfaces, a->patterns, &a->n_patterns);
                if (r == -E2BIG)
                        return approve_usage("--interfaces: more than %d interfaces", USB_INTERFACES_MAX);
                if (r < 0)
                        return approve_usage("--interfaces: expected CC:SS:PP[,CC:SS:PP...] (hex; SS and PP may be *), "
                                             "got \"%s\"",
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
                return approve_usage("--from: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM], got \"%s\"", a->from);
        if (a->until) {
                if (time_parse_iso8601(a->until, &ap->valid_until, &date_only) < 0)
                        return approve_usage("--until: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM], got \"%s\"",
                                             a->until);
                if (date_only)
                        ap->valid_until = time_next_local_midnight(ap->valid_until);
                if (ap->valid_until <= now)
                        return approve_usage("--until %s is in the past: the permit would never apply", a->until);
        }
        if (ap->valid_from >= ap->valid_until)
                return approve_usage("--from %s is not before --until %s", a->from, a->until);
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
                return log_error_errno(r, "%s: larger than %u KiB, not a request", path, REQUEST_FILE_MAX >> 10);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read: %m", path);
        r = request_from_json(text, size, ret, &error);
        if (r < 0) {
                if (error)
                        log_error("%s: not a valid request: %s", path, error);
                else
                        log_error_errno(r, "%s: not a valid request: %m", path);
                return r;
        }
        return 0;
}

/* Writes the edited policy and tells the approver what it did and what is left to do. */
static int finish(const char *path, const char *permit, const char *out, bool rewritten, const char *device) {
        int r;

        r = replace_policy_file(path, out, rewritten);
        if (r < 0)
                return r;
        printf("%s: added permit ", path);
        fputs_safe(permit, stdout);
        fputs(" for ", stdout);
        fputs_safe(device, stdout);
        printf("; serial is now %" PRIu64 "\nSign it: policyctl sign --key KEY %s\n", policy_text_serial(out), path);
        return 0;
}

/* Says why policy_edit_add_*() refused with R, and returns R. */
static int report_edit_error(int r, const char *path, const char *permit) {
        if (r == -EEXIST)
                log_error("%s: permit \"%s\" exists already; revoke it first or use another reference", path, permit);
        else if (r == -EINVAL)
                log_error("%s: not a valid policy; fix it first (see 'policyctl check')", path);
        else if (r == -EBADMSG)
                log_error("%s: the new entry does not make a valid policy; nothing was written", path);
        else
                log_error_errno(r, "%s: cannot add permit \"%s\": %m", path, permit);
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
                log_error("%s: the link %s has no stable identity (no permanent MAC address, no bus path, no kind); "
                          "write its entry by hand (docs/policy.md)",
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

static int approve_usb(const char *path, const char *text, size_t size, const struct approve_args *a,
                       const struct usb_identity *id, struct policy_approval *ap) {
        _cleanup_free_ char *out = NULL, *label = NULL, *device = NULL;
        struct policy_interface_pattern patterns[USB_INTERFACES_MAX];
        struct policy_usb_entry e = { .approval = *ap, .read_only = a->read_only, .hidraw_user = a->hidraw_user };
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
                        log_error("%s: the request names no port (id_path, udev's ID_PATH): cannot --bind-port",
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
                        log_error("%s: the request lists no interfaces; give --interfaces", a->request);
                        return -ENODATA;
                }
                e.has_interfaces = true;
        } else
                log_error("warning: no --interfaces: the entry approves any interfaces the device presents "
                          "(a storage device that is also a keyboard would pass)");
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
                log_error("warning: the device reports no serial number: the entry approves every unit of %04x:%04x "
                          "without one, plugged into port %s",
                          id->vendor, id->product, e.path);
        else if (!id->has_serial)
                log_error("warning: the device reports no serial number: the entry approves every unit of %04x:%04x "
                          "without one (a clone needs only vendor:product)%s",
                          id->vendor, id->product,
                          a->request ? "; --bind-port binds it to the port in the request" : "");
        if (a->hidraw_user && e.has_interfaces) {
                bool hid = false;
                for (size_t i = 0; i < n; i++)
                        hid = hid || patterns[i].c.cls == USB_CLASS_HID;
                if (!hid)
                        log_error("warning: --hidraw-user has no effect: the entry approves no HID interface (03)");
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

int verb_approve(int argc, char *argv[]) {
        enum { ARG_REQUEST = 0x100, ARG_VENDOR, ARG_PRODUCT, ARG_SERIAL, ARG_INTERFACES, ARG_PERMIT, ARG_BY,
               ARG_FROM, ARG_UNTIL, ARG_READ_ONLY, ARG_BIND_PORT, ARG_HIDRAW_USER, ARG_LABEL, ARG_PURPOSE, ARG_HOLDER };
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
                { "label", required_argument, NULL, ARG_LABEL },
                { "purpose", required_argument, NULL, ARG_PURPOSE },
                { "holder", required_argument, NULL, ARG_HOLDER },
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
                case ARG_LABEL: a.label = optarg; break;
                case ARG_PURPOSE: a.purpose = optarg; break;
                case ARG_HOLDER: a.holder = optarg; break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("approve", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("approve", "expected one FILE");
        const char *path = argv[optind];

        if (check_args(&a) < 0)
                return EXIT_USAGE;

        struct policy_approval ap = {
                .permit = (char *) a.permit,
                .approved_by = (char *) a.by,
                .label = (char *) a.label,
                .purpose = (char *) a.purpose,
                .holder = (char *) a.holder,
        };
        if (parse_window(&a, &ap) < 0)
                return EXIT_USAGE;
        if (today(date) < 0 || time_parse_iso8601(date, &ap.approved_on, NULL) < 0) {
                log_error("cannot tell today's date");
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
                if (req->type == REQUEST_NETWORK) {
                        if (a.interfaces || a.read_only || a.bind_port || a.hidraw_user)
                                return usage_error("approve", "--interfaces, --read-only, --bind-port and --hidraw-user "
                                                              "are for USB devices, the request is for a network link");
                        return approve_net(path, text, size, &a, &req->net, &ap);
                }
                return approve_usb(path, text, size, &a, &req->usb, &ap);
        }

        if (hex_parse_u16(a.vendor, strlen(a.vendor), &usb.vendor) < 0)
                return usage_error("approve", "--vendor: expected 4 hex digits, got \"%s\"", a.vendor);
        if (hex_parse_u16(a.product, strlen(a.product), &usb.product) < 0)
                return usage_error("approve", "--product: expected 4 hex digits, got \"%s\"", a.product);
        usb.has_serial = *a.serial != 0;
        snprintf(usb.serial, sizeof usb.serial, "%s", a.serial);

        r = read_policy_text(path, &text, &size);
        if (r < 0)
                return r;
        return approve_usb(path, text, size, &a, &usb, &ap);
}
