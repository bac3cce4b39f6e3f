/* SPDX-License-Identifier: MIT */
/* policyctl status: what kyokad enforces now (the policy in force or the lockdown, who signed
 * it, until when), how many present devices and network links are allowed and blocked, how
 * often blocked links were set up (violations), the ledger (records, queue, the last commit
 * error) with the export key's fingerprint, and the recent faults.
 *
 * With --check, one line and the exit status of a monitoring plugin (Nagios, Icinga, Zabbix's
 * external checks): the worst of the states below decides. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kyoka-names.h"
#include "policyctl.h"
#include "timeutil.h"

/* The monitoring plugin convention (Nagios plugin guidelines): */
enum check_state {
        CHECK_OK = 0,
        CHECK_WARNING = 1,
        CHECK_CRITICAL = 2,
        CHECK_UNKNOWN = 3,            /* kyokad could not be asked (permission) */
};

#define CHECK_WARN_DAYS_DEFAULT 14
#define CHECK_WARN_DAYS_MAX 3650

static void help(void) {
        printf(_("Usage: policyctl status [--json | --check [--warn-days N]]\n"
               "\n"
               "Show the policy kyokad enforces (serial, issuer, contract, signer key, validity),\n"
               "or that the built-in lockdown applies; the present USB devices, media on other\n"
               "buses and network links allowed and blocked, and how often blocked links were set up\n"
               "(violations); whether kyokad's network firewall is in force; the ledger (records, last seq, records waiting, the error while it\n"
               "cannot be written) and the export key's fingerprint; the virus scans of media\n"
               "(held for a scan, being scanned, passed, infected; and since kyokad started); the\n"
               "last faults.\n"
               "Needs root, group %s or %s.\n"
               "Exit status: 0 shown, 1 kyokad unreachable or refused, 2 usage error.\n"
               "\n"
               "With --check: one line for a monitoring system and its exit status:\n"
               "  0 OK; 1 WARNING: the policy ends within N days (--warn-days, default %d),\n"
               "  the policy offered was refused (the last accepted one is in force), the\n"
               "  ledger cannot be written (records wait in memory) or the firewall is not in\n"
               "  force; 2 CRITICAL: kyokad is not running, no valid policy (the built-in\n"
               "  lockdown), a decision that could not be enforced, records lost;\n"
               "  3 UNKNOWN: kyokad could not be asked (permission).\n"
               "\n"
               "Options:\n"
               "  --json          print kyokad's reply as JSON\n"
               "  --check         check for monitoring (exit status above)\n"
               "  --warn-days N   with --check: warn N days before the policy ends (0 to %d)\n"
               "  -h --help       show this help\n"),
               KYOKA_GROUP_READ, KYOKA_GROUP_ADMIN, CHECK_WARN_DAYS_DEFAULT, CHECK_WARN_DAYS_MAX);
}

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* "label: value" with the value escaped (it may come from a policy or a device). */
static void field(const char *label, const char *value) {
        printf("%-10s ", label);
        fputs_safe(value ? value : "-", stdout);
        putchar('\n');
}

/* The ledger kyokad writes: a line when healthy, the error and the wait when not. */
static void print_ledger(struct json_object *l) {
        char buf[512];

        if (!l) {
                field("Ledger:", "not reported (an older kyokad)");
                return;
        }
        struct json_object *error = get(l, "error");
        uint64_t queued = json_object_get_uint64(get(l, "queued")), lost = json_object_get_uint64(get(l, "lost"));
        snprintf(buf, sizeof buf, "%s: %" PRIu64 " records, last seq %" PRId64 ", last commit %s",
                 json_get_string(l, "path") ?: "?", json_object_get_uint64(get(l, "records")),
                 json_object_get_int64(get(l, "last_seq")), json_get_string(l, "last_commit") ?: "none since start");
        field("Ledger:", buf);
        if (error) {
                snprintf(buf, sizeof buf, "%s (%s) since %s, last try %s: %" PRIu64 " records wait in memory%s",
                         json_get_string(error, "name") ?: "?", json_get_string(error, "message") ?: "?",
                         json_get_string(error, "since") ?: "?", json_get_string(error, "last_try") ?: "?", queued,
                         json_object_get_boolean(get(l, "open")) ? "" : " (the ledger could not be opened)");
                field("  FAILING:", buf);
        } else if (queued > 0) {
                snprintf(buf, sizeof buf, "%" PRIu64 " records waiting for the next commit", queued);
                field("", buf);
        }
        if (lost > 0) {
                snprintf(buf, sizeof buf, "%" PRIu64 " records did not fit the queue: only in the journal "
                         "(the ledger will record the loss)", lost);
                field("  LOST:", buf);
        }
        struct json_object *key = get(l, "export_key");
        if (key) {
                snprintf(buf, sizeof buf, "%s, fingerprint %s", json_get_string(key, "path") ?: "?",
                         json_get_string(key, "fingerprint") ?: "?");
                field("Export key:", buf);
        } else
                field("Export key:", "none yet (policyctl export-key --init)");
}

