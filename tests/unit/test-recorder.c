/* SPDX-License-Identifier: MIT */
/* The recorder (recorder.c) with a real ledger in a scratch directory: what a typed event
 * becomes in the ledger and in the watchers' JSON, that reports wait for the commit, and what a
 * failing ledger does (a fault once, reports anyway, a retry that writes everything later with
 * the gap recorded). */
#include <errno.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "recorder.h"
#include "test-util.h"

struct seen {
        unsigned n;
        char events[32][32];
        char keys[32][256];           /* "event/subject/bus_path|ifname/decision/permit/count" */
};

static void on_record(struct json_object *o, void *userdata) {
        struct seen *s = userdata;
        struct json_object *v;
        char buf[256] = "";

        if (s->n >= ELEMENTSOF(s->events))
                return;
        snprintf(s->events[s->n], sizeof s->events[0], "%s",
                 json_object_object_get_ex(o, "event", &v) ? json_object_get_string(v) : "?");
        for (const char *const *k = (const char *const[]) { "subject", "bus_path", "ifname", "decision", "permit", "count",
                                                           NULL }; *k; k++)
                if (json_object_object_get_ex(o, *k, &v)) {
                        size_t l = strlen(buf);
                        snprintf(buf + l, sizeof buf - l, "%s%s=%s", l ? " " : "", *k, json_object_get_string(v));
                }
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", buf);
        s->n++;
}

struct rows {
        unsigned n;
        struct ledger_record r[64];
};

static int collect(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                   const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        struct rows *rows = userdata;
        if (rows->n < ELEMENTSOF(rows->r))
                rows->r[rows->n++] = *r;
        return 0;
}

static void read_ledger(const char *dir, struct rows *rows) {
        _cleanup_free_ char *path = path_join(dir, "ledger.db");
        struct ledger *l = NULL;

        rows->n = 0;
        assert_int_equal(ledger_open(path, LEDGER_OPEN_READ_ONLY, 0, &l), 0);
        assert_int_equal(ledger_foreach(l, 1, INT64_MAX, collect, rows), 0);
        ledger_close(l);
}

static const struct ledger_record *find(const struct rows *rows, enum ledger_subject subject, enum ledger_event ev) {
        for (unsigned i = 0; i < rows->n; i++)
                if (rows->r[i].subject == subject && rows->r[i].event == ev)
                        return &rows->r[i];
        return NULL;
}

static void run(sd_event *e, int usec) {
        for (int i = 0; i < 20; i++)
                assert_true(sd_event_run(e, (uint64_t) usec) >= 0);
}

static struct usb_identity stick(void) {
        struct usb_identity id = { .vendor = 0x46f4, .product = 0x0001, .has_serial = true, .n_interfaces = 1 };
        snprintf(id.bus_path, sizeof id.bus_path, "1-2");
        snprintf(id.serial, sizeof id.serial, "SER-1");
        snprintf(id.manufacturer, sizeof id.manufacturer, "QEMU");
        snprintf(id.product_name, sizeof id.product_name, "QEMU USB HARDDRIVE");
        id.interfaces[0] = (struct usb_interface_class) { 0x08, 0x06, 0x50 };
        return id;
}

