/* SPDX-License-Identifier: MIT */
/* policyctl request NAME: the request JSON (docs/request.md) for a present USB device or network
 * link, or for a wireless network a link joined or saw, written by kyokad from what it decided
 * on, for the approver's `policyctl approve --request`. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "hexutil.h"
#include "identity.h"
#include "kyoka-names.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl request [--usb | --network | --media] NAME [--out FILE]\n"
               "       policyctl request --wireless IFNAME [--ssid TEXT | --ssid-hex HEX] [--out FILE]\n"
               "\n"
               "Write the request for a present USB device, medium or network link (usually a\n"
               "blocked one). A USB device is named by its bus path (\"1-2\", see 'policyctl list')\n"
               "or its serial, a medium on another bus by its kernel name (\"mmcblk0\", \"sr0\",\n"
               "\"nvme0n1\") or its serial, a network link by its name (\"enx00e04c680001\") or its\n"
               "ifindex. The file is what the city's approver turns into a permit with\n"
               "'policyctl approve --request FILE'.\n"
               "With --wireless the request is for a wireless network, seen by the link IFNAME:\n"
               "the one it is associated with, else the last it was cut off from, or with --ssid\n"
               "the access points of that name in its last scan ('iw dev IFNAME scan').\n"
               "Needs root, group %s or %s.\n"
               "Exit status: 0 written, 1 no such device or link, or kyokad unreachable;\n"
               "2 usage error.\n"
               "\n"
               "Options:\n"
               "  --usb       NAME is a USB device (when it could also name a link)\n"
               "  --network   NAME is a network link (when it could also name a USB device)\n"
               "  --wireless  the request is for a wireless network IFNAME joined or saw\n"
               "  --ssid TEXT     with --wireless: the network of the scan with this name\n"
               "  --ssid-hex HEX  ... a name that is not text, as hex\n"
               "  --media     NAME is a medium on another bus (an SD card, a drive, a disk)\n"
               "  --out FILE  write the request to FILE (replaced atomically) instead of stdout\n"
               "  -h --help   show this help\n"),
               KYOKA_GROUP_READ, KYOKA_GROUP_ADMIN);
}

int verb_request(int argc, char *argv[]) {
        static const struct option options[] = {
                { "out", required_argument, NULL, 'o' },
                { "usb", no_argument, NULL, 'u' },
                { "network", no_argument, NULL, 'n' },
                { "wireless", no_argument, NULL, 'w' },
                { "ssid", required_argument, NULL, 's' },
                { "ssid-hex", required_argument, NULL, 'x' },
                { "media", no_argument, NULL, 'm' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct json_object *reply = NULL, *req = NULL;
        _cleanup_free_ struct request *check = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        const char *out = NULL, *type = NULL, *ssid = NULL, *ssid_hex = NULL;
        char hex[WIRELESS_SSID_HEX_MAX];
        int c, r, ret = EXIT_REFUSED;

        while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 'u':
                case 'n':
                case 'w':
                case 'm':
                        if (type)
                                return usage_error("request", _("--usb, --network, --wireless and --media exclude each other"));
                        type = c == 'u' ? "usb" : c == 'n' ? "network" : c == 'w' ? "wireless" : "media";
                        break;
                case 's':
                        ssid = optarg;
                        break;
                case 'x':
                        ssid_hex = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("request", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("request", _("expected one DEVICE (a bus path such as 1-2, a serial, "
                                              "a disk's kernel name such as mmcblk0, a network link's name or ifindex)"));
        const char *device = argv[optind];
        if (strlen(device) == 0 || strlen(device) >= KYOKA_CONTROL_DEVICE_MAX)
                return usage_error("request", _("DEVICE must be 1 to %d bytes"), KYOKA_CONTROL_DEVICE_MAX - 1);
        bool wireless = streq_ptr(type, "wireless");
        if ((ssid || ssid_hex) && !wireless)
                return usage_error("request", _("--ssid and --ssid-hex go with --wireless"));
        if (ssid && ssid_hex)
                return usage_error("request", _("--ssid and --ssid-hex exclude each other"));
        if (ssid) {
                size_t n = strlen(ssid);
                if (n == 0 || n > WIRELESS_SSID_MAX)
                        return usage_error("request", _("--ssid: 1 to %d bytes (--ssid-hex for a name that is not text)"),
                                           WIRELESS_SSID_MAX);
                wireless_ssid_hex((const uint8_t *) ssid, n, hex);
                ssid_hex = hex;
        } else if (ssid_hex) {
                size_t n = strlen(ssid_hex);
                if (n == 0 || n % 2 || n > 2 * WIRELESS_SSID_MAX || hex_parse_bytes(ssid_hex, n, 0, HEX_ANY_CASE, NULL, n / 2) < 0)
                        return usage_error("request", _("--ssid-hex: expected 2 to %d hex digits"), 2 * WIRELESS_SSID_MAX);
        }

        r = control_call_wireless(KYOKA_CMD_REQUEST, device, type, ssid_hex, &reply);
        if (r < 0)
                goto finish;
        if (!json_object_object_get_ex(reply, "request", &req) || !json_object_is_type(req, json_type_object)) {
                log_error(_("kyokad's reply holds no request"));
                goto finish;
        }
        const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(&text, "%s\n", s) < 0) {
                ret = log_oom();
                goto finish;
        }

        /* The same parser as `approve --request`: never hand out a file it would refuse. */
        check = calloc(1, sizeof *check);
        if (!check) {
                ret = log_oom();
                goto finish;
        }
        if (request_from_json(text, strlen(text), check, &error) < 0) {
                log_error(_("kyokad's request does not parse: %s"), error ?: "invalid");
                goto finish;
        }

        const char *verdict = json_get_string(reply, "verdict"),
                   *what = streq_ptr(json_get_string(reply, "type"), "network") ? "network link " :
                           wireless ? "the wireless network of link " :
                           streq_ptr(json_get_string(reply, "type"), "media") ? "medium " : "";
        /* A network from a scan was never decided: nothing to note. */
        if (verdict && !streq(verdict, "block") && !(wireless && (ssid || ssid_hex)))
                log_error(_("note: %s%s is not blocked (verdict %s); the request is written anyway"), what,
                          json_get_string(reply, "device") ?: device, verdict);
        if (out) {
                r = write_file_atomic(out, text, strlen(text), 0644);
                if (r < 0) {
                        log_error_errno(r, _("%s: cannot write: %m"), out);
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
