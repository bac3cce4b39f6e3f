/* SPDX-License-Identifier: MIT */
/* The control socket's messages (daemon/control-message.c): parsing clients' commands, who may
 * do what, who gets a connection and which is idle, the rate limit of refusal lines, the device,
 * link and policy replies, the reload diffs, and the request round trips (kyokad's `request`
 * reply is what `approve --request` reads). */
#include "test-util.h"

#include <json-c/json.h>

#include "control-message.h"
#include "seat.h"
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
        size_t n = KYOKA_CONTROL_MESSAGE_MAX + 1;
        char *big = malloc(n);

        assert_non_null(big);
        memset(big, ' ', n);
        memcpy(big, "{\"cmd\":\"status\"}", 16);
        assert_int_equal(control_command_parse(big, n, &c, &error), -EBADMSG);
        /* Whitespace up to the bound is still one object. */
        assert_int_equal(control_command_parse(big, KYOKA_CONTROL_MESSAGE_MAX, &c, &error), 0);
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
        snprintf(buf, sizeof buf, "{\"cmd\":\"request\",\"device\":\"%0*d\"}", KYOKA_CONTROL_DEVICE_MAX, 0);
        assert_int_equal(parse(buf, &c), -EINVAL);
        snprintf(buf, sizeof buf, "{\"cmd\":\"request\",\"device\":\"%0*d\"}", KYOKA_CONTROL_DEVICE_MAX - 1, 0);
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
        /* The rest a seat's user may use too (on its own seat's devices and links). */
        assert_int_equal(control_cmd_access(CONTROL_STATUS), ACCESS_SEAT);
        assert_int_equal(control_cmd_access(CONTROL_LIST), ACCESS_SEAT);
        assert_int_equal(control_cmd_access(CONTROL_REQUEST), ACCESS_SEAT);
        assert_int_equal(control_cmd_access(CONTROL_WATCH), ACCESS_SEAT);
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

/* ---- Admission, idle timeout, refusal log ------------------------------------------------ */

#define SEC CONTROL_USEC_PER_SEC

static struct control_peer reader(uid_t uid, uint64_t t) {
        return (struct control_peer) { .uid = uid, .connected_usec = t, .active_usec = t };
}

static struct control_peer admin(uid_t uid, uint64_t t) {
        return (struct control_peer) { .uid = uid, .admin = true, .connected_usec = t, .active_usec = t };
}

/* Issue 9, reproduced: 64 idle connections of group kyoka locked root out of status and install.
 * However many readers try, and from however many uids, root and kyoka-admin still get in. */
static void test_readers_cannot_lock_out_root(void **state) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        size_t n = 0, evict = SIZE_MAX;

        for (unsigned attempt = 0; attempt < 1000; attempt++) {
                uid_t uid = 1000 + attempt % 20;
                enum control_admission a = control_admit(peers, n, uid, false, &evict);
                assert_true(a == CONTROL_ADMIT || a == CONTROL_REFUSE_UID || a == CONTROL_REFUSE_FULL);
                if (a == CONTROL_ADMIT) {
                        assert_true(n < CONTROL_CLIENTS_MAX);
                        peers[n] = reader(uid, attempt);
                        n++;
                }
        }
        assert_int_equal(n, CONTROL_CLIENTS_MAX - CONTROL_CLIENTS_ADMIN_RESERVED);
        assert_int_equal(evict, SIZE_MAX);

        /* Root, and a kyoka-admin member who is not root, take the reserved slots. */
        assert_int_equal(control_admit(peers, n, 0, true, &evict), CONTROL_ADMIT);
        assert_int_equal(control_admit(peers, n, 991, true, &evict), CONTROL_ADMIT);
        assert_int_equal(evict, SIZE_MAX);
}

