/* SPDX-License-Identifier: MIT */
/* Text edits of a policy (approve/revoke): comments and layout survive, commas are right, the
 * serial rises, Japanese text and escapes round-trip, and the canonical fallback works. */
#include <errno.h>
#include <string.h>

#include "test-util.h"

#include "policy-edit.h"
#include "policy.h"
#include "timeutil.h"

#define HEADER                                                          \
        "# 木更津市の許可 / the city's permission\n"                    \
        "kyoka_policy = 1;\n"                                           \
        "serial = 7;   # raised with every change\n"                    \
        "issued = \"2026-11-20\";\n"                                    \
        "issuer = \"木更津市 総務部 情報政策課\";\n"                    \
        "contract = \"令和8年度 契約第123号\";\n"                       \
        "defaults = { usb_hid = \"allow\"; network = \"block\"; };\n"

#define ENTRY(permit, serial)                                           \
        "    {\n"                                                       \
        "        permit = \"" permit "\";   // the paper's number\n"    \
        "        vendor = \"0781\";\n"                                  \
        "        product = \"5581\";\n"                                 \
        "        serial = \"" serial "\";\n"                            \
        "        interfaces = [ \"08:06:50\" ];\n"                      \
        "        approved_by = \"情報政策課 山田\";\n"                  \
        "        approved_on = \"2026-11-20\";\n"                       \
        "    }"

static const char three_entries[] =
        HEADER
        "\n"
        "usb = (\n"
        "    # first /* not a block comment start */\n"
        ENTRY("A-1", "S1") ",\n"
        "    /* second,\n       with a comma in a comment */\n"
        ENTRY("A-2", "S2") ",\n"
        ENTRY("A-3", "S3") "  # the last one\n"
        ");\n"
        "# trailing comment\n";

static struct policy_usb_entry new_usb_entry(const char *permit, const char *label) {
        static struct policy_interface_pattern ifs[] = { { .c = { 0x08, 0x06, 0x50 } } };
        struct policy_usb_entry e = {
                .approval = {
                        .permit = (char *) permit,
                        .label = (char *) label,
                        .approved_by = (char *) "情報政策課 佐藤",
                        .approved_on_text = (char *) "2026-11-22",
                        .valid_from = TIME_NEG_INFINITY,
                        .valid_until_text = (char *) "2027-03-31",
                        .purpose = (char *) "納品データの受け渡し",
                },
                .vendor = 0x0781,
                .product = 0x5581,
                .serial = (char *) "4C530001230101115423",
                .has_interfaces = true,
                .n_interfaces = 1,
                .interfaces = ifs,
                .read_only = true,
        };
        assert_int_equal(time_parse_iso8601("2026-11-22", &e.approval.approved_on, NULL), 0);
        assert_int_equal(time_parse_iso8601("2027-03-31", &e.approval.valid_until, NULL), 0);
        e.approval.valid_until = time_next_local_midnight(e.approval.valid_until);
        return e;
}

/* Parses TEXT, which must be valid, and checks its serial and entry counts. */
static struct policy *parse_ok(const char *text, uint64_t serial, size_t n_usb, size_t n_net) {
        struct policy *p = NULL;
        struct policy_diag d = {};
        int r = policy_parse(text, strlen(text), "policy.conf", &p, &d);
        if (r < 0)
                for (size_t i = 0; i < d.n_messages; i++)
                        fprintf(stderr, "%s\n", d.messages[i]);
        policy_diag_done(&d);
        assert_int_equal(r, 0);
        assert_int_equal(p->serial, serial);
        assert_int_equal(p->n_usb, n_usb);
        assert_int_equal(p->n_net, n_net);
        return p;
}

static char *add_usb(const char *text, const struct policy_usb_entry *e, bool expect_rewritten) {
        char *out = NULL;
        bool rewritten = !expect_rewritten;
        struct policy_diag d = {};

        assert_int_equal(policy_edit_add_usb(text, strlen(text), "policy.conf", e, &out, &rewritten, &d), 0);
        assert_int_equal(rewritten, expect_rewritten);
        policy_diag_done(&d);
        return out;
}

static char *remove_permit(const char *text, const char *permit) {
        char *out = NULL;
        bool rewritten = true;

        assert_int_equal(policy_edit_remove(text, strlen(text), "policy.conf", permit, &out, &rewritten, NULL), 0);
        assert_false(rewritten);
        return out;
}

