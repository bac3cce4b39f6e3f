/* SPDX-License-Identifier: MIT */
/* kyoka-notify without a bus or a socket (notify/): the language a session gets, the Japanese
 * words of each notification (from the catalog built out of po/ja.po), one notification per
 * plug, links' attempts coalesced, expiry within N days, and the request file's name and its
 * safe creation. */
#include "test-util.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify-state.h"
#include "notify-text.h"
#include "request-save.h"

#define SEC NOTIFY_USEC_PER_SEC

static struct json_object *parse(const char *s) {
        struct json_object *o = json_tokener_parse(s);
        assert_non_null(o);
        return o;
}

static void test_language_is_japanese_by_default(void **state) {
        assert_string_equal(notify_language(NULL, NULL, NULL), "ja");
        assert_string_equal(notify_language("", "", ""), "ja");
        assert_string_equal(notify_language(NULL, NULL, "ja_JP.UTF-8"), "ja");
        assert_string_equal(notify_language(NULL, NULL, "C.UTF-8"), "ja");
        assert_string_equal(notify_language(NULL, NULL, "C"), "ja");
        assert_string_equal(notify_language(NULL, NULL, "en_US.UTF-8"), "en");
        /* LC_ALL, then LC_MESSAGES, then LANG: the first one set decides. */
        assert_string_equal(notify_language("en_GB.UTF-8", NULL, "ja_JP.UTF-8"), "en");
        assert_string_equal(notify_language(NULL, "ja_JP.UTF-8", "en_US.UTF-8"), "ja");
        assert_string_equal(notify_language("", "en_US.UTF-8", "ja_JP.UTF-8"), "en");
}

static const char *usb_block =
        "{\"subject\":\"usb\",\"event\":\"connected\",\"bus_path\":\"1-2\",\"vendor\":\"0781\",\"product\":\"5581\","
        "\"manufacturer\":\"SanDisk\",\"product_name\":\"Ultra\",\"decision\":\"block\",\"reason\":\"default usb_other\","
        "\"result\":\"done\",\"seat\":\"seat0\"}";

static void test_usb_text_in_japanese(void **state) {
        struct json_object *r = parse(usb_block);
        struct notify_text t;

        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        notify_text_usb_blocked(r, &t);
        assert_string_equal(t.summary, "USB 機器をブロックしました");
        assert_non_null(strstr(t.body, "SanDisk Ultra (0781:5581) は使用できません"));
        assert_non_null(strstr(t.body, "この端末のポリシーで許可されていません"));
        assert_non_null(strstr(t.body, "「許可を申請」"));
        assert_string_equal(notify_action_label(), "許可を申請");
        json_object_put(r);
}

/* A virus found (scan-infected): said as such, with the signature and the file, and no request
 * offered; in English by locale. */
static void test_virus_found_is_said_as_such(void **state) {
        struct json_object *r = parse("{\"subject\":\"usb\",\"event\":\"scan-infected\",\"decision\":\"block\","
                                      "\"bus_path\":\"1-5\",\"vendor\":\"46f4\",\"product\":\"0001\","
                                      "\"manufacturer\":\"QEMU\",\"product_name\":\"QEMU USB HARDDRIVE\","
                                      "\"signature\":\"eicar.com.UNOFFICIAL\",\"file_path\":\"sdb1/eicar.com\","
                                      "\"reason\":\"infected\"}");
        struct notify_text t;

        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        assert_false(notify_text_usb_blocked(r, &t));
        assert_string_equal(t.summary, "ウイルスを検出: USB 機器を切り離しました");
        assert_non_null(strstr(t.body, "eicar.com.UNOFFICIAL"));
        assert_non_null(strstr(t.body, "sdb1/eicar.com"));
        assert_null(strstr(t.body, "許可を申請"));
        assert_int_equal(notify_i18n_setup("en", TEST_LOCALE_DIR), 0);
        assert_false(notify_text_usb_blocked(r, &t));
        assert_string_equal(t.summary, "Virus found: USB device disconnected");
        assert_non_null(strstr(t.body, "the virus scanner found eicar.com.UNOFFICIAL in \"sdb1/eicar.com\""));
        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        json_object_put(r);
}

