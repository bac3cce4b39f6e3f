/* SPDX-License-Identifier: MIT */
/* The policy parser and the canonical writer: valid policies, and for every malformed policy
 * the exact message an admin will read. Times are checked in Asia/Tokyo, where permits are
 * written. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "test-util.h"

#include "policy.h"
#include "policy-match.h"
#include "timeutil.h"

#define HEADER                                                  \
        "kyoka_policy = 1;\n"                                   \
        "serial = 42;\n"                                        \
        "issued = \"2026-11-20\";\n"                            \
        "issuer = \"木更津市 総務部 情報政策課\";\n"            \
        "contract = \"令和8年度 契約第123号\";\n"

/* Lines 6-12 of a policy that starts with HEADER. */
#define USB_ENTRY(permit, serial)                               \
        "usb = ( {\n"                                           \
        "  permit = \"" permit "\";\n"                          \
        "  vendor = \"0781\"; product = \"5581\";\n"            \
        "  serial = \"" serial "\";\n"                          \
        "  interfaces = [ \"08:06:50\" ];\n"                    \
        "  approved_by = \"情報政策課 山田\"; approved_on = \"2026-11-20\";\n" \
        "} );\n"

#define USB_OPEN "usb = ( {\n  permit = \"許可-2026-017\";\n  vendor = \"0781\"; product = \"5581\";\n  serial = \"4C53\";\n"
#define USB_APPROVAL "  approved_by = \"情報政策課 山田\"; approved_on = \"2026-11-20\";\n"

#define NET_OPEN "network = ( {\n  permit = \"許可-2026-020\";\n"
#define NET_APPROVAL "  approved_by = \"情報政策課 山田\"; approved_on = \"2026-11-20\";\n"

static int setup_tokyo(void **state) {
        setenv("TZ", "Asia/Tokyo", 1);
        tzset();
        return 0;
}

static struct policy *parse_ok(const char *text, struct policy_diag *diag) {
        struct policy *p = NULL;
        int r = policy_parse(text, strlen(text), "policy.conf", &p, diag);
        if (r < 0)
                for (size_t i = 0; i < diag->n_messages; i++)
                        print_error("%s\n", diag->messages[i]);
        assert_int_equal(r, 0);
        assert_non_null(p);
        return p;
}

static int64_t t_of(const char *s) {
        int64_t t;
        assert_int_equal(time_parse_iso8601(s, &t, NULL), 0);
        return t;
}

/* The error lines of DIAG (warnings left out), joined by newlines. */
static char *errors_joined(const struct policy_diag *d) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        bool first = true;
        for (size_t i = 0; i < d->n_messages; i++) {
                if (strstr(d->messages[i], ": warning: "))
                        continue;
                fprintf(f, "%s%s", first ? "" : "\n", d->messages[i]);
                first = false;
        }
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void test_minimal_policy_gets_safe_defaults(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER, &d);

        assert_int_equal(p->version, 1);
        assert_int_equal(p->serial, 42);
        assert_string_equal(p->issuer, "木更津市 総務部 情報政策課");
        assert_string_equal(p->contract, "令和8年度 契約第123号");
        assert_string_equal(p->issued_text, "2026-11-20");
        assert_true(p->issued == t_of("2026-11-20T00:00+09:00"));
        assert_null(p->workstation);
        assert_null(p->contractor);          /* optional: the report then leaves them blank */
        assert_null(p->responsible);
        assert_true(p->valid_until == TIME_INFINITY);
        assert_int_equal(p->default_usb_hid, POLICY_ALLOW);
        assert_int_equal(p->default_usb_hub, POLICY_ALLOW);
        assert_int_equal(p->default_usb_other, POLICY_BLOCK);
        assert_int_equal(p->default_network, POLICY_BLOCK);
        assert_int_equal(p->n_usb, 0);
        assert_int_equal(p->n_net, 0);
        assert_int_equal(d.n_messages, 0);
        assert_string_equal(p->source, "policy.conf");
        policy_free(p);
        policy_diag_done(&d);
}

static void test_defaults_are_read(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER "defaults = { usb_hid = \"block\"; usb_other = \"allow\"; network = \"allow\"; };\n", &d);

        assert_int_equal(p->default_usb_hid, POLICY_BLOCK);
        assert_int_equal(p->default_usb_hub, POLICY_ALLOW);       /* not given: the safe default */
        assert_int_equal(p->default_usb_other, POLICY_ALLOW);
        assert_int_equal(p->default_network, POLICY_ALLOW);
        assert_string_equal(policy_action_to_string(POLICY_ALLOW), "allow");
        assert_string_equal(policy_action_to_string(POLICY_BLOCK), "block");
        policy_free(p);
        policy_diag_done(&d);
}

static const char full_policy[] =
        "# 木更津市 委託業務用端末 ポリシー\n"
        "kyoka_policy = 1;\n"
        "serial = 7L;\n"
        "issued = \"2026-11-20T09:30\";\n"
        "issuer = \"木更津市 総務部 情報政策課\";\n"
        "contract = \"令和8年度 契約第123号 住民情報システム保守\";\n"
        "workstation = \"ws-017\";\n"
        "valid_until = \"2027-03-31\";\n"
        "defaults = { usb_hid = \"allow\"; usb_hub = \"allow\"; usb_other = \"block\"; network = \"block\"; };\n"
        "usb = (\n"
        "  {\n"
        "    permit = \"許可-2026-017\";\n"
        "    vendor = \"0781\"; product = \"5581\";\n"
        "    serial = \"4C530001230101115425\";\n"
        "    interfaces = [ \"08:06:50\", \"03:*:*\" ];\n"
        "    unlisted_interfaces = \"disable\";\n"
        "    access = \"read-only\";\n"
        "    label = \"SanDisk 32GB (保守作業用)\";\n"
        "    purpose = \"住民情報システムのログ回収\";\n"
        "    holder = \"株式会社かずさ情報 佐藤 花子\";\n"
        "    approved_by = \"情報政策課 山田 太郎\";\n"
        "    approved_on = \"2026-11-20\";\n"
        "    valid_from = \"2026-11-21\";\n"
        "    valid_until = \"2027-03-31\";\n"
        "  },\n"
        "  {\n"
        "    permit = \"許可-2026-018\";\n"
        "    vendor = \"04F9\"; product = \"0042\";\n"
        "    serial = \"\";\n"
        "    approved_by = \"情報政策課 山田 太郎\";\n"
        "    approved_on = \"2026-11-20T10:00+09:00\";\n"
        "  }\n"
        ");\n"
        "network = (\n"
        "  {\n"
        "    permit = \"許可-2026-020\";\n"
        "    mac = \"52:54:00:12:34:56\";\n"
        "    path = \"pci-0000:00:1f.6\";\n"
        "    label = \"庁内LAN 有線\";\n"
        "    approved_by = \"情報政策課 山田 太郎\";\n"
        "    approved_on = \"2026-11-20\";\n"
        "  },\n"
        "  { permit = \"許可-2026-021\"; kind = \"wireguard\"; name = \"wg*\";\n"
        "    approved_by = \"情報政策課 鈴木\"; approved_on = \"2026-11-20\"; valid_until = \"2026-12-28T18:00\"; }\n"
        ");\n"
        "contractor = \"株式会社かずさ情報\";\n"
        "responsible = \"情報管理責任者 技術部長 鈴木 一郎\";\n";

static void test_full_japanese_policy_is_read(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(full_policy, &d);

        assert_int_equal(p->serial, 7);
        assert_string_equal(p->workstation, "ws-017");
        assert_string_equal(p->contractor, "株式会社かずさ情報");
        assert_string_equal(p->responsible, "情報管理責任者 技術部長 鈴木 一郎");
        assert_true(p->issued == t_of("2026-11-20T09:30+09:00"));
        assert_int_equal(p->n_usb, 2);
        assert_int_equal(p->n_net, 2);

        const struct policy_usb_entry *u = &p->usb[0];
        assert_string_equal(u->approval.permit, "許可-2026-017");
        assert_int_equal(u->approval.line, 11);
        assert_int_equal(u->vendor, 0x0781);
        assert_int_equal(u->product, 0x5581);
        assert_string_equal(u->serial, "4C530001230101115425");
        assert_true(u->has_interfaces);
        assert_int_equal(u->n_interfaces, 2);
        assert_int_equal(u->interfaces[0].c.cls, 0x08);
        assert_int_equal(u->interfaces[0].c.subclass, 0x06);
        assert_int_equal(u->interfaces[0].c.protocol, 0x50);
        assert_false(u->interfaces[0].any_subclass);
        assert_int_equal(u->interfaces[1].c.cls, 0x03);
        assert_true(u->interfaces[1].any_subclass);
        assert_true(u->interfaces[1].any_protocol);
        assert_int_equal(u->unlisted, UNLISTED_DISABLE);
        assert_true(u->read_only);
        assert_string_equal(u->approval.label, "SanDisk 32GB (保守作業用)");
        assert_string_equal(u->approval.purpose, "住民情報システムのログ回収");
        assert_string_equal(u->approval.holder, "株式会社かずさ情報 佐藤 花子");
        assert_string_equal(u->approval.approved_by, "情報政策課 山田 太郎");
        assert_string_equal(u->approval.approved_on_text, "2026-11-20");
        assert_string_equal(u->approval.valid_from_text, "2026-11-21");
        assert_true(u->approval.valid_from == t_of("2026-11-21T00:00+09:00"));

        u = &p->usb[1];
        assert_int_equal(u->vendor, 0x04f9);
        assert_string_equal(u->serial, "");
        assert_false(u->has_interfaces);
        assert_false(u->read_only);
        assert_int_equal(u->unlisted, UNLISTED_BLOCK_DEVICE);
        assert_null(u->approval.label);
        assert_null(u->approval.holder);
        assert_true(u->approval.valid_from == TIME_NEG_INFINITY);
        assert_true(u->approval.valid_until == TIME_INFINITY);

        const struct policy_net_entry *n = &p->net[0];
        assert_true(n->has_mac);
        assert_memory_equal(n->mac, ((uint8_t[]) { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }), 6);
        assert_string_equal(n->path, "pci-0000:00:1f.6");
        assert_null(n->kind);
        assert_null(n->name);
        n = &p->net[1];
        assert_false(n->has_mac);
        assert_string_equal(n->kind, "wireguard");
        assert_string_equal(n->name, "wg*");
        assert_true(n->approval.valid_until == t_of("2026-12-28T18:00+09:00"));

        assert_ptr_equal(policy_find_usb_permit(p, "許可-2026-018"), &p->usb[1]);
        assert_ptr_equal(policy_find_net_permit(p, "許可-2026-021"), &p->net[1]);
        assert_null(policy_find_usb_permit(p, "許可-2026-020"));
        assert_null(policy_find_net_permit(p, "許可-9999"));
        policy_free(p);
        policy_diag_done(&d);
}