static void test_add_keeps_comments_and_raises_serial(void **state) {
        struct policy_usb_entry e = new_usb_entry("許可-2026-017", "SanDisk Ultra");
        _cleanup_free_ char *out = add_usb(three_entries, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 4, 0);

        assert_non_null(strstr(out, "# 木更津市の許可 / the city's permission\n"));
        assert_non_null(strstr(out, "serial = 8;   # raised with every change\n"));
        assert_non_null(strstr(out, "/* second,\n       with a comma in a comment */\n"));
        assert_non_null(strstr(out, "// the paper's number"));
        assert_non_null(strstr(out, "# trailing comment\n"));
        /* The last entry keeps its own comment; the new one follows on its own lines. */
        assert_non_null(strstr(out, "    },  # the last one\n    {\n        permit = \"許可-2026-017\";\n"));
        assert_non_null(strstr(out, "        valid_until = \"2027-03-31\";\n    }\n);\n"));

        const struct policy_usb_entry *n = policy_find_usb_permit(p, "許可-2026-017");
        assert_non_null(n);
        assert_true(n->read_only);
        assert_string_equal(n->approval.label, "SanDisk Ultra");
        assert_string_equal(n->approval.purpose, "納品データの受け渡し");
        assert_string_equal(n->approval.valid_until_text, "2027-03-31");
}

/* approve --bind-port / --hidraw-user: the port and raw HID reach the file, by text edit and by
 * the canonical fallback, and the other entries keep theirs. */
static void test_add_keeps_port_and_hidraw(void **state) {
        static struct policy_interface_pattern hid[] = { { .c = { 0x03 }, .any_subclass = true, .any_protocol = true } };
        struct policy_usb_entry e = new_usb_entry("許可-2026-030", "FIDO2 key");
        e.path = (char *) "pci-0000:00:14.0-usb-0:2.1";
        e.hidraw_user = true;
        e.interfaces = hid;
        e.read_only = false;

        for (int fallback = 0; fallback < 2; fallback++) {
                policy_edit_force_fallback = fallback;
                _cleanup_free_ char *out = add_usb(three_entries, &e, fallback);
                _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 4, 0);
                const struct policy_usb_entry *n = policy_find_usb_permit(p, "許可-2026-030");
                assert_non_null(n);
                assert_string_equal(n->path, "pci-0000:00:14.0-usb-0:2.1");
                assert_true(n->hidraw_user);
                assert_null(policy_find_usb_permit(p, "A-2")->path);
                assert_false(policy_find_usb_permit(p, "A-2")->hidraw_user);
                assert_non_null(strstr(out, "path = \"pci-0000:00:14.0-usb-0:2.1\";\n"));
                assert_non_null(strstr(out, "hidraw = \"user\";\n"));

                /* A later edit keeps them (the canonical writer must write them back). */
                _cleanup_free_ char *back = NULL;
                bool rewritten;
                assert_int_equal(policy_edit_remove(out, strlen(out), "policy.conf", "A-1", &back, &rewritten, NULL), 0);
                _cleanup_(policy_freep) struct policy *q = parse_ok(back, 9, 3, 0);
                n = policy_find_usb_permit(q, "許可-2026-030");
                assert_string_equal(n->path, "pci-0000:00:14.0-usb-0:2.1");
                assert_true(n->hidraw_user);
        }
        policy_edit_force_fallback = false;
}

static void test_add_creates_list_when_absent(void **state) {
        static const char text[] = HEADER "/* no permits yet */ workstation = \"pc-01\";"; /* and no final newline */
        struct policy_usb_entry e = new_usb_entry("許可-1", "stick");
        _cleanup_free_ char *out = add_usb(text, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 1, 0);

        assert_non_null(strstr(out, "/* no permits yet */ workstation = \"pc-01\";\n\nusb = (\n    {\n        permit = \"許可-1\";\n"));
        assert_true(strlen(out) > 4 && streq(out + strlen(out) - 4, "\n);\n"));
}

static void test_add_into_empty_lists(void **state) {
        static const char *const texts[] = {
                HEADER "usb = ();\n",
                HEADER "usb = ( );\n",
                HEADER "usb = (\n    # nothing approved yet\n);\n",
                HEADER "usb : ( /* empty */ ) ;\n",
        };
        struct policy_usb_entry e = new_usb_entry("許可-1", "stick");

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_free_ char *out = add_usb(texts[i], &e, false);
                _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 1, 0);
                assert_non_null(policy_find_usb_permit(p, "許可-1"));
        }
        _cleanup_free_ char *out = add_usb(texts[2], &e, false);
        assert_non_null(strstr(out, "usb = (\n    # nothing approved yet\n    {\n"));
}