static void test_admit_per_uid_limit(void **state) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        size_t n = 0, evict = SIZE_MAX;

        for (; n < CONTROL_CLIENTS_PER_UID_MAX; n++) {
                assert_int_equal(control_admit(peers, n, 1000, false, &evict), CONTROL_ADMIT);
                peers[n] = reader(1000, n);
        }
        assert_int_equal(control_admit(peers, n, 1000, false, &evict), CONTROL_REFUSE_UID);
        /* Another uid is not held back by that one. */
        assert_int_equal(control_admit(peers, n, 1001, false, &evict), CONTROL_ADMIT);

        /* Watchers count: they are not idle, but they hold a connection. */
        for (size_t i = 0; i < n; i++)
                peers[i].watching = true;
        assert_int_equal(control_admit(peers, n, 1000, false, &evict), CONTROL_REFUSE_UID);

        /* A kyoka-admin member who is not root has the limit too; root has none. */
        n = 0;
        for (; n < CONTROL_CLIENTS_PER_UID_MAX; n++)
                peers[n] = admin(991, n);
        assert_int_equal(control_admit(peers, n, 991, true, &evict), CONTROL_REFUSE_UID);
        for (n = 0; n < CONTROL_CLIENTS_MAX - 1; n++)
                peers[n] = admin(0, n);
        assert_int_equal(control_admit(peers, n, 0, true, &evict), CONTROL_ADMIT);
        assert_int_equal(evict, SIZE_MAX);
}

static void fill_readers(struct control_peer *peers, size_t n_readers) {
        /* Eight uids, each at its limit; connected at 100 + i s, last active at the same time. */
        for (size_t i = 0; i < n_readers; i++)
                peers[i] = reader(1000 + i % 8, (100 + i) * SEC);
}

static void test_admit_reader_refused_when_only_reserved_slots_left(void **state) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        size_t n = CONTROL_CLIENTS_MAX - CONTROL_CLIENTS_ADMIN_RESERVED, evict = SIZE_MAX;

        fill_readers(peers, n);
        assert_int_equal(control_admit(peers, n, 2000, false, &evict), CONTROL_REFUSE_FULL);
        /* Admins in the reserved slots do not open them to readers. */
        peers[n] = admin(0, 0);
        n++;
        assert_int_equal(control_admit(peers, n, 2000, false, &evict), CONTROL_REFUSE_FULL);
        assert_int_equal(evict, SIZE_MAX);
}

static void test_admit_admin_evicts_longest_idle_reader(void **state) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        size_t n_readers = CONTROL_CLIENTS_MAX - CONTROL_CLIENTS_ADMIN_RESERVED, evict = SIZE_MAX;

        fill_readers(peers, n_readers);
        for (size_t i = n_readers; i < CONTROL_CLIENTS_MAX; i++)
                peers[i] = admin(0, i * SEC); /* the admins are the oldest: never evicted */
        /* Reader 0 connected first but asked for status just now; reader 5 has been idle longest;
         * reader 3 is older still but watching. */
        peers[0].active_usec = 500 * SEC;
        peers[3].watching = true;
        peers[3].active_usec = 1 * SEC;
        peers[5].active_usec = 50 * SEC;

        assert_int_equal(control_admit(peers, CONTROL_CLIENTS_MAX, 0, true, &evict), CONTROL_ADMIT_EVICT);
        assert_int_equal(evict, 5);
        /* A kyoka-admin member is served the same way. */
        evict = SIZE_MAX;
        assert_int_equal(control_admit(peers, CONTROL_CLIENTS_MAX, 991, true, &evict), CONTROL_ADMIT_EVICT);
        assert_int_equal(evict, 5);
        /* A reader is not. */
        evict = SIZE_MAX;
        assert_int_equal(control_admit(peers, CONTROL_CLIENTS_MAX, 2000, false, &evict), CONTROL_REFUSE_FULL);
        assert_int_equal(evict, SIZE_MAX);
}

static void test_admit_admin_evicts_oldest_watcher_when_no_reader_is_idle(void **state) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        size_t n_readers = CONTROL_CLIENTS_MAX - CONTROL_CLIENTS_ADMIN_RESERVED, evict = SIZE_MAX;

        fill_readers(peers, n_readers);
        for (size_t i = 0; i < n_readers; i++)
                peers[i].watching = true;
        for (size_t i = n_readers; i < CONTROL_CLIENTS_MAX; i++)
                peers[i] = admin(0, 0);
        peers[7].connected_usec = 10 * SEC;
        assert_int_equal(control_admit(peers, CONTROL_CLIENTS_MAX, 0, true, &evict), CONTROL_ADMIT_EVICT);
        assert_int_equal(evict, 7);
}