/* usb[1] has serial "" and no interfaces: both are allowed, but an admin must see them. */
static void test_full_policy_warns_about_empty_serial_and_missing_interfaces(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(full_policy, &d);

        assert_int_equal(d.n_errors, 0);
        assert_int_equal(d.n_warnings, 2);
        assert_int_equal(d.n_messages, 2);
        assert_string_equal(d.messages[0], "policy.conf:26: warning: usb[1].interfaces: not given: any interface set is approved (a storage device that is also a keyboard would pass)");
        assert_string_equal(d.messages[1], "policy.conf:29: warning: usb[1].serial: \"\" approves every unit of this model that reports no serial number (a clone needs only vendor:product): binding it to its port narrows it (path; policyctl approve --bind-port)");
        policy_free(p);
        policy_diag_done(&d);
}

static void test_unlisted_interfaces_without_interfaces_warns(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER USB_OPEN "  unlisted_interfaces = \"disable\";\n" USB_APPROVAL "} );\n", &d);

        assert_int_equal(d.n_warnings, 2);
        assert_string_equal(d.messages[1], "policy.conf:10: warning: usb[0].unlisted_interfaces: has no effect without interfaces");
        policy_free(p);
        policy_diag_done(&d);
}

#define PORT "pci-0000:00:14.0-usb-0:2.1"

/* A permit bound to a port, with raw HID for the user; another without either. */
static void test_port_and_hidraw_are_read(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER
                "usb = ( {\n"
                "  permit = \"許可-2026-030\"; vendor = \"1050\"; product = \"0407\"; serial = \"\";\n"
                "  path = \"" PORT "\";\n"
                "  interfaces = [ \"03:*:*\" ]; hidraw = \"user\";\n"
                USB_APPROVAL "},\n"
                "{ permit = \"許可-2026-031\"; vendor = \"1050\"; product = \"0407\"; serial = \"S2\";\n"
                "  interfaces = [ \"03:*:*\" ]; hidraw = \"root\";\n"
                USB_APPROVAL "} );\n", &d);

        assert_string_equal(p->usb[0].path, PORT);
        assert_true(p->usb[0].hidraw_user);
        assert_null(p->usb[1].path);
        assert_false(p->usb[1].hidraw_user);
        /* serial "" on a port: still a warning, naming the port. */
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(d.n_warnings, 1);
        assert_string_equal(d.messages[0], "policy.conf:7: warning: usb[0].serial: \"\" approves every unit of this model that "
                                           "reports no serial number, on port \"" PORT "\"");
        policy_free(p);
        policy_diag_done(&d);
}

/* scan: on a permit, on a media permit and in the defaults, with the bounds of the scan group;
 * the canonical form keeps them and reads back the same. */
static void test_scan_keys_are_read_and_written(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER
                "defaults = { usb_other = \"block\"; scan = \"required\"; };\n"
                "scan = { max_seconds = 120; max_megabytes = 4096; max_database_days = 0; };\n"
                USB_OPEN "  scan = \"none\";\n" USB_APPROVAL "},\n"
                "{ permit = \"P2\"; vendor = \"0781\"; product = \"5581\"; serial = \"S2\"; scan = \"required\";\n"
                USB_APPROVAL "} );\n"
                "media = ( { permit = \"SD\"; bus = \"mmc\"; serial = \"0x1\"; scan = \"required\"; " USB_APPROVAL "} );\n", &d);
        char *text = NULL, *again = NULL;

        assert_int_equal(d.n_errors, 0);
        assert_int_equal(p->default_scan, POLICY_SCAN_REQUIRED);
        assert_int_equal(p->scan_limits.max_seconds, 120);
        assert_int_equal(p->scan_limits.max_megabytes, 4096);
        assert_int_equal(p->scan_limits.max_database_days, 0);
        assert_int_equal(p->usb[0].scan, POLICY_SCAN_NONE);
        assert_int_equal(p->usb[1].scan, POLICY_SCAN_REQUIRED);
        assert_int_equal(p->media[0].scan, POLICY_SCAN_REQUIRED);

        assert_int_equal(policy_write(p, &text), 0);
        assert_non_null(strstr(text, "        scan = \"required\";\n};\n"));
        assert_non_null(strstr(text, "max_seconds = 120;"));
        struct policy *q = parse_ok(text, &d);
        assert_int_equal(q->default_scan, POLICY_SCAN_REQUIRED);
        assert_int_equal(q->scan_limits.max_seconds, 120);
        assert_int_equal(q->scan_limits.max_database_days, 0);
        assert_int_equal(q->usb[0].scan, POLICY_SCAN_NONE);
        assert_int_equal(q->usb[1].scan, POLICY_SCAN_REQUIRED);
        assert_int_equal(q->media[0].scan, POLICY_SCAN_REQUIRED);
        assert_int_equal(policy_write(q, &again), 0);
        assert_string_equal(text, again);
        free(text);
        free(again);
        policy_free(p);
        policy_free(q);
        policy_diag_done(&d);
}

/* scan = "in-and-out" (before use, and each file written): on a permit and in the defaults, kept
 * by the canonical form. */
static void test_scan_in_and_out_is_read_and_written(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER
                "defaults = { usb_other = \"block\"; scan = \"in-and-out\"; };\n"
                USB_OPEN "  scan = \"in-and-out\";\n" USB_APPROVAL "},\n"
                "{ permit = \"P2\"; vendor = \"0781\"; product = \"5581\"; serial = \"S2\"; scan = \"required\";\n"
                USB_APPROVAL "} );\n", &d);
        char *text = NULL, *again = NULL;

        assert_int_equal(d.n_errors, 0);
        assert_int_equal(p->default_scan, POLICY_SCAN_IN_AND_OUT);
        assert_int_equal(p->usb[0].scan, POLICY_SCAN_IN_AND_OUT);
        assert_int_equal(p->usb[1].scan, POLICY_SCAN_REQUIRED);
        assert_string_equal(policy_scan_to_string(p->usb[0].scan), "in-and-out");
        assert_null(policy_scan_to_string(POLICY_SCAN_DEFAULT));
        assert_int_equal(policy_write(p, &text), 0);
        assert_non_null(strstr(text, "        scan = \"in-and-out\";\n};\n"));
        struct policy *q = parse_ok(text, &d);
        assert_int_equal(q->default_scan, POLICY_SCAN_IN_AND_OUT);
        assert_int_equal(q->usb[0].scan, POLICY_SCAN_IN_AND_OUT);
        assert_int_equal(policy_write(q, &again), 0);
        assert_string_equal(text, again);
        free(text);
        free(again);
        policy_free(p);
        policy_free(q);
        policy_diag_done(&d);
}

/* Without any of it: no scan, the default bounds, and the canonical form says nothing of scans. */
static void test_scan_defaults(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER USB_OPEN USB_APPROVAL "} );\n", &d);
        char *text = NULL;

        assert_int_equal(policy_scan_effective(p, POLICY_SCAN_DEFAULT), POLICY_SCAN_NONE);
        assert_int_equal(p->usb[0].scan, POLICY_SCAN_DEFAULT);
        assert_int_equal(p->scan_limits.max_seconds, POLICY_SCAN_SECONDS_DEFAULT);
        assert_int_equal(p->scan_limits.max_megabytes, POLICY_SCAN_MEGABYTES_DEFAULT);
        assert_int_equal(p->scan_limits.max_database_days, POLICY_SCAN_DATABASE_DAYS_DEFAULT);
        assert_int_equal(policy_write(p, &text), 0);
        assert_null(strstr(text, "scan"));
        free(text);
        policy_free(p);
        policy_diag_done(&d);
}

