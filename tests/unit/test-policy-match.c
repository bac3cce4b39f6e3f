/* SPDX-License-Identifier: MIT */
/* policy-match.c: decisions for USB devices and network links, their reasons and next_change.
 *
 * Policies are written as policy text and parsed (policy_parse builds the indices), so the
 * tests read like the files an approver writes. A few policies the parser rightly refuses
 * (overlapping windows, a link entry without keys) and the 100,000-entry one are built in
 * memory, to pin what matching does with them all the same. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "policy-match.h"
#include "policy.h"
#include "timeutil.h"

#define DAY 86400
#define T0 INT64_C(1789948800)        /* 2026-09-21T00:00:00Z */

/* ---- building policies by hand ---- */

static struct policy *policy_new(void) {
        struct policy *p = calloc(1, sizeof *p);
        assert_non_null(p);
        p->version = 1;
        p->serial = 1;
        p->valid_until = TIME_INFINITY;
        p->default_usb_hid = POLICY_ALLOW;
        p->default_usb_hub = POLICY_ALLOW;
        p->default_usb_other = POLICY_BLOCK;
        p->default_network = POLICY_BLOCK;
        return p;
}

static void test_policy_free(struct policy *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_usb; i++) {
                free(p->usb[i].approval.permit);
                free(p->usb[i].serial);
                free(p->usb[i].interfaces);
        }
        for (size_t i = 0; i < p->n_net; i++)
                free(p->net[i].approval.permit);
        free(p->usb);
        free(p->net);
        policy_index_free(p->index);
        free(p);
}

static void test_policy_freep(struct policy **p) {
        test_policy_free(*p);
}
#define _cleanup_policy_ _cleanup_(test_policy_freep)

static struct policy_approval approval(const char *permit, int64_t from, int64_t until) {
        struct policy_approval a = { .valid_from = from, .valid_until = until };
        a.permit = strdup(permit);
        assert_non_null(a.permit);
        return a;
}

/* Adds a usb entry; INTERFACES is NULL (no `interfaces` key) or a NULL-terminated list of
 * patterns like "08:06:50" or "03:*:*". Returns its index (pointers move as the array grows). */
static size_t add_usb(struct policy *p, const char *permit, uint16_t vendor, uint16_t product, const char *serial,
                      int64_t from, int64_t until, const char *const *interfaces) {
        p->usb = realloc(p->usb, (p->n_usb + 1) * sizeof *p->usb);
        assert_non_null(p->usb);
        struct policy_usb_entry *e = &p->usb[p->n_usb];
        *e = (struct policy_usb_entry) {
                .approval = approval(permit, from, until),
                .vendor = vendor, .product = product, .serial = strdup(serial),
        };
        if (interfaces) {
                size_t n = 0;
                while (interfaces[n])
                        n++;
                e->has_interfaces = true;
                e->interfaces = calloc(MAX(n, (size_t) 1), sizeof *e->interfaces);
                assert_non_null(e->interfaces);
                for (size_t i = 0; i < n; i++) {
                        char cls[3], sub[3], proto[3], s[9];
                        struct policy_interface_pattern *pat = &e->interfaces[i];
                        /* "03:*:*" as the parser would read it: "*" is a wildcard */
                        assert_int_equal(sscanf(interfaces[i], "%2[^:]:%2[^:]:%2s", cls, sub, proto), 3);
                        pat->any_subclass = streq(sub, "*");
                        pat->any_protocol = streq(proto, "*");
                        snprintf(s, sizeof s, "%s:%s:%s", cls, pat->any_subclass ? "00" : sub,
                                 pat->any_protocol ? "00" : proto);
                        assert_int_equal(usb_interface_class_parse(s, &pat->c), 0);
                }
                e->n_interfaces = n;
        }
        return p->n_usb++;
}

static size_t add_net(struct policy *p, const char *permit, const char *mac, const char *path, const char *kind,
                      const char *name, int64_t from, int64_t until) {
        p->net = realloc(p->net, (p->n_net + 1) * sizeof *p->net);
        assert_non_null(p->net);
        struct policy_net_entry *e = &p->net[p->n_net];
        *e = (struct policy_net_entry) {
                .approval = approval(permit, from, until),
                .path = (char *) path, .kind = (char *) kind, .name = (char *) name,
        };
        if (mac) {
                e->has_mac = true;
                assert_int_equal(mac_parse(mac, strlen(mac), HEX_ANY_CASE, e->mac), 0);
        }
        return p->n_net++;
}

/* T as policy text, "2026-09-21T00:00:00Z" (rotating buffers: several per format call). */
static const char *at(int64_t t) {
        static char bufs[8][32];
        static unsigned k;
        char *b = bufs[k++ % ELEMENTSOF(bufs)];
        time_t tt = (time_t) t;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        assert_true(strftime(b, sizeof bufs[0], "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
        return b;
}

/* A formatted string that lives until the test program ends (tests are short). */
_printf_(1, 2)
static const char *t_printf(const char *format, ...) {
        static char bufs[4][1024];
        static unsigned k;
        char *b = bufs[k++ % ELEMENTSOF(bufs)];
        va_list ap;
        va_start(ap, format);
        int n = vsnprintf(b, sizeof bufs[0], format, ap);
        va_end(ap);
        assert_true(n >= 0 && (size_t) n < sizeof bufs[0]);
        return b;
}

/* Parses a policy: the header, then BODY (printf-style: defaults, usb, network, ...). */
_printf_(1, 2)
static struct policy *parse(const char *body_format, ...) {
        _cleanup_free_ char *body = NULL, *text = NULL;
        struct policy_diag diag = {};
        struct policy *p = NULL;
        va_list ap;

        va_start(ap, body_format);
        assert_true(vasprintf(&body, body_format, ap) >= 0);
        va_end(ap);
        assert_true(asprintf(&text,
                             "kyoka_policy = 1;\n"
                             "serial = 1;\n"
                             "issued = \"2026-01-05T09:00+09:00\";\n"
                             "issuer = \"木更津市 総務部 情報政策課\";\n"
                             "contract = \"令和8年度 契約第123号\";\n"
                             "%s\n", body) >= 0);
        int r = policy_parse(text, strlen(text), "test.conf", &p, &diag);
        if (r < 0) {
                for (size_t i = 0; i < diag.n_messages; i++)
                        print_error("%s\n", diag.messages[i]);
                print_error("in:\n%s", text);
        }
        policy_diag_done(&diag);
        assert_int_equal(r, 0);
        return p;
}

#define DEFAULTS(hid, hub, other, net) \
        "defaults = { usb_hid = \"" hid "\"; usb_hub = \"" hub "\"; usb_other = \"" other "\"; network = \"" net "\"; };\n"
#define SAFE_DEFAULTS DEFAULTS("allow", "allow", "block", "block")

/* One usb entry for the stick 0781:5581 "4C53000123"; EXTRA adds keys (interfaces, access, ...). */
#define STICK_ENTRY(permit, from, until, extra) \
        "{ permit = \"" permit "\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53000123\";\n" \
        "  approved_by = \"情報政策課 山田 太郎\"; approved_on = \"2026-01-05\";\n" \
        "  valid_from = \"" from "\"; valid_until = \"" until "\"; " extra " }"

static void policy_freep_(struct policy **p) {
        policy_free(*p);
}
#define _cleanup_parsed_ _cleanup_(policy_freep_)

static void build(struct policy *p) {
        assert_int_equal(policy_index_build(p), 0);
}

/* ---- devices ---- */

static struct usb_identity usb_dev(uint16_t vendor, uint16_t product, const char *serial, const char *const *interfaces) {
        struct usb_identity id = { .vendor = vendor, .product = product };
        if (serial) {
                id.has_serial = true;
                strcpy(id.serial, serial);
        }
        for (size_t i = 0; interfaces && interfaces[i]; i++)
                assert_int_equal(usb_interface_class_parse(interfaces[i], &id.interfaces[id.n_interfaces++]), 0);
        return id;
}

#define IFS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define STICK usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50"))
#define KEYBOARD usb_dev(0x046d, 0xc31c, NULL, IFS("03:01:01", "03:00:00"))

static struct net_identity net_dev(const char *name, const char *mac, const char *path, const char *kind) {
        struct net_identity id = { .ifindex = 5 };
        strcpy(id.name, name);
        if (mac) {
                id.has_mac = id.mac_is_permanent = true;
                assert_int_equal(mac_parse(mac, strlen(mac), HEX_ANY_CASE, id.mac), 0);
        }
        strcpy(id.path, path ?: "");
        strcpy(id.kind, kind ?: "");
        return id;
}

static struct policy_decision match_usb(const struct policy *p, struct usb_identity id, int64_t now) {
        struct policy_decision d;
        memset(&d, 0x5a, sizeof d);
        policy_match_usb(p, &id, now, &d);
        return d;
}

static struct policy_decision match_net(const struct policy *p, struct net_identity id, int64_t now) {
        struct policy_decision d;
        memset(&d, 0x5a, sizeof d);
        policy_match_net(p, &id, now, &d);
        return d;
}

static const char *describe(const struct policy_decision *d, struct usb_identity id) {
        static char buf[512];
        size_t n = policy_decision_describe(d, &id, buf, sizeof buf);
        assert_int_equal(n, strlen(buf));
        return buf;
}

/* A policy with DEFAULTS and one permit for STICK, valid [T0, T0 + 100 days), with EXTRA keys. */
static struct policy *stick_policy_with(const char *defaults, const char *extra) {
        return parse("%s"
                     "usb = ( { permit = \"許可-2026-017\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53000123\";\n"
                     "          approved_by = \"情報政策課 山田 太郎\"; approved_on = \"2026-01-05\";\n"
                     "          valid_from = \"%s\"; valid_until = \"%s\";\n"
                     "          %s } );\n",
                     defaults, at(T0), at(T0 + 100 * DAY), extra);
}

static struct policy *stick_policy(const char *extra) {
        return stick_policy_with(SAFE_DEFAULTS, extra);
}

/* ---- time windows ---- */

static void test_permit_in_window_allows(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, STICK, T0 + DAY);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_int_equal(d.window, WINDOW_OPEN);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
        assert_null(d.net_entry);
        assert_int_equal(d.interface_mask, 0x1);
        assert_int_equal(d.unapproved_interface, -1);
        assert_string_equal(describe(&d, STICK), "permit 許可-2026-017");
}

static void test_permit_is_valid_exactly_at_valid_from(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, STICK, T0).verdict, VERDICT_ALLOW);
}