static void test_add_keeps_the_files_indentation(void **state) {
        static const char text[] = HEADER "usb = (\n\t{\n\t\tpermit = \"A\"; vendor = \"0781\"; product = \"5581\";\n"
                                          "\t\tserial = \"S\"; interfaces = [ \"08:06:50\" ];\n"
                                          "\t\tapproved_by = \"X\"; approved_on = \"2026-11-20\";\n\t}\n);\n";
        struct policy_usb_entry e = new_usb_entry("B", "stick");
        _cleanup_free_ char *out = add_usb(text, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);

        assert_non_null(strstr(out, "\t},\n\t{\n\t\tpermit = \"B\";\n"));
}

static void test_add_network_entry(void **state) {
        struct policy_net_entry e = {
                .approval = { .permit = (char *) "許可-NET-1", .approved_by = (char *) "山田",
                              .approved_on_text = (char *) "2026-11-22", .valid_from = TIME_NEG_INFINITY,
                              .valid_until = TIME_INFINITY },
                .has_mac = true,
                .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
                .path = (char *) "pci-0000:00:1f.6",
        };
        _cleanup_free_ char *out = NULL;
        bool rewritten = true;

        assert_int_equal(policy_edit_add_net(three_entries, strlen(three_entries), "policy.conf", &e, &out, &rewritten,
                                             NULL),
                         0);
        assert_false(rewritten);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 3, 1);
        assert_non_null(strstr(out, "network = (\n    {\n        permit = \"許可-NET-1\";\n"
                                    "        mac = \"52:54:00:12:34:56\";\n        path = \"pci-0000:00:1f.6\";\n"));
        /* `network` inside `defaults` is not the list. */
        assert_non_null(strstr(out, "defaults = { usb_hid = \"allow\"; network = \"block\"; };\n"));
}

static void test_japanese_and_escapes_round_trip(void **state) {
        const char *label = "メモリ \"特急\" C:\\data\\納品 \\x41 'ok'";
        struct policy_usb_entry e = new_usb_entry("許可-\"2026\"-017", label);
        _cleanup_free_ char *out = add_usb(three_entries, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 4, 0);

        assert_non_null(strstr(out, "label = \"メモリ \\\"特急\\\" C:\\\\data\\\\納品 \\\\x41 'ok'\";"));
        const struct policy_usb_entry *n = policy_find_usb_permit(p, "許可-\"2026\"-017");
        assert_non_null(n);
        assert_string_equal(n->approval.label, label);

        /* The scanner decodes the escaped permit to find the entry again. */
        _cleanup_free_ char *back = remove_permit(out, "許可-\"2026\"-017");
        _cleanup_(policy_freep) struct policy *q = parse_ok(back, 9, 3, 0);
}

static void test_quote_string(void **state) {
        _cleanup_free_ char *a = policy_quote_string("a\"b\\c\nd\te\x01" "日本");
        assert_string_equal(a, "\"a\\\"b\\\\c\\nd\\te\\x01日本\"");
}

static void test_remove_middle_entry_takes_its_comma_and_lines(void **state) {
        _cleanup_free_ char *out = remove_permit(three_entries, "A-2");
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);

        assert_null(policy_find_usb_permit(p, "A-2"));
        assert_null(strstr(out, "S2"));
        /* The comment above it is kept; no blank hole is left. */
        assert_non_null(strstr(out, "    /* second,\n       with a comma in a comment */\n" "    {\n        permit = \"A-3\""));
}

static void test_remove_first_entry(void **state) {
        _cleanup_free_ char *out = remove_permit(three_entries, "A-1");
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);

        assert_non_null(strstr(out, "usb = (\n    # first /* not a block comment start */\n    /* second,"));
}

static void test_remove_last_entry_takes_the_comma_before_it(void **state) {
        _cleanup_free_ char *out = remove_permit(three_entries, "A-3");
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);

        assert_non_null(strstr(out, "approved_on = \"2026-11-20\";\n    }\n);\n# trailing comment\n"));
}

static void test_remove_every_entry_leaves_an_empty_list(void **state) {
        _cleanup_free_ char *a = remove_permit(three_entries, "A-3");
        _cleanup_free_ char *b = remove_permit(a, "A-1");
        _cleanup_free_ char *c = remove_permit(b, "A-2");
        _cleanup_(policy_freep) struct policy *p = parse_ok(c, 10, 0, 0);

        assert_non_null(strstr(c, "usb = (\n    # first /* not a block comment start */\n"
                                  "    /* second,\n       with a comma in a comment */\n);\n"));
}