/* Raw HID for the user is about HID interfaces: an entry approving none gets a warning. */
static void test_hidraw_user_without_hid_interface_warns(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ];\n  hidraw = \"user\";\n" USB_APPROVAL "} );\n", &d);

        assert_true(p->usb[0].hidraw_user);
        assert_int_equal(d.n_warnings, 1);
        assert_string_equal(d.messages[0], "policy.conf:11: warning: usb[0].hidraw: has no effect: interfaces approves no HID interface (03:*:*)");
        policy_free(p);
        policy_diag_done(&d);
}

/* One serial-less model on two ports, each with its permit, at the same time: not an overlap,
 * since one plug is on one port. */
static void test_same_device_on_two_ports_may_overlap(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER
                "usb = (\n"
                "  { permit = \"許可-1\"; vendor = \"0781\"; product = \"5581\"; serial = \"\"; path = \"pci-0000:00:14.0-usb-0:1\";\n"
                "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-04-01\"; },\n"
                "  { permit = \"許可-2\"; vendor = \"0781\"; product = \"5581\"; serial = \"\"; path = \"pci-0000:00:14.0-usb-0:2\";\n"
                "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-04-01\"; }\n"
                ");\n", &d);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(p->n_usb, 2);
        policy_free(p);
        policy_diag_done(&d);
}

static void test_date_only_valid_until_runs_through_that_day(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER "valid_until = \"2027-03-31\";\n"
                                    USB_OPEN "  valid_from = \"2026-11-21\"; valid_until = \"2027-03-31\";\n" USB_APPROVAL "} );\n",
                                    &d);

        /* Exclusive end: midnight at the start of April 1st, Tokyo time. */
        int64_t end = t_of("2027-04-01T00:00+09:00");
        assert_true(p->valid_until == end);
        assert_string_equal(p->valid_until_text, "2027-03-31");
        assert_true(p->usb[0].approval.valid_until == end);
        assert_true(p->usb[0].approval.valid_from == t_of("2026-11-21T00:00+09:00"));
        assert_int_equal(policy_check_applicable(p, end - 1, NULL, NULL), 0);
        assert_int_equal(policy_check_applicable(p, end, NULL, NULL), -EKEYEXPIRED);
        policy_free(p);
        policy_diag_done(&d);
}

/* The parser caches date conversions: the same text as a start and as an (inclusive) end must
 * still mean two different instants, and more distinct dates than the cache holds must each
 * come out right. */
static void test_repeated_dates_as_start_and_end(void **state) {
        _cleanup_free_ char *text = NULL;
        struct policy_diag d = {};
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        fputs(HEADER "usb = (\n", f);
        for (int i = 0; i < 40; i++)
                fprintf(f, "%s{ permit = \"P-%d\"; vendor = \"0781\"; product = \"5581\"; serial = \"S%d\";\n"
                        "  interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-11-%02d\";\n"
                        "  valid_from = \"2026-12-%02d\"; valid_until = \"2026-12-%02d\"; }\n",
                        i ? "," : "", i, i, 1 + i % 20, 1 + i % 25, 2 + i % 25);
        fputs(");\n", f);
        assert_int_equal(fclose(f), 0);

        struct policy *p = parse_ok(text, &d);
        assert_int_equal(p->n_usb, 40);
        for (int i = 0; i < 40; i++) {
                char from[40], until_next[40], on[40];
                snprintf(on, sizeof on, "2026-11-%02dT00:00+09:00", 1 + i % 20);
                snprintf(from, sizeof from, "2026-12-%02dT00:00+09:00", 1 + i % 25);
                /* valid_until "2026-12-N" runs through that day: the next midnight */
                snprintf(until_next, sizeof until_next, "2026-12-%02dT00:00+09:00", 3 + i % 25);
                assert_true(p->usb[i].approval.approved_on == t_of(on));
                assert_true(p->usb[i].approval.valid_from == t_of(from));
                assert_true(p->usb[i].approval.valid_until == t_of(until_next));
        }
        policy_free(p);
        policy_diag_done(&d);
}

static void test_valid_until_with_time_is_exact(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER USB_OPEN "  valid_until = \"2027-03-31T17:15\";\n" USB_APPROVAL "} );\n", &d);

        assert_true(p->usb[0].approval.valid_until == t_of("2027-03-31T17:15+09:00"));
        policy_free(p);
        policy_diag_done(&d);
}

static void test_workstation_binds_hostname_or_machine_id(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER "workstation = \"WS-017\";\n", &d);
        struct policy *m = parse_ok(HEADER "workstation = \"0123456789abcdef0123456789ABCDEF\";\n", &d);

        assert_int_equal(policy_check_applicable(p, 0, "ws-017", NULL), 0);
        assert_int_equal(policy_check_applicable(p, 0, "ws-018", "0123456789abcdef0123456789abcdef"), -EXDEV);
        assert_int_equal(policy_check_applicable(p, 0, NULL, NULL), -EXDEV);
        assert_int_equal(policy_check_applicable(m, 0, "ws-018", "0123456789abcdef0123456789abcdef"), 0);
        policy_free(p);
        policy_free(m);
        policy_diag_done(&d);
}

/* One signed file for a fleet: the policy names its workstations, entries may name some. */
static void test_workstation_list_and_entries_for_some(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER "workstation = [ \"ws-01\", \"ws-02\", \"0123456789abcdef0123456789abcdef\" ];\n"
                                    "usb = ( { permit = \"A\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\";\n"
                                    "          workstations = [ \"ws-01\" ];\n" USB_APPROVAL "},\n"
                                    "        { permit = \"B\"; vendor = \"0781\"; product = \"5581\"; serial = \"S2\";\n"
                                    USB_APPROVAL "} );\n"
                                    NET_OPEN "  mac = \"02:00:00:00:00:01\"; workstations = [ \"WS-02\" ];\n" NET_APPROVAL "} );\n", &d);

        assert_int_equal(p->n_workstations, 3);
        assert_string_equal(p->workstation, "ws-01, ws-02, 0123456789abcdef0123456789abcdef");
        assert_int_equal(policy_check_applicable(p, 0, "ws-02", NULL), 0);
        assert_int_equal(policy_check_applicable(p, 0, "ws-09", "0123456789ABCDEF0123456789ABCDEF"), 0);
        assert_int_equal(policy_check_applicable(p, 0, "ws-09", NULL), -EXDEV);
        assert_int_equal(p->usb[0].approval.n_workstations, 1);
        assert_int_equal(p->usb[1].approval.n_workstations, 0);

        /* On ws-02: A (ws-01 only) is dropped, B (every workstation) and the link stay. */
        assert_int_equal(policy_restrict_to_host(p, "ws-02", NULL), 1);
        assert_int_equal(p->n_usb, 1);
        assert_string_equal(p->usb[0].approval.permit, "B");
        assert_int_equal(p->n_net, 1);
        /* The indices follow: B matches, A's device does not. */
        struct usb_identity id = { .vendor = 0x0781, .product = 0x5581, .has_serial = true, .serial = "S2",
                                   .n_interfaces = 1, .interfaces = { { 8, 6, 0x50 } } };
        struct policy_decision dec;
        policy_match_usb(p, &id, 0, &dec);
        assert_int_equal(dec.verdict, VERDICT_ALLOW);
        strcpy(id.serial, "S1");
        policy_match_usb(p, &id, 0, &dec);
        assert_int_equal(dec.verdict, VERDICT_BLOCK);
        /* On ws-01 the link (WS-02 only) would be dropped. */
        assert_int_equal(policy_restrict_to_host(p, "ws-01", NULL), 1);
        assert_int_equal(p->n_net, 0);

        /* The canonical writer keeps the lists. */
        policy_free(p);
        p = parse_ok(HEADER "workstation = [ \"ws-01\", \"ws-02\" ];\n"
                     USB_OPEN "  workstations = [ \"ws-02\" ];\n" USB_APPROVAL "} );\n", &d);
        char *out = NULL;
        assert_int_equal(policy_write(p, &out), 0);
        assert_non_null(strstr(out, "workstation = [ \"ws-01\", \"ws-02\" ];\n"));
        assert_non_null(strstr(out, "        workstations = [ \"ws-02\" ];\n"));
        struct policy *again = parse_ok(out, &d);
        assert_int_equal(again->n_workstations, 2);
        assert_int_equal(again->usb[0].approval.n_workstations, 1);
        free(out);
        policy_free(again);
        policy_free(p);
        policy_diag_done(&d);
}

static void test_serial_above_32_bits_needs_l_suffix(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok("kyoka_policy = 1;\nserial = 99999999999L;\nissued = \"2026-11-20\";\n"
                                    "issuer = \"x\";\ncontract = \"y\";\n", &d);

        assert_true(p->serial == UINT64_C(99999999999));
        policy_free(p);
        policy_diag_done(&d);
}

static void test_parse_file_reads_the_file(void **state) {
        char *dir = test_mkdtemp();
        char *path = test_write(dir, "policy.conf", full_policy, strlen(full_policy));
        struct policy_diag d = {};
        struct policy *p = NULL;

        assert_int_equal(policy_parse_file(path, &p, &d), 0);
        assert_string_equal(p->source, path);
        assert_int_equal(p->n_usb, 2);
        policy_free(p);
        policy_diag_done(&d);
        free(path);
        test_rmdir_r(dir);
        free(dir);
}