static void print_policy(struct json_object *p) {
        const char *state = json_get_string(p, "state");
        char buf[256];

        if (!state || streq(state, "lockdown")) {
                field("Policy:", json_get_string(p, "description"));
        } else {
                snprintf(buf, sizeof buf, "serial %s, issued %s", json_object_get_string(get(p, "serial")),
                         json_get_string(p, "issued") ?: "-");
                field("Policy:", buf);
                field("Issuer:", json_get_string(p, "issuer"));
                field("Contract:", json_get_string(p, "contract"));
                if (json_get_string(p, "workstation"))
                        field("For:", json_get_string(p, "workstation"));
                struct json_object *signer = get(p, "signer");
                snprintf(buf, sizeof buf, "%s (fingerprint %.32s)", json_get_string(signer, "key") ?: "?",
                         json_get_string(signer, "fingerprint") ?: "?");
                field("Signed:", buf);
                field("Valid:", json_get_string(p, "valid_until") ? json_get_string(p, "valid_until") : "no end date");
                snprintf(buf, sizeof buf, "%s%s", json_get_string(p, "loaded_at") ?: "-",
                         streq_ptr(json_get_string(p, "source"), "accepted-copy")
                                 ? " from the last accepted copy (the configured policy was refused)"
                                 : "");
                field("Loaded:", buf);
        }
        struct json_object *last = get(p, "last_load");
        if (last && !json_object_get_boolean(get(last, "ok")))
                field("Refused:", json_get_string(last, "message"));
}

/* One finding of --check: the state raised to STATE, the text appended to the summary. */
struct check {
        enum check_state state;
        char text[1024];
        size_t len;
};

static void check_add(struct check *c, enum check_state state, const char *format, ...) _printf_(3, 4);
static void check_add(struct check *c, enum check_state state, const char *format, ...) {
        va_list ap;

        if (state > c->state)
                c->state = state;
        if (c->len + 3 >= sizeof c->text)
                return;
        if (c->len > 0)
                c->len += (size_t) snprintf(c->text + c->len, sizeof c->text - c->len, "; ");
        va_start(ap, format);
        int n = vsnprintf(c->text + c->len, sizeof c->text - c->len, format, ap);
        va_end(ap);
        if (n > 0)
                c->len = MIN(c->len + (size_t) n, sizeof c->text - 1);
}

