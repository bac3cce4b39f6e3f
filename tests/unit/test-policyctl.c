/* SPDX-License-Identifier: MIT */
/* policyctl's helpers return 0 or a negative errno, never an exit code, and only main()
 * (policyctl_exit_status) turns an error into one. The regression: open_ledger() returned
 * log_oom()'s EXIT_REFUSED (+1) when out of memory; its callers tested `< 0`, took it for
 * success and used the NULL ledger.
 *
 * Linked with policyctl's objects but policyctl.o (main, the global options: defined here) and
 * with -Wl,--wrap=path_join (Makefile), so that a test can make path_join() fail as it does
 * when malloc fails. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "test-util.h"

#include "kyoka-names.h"
#include "ledger.h"
#include "policyctl.h"
#include "preview.h"

const char *arg_config_dir = "/nonexistent";
const char *arg_state_dir = "/nonexistent";
const char *arg_runtime_dir = "/nonexistent";

static bool path_join_fails;

char *__real_path_join(const char *dir, const char *name);
char *__wrap_path_join(const char *dir, const char *name);
char *__wrap_path_join(const char *dir, const char *name) {
        if (path_join_fails)
                return NULL;
        return __real_path_join(dir, name);
}

/* A state directory holding an empty ledger. */
static int setup(void **state) {
        char *dir = test_mkdtemp(), *db = path_join(dir, KYOKA_LEDGER_FILE);
        struct ledger *l = NULL;

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        ledger_close(l);
        free(db);
        arg_state_dir = dir;
        path_join_fails = false;
        *state = dir;
        return 0;
}

static int teardown(void **state) {
        path_join_fails = false;
        arg_state_dir = "/nonexistent";
        test_rmdir_r(*state);
        free(*state);
        return 0;
}

/* Runs `policyctl ledger ARGS...` as main() would, and returns the exit status. */
static int run_ledger(const char *action) {
        char *argv[] = { (char *) "ledger", (char *) action, NULL };

        optind = 0;
        return policyctl_exit_status(verb_ledger(2, argv));
}

static void test_open_ledger_opens_the_state_dirs_ledger(void **state) {
        struct ledger *l = NULL;

        assert_int_equal(open_ledger(LEDGER_OPEN_READ_ONLY, &l), 0);
        assert_non_null(l);
        ledger_close(l);
}

static void test_open_ledger_out_of_memory_returns_negative_errno(void **state) {
        struct ledger *l = NULL;

        path_join_fails = true;
        assert_int_equal(open_ledger(LEDGER_OPEN_READ_ONLY, &l), -ENOMEM);
        assert_null(l);
}

static void test_open_ledger_without_a_ledger_returns_negative_errno(void **state) {
        struct ledger *l = NULL;

        arg_state_dir = "/nonexistent";
        assert_int_equal(open_ledger(LEDGER_OPEN_READ_ONLY, &l), -ENOENT);
        assert_null(l);
}

static void test_ledger_verbs_succeed_on_an_empty_ledger(void **state) {
        assert_int_equal(run_ledger("verify"), EXIT_OK);
        assert_int_equal(run_ledger("show"), EXIT_OK);
}

/* Each used to go on with the NULL ledger (a crash). */
static void test_ledger_verbs_out_of_memory_exit_refused(void **state) {
        path_join_fails = true;
        assert_int_equal(run_ledger("verify"), EXIT_REFUSED);
        assert_int_equal(run_ledger("show"), EXIT_REFUSED);
        assert_int_equal(run_ledger("prune"), EXIT_REFUSED);
}

static void test_exit_status_maps_errors_to_refused(void **state) {
        assert_int_equal(policyctl_exit_status(0), EXIT_OK);
        assert_int_equal(policyctl_exit_status(-ENOMEM), EXIT_REFUSED);
        assert_int_equal(policyctl_exit_status(-EBADMSG), EXIT_REFUSED);
        assert_int_equal(policyctl_exit_status(EXIT_REFUSED), EXIT_REFUSED);
        assert_int_equal(policyctl_exit_status(EXIT_USAGE), EXIT_USAGE);
}