static void test_permit_before_valid_from_is_not_yet_valid(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, STICK, T0 - 1);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
        assert_int_equal(d.window, WINDOW_NOT_YET);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
        assert_int_equal(d.interface_mask, 0);
        assert_string_equal(describe(&d, STICK),
                            "default usb_other (permit 許可-2026-017 not valid before 2026-09-21T00:00:00Z)");
}

static void test_permit_one_second_before_valid_until_is_valid(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, STICK, T0 + 100 * DAY - 1).verdict, VERDICT_ALLOW);
}

static void test_permit_exactly_at_valid_until_is_expired(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, STICK, T0 + 100 * DAY);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
}

static void test_date_only_valid_until_lasts_through_that_day(void **state) {
        /* TZ is Asia/Tokyo: "2027-03-31" ends at 2027-04-01T00:00+09:00 */
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS "usb = ( " STICK_ENTRY("P", "2026-11-21", "2027-03-31", "") " );");
        int64_t end;
        assert_int_equal(time_parse_iso8601("2027-04-01T00:00:00+09:00", &end, NULL), 0);
        assert_int_equal(match_usb(p, STICK, end - 1).verdict, VERDICT_ALLOW);
        struct policy_decision d = match_usb(p, STICK, end);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_string_equal(describe(&d, STICK), "default usb_other (permit P expired 2027-03-31)");
}

static void test_date_only_valid_from_is_named_as_written(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS "usb = ( " STICK_ENTRY("X", "2026-12-01", "2027-03-31", "") " );");
        struct policy_decision d = match_usb(p, STICK, T0);
        assert_string_equal(describe(&d, STICK), "default usb_other (permit X not valid before 2026-12-01)");
        assert_int_equal(d.next_change, p->usb[0].approval.valid_from);
}

static void test_expired_permit_falls_to_allowing_default(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy_with(DEFAULTS("allow", "allow", "allow", "block"), "");
        struct policy_decision d = match_usb(p, STICK, T0 + 200 * DAY);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        assert_int_equal(d.interface_mask, 0x1);
}

static void test_permit_without_window_is_always_valid(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "usb = ( { permit = \"P\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53000123\";\n"
                "          approved_by = \"a\"; approved_on = \"2026-01-05\"; } );");
        struct policy_decision d = match_usb(p, STICK, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.next_change, TIME_INFINITY);
}

/* ---- identity keys ---- */

static void test_other_serial_is_not_matched(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000124", IFS("08:06:50")), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_NONE);
        assert_null(d.usb_entry);
        assert_string_equal(describe(&d, STICK), "default usb_other");
}

static void test_other_product_is_not_matched(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, usb_dev(0x0781, 0x5582, "4C53000123", IFS("08:06:50")), T0).window, WINDOW_NONE);
}

static void test_empty_serial_entry_approves_device_without_serial(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "usb = ( { permit = \"P\"; vendor = \"0781\"; product = \"5581\"; serial = \"\";\n"
                "          approved_by = \"a\"; approved_on = \"2026-01-05\"; } );");
        assert_int_equal(match_usb(p, usb_dev(0x0781, 0x5581, NULL, IFS("08:06:50")), T0).verdict, VERDICT_ALLOW);
}

static void test_device_without_serial_does_not_match_entry_with_serial(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, usb_dev(0x0781, 0x5581, NULL, IFS("08:06:50")), T0).window, WINDOW_NONE);
}

static void test_sanitised_serial_with_escape_matches(void **state) {
        /* the device reported "AB<ESC>C"; kyokad stores it sanitised, the policy holds that form */
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "usb = ( { permit = \"P\"; vendor = \"0781\"; product = \"5581\"; serial = \"AB\\\\x1bC\";\n"
                "          approved_by = \"a\"; approved_on = \"2026-01-05\"; } );");
        struct usb_identity id = usb_dev(0x0781, 0x5581, NULL, IFS("08:06:50"));
        id.has_serial = true;
        identity_sanitize("AB\x1b" "C", 4, id.serial, sizeof id.serial);
        assert_int_equal(match_usb(p, id, T0).verdict, VERDICT_ALLOW);
}

/* ---- read-only ---- */

static void test_read_only_entry_gives_read_only(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("access = \"read-only\";");
        struct policy_decision d = match_usb(p, STICK, T0);
        assert_int_equal(d.verdict, VERDICT_READ_ONLY);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_string_equal(describe(&d, STICK), "permit 許可-2026-017 (read-only)");
}

/* ---- the port (path) ---- */

#define PORT1 "pci-0000:00:14.0-usb-0:1"
#define PORT2 "pci-0000:00:14.0-usb-0:2"

static struct usb_identity on_port(struct usb_identity id, const char *path) {
        snprintf(id.id_path, sizeof id.id_path, "%s", path);
        return id;
}