static void test_one_line_list(void **state) {
        static const char text[] = HEADER "usb = ( { permit = \"A\"; vendor = \"0781\"; product = \"5581\"; serial = \"S\";"
                                          " approved_by = \"X\"; approved_on = \"2026-11-20\"; } );\n";
        struct policy_usb_entry e = new_usb_entry("B", "stick");
        _cleanup_free_ char *out = add_usb(text, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);
        _cleanup_free_ char *back = remove_permit(out, "A");
        _cleanup_(policy_freep) struct policy *q = parse_ok(back, 9, 1, 0);
        assert_non_null(policy_find_usb_permit(q, "B"));
}

static void test_serial_forms(void **state) {
        static const char *const texts[] = {
                "kyoka_policy = 1; serial = 0x10; issued = \"2026-11-20\"; issuer = \"a\"; contract = \"b\";\n",
                "kyoka_policy = 1; serial = 16L; issued = \"2026-11-20\"; issuer = \"a\"; contract = \"b\";\n",
        };
        struct policy_usb_entry e = new_usb_entry("B", "stick");

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_free_ char *out = add_usb(texts[i], &e, false);
                _cleanup_(policy_freep) struct policy *p = parse_ok(out, 17, 1, 0);
                assert_non_null(strstr(out, "serial = 17;"));
        }

        /* Past 2^31-1 libconfig needs the L suffix. */
        static const char big[] =
                "kyoka_policy = 1; serial = 2147483647; issued = \"2026-11-20\"; issuer = \"a\"; contract = \"b\";\n";
        _cleanup_free_ char *out = add_usb(big, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 2147483648u, 1, 0);
        assert_non_null(strstr(out, "serial = 2147483648L;"));
}

static void test_refusals(void **state) {
        struct policy_usb_entry e = new_usb_entry("A-2", "dup");
        struct policy_diag d = {};
        char *out = NULL;
        bool rewritten = false;

        assert_int_equal(policy_edit_add_usb(three_entries, strlen(three_entries), "p", &e, &out, &rewritten, NULL),
                         -EEXIST);
        assert_int_equal(policy_edit_remove(three_entries, strlen(three_entries), "p", "NOPE", &out, &rewritten, NULL),
                         -ENOENT);

        static const char broken[] = HEADER "usb = ( { permit = \"A\"; vendor = \"78x1\"; } );\n";
        assert_int_equal(policy_edit_remove(broken, strlen(broken), "policy.conf", "A", &out, &rewritten, &d), -EINVAL);
        assert_true(d.n_errors > 0);
        bool found = false;
        for (size_t i = 0; i < d.n_messages; i++)
                found = found || strstr(d.messages[i], "policy.conf:8: usb[0].vendor: expected 4 hex digits");
        assert_true(found);
        policy_diag_done(&d);
        assert_null(out);
}

/* The edit is checked by comparing syntax trees and reading the new entry against the old
 * policy (not by parsing the whole result): what a whole parse refuses must still be refused. */
static void test_add_of_overlapping_device_is_refused(void **state) {
        struct policy_usb_entry e = new_usb_entry("A-9", "same stick again");
        struct policy_diag d = {};
        char *out = NULL;
        bool rewritten = false, found = false;

        e.serial = (char *) "S2";
        e.read_only = false;
        assert_int_equal(policy_edit_add_usb(three_entries, strlen(three_entries), "policy.conf", &e, &out, &rewritten, &d),
                         -EBADMSG);
        assert_null(out);
        for (size_t i = 0; i < d.n_messages; i++)
                found = found || strstr(d.messages[i], "serial \"S2\" is also approved by usb[1]");
        assert_true(found);
        policy_diag_done(&d);

        /* the same stick bound to a port overlaps the entry for any port, too */
        e.path = (char *) "pci-0000:00:14.0-usb-0:2:1.0";
        assert_int_equal(policy_edit_add_usb(three_entries, strlen(three_entries), "policy.conf", &e, &out, &rewritten, NULL),
                         -EBADMSG);
        /* and once its window starts after the entry's (which has none: always) ends, nothing */
        e.serial = (char *) "S4";
        free(add_usb(three_entries, &e, false));
}

static void test_add_for_a_workstation_the_policy_is_not_for_is_refused(void **state) {
        static const char text[] = HEADER "workstation = [ \"pc-01\", \"pc-02\" ];\nusb = (\n" ENTRY("A-1", "S1") "\n);\n";
        struct policy_usb_entry e = new_usb_entry("A-2", "elsewhere");
        char *ws[] = { (char *) "pc-03" }, *ws_ok[] = { (char *) "pc-02" };
        char *out = NULL;
        bool rewritten = false;

        e.approval.workstations = ws;
        e.approval.n_workstations = 1;
        assert_int_equal(policy_edit_add_usb(text, strlen(text), "policy.conf", &e, &out, &rewritten, NULL), -EBADMSG);
        assert_null(out);
        e.approval.workstations = ws_ok;
        out = add_usb(text, &e, false);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);
        assert_string_equal(policy_find_usb_permit(p, "A-2")->approval.workstations[0], "pc-02");
        free(out);
}

