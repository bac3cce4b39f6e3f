/* SPDX-License-Identifier: MIT */
/* policyctl watch: kyokad's decisions (USB devices and network links), link violations, policy
 * loads and faults, one line each as they happen, until interrupted. --json prints each record
 * as kyokad sent it (the journal's fields). */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kyoka-names.h"
#include "policyctl.h"

static void help(void) {
        printf(_("Usage: policyctl watch [--json]\n"
               "\n"
               "Print every decision of kyokad (USB devices and network links), every attempt\n"
               "to set a blocked link up (violation), policy load and fault as it happens, one\n"
               "line each, until interrupted. Needs root, group %s or %s.\n"
               "Exit status: 1 if kyokad is unreachable, refuses, or goes away; 2 usage error.\n"
               "\n"
               "Options:\n"
               "  --json      one JSON object per line, with the journal record's fields\n"
               "  -h --help   show this help\n"),
               KYOKA_GROUP_READ, KYOKA_GROUP_ADMIN);
}

int verb_watch(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_close_ int fd = -EBADF;
        struct json_object *o = NULL, *ok;
        bool json = false;
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
                        return option_error("watch", c, argv);
                }
        if (optind != argc)
                return usage_error("watch", _("unexpected argument '%s'"), argv[optind]);

        if (control_connect(false, &fd) < 0 || control_send(fd, KYOKA_CMD_WATCH, NULL) < 0)
                return EXIT_REFUSED;
        r = control_receive(fd, &o);
        if (r < 0 || !json_object_object_get_ex(o, "ok", &ok) || !json_object_get_boolean(ok)) {
                if (r == -ECONNRESET)
                        log_error(_("kyokad closed the connection"));
                else if (r >= 0)
                        log_error("kyokad: %s", json_get_string(o, "error") ?: "refused");
                json_object_put(o);
                return EXIT_REFUSED;
        }
        json_object_put(o);
        /* Blocking reads from here on: events come when they come. */
        struct timeval tv = {};
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (!json)
                fprintf(stderr, "policyctl: watching kyokad's decisions (Ctrl-C to stop)\n");

        for (;;) {
                r = control_receive(fd, &o);
                if (r == -ECONNRESET) {
                        log_error(_("kyokad closed the connection (stopped, or this watcher fell behind)"));
                        return EXIT_REFUSED;
                }
                if (r < 0)
                        return EXIT_REFUSED;
                if (json)
                        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                else {
                        printf("%s ", json_get_string(o, "time") ?: "");
                        fputs_safe(json_get_string(o, "subject") ?: "?", stdout);
                        putchar(' ');
                        fputs_safe(json_get_string(o, "event") ?: "?", stdout);
                        fputs(": ", stdout);
                        fputs_safe(json_get_string(o, "message") ?: "", stdout);
                        putchar('\n');
                }
                json_object_put(o);
                if (fflush(stdout) != 0)
                        return EXIT_REFUSED;
        }
}