static void test_error_leaves_ret_untouched(void **state) {
        struct policy_diag d = {};
        struct policy *p = (struct policy *) 0x1;
        const char text[] = HEADER "serial2 = 1;\n";

        assert_int_equal(policy_parse(text, strlen(text), "policy.conf", &p, &d), -EINVAL);
        assert_ptr_equal(p, (struct policy *) 0x1);
        assert_int_equal(d.n_errors, 1);
        policy_diag_done(&d);
        /* Without a diag the verdict is the same. */
        assert_int_equal(policy_parse(text, strlen(text), "policy.conf", &p, NULL), -EINVAL);
}

struct bad_case {
        const char *name;
        const char *text;
        size_t len;                   /* 0: strlen(text) */
        const char *expected;         /* every error line, in order */
};

static char long_label[] = HEADER USB_OPEN "  label = \"" /* 1025 x "a" */;
static char interfaces_33[2048];

static const struct bad_case bad_cases[] = {
        { "syntax error", HEADER "label \"x\";\n", 0, "policy.conf:6: syntax error" },
        { "duplicate setting", HEADER "issuer = \"again\";\n", 0, "policy.conf:6: duplicate setting name" },
        { "workstation list empty", HEADER "workstation = [ ];\n", 0,
          "policy.conf:6: workstation: empty: name at least one workstation, or omit the key" },
        { "workstation list with a bad name", HEADER "workstation = [ \"ws-01\", \"ws 02\" ];\n", 0,
          "policy.conf:6: workstation[1]: expected a hostname or a 32-hex-digit machine-id, got \"ws 02\"" },
        { "workstation named twice", HEADER "workstation = [ \"ws-01\", \"WS-01\" ];\n", 0,
          "policy.conf:6: workstation[1]: \"WS-01\" is named twice" },
        { "workstation as a number", HEADER "workstation = 7;\n", 0,
          "policy.conf:6: workstation: expected a host name or machine-id, or an array of them, e.g. [ \"ws-01\", \"ws-02\" ]" },
        { "entry for a workstation the policy is not for", HEADER "workstation = [ \"ws-01\", \"ws-02\" ];\n"
          USB_OPEN "  workstations = [ \"ws-03\" ];\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:7: usb[0].workstations: \"ws-03\" is not one of the policy's workstations (ws-01, ws-02)" },
        { "embedded NUL", HEADER "label = \"a\0b\";\n", sizeof(HEADER "label = \"a\0b\";\n") - 1,
          "policy.conf:6: contains a NUL byte" },
        { "@include", HEADER "  @include \"/etc/kyoka/extra.conf\"\n", 0,
          "policy.conf:6: @include is refused: an included file would not be covered by the signature" },
        { "@include after other @s", HEADER "contractor = \"a@b @includ\";\n  @include \"/etc/kyoka/extra.conf\"\n", 0,
          "policy.conf:7: @include is refused: an included file would not be covered by the signature" },
        { "version 2", "kyoka_policy = 2;\nserial = 42;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:1: kyoka_policy: unsupported format version 2 (this kyoka reads 1)" },
        { "version missing", "serial = 42;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:1: kyoka_policy: missing (required)" },
        { "version as string", "kyoka_policy = \"1\";\nserial = 42;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:1: kyoka_policy: expected an integer" },
        { "version wraps 32 bits", "kyoka_policy = 4294967297;\nserial = 42;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:1: kyoka_policy: does not fit a 32-bit integer: write it with an L suffix (42L)" },
        { "serial zero", "kyoka_policy = 1;\nserial = 0;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:2: serial: must be a positive integer, got 0" },
        { "serial negative", "kyoka_policy = 1;\nserial = -3L;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:2: serial: must be a positive integer, got -3" },
        { "serial truncated by libconfig", "kyoka_policy = 1;\nserial = 99999999999;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:2: serial: does not fit a 32-bit integer: write it with an L suffix (42L)" },
        { "serial truncated, after another key on its line", "kyoka_policy = 1;\nxserial = 1; serial = 99999999999;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:2: xserial: unknown key\npolicy.conf:2: serial: does not fit a 32-bit integer: write it with an L suffix (42L)" },
        { "serial float", "kyoka_policy = 1;\nserial = 4.2;\nissued = \"2026-11-20\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:2: serial: expected an integer" },
        { "issued impossible date", "kyoka_policy = 1;\nserial = 1;\nissued = \"2026-02-30\";\nissuer = \"x\";\ncontract = \"y\";\n", 0,
          "policy.conf:3: issued: expected a date \"YYYY-MM-DD\" or a time \"YYYY-MM-DDTHH:MM[:SS][+HH:MM]\", got \"2026-02-30\"" },
        { "issuer empty", "kyoka_policy = 1;\nserial = 1;\nissued = \"2026-11-20\";\nissuer = \"\";\ncontract = \"y\";\n", 0,
          "policy.conf:4: issuer: must not be empty" },
        { "contract and issued missing", "kyoka_policy = 1;\nserial = 1;\nissuer = \"x\";\n", 0,
          "policy.conf:1: issued: missing (required)\npolicy.conf:1: contract: missing (required)" },
        { "unknown top key", HEADER "serials = 43;\n", 0, "policy.conf:6: serials: unknown key" },
        { "contractor not a string", HEADER "contractor = 5;\n", 0, "policy.conf:6: contractor: expected a string" },
        { "responsible with a control character", HEADER "responsible = \"a\\tb\";\n", 0,
          "policy.conf:6: responsible: contains a control character: \"a\\x09b\"" },
        /* (text is checked eight ASCII bytes at a time: a control anywhere in a long run) */
        { "contractor with DEL past eight bytes", HEADER "contractor = \"0123456789\x7f" "abcdefgh\";\n", 0,
          "policy.conf:6: contractor: contains a control character: \"0123456789\\x7fabcdefgh\"" },
        { "contractor with ESC at the end of a run", HEADER "contractor = \"0123456\x1b\";\n", 0,
          "policy.conf:6: contractor: contains a control character: \"0123456\\x1b\"" },
        { "workstation with a space", HEADER "workstation = \"ws 017\";\n", 0,
          "policy.conf:6: workstation: expected a hostname or a 32-hex-digit machine-id, got \"ws 017\"" },
        { "policy valid_until malformed", HEADER "valid_until = \"31.03.2027\";\n", 0,
          "policy.conf:6: valid_until: expected a date \"YYYY-MM-DD\" or a time \"YYYY-MM-DDTHH:MM[:SS][+HH:MM]\", got \"31.03.2027\"" },
        { "defaults not a group", HEADER "defaults = \"allow\";\n", 0,
          "policy.conf:6: defaults: expected a group { usb_hid = \"allow\"; ... }" },
        { "defaults bad value", HEADER "defaults = {\n usb_hid = \"maybe\";\n};\n", 0,
          "policy.conf:7: defaults.usb_hid: expected \"allow\" or \"block\", got \"maybe\"" },
        { "defaults unknown key", HEADER "defaults = { usb_storage = \"allow\"; };\n", 0,
          "policy.conf:6: defaults.usb_storage: unknown key" },
        { "usb not a list", HEADER "usb = { permit = \"x\"; };\n", 0,
          "policy.conf:6: usb: expected a list of groups: usb = ( { ... }, { ... } );" },
        { "usb element not a group", HEADER "usb = ( \"許可-1\" );\n", 0, "policy.conf:6: usb[0]: expected a group { ... }" },
        { "vendor not hex", HEADER "usb = ( {\n  permit = \"許可-2026-017\";\n  vendor = \"78x1\"; product = \"5581\";\n  serial = \"4C53\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:8: usb[0].vendor: expected 4 hex digits, got \"78x1\"" },
        { "product five digits", HEADER "usb = ( {\n  permit = \"許可-2026-017\";\n  vendor = \"0781\"; product = \"55811\";\n  serial = \"4C53\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:8: usb[0].product: expected 4 hex digits, got \"55811\"" },
        { "vendor as a number", HEADER "usb = ( {\n  permit = \"許可-2026-017\";\n  vendor = 0x0781; product = \"5581\";\n  serial = \"4C53\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:8: usb[0].vendor: expected a string" },
        { "usb serial missing", HEADER "usb = ( {\n  permit = \"許可-2026-017\";\n  vendor = \"0781\"; product = \"5581\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:6: usb[0].serial: missing (required)" },
        { "usb serial too long", HEADER USB_ENTRY("許可-2026-017",
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890"), 0,
          "policy.conf:9: usb[0].serial: longer than 255 bytes" },
        { "interface triple malformed", HEADER USB_OPEN "  interfaces = [ \"08:06:50\", \"8:6:50\" ];\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].interfaces[1]: expected \"CC:SS:PP\" (2 hex digits each, SS and PP may be \"*\"), got \"8:6:50\"" },
        { "interface class wildcard", HEADER USB_OPEN "  interfaces = [ \"*:*:*\" ];\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].interfaces[0]: expected \"CC:SS:PP\" (2 hex digits each, SS and PP may be \"*\"), got \"*:*:*\"" },
        { "interfaces empty", HEADER USB_OPEN "  interfaces = [ ];\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].interfaces: empty: list at least one interface, or omit the key" },
        { "interfaces not an array", HEADER USB_OPEN "  interfaces = \"08:06:50\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].interfaces: expected an array of strings, e.g. [ \"08:06:50\" ]" },
        { "unlisted_interfaces bad", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; unlisted_interfaces = \"ignore\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].unlisted_interfaces: expected \"block-device\" or \"disable\", got \"ignore\"" },
        { "access bad", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; access = \"write\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].access: expected \"read-write\" or \"read-only\", got \"write\"" },
        { "hidraw bad", HEADER USB_OPEN "  interfaces = [ \"03:*:*\" ]; hidraw = \"everyone\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].hidraw: expected \"root\" or \"user\", got \"everyone\"" },
        { "scan bad", HEADER USB_OPEN "  scan = \"yes\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].scan: expected \"none\", \"required\" or \"in-and-out\", got \"yes\"" },
        { "defaults.scan bad", HEADER "defaults = { scan = \"allow\"; };\n", 0,
          "policy.conf:6: defaults.scan: expected \"none\", \"required\" or \"in-and-out\", got \"allow\"" },
        { "scan limit out of range", HEADER "scan = { max_seconds = 0; };\n", 0,
          "policy.conf:6: scan.max_seconds: must be 1..86400, got 0" },
        { "scan unknown key", HEADER "scan = { max_files = 3; };\n", 0,
          "policy.conf:6: scan.max_files: unknown key" },
        { "scan not a group", HEADER "scan = \"required\";\n", 0,
          "policy.conf:6: scan: expected a group { max_seconds = 900; ... }" },
        { "hidraw as a boolean", HEADER USB_OPEN "  interfaces = [ \"03:*:*\" ]; hidraw = true;\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].hidraw: expected a string" },
        { "usb path empty", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; path = \"\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].path: must not be empty" },
        { "usb path too long", HEADER USB_OPEN "  path = \"pci-0000:00:14.0-usb-0:1.2.3.4.5-0123456789012345678901234567890123456789"
          "01234567890123456789012345678901234567890123456789012345678901234\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].path: longer than 127 bytes" },
        { "same device on the same port, overlapping windows", HEADER
          "usb = (\n"
          "  { permit = \"許可-1\"; vendor = \"0781\"; product = \"5581\"; serial = \"\"; path = \"pci-0000:00:14.0-usb-0:1\";\n"
          "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-04-01\"; valid_until = \"2027-03-31\"; },\n"
          "  { permit = \"許可-2\"; vendor = \"0781\"; product = \"5581\"; serial = \"\"; path = \"pci-0000:00:14.0-usb-0:1\";\n"
          "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-11-20\"; valid_from = \"2027-03-01\"; }\n"
          ");\n", 0,
          "policy.conf:9: usb[1]: device 0781:5581 serial \"\" is also approved by usb[0] (line 7) for an overlapping time" },
        { "same device on any port and on one port, overlapping windows", HEADER
          "usb = (\n"
          "  { permit = \"許可-1\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\"; path = \"pci-0000:00:14.0-usb-0:1\";\n"
          "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-04-01\"; valid_from = \"2027-03-01\"; },\n"
          "  { permit = \"許可-2\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\";\n"
          "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-04-01\"; valid_until = \"2026-12-31\"; },\n"
          "  { permit = \"許可-3\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\";\n"
          "    interfaces = [ \"08:06:50\" ]; approved_by = \"山田\"; approved_on = \"2026-04-01\"; valid_from = \"2027-01-01\";\n"
          "    valid_until = \"2027-03-31\"; }\n"
          ");\n", 0,
          "policy.conf:7: usb[0]: device 0781:5581 serial \"S1\" is also approved by usb[2] (line 11) for an overlapping time" },
        { "usb unknown key", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; colour = \"red\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].colour: unknown key" },
        { "approved_by missing", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ];\n  approved_on = \"2026-11-20\";\n} );\n", 0,
          "policy.conf:6: usb[0].approved_by: missing (required)" },
        { "approved_on malformed", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ];\n  approved_by = \"山田\"; approved_on = \"令和8年11月20日\";\n} );\n", 0,
          "policy.conf:11: usb[0].approved_on: expected a date \"YYYY-MM-DD\" or a time \"YYYY-MM-DDTHH:MM[:SS][+HH:MM]\", got \"令和8年11月20日\"" },
        { "valid_from after valid_until", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ];\n  valid_from = \"2027-04-01\";\n  valid_until = \"2027-03-31\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:11: usb[0].valid_from: \"2027-04-01\" is not before valid_until \"2027-03-31\"" },
        { "permit empty", HEADER USB_ENTRY("", "4C53"), 0, "policy.conf:7: usb[0].permit: must not be empty" },
        { "duplicate permit across lists", HEADER USB_ENTRY("許可-2026-017", "4C53")
          "network = ( {\n  permit = \"許可-2026-017\";\n  kind = \"veth\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:14: network[0].permit: duplicate permit \"許可-2026-017\" (first at line 7)" },
        { "same device overlapping windows", HEADER
          "usb = (\n"
          "  { permit = \"許可-1\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\"; interfaces = [ \"08:06:50\" ];\n"
          "    approved_by = \"山田\"; approved_on = \"2026-04-01\"; valid_until = \"2027-03-31\"; },\n"
          "  { permit = \"許可-2\"; vendor = \"0781\"; product = \"5581\"; serial = \"S1\"; interfaces = [ \"08:06:50\" ];\n"
          "    approved_by = \"山田\"; approved_on = \"2026-11-20\"; valid_from = \"2027-03-31\"; }\n"
          ");\n", 0,
          "policy.conf:9: usb[1]: device 0781:5581 serial \"S1\" is also approved by usb[0] (line 7) for an overlapping time" },
        { "invalid UTF-8", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; label = \"\xe8\xa8\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].label: invalid UTF-8: \"\\xe8\\xa8\"" },
        { "control character", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; purpose = \"log\\x1b[31m\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].purpose: contains a control character: \"log\\x1b[31m\"" },
        { "bidi override", HEADER USB_OPEN "  interfaces = [ \"08:06:50\" ]; holder = \"佐藤\xe2\x80\xae\";\n" USB_APPROVAL "} );\n", 0,
          "policy.conf:10: usb[0].holder: contains a control character: \"佐藤\\xe2\\x80\\xae\"" },
        { "network without identity", HEADER NET_OPEN NET_APPROVAL "} );\n", 0,
          "policy.conf:6: network[0]: needs at least one of mac, path, kind, name" },
        { "mac malformed", HEADER NET_OPEN "  mac = \"52:54:00:12:34\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:8: network[0].mac: expected a MAC address \"aa:bb:cc:dd:ee:ff\", got \"52:54:00:12:34\"" },
        { "name too long", HEADER NET_OPEN "  name = \"enx0123456789abc\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:8: network[0].name: longer than 15 bytes" },
        { "kind empty", HEADER NET_OPEN "  kind = \"\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:8: network[0].kind: must not be empty" },
        { "network not a list", HEADER "network = [ \"veth\" ];\n", 0,
          "policy.conf:6: network: expected a list of groups: network = ( { ... }, { ... } );" },
        { "several problems in file order", HEADER
          "usb = ( {\n"
          "  permit = \"許可-2026-017\";\n"
          "  vendor = \"ABCD\"; product = \"xyz\";\n"
          "  serial = 42;\n"
          "  interfaces = [ \"08:06:50\" ];\n"
          "  approved_by = \"山田\";\n"
          "  valid_until = \"2027-02-29\";\n"
          "} );\n"
          "defaults = { usb_hub = \"block\"; network = 1; };\n", 0,
          "policy.conf:6: usb[0].approved_on: missing (required)\n"
          "policy.conf:8: usb[0].product: expected 4 hex digits, got \"xyz\"\n"
          "policy.conf:9: usb[0].serial: expected a string\n"
          "policy.conf:12: usb[0].valid_until: expected a date \"YYYY-MM-DD\" or a time \"YYYY-MM-DDTHH:MM[:SS][+HH:MM]\", got \"2027-02-29\"\n"
          "policy.conf:14: defaults.network: expected a string" },
        { "wireless without ssid", HEADER "wireless = ( { permit = \"W-1\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:6: wireless[0]: needs ssid (text) or ssid_hex" },
        { "wireless with ssid and ssid_hex", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"a\"; ssid_hex = \"61\";\n"
          NET_APPROVAL "} );\n", 0, "policy.conf:6: wireless[0]: has both ssid and ssid_hex: give one" },
        { "wireless ssid too long", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"0123456789abcdef0123456789abcdefX\";\n"
          NET_APPROVAL "} );\n", 0, "policy.conf:6: wireless[0].ssid: longer than 32 bytes (an SSID's limit)" },
        { "wireless ssid with control character", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"a\\x1bb\";\n"
          NET_APPROVAL "} );\n", 0, "policy.conf:6: wireless[0].ssid: contains a control character: \"a\\x1bb\"" },
        { "wireless ssid_hex odd", HEADER "wireless = ( { permit = \"W-1\"; ssid_hex = \"616\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:6: wireless[0].ssid_hex: expected 2 to 64 hex digits (1 to 32 bytes), got \"616\"" },
        { "wireless bssid bad", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"a\"; bssid = [ \"02:00:00:00:00\" ];\n"
          NET_APPROVAL "} );\n", 0,
          "policy.conf:6: wireless[0].bssid[0]: expected a MAC address \"aa:bb:cc:dd:ee:ff\", got \"02:00:00:00:00\"" },
        { "wireless bssid empty", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"a\"; bssid = [ ];\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:6: wireless[0].bssid: empty: list at least one access point, or omit the key (any)" },
        { "wireless security unknown", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"a\"; security = \"wep\";\n"
          NET_APPROVAL "} );\n", 0,
          "policy.conf:6: wireless[0].security: expected \"open\", \"wpa2-psk\", \"wpa2-enterprise\" or \"wpa3-sae\", got \"wep\"" },
        { "wireless unknown key", HEADER "wireless = ( { permit = \"W-1\"; ssid = \"a\"; mac = \"02:00:00:00:00:00\";\n"
          NET_APPROVAL "} );\n", 0, "policy.conf:6: wireless[0].mac: unknown key" },
        { "wireless permit shared with network", HEADER NET_OPEN "  kind = \"veth\";\n" NET_APPROVAL "} );\n"
          "wireless = ( { permit = \"許可-2026-020\"; ssid = \"a\";\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:11: wireless[0].permit: duplicate permit \"許可-2026-020\" (first at line 7)" },
        { "wireless_modes unknown", HEADER NET_OPEN "  kind = \"veth\"; wireless_modes = [ \"station\" ];\n" NET_APPROVAL "} );\n", 0,
          "policy.conf:8: network[0].wireless_modes[0]: expected \"ap\", \"p2p-go\", \"mesh\", \"ibss\" or \"monitor\", got \"station\"" },
        { "defaults wireless bad", HEADER "defaults = { wireless = \"open\"; };\n", 0,
          "policy.conf:6: defaults.wireless: expected \"allow\" or \"block\", got \"open\"" },
        /* Filled in by setup_generated_cases(). */
        { "label too long", long_label, 0, "policy.conf:10: usb[0].label: longer than 1024 bytes" },
        { "more than 32 interfaces", interfaces_33, 0, "policy.conf:10: usb[0].interfaces: more than 32 interfaces" },
};

