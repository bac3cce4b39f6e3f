/* SPDX-License-Identifier: MIT */
/* The scan worker's messages (daemon/scan-protocol.c) and the clamd answers it reads
 * (daemon/scan-worker.c): what kyokad accepts from a worker that mounted a hostile medium. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "macro.h"
#include "scan-protocol.h"
#include "clamd.h"

static int parse(const char *s, struct scan_message *m) {
        return scan_message_parse(s, strlen(s), m);
}

static void test_each_message_parses_and_formats_back(void **state) {
        static const char *const lines[] = {
                "progress 12 3456",
                "engine 1764577621 ClamAV 1.4.6/27480/Mon Dec  1 08:27:01 2026",
                "infected 26 eicar.com.UNOFFICIAL sdb1/資料 2026/virus.txt",
                "result clean none 0 3 99",
                "result infected none 0 1 68",
                "result fault unmountable 22 0 0",
        };
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
                struct scan_message m;
                char buf[SCAN_LINE_MAX + 1];
                assert_int_equal(parse(lines[i], &m), 0);
                int n = scan_message_format(&m, buf, sizeof buf);
                assert_int_equal(n, (int) strlen(lines[i]) + 1);
                assert_memory_equal(buf, lines[i], strlen(lines[i]));
        }
}

static void test_infected_keeps_spaces_in_the_path(void **state) {
        struct scan_message m;
        assert_int_equal(parse("infected 26 eicar.com.UNOFFICIAL sdb1/資料 2026/virus.txt", &m), 0);
        assert_int_equal(m.kind, SCAN_MSG_INFECTED);
        assert_string_equal(m.signature, "eicar.com.UNOFFICIAL");
        assert_string_equal(m.path, "sdb1/資料 2026/virus.txt");
}

/* A worker repeating a hostile file name or clamd's answer cannot smuggle anything through. */
static void test_malformed_lines_are_refused(void **state) {
        static const char *const bad[] = {
                "",
                "progress",
                "progress 1",
                "progress 1 2 3",
                "progress -1 2",
                "progress 01 2",
                "progress 1  2",
                "progress 99999999999999999999 1",
                "engine 12",
                "engine x ClamAV",
                "infected 5 Sig a",               /* length does not match */
                "infected 0 Sig ",
                "infected 3 Sig a\x1b[",          /* a control character */
                "infected 6 Sig a\\b/cd",         /* a backslash that is no escape */
                "infected 2 Sig \xff\xfe",        /* not UTF-8 */
                "result clean unmountable 0 0 0", /* a fault without a fault result */
                "result fault none 0 0 0",        /* a fault result without a fault */
                "result dirty none 0 0 0",
                "result clean none 5000 0 0",
                "result clean none 0 0 0 extra",
                "result clean none 0 33 990 ",    /* a trailing space: one spelling only (fuzz finding) */
                "progress 1 2 ",
                "hello world",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct scan_message m;
                if (parse(bad[i], &m) != -EBADMSG)
                        fail_msg("accepted: \"%s\"", bad[i]);
        }
        struct scan_message m;
        char nul[] = "progress 1 2";
        nul[10] = 0;
        assert_int_equal(scan_message_parse(nul, sizeof nul - 1, &m), -EBADMSG);
}

static void test_fault_names_round_trip(void **state) {
        for (int f = 0; f < _SCAN_FAULT_MAX; f++) {
                const char *s = scan_fault_to_string((enum scan_fault) f);
                enum scan_fault back;
                assert_non_null(s);
                assert_int_equal(scan_fault_from_string(s, strlen(s), &back), 0);
                assert_int_equal(back, f);
        }
        assert_null(scan_fault_to_string(_SCAN_FAULT_MAX));
}