static void test_fallback_writes_canonical_form(void **state) {
        struct policy_usb_entry e = new_usb_entry("許可-2026-017", "SanDisk \"Ultra\"");
        char *out = NULL;
        bool rewritten = false;

        policy_edit_force_fallback = true;
        assert_int_equal(policy_edit_add_usb(three_entries, strlen(three_entries), "p", &e, &out, &rewritten, NULL), 0);
        assert_true(rewritten);
        {
                _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 4, 0);
                assert_string_equal(policy_find_usb_permit(p, "許可-2026-017")->approval.label, "SanDisk \"Ultra\"");
                assert_null(strstr(out, "# trailing comment"));
        }
        char *back = NULL;
        assert_int_equal(policy_edit_remove(out, strlen(out), "p", "A-2", &back, &rewritten, NULL), 0);
        assert_true(rewritten);
        {
                _cleanup_(policy_freep) struct policy *p = parse_ok(back, 9, 3, 0);
                assert_null(policy_find_usb_permit(p, "A-2"));
        }
        policy_edit_force_fallback = false;
        free(out);
        free(back);
}

static void test_add_and_remove_wireless_entry(void **state) {
        uint8_t bssids[2][6] = { { 0x02, 0, 0, 0, 0, 0 }, { 0x02, 0, 0, 0, 0x0a, 0 } };
        struct policy_wireless_entry e = {
                .approval = { .permit = (char *) "許可-2026-031", .approved_by = (char *) "山田",
                              .approved_on_text = (char *) "2026-11-22", .valid_from = TIME_NEG_INFINITY,
                              .valid_until = TIME_INFINITY },
                .ssid = "city-net", .ssid_len = 8,
                .n_bssids = 2, .bssids = bssids,
                .security = WIRELESS_SECURITY_WPA2_PSK,
        };
        _cleanup_free_ char *out = NULL, *out2 = NULL, *back = NULL;
        bool rewritten = true;

        assert_int_equal(policy_edit_add_wireless(three_entries, strlen(three_entries), "policy.conf", &e, &out,
                                                  &rewritten, NULL), 0);
        assert_false(rewritten);
        assert_non_null(strstr(out, "wireless = (\n    {\n        permit = \"許可-2026-031\";\n        ssid = \"city-net\";\n"
                                    "        bssid = [ \"02:00:00:00:00:00\", \"02:00:00:00:0a:00\" ];\n"
                                    "        security = \"wpa2-psk\";\n"));
        {
                _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 3, 0);
                assert_int_equal(p->n_wireless, 1);
                assert_int_equal(p->wireless[0].n_bssids, 2);
        }

        /* An SSID that is not text goes in as ssid_hex, and a second entry joins the list. */
        struct policy_wireless_entry f = e;
        f.approval.permit = (char *) "W-2";
        memcpy(f.ssid, "\x1b[2J\xff", 5);
        f.ssid_len = 5;
        f.n_bssids = 0;
        f.security = WIRELESS_SECURITY_OPEN;
        assert_int_equal(policy_edit_add_wireless(out, strlen(out), "policy.conf", &f, &out2, &rewritten, NULL), 0);
        assert_false(rewritten);
        assert_non_null(strstr(out2, "        ssid_hex = \"1b5b324aff\";\n"));
        {
                _cleanup_(policy_freep) struct policy *p = parse_ok(out2, 9, 3, 0);
                assert_int_equal(p->n_wireless, 2);
                assert_memory_equal(p->wireless[1].ssid, "\x1b[2J\xff", 5);
                assert_int_equal(p->wireless[1].security, WIRELESS_SECURITY_OPEN);
        }

        assert_int_equal(policy_edit_remove(out2, strlen(out2), "policy.conf", "許可-2026-031", &back, &rewritten, NULL), 0);
        assert_false(rewritten);
        _cleanup_(policy_freep) struct policy *p = parse_ok(back, 10, 3, 0);
        assert_int_equal(p->n_wireless, 1);
        assert_non_null(policy_find_wireless_permit(p, "W-2"));
        /* A permit of another list is taken. */
        char *again = NULL;
        assert_int_equal(policy_edit_add_wireless(back, strlen(back), "policy.conf", &f, &again, &rewritten, NULL), -EEXIST);
        assert_null(again);
}

