/* SPDX-License-Identifier: MIT */
/* The control socket's messages (daemon/control-message.c): parsing clients' commands, who may
 * do what, the device, link and policy replies, the reload diffs, and the request round trips
 * (kyokad's `request` reply is what `approve --request` reads). */
#include "test-util.h"

#include <json-c/json.h>

#include "control-message.h"
#include "identity.h"
#include "timeutil.h"

#define P(s) (s), strlen(s)

static int parse(const char *s, struct control_command *c) {
        const char *error = NULL;
        int r = control_command_parse(s, strlen(s), c, &error);
        if (r < 0)
                assert_non_null(error);
        return r;
}

static void test_parse_accepts_each_command(void **state) {
        struct control_command c;
        static const char *const names[] = { "status", "list", "reload", "watch" };
        static const enum control_cmd cmds[] = { CONTROL_STATUS, CONTROL_LIST, CONTROL_RELOAD, CONTROL_WATCH };
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(buf, sizeof buf, "{\"cmd\":\"%s\"}", names[i]);
                assert_int_equal(parse(buf, &c), 0);
                assert_int_equal(c.cmd, cmds[i]);
                assert_string_equal(control_cmd_to_string(c.cmd), names[i]);
        }
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"1-2.1\"}", &c), 0);
        assert_int_equal(c.cmd, CONTROL_REQUEST);
        assert_string_equal(c.device, "1-2.1");
}

static void test_parse_ignores_unknown_fields(void **state) {
        struct control_command c;
        assert_int_equal(parse("{\"cmd\":\"status\",\"future\":[1,{\"x\":2}]}", &c), 0);
}

static void test_parse_garbage_is_ebadmsg(void **state) {
        struct control_command c;
        const char *error;
        static const char *const bad[] = {
                "", "not json", "[1,2]", "\"status\"", "{}", "{\"cmd\":1}", "{\"cmd\":null}",
                "{\"cmd\":\"status\"} trailing", "{\"cmd\":\"status\"", "{\"cmd\":\"status\"}{}",
                "{\"a\":[[[[[[[[[[[[1]]]]]]]]]]]],\"cmd\":\"status\"}", /* deeper than any command */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse(bad[i], &c), -EBADMSG);

        /* An embedded NUL would make the C string and the JSON disagree. */
        static const char nul[] = "{\"cmd\":\"status\"}\0x";
        assert_int_equal(control_command_parse(nul, sizeof nul - 1, &c, &error), -EBADMSG);
}

static void test_parse_refuses_oversized_message(void **state) {
        struct control_command c;
        const char *error;
        size_t n = CONTROL_MESSAGE_MAX + 1;
        char *big = malloc(n);

        assert_non_null(big);
        memset(big, ' ', n);
        memcpy(big, "{\"cmd\":\"status\"}", 16);
        assert_int_equal(control_command_parse(big, n, &c, &error), -EBADMSG);
        /* Whitespace up to the bound is still one object. */
        assert_int_equal(control_command_parse(big, CONTROL_MESSAGE_MAX, &c, &error), 0);
        free(big);
}

static void test_parse_unknown_command_is_eopnotsupp(void **state) {
        struct control_command c;
        assert_int_equal(parse("{\"cmd\":\"allow\",\"device\":\"1-2\"}", &c), -EOPNOTSUPP);
        assert_int_equal(parse("{\"cmd\":\"STATUS\"}", &c), -EOPNOTSUPP);
}

static void test_parse_request_checks_device(void **state) {
        struct control_command c;
        char buf[600];

        assert_int_equal(parse("{\"cmd\":\"request\"}", &c), -EINVAL);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"\"}", &c), -EINVAL);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":12}", &c), -EINVAL);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"a\\u0000b\"}", &c), -EINVAL);
        snprintf(buf, sizeof buf, "{\"cmd\":\"request\",\"device\":\"%0*d\"}", CONTROL_DEVICE_ARG_MAX, 0);
        assert_int_equal(parse(buf, &c), -EINVAL);
        snprintf(buf, sizeof buf, "{\"cmd\":\"request\",\"device\":\"%0*d\"}", CONTROL_DEVICE_ARG_MAX - 1, 0);
        assert_int_equal(parse(buf, &c), 0);
}

