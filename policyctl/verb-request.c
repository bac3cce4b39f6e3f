/* SPDX-License-Identifier: MIT */
/* policyctl request NAME: the request JSON (docs/request.md) for a present USB device or network
 * link, written by kyokad from the identity it decided on, for the approver's
 * `policyctl approve --request`. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "identity.h"
#include "kyoka-names.h"
#include "policyctl.h"

static void help(void) {
        printf("Usage: policyctl request [--usb | --network] NAME [--out FILE]\n"
               "\n"
               "Write the request for a present USB device or network link (usually a blocked\n"
               "one). A USB device is named by its bus path (\"1-2\", see 'policyctl list') or its\n"
               "serial, a network link by its name (\"enx00e04c680001\") or its ifindex. The file\n"
               "is what the city's approver turns into a permit with\n"
               "'policyctl approve --request FILE'.\n"
               "Needs root, group " KYOKA_GROUP_READ " or " KYOKA_GROUP_ADMIN ".\n"
               "Exit status: 0 written, 1 no such device or link, or kyokad unreachable;\n"
               "2 usage error.\n"
               "\n"
               "Options:\n"
               "  --usb       NAME is a USB device (when it could also name a link)\n"
               "  --network   NAME is a network link (when it could also name a USB device)\n"
               "  --out FILE  write the request to FILE (replaced atomically) instead of stdout\n"
               "  -h --help   show this help\n");
}

int verb_request(int argc, char *argv[]) {
        static const struct option options[] = {
                { "out", required_argument, NULL, 'o' },
                { "usb", no_argument, NULL, 'u' },
                { "network", no_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct json_object *reply = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        const char *out = NULL, *type = NULL;
        int c, r, ret = EXIT_REFUSED;

        while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 'u':
                case 'n':
                        if (type)
                                return usage_error("request", "--usb and --network exclude each other");
                        type = c == 'u' ? "usb" : "network";
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("request", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("request", "expected one DEVICE (a bus path such as 1-2, a serial, "
                                              "a network link's name or ifindex)");
        const char *device = argv[optind];
        if (strlen(device) == 0 || strlen(device) >= KYOKA_CONTROL_DEVICE_MAX)
                return usage_error("request", "DEVICE must be 1 to %d bytes", KYOKA_CONTROL_DEVICE_MAX - 1);

        r = control_call_type(KYOKA_CMD_REQUEST, device, type, &reply);
        if (r < 0)
                goto finish;
        r = request_file_text(reply, &text, &error);
        if (r == -ENOMEM) {
                ret = log_oom();
                goto finish;
        }
        if (r < 0) {
                log_error("%s", error);
                goto finish;
        }

        const char *verdict = json_get_string(reply, "verdict"),
                   *what = streq_ptr(json_get_string(reply, "type"), "network") ? "network link " : "";
        if (verdict && !streq(verdict, "block"))
                log_error("note: %s%s is not blocked (verdict %s); the request is written anyway", what,
                          json_get_string(reply, "device") ?: device, verdict);
        if (out) {
                r = write_file_atomic(out, text, strlen(text), 0644);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot write: %m", out);
                        goto finish;
                }
                fprintf(stderr, "policyctl: request for %s%s written to %s\n", what,
                        json_get_string(reply, "device") ?: device, out);
        } else
                fputs(text, stdout);
        ret = EXIT_OK;
finish:
        json_object_put(reply);
        return ret;
}
