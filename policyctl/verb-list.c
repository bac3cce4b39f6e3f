/* SPDX-License-Identifier: MIT */
/* policyctl list: the USB devices, media on other buses and network links present now, with
 * their identity and what kyokad decided (verdict, reason, permit; for links also up/down and
 * violations; the workstation's own disks as "fixed"). --blocked is the admin's "what needs a
 * request?". */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "kyoka-names.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl list [--blocked] [--json]\n"
               "\n"
               "List the present USB devices (bus path, vendor:product, manufacturer and product\n"
               "strings, serial, interfaces), the disks on other buses (SD cards, optical drives,\n"
               "NVMe, SATA: kernel name, bus, vendor, model, serial, port; the workstation's own\n"
               "disks as \"fixed\") and network links (name, ifindex, MAC and whether it is the\n"
               "permanent one, kind, bus path, driver, up or down, violations; for a Wi-Fi card\n"
               "also the network it joined and the associations kyokad refused), each with the\n"
               "verdict kyokad enforces and why.\n"
               "Needs root, group %s or %s.\n"
               "Exit status: 0 listed, 1 kyokad unreachable or refused, 2 usage error.\n"
               "\n"
               "Options:\n"
               "  --blocked   only the devices and links that are blocked\n"
               "  --json      print them as one JSON array (\"type\": \"usb\", \"media\" or \"network\")\n"
               "  -h --help   show this help\n"),
               KYOKA_GROUP_READ, KYOKA_GROUP_ADMIN);
}

/* "; REASON (permit P)", the permit only when the reason does not already name it. */
static void print_reason(struct json_object *o) {
        const char *reason = json_get_string(o, "reason") ?: "", *permit = json_get_string(o, "permit");

        fputs("; ", stdout);
        fputs_safe(reason, stdout);
        if (permit && !strstr(reason, permit)) {
                fputs(" (permit ", stdout);
                fputs_safe(permit, stdout);
                putchar(')');
        }
        putchar('\n');
}

/* A medium held for its virus scan: where the scan stands (a line of its own). */
static void print_scan(struct json_object *d) {
        struct json_object *scan = NULL;
        if (!json_object_object_get_ex(d, "scan", &scan) || !json_object_is_type(scan, json_type_object))
                return;
        const char *state = json_get_string(scan, "state") ?: "?", *fault = json_get_string(scan, "fault");
        struct json_object *v;
        int64_t files = json_object_object_get_ex(scan, "files", &v) ? json_object_get_int64(v) : 0;
        int64_t bytes = json_object_object_get_ex(scan, "bytes", &v) ? json_object_get_int64(v) : 0;
        printf("%18sscan       ", "");
        fputs_safe(state, stdout);
        if (streq(state, "scanning"))
                printf(" (%" PRId64 " files, %" PRId64 " MB so far)", files, bytes >> 20);
        if (fault) {
                fputs(": ", stdout);
                fputs_safe(fault, stdout);
        }
        putchar('\n');
}

static void print_device(struct json_object *d) {
        struct json_object *ifs = NULL;

        printf("%-9s %-7s ", json_get_string(d, "verdict") ?: "?", "usb");
        print_device_name(d, stdout);
        putchar('\n');
        printf("%18sinterfaces ", "");
        if (json_object_object_get_ex(d, "interfaces", &ifs) && json_object_array_length(ifs) > 0)
                for (size_t i = 0; i < json_object_array_length(ifs); i++)
                        printf("%s%.8s", i ? "," : "", json_object_get_string(json_object_array_get_idx(ifs, i)));
        else
                fputs("none", stdout);
        print_reason(d);
        print_scan(d);
}

static void print_medium(struct json_object *m) {
        struct json_object *disc = NULL;
        const char *fixed = json_get_string(m, "fixed");

        printf("%-9s %-7s ", fixed ? "fixed" : json_get_string(m, "verdict") ?: "?", "media");
        fputs_safe(json_get_string(m, "device") ?: "?", stdout);
        printf(" (%s) ", json_get_string(m, "bus") ?: "?");
        fputs_safe(json_get_string(m, "vendor") ?: "", stdout);
        if ((json_get_string(m, "vendor") ?: "")[0])
                putchar(' ');
        fputs_safe(json_get_string(m, "model") ?: "", stdout);
        fputs(" serial ", stdout);
        fputs_safe((json_get_string(m, "serial") ?: "")[0] ? json_get_string(m, "serial") : "(none)", stdout);
        putchar('\n');
        printf("%18sport ", "");
        fputs_safe((json_get_string(m, "path") ?: "")[0] ? json_get_string(m, "path") : "(unknown)", stdout);
        if (json_object_object_get_ex(m, "disc", &disc) && json_object_is_type(disc, json_type_boolean))
                fputs(json_object_get_boolean(disc) ? "; disc in the drive" : "; no disc", stdout);
        print_reason(m);
}

/* One network as the list names it: "SSID" (security, BSSID). The SSID arrives sanitised. */
static void print_network(struct json_object *n) {
        const char *bssid = json_get_string(n, "bssid");

        putchar('"');
        fputs_safe(json_get_string(n, "ssid") ?: "", stdout);
        fputs("\" (", stdout);
        fputs_safe(json_get_string(n, "security") ?: "?", stdout);
        if (bssid) {
                fputs(", ", stdout);
                fputs_safe(bssid, stdout);
        }
        putchar(')');
}