static void test_admit_table_of_admins_refuses(void **state) {
        struct control_peer peers[CONTROL_CLIENTS_MAX];
        size_t evict = SIZE_MAX;

        for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
                peers[i] = admin(0, i * SEC);
        assert_int_equal(control_admit(peers, CONTROL_CLIENTS_MAX, 0, true, &evict), CONTROL_REFUSE_FULL);
        assert_int_equal(control_admit(peers, CONTROL_CLIENTS_MAX, 1000, false, &evict), CONTROL_REFUSE_FULL);
        assert_int_equal(evict, SIZE_MAX);
}

static void test_idle_expiry(void **state) {
        const uint64_t T = CONTROL_IDLE_TIMEOUT_USEC;
        struct control_peer p = reader(1000, 10 * SEC);

        assert_int_equal(T, 30 * SEC);
        assert_false(control_peer_idle_expired(&p, 10 * SEC, T));
        assert_false(control_peer_idle_expired(&p, 10 * SEC + T - 1, T));
        assert_true(control_peer_idle_expired(&p, 10 * SEC + T, T));
        /* A message moves the deadline. */
        p.active_usec = 35 * SEC;
        assert_false(control_peer_idle_expired(&p, 10 * SEC + T, T));
        /* A watcher is never idle, admin or not. */
        p.watching = true;
        assert_false(control_peer_idle_expired(&p, 1000 * SEC, T));
        struct control_peer a = admin(0, 0);
        assert_true(control_peer_idle_expired(&a, T, T)); /* admins are closed when idle too */
}

static void test_idle_deadline(void **state) {
        struct control_peer peers[3] = { reader(1000, 50 * SEC), admin(0, 20 * SEC), reader(1001, 5 * SEC) };

        assert_int_equal(control_idle_deadline(peers, 0, 30 * SEC), UINT64_MAX);
        peers[2].watching = true;
        assert_int_equal(control_idle_deadline(peers, 3, 30 * SEC), 50 * SEC);
        peers[2].watching = false;
        assert_int_equal(control_idle_deadline(peers, 3, 30 * SEC), 35 * SEC);
        for (size_t i = 0; i < 3; i++)
                peers[i].watching = true;
        assert_int_equal(control_idle_deadline(peers, 3, 30 * SEC), UINT64_MAX);
        /* Saturates rather than wrapping into the past. */
        peers[0] = reader(1000, UINT64_MAX - 1);
        assert_int_equal(control_idle_deadline(peers, 1, 30 * SEC), UINT64_MAX);
}

static void test_refusal_log_once_per_uid_per_interval(void **state) {
        struct control_refusal_log l = {};
        const uint64_t I = CONTROL_REFUSAL_LOG_INTERVAL_USEC, t0 = 1000 * SEC;
        uint64_t suppressed = 12345;

        assert_true(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_UID_LIMIT, t0, &suppressed));
        assert_int_equal(suppressed, 0);
        /* An attacker's loop: 10,000 refusals within the interval, none logged. */
        for (unsigned i = 0; i < 10000; i++)
                assert_false(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_UID_LIMIT, t0 + i, &suppressed));
        /* Another uid has its own line. */
        assert_true(control_refusal_log_check(&l, 1001, CONTROL_REFUSAL_UID_LIMIT, t0 + 1, &suppressed));
        assert_int_equal(suppressed, 0);
        assert_false(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_UID_LIMIT, t0 + I - 1, &suppressed));
        /* After the interval: one line, which says how many were not logged. */
        assert_true(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_UID_LIMIT, t0 + I, &suppressed));
        assert_int_equal(suppressed, 10001);
        assert_false(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_UID_LIMIT, t0 + I + 1, &suppressed));
        /* Another reason of the same uid has its own line: it says something new. */
        assert_true(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_COMMAND, t0 + I + 2, &suppressed));
        assert_int_equal(suppressed, 0);
        assert_false(control_refusal_log_check(&l, 1000, CONTROL_REFUSAL_COMMAND, t0 + I + 3, &suppressed));
}