static char *long_label_text;

static int setup_generated_cases(void **state) {
        setup_tokyo(state);
        char *a = malloc(1026);
        assert_non_null(a);
        memset(a, 'a', 1025);
        a[1025] = 0;
        assert_true(asprintf(&long_label_text, "%s%s\";\n" USB_APPROVAL "} );\n", long_label, a) > 0);
        free(a);

        char *p = interfaces_33;
        p += sprintf(p, HEADER USB_OPEN "  interfaces = [ ");
        for (int i = 0; i < 33; i++)
                p += sprintf(p, "%s\"08:06:%02x\"", i ? ", " : "", i);
        sprintf(p, " ];\n" USB_APPROVAL "} );\n");
        return 0;
}

static int teardown_generated_cases(void **state) {
        free(long_label_text);
        return 0;
}

static void test_each_malformed_policy_gets_its_message(void **state) {
        size_t failed = 0;

        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                const struct bad_case *c = &bad_cases[i];
                const char *text = c->text == long_label ? long_label_text : c->text;
                size_t len = c->len ?: strlen(text);
                struct policy_diag d = {};
                struct policy *p = NULL;

                int r = policy_parse(text, len, "policy.conf", &p, &d);
                char *got = errors_joined(&d);
                if (r != -EINVAL || p || !streq(got, c->expected)) {
                        print_error("case \"%s\": r=%d\n  expected: %s\n  got:      %s\n", c->name, r, c->expected, got);
                        failed++;
                }
                free(got);
                policy_free(p);
                policy_diag_done(&d);
        }
        assert_true(ELEMENTSOF(bad_cases) >= 35);
        assert_int_equal(failed, 0);
}

