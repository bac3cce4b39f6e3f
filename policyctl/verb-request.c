/* SPDX-License-Identifier: MIT */
/* policyctl request DEVICE: the request JSON (docs/request.md) for a present device, written by
 * kyokad from the identity it decided on, for the approver's `policyctl approve --request`. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "identity.h"
#include "policyctl.h"

static void help(void) {
        printf("Usage: policyctl request DEVICE [--out FILE]\n"
               "\n"
               "Write the request for a present USB device (usually a blocked one), named by\n"
               "its bus path (\"1-2\", see 'policyctl list') or its serial. The file is what the\n"
               "city's approver turns into a permit with 'policyctl approve --request FILE'.\n"
               "Needs root, group kyoka or kyoka-admin.\n"
               "Exit status: 0 written, 1 no such device or kyokad unreachable, 2 usage error.\n"
               "\n"
               "Options:\n"
               "  --out FILE  write the request to FILE (replaced atomically) instead of stdout\n"
               "  -h --help   show this help\n");
}

int verb_request(int argc, char *argv[]) {
        static const struct option options[] = {
                { "out", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct json_object *reply = NULL, *req = NULL;
        _cleanup_free_ struct request *check = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        const char *out = NULL;
        int c, r, ret = EXIT_REFUSED;

        while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("request", c, argv);
                }
        if (argc - optind != 1)
                return usage_error("request", "expected one DEVICE (a bus path such as 1-2, or a serial)");
        const char *device = argv[optind];
        if (strlen(device) == 0 || strlen(device) >= 256)
                return usage_error("request", "DEVICE must be 1 to 255 bytes");

        r = control_call("request", device, &reply);
        if (r < 0)
                goto finish;
        if (!json_object_object_get_ex(reply, "request", &req) || !json_object_is_type(req, json_type_object)) {
                log_error("kyokad's reply holds no request");
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
                log_error("kyokad's request does not parse: %s", error ?: "invalid");
                goto finish;
        }

        const char *verdict = json_get_string(reply, "verdict");
        if (verdict && !streq(verdict, "block"))
                log_error("note: %s is not blocked (verdict %s); the request is written anyway",
                          json_get_string(reply, "device") ?: device, verdict);
        if (out) {
                r = write_file_atomic(out, text, strlen(text), 0644);
                if (r < 0) {
                        log_error_errno(r, "%s: cannot write: %m", out);
                        goto finish;
                }
                fprintf(stderr, "policyctl: request for %s written to %s\n", json_get_string(reply, "device") ?: device,
                        out);
        } else
                fputs(text, stdout);
        ret = EXIT_OK;
finish:
        json_object_put(reply);
        return ret;
}