static void test_permit_bound_to_port_allows_there(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("path = \"" PORT1 "\";");
        struct policy_decision d = match_usb(p, on_port(STICK, PORT1), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
        assert_int_equal(d.next_change, T0 + 100 * DAY);
}

static void test_permit_bound_to_port_does_not_allow_elsewhere(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("path = \"" PORT1 "\";");
        struct policy_decision d = match_usb(p, on_port(STICK, PORT2), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
        assert_int_equal(d.window, WINDOW_OTHER_PORT);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
        assert_int_equal(d.interface_mask, 0);
        /* Its window does not change anything for this port. */
        assert_int_equal(d.next_change, TIME_INFINITY);
        assert_string_equal(describe(&d, STICK), "default usb_other (permit 許可-2026-017 is for port " PORT1 ")");
        /* A prefix or an extension of the path is another port. */
        d = match_usb(p, on_port(STICK, PORT1 ".3"), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        d = match_usb(p, on_port(STICK, "pci-0000:00:14.0-usb-0:"), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
}

/* udev named no port (ID_PATH unknown): a permit for a port never matches. */
static void test_permit_bound_to_port_needs_a_known_port(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("path = \"" PORT1 "\";");
        struct policy_decision d = match_usb(p, STICK, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_OTHER_PORT);
        /* An identity whose id_path fills its buffer without a NUL is no port either. */
        struct usb_identity id = STICK;
        memset(id.id_path, 'x', sizeof id.id_path);
        d = match_usb(p, id, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
}

/* A permit without path matches on every port. */
static void test_permit_without_port_allows_on_any_port(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, on_port(STICK, PORT1), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_usb(p, on_port(STICK, PORT2), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_usb(p, STICK, T0).verdict, VERDICT_ALLOW);
}

/* Two units of a serial-less model, each bound to its port by its own permit. */
static void test_serial_less_permits_on_two_ports(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "usb = ( { permit = \"P1\"; vendor = \"0781\"; product = \"5581\"; serial = \"\"; path = \"" PORT1 "\";\n"
                "          approved_by = \"山田\"; approved_on = \"2026-01-05\"; },\n"
                "        { permit = \"P2\"; vendor = \"0781\"; product = \"5581\"; serial = \"\"; path = \"" PORT2 "\";\n"
                "          approved_by = \"山田\"; approved_on = \"2026-01-05\"; access = \"read-only\"; } );\n");
        struct usb_identity clone = usb_dev(0x0781, 0x5581, NULL, IFS("08:06:50"));
        struct policy_decision d = match_usb(p, on_port(clone, PORT1), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
        d = match_usb(p, on_port(clone, PORT2), T0);
        assert_int_equal(d.verdict, VERDICT_READ_ONLY);
        assert_ptr_equal(d.usb_entry, &p->usb[1]);
        d = match_usb(p, on_port(clone, "pci-0000:00:14.0-usb-0:3"), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_OTHER_PORT);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
}

/* On the right port but expired: the reason is the expiry, not the port. */
static void test_expired_permit_on_its_port_is_named_expired(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("path = \"" PORT1 "\";");
        struct policy_decision d = match_usb(p, on_port(STICK, PORT1), T0 + 100 * DAY);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        /* On another port, an expired permit is not "for another port": nothing applies now. */
        d = match_usb(p, on_port(STICK, PORT2), T0 + 100 * DAY);
        assert_int_equal(d.window, WINDOW_NONE);
        assert_null(d.usb_entry);
}

/* ---- raw HID ---- */

static void test_permit_with_hidraw_user_says_so(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "usb = ( { permit = \"P-KEY\"; vendor = \"046d\"; product = \"c31c\"; serial = \"\"; hidraw = \"user\";\n"
                "          interfaces = [ \"03:*:*\" ]; approved_by = \"山田\"; approved_on = \"2026-01-05\";\n"
                "          valid_until = \"%s\"; } );\n", at(T0 + DAY));
        struct policy_decision d = match_usb(p, KEYBOARD, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_true(d.hidraw_user);
        /* Expired: the keyboard still works by defaults.usb_hid, its raw HID is root's again. */
        d = match_usb(p, KEYBOARD, T0 + DAY);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_DEFAULT_HID);
        assert_false(d.hidraw_user);
}

/* ---- scan ---- */

/* scan = "required" on the permit, or defaults.scan for a permit that says nothing and for a
 * device allowed by defaults.usb_other; never for keyboards and hubs, never for a block. */
static void test_scan_required_follows_permit_and_defaults(void **state) {
        _cleanup_parsed_ struct policy *p = parse(
                "defaults = { usb_other = \"allow\"; scan = \"required\"; };\n"
                "usb = ( " STICK_ENTRY("P", "2026-01-01", "2027-03-31", "scan = \"none\";") " );");
        struct policy_decision d = match_usb(p, STICK, T0);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_false(d.scan_required);
        d = match_usb(p, usb_dev(0x0781, 0x5581, "OTHER", IFS("08:06:50")), T0);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_true(d.scan_required);
        d = match_usb(p, KEYBOARD, T0);
        assert_false(d.scan_required);

        _cleanup_parsed_ struct policy *q = parse(
                "defaults = { scan = \"required\"; };\n"
                "usb = ( " STICK_ENTRY("P", "2026-01-01", "2027-03-31", "access = \"read-only\";") " );");
        d = match_usb(q, STICK, T0);
        assert_int_equal(d.verdict, VERDICT_READ_ONLY);
        assert_true(d.scan_required);
        d = match_usb(q, usb_dev(0x0781, 0x5581, "OTHER", IFS("08:06:50")), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_false(d.scan_required);

        _cleanup_parsed_ struct policy *r = parse(
                SAFE_DEFAULTS "usb = ( " STICK_ENTRY("P", "2026-01-01", "2027-03-31", "scan = \"required\";") " );");
        d = match_usb(r, STICK, T0);
        assert_true(d.scan_required);
        d = match_usb(NULL, STICK, T0);
        assert_false(d.scan_required);
}

/* scan = "in-and-out": scanned before use and each file written; "required": before use only;
 * the defaults' word for media and devices the defaults allow. */
static void test_scan_written_follows_in_and_out(void **state) {
        _cleanup_parsed_ struct policy *p = parse(
                "defaults = { usb_other = \"allow\"; media = \"allow\"; scan = \"in-and-out\"; };\n"
                "usb = ( " STICK_ENTRY("P", "2026-01-01", "2027-03-31", "scan = \"required\";") " );");
        struct policy_decision d = match_usb(p, STICK, T0);
        assert_true(d.scan_required);
        assert_false(d.scan_written);
        d = match_usb(p, usb_dev(0x0781, 0x5581, "OTHER", IFS("08:06:50")), T0);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
        assert_true(d.scan_required);
        assert_true(d.scan_written);
        d = match_usb(p, KEYBOARD, T0);
        assert_false(d.scan_written);

        _cleanup_parsed_ struct policy *q = parse(
                SAFE_DEFAULTS "usb = ( " STICK_ENTRY("P", "2026-01-01", "2027-03-31", "scan = \"in-and-out\";") " );");
        d = match_usb(q, STICK, T0);
        assert_true(d.scan_required);
        assert_true(d.scan_written);
        d = match_usb(q, usb_dev(0x0781, 0x5581, "OTHER", IFS("08:06:50")), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_false(d.scan_written);
        d = match_usb(NULL, STICK, T0);
        assert_false(d.scan_written);
}

/* Without a permit saying so, nothing gives raw HID to users: defaults, lockdown, a permit
 * without hidraw, a permit whose interfaces do not cover the device. */
static void test_raw_hid_is_root_without_a_permit_saying_so(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_false(match_usb(p, KEYBOARD, T0).hidraw_user);
        assert_false(match_usb(NULL, KEYBOARD, T0).hidraw_user);
        assert_false(match_usb(p, STICK, T0).hidraw_user);
        _cleanup_parsed_ struct policy *q = stick_policy("interfaces = [ \"08:06:50\" ]; hidraw = \"user\";");
        struct usb_identity both = usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:01"));
        struct policy_decision d = match_usb(q, both, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_false(d.hidraw_user);
        assert_true(match_usb(q, STICK, T0).hidraw_user);
        /* Past the policy's own end: lockdown, root. */
        _cleanup_parsed_ struct policy *r = parse("valid_until = \"%s\";\n" SAFE_DEFAULTS
                "usb = ( { permit = \"P-KEY\"; vendor = \"046d\"; product = \"c31c\"; serial = \"\"; hidraw = \"user\";\n"
                "          approved_by = \"山田\"; approved_on = \"2026-01-05\"; } );\n", at(T0 + DAY));
        assert_true(match_usb(r, KEYBOARD, T0).hidraw_user);
        assert_false(match_usb(r, KEYBOARD, T0 + DAY).hidraw_user);
}

/* ---- interfaces ---- */

static void test_stick_that_is_also_a_keyboard_is_blocked(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\" ];");
        struct usb_identity id = usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:01"));
        struct policy_decision d = match_usb(p, id, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_INTERFACES_NOT_APPROVED);
        assert_int_equal(d.window, WINDOW_OPEN);
        assert_ptr_equal(d.usb_entry, &p->usb[0]);
        assert_int_equal(d.unapproved_interface, 1);
        assert_int_equal(d.interface_mask, 0);
        assert_string_equal(describe(&d, id), "permit 許可-2026-017 does not approve interface 03:01:01");
}

static void test_read_only_stick_that_is_also_a_keyboard_is_blocked(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\" ]; access = \"read-only\";");
        struct usb_identity id = usb_dev(0x0781, 0x5581, "4C53000123", IFS("03:01:01", "08:06:50"));
        struct policy_decision d = match_usb(p, id, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.unapproved_interface, 0);
}

static void test_listed_interfaces_in_any_order_are_approved(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"03:01:01\", \"08:06:50\" ];");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:01")), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.interface_mask, 0x3);
}

static void test_wildcard_subclass_and_protocol_cover_any(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\", \"03:*:*\" ];");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:02", "03:00:00")), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.interface_mask, 0x7);
}

static void test_wildcard_protocol_does_not_cover_other_subclass(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:*\" ];");
        struct usb_identity ok = usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:62"));
        struct usb_identity bad = usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:05:50"));
        assert_int_equal(match_usb(p, ok, T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_usb(p, bad, T0).reason, REASON_INTERFACES_NOT_APPROVED);
}

static void test_wildcard_does_not_cover_other_class(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:*:*\" ];");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000123", IFS("02:06:00")), T0);
        assert_int_equal(d.reason, REASON_INTERFACES_NOT_APPROVED);
}

static void test_unlisted_disable_authorises_only_listed_interfaces(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\" ]; unlisted_interfaces = \"disable\";");
        struct usb_identity id = usb_dev(0x0781, 0x5581, "4C53000123", IFS("03:01:01", "08:06:50", "e0:01:01"));
        struct policy_decision d = match_usb(p, id, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_int_equal(d.interface_mask, 0x2);
        assert_int_equal(d.unapproved_interface, 0);
        assert_string_equal(describe(&d, id), "permit 許可-2026-017 (2 unlisted interfaces disabled, first 03:01:01)");
}

static void test_unlisted_disable_read_only_keeps_read_only(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\" ]; unlisted_interfaces = \"disable\";"
                                                         " access = \"read-only\";");
        struct usb_identity id = usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:01"));
        struct policy_decision d = match_usb(p, id, T0);
        assert_int_equal(d.verdict, VERDICT_READ_ONLY);
        assert_int_equal(d.interface_mask, 0x1);
        assert_string_equal(describe(&d, id), "permit 許可-2026-017 (read-only; unlisted interface 03:01:01 disabled)");
}

static void test_unlisted_disable_with_no_listed_interface_blocks(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\" ]; unlisted_interfaces = \"disable\";");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000123", IFS("03:01:01")), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_INTERFACES_NOT_APPROVED);
        assert_int_equal(d.interface_mask, 0);
}