static void test_parse_request_type(void **state) {
        struct control_command c;

        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"vblk\"}", &c), 0);
        assert_int_equal(c.subject, SUBJECT_ANY);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"vblk\",\"type\":\"network\"}", &c), 0);
        assert_int_equal(c.subject, SUBJECT_NETWORK);
        assert_string_equal(c.device, "vblk");
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"1-2\",\"type\":\"usb\"}", &c), 0);
        assert_int_equal(c.subject, SUBJECT_USB);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"1-2\",\"type\":\"USB\"}", &c), -EINVAL);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"1-2\",\"type\":1}", &c), -EINVAL);
        assert_int_equal(parse("{\"cmd\":\"request\",\"device\":\"1-2\",\"type\":null}", &c), -EINVAL);
}

static void test_only_reload_needs_admin(void **state) {
        assert_int_equal(control_cmd_access(CONTROL_RELOAD), ACCESS_ADMIN);
        assert_int_equal(control_cmd_access(CONTROL_STATUS), ACCESS_READ);
        assert_int_equal(control_cmd_access(CONTROL_LIST), ACCESS_READ);
        assert_int_equal(control_cmd_access(CONTROL_REQUEST), ACCESS_READ);
        assert_int_equal(control_cmd_access(CONTROL_WATCH), ACCESS_READ);
}

static void test_peer_access(void **state) {
        const gid_t READ = 990, ADMIN = 991, NONE = (gid_t) -1;
        gid_t groups[] = { 100, 990 }, admin_groups[] = { 991 };

        assert_int_equal(control_peer_access(0, 0, NULL, 0, READ, ADMIN), ACCESS_ADMIN);
        assert_int_equal(control_peer_access(0, 0, NULL, 0, NONE, NONE), ACCESS_ADMIN);
        assert_int_equal(control_peer_access(1000, 1000, NULL, 0, READ, ADMIN), ACCESS_NONE);
        assert_int_equal(control_peer_access(1000, 1000, groups, 2, READ, ADMIN), ACCESS_READ);
        assert_int_equal(control_peer_access(1000, 990, NULL, 0, READ, ADMIN), ACCESS_READ); /* primary group */
        assert_int_equal(control_peer_access(1000, 1000, admin_groups, 1, READ, ADMIN), ACCESS_ADMIN);
        assert_int_equal(control_peer_access(1000, 991, NULL, 0, READ, ADMIN), ACCESS_ADMIN);
        /* A missing group ((gid_t) -1) never matches, not even a peer whose gid is -1. */
        gid_t minus_one[] = { (gid_t) -1 };
        assert_int_equal(control_peer_access(1000, (gid_t) -1, minus_one, 1, NONE, NONE), ACCESS_NONE);
}

static struct usb_identity stick(void) {
        struct usb_identity id = {
                .vendor = 0x0781,
                .product = 0x5581,
                .has_serial = true,
                .serial = "4C530001230101115425",
                .manufacturer = "サンディスク",
                .product_name = "Ultra",
                .bus_path = "1-2",
                .id_path = "pci-0000:00:14.0-usb-0:2",
                .n_interfaces = 1,
                .interfaces = { { 0x08, 0x06, 0x50 } },
        };
        return id;
}