static void test_refusal_log_bounds_uids(void **state) {
        struct control_refusal_log l = {};
        const uint64_t I = CONTROL_REFUSAL_LOG_INTERVAL_USEC, t0 = 1000 * SEC;
        uint64_t suppressed;

        assert_true(control_refusal_log_check(&l, 2000, CONTROL_REFUSAL_UID_LIMIT, t0, &suppressed));
        for (uid_t u = 1; u < CONTROL_REFUSAL_LOG_UIDS; u++)
                assert_true(control_refusal_log_check(&l, 2000 + u, CONTROL_REFUSAL_UID_LIMIT, t0 + 5 * SEC, &suppressed));
        /* Lines for CONTROL_REFUSAL_LOG_UIDS uids this interval: the next uids are counted only. */
        for (uid_t u = 0; u < 100; u++)
                assert_false(control_refusal_log_check(&l, 5000 + u, CONTROL_REFUSAL_UID_LIMIT, t0 + 6 * SEC, &suppressed));
        /* Uid 2000 is refused twice more, then goes quiet. Once its interval has passed, uid 6000
         * takes its entry (the others are still fresh); 6000's line carries the 100 refusals of
         * other uids and 2000's 2: no count is lost. */
        assert_false(control_refusal_log_check(&l, 2000, CONTROL_REFUSAL_UID_LIMIT, t0 + 7 * SEC, &suppressed));
        assert_false(control_refusal_log_check(&l, 2000, CONTROL_REFUSAL_UID_LIMIT, t0 + 8 * SEC, &suppressed));
        assert_true(control_refusal_log_check(&l, 6000, CONTROL_REFUSAL_UID_LIMIT, t0 + I, &suppressed));
        assert_int_equal(suppressed, 102);
        /* The table is full of fresh entries again. */
        assert_false(control_refusal_log_check(&l, 6001, CONTROL_REFUSAL_UID_LIMIT, t0 + I, &suppressed));
        assert_true(control_refusal_log_check(&l, 6001, CONTROL_REFUSAL_UID_LIMIT, t0 + 5 * SEC + I, &suppressed));
        assert_int_equal(suppressed, 1);
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
        struct usb_device_status d = { .name = "1-2", .id = &id, .identity_ok = true, .decided = true,
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
        assert_false(json_object_object_get_ex(o, "wireless_mode", NULL));
        assert_false(json_object_object_get_ex(o, "wireless", NULL));
        json_object_put(o);
}

/* A Wi-Fi card's mode is part of its identity (policy_match_net decides on it): the list says it
 * as a request does, so that what reads the list back (install --dry-run) sees an access point. */
static void test_wireless_link_to_json_carries_its_mode(void **state) {
        struct net_identity id = veth(), back;
        struct net_link_wireless w = { .mode = WIRELESS_AP };
        struct net_link_status s = { .id = &id, .up = true, .verdict = VERDICT_BLOCK, .reason = "wireless mode",
                                     .permit = "", .wireless = &w };
        _cleanup_free_ char *error = NULL;
        struct json_object *o, *v;

        snprintf(id.kind, sizeof id.kind, "%s", "");
        id.wireless = WIRELESS_AP;
        o = control_link_to_json(&s);
        assert_non_null(o);
        assert_string_equal(get(o, "wireless_mode"), "ap");
        assert_true(json_object_object_get_ex(o, "wireless", &v));
        assert_string_equal(get(v, "mode"), "ap");
        assert_int_equal(net_identity_from_json(o, &back, &error), 0);
        assert_int_equal(back.wireless, WIRELESS_AP);
        assert_string_equal(back.name, "vblk");
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
        struct usb_device_status d = { .name = "1-2", .id = &id, .identity_ok = true };

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
        char *big = malloc(KYOKA_CONTROL_REPLY_MAX + 1);
        const char *s;
        size_t n;

        memset(big, 'a', KYOKA_CONTROL_REPLY_MAX);
        big[KYOKA_CONTROL_REPLY_MAX] = 0;
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

/* ---- seats: what the active user of a seat sees ---------------------------------------------- */

static struct seat_set seats_of(const char *a, const char *b) {
        struct seat_set s = {};
        if (a)
                snprintf(s.names[s.n++], USB_SEAT_MAX, "%s", a);
        if (b)
                snprintf(s.names[s.n++], USB_SEAT_MAX, "%s", b);
        return s;
}

static struct json_object *record(const char *subject, const char *seat) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "subject", json_object_new_string(subject));
        json_object_object_add(o, "event", json_object_new_string("connected"));
        if (seat)
                json_object_object_add(o, "seat", json_object_new_string(seat));
        return o;
}