static void test_entry_without_interfaces_approves_all(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:01", "ff:00:00")), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.interface_mask, 0x7);
}

static void test_mask_covers_all_32_interfaces(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct usb_identity id = STICK;
        id.n_interfaces = USB_INTERFACES_MAX;
        for (size_t i = 0; i < USB_INTERFACES_MAX; i++)
                id.interfaces[i] = (struct usb_interface_class) { 8, 6, 0x50 };
        assert_int_equal(match_usb(p, id, T0).interface_mask, UINT32_MAX);
}

/* ---- defaults ---- */

static void test_keyboard_follows_default_usb_hid_allow(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, KEYBOARD, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_DEFAULT_HID);
        assert_int_equal(d.interface_mask, 0x3);
        assert_string_equal(describe(&d, KEYBOARD), "default usb_hid");
}

static void test_keyboard_follows_default_usb_hid_block(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy_with(DEFAULTS("block", "allow", "block", "block"), "");
        struct policy_decision d = match_usb(p, KEYBOARD, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_HID);
        assert_int_equal(d.interface_mask, 0);
}

static void test_keyboard_with_storage_is_not_hid_only(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, usb_dev(0x1234, 0x5678, NULL, IFS("03:01:01", "08:06:50")), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
}

static void test_hub_follows_default_usb_hub_allow(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct usb_identity hub = usb_dev(0x05e3, 0x0610, NULL, IFS("09:00:00"));
        hub.device_class.cls = USB_CLASS_HUB;
        struct policy_decision d = match_usb(p, hub, T0);
        assert_int_equal(d.reason, REASON_DEFAULT_HUB);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
}

static void test_hub_follows_default_usb_hub_block(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy_with(DEFAULTS("allow", "block", "block", "block"), "");
        struct usb_identity hub = usb_dev(0x05e3, 0x0610, NULL, IFS("09:00:00"));
        hub.device_class.cls = USB_CLASS_HUB;
        assert_int_equal(match_usb(p, hub, T0).verdict, VERDICT_BLOCK);
}

static void test_hub_class_device_with_storage_is_other(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct usb_identity fake = usb_dev(0x05e3, 0x0610, NULL, IFS("09:00:00", "08:06:50"));
        fake.device_class.cls = USB_CLASS_HUB;
        struct policy_decision d = match_usb(p, fake, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
}

static void test_device_without_interfaces_is_other(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, usb_dev(0x1234, 0x5678, NULL, NULL), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_OTHER);
}

/* ---- lockdown ---- */

static void test_lockdown_allows_keyboard(void **state) {
        struct policy_decision d = match_usb(NULL, KEYBOARD, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_LOCKDOWN_HID);
        assert_int_equal(d.next_change, TIME_INFINITY);
}

static void test_lockdown_allows_hub(void **state) {
        struct usb_identity hub = usb_dev(0x05e3, 0x0610, NULL, NULL);
        hub.device_class.cls = USB_CLASS_HUB;
        struct policy_decision d = match_usb(NULL, hub, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_LOCKDOWN_HUB);
}

static void test_lockdown_blocks_stick(void **state) {
        struct policy_decision d = match_usb(NULL, STICK, T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_LOCKDOWN_OTHER);
        assert_null(d.usb_entry);
        assert_string_equal(describe(&d, STICK), "lockdown: no valid policy");
}

static void test_lockdown_blocks_network(void **state) {
        struct policy_decision d = match_net(NULL, net_dev("eth0", "52:54:00:12:34:56", NULL, NULL), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_LOCKDOWN_NETWORK);
}

static void test_policy_at_its_valid_until_is_lockdown(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy_with(
                t_printf("valid_until = \"%s\";\n" SAFE_DEFAULTS, at(T0 + DAY)), "");
        assert_int_equal(match_usb(p, STICK, T0 + DAY - 1).reason, REASON_PERMIT);
        assert_int_equal(match_usb(p, STICK, T0 + DAY).reason, REASON_LOCKDOWN_OTHER);
}

/* ---- renewals ---- */

/* P1 valid [T0, T0+10d), P2 (the renewal) valid [T0+10d+GAP, T0+20d), listed in reverse order,
 * with another unit of the same model between them. */
static struct policy *renewal_policy(int64_t gap) {
        return parse(SAFE_DEFAULTS
                     "usb = (\n"
                     "  { permit = \"P2\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53000123\";\n"
                     "    approved_by = \"a\"; approved_on = \"2026-01-05\"; valid_from = \"%s\"; valid_until = \"%s\"; },\n"
                     "  { permit = \"OTHER\"; vendor = \"0781\"; product = \"5581\"; serial = \"999\";\n"
                     "    approved_by = \"a\"; approved_on = \"2026-01-05\"; valid_from = \"%s\"; valid_until = \"%s\"; },\n"
                     "  { permit = \"P1\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53000123\";\n"
                     "    approved_by = \"a\"; approved_on = \"2026-01-05\"; valid_from = \"%s\"; valid_until = \"%s\"; }\n"
                     ");",
                     at(T0 + 10 * DAY + gap), at(T0 + 20 * DAY), at(T0), at(T0 + 20 * DAY), at(T0), at(T0 + 10 * DAY));
}

static void test_renewal_first_window_uses_first_permit(void **state) {
        _cleanup_parsed_ struct policy *p = renewal_policy(0);
        struct policy_decision d = match_usb(p, STICK, T0 + DAY);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_string_equal(d.usb_entry->approval.permit, "P1");
        assert_int_equal(d.next_change, T0 + 10 * DAY);
}

static void test_renewal_takes_over_exactly_at_the_boundary(void **state) {
        _cleanup_parsed_ struct policy *p = renewal_policy(0);
        struct policy_decision d = match_usb(p, STICK, T0 + 10 * DAY);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_string_equal(d.usb_entry->approval.permit, "P2");
        assert_int_equal(d.next_change, T0 + 20 * DAY);
}

static void test_renewal_gap_names_the_coming_permit(void **state) {
        _cleanup_parsed_ struct policy *p = renewal_policy(DAY);
        struct policy_decision d = match_usb(p, STICK, T0 + 10 * DAY);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_NOT_YET);
        assert_string_equal(d.usb_entry->approval.permit, "P2");
        assert_int_equal(d.next_change, T0 + 11 * DAY);
}

static void test_renewal_after_both_names_the_last_expired(void **state) {
        _cleanup_parsed_ struct policy *p = renewal_policy(0);
        struct policy_decision d = match_usb(p, STICK, T0 + 30 * DAY);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        assert_string_equal(d.usb_entry->approval.permit, "P2");
        assert_int_equal(d.next_change, TIME_INFINITY);
}

static void test_renewal_before_both_names_the_first(void **state) {
        _cleanup_parsed_ struct policy *p = renewal_policy(0);
        struct policy_decision d = match_usb(p, STICK, T0 - DAY);
        assert_int_equal(d.window, WINDOW_NOT_YET);
        assert_string_equal(d.usb_entry->approval.permit, "P1");
        assert_int_equal(d.next_change, T0);
}

static void test_overlapping_entries_first_in_file_decides(void **state) {
        /* the parser refuses overlaps; matching must still be deterministic for a hand-built policy */
        _cleanup_policy_ struct policy *p = policy_new();
        add_usb(p, "A", 0x0781, 0x5581, "4C53000123", T0, T0 + 10 * DAY, NULL);
        add_usb(p, "B", 0x0781, 0x5581, "4C53000123", T0, T0 + 10 * DAY, NULL);
        p->usb[1].read_only = true;
        build(p);
        assert_string_equal(match_usb(p, STICK, T0).usb_entry->approval.permit, "A");
}

/* ---- next_change ---- */

static void test_next_change_is_policy_end_when_earlier(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy_with(t_printf("valid_until = \"%s\";\n" SAFE_DEFAULTS, at(T0 + 5 * DAY)), "");
        assert_int_equal(match_usb(p, STICK, T0).next_change, T0 + 5 * DAY);
}

static void test_next_change_of_default_is_policy_end(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy_with(t_printf("valid_until = \"%s\";\n" SAFE_DEFAULTS, at(T0 + 500 * DAY)), "");
        assert_int_equal(match_usb(p, KEYBOARD, T0).next_change, T0 + 500 * DAY);
}

