/* SPDX-License-Identifier: MIT */
/* policyctl ledger verify|show|prune: the admin's (and the inspector's) view of the ledger in
 * STATE_DIR/ledger.db. verify walks the whole chain and names the first record that breaks it;
 * show prints records by time; prune deletes what is past retention and already exported. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"
#include "hexutil.h"
#include "kyoka-names.h"
#include "ledger.h"
#include "policyctl.h"
#include "timeutil.h"

static void help(void) {
        printf(_("Usage: policyctl ledger verify\n"
               "       policyctl ledger show [--since TIME] [--until TIME] [--json]\n"
               "       policyctl ledger prune [--keep-days N]\n"
               "\n"
               "The usage and fault ledger in %s/%s.\n"
               "  verify   check the whole hash chain; say where it first breaks and why\n"
               "  show     print the records from --since up to (not including) --until\n"
               "           (ISO 8601, local time unless an offset is given); --json: one\n"
               "           JSON object per line with every field and the chain hashes\n"
               "  prune    delete records older than N days [%d] that are already in an\n"
               "           export (never others), recording what was deleted\n"
               "Exit status: 0 good, 1 the chain does not verify or an error, 2 usage.\n"),
               arg_state_dir, KYOKA_LEDGER_FILE, LEDGER_RETENTION_DEFAULT_DAYS);
}

int ledger_db_path(char **ret) {
        char *p = path_join(arg_state_dir, KYOKA_LEDGER_FILE);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int open_ledger(unsigned flags, struct ledger **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (ledger_db_path(&path) < 0)
                return log_oom();
        /* Reading verbs must not create an empty ledger where there was none. */
        if (access(path, F_OK) < 0)
                return log_error_errno(-errno, _("%s: no ledger: %m"), path);
        r = ledger_open(path, flags, 0, ret);
        if (r < 0)
                return log_error_errno(r, _("%s: cannot open the ledger: %m"), path);
        return 0;
}

/* -EBADMSG when the chain is broken (said on stdout: it is the answer, not a failure). */
static int do_verify(void) {
        _cleanup_(ledger_closep) struct ledger *l = NULL;
        struct ledger_verify_report rep;
        char hex[LEDGER_HASH_HEX];
        int64_t exported = 0;
        int r;

        r = open_ledger(LEDGER_OPEN_READ_ONLY, &l);
        if (r < 0)
                return r;
        r = ledger_verify(l, &rep);
        if (r == -EBADMSG) {
                printf("CHAIN BROKEN at seq %lld: %s (%s)\n", (long long) rep.bad_seq, ledger_break_to_string(rep.kind),
                       rep.detail);
                if (rep.count > 0)
                        printf("records %lld..%lld verify (%llu records)\n", (long long) rep.first_seq,
                               (long long) rep.last_seq, (unsigned long long) rep.count);
                return r;
        }
        if (r < 0)
                return log_error_errno(r, _("cannot read the ledger: %m"));
        (void) ledger_exported_through(l, &exported);
        hex_encode(rep.last_hash, LEDGER_HASH_SIZE, hex);
        if (rep.count == 0)
                printf("the ledger holds no records; the chain verifies\n");
        else
                printf("chain verifies: %llu records, seq %lld..%lld\n", (unsigned long long) rep.count,
                       (long long) rep.first_seq, (long long) rep.last_seq);
        printf("last hash: %s\nexported through seq: %lld\n", hex, (long long) exported);
        return 0;
}

struct show {
        bool json;
};

static int show_record(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                       const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        struct show *s = userdata;
        char when[ISO8601_MAX_LEDGER], name[2 * USB_STRING_MAX + 8], vp[LEDGER_HEX4_MAX * 2 + 1], user[LEDGER_USER_MAX + 32];
        char error[96] = "";

        if (s->json) {
                struct json_object *o = NULL;
                int k = ledger_record_to_json(r, prev, hash, &o);
                if (k < 0)
                        return k;
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return 0;
        }
        (void) ledger_record_format_time(r, when, sizeof when);
        /* The admin's view, in the journal's words: the record's own reason and message. */
        export_device_name(r, name, sizeof name);
        vp[0] = user[0] = 0;
        if (r->subject == LEDGER_SUBJECT_USB && r->vendor[0])
                snprintf(vp, sizeof vp, "%s:%s", r->vendor, r->product);
        if (r->uid >= 0)
                snprintf(user, sizeof user, "%s (%lld)", r->user, (long long) r->uid);
        if (r->outcome == LEDGER_OUTCOME_FAILED)
                export_errno(r->error_number, EXPORT_LANG_EN, error, sizeof error);
        printf("%lld %s %s %s", (long long) r->seq, when, ledger_subject_to_string(r->subject),
               ledger_event_to_string(r->event));
        if (r->decision != LEDGER_DECISION_NONE)
                printf(" %s", ledger_decision_to_string(r->decision));
        if (r->count > 1)
                printf(" count=%lld", (long long) r->count);
        /* Ledger text is sanitised, but show goes to a terminal: escape again on the way out. */
        const char *fields[][2] = { { "device", name }, { "id", vp }, { "serial", r->serial }, { "mac", r->mac },
                                    { "permit", r->permit }, { "user", user }, { "reason", r->reason },
                                    { "failed", error }, { "message", r->message } };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (!fields[i][1][0])
                        continue;
                printf(" %s=\"", fields[i][0]);
                fputs_safe(fields[i][1], stdout);
                putchar('"');
        }
        putchar('\n');
        return 0;
}