static const char *get(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static void test_device_to_json(void **state) {
        struct usb_identity id = stick();
        struct manager_device_info d = { .name = "1-2", .id = &id, .identity_ok = true, .decided = true,
                                         .verdict = VERDICT_BLOCK, .reason = "default usb_other", .permit = "" };
        struct json_object *o = control_device_to_json(&d), *v;

        assert_non_null(o);
        assert_string_equal(get(o, "type"), "usb");
        assert_string_equal(get(o, "device"), "1-2");
        assert_string_equal(get(o, "vendor"), "0781");
        assert_string_equal(get(o, "product"), "5581");
        assert_string_equal(get(o, "serial"), "4C530001230101115425");
        assert_string_equal(get(o, "manufacturer"), "サンディスク");
        assert_string_equal(get(o, "verdict"), "block");
        assert_string_equal(get(o, "reason"), "default usb_other");
        assert_true(json_object_object_get_ex(o, "permit", &v) && v == NULL);
        assert_true(json_object_object_get_ex(o, "interfaces", &v));
        assert_int_equal(json_object_array_length(v), 1);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "08:06:50");
        json_object_put(o);

        /* No serial: null, not "" (which a permit would read as "units without serial"). */
        id.has_serial = false;
        id.serial[0] = 0;
        d.decided = false;
        o = control_device_to_json(&d);
        assert_true(json_object_object_get_ex(o, "serial", &v) && v == NULL);
        assert_string_equal(get(o, "verdict"), "block"); /* undecided is blocked */
        json_object_put(o);
}

static struct net_identity veth(void) {
        struct net_identity id = {
                .ifindex = 7,
                .name = "vblk",
                .has_mac = true,
                .mac = { 0x02, 0, 0, 0, 0, 0x0b },
                .kind = "veth",
        };
        return id;
}

static void test_link_to_json(void **state) {
        struct net_identity id = veth();
        struct net_link_status s = { .id = &id, .up = false, .verdict = VERDICT_BLOCK, .reason = "default network",
                                     .permit = "", .violations = 3 };
        struct json_object *o = control_link_to_json(&s), *v;

        assert_non_null(o);
        assert_string_equal(get(o, "type"), "network");
        assert_true(json_object_object_get_ex(o, "ifindex", &v));
        assert_int_equal(json_object_get_int(v), 7);
        assert_string_equal(get(o, "name"), "vblk");
        assert_string_equal(get(o, "mac"), "02:00:00:00:00:0b");
        assert_true(json_object_object_get_ex(o, "mac_permanent", &v) && !json_object_get_boolean(v));
        assert_string_equal(get(o, "kind"), "veth");
        assert_string_equal(get(o, "path"), "");
        assert_string_equal(get(o, "driver"), "");
        assert_true(json_object_object_get_ex(o, "loopback", &v) && !json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "up", &v) && !json_object_get_boolean(v));
        assert_string_equal(get(o, "verdict"), "block");
        assert_string_equal(get(o, "reason"), "default network");
        assert_true(json_object_object_get_ex(o, "permit", &v) && v == NULL); /* "" is no permit */
        assert_true(json_object_object_get_ex(o, "violations", &v));
        assert_int_equal(json_object_get_uint64(v), 3);
        json_object_put(o);

        /* A hardware NIC with its burned-in MAC, approved; and a link without any MAC. */
        id.mac_is_permanent = true;
        snprintf(id.kind, sizeof id.kind, "%s", "");
        snprintf(id.path, sizeof id.path, "pci-0000:00:19.0");
        snprintf(id.driver, sizeof id.driver, "e1000e");
        s = (struct net_link_status) { .id = &id, .up = true, .verdict = VERDICT_ALLOW, .reason = "permit P-1",
                                       .permit = "P-1" };
        o = control_link_to_json(&s);
        assert_true(json_object_object_get_ex(o, "mac_permanent", &v) && json_object_get_boolean(v));
        assert_string_equal(get(o, "path"), "pci-0000:00:19.0");
        assert_string_equal(get(o, "driver"), "e1000e");
        assert_string_equal(get(o, "permit"), "P-1");
        assert_string_equal(get(o, "verdict"), "allow");
        json_object_put(o);

        id.has_mac = false;
        o = control_link_to_json(&s);
        assert_true(json_object_object_get_ex(o, "mac", &v) && v == NULL);
        assert_true(json_object_object_get_ex(o, "mac_permanent", &v) && !json_object_get_boolean(v));
        json_object_put(o);
}