static void test_next_change_of_unmatched_device_without_policy_end_is_infinity(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, KEYBOARD, T0).next_change, TIME_INFINITY);
}

static void test_next_change_of_not_yet_valid_is_valid_from(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        assert_int_equal(match_usb(p, STICK, T0 - 100).next_change, T0);
}

static void test_next_change_of_blocked_interfaces_is_valid_until(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("interfaces = [ \"08:06:50\" ];");
        struct policy_decision d = match_usb(p, usb_dev(0x0781, 0x5581, "4C53000123", IFS("08:06:50", "03:01:01")), T0);
        assert_int_equal(d.next_change, T0 + 100 * DAY);
}

/* ---- network ---- */

#define NET_ENTRY(permit, keys) \
        "{ permit = \"" permit "\"; " keys " approved_by = \"a\"; approved_on = \"2026-01-05\"; " \
        "valid_from = \"2026-09-21T00:00:00Z\"; valid_until = \"2026-10-01T00:00:00Z\"; }"  /* [T0, T0+10d) */

static struct policy *net_policy_with(const char *defaults) {
        return parse("%s"
                     "network = (\n"
                     NET_ENTRY("NET-MAC", "mac = \"52:54:00:12:34:56\";") ",\n"
                     NET_ENTRY("NET-PATH", "path = \"pci-0000:00:14.0-usb-0:3:1.0\";") ",\n"
                     NET_ENTRY("NET-WG", "kind = \"wireguard\"; name = \"wg*\";") ",\n"
                     NET_ENTRY("NET-MAC-NAME", "mac = \"52:54:00:AA:bb:cc\"; name = \"eth*\";") "\n"
                     ");", defaults);
}

static struct policy *net_policy(void) {
        return net_policy_with(SAFE_DEFAULTS);
}

static void test_link_matched_by_mac(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        struct policy_decision d = match_net(p, net_dev("enx525400123456", "52:54:00:12:34:56", NULL, NULL), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_ptr_equal(d.net_entry, &p->net[0]);
        assert_null(d.usb_entry);
        assert_int_equal(d.next_change, T0 + 10 * DAY);
        assert_string_equal(describe(&d, STICK), "permit NET-MAC");
}

static void test_link_matched_by_path(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        struct policy_decision d = match_net(p, net_dev("usb0", "02:00:00:00:00:01", "pci-0000:00:14.0-usb-0:3:1.0", NULL), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_ptr_equal(d.net_entry, &p->net[1]);
}

static void test_link_matched_by_kind_and_name_glob(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        struct policy_decision d = match_net(p, net_dev("wg0", NULL, NULL, "wireguard"), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_ptr_equal(d.net_entry, &p->net[2]);
}

static void test_link_with_right_kind_and_wrong_name_is_not_matched(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        struct policy_decision d = match_net(p, net_dev("tun0", NULL, NULL, "wireguard"), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_NETWORK);
        assert_int_equal(d.window, WINDOW_NONE);
        assert_string_equal(describe(&d, STICK), "default network");
}

static void test_link_with_right_name_and_wrong_kind_is_not_matched(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        assert_int_equal(match_net(p, net_dev("wg0", NULL, NULL, "tun"), T0).verdict, VERDICT_BLOCK);
}

static void test_link_with_right_mac_and_wrong_name_is_not_matched(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        assert_int_equal(match_net(p, net_dev("eth0", "52:54:00:aa:bb:cc", NULL, NULL), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_net(p, net_dev("wlan0", "52:54:00:aa:bb:cc", NULL, NULL), T0).verdict, VERDICT_BLOCK);
}

static void test_link_with_other_mac_is_not_matched(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        assert_int_equal(match_net(p, net_dev("eth0", "52:54:00:12:34:57", NULL, NULL), T0).verdict, VERDICT_BLOCK);
}

static void test_loopback_is_always_allowed(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        struct net_identity lo = net_dev("lo", NULL, NULL, NULL);
        lo.is_loopback = true;
        struct policy_decision d = match_net(p, lo, T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_LOOPBACK);
        assert_string_equal(describe(&d, STICK), "loopback");
        assert_int_equal(match_net(NULL, lo, T0).verdict, VERDICT_ALLOW);
}

static void test_unmatched_link_follows_default_network_allow(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy_with(DEFAULTS("allow", "allow", "block", "allow"));
        struct policy_decision d = match_net(p, net_dev("veth0", NULL, NULL, "veth"), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_DEFAULT_NETWORK);
}

static void test_expired_link_permit_is_named(void **state) {
        _cleanup_parsed_ struct policy *p = net_policy();
        struct policy_decision d = match_net(p, net_dev("eth0", "52:54:00:12:34:56", NULL, NULL), T0 + 10 * DAY);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        assert_ptr_equal(d.net_entry, &p->net[0]);
        assert_string_equal(describe(&d, STICK), "default network (permit NET-MAC expired 2026-10-01T00:00:00Z)");
}

static void test_link_prefers_entry_in_window(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "network = (\n"
                "  { permit = \"OLD\"; mac = \"52:54:00:12:34:56\"; approved_by = \"a\"; approved_on = \"2026-01-05\";\n"
                "    valid_from = \"%s\"; valid_until = \"%s\"; },\n"
                "  { permit = \"BY-NAME\"; name = \"eth*\"; approved_by = \"a\"; approved_on = \"2026-01-05\";\n"
                "    valid_from = \"%s\"; valid_until = \"%s\"; },\n"
                "  { permit = \"NEW\"; path = \"pci-0000:00:1f.6\"; approved_by = \"a\"; approved_on = \"2026-01-05\";\n"
                "    valid_from = \"%s\"; valid_until = \"%s\"; }\n"
                ");",
                at(T0 - 10 * DAY), at(T0), at(T0 + 5 * DAY), at(T0 + 10 * DAY), at(T0), at(T0 + 10 * DAY));
        struct policy_decision d = match_net(p, net_dev("eth0", "52:54:00:12:34:56", "pci-0000:00:1f.6", NULL), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_string_equal(d.net_entry->approval.permit, "NEW");
        assert_int_equal(d.next_change, T0 + 5 * DAY);
}

static void test_link_entry_without_keys_matches_nothing(void **state) {
        /* the parser refuses such an entry; matching must not read it as "any link" */
        _cleanup_policy_ struct policy *p = policy_new();
        add_net(p, "EMPTY", NULL, NULL, NULL, NULL, TIME_NEG_INFINITY, TIME_INFINITY);
        build(p);
        assert_int_equal(match_net(p, net_dev("eth0", NULL, NULL, NULL), T0).verdict, VERDICT_BLOCK);
}

/* ---- words and index ---- */

static void test_verdict_and_reason_names(void **state) {
        assert_string_equal(policy_verdict_to_string(VERDICT_ALLOW), "allow");
        assert_string_equal(policy_verdict_to_string(VERDICT_READ_ONLY), "read-only");
        assert_string_equal(policy_verdict_to_string(VERDICT_BLOCK), "block");
        assert_string_equal(policy_reason_to_string(REASON_DEFAULT_HID), "default usb_hid");
        assert_string_equal(policy_reason_to_string(REASON_LOOPBACK), "loopback");
        assert_null(policy_reason_to_string((enum policy_reason) 999));
}

static void test_describe_truncates_at_character_boundary(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        struct policy_decision d = match_usb(p, STICK, T0);
        char buf[11];  /* "permit 許" is 10 bytes; "permit 許可" would be 13 */
        assert_int_equal(policy_decision_describe(&d, &(struct usb_identity) {}, buf, sizeof buf), 10);
        assert_string_equal(buf, "permit 許");
        assert_int_equal(policy_decision_describe(&d, NULL, buf, 0), 0);
}

static void test_index_rebuild_replaces_index(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        build(p);      /* the old index is freed (ASan would see a leak) */
        assert_int_equal(match_usb(p, STICK, T0).verdict, VERDICT_ALLOW);
}

static void test_policy_without_index_decides_by_defaults(void **state) {
        _cleanup_parsed_ struct policy *p = stick_policy("");
        p->index = (policy_index_free(p->index), NULL);
        assert_int_equal(match_usb(p, STICK, T0).reason, REASON_DEFAULT_OTHER);
}

static void test_100k_entries_answer_every_entry_and_miss(void **state) {
        _cleanup_policy_ struct policy *p = policy_new();
        const size_t n = 100000;
        char serial[32], permit[32];

        p->usb = calloc(n, sizeof *p->usb);
        assert_non_null(p->usb);
        for (size_t i = 0; i < n; i++) {
                snprintf(serial, sizeof serial, "SN%08zu", i);
                snprintf(permit, sizeof permit, "許可-%zu", i);
                p->usb[i] = (struct policy_usb_entry) {
                        .approval = approval(permit, T0, T0 + DAY),
                        .vendor = (uint16_t) (0x1000 + i % 7), .product = (uint16_t) (i % 13),
                        .serial = strdup(serial),
                };
                p->n_usb++;
        }
        build(p);

        /* every entry (the tables' chains hold one or two entries of other keys: each is told
         * apart by its key, there are no stored hashes) */
        for (size_t i = 0; i < n; i++) {
                snprintf(serial, sizeof serial, "SN%08zu", i);
                struct policy_decision d = match_usb(p, usb_dev((uint16_t) (0x1000 + i % 7), (uint16_t) (i % 13), serial, IFS("08:06:50")), T0);
                assert_int_equal(d.verdict, VERDICT_ALLOW);
                assert_ptr_equal(d.usb_entry, &p->usb[i]);
        }
        /* right serial, wrong vendor: a miss */
        struct policy_decision d = match_usb(p, usb_dev(0x1001, 0, "SN00000000", IFS("08:06:50")), T0);
        assert_int_equal(d.window, WINDOW_NONE);
}

/* Network entries by path and by MAC share buckets with others (the buckets are as many as the
 * keyed entries): each link finds its own entry, a path or MAC of none finds none. */
static void test_net_entries_sharing_buckets_answer_by_their_own_key(void **state) {
        _cleanup_policy_ struct policy *p = policy_new();
        char permit[32], path[64], mac[18];

        for (unsigned i = 0; i < 64; i++) {
                snprintf(permit, sizeof permit, "path-%u", i);
                snprintf(path, sizeof path, "pci-0000:00:14.0-usb-0:%u:1.0", i);
                add_net(p, permit, NULL, strdup(path), NULL, NULL, T0, T0 + DAY);
                snprintf(permit, sizeof permit, "mac-%u", i);
                snprintf(mac, sizeof mac, "02:00:00:00:00:%02x", i);
                add_net(p, permit, mac, NULL, NULL, NULL, T0, T0 + DAY);
        }
        build(p);
        for (unsigned i = 0; i < 64; i++) {
                snprintf(path, sizeof path, "pci-0000:00:14.0-usb-0:%u:1.0", i);
                struct policy_decision d = match_net(p, net_dev("usb0", "52:54:00:00:00:01", path, NULL), T0);
                assert_int_equal(d.verdict, VERDICT_ALLOW);
                assert_ptr_equal(d.net_entry, &p->net[2 * i]);
                snprintf(mac, sizeof mac, "02:00:00:00:00:%02x", i);
                d = match_net(p, net_dev("usb0", mac, "pci-0000:00:14.0-usb-0:99:1.0", NULL), T0);
                assert_int_equal(d.verdict, VERDICT_ALLOW);
                assert_ptr_equal(d.net_entry, &p->net[2 * i + 1]);
        }
        struct policy_decision d = match_net(p, net_dev("usb0", "02:00:00:00:01:00", "pci-0000:00:14.0-usb-0:64:1.0", NULL), T0);
        assert_int_equal(d.window, WINDOW_NONE);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        for (size_t i = 0; i < p->n_net; i++)
                free(p->net[i].path);
}

/* ---- wireless networks and modes ---- */

static struct wireless_network wnet(const char *ssid, size_t len, const char *bssid, enum wireless_security sec) {
        struct wireless_network n = { .ssid_len = len, .security = sec };
        memcpy(n.ssid, ssid, len);
        if (bssid) {
                n.has_bssid = true;
                assert_int_equal(mac_parse(bssid, strlen(bssid), HEX_ANY_CASE, n.bssid), 0);
        }
        return n;
}
#define WNET(ssid, bssid, sec) wnet(ssid, sizeof(ssid) - 1, bssid, sec)

static struct policy_decision match_wireless(const struct policy *p, struct wireless_network n, int64_t now) {
        struct policy_decision d;
        memset(&d, 0x5a, sizeof d);
        policy_match_wireless(p, &n, now, &d);
        return d;
}

#define CITY_NET(extra) \
        "wireless = ( { permit = \"許可-2026-031\"; ssid = \"city-net\"; " extra \
        "  approved_by = \"情報政策課\"; approved_on = \"2026-01-05\"; } );\n"

static void test_wireless_permit_approves_its_ssid(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS CITY_NET(""));
        struct policy_decision d = match_wireless(p, WNET("city-net", "02:00:00:00:00:00", WIRELESS_SECURITY_WPA2_PSK), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_ptr_equal(d.wireless_entry, &p->wireless[0]);
        assert_null(d.net_entry);
}

static void test_wireless_other_ssid_is_blocked(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS CITY_NET(""));
        struct policy_decision d = match_wireless(p, WNET("hotspot", "02:00:00:00:01:00", WIRELESS_SECURITY_WPA2_PSK), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_WIRELESS);
        assert_null(d.wireless_entry);
        /* A prefix or a longer name is another network. */
        assert_int_equal(match_wireless(p, WNET("city-ne", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_wireless(p, WNET("city-net2", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_wireless(p, WNET("city-net\0", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_BLOCK);
}

static void test_wireless_open_network_needs_an_entry_saying_open(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS CITY_NET(""));
        struct policy_decision d = match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_OPEN), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_WEAKER_SECURITY);
        assert_ptr_equal(d.wireless_entry, &p->wireless[0]);
        char buf[256];
        policy_decision_describe(&d, NULL, buf, sizeof buf);
        assert_string_equal(buf, "default wireless (permit 許可-2026-031 needs at least wpa2-psk)");
        /* WEP, WPA1, OWE and what kyoka cannot name count as open. */
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WEP), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_OWE), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_UNKNOWN), T0).verdict, VERDICT_BLOCK);

        _cleanup_parsed_ struct policy *q = parse(SAFE_DEFAULTS CITY_NET("security = \"open\"; bssid = [ \"02:00:00:00:00:00\" ];"));
        assert_int_equal(match_wireless(q, WNET("city-net", "02:00:00:00:00:00", WIRELESS_SECURITY_OPEN), T0).verdict,
                         VERDICT_ALLOW);
}

static void test_wireless_security_is_a_least(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS CITY_NET("security = \"wpa2-enterprise\";"));
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA2_ENTERPRISE), T0).verdict,
                         VERDICT_ALLOW);
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA3_SAE), T0).verdict, VERDICT_ALLOW);
}