static void test_add_wireless_canonical_fallback(void **state) {
        struct policy_wireless_entry e = {
                .approval = { .permit = (char *) "W-9", .approved_by = (char *) "山田", .approved_on_text = (char *) "2026-11-22",
                              .valid_from = TIME_NEG_INFINITY, .valid_until = TIME_INFINITY },
                .ssid = "guest", .ssid_len = 5, .security = WIRELESS_SECURITY_WPA3_SAE,
        };
        _cleanup_free_ char *out = NULL;
        bool rewritten = false;

        policy_edit_force_fallback = true;
        assert_int_equal(policy_edit_add_wireless(three_entries, strlen(three_entries), "p", &e, &out, &rewritten, NULL), 0);
        policy_edit_force_fallback = false;
        assert_true(rewritten);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 3, 0);
        assert_int_equal(p->wireless[0].security, WIRELESS_SECURITY_WPA3_SAE);
}

static struct policy_media_entry new_media_entry(const char *permit, enum media_bus bus) {
        struct policy_media_entry e = {
                .approval = {
                        .permit = (char *) permit,
                        .approved_by = (char *) "情報政策課 佐藤",
                        .approved_on_text = (char *) "2026-11-22",
                        .valid_from = TIME_NEG_INFINITY,
                        .valid_until = TIME_INFINITY,
                        .label = (char *) "QEMU \"DVD\"",
                },
                .bus = bus,
                .vendor = (char *) "QEMU",
                .model = (char *) "QEMU DVD-ROM",
                .path = (char *) "pci-0000:00:1f.2-ata-3.0",
                .read_only = true,
        };
        assert_int_equal(time_parse_iso8601("2026-11-22", &e.approval.approved_on, NULL), 0);
        return e;
}

/* A media permit is added as text (comments kept; a new `media` list when there is none, then
 * after its last entry), revoked by its permit, and the fixed disks are never touched. */
static void test_add_and_remove_media(void **state) {
        static const char with_fixed[] = HEADER "\nfixed_disks = ( { bus = \"ata\"; serial = \"SATASER1\"; } );  # ours\n";
        struct policy_media_entry e = new_media_entry("M-1", MEDIA_BUS_OPTICAL), e2 = new_media_entry("M-2", MEDIA_BUS_NVME);
        char *out = NULL, *out2 = NULL, *out3 = NULL;
        bool rewritten = true;
        struct policy_diag d = {};

        e2.serial = (char *) "NVSER123";
        e2.path = NULL;
        e2.read_only = false;
        assert_int_equal(policy_edit_add_media(with_fixed, strlen(with_fixed), "policy.conf", &e, &out, &rewritten, &d), 0);
        assert_false(rewritten);
        assert_non_null(strstr(out, "# ours\n"));
        assert_non_null(strstr(out, "bus = \"optical\";"));
        assert_non_null(strstr(out, "access = \"read-only\";"));
        assert_non_null(strstr(out, "label = \"QEMU \\\"DVD\\\"\";"));
        assert_int_equal(policy_edit_add_media(out, strlen(out), "policy.conf", &e2, &out2, &rewritten, &d), 0);
        assert_false(rewritten);
        struct policy *p = parse_ok(out2, 9, 0, 0);
        assert_int_equal(p->n_media, 2);
        assert_int_equal(p->n_fixed, 1);
        assert_int_equal(p->media[1].bus, MEDIA_BUS_NVME);
        assert_string_equal(p->media[1].serial, "NVSER123");
        assert_false(p->media[1].read_only);
        assert_true(p->media[0].read_only);
        policy_free(p);
        assert_int_equal(policy_edit_add_media(out2, strlen(out2), "policy.conf", &e2, &out3, &rewritten, &d), -EEXIST);
        assert_int_equal(policy_edit_remove(out2, strlen(out2), "policy.conf", "M-1", &out3, &rewritten, &d), 0);
        p = parse_ok(out3, 10, 0, 0);
        assert_int_equal(p->n_media, 1);
        assert_string_equal(p->media[0].approval.permit, "M-2");
        assert_int_equal(p->n_fixed, 1);
        policy_free(p);
        free(out3);
        out3 = NULL;

        /* The canonical fallback keeps the media and fixed disks too. */
        policy_edit_force_fallback = true;
        assert_int_equal(policy_edit_remove(out2, strlen(out2), "policy.conf", "M-2", &out3, &rewritten, &d), 0);
        policy_edit_force_fallback = false;
        assert_true(rewritten);
        p = parse_ok(out3, 10, 0, 0);
        assert_int_equal(p->n_media, 1);
        assert_string_equal(p->media[0].approval.permit, "M-1");
        assert_int_equal(p->n_fixed, 1);
        policy_free(p);
        free(out);
        free(out2);
        free(out3);
        policy_diag_done(&d);
}