static void test_seat_names(void **state) {
        assert_true(seat_name_valid("seat0"));
        assert_true(seat_name_valid("seat-usb_1"));
        assert_false(seat_name_valid("seat"));
        assert_false(seat_name_valid("Seat0"));
        assert_false(seat_name_valid("seat0/../x"));
        assert_false(seat_name_valid("seat 1"));
        assert_false(seat_name_valid(""));
        assert_false(seat_name_valid(NULL));
        char longname[USB_SEAT_MAX + 1];
        memset(longname, 'a', sizeof longname - 1);
        memcpy(longname, "seat", 4);
        longname[USB_SEAT_MAX] = 0;
        assert_false(seat_name_valid(longname));
        longname[USB_SEAT_MAX - 1] = 0;
        assert_true(seat_name_valid(longname));
}

static void test_seat_user_sees_only_its_seats_usb_records(void **state) {
        struct seat_set s0 = seats_of("seat0", NULL), s1 = seats_of("seat1", NULL);
        struct json_object *on0 = record("usb", "seat0"), *on1 = record("usb", "seat1"), *none = record("usb", NULL),
                           *bad = record("usb", "");

        assert_true(control_record_visible(on0, ACCESS_SEAT, &s0));
        assert_false(control_record_visible(on1, ACCESS_SEAT, &s0));
        assert_true(control_record_visible(on1, ACCESS_SEAT, &s1));
        assert_false(control_record_visible(on0, ACCESS_SEAT, &s1));
        /* A record without a seat (or an invalid one, kept as "") is nobody's at a seat. */
        assert_false(control_record_visible(none, ACCESS_SEAT, &s0));
        assert_false(control_record_visible(bad, ACCESS_SEAT, &s0));
        /* Readers and admins see every record, whatever their seats. */
        assert_true(control_record_visible(on1, ACCESS_READ, NULL));
        assert_true(control_record_visible(none, ACCESS_ADMIN, NULL));
        json_object_put(on0);
        json_object_put(on1);
        json_object_put(none);
        json_object_put(bad);
}

static void test_seat_user_sees_links_only_on_seat0(void **state) {
        struct seat_set s0 = seats_of("seat1", "seat0"), s1 = seats_of("seat1", NULL);
        struct json_object *net = record("network", NULL);

        assert_true(control_record_visible(net, ACCESS_SEAT, &s0));
        assert_false(control_record_visible(net, ACCESS_SEAT, &s1));
        assert_true(control_seat_sees_links(&s0));
        assert_false(control_seat_sees_links(&s1));
        json_object_put(net);
}