static void test_wireless_bssid_list_limits_access_points(void **state) {
        _cleanup_parsed_ struct policy *p =
                parse(SAFE_DEFAULTS CITY_NET("bssid = [ \"02:00:00:00:00:00\", \"02:00:00:00:0A:00\" ];"));
        assert_int_equal(match_wireless(p, WNET("city-net", "02:00:00:00:00:00", WIRELESS_SECURITY_WPA2_PSK), T0).verdict,
                         VERDICT_ALLOW);
        assert_int_equal(match_wireless(p, WNET("city-net", "02:00:00:00:0a:00", WIRELESS_SECURITY_WPA2_PSK), T0).verdict,
                         VERDICT_ALLOW);
        struct policy_decision d = match_wireless(p, WNET("city-net", "02:00:00:00:01:00", WIRELESS_SECURITY_WPA2_PSK), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_OTHER_ACCESS_POINT);
        /* No access point known: not one of the listed. */
        assert_int_equal(match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_BLOCK);
}

static void test_wireless_ssid_hex_matches_any_bytes(void **state) {
        /* "ab\x1b[2J\xff" : an escape sequence and invalid UTF-8 */
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "wireless = ( { permit = \"W-1\"; ssid_hex = \"61621B5B324aff\"; approved_by = \"x\"; approved_on = \"2026-01-05\"; } );\n");
        assert_true(p->wireless[0].ssid_is_hex);
        assert_int_equal(match_wireless(p, WNET("ab\x1b[2J\xff", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_wireless(p, WNET("ab\x1b[2J", NULL, WIRELESS_SECURITY_WPA2_PSK), T0).verdict, VERDICT_BLOCK);
}

static void test_wireless_unknown_ssid_matches_nothing(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS CITY_NET(""));
        struct wireless_network n = WNET("", NULL, WIRELESS_SECURITY_WPA2_PSK);
        assert_int_equal(match_wireless(p, n, T0).verdict, VERDICT_BLOCK);
}

static void test_wireless_expired_permit_is_named(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS
                "wireless = ( { permit = \"W-1\"; ssid = \"city-net\"; approved_by = \"x\"; approved_on = \"2026-01-05\";\n"
                "               valid_until = \"%s\"; } );\n", at(T0 + DAY));
        struct policy_decision d = match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA2_PSK), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.next_change, T0 + DAY);
        d = match_wireless(p, WNET("city-net", NULL, WIRELESS_SECURITY_WPA2_PSK), T0 + DAY);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        assert_ptr_equal(d.wireless_entry, &p->wireless[0]);
}