/* The records from SINCE up to (not including) UNTIL; NULL: from the first, through the last. */
static int do_show(const int64_t *since, const int64_t *until, bool json) {
        _cleanup_(ledger_closep) struct ledger *l = NULL;
        int64_t first = 1, end = INT64_MAX;
        struct show s = { .json = json };
        int r;

        r = open_ledger(LEDGER_OPEN_READ_ONLY, &l);
        if (r < 0)
                return r;
        if ((since && (r = ledger_seq_at_time(l, *since, &first)) < 0) ||
            (until && (r = ledger_seq_at_time(l, *until, &end)) < 0))
                return log_error_errno(r, _("cannot read the ledger: %m"));
        if (end <= first)
                return 0;
        r = ledger_foreach(l, first, end - 1, show_record, &s);
        if (r == -EBADMSG) {
                log_error(_("a record does not match its canonical bytes: run 'policyctl ledger verify'"));
                return r;
        }
        if (r < 0)
                return log_error_errno(r, _("cannot read the ledger: %m"));
        return 0;
}

static int do_prune(long keep_days) {
        _cleanup_(ledger_closep) struct ledger *l = NULL;
        struct ledger_record note;
        int r;

        r = open_ledger(0, &l);
        if (r < 0)
                return r;
        ledger_record_init(&note, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_PRUNED);
        ledger_host_fill(&note);
        r = ledger_prune(l, (int64_t) time(NULL) - (int64_t) keep_days * 86400, &note);
        if (r < 0)
                return log_error_errno(r, _("cannot prune the ledger: %m"));
        printf("%d records deleted (older than %ld days and exported)\n", r, keep_days);
        return 0;
}

int verb_ledger(int argc, char *argv[]) {
        enum { ARG_SINCE = 0x100, ARG_UNTIL, ARG_JSON, ARG_KEEP_DAYS };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "json", no_argument, NULL, ARG_JSON },
                { "keep-days", required_argument, NULL, ARG_KEEP_DAYS },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *since = NULL, *until = NULL;
        long keep_days = LEDGER_RETENTION_DEFAULT_DAYS;
        bool json = false, has_show_opts = false, has_keep = false;
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case ARG_SINCE:
                        since = optarg;
                        has_show_opts = true;
                        break;
                case ARG_UNTIL:
                        until = optarg;
                        has_show_opts = true;
                        break;
                case ARG_JSON:
                        json = true;
                        has_show_opts = true;
                        break;
                case ARG_KEEP_DAYS:
                        keep_days = strtol(optarg, &end, 10);
                        if (*end || end == optarg || keep_days < 1 || keep_days > 365L * 100)
                                return usage_error("ledger", _("--keep-days: a number of days from 1, not '%s'"), optarg);
                        has_keep = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return option_error("ledger", c, argv);
                }
        if (optind >= argc)
                return usage_error("ledger", _("which: verify, show or prune?"));
        const char *what = argv[optind];
        if (optind + 1 < argc)
                return usage_error("ledger", _("unexpected argument '%s'"), argv[optind + 1]);

        if (streq(what, "verify") && !has_show_opts && !has_keep)
                return do_verify();
        if (streq(what, "show") && !has_keep) {
                int64_t from = INT64_MIN, to = INT64_MAX;
                if (since && time_parse_iso8601(since, &from, NULL) < 0)
                        return usage_error("ledger", _("--since: not an ISO 8601 date or time: '%s'"), since);
                if (until && time_parse_iso8601(until, &to, NULL) < 0)
                        return usage_error("ledger", _("--until: not an ISO 8601 date or time: '%s'"), until);
                return do_show(since ? &from : NULL, until ? &to : NULL, json);
        }
        if (streq(what, "prune") && !has_show_opts)
                return do_prune(keep_days);
        if (streq(what, "verify") || streq(what, "show") || streq(what, "prune"))
                return usage_error("ledger", _("an option does not apply to '%s'"), what);
        return usage_error("ledger", _("unknown action '%s' (verify, show or prune)"), what);
}