static void test_seat_user_sees_no_faults_and_nothing_without_a_seat(void **state) {
        struct seat_set s0 = seats_of("seat0", NULL), empty = {};
        struct json_object *fault = record("daemon", NULL), *pol = record("policy", NULL), *usb = record("usb", "seat0"),
                           *odd = json_object_new_object();

        assert_false(control_record_visible(fault, ACCESS_SEAT, &s0));
        /* Media on other buses have no seat here: nobody's at a seat. */
        struct json_object *medium = record("media", "seat0");
        assert_false(control_record_visible(medium, ACCESS_SEAT, &s0));
        json_object_put(medium);
        assert_true(control_record_visible(pol, ACCESS_SEAT, &s0));
        assert_false(control_record_visible(odd, ACCESS_SEAT, &s0));
        /* Lost its seat (another user is active now): nothing at all. */
        assert_false(control_record_visible(usb, ACCESS_SEAT, &empty));
        assert_false(control_record_visible(pol, ACCESS_SEAT, &empty));
        assert_false(control_record_visible(usb, ACCESS_SEAT, NULL));
        /* No access: nothing, even with seats. */
        assert_false(control_record_visible(usb, ACCESS_NONE, &s0));
        json_object_put(fault);
        json_object_put(pol);
        json_object_put(usb);
        json_object_put(odd);
}

static void test_seat_user_sees_device_by_its_seat(void **state) {
        struct usb_identity id = stick();
        struct seat_set s0 = seats_of("seat0", NULL), s1 = seats_of("seat1", NULL);

        snprintf(id.seat, sizeof id.seat, "seat0");
        assert_true(control_seat_sees_device(&s0, &id));
        assert_false(control_seat_sees_device(&s1, &id));
        id.seat[0] = 0;
        assert_false(control_seat_sees_device(&s0, &id));
}

static void test_seat_user_may_not_reload(void **state) {
        assert_true(control_cmd_access(CONTROL_RELOAD) > ACCESS_SEAT);
        assert_true(control_cmd_access(CONTROL_RELOAD) > ACCESS_READ);
        assert_true(control_cmd_access(CONTROL_WATCH) <= ACCESS_SEAT);
        assert_true(control_cmd_access(CONTROL_REQUEST) <= ACCESS_SEAT);
        assert_true(control_cmd_access(CONTROL_STATUS) <= ACCESS_SEAT);
        assert_true(control_cmd_access(CONTROL_LIST) <= ACCESS_SEAT);
        /* Group membership still decides first: a stranger is ACCESS_NONE here, the seat is
         * looked up only for it, in control.c. */
        assert_int_equal(control_peer_access(1000, 1000, NULL, 0, 200, 201), ACCESS_NONE);
}

static void test_policy_seat_view_hides_the_host(void **state) {
        static const char text[] = "kyoka_policy = 1;\nserial = 7;\nissued = \"2026-11-20\";\n"
                                   "valid_until = \"2027-03-31\";\n"
                                   "issuer = \"木更津市\";\ncontract = \"契約第123号\";\n";
        struct policy *p = NULL;
        assert_int_equal(policy_parse(P(text), "t", &p, NULL), 0);
        struct manager_policy_info info = { .policy = p, .signer_name = "admin.pub", .signer_fingerprint = "ab12",
                                            .loaded_at = 1700000000, .load_ok = true,
                                            .load_message = "/etc/kyoka/policy.conf: serial 7 accepted" };
        struct json_object *o = control_policy_seat_view(&info), *v;

        assert_non_null(o);
        assert_string_equal(get(o, "state"), "enforcing");
        assert_string_equal(get(o, "valid_until"), "2027-03-31");
        assert_non_null(get(o, "valid_until_time"));
        assert_string_equal(get(o, "contract"), "契約第123号");
        assert_false(json_object_object_get_ex(o, "signer", &v));
        assert_false(json_object_object_get_ex(o, "last_load", &v));
        assert_false(json_object_object_get_ex(o, "entries", &v));
        json_object_put(o);

        info.policy = NULL;
        o = control_policy_seat_view(&info);
        assert_string_equal(get(o, "state"), "lockdown");
        assert_int_equal(json_object_object_length(o), 1);
        json_object_put(o);
        policy_free(p);
}