static void test_wireless_default_allow_and_lockdown(void **state) {
        _cleanup_parsed_ struct policy *p = parse(
                "defaults = { usb_hid = \"allow\"; usb_hub = \"allow\"; usb_other = \"block\"; network = \"block\"; wireless = \"allow\"; };\n");
        struct policy_decision d = match_wireless(p, WNET("hotspot", NULL, WIRELESS_SECURITY_OPEN), T0);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_DEFAULT_WIRELESS);
        d = match_wireless(NULL, WNET("city-net", NULL, WIRELESS_SECURITY_WPA3_SAE), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_LOCKDOWN_WIRELESS);
}

static struct net_identity wlan(enum wireless_mode mode) {
        struct net_identity id = net_dev("wlan0", "02:00:00:00:02:00", NULL, NULL);
        id.wireless = mode;
        return id;
}

#define WLAN_ENTRY(extra) \
        "network = ( { permit = \"N-1\"; mac = \"02:00:00:00:02:00\"; " extra " approved_by = \"x\"; approved_on = \"2026-01-05\"; } );\n"

static void test_wireless_link_as_client_is_approved_by_its_entry(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS WLAN_ENTRY(""));
        assert_int_equal(match_net(p, wlan(WIRELESS_STATION), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_net(p, wlan(WIRELESS_P2P_CLIENT), T0).verdict, VERDICT_ALLOW);
}

static void test_wireless_link_as_access_point_needs_the_mode_permitted(void **state) {
        _cleanup_parsed_ struct policy *p = parse(SAFE_DEFAULTS WLAN_ENTRY(""));
        static const enum wireless_mode refused[] = {
                WIRELESS_AP, WIRELESS_P2P_GO, WIRELESS_MESH, WIRELESS_IBSS, WIRELESS_MONITOR, WIRELESS_OTHER,
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                struct policy_decision d = match_net(p, wlan(refused[i]), T0);
                assert_int_equal(d.verdict, VERDICT_BLOCK);
                assert_int_equal(d.reason, REASON_WIRELESS_MODE);
                assert_int_equal(d.wireless_mode, refused[i]);
        }
        char buf[256];
        struct policy_decision d = match_net(p, wlan(WIRELESS_AP), T0);
        policy_decision_describe(&d, NULL, buf, sizeof buf);
        assert_string_equal(buf, "permit N-1 does not permit wireless mode ap");

        _cleanup_parsed_ struct policy *q = parse(SAFE_DEFAULTS WLAN_ENTRY("wireless_modes = [ \"ap\", \"monitor\" ];"));
        assert_int_equal(match_net(q, wlan(WIRELESS_AP), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_net(q, wlan(WIRELESS_MONITOR), T0).verdict, VERDICT_ALLOW);
        assert_int_equal(match_net(q, wlan(WIRELESS_MESH), T0).verdict, VERDICT_BLOCK);
        assert_int_equal(match_net(q, wlan(WIRELESS_OTHER), T0).verdict, VERDICT_BLOCK);
}

static void test_wireless_mode_under_default_network_allow_follows_default_wireless(void **state) {
        _cleanup_parsed_ struct policy *p = parse(DEFAULTS("allow", "allow", "block", "allow"));
        struct policy_decision d = match_net(p, wlan(WIRELESS_AP), T0);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_WIRELESS_MODE);
        char buf[256];
        policy_decision_describe(&d, NULL, buf, sizeof buf);
        assert_string_equal(buf, "wireless mode ap needs a permit (wireless_modes)");
        assert_int_equal(match_net(p, wlan(WIRELESS_STATION), T0).verdict, VERDICT_ALLOW);

        _cleanup_parsed_ struct policy *q = parse(
                "defaults = { usb_hid = \"allow\"; usb_hub = \"allow\"; usb_other = \"block\"; network = \"allow\"; wireless = \"allow\"; };\n");
        assert_int_equal(match_net(q, wlan(WIRELESS_AP), T0).verdict, VERDICT_ALLOW);
}

/* ---- media on other buses ------------------------------------------------------------------ */

static int64_t T(const char *s) {
        int64_t t;
        assert_int_equal(time_parse_iso8601(s, &t, NULL), 0);
        return t;
}

#define MEDIA_APPROVAL "approved_by = \"山田\"; approved_on = \"2026-01-05\";"

static const struct media_identity CARD = { .bus = MEDIA_BUS_MMC, .name = "mmcblk0", .path = "pci-0000:00:04.0-mmc",
                                            .vendor = "0x0000aa", .model = "QEMU!", .serial = "0xdeadbeef",
                                            .oemid = "0x5859", .date = "02/2006" };
static const struct media_identity DRIVE = { .bus = MEDIA_BUS_OPTICAL, .name = "sr0", .path = "pci-0000:00:1f.2-ata-3.0",
                                             .vendor = "QEMU", .model = "QEMU DVD-ROM" };
static const struct media_identity NVME = { .bus = MEDIA_BUS_NVME, .name = "nvme0n1", .path = "pci-0000:01:00.0-nvme-1",
                                            .model = "QEMU NVMe Ctrl", .serial = "NVSER123" };

