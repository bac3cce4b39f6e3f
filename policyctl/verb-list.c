/* SPDX-License-Identifier: MIT */
/* policyctl list: the USB devices present now, with their identity and what kyokad decided
 * (verdict, reason, permit). --blocked is the admin's "what needs a request?". */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "policyctl.h"

static void help(void) {
        printf("Usage: policyctl list [--blocked] [--json]\n"
               "\n"
               "List the present USB devices: bus path, vendor:product, manufacturer and product\n"
               "strings, serial, interfaces, the verdict kyokad enforces and why.\n"
               "Needs root, group kyoka or kyoka-admin.\n"
               "Exit status: 0 listed, 1 kyokad unreachable or refused, 2 usage error.\n"
               "\n"
               "Options:\n"
               "  --blocked   only the devices that are blocked\n"
               "  --json      print the devices as a JSON array\n"
               "  -h --help   show this help\n");
}

static void print_device(struct json_object *d) {
        struct json_object *ifs = NULL;
        const char *verdict = json_get_string(d, "verdict") ?: "?", *permit = json_get_string(d, "permit");

        printf("%-9s ", verdict);
        print_device_name(d, stdout);
        putchar('\n');
        fputs("          interfaces ", stdout);
        if (json_object_object_get_ex(d, "interfaces", &ifs) && json_object_array_length(ifs) > 0)
                for (size_t i = 0; i < json_object_array_length(ifs); i++)
                        printf("%s%.8s", i ? "," : "", json_object_get_string(json_object_array_get_idx(ifs, i)));
        else
                fputs("none", stdout);
        fputs("; ", stdout);
        fputs_safe(json_get_string(d, "reason") ?: "", stdout);
        if (permit && !strstr(json_get_string(d, "reason") ?: "", permit)) {
                fputs(" (permit ", stdout);
                fputs_safe(permit, stdout);
                putchar(')');
        }
        putchar('\n');
}

int verb_list(int argc, char *argv[]) {
        static const struct option options[] = {
                { "blocked", no_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct json_object *reply = NULL, *devices = NULL, *shown;
        bool json = false, blocked = false;
        int c, r;

        while ((c = getopt_long(argc, argv, ":hbj", options, NULL)) >= 0)
                switch (c) {
                case 'b':
                        blocked = true;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("list", c, argv);
                }
        if (optind != argc)
                return usage_error("list", "unexpected argument '%s'", argv[optind]);

        r = control_call("list", NULL, &reply);
        if (r < 0 || !json_object_object_get_ex(reply, "devices", &devices) ||
            !json_object_is_type(devices, json_type_array)) {
                if (r >= 0)
                        log_error("kyokad's reply has no device list");
                json_object_put(reply);
                return EXIT_REFUSED;
        }

        shown = json_object_new_array();
        if (!shown) {
                json_object_put(reply);
                return log_oom();
        }
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                struct json_object *d = json_object_array_get_idx(devices, i);
                if (blocked && !streq_ptr(json_get_string(d, "verdict"), "block"))
                        continue;
                json_object_array_add(shown, json_object_get(d));
        }

        if (json)
                puts(json_object_to_json_string_ext(shown, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (json_object_array_length(shown) == 0)
                printf("no %sUSB devices present\n", blocked ? "blocked " : "");
        else
                for (size_t i = 0; i < json_object_array_length(shown); i++)
                        print_device(json_object_array_get_idx(shown, i));
        json_object_put(shown);
        json_object_put(reply);
        return EXIT_OK;
}