static void test_link_matches_name_or_ifindex(void **state) {
        struct net_identity id = veth();

        assert_true(control_link_matches(&id, "vblk"));
        assert_true(control_link_matches(&id, "7"));
        assert_false(control_link_matches(&id, "07"));
        assert_false(control_link_matches(&id, "+7"));
        assert_false(control_link_matches(&id, "7 "));
        assert_false(control_link_matches(&id, "vbl"));
        assert_false(control_link_matches(&id, "70"));
}

static void test_device_matches_bus_path_or_serial(void **state) {
        struct usb_identity id = stick();
        struct manager_device_info d = { .name = "1-2", .id = &id, .identity_ok = true };

        assert_true(control_device_matches(&d, "1-2"));
        assert_true(control_device_matches(&d, "4C530001230101115425"));
        assert_false(control_device_matches(&d, "1-2.1"));
        assert_false(control_device_matches(&d, "4C53"));
        id.has_serial = false;
        assert_false(control_device_matches(&d, "4C530001230101115425"));
        id.has_serial = true;
        d.identity_ok = false;
        assert_false(control_device_matches(&d, "4C530001230101115425"));
        assert_true(control_device_matches(&d, "1-2"));
}

static void test_policy_to_json_lockdown(void **state) {
        struct manager_policy_info info = { .load_ok = false, .load_message = "cannot read policy" };
        struct json_object *o = control_policy_to_json(&info), *last;

        assert_non_null(o);
        assert_string_equal(get(o, "state"), "lockdown");
        assert_true(json_object_object_get_ex(o, "last_load", &last));
        assert_string_equal(get(last, "message"), "cannot read policy");
        json_object_put(o);
}

static void test_policy_to_json_enforcing(void **state) {
        static const char text[] = "kyoka_policy = 1;\nserial = 7;\nissued = \"2026-11-20\";\n"
                                   "issuer = \"木更津市\";\ncontract = \"契約第123号\";\n";
        struct policy *p = NULL;
        assert_int_equal(policy_parse(P(text), "t", &p, NULL), 0);
        struct manager_policy_info info = { .policy = p, .signer_name = "admin.pub", .signer_fingerprint = "ab12",
                                            .loaded_at = 1700000000, .fallback = true, .load_ok = false,
                                            .load_message = "refused" };
        struct json_object *o = control_policy_to_json(&info), *v;

        assert_string_equal(get(o, "state"), "enforcing");
        assert_true(json_object_object_get_ex(o, "serial", &v));
        assert_int_equal(json_object_get_int64(v), 7);
        assert_string_equal(get(o, "issuer"), "木更津市");
        assert_string_equal(get(o, "source"), "accepted-copy");
        assert_true(json_object_object_get_ex(o, "signer", &v));
        assert_string_equal(get(v, "key"), "admin.pub");
        assert_true(json_object_object_get_ex(o, "valid_until", &v) && v == NULL);
        json_object_put(o);
        policy_free(p);
}

static struct json_object *dev(const char *name, const char *verdict) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "device", json_object_new_string(name));
        json_object_object_add(o, "verdict", json_object_new_string(verdict));
        json_object_object_add(o, "serial", NULL);
        return o;
}

static void test_diff_reports_before_and_after(void **state) {
        struct json_object *before = json_object_new_array(), *after = json_object_new_array(), *diff, *c, *v;

        json_object_array_add(before, dev("1-1", "allow"));
        json_object_array_add(before, dev("1-2", "block"));
        json_object_array_add(after, dev("1-1", "allow"));
        json_object_array_add(after, dev("1-2", "allow"));
        json_object_array_add(after, dev("1-3", "block"));
        diff = control_devices_diff(before, after);
        assert_non_null(diff);
        assert_int_equal(json_object_array_length(diff), 3);

        c = json_object_array_get_idx(diff, 0);
        assert_true(json_object_object_get_ex(c, "changed", &v) && !json_object_get_boolean(v));
        c = json_object_array_get_idx(diff, 1);
        assert_string_equal(get(c, "device"), "1-2");
        assert_string_equal(get(c, "before"), "block");
        assert_string_equal(get(c, "after"), "allow");
        assert_true(json_object_object_get_ex(c, "changed", &v) && json_object_get_boolean(v));
        c = json_object_array_get_idx(diff, 2);
        assert_true(json_object_object_get_ex(c, "before", &v) && v == NULL);
        assert_true(json_object_object_get_ex(c, "changed", &v) && json_object_get_boolean(v));

        json_object_put(diff);
        json_object_put(before);
        json_object_put(after);
}