static void test_permit_to_json_copies_identity(void **state) {
        struct json_object *what = json_object_new_object(), *o, *v;

        json_object_object_add(what, "type", json_object_new_string("usb"));
        json_object_object_add(what, "device", json_object_new_string("1-2"));
        json_object_object_add(what, "product_name", json_object_new_string("Ultra"));
        json_object_object_add(what, "reason", json_object_new_string("permit P-1"));
        o = control_permit_to_json(what, "P-1", "2026-12-10", 1765292400);
        assert_string_equal(get(o, "permit"), "P-1");
        assert_string_equal(get(o, "valid_until"), "2026-12-10");
        assert_string_equal(get(o, "product_name"), "Ultra");
        assert_string_equal(get(o, "device"), "1-2");
        assert_false(json_object_object_get_ex(o, "reason", &v));
        json_object_put(o);
        o = control_permit_to_json(what, "P-2", NULL, TIME_INFINITY);
        assert_true(json_object_object_get_ex(o, "valid_until", &v) && v == NULL);
        assert_true(json_object_object_get_ex(o, "valid_until_time", &v) && v == NULL);
        json_object_put(o);
        json_object_put(what);
}

/* A medium as `list` shows it: its identity under the request's keys, a fixed disk with its
 * reason and no verdict, a drive with its disc. */
static void test_medium_json_and_match(void **state) {
        struct media_identity id = { .bus = MEDIA_BUS_OPTICAL, .name = "sr0", .path = "pci-0000:00:1f.2-ata-3.0",
                                     .vendor = "QEMU", .model = "QEMU DVD-ROM" };
        struct media_status st = { .id = &id, .identity_ok = true, .decided = true, .verdict = VERDICT_READ_ONLY,
                                   .reason = "permit P (read-only)", .permit = "P", .disc = true };
        struct json_object *o = control_medium_to_json(&st), *v;

        assert_non_null(o);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "type")), "media");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "device")), "sr0");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "bus")), "optical");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "verdict")), "read-only");
        assert_true(json_object_object_get_ex(o, "fixed", &v) && v == NULL);
        assert_true(json_object_get_boolean(json_object_object_get(o, "disc")));
        json_object_put(o);
        assert_true(control_medium_matches(&st, "sr0"));
        assert_false(control_medium_matches(&st, ""));     /* no serial: not matched by "" */

        struct media_identity vd = { .bus = MEDIA_BUS_VIRTIO, .name = "vda", .serial = "VIRTSER1" };
        struct media_status fixed = { .id = &vd, .identity_ok = true, .fixed = "present at installation" };
        o = control_medium_to_json(&fixed);
        assert_true(json_object_object_get_ex(o, "verdict", &v) && v == NULL);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "fixed")), "present at installation");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "reason")), "present at installation");
        assert_true(json_object_object_get_ex(o, "disc", &v) && v == NULL);
        assert_true(control_medium_matches(&fixed, "VIRTSER1"));

        /* A reload's changes: the drive went from block to read-only; a fixed disk is never listed. */
        struct json_object *before = json_object_new_array(), *after = json_object_new_array();
        st.verdict = VERDICT_BLOCK;
        json_object_array_add(before, control_medium_to_json(&st));
        st.verdict = VERDICT_READ_ONLY;
        json_object_array_add(after, control_medium_to_json(&st));
        json_object_array_add(after, o);
        struct json_object *diff = control_media_diff(before, after);
        assert_int_equal(json_object_array_length(diff), 1);
        struct json_object *c = json_object_array_get_idx(diff, 0);
        assert_string_equal(json_object_get_string(json_object_object_get(c, "before")), "block");
        assert_string_equal(json_object_get_string(json_object_object_get(c, "after")), "read-only");
        assert_true(json_object_get_boolean(json_object_object_get(c, "changed")));
        json_object_put(diff);
        json_object_put(before);
        json_object_put(after);

        struct control_command cmd;
        const char *err;
        static const char req[] = "{\"cmd\":\"request\",\"device\":\"mmcblk0\",\"type\":\"media\"}";
        assert_int_equal(control_command_parse(req, strlen(req), &cmd, &err), 0);
        assert_int_equal(cmd.subject, SUBJECT_MEDIA);
}

/* A held medium's scan shows in `list` as a USB device's does, and `status` counts the media
 * in each scan state (an unknown one as held: not usable). */