/* The preview decides again what kyokad listed, as kyokad would, and reports the changes. */
static const char LIST[] =
        "{\"ok\":true,\"devices\":["
        " {\"type\":\"usb\",\"device\":\"1-2\",\"bus_path\":\"1-2\",\"id_path\":\"pci-0000:00:14.0-usb-0:2\","
        "  \"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"4C53000123\",\"manufacturer\":\"SanDisk\","
        "  \"product_name\":\"Ultra\",\"device_class\":\"00:00:00\",\"interfaces\":[\"08:06:50\"],"
        "  \"identity_ok\":true,\"decided\":true,\"verdict\":\"block\",\"reason\":\"default usb_other\",\"permit\":null},"
        " {\"type\":\"usb\",\"device\":\"1-3\",\"bus_path\":\"1-3\",\"id_path\":\"\",\"vendor\":\"0000\",\"product\":\"0000\","
        "  \"serial\":null,\"manufacturer\":\"\",\"product_name\":\"\",\"device_class\":\"00:00:00\",\"interfaces\":[],"
        "  \"identity_ok\":false,\"decided\":true,\"verdict\":\"block\",\"reason\":\"descriptors unreadable\",\"permit\":null}],"
        " \"media\":["
        " {\"type\":\"media\",\"device\":\"mmcblk0\",\"bus\":\"mmc\",\"path\":\"pci-0000:00:05.0-platform-sdhci\","
        "  \"vendor\":\"0x000003\",\"model\":\"SD32G\",\"serial\":\"0x12345678\",\"oemid\":\"0x5344\",\"date\":\"02/2026\","
        "  \"fixed\":null,\"decided\":true,\"verdict\":\"block\",\"reason\":\"default media\",\"permit\":null,\"disc\":null},"
        " {\"type\":\"media\",\"device\":\"nvme0n1\",\"bus\":\"nvme\",\"path\":\"pci-0000:00:04.0-nvme-1\","
        "  \"vendor\":\"\",\"model\":\"Samsung SSD 980 1TB\",\"serial\":\"S64DNX0R123456\",\"oemid\":\"\",\"date\":\"\","
        "  \"fixed\":\"listed by the policy (fixed_disks)\",\"decided\":false,\"verdict\":null,\"reason\":\"x\",\"permit\":null,\"disc\":null},"
        " {\"type\":\"media\",\"device\":\"vda\",\"bus\":\"virtio\",\"path\":\"pci-0000:00:06.0\",\"vendor\":\"\",\"model\":\"\","
        "  \"serial\":\"\",\"oemid\":\"\",\"date\":\"\",\"fixed\":\"holds the root file system\",\"decided\":false,"
        "  \"verdict\":null,\"reason\":\"x\",\"permit\":null,\"disc\":null}],"
        " \"links\":["
        " {\"type\":\"network\",\"ifindex\":2,\"name\":\"eth0\",\"mac\":\"02:00:00:00:01:0a\",\"mac_permanent\":true,"
        "  \"kind\":\"\",\"path\":\"pci-0000:00:03.0\",\"driver\":\"e1000\",\"loopback\":false,\"up\":true,"
        "  \"verdict\":\"allow\",\"reason\":\"permit N-1\",\"permit\":\"N-1\",\"violations\":0},"
        " {\"type\":\"network\",\"ifindex\":1,\"name\":\"lo\",\"mac\":null,\"mac_permanent\":false,\"kind\":\"\","
        "  \"path\":\"\",\"driver\":\"\",\"loopback\":true,\"up\":true,\"verdict\":\"allow\",\"reason\":\"loopback\","
        "  \"permit\":null,\"violations\":0},"
        /* Wi-Fi cards: one as an access point (the old policy permitted the mode), one a client. */
        " {\"type\":\"network\",\"ifindex\":3,\"name\":\"wlan0\",\"mac\":\"02:00:00:00:02:00\",\"mac_permanent\":true,"
        "  \"kind\":\"\",\"path\":\"\",\"driver\":\"mac80211_hwsim\",\"loopback\":false,\"up\":true,"
        "  \"verdict\":\"allow\",\"reason\":\"permit N-W\",\"permit\":\"N-W\",\"violations\":0,\"wireless_mode\":\"ap\","
        "  \"wireless\":{\"mode\":\"ap\",\"association\":null,\"refused\":0,\"last_refused\":null}},"
        " {\"type\":\"network\",\"ifindex\":4,\"name\":\"wlan1\",\"mac\":\"02:00:00:00:03:00\",\"mac_permanent\":true,"
        "  \"kind\":\"\",\"path\":\"\",\"driver\":\"mac80211_hwsim\",\"loopback\":false,\"up\":true,"
        "  \"verdict\":\"allow\",\"reason\":\"permit N-C\",\"permit\":\"N-C\",\"violations\":0,\"wireless_mode\":\"station\","
        "  \"wireless\":{\"mode\":\"station\",\"association\":null,\"refused\":0,\"last_refused\":null}}]}";

static const char POLICY_STICK_ONLY[] =
        "kyoka_policy = 1; serial = 2; issued = \"2026-12-01\"; issuer = \"t\"; contract = \"t\";\n"
        "defaults = { usb_hid = \"allow\"; usb_other = \"block\"; network = \"block\"; };\n"
        "usb = ( { permit = \"U-1\"; vendor = \"0781\"; product = \"5581\"; serial = \"4C53000123\";\n"
        "          approved_by = \"t\"; approved_on = \"2026-12-01\"; } );\n"
        "media = ( { permit = \"M-1\"; bus = \"mmc\"; vendor = \"0x000003\"; oemid = \"0x5344\"; model = \"SD32G\";\n"
        "            serial = \"0x12345678\"; approved_by = \"t\"; approved_on = \"2026-12-01\"; } );\n"
        "network = ( { permit = \"N-W\"; mac = \"02:00:00:00:02:00\"; approved_by = \"t\"; approved_on = \"2026-12-01\"; },\n"
        "            { permit = \"N-C\"; mac = \"02:00:00:00:03:00\"; approved_by = \"t\"; approved_on = \"2026-12-01\"; } );\n";