static void test_clamd_version(void **state) {
        int64_t t = -1;
        assert_int_equal(clamd_version_parse("ClamAV 1.4.6", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(clamd_version_parse("ClamAV 1.4.6/27480/Mon Dec  1 08:27:01 2025", &t), 0);
        struct tm tm = { .tm_year = 125, .tm_mon = 11, .tm_mday = 1, .tm_hour = 8, .tm_min = 27, .tm_sec = 1, .tm_isdst = -1 };
        assert_int_equal(t, (int64_t) mktime(&tm));
        assert_int_equal(clamd_version_parse("ClamAV 1.4.6/27480/yesterday", &t), -EBADMSG);
        assert_int_equal(clamd_version_parse("Something else", &t), -EBADMSG);
}

static void test_clamd_replies(void **state) {
        char sig[64];
        assert_int_equal(clamd_reply_parse("3: fd[11]: OK", 3, sig, sizeof sig), 0);
        assert_int_equal(clamd_reply_parse("3: fd[11]: Eicar-Test-Signature FOUND", 3, sig, sizeof sig), 1);
        assert_string_equal(sig, "Eicar-Test-Signature");
        /* A reply to another request, an error, anything else. */
        assert_int_equal(clamd_reply_parse("2: fd[11]: OK", 3, sig, sizeof sig), -EPROTO);
        assert_int_equal(clamd_reply_parse("3: fd[11]: lstat() failed ERROR", 3, sig, sizeof sig), -EPROTO);
        assert_int_equal(clamd_reply_parse("3: OK", 3, sig, sizeof sig), -EPROTO);
        /* A long name is cut to the buffer. */
        char small[5];
        assert_int_equal(clamd_reply_parse("1: fd[1]: Win.Trojan.Long FOUND", 1, small, sizeof small), 1);
        assert_string_equal(small, "Win.");
}

/* The scan service's request: one spelling, strict numbers and paths, nothing after the path. */
static void test_scan_request(void **state) {
        struct scan_request q = { .max_seconds = 600, .max_bytes = 1073741824, .max_database_age = 604800 }, back;
        char buf[SCAN_REQUEST_MAX + 2];
        strcpy(q.clamd_socket, "/run/clamav/clamd.ctl");
        strcpy(q.syspath, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1");
        int n = scan_request_format(&q, buf, sizeof buf);
        assert_true(n > 0);
        assert_string_equal(buf, "scan 600 1073741824 604800 /run/clamav/clamd.ctl "
                                 "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1\n");
        assert_int_equal(scan_request_parse(buf, (size_t) n - 1, &back), 0);
        assert_int_equal(back.max_seconds, 600);
        assert_int_equal(back.max_bytes, 1073741824);
        assert_int_equal(back.max_database_age, 604800);
        assert_string_equal(back.clamd_socket, q.clamd_socket);
        assert_string_equal(back.syspath, q.syspath);

        static const char *const bad[] = {
                "", "scan", "scan 600 1 0 /run/c /sys/devices/x ", "scan  600 1 0 /run/c /sys/devices/x",
                "scan 0 1 0 /run/c /sys/devices/x", "scan 86401 1 0 /run/c /sys/devices/x",
                "scan 600 01 0 /run/c /sys/devices/x", "scan 600 1 -1 /run/c /sys/devices/x",
                "scan 600 1 0 run/c /sys/devices/x", "scan 600 1 0 /run/c /etc/passwd",
                "scan 600 1 0 /run/c /sys/../etc", "scan 600 1 0 /run/c /sys/./devices",
                "scan 600 1 0 /run/c /sys//devices", "scan 600 1 0 /run/c /sys/devices/",
                "scan 600 1 0 /run/c /sys/devices/x y", "scan 600 1 0 /run/c /sys/dev\tices",
                "SCAN 600 1 0 /run/c /sys/devices/x", "scan 600 18446744073709551616 0 /run/c /sys/devices/x",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                assert_int_equal(scan_request_parse(bad[k], strlen(bad[k]), &back), -EBADMSG);
        q.max_seconds = 0;
        assert_int_equal(scan_request_format(&q, buf, sizeof buf), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_each_message_parses_and_formats_back),
                cmocka_unit_test(test_infected_keeps_spaces_in_the_path),
                cmocka_unit_test(test_malformed_lines_are_refused),
                cmocka_unit_test(test_fault_names_round_trip),
                cmocka_unit_test(test_clamd_version),
                cmocka_unit_test(test_clamd_replies),
                cmocka_unit_test(test_scan_request),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