/* approve --scan: the entry says scan = "required", in the text edit and in the canonical
 * fallback, for USB and media; an entry without it keeps following defaults.scan (no key). */
static void test_add_keeps_scan(void **state) {
        struct policy_usb_entry e = new_usb_entry("許可-SCAN", "stick");
        struct policy_media_entry m = new_media_entry("M-SCAN", MEDIA_BUS_MMC);
        e.scan = POLICY_SCAN_REQUIRED;
        m.scan = POLICY_SCAN_REQUIRED;

        for (int fallback = 0; fallback < 2; fallback++) {
                _cleanup_free_ char *out = NULL, *out2 = NULL, *out3 = NULL;
                bool rewritten;
                policy_edit_force_fallback = fallback;
                out = add_usb(three_entries, &e, fallback);
                assert_non_null(strstr(out, "scan = \"required\";\n"));
                assert_int_equal(policy_edit_add_media(out, strlen(out), "policy.conf", &m, &out2, &rewritten, NULL), 0);
                assert_int_equal(rewritten, fallback);
                _cleanup_(policy_freep) struct policy *p = parse_ok(out2, 9, 4, 0);
                assert_int_equal(policy_find_usb_permit(p, "許可-SCAN")->scan, POLICY_SCAN_REQUIRED);
                assert_int_equal(policy_find_usb_permit(p, "A-1")->scan, POLICY_SCAN_DEFAULT);
                assert_int_equal(policy_find_media_permit(p, "M-SCAN")->scan, POLICY_SCAN_REQUIRED);

                /* A later edit keeps them. */
                assert_int_equal(policy_edit_remove(out2, strlen(out2), "policy.conf", "A-1", &out3, &rewritten, NULL), 0);
                _cleanup_(policy_freep) struct policy *q = parse_ok(out3, 10, 3, 0);
                assert_int_equal(policy_find_usb_permit(q, "許可-SCAN")->scan, POLICY_SCAN_REQUIRED);
                assert_int_equal(policy_find_media_permit(q, "M-SCAN")->scan, POLICY_SCAN_REQUIRED);
        }
        policy_edit_force_fallback = false;

        /* Without --scan: no key written. */
        e.scan = POLICY_SCAN_DEFAULT;
        _cleanup_free_ char *plain = add_usb(three_entries, &e, false);
        assert_null(strstr(plain, "scan ="));
}

/* Edits are checked by reading only the bytes around what they changed: on every layout here
 * that must come to what reading the edited text whole comes to (the same text, the same
 * fallback, the same refusal). tests/fuzz/fuzz-policy-edit.c does the same on any text. */
static void test_window_check_agrees_with_whole_check(void **state) {
        static const char *const texts[] = {
                three_entries,
                HEADER "usb = ( { permit = \"A\"; vendor = \"0781\"; product = \"5581\"; serial = \"S\"; approved_by = \"X\";"
                " approved_on = \"2026-11-20\"; }, /* b */ { permit = \"B\" \"2\"; vendor = \"0781\"; product = \"5581\";"
                " serial = \"T\"; approved_by = \"X\"; approved_on = \"2026-11-20\"; } ) ;",
                HEADER "usb = ( );\nnetwork = (\n);\n",
                HEADER "usb = (\n" ENTRY("A-1", "S1") "\n\t,\n" ENTRY("A-2", "S2") ")\n# end",
                "kyoka_policy = 1; issued = \"2026-11-20\"; issuer = \"a\"; contract = \"b\";\nusb : (\n" ENTRY("A-1", "S1")
                ",\n" ENTRY("A-\\x00-2", "S2") ",\n" ENTRY("A-\\X41", "S3") "\n);\nserial = 0x7",
                HEADER "network = ( { permit = \"N\"; kind = \"wlan\"; approved_by = \"X\"; approved_on = \"2026-11-20\"; } )",
                HEADER "usb = (\n" ENTRY("A-1", "S1") "\n);\n/* never closed",
                HEADER "usb = (\n" ENTRY("A-1", "S1") " // x\n);\r\n",
        };
        static const char *const permits[] = { "A-1", "A-2", "A-3", "A", "B2", "N", "A--2", "A-\\X41", "A-A" };
        struct policy_usb_entry e = new_usb_entry("NEW-1", "stick");
        struct policy_usb_entry same_device = new_usb_entry("NEW-2", "overlapping S1");
        same_device.serial = (char *) "S1";
        same_device.has_interfaces = false;
        same_device.approval.valid_until_text = NULL;
        same_device.approval.valid_until = TIME_INFINITY;

        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                for (size_t k = 0; k < ELEMENTSOF(permits) + 2; k++) {
                        _cleanup_free_ char *a = NULL, *b = NULL;
                        bool rw_a = false, rw_b = false;
                        int ra, rb;
                        for (int full = 0; full < 2; full++) {
                                policy_edit_force_full_check = full;
                                char **out = full ? &b : &a;
                                bool *rw = full ? &rw_b : &rw_a;
                                int r = k == 0 ? policy_edit_add_usb(texts[i], strlen(texts[i]), "p", &e, out, rw, NULL) :
                                        k == 1 ? policy_edit_add_usb(texts[i], strlen(texts[i]), "p", &same_device, out, rw, NULL) :
                                        policy_edit_remove(texts[i], strlen(texts[i]), "p", permits[k - 2], out, rw, NULL);
                                if (full)
                                        rb = r;
                                else
                                        ra = r;
                        }
                        policy_edit_force_full_check = false;
                        assert_int_equal(ra, rb);
                        if (ra == 0) {
                                assert_int_equal(rw_a, rw_b);
                                assert_string_equal(a, b);
                        }
                }
}