/* A wireless link: the network it is associated with and kyokad's decision on it, and the
 * associations it refused (a line of its own). */
static void print_wireless(struct json_object *l) {
        struct json_object *w = NULL, *a = NULL, *last = NULL, *v = NULL;
        if (!json_object_object_get_ex(l, "wireless", &w) || !json_object_is_type(w, json_type_object))
                return;

        printf("%18swi-fi      ", "");
        fputs_safe(json_get_string(w, "mode") ?: "?", stdout);
        if (json_object_object_get_ex(w, "association", &a) && json_object_is_type(a, json_type_object)) {
                fputs(", associated with ", stdout);
                print_network(a);
                fputs(": ", stdout);
                fputs_safe(json_get_string(a, "decision") ?: "?", stdout);
                print_reason(a);
        } else
                fputs(", not associated\n", stdout);

        uint64_t refused = json_object_object_get_ex(w, "refused", &v) ? json_object_get_uint64(v) : 0;
        if (refused == 0)
                return;
        printf("%18srefused    %" PRIu64 " association%s", "", refused, refused == 1 ? "" : "s");
        if (json_object_object_get_ex(w, "last_refused", &last) && json_object_is_type(last, json_type_object)) {
                fputs(", the last with ", stdout);
                print_network(last);
        }
        putchar('\n');
}

static void print_link(struct json_object *l) {
        struct json_object *v = NULL;
        uint64_t violations = 0;

        printf("%-9s %-7s ", json_get_string(l, "verdict") ?: "?", "network");
        print_link_name(l, stdout);
        putchar('\n');
        if (json_object_object_get_ex(l, "violations", &v))
                violations = json_object_get_uint64(v);
        v = NULL;
        printf("%18s%s; %" PRIu64 " violation%s", "",
               json_object_object_get_ex(l, "up", &v) && json_object_get_boolean(v) ? "up" : "down", violations,
               violations == 1 ? "" : "s");
        print_reason(l);
        print_wireless(l);
}

/* Adds the members of FROM (an array, or anything else: nothing) to TO, only the blocked ones
 * when BLOCKED. */
static int add_shown(struct json_object *to, struct json_object *from, bool blocked) {
        if (!json_object_is_type(from, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(from); i++) {
                struct json_object *d = json_object_array_get_idx(from, i);
                if (blocked && !streq_ptr(json_get_string(d, "verdict"), "block"))
                        continue;
                if (json_object_array_add(to, json_object_get(d)) < 0) {
                        json_object_put(d);
                        return -ENOMEM;
                }
        }
        return 0;
}

int verb_list(int argc, char *argv[]) {
        static const struct option options[] = {
                { "blocked", no_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct json_object *reply = NULL, *devices = NULL, *links = NULL, *media = NULL, *shown;
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
                return usage_error("list", _("unexpected argument '%s'"), argv[optind]);

        r = control_call(KYOKA_CMD_LIST, NULL, &reply);
        if (r < 0 || !json_object_object_get_ex(reply, "devices", &devices) ||
            !json_object_is_type(devices, json_type_array)) {
                if (r >= 0)
                        log_error(_("kyokad's reply has no device list"));
                json_object_put(reply);
                return EXIT_REFUSED;
        }
        /* null (or absent, from an older kyokad): kyokad does not watch links. */
        (void) json_object_object_get_ex(reply, "links", &links);
        bool watched = json_object_is_type(links, json_type_array);
        /* Absent from an older kyokad. */
        (void) json_object_object_get_ex(reply, "media", &media);

        shown = json_object_new_array();
        if (!shown || add_shown(shown, devices, blocked) < 0 || add_shown(shown, media, blocked) < 0 ||
            add_shown(shown, links, blocked) < 0) {
                json_object_put(shown);
                json_object_put(reply);
                return log_oom();
        }

        size_t n_usb = 0, n_links = 0;
        for (size_t i = 0; i < json_object_array_length(shown); i++) {
                const char *type = json_get_string(json_object_array_get_idx(shown, i), "type");
                if (streq_ptr(type, "network"))
                        n_links++;
                else if (!streq_ptr(type, "media"))
                        n_usb++;
        }
        if (json)
                puts(json_object_to_json_string_ext(shown, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else {
                /* USB devices first, then links: the reply's order. */
                if (n_usb == 0)
                        printf("no %sUSB devices present\n", blocked ? "blocked " : "");
                for (size_t i = 0; i < json_object_array_length(shown); i++) {
                        struct json_object *d = json_object_array_get_idx(shown, i);
                        const char *type = json_get_string(d, "type");
                        if (streq_ptr(type, "network"))
                                print_link(d);
                        else if (streq_ptr(type, "media"))
                                print_medium(d);
                        else
                                print_device(d);
                }
                if (!watched)
                        printf("network links are not watched (kyokad runs with --network off)\n");
                else if (n_links == 0)
                        printf("no %snetwork links present\n", blocked ? "blocked " : "");
        }
        json_object_put(shown);
        json_object_put(reply);
        return EXIT_OK;
}