static void test_usb_text_in_english(void **state) {
        struct json_object *r = parse(usb_block);
        struct notify_text t;

        assert_int_equal(notify_i18n_setup("en", TEST_LOCALE_DIR), 0);
        notify_text_usb_blocked(r, &t);
        assert_string_equal(t.summary, "USB device blocked");
        assert_non_null(strstr(t.body, "SanDisk Ultra (0781:5581) cannot be used"));
        assert_string_equal(notify_action_label(), "Request permission");
        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        json_object_put(r);
}

static void test_nameless_device_gets_its_ids(void **state) {
        struct json_object *r = parse("{\"vendor\":\"046d\",\"product\":\"c52b\",\"manufacturer\":\"\"}");
        char buf[128];

        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        notify_usb_name(r, buf, sizeof buf);
        assert_string_equal(buf, "USB 機器 046d:c52b");
        json_object_put(r);
}

static void test_reasons_in_japanese(void **state) {
        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        assert_string_equal(notify_reason_text("default usb_other (permit P-1 expired 2026-11-30T00:00:00+09:00)"),
                            "利用許可の有効期限が切れています");
        assert_string_equal(notify_reason_text("lockdown: no valid policy"),
                            "この端末に有効なポリシーがないため、キーボードとマウス以外は使えません");
        assert_string_equal(notify_reason_text("permit P-2 does not approve interface 03:01:01"),
                            "利用許可にない機能（USB インターフェース）を持っています");
        assert_string_equal(notify_reason_text(NULL), "この端末のポリシーで許可されていません");
}

static const char *link_violation =
        "{\"subject\":\"network\",\"event\":\"violation\",\"ifindex\":7,\"ifname\":\"enx00e04c680001\","
        "\"mac\":\"00:e0:4c:68:00:01\",\"path\":\"pci-0000:00:14.0-usb-0:3:1.0\",\"driver\":\"r8152\","
        "\"decision\":\"block\",\"reason\":\"default network\",\"result\":\"done\",\"count\":1}";

static void test_link_text_counts_attempts(void **state) {
        struct json_object *r = parse(link_violation);
        struct notify_text t;

        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        notify_text_link_blocked(r, 5, &t);
        assert_string_equal(t.summary, "ネットワーク接続をブロックしました");
        assert_non_null(strstr(t.body, "enx00e04c680001 (USB, MAC 00:e0:4c:68:00:01, ドライバー r8152)"));
        assert_non_null(strstr(t.body, "5 回接続され、そのたびに切断されました"));
        json_object_put(r);
}

static void test_one_notification_per_plug(void **state) {
        struct notify_state s = {};
        struct json_object *r = parse(usb_block), *again = parse(usb_block);
        struct notify_item *it = NULL;

        json_object_object_add(again, "event", json_object_new_string("re-evaluated"));
        assert_int_equal(notify_state_record(&s, r, 10 * SEC, &it), NOTIFY_SHOW);
        notify_state_shown(it, 42, 10 * SEC);
        assert_ptr_equal(notify_state_find_id(&s, 42), it);
        assert_string_equal(it->key, "1-2");
        /* A reload re-evaluates it, still blocked: said already. */
        assert_int_equal(notify_state_record(&s, again, 11 * SEC, &it), NOTIFY_IGNORE);
        /* Unplugged and plugged again: a new plug, a new notification. */
        json_object_object_add(again, "event", json_object_new_string("removed"));
        assert_int_equal(notify_state_record(&s, again, 12 * SEC, &it), NOTIFY_IGNORE);
        assert_null(notify_state_find_id(&s, 42));
        assert_int_equal(notify_state_record(&s, r, 13 * SEC, &it), NOTIFY_SHOW);
        notify_state_clear(&s);
        json_object_put(r);
        json_object_put(again);
}