/* Bad values are quoted back sanitised and cut: a 64 KiB value must not become a 64 KiB line. */
static void test_bad_value_is_quoted_bounded(void **state) {
        char *text, *v = malloc(65536);
        assert_non_null(v);
        memset(v, 'x', 65535);
        v[65535] = 0;
        assert_true(asprintf(&text, HEADER "issued2 = 1;\nvalid_until = \"%s\";\n", v) > 0);
        struct policy_diag d = {};
        struct policy *p = NULL;

        assert_int_equal(policy_parse(text, strlen(text), "policy.conf", &p, &d), -EINVAL);
        assert_int_equal(d.n_errors, 2);
        assert_string_equal(d.messages[1], "policy.conf:7: valid_until: longer than 32 bytes");
        policy_diag_done(&d);
        free(text);

        v[1000] = 0;
        assert_true(asprintf(&text, HEADER "workstation = \"%s\";\n", v) > 0);
        assert_int_equal(policy_parse(text, strlen(text), "policy.conf", &p, &d), -EINVAL);
        assert_true(strlen(d.messages[0]) < 200);
        assert_non_null(strstr(d.messages[0], "xxx...\""));
        policy_diag_done(&d);
        free(text);
        free(v);
}

static void test_messages_are_capped(void **state) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        fputs(HEADER, f);
        for (int i = 0; i < 150; i++)
                fprintf(f, "unknown%d = 1;\n", i);
        assert_int_equal(fclose(f), 0);
        struct policy_diag d = {};
        struct policy *p = NULL;

        assert_int_equal(policy_parse(buf, size, "policy.conf", &p, &d), -EINVAL);
        assert_int_equal(d.n_errors, 150);
        assert_int_equal(d.n_messages, 101);
        assert_string_equal(d.messages[100], "policy.conf: 50 more problems not shown");
        policy_diag_done(&d);
        free(buf);
}

static void test_wireless_entries_are_read(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER
                "defaults = { wireless = \"block\"; };\n"
                "network = ( { permit = \"N-1\"; mac = \"02:00:00:00:02:00\"; wireless_modes = [ \"ap\", \"monitor\" ];\n"
                NET_APPROVAL "} );\n"
                "wireless = ( { permit = \"許可-2026-031\"; ssid = \"市役所-net\"; bssid = [ \"02:00:00:00:00:00\", \"02:00:00:00:0A:00\" ];\n"
                "               security = \"wpa3-sae\";\n" NET_APPROVAL "},\n"
                "             { permit = \"W-2\"; ssid_hex = \"00ff1b\";\n" NET_APPROVAL "},\n"
                "             { permit = \"W-3\"; ssid = \"guest\"; security = \"open\";\n" NET_APPROVAL "} );\n", &d);

        assert_int_equal(p->default_wireless, POLICY_BLOCK);
        assert_int_equal(p->net[0].wireless_modes, (1u << WIRELESS_AP) | (1u << WIRELESS_MONITOR));
        assert_int_equal(p->n_wireless, 3);
        const struct policy_wireless_entry *w = &p->wireless[0];
        assert_string_equal(w->approval.permit, "許可-2026-031");
        assert_int_equal(w->ssid_len, strlen("市役所-net"));
        assert_memory_equal(w->ssid, "市役所-net", w->ssid_len);
        assert_false(w->ssid_is_hex);
        assert_int_equal(w->n_bssids, 2);
        assert_memory_equal(w->bssids[1], "\x02\0\0\0\x0a\0", 6);
        assert_int_equal(w->security, WIRELESS_SECURITY_WPA3_SAE);
        assert_int_equal(p->wireless[1].ssid_len, 3);
        assert_memory_equal(p->wireless[1].ssid, "\0\xff\x1b", 3);
        assert_true(p->wireless[1].ssid_is_hex);
        /* Not given: WPA2-PSK at least; open only when an entry says so. */
        assert_int_equal(p->wireless[1].security, WIRELESS_SECURITY_WPA2_PSK);
        assert_ptr_equal(policy_find_wireless_permit(p, "W-2"), &p->wireless[1]);
        /* An open network without access points: anyone may call a hotspot "guest". */
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(d.n_warnings, 1);
        assert_string_equal(d.messages[0], "policy.conf:17: warning: wireless[2].bssid: not given for an open network: any "
                                           "access point that calls itself this is approved");

        char *text = NULL;
        assert_int_equal(policy_write(p, &text), 0);
        assert_non_null(strstr(text, "        ssid = \"市役所-net\";\n"));
        assert_non_null(strstr(text, "        ssid_hex = \"00ff1b\";\n"));
        assert_non_null(strstr(text, "        bssid = [ \"02:00:00:00:00:00\", \"02:00:00:00:0a:00\" ];\n"));
        assert_non_null(strstr(text, "        wireless_modes = [ \"ap\", \"monitor\" ];\n"));
        assert_null(strstr(text, "wireless = \"block\""));
        struct policy_diag d2 = {};
        struct policy *q = parse_ok(text, &d2);
        assert_int_equal(q->n_wireless, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(q->wireless[i].ssid_len, p->wireless[i].ssid_len);
                assert_memory_equal(q->wireless[i].ssid, p->wireless[i].ssid, p->wireless[i].ssid_len);
                assert_int_equal(q->wireless[i].n_bssids, p->wireless[i].n_bssids);
                assert_int_equal(q->wireless[i].security, p->wireless[i].security);
        }
        assert_int_equal(q->net[0].wireless_modes, p->net[0].wireless_modes);
        free(text);
        policy_free(q);
        policy_free(p);
        policy_diag_done(&d);
        policy_diag_done(&d2);
}