static void test_decision_is_in_the_ledger_before_it_is_reported(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct seen seen = {};
        struct rows rows;
        struct recorder *r = NULL;
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        recorder_set_listener(r, on_record, &seen);
        run(e, 1000);                  /* "started" committed and reported */
        unsigned before = seen.n;

        struct usb_identity id = stick();
        struct policy_approval a = { .permit = (char *) "許可-1" };
        struct policy_usb_entry entry = { .approval = a };
        struct policy_decision dec = { .verdict = VERDICT_ALLOW, .reason = REASON_PERMIT, .window = WINDOW_OPEN,
                                       .usb_entry = &entry };
        struct record_decision d;
        record_decision_init(&d, &dec, VERDICT_ALLOW, "permit 許可-1");
        recorder_usb(r, USB_RECORD_CONNECTED, &id, &d, 0);
        assert_int_equal(seen.n, before);        /* not reported before its commit */
        run(e, 1000);
        assert_int_equal(seen.n, before + 1);
        assert_string_equal(seen.events[before], "connected");
        assert_string_equal(seen.keys[before], "subject=usb bus_path=1-2 decision=allow permit=許可-1");

        read_ledger(dir, &rows);
        const struct ledger_record *lr = find(&rows, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        assert_non_null(lr);
        assert_string_equal(lr->serial, "SER-1");
        assert_string_equal(lr->permit, "許可-1");
        assert_int_equal(lr->decision, LEDGER_DECISION_ALLOW);
        assert_string_equal(lr->interfaces, "08:06:50");
        assert_non_null(find(&rows, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED));

        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

/* The kind of a record comes from the decision, never from its text: a reason that merely reads
 * like an expiry is a re-evaluation, a window that passed is the permit's expiry. */
static void test_permit_expiry_comes_from_the_decision_not_the_text(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct rows rows;
        struct recorder *r = NULL;
        sd_event *e = NULL;
        struct usb_identity id = stick();
        struct policy_usb_entry entry = { .approval = { .permit = (char *) "P-OLD" } };
        struct record_decision d;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);

        struct policy_decision expired = { .verdict = VERDICT_BLOCK, .reason = REASON_DEFAULT_OTHER,
                                           .window = WINDOW_EXPIRED, .usb_entry = &entry };
        record_decision_init(&d, &expired, VERDICT_BLOCK, "whatever the text says");
        recorder_usb(r, USB_RECORD_REEVALUATED, &id, &d, 0);

        struct policy_decision other = { .verdict = VERDICT_BLOCK, .reason = REASON_DEFAULT_OTHER };
        record_decision_init(&d, &other, VERDICT_BLOCK, "default usb_other (permit P-X expired 2026-01-01)");
        id.bus_path[2] = '3';
        recorder_usb(r, USB_RECORD_REEVALUATED, &id, &d, 0);
        run(e, 1000);

        read_ledger(dir, &rows);
        const struct ledger_record *x = find(&rows, LEDGER_SUBJECT_USB, LEDGER_EVENT_PERMIT_EXPIRED);
        assert_non_null(x);
        assert_string_equal(x->bus_path, "1-2");
        assert_string_equal(x->permit, "P-OLD");
        const struct ledger_record *y = find(&rows, LEDGER_SUBJECT_USB, LEDGER_EVENT_REEVALUATED);
        assert_non_null(y);
        assert_string_equal(y->bus_path, "1-3");
        assert_string_equal(y->permit, "");
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

static void test_faults_take_subject_and_event_from_the_table(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct rows rows;
        struct recorder *r = NULL;
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        recorder_policy_refused(r, FAULT_POLICY_REFUSED, LOAD_BAD_SIGNATURE, -EBADMSG, "bad signature");
        recorder_fault(r, FAULT_NETWORK_FIREWALL, -EPROTONOSUPPORT, "no nf_tables");
        recorder_fault(r, FAULT_CLOCK_JUMP, 0, "set back");
        recorder_policy(r, POLICY_RECORD_ACCEPTED_COPY, "the last accepted copy");
        run(e, 1000);
        read_ledger(dir, &rows);
        const struct ledger_record *p = find(&rows, LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_REFUSED);
        assert_non_null(p);
        /* The fault, then policy_load()'s typed cause: the export words it without the message. */
        assert_string_equal(p->reason, "policy-refused:bad-signature");
        assert_int_equal(p->error_number, EBADMSG);
        const struct ledger_record *kept = find(&rows, LEDGER_SUBJECT_POLICY, LEDGER_EVENT_POLICY_LOADED);
        assert_non_null(kept);
        assert_string_equal(kept->reason, "accepted-copy");
        assert_int_equal(p->outcome, LEDGER_OUTCOME_FAILED);
        const struct ledger_record *f = find(&rows, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_ENFORCEMENT_FAILED);
        assert_non_null(f);
        assert_string_equal(f->reason, "network-firewall");
        assert_non_null(find(&rows, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_CLOCK_JUMP));
        /* Every fault has a name, and names are unique (they are the records' reasons). */
        for (int i = 0; i < _FAULT_MAX; i++) {
                assert_string_not_equal(record_fault_to_string(i), "?");
                for (int j = 0; j < i; j++)
                        assert_string_not_equal(record_fault_to_string(i), record_fault_to_string(j));
        }
        struct json_object *faults = recorder_recent_faults(r);
        assert_int_equal(json_object_array_length(faults), 3);
        json_object_put(faults);
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

static void test_violations_carry_their_count(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct seen seen = {};
        struct rows rows;
        struct recorder *r = NULL;
        sd_event *e = NULL;
        struct net_identity id = { .ifindex = 7, .has_mac = true, .mac = { 2, 0, 0, 0, 0, 9 } };
        struct record_decision d;

        snprintf(id.name, sizeof id.name, "veth9");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        run(e, 1000);
        recorder_set_listener(r, on_record, &seen);
        record_decision_init(&d, NULL, VERDICT_BLOCK, "default network");
        recorder_net(r, NET_RECORD_VIOLATION, &id, &d, 0, 4321);
        run(e, 1000);
        assert_int_equal(seen.n, 1);
        assert_string_equal(seen.keys[0], "subject=network ifname=veth9 decision=block permit= count=4321");
        read_ledger(dir, &rows);
        const struct ledger_record *v = find(&rows, LEDGER_SUBJECT_NETWORK, LEDGER_EVENT_VIOLATION);
        assert_non_null(v);
        assert_int_equal(v->count, 4321);
        assert_string_equal(v->mac, "02:00:00:00:00:09");
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

/* A ledger that cannot be written: enforcement's reports still go out, a ledger-failing fault is
 * recorded once, and when it can be written again the retry timer writes everything, in order,
 * with the delay recorded. The marker stays while records are missing from the ledger. */
static void test_failing_sink_reports_anyway_and_catches_up(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *db = path_join(dir, "ledger.db");
        struct seen seen = {};
        struct rows rows;
        struct recorder *r = NULL;
        sd_event *e = NULL;
        struct usb_identity id = stick();
        struct record_decision d;

        assert_int_equal(mkdir(db, 0755), 0);       /* where the database should be: cannot open */
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        recorder_set_listener(r, on_record, &seen);
        record_decision_init(&d, NULL, VERDICT_BLOCK, "default usb_other");
        for (int i = 0; i < 3; i++)
                recorder_usb(r, USB_RECORD_CONNECTED, &id, &d, 0);
        run(e, 1000);
        unsigned reported = 0;
        for (unsigned i = 0; i < seen.n; i++)
                reported += streq(seen.events[i], "connected");
        assert_int_equal(reported, 3);                /* reported although nothing is on disk */
        struct json_object *status = recorder_ledger_status(r), *v;
        assert_true(json_object_object_get_ex(status, "error", &v) && v);
        assert_true(json_object_object_get_ex(status, "queued", &v) && json_object_get_int(v) >= 5);
        json_object_put(status);
        struct json_object *faults = recorder_recent_faults(r);
        unsigned failing = 0;
        for (size_t i = 0; i < json_object_array_length(faults); i++)
                failing += json_object_object_get_ex(json_object_array_get_idx(faults, i), "event", &v) &&
                           streq(json_object_get_string(v), "ledger-failing");
        assert_int_equal(failing, 1);
        json_object_put(faults);

        /* The disk is back: the retry timer (1 s) writes everything. */
        assert_int_equal(rmdir(db), 0);
        for (int i = 0; i < 40 && access(db, F_OK) < 0; i++)
                assert_true(sd_event_run(e, 100 * 1000) >= 0);
        run(e, 100 * 1000);
        read_ledger(dir, &rows);
        unsigned connected = 0;
        for (unsigned i = 0; i < rows.n; i++)
                connected += rows.r[i].event == LEDGER_EVENT_CONNECTED;
        assert_int_equal(connected, 3);
        assert_non_null(find(&rows, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_DELAYED));
        assert_non_null(find(&rows, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_FAULT));     /* ledger-failing */
        assert_true(find(&rows, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED)->seq <
                    find(&rows, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED)->seq);
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

static void test_a_run_that_did_not_stop_is_recorded_at_the_next_start(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp(), *marker = path_join(dir, "running");
        struct rows rows;
        struct recorder *r = NULL;
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        run(e, 1000);
        assert_int_equal(access(marker, F_OK), 0);
        recorder_free(r);                             /* as a kill -9: no stop recorded */
        assert_int_equal(access(marker, F_OK), 0);

        assert_int_equal(recorder_new(e, dir, &r), 0);
        run(e, 1000);
        recorder_stop(r, 0);
        recorder_free(r);
        assert_int_equal(access(marker, F_OK), -1);   /* a clean stop removes it */
        read_ledger(dir, &rows);
        const struct ledger_record *u = find(&rows, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_UNCLEAN_SHUTDOWN);
        assert_non_null(u);
        assert_non_null(strstr(u->message, "same boot"));
        assert_non_null(find(&rows, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STOPPED));
        sd_event_unref(e);
        test_rmdir_r(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decision_is_in_the_ledger_before_it_is_reported),
                cmocka_unit_test(test_permit_expiry_comes_from_the_decision_not_the_text),
                cmocka_unit_test(test_faults_take_subject_and_event_from_the_table),
                cmocka_unit_test(test_violations_carry_their_count),
                cmocka_unit_test(test_failing_sink_reports_anyway_and_catches_up),
                cmocka_unit_test(test_a_run_that_did_not_stop_is_recorded_at_the_next_start),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