/* The states of kyokad's status REPLY at NOW, worst first in the summary's order of reading. */
static void check_reply(struct json_object *reply, int64_t now, int warn_days, struct check *c) {
        struct json_object *p = get(reply, "policy"), *l = get(reply, "ledger"), *fw = get(reply, "firewall");
        const char *until = json_get_string(p, "valid_until_time");
        int64_t end;

        if (!p || !streq_ptr(json_get_string(p, "state"), "enforcing"))
                check_add(c, CHECK_CRITICAL, "no valid policy: the built-in lockdown applies");
        else {
                struct json_object *last = get(p, "last_load");
                if (streq_ptr(json_get_string(p, "source"), "accepted-copy") ||
                    (last && !json_object_get_boolean(get(last, "ok"))))
                        check_add(c, CHECK_WARNING, "the policy offered was refused: serial %s (the last accepted) is in force",
                                  json_object_get_string(get(p, "serial")));
                if (until && time_parse_iso8601(until, &end, NULL) >= 0 && end - now <= (int64_t) warn_days * 86400) {
                        long long days = (end - now + 86399) / 86400;
                        check_add(c, CHECK_WARNING, "the policy (serial %s) ends in %lld day%s (valid until %s): "
                                  "ask the city for the next one", json_object_get_string(get(p, "serial")), days,
                                  days == 1 ? "" : "s", json_get_string(p, "valid_until") ?: until);
                }
        }

        struct json_object *faults = get(reply, "faults");
        size_t failed = 0;
        for (size_t i = 0, n = faults ? json_object_array_length(faults) : 0; i < n; i++)
                if (streq_ptr(json_get_string(json_object_array_get_idx(faults, i), "result"), "failed"))
                        failed++;
        if (failed > 0)
                check_add(c, CHECK_CRITICAL, "%zu decision%s could not be enforced (policyctl status)", failed,
                          failed == 1 ? "" : "s");

        if (l && json_object_get_uint64(get(l, "lost")) > 0)
                check_add(c, CHECK_CRITICAL, "%" PRIu64 " records lost (only in the journal)",
                          json_object_get_uint64(get(l, "lost")));
        if (l && get(l, "error"))
                check_add(c, CHECK_WARNING, "the ledger cannot be written (%s): %" PRIu64 " records wait in memory",
                          json_get_string(get(l, "error"), "name") ?: "?", json_object_get_uint64(get(l, "queued")));
        if (fw && !json_object_get_boolean(get(fw, "in_force")))
                check_add(c, CHECK_WARNING, "the network firewall is not in force (%s)", json_get_string(fw, "problem") ?: "?");

        if (c->state == CHECK_OK) {
                struct json_object *d = get(reply, "devices");
                check_add(c, CHECK_OK, "serial %s in force until %s; %d devices, %d blocked",
                          json_object_get_string(get(p, "serial")), json_get_string(p, "valid_until") ?: "no end date",
                          json_object_get_int(get(d, "present")), json_object_get_int(get(d, "blocked")));
        }
}

static int run_check(int warn_days) {
        static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
        struct json_object *reply = NULL;
        struct check c = {};
        int r;

        /* A check runs unattended: kyokad's own error line goes to stderr, the verdict to stdout.
         * The verdict is parsed and stays English in every locale: strerrordesc_np(), not the
         * translated strerror(). */
        r = control_call(KYOKA_CMD_STATUS, NULL, &reply);
        if (r == -EACCES || r == -EPERM || r == -EBADE)
                check_add(&c, CHECK_UNKNOWN, "kyokad could not be asked: %s (root or group " KYOKA_GROUP_READ ")",
                          r == -EBADE ? json_get_string(reply, "error") ?: "refused" : strerrordesc_np(-r));
        else if (r < 0)
                check_add(&c, CHECK_CRITICAL, "kyokad is not running or did not answer: %s", strerrordesc_np(-r));
        else
                check_reply(reply, (int64_t) time(NULL), warn_days, &c);
        json_object_put(reply);
        printf("KYOKA %s - ", names[c.state]);
        fputs_safe(c.text, stdout);
        putchar('\n');
        return c.state;
}