static void test_medium_scan_and_scan_counts(void **state) {
        struct media_identity id = { .bus = MEDIA_BUS_MMC, .name = "mmcblk0", .serial = "0xdeadbeef" };
        struct media_status st = { .id = &id, .identity_ok = true, .decided = true, .verdict = VERDICT_ALLOW,
                                   .reason = "permit P", .permit = "P", .scan = "scanning", .scan_files = 12,
                                   .scan_bytes = 4096 };
        struct json_object *o = control_medium_to_json(&st), *scan = NULL, *v;

        assert_true(json_object_object_get_ex(o, "scan", &scan));
        assert_string_equal(json_object_get_string(json_object_object_get(scan, "state")), "scanning");
        assert_int_equal(json_object_get_int64(json_object_object_get(scan, "files")), 12);
        assert_int_equal(json_object_get_int64(json_object_object_get(scan, "bytes")), 4096);
        assert_true(json_object_object_get_ex(scan, "fault", &v) && v == NULL);
        json_object_put(o);
        st.scan = "";
        o = control_medium_to_json(&st);
        assert_false(json_object_object_get_ex(o, "scan", NULL));
        json_object_put(o);

        struct control_scan_counts c = { .since_passed = 3, .since_infected = 1, .since_held = 2 };
        const char *states[] = { "", NULL, "waiting", "scanning", "scanning", "held", "passed", "infected", "other" };
        for (size_t i = 0; i < ELEMENTSOF(states); i++)
                control_scan_count(&c, states[i]);
        o = control_scan_counts_to_json(&c);
        assert_non_null(o);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"since_start\":{\"passed\":3,\"infected\":1,\"held\":2},\"waiting\":1,\"scanning\":2,"
                            "\"held\":2,\"passed\":1,\"infected\":1}");
        json_object_put(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_medium_json_and_match),
                cmocka_unit_test(test_medium_scan_and_scan_counts),
                cmocka_unit_test(test_parse_accepts_each_command),
                cmocka_unit_test(test_parse_ignores_unknown_fields),
                cmocka_unit_test(test_parse_garbage_is_ebadmsg),
                cmocka_unit_test(test_parse_refuses_oversized_message),
                cmocka_unit_test(test_parse_unknown_command_is_eopnotsupp),
                cmocka_unit_test(test_parse_request_checks_device),
                cmocka_unit_test(test_parse_request_type),
                cmocka_unit_test(test_only_reload_needs_admin),
                cmocka_unit_test(test_peer_access),
                cmocka_unit_test(test_readers_cannot_lock_out_root),
                cmocka_unit_test(test_admit_per_uid_limit),
                cmocka_unit_test(test_admit_reader_refused_when_only_reserved_slots_left),
                cmocka_unit_test(test_admit_admin_evicts_longest_idle_reader),
                cmocka_unit_test(test_admit_admin_evicts_oldest_watcher_when_no_reader_is_idle),
                cmocka_unit_test(test_admit_table_of_admins_refuses),
                cmocka_unit_test(test_idle_expiry),
                cmocka_unit_test(test_idle_deadline),
                cmocka_unit_test(test_refusal_log_once_per_uid_per_interval),
                cmocka_unit_test(test_refusal_log_bounds_uids),
                cmocka_unit_test(test_device_to_json),
                cmocka_unit_test(test_link_to_json),
                cmocka_unit_test(test_wireless_link_to_json_carries_its_mode),
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
                cmocka_unit_test(test_seat_names),
                cmocka_unit_test(test_seat_user_sees_only_its_seats_usb_records),
                cmocka_unit_test(test_seat_user_sees_links_only_on_seat0),
                cmocka_unit_test(test_seat_user_sees_no_faults_and_nothing_without_a_seat),
                cmocka_unit_test(test_seat_user_sees_device_by_its_seat),
                cmocka_unit_test(test_seat_user_may_not_reload),
                cmocka_unit_test(test_policy_seat_view_hides_the_host),
                cmocka_unit_test(test_permit_to_json_copies_identity),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