static void test_allowed_and_failed_are_not_told(void **state) {
        struct notify_state s = {};
        struct json_object *r = parse(usb_block);
        struct notify_item *it = NULL;

        json_object_object_add(r, "decision", json_object_new_string("allow"));
        assert_int_equal(notify_state_record(&s, r, SEC, &it), NOTIFY_IGNORE);
        json_object_object_add(r, "decision", json_object_new_string("block"));
        json_object_object_add(r, "result", json_object_new_string("failed"));
        assert_int_equal(notify_state_record(&s, r, SEC, &it), NOTIFY_IGNORE);
        notify_state_clear(&s);
        json_object_put(r);
}

static void test_link_attempts_are_coalesced(void **state) {
        struct notify_state s = {};
        struct json_object *r = parse(link_violation);
        struct notify_item *it = NULL, *due;
        uint64_t next;

        assert_int_equal(notify_state_record(&s, r, 100 * SEC, &it), NOTIFY_SHOW);
        assert_int_equal(it->attempts, 1);
        notify_state_shown(it, 7, 100 * SEC);
        /* 50 more attempts within the next second: no new notification now... */
        for (int i = 0; i < 50; i++)
                assert_int_equal(notify_state_record(&s, r, 100 * SEC + (uint64_t) i * 10000, &it), NOTIFY_LATER);
        assert_int_equal(it->attempts, 51);
        assert_null(notify_state_next_due(&s, 101 * SEC, &next));
        assert_int_equal(next, 100 * SEC + NOTIFY_COALESCE_USEC);
        /* ...one update of the same notification (its id) once the interval has passed. */
        due = notify_state_next_due(&s, 102 * SEC, NULL);
        assert_ptr_equal(due, it);
        assert_int_equal(due->id, 7);
        notify_state_shown(due, 7, 102 * SEC);
        assert_null(notify_state_next_due(&s, 200 * SEC, &next));
        assert_int_equal(next, UINT64_MAX);
        notify_state_clear(&s);
        json_object_put(r);
}

static void test_many_devices_stay_bounded(void **state) {
        struct notify_state s = {};
        struct notify_item *it;
        char buf[64];

        for (int i = 0; i < NOTIFY_ITEMS_MAX * 3; i++) {
                struct json_object *r = parse(usb_block);
                snprintf(buf, sizeof buf, "1-%d", i);
                json_object_object_add(r, "bus_path", json_object_new_string(buf));
                assert_int_equal(notify_state_record(&s, r, (uint64_t) (i + 1) * SEC, &it), NOTIFY_SHOW);
                notify_state_shown(it, (uint32_t) i + 1, (uint64_t) (i + 1) * SEC);
                json_object_put(r);
        }
        /* The oldest were forgotten, the newest are remembered. */
        assert_null(notify_state_find_id(&s, 1));
        assert_non_null(notify_state_find_id(&s, NOTIFY_ITEMS_MAX * 3));
        notify_state_clear(&s);
}

static void test_expiry_within_days(void **state) {
        const int64_t now = 1764640000;
        int64_t days = -1;

        assert_true(notify_expiry_soon(now + 3600, now, 14, &days));
        assert_int_equal(days, 0);
        assert_true(notify_expiry_soon(now + 13 * 86400 + 1, now, 14, &days));
        assert_int_equal(days, 13);
        assert_false(notify_expiry_soon(now + 14 * 86400 + 1, now, 14, &days));
        assert_false(notify_expiry_soon(now - 1, now, 14, &days));
        assert_false(notify_expiry_soon(INT64_MAX, now, 14, &days));
        assert_false(notify_expiry_soon(now + 3600, now, 0, &days));
}

static void test_expiry_text(void **state) {
        struct notify_text t;

        assert_int_equal(notify_i18n_setup("ja", TEST_LOCALE_DIR), 0);
        notify_text_expiry(false, "許可-2026-017", "SanDisk Ultra (0781:5581)", "2026-12-10", 8, &t);
        assert_string_equal(t.summary, "利用許可の期限が近づいています");
        assert_non_null(strstr(t.body, "利用許可 許可-2026-017（SanDisk Ultra (0781:5581)）は 2026-12-10 に終了します（あと 8 日）"));
        notify_text_expiry(true, "契約第123号", NULL, "2027-03-31", 0, &t);
        assert_non_null(strstr(t.body, "この端末のポリシー 契約第123号 は 2027-03-31 に終了します（本日まで）"));
}