static void assert_approval_equal(const struct policy_approval *a, const struct policy_approval *b) {
        assert_true(streq_ptr(a->permit, b->permit));
        assert_true(streq_ptr(a->label, b->label));
        assert_true(streq_ptr(a->approved_by, b->approved_by));
        assert_true(streq_ptr(a->purpose, b->purpose));
        assert_true(streq_ptr(a->holder, b->holder));
        assert_true(streq_ptr(a->approved_on_text, b->approved_on_text));
        assert_true(streq_ptr(a->valid_from_text, b->valid_from_text));
        assert_true(streq_ptr(a->valid_until_text, b->valid_until_text));
        assert_true(a->approved_on == b->approved_on);
        assert_true(a->valid_from == b->valid_from);
        assert_true(a->valid_until == b->valid_until);
}

static void assert_policy_equal(const struct policy *a, const struct policy *b) {
        assert_int_equal(a->version, b->version);
        assert_true(a->serial == b->serial);
        assert_true(a->issued == b->issued);
        assert_true(streq_ptr(a->issued_text, b->issued_text));
        assert_true(streq_ptr(a->issuer, b->issuer));
        assert_true(streq_ptr(a->contract, b->contract));
        assert_true(streq_ptr(a->contractor, b->contractor));
        assert_true(streq_ptr(a->responsible, b->responsible));
        assert_true(streq_ptr(a->workstation, b->workstation));
        assert_true(a->valid_until == b->valid_until);
        assert_true(streq_ptr(a->valid_until_text, b->valid_until_text));
        assert_int_equal(a->default_usb_hid, b->default_usb_hid);
        assert_int_equal(a->default_usb_hub, b->default_usb_hub);
        assert_int_equal(a->default_usb_other, b->default_usb_other);
        assert_int_equal(a->default_network, b->default_network);
        assert_int_equal(a->n_usb, b->n_usb);
        for (size_t i = 0; i < a->n_usb; i++) {
                const struct policy_usb_entry *x = &a->usb[i], *y = &b->usb[i];
                assert_approval_equal(&x->approval, &y->approval);
                assert_int_equal(x->vendor, y->vendor);
                assert_int_equal(x->product, y->product);
                assert_string_equal(x->serial, y->serial);
                assert_int_equal(x->has_interfaces, y->has_interfaces);
                assert_int_equal(x->n_interfaces, y->n_interfaces);
                if (x->n_interfaces > 0)
                        assert_memory_equal(x->interfaces, y->interfaces, x->n_interfaces * sizeof(x->interfaces[0]));
                assert_int_equal(x->read_only, y->read_only);
                assert_int_equal(x->unlisted, y->unlisted);
                assert_true(streq_ptr(x->path, y->path));
                assert_int_equal(x->hidraw_user, y->hidraw_user);
        }
        assert_int_equal(a->n_net, b->n_net);
        for (size_t i = 0; i < a->n_net; i++) {
                const struct policy_net_entry *x = &a->net[i], *y = &b->net[i];
                assert_approval_equal(&x->approval, &y->approval);
                assert_int_equal(x->has_mac, y->has_mac);
                assert_memory_equal(x->mac, y->mac, 6);
                assert_true(streq_ptr(x->path, y->path));
                assert_true(streq_ptr(x->kind, y->kind));
                assert_true(streq_ptr(x->name, y->name));
        }
}

static void test_canonical_write_reads_back_equal(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(full_policy, &d);
        char *text = NULL;

        /* Quotes and backslashes must survive libconfig's escaping. */
        /* (a parsed policy's strings are the parser's, freed with it: this one is not freed) */
        p->usb[0].approval.label = (char *) "「\"特別\"」 C:\\データ\\";
        assert_int_equal(policy_write(p, &text), 0);

        struct policy *q = parse_ok(text, &d);
        assert_policy_equal(p, q);
        assert_string_equal(q->usb[0].approval.label, "「\"特別\"」 C:\\データ\\");

        /* Writing the re-read policy gives the same bytes: the form is canonical. */
        char *again = NULL;
        assert_int_equal(policy_write(q, &again), 0);
        assert_string_equal(text, again);
        free(again);
        free(text);
        policy_free(p);
        policy_free(q);
        policy_diag_done(&d);
}

/* The port and raw HID survive the canonical form; the defaults (any port, root) stay unwritten. */
static void test_canonical_write_keeps_port_and_hidraw(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER USB_OPEN "  path = \"" PORT "\";\n  interfaces = [ \"03:*:*\" ];\n"
                                    "  hidraw = \"user\";\n" USB_APPROVAL "},\n"
                                    "{ permit = \"許可-2\"; vendor = \"0781\"; product = \"5582\"; serial = \"X\";"
                                    " hidraw = \"root\";\n" USB_APPROVAL "} );\n", &d);
        char *text = NULL;

        assert_int_equal(policy_write(p, &text), 0);
        assert_non_null(strstr(text, "        path = \"" PORT "\";\n"));
        assert_non_null(strstr(text, "        hidraw = \"user\";\n"));
        assert_null(strstr(text, "\"root\""));
        struct policy *q = parse_ok(text, &d);
        assert_policy_equal(p, q);
        assert_true(q->usb[0].hidraw_user);
        assert_null(q->usb[1].path);
        free(text);
        policy_free(p);
        policy_free(q);
        policy_diag_done(&d);
}

#define MEDIA_POLICY HEADER \
        "defaults = { media = \"allow\"; };\n" \
        "media = (\n" \
        "  { permit = \"媒体-1\"; bus = \"mmc\"; vendor = \"0x0000aa\"; oemid = \"0x5859\"; model = \"QEMU!\";\n" \
        "    serial = \"0xdeadbeef\"; date = \"02/2006\"; access = \"read-only\";\n" USB_APPROVAL "  },\n" \
        "  { permit = \"媒体-2\"; bus = \"optical\"; path = \"pci-0000:00:1f.2-ata-3.0\";\n" USB_APPROVAL \
        "    valid_until = \"2027-03-31\"; },\n" \
        "  { permit = \"媒体-3\"; bus = \"nvme\"; model = \"QEMU NVMe Ctrl\"; serial = \"NVSER123\";\n" USB_APPROVAL "  }\n" \
        ");\n" \
        "fixed_disks = ( { bus = \"ata\"; model = \"SATA-MODEL\"; serial = \"SATASER1\"; label = \"システム\"; },\n" \
        "  { bus = \"virtio\"; path = \"pci-0000:00:05.0\"; } );\n"

static void test_media_and_fixed_disks_are_read(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(MEDIA_POLICY, &d);

        assert_int_equal(d.n_warnings, 0);
        assert_int_equal(p->default_media, POLICY_ALLOW);
        assert_int_equal(p->n_media, 3);
        assert_int_equal(p->media[0].bus, MEDIA_BUS_MMC);
        assert_string_equal(p->media[0].oemid, "0x5859");
        assert_string_equal(p->media[0].date, "02/2006");
        assert_true(p->media[0].read_only);
        assert_null(p->media[0].path);
        assert_int_equal(p->media[1].bus, MEDIA_BUS_OPTICAL);
        assert_null(p->media[1].serial);
        assert_string_equal(p->media[1].path, "pci-0000:00:1f.2-ata-3.0");
        assert_false(p->media[1].read_only);
        assert_int_equal(p->media[1].approval.valid_until, t_of("2027-04-01"));
        assert_string_equal(p->media[2].serial, "NVSER123");
        assert_int_equal(p->n_fixed, 2);
        assert_int_equal(p->fixed[0].bus, MEDIA_BUS_ATA);
        assert_string_equal(p->fixed[0].label, "システム");
        assert_string_equal(p->fixed[1].path, "pci-0000:00:05.0");
        assert_null(p->fixed[1].serial);
        assert_non_null(policy_find_media_permit(p, "媒体-2"));
        assert_null(policy_find_media_permit(p, "媒体-9"));

        /* The canonical form reads back equal and is canonical. */
        char *text = NULL, *again = NULL;
        assert_int_equal(policy_write(p, &text), 0);
        assert_non_null(strstr(text, "        media = \"allow\";\n"));
        struct policy *q = parse_ok(text, &d);
        assert_int_equal(q->n_media, 3);
        assert_int_equal(q->n_fixed, 2);
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(q->media[i].bus, p->media[i].bus);
                assert_true(streq_ptr(q->media[i].serial, p->media[i].serial));
                assert_true(streq_ptr(q->media[i].path, p->media[i].path));
                assert_true(streq_ptr(q->media[i].oemid, p->media[i].oemid));
                assert_int_equal(q->media[i].read_only, p->media[i].read_only);
        }
        assert_true(streq_ptr(q->fixed[0].label, p->fixed[0].label));
        assert_int_equal(policy_write(q, &again), 0);
        assert_string_equal(text, again);
        free(text);
        free(again);
        policy_free(p);
        policy_free(q);
        policy_diag_done(&d);
}

/* A card permit bound to its slot alone approves every card of its kind there: said. */
static void test_media_without_serial_warns(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER "media = ( { permit = \"M\"; bus = \"mmc\"; path = \"pci-0000:00:04.0-mmc\";\n"
                                    USB_APPROVAL "} );\n", &d);
        assert_int_equal(d.n_warnings, 1);
        assert_non_null(strstr(d.messages[0], "policy.conf:6: warning: media[0].serial: not given: the entry approves every "
                                              "mmc medium in the slot \"pci-0000:00:04.0-mmc\""));
        policy_free(p);
        policy_diag_done(&d);
}