/* libconfig 1.5 reads a block comment never closed as the end of the input; the edits have
 * always written such a file canonically, and still do. */
/* Adding after the last entry, into an empty list, and removing the first, a middle and the last
 * entry read the bytes around the change only; a list new at the end of the file is read whole. */
static void test_edits_are_checked_around_the_change(void **state) {
        static const char empty[] = HEADER "usb = (\n);\n";
        struct policy_usb_entry e = new_usb_entry("B", "stick");
        unsigned before = policy_edit_full_checks;

        free(add_usb(three_entries, &e, false));
        free(add_usb(empty, &e, false));
        free(remove_permit(three_entries, "A-1"));
        free(remove_permit(three_entries, "A-2"));
        free(remove_permit(three_entries, "A-3"));
        assert_int_equal(policy_edit_full_checks, before);

        static const char none[] = HEADER;
        free(add_usb(none, &e, false));
        assert_int_equal(policy_edit_full_checks, before + 1);
}

static void test_unclosed_comment_at_the_end_takes_the_fallback(void **state) {
        static const char text[] = HEADER "usb = (\n" ENTRY("A-1", "S1") "\n);\n/* never closed";
        struct policy_usb_entry e = new_usb_entry("B", "stick");
        _cleanup_free_ char *out = add_usb(text, &e, true);
        _cleanup_(policy_freep) struct policy *p = parse_ok(out, 8, 2, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_and_remove_media),
                cmocka_unit_test(test_add_keeps_scan),
                cmocka_unit_test(test_add_keeps_comments_and_raises_serial),
                cmocka_unit_test(test_add_keeps_port_and_hidraw),
                cmocka_unit_test(test_add_creates_list_when_absent),
                cmocka_unit_test(test_add_into_empty_lists),
                cmocka_unit_test(test_add_keeps_the_files_indentation),
                cmocka_unit_test(test_add_network_entry),
                cmocka_unit_test(test_japanese_and_escapes_round_trip),
                cmocka_unit_test(test_quote_string),
                cmocka_unit_test(test_remove_middle_entry_takes_its_comma_and_lines),
                cmocka_unit_test(test_remove_first_entry),
                cmocka_unit_test(test_remove_last_entry_takes_the_comma_before_it),
                cmocka_unit_test(test_remove_every_entry_leaves_an_empty_list),
                cmocka_unit_test(test_one_line_list),
                cmocka_unit_test(test_serial_forms),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_add_of_overlapping_device_is_refused),
                cmocka_unit_test(test_window_check_agrees_with_whole_check),
                cmocka_unit_test(test_edits_are_checked_around_the_change),
                cmocka_unit_test(test_unclosed_comment_at_the_end_takes_the_fallback),
                cmocka_unit_test(test_add_for_a_workstation_the_policy_is_not_for_is_refused),
                cmocka_unit_test(test_fallback_writes_canonical_form),
                cmocka_unit_test(test_add_and_remove_wireless_entry),
                cmocka_unit_test(test_add_wireless_canonical_fallback),
        };
        /* Dates in the policy are local: fix the zone so the tests do not depend on the host. */
        setenv("TZ", "Asia/Tokyo", 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