static void test_request_file_name_is_safe(void **state) {
        char buf[256];

        assert_int_equal(request_file_name("1-2.1", 0, buf, sizeof buf), 0);
        assert_non_null(strstr(buf, "kyoka-request-1-2.1-"));
        assert_int_equal(request_file_name("../../etc/x y", 0, buf, sizeof buf), 0);
        assert_null(strchr(buf, '/'));
        assert_non_null(strstr(buf, "kyoka-request-.._.._etc_x_y-"));
        assert_int_equal(request_file_name("..", 0, buf, sizeof buf), 0);
        assert_non_null(strstr(buf, "kyoka-request-device-"));
}

static void test_request_save_new_file_never_over_another(void **state) {
        char *tmp = test_mkdtemp(), *dir, *p1 = NULL, *p2 = NULL, *text = NULL;
        size_t n;
        struct stat st;

        assert_true(asprintf(&dir, "%s/req", tmp) > 0);
        assert_int_equal(request_save(dir, "kyoka-request-1-2-x.json", "{}\n", &p1), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(stat(p1, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        /* The same name again: a second file beside it, the first one unchanged. */
        assert_int_equal(request_save(dir, "kyoka-request-1-2-x.json", "{\"b\":1}\n", &p2), 0);
        assert_string_not_equal(p1, p2);
        assert_non_null(strstr(p2, "kyoka-request-1-2-x-2.json"));
        assert_int_equal(read_file_bounded(p1, 100, &text, &n), 0);
        assert_string_equal(text, "{}\n");
        free(text);
        /* A symlink planted where the file goes is not followed. */
        char *link, *target;
        assert_true(asprintf(&link, "%s/kyoka-request-evil.json", dir) > 0);
        assert_true(asprintf(&target, "%s/target", tmp) > 0);
        assert_int_equal(symlink(target, link), 0);
        free(p1);
        p1 = NULL;
        assert_int_equal(request_save(dir, "kyoka-request-evil.json", "{}\n", &p1), 0);
        assert_non_null(strstr(p1, "evil-2.json"));
        assert_int_equal(access(target, F_OK), -1);
        /* A directory others may write to is refused. */
        assert_int_equal(chmod(dir, 0777), 0);
        assert_int_equal(request_save(dir, "kyoka-request-1-2-y.json", "{}\n", &p2), -EPERM);
        free(link);
        free(target);
        free(p1);
        free(p2);
        free(dir);
        test_rmdir_r(tmp);
        free(tmp);
}

static void test_markup_is_escaped(void **state) {
        char buf[64];

        notify_escape_markup("AT&T <Stick> 日本", buf, sizeof buf);
        assert_string_equal(buf, "AT&amp;T &lt;Stick&gt; 日本");
        /* Cut before an entity that does not fit, never inside it. */
        notify_escape_markup("ab&cd", buf, 6);
        assert_string_equal(buf, "ab");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_language_is_japanese_by_default),
                cmocka_unit_test(test_usb_text_in_japanese),
                cmocka_unit_test(test_usb_text_in_english),
                cmocka_unit_test(test_virus_found_is_said_as_such),
                cmocka_unit_test(test_nameless_device_gets_its_ids),
                cmocka_unit_test(test_reasons_in_japanese),
                cmocka_unit_test(test_link_text_counts_attempts),
                cmocka_unit_test(test_one_notification_per_plug),
                cmocka_unit_test(test_allowed_and_failed_are_not_told),
                cmocka_unit_test(test_link_attempts_are_coalesced),
                cmocka_unit_test(test_many_devices_stay_bounded),
                cmocka_unit_test(test_expiry_within_days),
                cmocka_unit_test(test_expiry_text),
                cmocka_unit_test(test_request_file_name_is_safe),
                cmocka_unit_test(test_markup_is_escaped),
                cmocka_unit_test(test_request_save_new_file_never_over_another),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