static void test_preview_decides_what_kyokad_listed(void **state) {
        struct json_object *list = json_tokener_parse(LIST);
        struct policy *p = NULL;
        struct policy_diag diag = {};
        struct preview pv;
        char err[256], names[2][NET_NAME_MAX] = { "eth0", "wlan9" };
        unsigned bits[2] = { PREVIEW_CARRIES_SSH, PREVIEW_CARRIES_DEFAULT_ROUTE };

        assert_non_null(list);
        assert_int_equal(policy_parse(POLICY_STICK_ONLY, strlen(POLICY_STICK_ONLY), "t.conf", &p, &diag), 0);
        policy_diag_done(&diag); /* warnings (a serial-less permit, none here: still released) */
        assert_int_equal(preview_compute(list, p, 1796000000, &pv, err, sizeof err), 0);
        assert_int_equal(pv.n_items, 9);
        /* The stick: approved now. */
        assert_false(pv.items[0].is_link);
        assert_int_equal(pv.items[0].before, VERDICT_BLOCK);
        assert_int_equal(pv.items[0].after, VERDICT_ALLOW);
        assert_string_equal(pv.items[0].reason, "permit U-1");
        /* A device kyokad could not read stays blocked whatever the policy. */
        assert_true(pv.items[1].unreadable);
        assert_int_equal(pv.items[1].after, VERDICT_BLOCK);
        /* The SD card: approved by the media entry. */
        assert_int_equal(pv.items[2].kind, PREVIEW_MEDIUM);
        assert_int_equal(pv.items[2].before, VERDICT_BLOCK);
        assert_int_equal(pv.items[2].after, VERDICT_ALLOW);
        /* A disk the old policy's fixed_disks listed and the new one does not: now a medium, blocked. */
        assert_int_equal(pv.items[3].before, VERDICT_ALLOW);
        assert_int_equal(pv.items[3].after, VERDICT_BLOCK);
        /* The root disk is the workstation's own whatever the policy. */
        assert_int_equal(pv.items[4].before, VERDICT_ALLOW);
        assert_int_equal(pv.items[4].after, VERDICT_ALLOW);
        /* eth0: no entry any more; it carries the session, so the install would cut it. */
        assert_true(pv.items[5].is_link);
        assert_int_equal(pv.items[5].after, VERDICT_BLOCK);
        assert_false(preview_item_cuts(&pv.items[5]));
        preview_mark_carriers(&pv, names, bits, 2);
        assert_int_equal(pv.items[5].carries, PREVIEW_CARRIES_SSH);
        assert_true(preview_item_cuts(&pv.items[5]));
        /* Loopback is always allowed. */
        assert_int_equal(pv.items[6].after, VERDICT_ALLOW);
        assert_false(preview_item_cuts(&pv.items[6]));
        /* A card acting as an access point: its MAC is still approved, but not the mode (kyokad
         * blocks it, REASON_WIRELESS_MODE); the client card stays allowed. */
        assert_string_equal(pv.items[7].name, "wlan0");
        assert_int_equal(pv.items[7].before, VERDICT_ALLOW);
        assert_int_equal(pv.items[7].after, VERDICT_BLOCK);
        assert_string_equal(pv.items[7].reason, "permit N-W does not permit wireless mode ap");
        assert_string_equal(pv.items[8].name, "wlan1");
        assert_int_equal(pv.items[8].after, VERDICT_ALLOW);
        assert_string_equal(pv.items[8].reason, "permit N-C");
        assert_int_equal(pv.n_changed, 5);
        preview_done(&pv);

        /* Lockdown (no policy): the stick stays blocked, the link is blocked. */
        assert_int_equal(preview_compute(list, NULL, 1796000000, &pv, err, sizeof err), 0);
        assert_int_equal(pv.items[0].after, VERDICT_BLOCK);
        assert_int_equal(pv.items[2].after, VERDICT_BLOCK);
        assert_int_equal(pv.items[5].after, VERDICT_BLOCK);
        preview_done(&pv);

        /* An entry kyokad would never send is refused, not guessed. */
        json_object *bad = json_tokener_parse("{\"devices\":[{\"vendor\":\"zz\"}]}");
        assert_int_equal(preview_compute(bad, p, 0, &pv, err, sizeof err), -EBADMSG);
        assert_non_null(strstr(err, "device"));
        json_object_put(bad);
        policy_free(p);
        json_object_put(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_ledger_opens_the_state_dirs_ledger, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_ledger_out_of_memory_returns_negative_errno, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_ledger_without_a_ledger_returns_negative_errno, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ledger_verbs_succeed_on_an_empty_ledger, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ledger_verbs_out_of_memory_exit_refused, setup, teardown),
                cmocka_unit_test(test_exit_status_maps_errors_to_refused),
                cmocka_unit_test(test_preview_decides_what_kyokad_listed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