static struct json_object *lnk(int ifindex, const char *name, const char *verdict) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "ifindex", json_object_new_int(ifindex));
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "mac", NULL);
        json_object_object_add(o, "verdict", json_object_new_string(verdict));
        return o;
}

static void test_links_diff_follows_ifindex(void **state) {
        struct json_object *before = json_object_new_array(), *after = json_object_new_array(), *diff, *c, *v;

        json_object_array_add(before, lnk(1, "lo", "allow"));
        json_object_array_add(before, lnk(5, "usb0", "block"));
        json_object_array_add(after, lnk(1, "lo", "allow"));
        json_object_array_add(after, lnk(5, "enx00e04c680001", "allow")); /* renamed: the same link */
        json_object_array_add(after, lnk(6, "usb0", "block"));            /* a new link, an old name */
        diff = control_links_diff(before, after);
        assert_non_null(diff);
        assert_int_equal(json_object_array_length(diff), 3);

        c = json_object_array_get_idx(diff, 0);
        assert_true(json_object_object_get_ex(c, "changed", &v) && !json_object_get_boolean(v));
        c = json_object_array_get_idx(diff, 1);
        assert_string_equal(get(c, "name"), "enx00e04c680001");
        assert_true(json_object_object_get_ex(c, "ifindex", &v));
        assert_int_equal(json_object_get_int(v), 5);
        assert_string_equal(get(c, "before"), "block");
        assert_string_equal(get(c, "after"), "allow");
        assert_true(json_object_object_get_ex(c, "changed", &v) && json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(c, "mac", &v) && v == NULL);
        c = json_object_array_get_idx(diff, 2);
        assert_true(json_object_object_get_ex(c, "before", &v) && v == NULL);
        assert_true(json_object_object_get_ex(c, "changed", &v) && json_object_get_boolean(v));

        json_object_put(diff);
        json_object_put(before);
        json_object_put(after);
}

static void test_error_reply_shape(void **state) {
        struct json_object *o = control_error_new("permission denied"), *v;
        const char *s;
        size_t n;

        assert_true(json_object_object_get_ex(o, "ok", &v) && !json_object_get_boolean(v));
        assert_string_equal(get(o, "error"), "permission denied");
        assert_int_equal(control_message_serialize(o, &s, &n), 0);
        assert_string_equal(s, "{\"ok\":false,\"error\":\"permission denied\"}");
        json_object_put(o);
}

static void test_serialize_refuses_oversized_reply(void **state) {
        struct json_object *o = control_ok_new();
        char *big = malloc(CONTROL_REPLY_MAX + 1);
        const char *s;
        size_t n;

        memset(big, 'a', CONTROL_REPLY_MAX);
        big[CONTROL_REPLY_MAX] = 0;
        json_object_object_add(o, "x", json_object_new_string(big));
        assert_int_equal(control_message_serialize(o, &s, &n), -EMSGSIZE);
        json_object_put(o);
        free(big);
}

/* kyokad embeds request_to_json's document in its reply; policyctl writes it out again. What
 * comes out must parse with request_from_json (approve --request) to the same identity. */