static void test_media_errors(void **state) {
        static const struct { const char *text, *expected; } cases[] = {
                { HEADER "media = ( { permit = \"M\"; model = \"x\";\n" USB_APPROVAL "} );\n",
                  "policy.conf:6: media[0].bus: missing (required)\n"
                  "policy.conf:6: media[0]: needs a serial or a path: an entry without either would cover every medium of "
                  "its kind" },
                { HEADER "media = ( { permit = \"M\"; bus = \"usb\"; serial = \"S\";\n" USB_APPROVAL "} );\n",
                  "policy.conf:6: media[0].bus: expected \"mmc\", \"optical\", \"nvme\", \"ata\", \"scsi\" or \"virtio\", "
                  "got \"usb\"" },
                { HEADER "media = ( { permit = \"M\"; bus = \"nvme\"; serial = \"S\"; oemid = \"0x1\";\n" USB_APPROVAL
                  "} );\n", "policy.conf:6: media[0].oemid: only SD/MMC cards (bus \"mmc\") have one" },
                { HEADER "media = ( { permit = \"M\"; bus = \"nvme\"; serial = \"\";\n" USB_APPROVAL "} );\n",
                  "policy.conf:6: media[0].serial: must not be empty\n"
                  "policy.conf:6: media[0]: needs a serial or a path: an entry without either would cover every medium of "
                  "its kind" },
                { HEADER "media = ( { permit = \"M\"; bus = \"nvme\"; serial = \"S\"; access = \"write-only\";\n"
                  USB_APPROVAL "} );\n",
                  "policy.conf:6: media[0].access: expected \"read-write\" or \"read-only\", got \"write-only\"" },
                { HEADER "media = ( { bus = \"nvme\"; serial = \"S\"; interfaces = [ \"08:06:50\" ]; } );\n",
                  "policy.conf:6: media[0].interfaces: unknown key\n"
                  "policy.conf:6: media[0].permit: missing (required)\n"
                  "policy.conf:6: media[0].approved_by: missing (required)\n"
                  "policy.conf:6: media[0].approved_on: missing (required)" },
                { HEADER USB_ENTRY("X", "S") "media = ( { permit = \"X\"; bus = \"nvme\"; serial = \"S\";\n" USB_APPROVAL
                  "} );\n", "policy.conf:13: media[0].permit: duplicate permit \"X\" (first at line 7)" },
                { HEADER "fixed_disks = ( { bus = \"optical\"; path = \"p\"; } );\n",
                  "policy.conf:6: fixed_disks[0].bus: an optical drive cannot be a fixed disk: its discs are media "
                  "(approve the drive with a media entry)" },
                { HEADER "fixed_disks = ( { bus = \"nvme\"; model = \"M\"; } );\n",
                  "policy.conf:6: fixed_disks[0]: needs a serial or a path: an entry without either would cover every "
                  "medium of its kind" },
                { HEADER "fixed_disks = ( { bus = \"nvme\"; serial = \"S\"; permit = \"P\"; } );\n",
                  "policy.conf:6: fixed_disks[0].permit: unknown key" },
                { HEADER "defaults = { media = \"read-only\"; };\n",
                  "policy.conf:6: defaults.media: expected \"allow\" or \"block\", got \"read-only\"" },
                { HEADER "media = { permit = \"M\"; };\n",
                  "policy.conf:6: media: expected a list of groups: media = ( { ... }, { ... } );" },
        };
        size_t failed = 0;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct policy_diag d = {};
                struct policy *p = NULL;
                int r = policy_parse(cases[i].text, strlen(cases[i].text), "policy.conf", &p, &d);
                char *got = errors_joined(&d);
                if (r != -EINVAL || p || !streq(got, cases[i].expected)) {
                        print_error("case %zu: r=%d\n  expected: %s\n  got:      %s\n", i, r, cases[i].expected, got);
                        failed++;
                }
                free(got);
                policy_free(p);
                policy_diag_done(&d);
        }
        assert_int_equal(failed, 0);
}

/* A generated entry has times but no texts: they are written as exact local times. */
static void test_canonical_write_of_generated_entry_keeps_times(void **state) {
        struct policy_diag d = {};
        struct policy *p = parse_ok(HEADER USB_OPEN "  valid_until = \"2027-03-31\";\n" USB_APPROVAL "} );\n", &d);
        char *text = NULL;

        p->serial = UINT64_C(5000000000);
        struct policy_approval *a = &p->usb[0].approval;
        a->valid_until_text = NULL;        /* the parser's strings, freed with the policy */
        a->approved_on_text = NULL;
        assert_int_equal(policy_write(p, &text), 0);
        struct policy *q = parse_ok(text, &d);
        assert_true(q->serial == UINT64_C(5000000000));
        assert_true(q->usb[0].approval.valid_until == t_of("2027-04-01T00:00+09:00"));
        assert_true(q->usb[0].approval.approved_on == t_of("2026-11-20T00:00+09:00"));
        assert_string_equal(q->usb[0].approval.valid_until_text, "2027-04-01T00:00:00+09:00");
        free(text);
        policy_free(p);
        policy_free(q);
        policy_diag_done(&d);
}

/* Every example shipped in tests/data/policies/ must stay valid. */
static void test_example_policies_are_valid(void **state) {
        static const char *const files[] = {
                TEST_DATA_DIR "/policies/minimal.conf",
                TEST_DATA_DIR "/policies/kisarazu-full.conf",
                TEST_DATA_DIR "/policies/network-only.conf",
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                struct policy_diag d = {};
                struct policy *p = NULL;
                int r = policy_parse_file(files[i], &p, &d);
                for (size_t k = 0; k < d.n_messages; k++)
                        print_error("%s\n", d.messages[k]);
                assert_int_equal(r, 0);
                policy_free(p);
                policy_diag_done(&d);
        }
}

/* The scale: 100,000 entries must parse (checks are O(n log n), not O(n^2)). */
static void test_hundred_thousand_entries_parse(void **state) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        fputs(HEADER "usb = (\n", f);
        for (int i = 0; i < 100000; i++)
                fprintf(f, "%s{ permit = \"許可-%06d\"; vendor = \"%04x\"; product = \"5581\"; serial = \"SN%08d\";"
                           " interfaces = [ \"08:06:50\" ]; approved_by = \"情報政策課\"; approved_on = \"2026-11-20\"; }\n",
                        i ? "," : "", i, i % 7, i);
        fputs(");\n", f);
        assert_int_equal(fclose(f), 0);

        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct policy_diag d = {};
        struct policy *p = parse_ok(buf, &d);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("100k entries (%zu bytes) parsed in %.3f s\n", size,
                      (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        assert_int_equal(p->n_usb, 100000);
        assert_int_equal(d.n_messages, 0);
        assert_string_equal(p->usb[99999].serial, "SN00099999");
        assert_int_equal(p->usb[99999].approval.line, 100006);
        policy_free(p);
        policy_diag_done(&d);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal_policy_gets_safe_defaults),
                cmocka_unit_test_setup(test_repeated_dates_as_start_and_end, setup_tokyo),
                cmocka_unit_test(test_workstation_list_and_entries_for_some),
                cmocka_unit_test(test_defaults_are_read),
                cmocka_unit_test(test_full_japanese_policy_is_read),
                cmocka_unit_test(test_full_policy_warns_about_empty_serial_and_missing_interfaces),
                cmocka_unit_test(test_unlisted_interfaces_without_interfaces_warns),
                cmocka_unit_test(test_port_and_hidraw_are_read),
                cmocka_unit_test(test_hidraw_user_without_hid_interface_warns),
                cmocka_unit_test(test_scan_keys_are_read_and_written),
                cmocka_unit_test(test_scan_in_and_out_is_read_and_written),
                cmocka_unit_test(test_scan_defaults),
                cmocka_unit_test(test_same_device_on_two_ports_may_overlap),
                cmocka_unit_test(test_date_only_valid_until_runs_through_that_day),
                cmocka_unit_test(test_valid_until_with_time_is_exact),
                cmocka_unit_test(test_workstation_binds_hostname_or_machine_id),
                cmocka_unit_test(test_serial_above_32_bits_needs_l_suffix),
                cmocka_unit_test(test_parse_file_reads_the_file),
                cmocka_unit_test(test_error_leaves_ret_untouched),
                cmocka_unit_test(test_each_malformed_policy_gets_its_message),
                cmocka_unit_test(test_bad_value_is_quoted_bounded),
                cmocka_unit_test(test_messages_are_capped),
                cmocka_unit_test(test_wireless_entries_are_read),
                cmocka_unit_test(test_canonical_write_reads_back_equal),
                cmocka_unit_test(test_canonical_write_keeps_port_and_hidraw),
                cmocka_unit_test(test_canonical_write_of_generated_entry_keeps_times),
                cmocka_unit_test(test_example_policies_are_valid),
                cmocka_unit_test_setup(test_media_and_fixed_disks_are_read, setup_tokyo),
                cmocka_unit_test(test_media_without_serial_warns),
                cmocka_unit_test(test_media_errors),
                cmocka_unit_test(test_hundred_thousand_entries_parse),
        };
        return cmocka_run_group_tests(tests, setup_generated_cases, teardown_generated_cases);
}