int verb_status(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "check", no_argument, NULL, 'c' },
                { "warn-days", required_argument, NULL, 'w' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct json_object *reply = NULL;
        bool json = false, check = false, warn_set = false;
        int c, r, warn_days = CHECK_WARN_DAYS_DEFAULT;

        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'c':
                        check = true;
                        break;
                case 'w': {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 0 || v > CHECK_WARN_DAYS_MAX)
                                return usage_error("status", _("--warn-days: expected 0 to %d days, got '%s'"),
                                                   CHECK_WARN_DAYS_MAX, optarg);
                        warn_days = (int) v;
                        warn_set = true;
                        break;
                }
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("status", c, argv);
                }
        if (optind != argc)
                return usage_error("status", _("unexpected argument '%s'"), argv[optind]);
        if (json && check)
                return usage_error("status", _("--json and --check exclude each other"));
        if (warn_set && !check)
                return usage_error("status", _("--warn-days needs --check"));
        if (check)
                return run_check(warn_days);

        r = control_call(KYOKA_CMD_STATUS, NULL, &reply);
        if (r < 0) {
                json_object_put(reply);
                return EXIT_REFUSED;
        }
        if (json) {
                puts(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(reply);
                return EXIT_OK;
        }

        print_policy(get(reply, "policy"));
        struct json_object *d = get(reply, "devices");
        printf("%-10s %d present: %d allowed, %d blocked\n", "Devices:", json_object_get_int(get(d, "present")),
               json_object_get_int(get(d, "allowed")), json_object_get_int(get(d, "blocked")));
        /* Media on other buses; absent from an older kyokad. */
        struct json_object *md = get(reply, "media");
        if (md)
                printf("%-10s %d present: %d allowed, %d blocked; %d fixed disk%s of the workstation\n", "Media:",
                       json_object_get_int(get(md, "present")), json_object_get_int(get(md, "allowed")),
                       json_object_get_int(get(md, "blocked")), json_object_get_int(get(md, "fixed")),
                       json_object_get_int(get(md, "fixed")) == 1 ? "" : "s");
        /* The virus scans (docs/control.md); absent from an older kyokad. */
        struct json_object *sc = get(reply, "scans");
        if (sc) {
                struct json_object *since = get(sc, "since_start");
                printf("%-10s present: %" PRIu64 " waiting, %" PRIu64 " scanning, %" PRIu64 " held (the scan could not "
                       "finish), %" PRIu64 " passed, %" PRIu64 " infected\n", "Scans:",
                       json_object_get_uint64(get(sc, "waiting")), json_object_get_uint64(get(sc, "scanning")),
                       json_object_get_uint64(get(sc, "held")), json_object_get_uint64(get(sc, "passed")),
                       json_object_get_uint64(get(sc, "infected")));
                printf("%-10s since kyokad started: %" PRIu64 " passed, %" PRIu64 " infected, %" PRIu64 " did not finish\n",
                       "", json_object_get_uint64(get(since, "passed")), json_object_get_uint64(get(since, "infected")),
                       json_object_get_uint64(get(since, "held")));
        }
        /* null: kyokad runs with --network off. Violations: of the links present now, since
         * kyokad first saw each. */
        struct json_object *l = get(reply, "links");
        if (l)
                printf("%-10s %d present: %d allowed, %d blocked; %" PRIu64 " violation%s\n",
                       "Links:", json_object_get_int(get(l, "present")), json_object_get_int(get(l, "allowed")),
                       json_object_get_int(get(l, "blocked")), json_object_get_uint64(get(l, "violations")),
                       json_object_get_uint64(get(l, "violations")) == 1 ? "" : "s");
        else
                printf("%-10s not watched (kyokad runs with --network off)\n", "Links:");
        /* kyokad's nftables tables (docs/network.md); absent from an older kyokad. */
        struct json_object *fw = get(reply, "firewall");
        if (fw && json_object_get_boolean(get(fw, "in_force")))
                field("Firewall:", "in force (unapproved links' packets are dropped)");
        else if (fw) {
                char buf[512];
                snprintf(buf, sizeof buf, "unavailable: %s; unapproved links are only kept down",
                         json_get_string(fw, "problem") ?: "?");
                field("Firewall:", buf);
        }

        print_ledger(get(reply, "ledger"));

        struct json_object *faults = get(reply, "faults");
        size_t n = faults ? json_object_array_length(faults) : 0;
        printf("%-10s %s\n", "Faults:", n ? "" : "none recorded since kyokad started");
        for (size_t i = 0; i < n; i++) {
                struct json_object *f = json_object_array_get_idx(faults, i);
                printf("  %s ", json_get_string(f, "time") ?: "");
                fputs_safe(json_get_string(f, "event") ?: "?", stdout);
                fputs(": ", stdout);
                fputs_safe(json_get_string(f, "message") ?: "", stdout);
                putchar('\n');
        }
        json_object_put(reply);
        return EXIT_OK;
}