static void test_request_round_trip_through_reply(void **state) {
        struct request *req = calloc(1, sizeof *req), *back = calloc(1, sizeof *back);
        _cleanup_free_ char *text = NULL, *error = NULL;
        struct json_object *reply = control_ok_new();

        req->type = REQUEST_USB;
        snprintf(req->hostname, sizeof req->hostname, "ws-017");
        snprintf(req->machine_id, sizeof req->machine_id, "0123456789abcdef0123456789abcdef");
        req->time = 1790000000;
        req->usb = stick();
        snprintf(req->usb.serial, sizeof req->usb.serial, "A/B\\x01\"q");
        assert_int_equal(request_to_json(req, &text), 0);
        json_object_object_add(reply, "request", json_tokener_parse(text));

        const char *wire;
        size_t n;
        assert_int_equal(control_message_serialize(reply, &wire, &n), 0);
        struct json_object *received = json_tokener_parse(wire), *r;
        assert_true(json_object_object_get_ex(received, "request", &r));
        const char *out = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

        assert_int_equal(request_from_json(out, strlen(out), back, &error), 0);
        assert_int_equal(back->type, REQUEST_USB);
        assert_string_equal(back->usb.serial, req->usb.serial);
        assert_string_equal(back->usb.manufacturer, "サンディスク");
        assert_int_equal(back->usb.vendor, 0x0781);
        assert_int_equal(back->usb.n_interfaces, 1);
        assert_int_equal(back->time, req->time);
        assert_string_equal(back->machine_id, req->machine_id);

        json_object_put(received);
        json_object_put(reply);
        free(req);
        free(back);
}

/* The same for a link: kyokad's request for a blocked veth parses as approve --request reads it. */
static void test_network_request_round_trip_through_reply(void **state) {
        struct request *req = calloc(1, sizeof *req), *back = calloc(1, sizeof *back);
        _cleanup_free_ char *text = NULL, *error = NULL;
        struct json_object *reply = control_ok_new();

        req->type = REQUEST_NETWORK;
        snprintf(req->hostname, sizeof req->hostname, "ws-017");
        req->time = 1790000000;
        req->net = veth();
        assert_int_equal(request_to_json(req, &text), 0);
        json_object_object_add(reply, "request", json_tokener_parse(text));
        json_object_object_add(reply, "type", json_object_new_string("network"));

        const char *wire;
        size_t n;
        assert_int_equal(control_message_serialize(reply, &wire, &n), 0);
        struct json_object *received = json_tokener_parse(wire), *r;
        assert_true(json_object_object_get_ex(received, "request", &r));
        const char *out = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

        assert_int_equal(request_from_json(out, strlen(out), back, &error), 0);
        assert_int_equal(back->type, REQUEST_NETWORK);
        assert_int_equal(back->net.ifindex, 7);
        assert_string_equal(back->net.name, "vblk");
        assert_string_equal(back->net.kind, "veth");
        assert_true(back->net.has_mac && !back->net.mac_is_permanent);
        assert_memory_equal(back->net.mac, req->net.mac, 6);

        json_object_put(received);
        json_object_put(reply);
        free(req);
        free(back);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_accepts_each_command),
                cmocka_unit_test(test_parse_ignores_unknown_fields),
                cmocka_unit_test(test_parse_garbage_is_ebadmsg),
                cmocka_unit_test(test_parse_refuses_oversized_message),
                cmocka_unit_test(test_parse_unknown_command_is_eopnotsupp),
                cmocka_unit_test(test_parse_request_checks_device),
                cmocka_unit_test(test_parse_request_type),
                cmocka_unit_test(test_only_reload_needs_admin),
                cmocka_unit_test(test_peer_access),
                cmocka_unit_test(test_device_to_json),
                cmocka_unit_test(test_link_to_json),
                cmocka_unit_test(test_link_matches_name_or_ifindex),
                cmocka_unit_test(test_device_matches_bus_path_or_serial),
                cmocka_unit_test(test_policy_to_json_lockdown),
                cmocka_unit_test(test_policy_to_json_enforcing),
                cmocka_unit_test(test_diff_reports_before_and_after),
                cmocka_unit_test(test_links_diff_follows_ifindex),
                cmocka_unit_test(test_error_reply_shape),
                cmocka_unit_test(test_serialize_refuses_oversized_reply),
                cmocka_unit_test(test_request_round_trip_through_reply),
                cmocka_unit_test(test_network_request_round_trip_through_reply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