/* A media permit's scan, and defaults.scan for media allowed by defaults.media. */
static void test_media_scan_required(void **state) {
        _cleanup_(policy_freep_) struct policy *p = parse(
                "defaults = { media = \"allow\"; scan = \"required\"; };\n"
                "media = ( { permit = \"NV\"; bus = \"nvme\"; serial = \"NVSER123\"; scan = \"none\"; " MEDIA_APPROVAL " } );\n");
        struct policy_decision d;

        policy_match_media(p, &NVME, T("2026-03-01"), &d);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_false(d.scan_required);
        policy_match_media(p, &CARD, T("2026-03-01"), &d);
        assert_int_equal(d.reason, REASON_DEFAULT_MEDIA);
        assert_true(d.scan_required);

        _cleanup_(policy_freep_) struct policy *q = parse(
                "media = ( { permit = \"NV\"; bus = \"nvme\"; serial = \"NVSER123\"; scan = \"required\"; " MEDIA_APPROVAL " } );\n");
        policy_match_media(q, &NVME, T("2026-03-01"), &d);
        assert_true(d.scan_required);
        policy_match_media(q, &CARD, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_false(d.scan_required);
}

static void test_media_permits(void **state) {
        _cleanup_(policy_freep_) struct policy *p = parse(
                "media = (\n"
                "{ permit = \"SD\"; bus = \"mmc\"; vendor = \"0x0000aa\"; oemid = \"0x5859\"; model = \"QEMU!\";"
                "  serial = \"0xdeadbeef\"; date = \"02/2006\"; access = \"read-only\"; " MEDIA_APPROVAL " },\n"
                "{ permit = \"DVD\"; bus = \"optical\"; path = \"pci-0000:00:1f.2-ata-3.0\"; " MEDIA_APPROVAL
                "  valid_until = \"2026-06-30\"; },\n"
                "{ permit = \"NV\"; bus = \"nvme\"; serial = \"NVSER123\"; path = \"pci-0000:01:00.0-nvme-1\"; " MEDIA_APPROVAL " }\n"
                ");\n");
        struct policy_decision d;
        char reason[256];

        policy_match_media(p, &CARD, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_READ_ONLY);
        assert_int_equal(d.reason, REASON_PERMIT);
        assert_string_equal(d.media_entry->approval.permit, "SD");
        policy_decision_describe(&d, NULL, reason, sizeof reason);
        assert_string_equal(reason, "permit SD (read-only)");

        assert_false(d.scan_required);

        /* Every given key must match: another card of the same model is not the approved one. */
        struct media_identity other = CARD;
        strcpy(other.serial, "0xdeadbeee");
        policy_match_media(p, &other, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_DEFAULT_MEDIA);
        other = CARD;
        strcpy(other.date, "03/2006");
        policy_match_media(p, &other, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        /* The same serial on another bus is not it either. */
        other = CARD;
        other.bus = MEDIA_BUS_ATA;
        policy_match_media(p, &other, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);

        /* A drive by its path: any disc; read-write (burning) unless the permit says read-only. */
        policy_match_media(p, &DRIVE, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.next_change, T("2026-07-01"));
        struct media_identity moved = DRIVE;
        strcpy(moved.path, "pci-0000:00:1f.2-ata-4.0");
        policy_match_media(p, &moved, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        moved.path[0] = 0;     /* a port udev could not name matches no entry bound to one */
        policy_match_media(p, &moved, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        /* Expired: the defaults decide, the reason names the permit. */
        policy_match_media(p, &DRIVE, T("2026-07-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.window, WINDOW_EXPIRED);
        policy_decision_describe(&d, NULL, reason, sizeof reason);
        assert_string_equal(reason, "default media (permit DVD expired 2026-06-30)");

        /* Serial and path: both. */
        policy_match_media(p, &NVME, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        moved = NVME;
        strcpy(moved.path, "pci-0000:02:00.0-nvme-1");
        policy_match_media(p, &moved, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);

        /* No policy: lockdown blocks every medium. */
        policy_match_media(NULL, &CARD, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_BLOCK);
        assert_int_equal(d.reason, REASON_LOCKDOWN_MEDIA);
        policy_decision_describe(&d, NULL, reason, sizeof reason);
        assert_string_equal(reason, "lockdown: no valid policy");
        assert_string_equal(policy_reason_to_string(REASON_DEFAULT_MEDIA), "default media");
}

static void test_media_default_allow_and_fixed_disks(void **state) {
        _cleanup_(policy_freep_) struct policy *p = parse(
                "defaults = { media = \"allow\"; };\n"
                "fixed_disks = ( { bus = \"nvme\"; serial = \"NVSER123\"; model = \"QEMU NVMe Ctrl\"; },\n"
                "                { bus = \"virtio\"; path = \"pci-0000:00:05.0\"; } );\n");
        struct policy_decision d;

        policy_match_media(p, &CARD, T("2026-03-01"), &d);
        assert_int_equal(d.verdict, VERDICT_ALLOW);
        assert_int_equal(d.reason, REASON_DEFAULT_MEDIA);
        assert_non_null(policy_match_fixed(p, &NVME));
        struct media_identity other = NVME;
        strcpy(other.model, "Other");
        assert_null(policy_match_fixed(p, &other));
        struct media_identity vd = { .bus = MEDIA_BUS_VIRTIO, .path = "pci-0000:00:05.0" };
        assert_non_null(policy_match_fixed(p, &vd));
        vd.path[0] = 0;
        assert_null(policy_match_fixed(p, &vd));
        assert_null(policy_match_fixed(NULL, &NVME));
        assert_null(policy_match_fixed(p, &CARD));
}

int main(void) {
        setenv("TZ", "Asia/Tokyo", 1);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_media_permits),
                cmocka_unit_test(test_media_default_allow_and_fixed_disks),
                cmocka_unit_test(test_permit_in_window_allows),
                cmocka_unit_test(test_permit_is_valid_exactly_at_valid_from),
                cmocka_unit_test(test_permit_before_valid_from_is_not_yet_valid),
                cmocka_unit_test(test_permit_one_second_before_valid_until_is_valid),
                cmocka_unit_test(test_permit_exactly_at_valid_until_is_expired),
                cmocka_unit_test(test_date_only_valid_until_lasts_through_that_day),
                cmocka_unit_test(test_date_only_valid_from_is_named_as_written),
                cmocka_unit_test(test_expired_permit_falls_to_allowing_default),
                cmocka_unit_test(test_permit_without_window_is_always_valid),
                cmocka_unit_test(test_other_serial_is_not_matched),
                cmocka_unit_test(test_other_product_is_not_matched),
                cmocka_unit_test(test_empty_serial_entry_approves_device_without_serial),
                cmocka_unit_test(test_permit_bound_to_port_allows_there),
                cmocka_unit_test(test_permit_bound_to_port_does_not_allow_elsewhere),
                cmocka_unit_test(test_permit_bound_to_port_needs_a_known_port),
                cmocka_unit_test(test_permit_without_port_allows_on_any_port),
                cmocka_unit_test(test_serial_less_permits_on_two_ports),
                cmocka_unit_test(test_expired_permit_on_its_port_is_named_expired),
                cmocka_unit_test(test_permit_with_hidraw_user_says_so),
                cmocka_unit_test(test_scan_required_follows_permit_and_defaults),
                cmocka_unit_test(test_scan_written_follows_in_and_out),
                cmocka_unit_test(test_media_scan_required),
                cmocka_unit_test(test_raw_hid_is_root_without_a_permit_saying_so),
                cmocka_unit_test(test_device_without_serial_does_not_match_entry_with_serial),
                cmocka_unit_test(test_sanitised_serial_with_escape_matches),
                cmocka_unit_test(test_read_only_entry_gives_read_only),
                cmocka_unit_test(test_stick_that_is_also_a_keyboard_is_blocked),
                cmocka_unit_test(test_read_only_stick_that_is_also_a_keyboard_is_blocked),
                cmocka_unit_test(test_listed_interfaces_in_any_order_are_approved),
                cmocka_unit_test(test_wildcard_subclass_and_protocol_cover_any),
                cmocka_unit_test(test_wildcard_protocol_does_not_cover_other_subclass),
                cmocka_unit_test(test_wildcard_does_not_cover_other_class),
                cmocka_unit_test(test_unlisted_disable_authorises_only_listed_interfaces),
                cmocka_unit_test(test_unlisted_disable_read_only_keeps_read_only),
                cmocka_unit_test(test_unlisted_disable_with_no_listed_interface_blocks),
                cmocka_unit_test(test_entry_without_interfaces_approves_all),
                cmocka_unit_test(test_mask_covers_all_32_interfaces),
                cmocka_unit_test(test_keyboard_follows_default_usb_hid_allow),
                cmocka_unit_test(test_keyboard_follows_default_usb_hid_block),
                cmocka_unit_test(test_keyboard_with_storage_is_not_hid_only),
                cmocka_unit_test(test_hub_follows_default_usb_hub_allow),
                cmocka_unit_test(test_hub_follows_default_usb_hub_block),
                cmocka_unit_test(test_hub_class_device_with_storage_is_other),
                cmocka_unit_test(test_device_without_interfaces_is_other),
                cmocka_unit_test(test_lockdown_allows_keyboard),
                cmocka_unit_test(test_lockdown_allows_hub),
                cmocka_unit_test(test_lockdown_blocks_stick),
                cmocka_unit_test(test_lockdown_blocks_network),
                cmocka_unit_test(test_policy_at_its_valid_until_is_lockdown),
                cmocka_unit_test(test_renewal_first_window_uses_first_permit),
                cmocka_unit_test(test_renewal_takes_over_exactly_at_the_boundary),
                cmocka_unit_test(test_renewal_gap_names_the_coming_permit),
                cmocka_unit_test(test_renewal_after_both_names_the_last_expired),
                cmocka_unit_test(test_renewal_before_both_names_the_first),
                cmocka_unit_test(test_overlapping_entries_first_in_file_decides),
                cmocka_unit_test(test_next_change_is_policy_end_when_earlier),
                cmocka_unit_test(test_next_change_of_default_is_policy_end),
                cmocka_unit_test(test_next_change_of_unmatched_device_without_policy_end_is_infinity),
                cmocka_unit_test(test_next_change_of_not_yet_valid_is_valid_from),
                cmocka_unit_test(test_next_change_of_blocked_interfaces_is_valid_until),
                cmocka_unit_test(test_link_matched_by_mac),
                cmocka_unit_test(test_link_matched_by_path),
                cmocka_unit_test(test_link_matched_by_kind_and_name_glob),
                cmocka_unit_test(test_link_with_right_kind_and_wrong_name_is_not_matched),
                cmocka_unit_test(test_link_with_right_name_and_wrong_kind_is_not_matched),
                cmocka_unit_test(test_link_with_right_mac_and_wrong_name_is_not_matched),
                cmocka_unit_test(test_link_with_other_mac_is_not_matched),
                cmocka_unit_test(test_loopback_is_always_allowed),
                cmocka_unit_test(test_unmatched_link_follows_default_network_allow),
                cmocka_unit_test(test_expired_link_permit_is_named),
                cmocka_unit_test(test_link_prefers_entry_in_window),
                cmocka_unit_test(test_link_entry_without_keys_matches_nothing),
                cmocka_unit_test(test_verdict_and_reason_names),
                cmocka_unit_test(test_describe_truncates_at_character_boundary),
                cmocka_unit_test(test_index_rebuild_replaces_index),
                cmocka_unit_test(test_policy_without_index_decides_by_defaults),
                cmocka_unit_test(test_100k_entries_answer_every_entry_and_miss),
                cmocka_unit_test(test_net_entries_sharing_buckets_answer_by_their_own_key),
                cmocka_unit_test(test_wireless_permit_approves_its_ssid),
                cmocka_unit_test(test_wireless_other_ssid_is_blocked),
                cmocka_unit_test(test_wireless_open_network_needs_an_entry_saying_open),
                cmocka_unit_test(test_wireless_security_is_a_least),
                cmocka_unit_test(test_wireless_bssid_list_limits_access_points),
                cmocka_unit_test(test_wireless_ssid_hex_matches_any_bytes),
                cmocka_unit_test(test_wireless_unknown_ssid_matches_nothing),
                cmocka_unit_test(test_wireless_expired_permit_is_named),
                cmocka_unit_test(test_wireless_default_allow_and_lockdown),
                cmocka_unit_test(test_wireless_link_as_client_is_approved_by_its_entry),
                cmocka_unit_test(test_wireless_link_as_access_point_needs_the_mode_permitted),
                cmocka_unit_test(test_wireless_mode_under_default_network_allow_follows_default_wireless),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
