/* SPDX-License-Identifier: MIT */
/* The carry-out worker's protocol (daemon/carry-protocol.c) and kyokad's end of it
 * (daemon/carry-link.c) with a real ledger: what kyokad accepts from a worker that holds
 * CAP_SYS_ADMIN and reads files an attacker chose, and that a record names the medium as
 * kyokad knows it, never as the worker says. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "carry-link.h"
#include "carry-protocol.h"
#include "export.h"
#include "kyoka-names.h"
#include "ledger.h"
#include "recorder.h"
#include "test-util.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static int roundtrip(const struct carry_message *m, struct carry_message *back) {
        uint8_t buf[CARRY_MESSAGE_MAX];
        int n = carry_message_format(m, buf, sizeof buf);
        if (n < 0)
                return n;
        return carry_message_parse(buf, (size_t) n, back);
}

static struct carry_message file_message(uint32_t token) {
        struct carry_message m = { .type = CARRY_MSG_FILE, .token = token, .ev = CARRY_FILE_WRITTEN, .size = 4,
                                   .count = 1, .time_usec = 1764577621000000, .pid = 42, .uid = 1000 };
        snprintf(m.path, sizeof m.path, "sdb1/報告書.txt");
        snprintf(m.sha256, sizeof m.sha256, SHA);
        snprintf(m.process, sizeof m.process, "cp");
        snprintf(m.user, sizeof m.user, "kyokatest");
        return m;
}

static struct carry_message scanned_message(uint32_t token, enum scan_result result) {
        struct carry_message m = file_message(token);
        m.scan = (uint8_t) (1 + result);
        snprintf(m.scanner, sizeof m.scanner, "ClamAV 1.4.6/27480/Mon Dec  1 08:27:01 2026");
        if (result == SCAN_RESULT_INFECTED)
                snprintf(m.signature, sizeof m.signature, "Eicar-Test-Signature");
        if (result == SCAN_RESULT_FAULT) {
                m.scan_fault = SCAN_FAULT_SCANNER_MISSING;
                m.scan_error = ECONNREFUSED;
                memset(m.scanner, 0, sizeof m.scanner);
        }
        return m;
}

static struct carry_message scanning_medium(uint32_t token) {
        struct carry_message m = { .type = CARRY_MSG_MEDIUM, .token = token, .scan_enabled = true,
                                   .scan_max_seconds = 900, .scan_max_bytes = 64ULL << 30,
                                   .scan_max_database_age = 7 * 86400 };
        snprintf(m.syspath, sizeof m.syspath, "/sys/devices/pci0000:00/0000:00:02.0/usb1/1-2");
        snprintf(m.clamd_socket, sizeof m.clamd_socket, "/run/clamav/clamd.ctl");
        return m;
}

static void test_each_message_round_trips(void **state) {
        struct carry_message ms[] = {
                { .type = CARRY_MSG_HELLO },
                { .type = CARRY_MSG_MEDIUM, .token = 7 },
                { .type = CARRY_MSG_FORGET, .token = 7 },
                file_message(7),
                { .type = CARRY_MSG_FILE, .token = 0, .ev = CARRY_FILE_LOST, .reason = CARRY_REASON_QUEUE_OVERFLOW,
                  .count = 3, .uid = -1 },
                { .type = CARRY_MSG_FAULT, .token = 7, .fault = CARRY_FAULT_WATCH, .error = EPERM },
                scanning_medium(8),
                scanned_message(8, SCAN_RESULT_CLEAN),
                scanned_message(8, SCAN_RESULT_INFECTED),
                scanned_message(8, SCAN_RESULT_FAULT),
        };
        snprintf(ms[1].syspath, sizeof ms[1].syspath, "/sys/devices/pci0000:00/0000:00:02.0/usb1/1-1");
        for (size_t i = 0; i < ELEMENTSOF(ms); i++) {
                struct carry_message back;
                assert_int_equal(roundtrip(&ms[i], &back), 0);
                assert_memory_equal(&back, &ms[i], sizeof back);
        }
}

static void test_malformed_messages_are_refused(void **state) {
        uint8_t buf[CARRY_MESSAGE_MAX];
        struct carry_message m = file_message(7), back;
        int n = carry_message_format(&m, buf, sizeof buf);
        assert_true(n > 0);

        /* Every truncation, one byte more, another version, magic or type. */
        for (int k = 0; k < n; k++)
                assert_int_equal(carry_message_parse(buf, (size_t) k, &back), -EBADMSG);
        buf[n] = 0;
        assert_int_equal(carry_message_parse(buf, (size_t) n + 1, &back), -EBADMSG);
        buf[4] = CARRY_PROTOCOL_VERSION + 1;
        assert_int_equal(carry_message_parse(buf, (size_t) n, &back), -EBADMSG);
        buf[4] = CARRY_PROTOCOL_VERSION - 1;  /* the worker of an older package */
        assert_int_equal(carry_message_parse(buf, (size_t) n, &back), -EBADMSG);
        buf[4] = CARRY_PROTOCOL_VERSION;
        buf[0] = 'X';
        assert_int_equal(carry_message_parse(buf, (size_t) n, &back), -EBADMSG);
        buf[0] = 'K';
        buf[6] = 99;
        assert_int_equal(carry_message_parse(buf, (size_t) n, &back), -EBADMSG);

        /* Values out of range cannot even be said. */
        struct carry_message bad = file_message(7);
        snprintf(bad.sha256, sizeof bad.sha256, "%s", "ABCDEF");
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = file_message(0);        /* a file on no medium: only a loss may be */
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = file_message(7);
        bad.count = 0;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = file_message(7);
        bad.ev = CARRY_FILE_READ;     /* a file read has no hash */
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = (struct carry_message) { .type = CARRY_MSG_MEDIUM, .token = 1 };
        snprintf(bad.syspath, sizeof bad.syspath, "/sys/devices/../../etc");
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);

        /* The scan of a file written: a fault only with a failed scan, a signature only (and
         * always) with a virus found, nothing for a file read. */
        bad = scanned_message(7, SCAN_RESULT_CLEAN);
        bad.scan_fault = SCAN_FAULT_SCANNER_MISSING;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanned_message(7, SCAN_RESULT_FAULT);
        bad.scan_fault = SCAN_FAULT_NONE;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanned_message(7, SCAN_RESULT_CLEAN);
        snprintf(bad.signature, sizeof bad.signature, "Eicar");
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanned_message(7, SCAN_RESULT_INFECTED);
        bad.signature[0] = 0;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanned_message(7, SCAN_RESULT_CLEAN);
        bad.ev = CARRY_FILE_READ;
        bad.sha256[0] = 0;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanned_message(7, SCAN_RESULT_CLEAN);
        bad.scan = 1 + _SCAN_RESULT_MAX;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = file_message(7);
        snprintf(bad.scanner, sizeof bad.scanner, "ClamAV 1.4.6");   /* a scanner named, no scan */
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        /* A medium scanned: bounds and an absolute socket path; not scanned: none of it. */
        bad = scanning_medium(3);
        snprintf(bad.clamd_socket, sizeof bad.clamd_socket, "clamd.ctl");
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanning_medium(3);
        bad.scan_max_seconds = 0;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
        bad = scanning_medium(3);
        bad.scan_enabled = false;
        assert_int_equal(carry_message_format(&bad, buf, sizeof buf), -EINVAL);
}

/* ---- kyokad's end, over a real socket ---- */

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

static void run(sd_event *e) {
        for (int i = 0; i < 20; i++)
                assert_true(sd_event_run(e, 1000) >= 0);
}

static int connect_to(const char *dir) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, KYOKA_CARRY_SOCKET);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        return fd;
}

static void say(int fd, const struct carry_message *m) {
        uint8_t buf[CARRY_MESSAGE_MAX];
        int n = carry_message_format(m, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(send(fd, buf, (size_t) n, MSG_NOSIGNAL), n);
}

static int hear(int fd, struct carry_message *m) {
        uint8_t buf[CARRY_MESSAGE_MAX];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
                return n == 0 ? -EPIPE : -errno;
        return carry_message_parse(buf, (size_t) n, m);
}

static void on_state(bool connected, void *userdata) {
        *(int *) userdata = connected ? 1 : 0;
}

static struct carry_medium_info stick(void) {
        struct carry_medium_info info = { .verdict = VERDICT_ALLOW };
        info.id = (struct usb_identity) { .vendor = 0x46f4, .product = 0x0001, .has_serial = true };
        snprintf(info.id.bus_path, sizeof info.id.bus_path, "1-1");
        snprintf(info.id.serial, sizeof info.id.serial, "CARRY-1");
        snprintf(info.permit, sizeof info.permit, "P-CARRY-1");
        return info;
}

static void test_records_name_the_medium_kyokad_approved(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct recorder *r = NULL;
        struct carry_link *l = NULL;
        sd_event *e = NULL;
        int connected = -1;
        struct carry_message m;
        struct rows rows;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        assert_int_equal(carry_link_new(e, r, dir, getuid(), on_state, &connected, &l), 0);
        struct carry_medium_info info = stick();
        carry_link_sync_begin(l);
        carry_link_offer(l, "/sys/devices/pci0000:00/usb1/1-1", &info);
        carry_link_sync_end(l);

        int fd = connect_to(dir);
        say(fd, &(struct carry_message) { .type = CARRY_MSG_HELLO });
        run(e);
        assert_int_equal(connected, 1);
        assert_true(carry_link_connected(l));
        /* The worker learns the medium under a token, nothing more. */
        assert_int_equal(hear(fd, &m), 0);
        assert_int_equal(m.type, CARRY_MSG_MEDIUM);
        assert_string_equal(m.syspath, "/sys/devices/pci0000:00/usb1/1-1");
        uint32_t token = m.token;

        struct carry_message f = file_message(token);
        say(fd, &f);
        run(e);
        read_ledger(dir, &rows);
        const struct ledger_record *w = NULL;
        for (unsigned i = 0; i < rows.n; i++)
                if (rows.r[i].event == LEDGER_EVENT_FILE_WRITTEN)
                        w = &rows.r[i];
        assert_non_null(w);
        assert_string_equal(w->serial, "CARRY-1");
        assert_string_equal(w->permit, "P-CARRY-1");
        assert_string_equal(w->sha256, SHA);
        assert_string_equal(w->file_path, "sdb1/報告書.txt");
        assert_int_equal(w->uid, 1000);

        /* Withdrawn: the worker is told; a late record still names the medium. */
        carry_link_sync_begin(l);
        carry_link_sync_end(l);
        assert_int_equal(hear(fd, &m), 0);
        assert_int_equal(m.type, CARRY_MSG_FORGET);
        assert_int_equal(m.token, token);

        /* A token kyokad never issued: refused, a fault, the connection closed, read-write
         * media closed again (the state callback). */
        say(fd, &(struct carry_message) { .type = CARRY_MSG_FILE, .token = token + 100, .ev = CARRY_FILE_READ,
                                          .count = 1, .uid = -1 });
        run(e);
        assert_int_equal(connected, 0);
        assert_false(carry_link_connected(l));
        assert_int_equal(hear(fd, &m), -EPIPE);
        close(fd);
        read_ledger(dir, &rows);
        unsigned files = 0, faults = 0;
        for (unsigned i = 0; i < rows.n; i++) {
                files += rows.r[i].event == LEDGER_EVENT_FILE_WRITTEN || rows.r[i].event == LEDGER_EVENT_FILE_READ;
                faults += rows.r[i].event == LEDGER_EVENT_FAULT && streq(rows.r[i].reason, "carry-worker");
        }
        assert_int_equal(files, 1);
        assert_true(faults >= 1);

        carry_link_free(l);
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

/* The link's userdata in the scan test: the state flag first (on_state writes an int there),
 * then what on_scanned saw. */
struct link_ud {
        int connected;
        unsigned n_scanned;
        enum scan_result result;
        char serial[USB_STRING_MAX];
};

static void on_scanned(const struct carry_medium_info *medium, const struct record_file *f, void *userdata) {
        struct link_ud *ud = userdata;
        ud->n_scanned++;
        ud->result = f->scan_result;
        snprintf(ud->serial, sizeof ud->serial, "%s", medium->id.serial);
}

static const struct ledger_record *last_written(const struct rows *rows) {
        const struct ledger_record *w = NULL;
        for (unsigned i = 0; i < rows->n; i++)
                if (rows->r[i].event == LEDGER_EVENT_FILE_WRITTEN)
                        w = &rows->r[i];
        return w;
}

/* The worker says F; kyokad's loop runs; the ledger's last file-written record (never NULL). */
static const struct ledger_record *say_file(int fd, sd_event *e, const char *dir, struct rows *rows,
                                            struct carry_message f) {
        say(fd, &f);
        run(e);
        read_ledger(dir, rows);
        const struct ledger_record *w = last_written(rows);
        assert_non_null(w);
        return w;
}

static void test_scanned_files_are_recorded_and_reported(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct recorder *r = NULL;
        struct carry_link *l = NULL;
        sd_event *e = NULL;
        struct link_ud ud = { .connected = -1 };
        struct carry_message m;
        struct rows rows;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        assert_int_equal(carry_link_new(e, r, dir, getuid(), on_state, &ud, &l), 0);
        carry_link_set_scan_listener(l, on_scanned);
        struct carry_medium_info scanning = stick(), plain = stick();
        scanning.scan = (struct carry_scan) { .enabled = true, .max_seconds = 60, .max_bytes = 1 << 20 };
        snprintf(scanning.scan.clamd_socket, sizeof scanning.scan.clamd_socket, "/run/clamav/clamd.ctl");
        snprintf(plain.id.bus_path, sizeof plain.id.bus_path, "1-2");
        snprintf(plain.id.serial, sizeof plain.id.serial, "PLAIN-2");
        carry_link_sync_begin(l);
        carry_link_offer(l, "/sys/devices/pci0000:00/usb1/1-1", &scanning);
        carry_link_offer(l, "/sys/devices/pci0000:00/usb1/1-2", &plain);
        carry_link_sync_end(l);

        int fd = connect_to(dir);
        say(fd, &(struct carry_message) { .type = CARRY_MSG_HELLO });
        run(e);
        assert_int_equal(ud.connected, 1);
        /* The worker is told which medium's files to scan, with the policy's bounds and clamd. */
        uint32_t scan_token = 0, plain_token = 0;
        for (int i = 0; i < 2; i++) {
                assert_int_equal(hear(fd, &m), 0);
                assert_int_equal(m.type, CARRY_MSG_MEDIUM);
                if (m.scan_enabled) {
                        scan_token = m.token;
                        assert_int_equal(m.scan_max_seconds, 60);
                        assert_int_equal(m.scan_max_bytes, 1 << 20);
                        assert_string_equal(m.clamd_socket, "/run/clamav/clamd.ctl");
                } else {
                        plain_token = m.token;
                        assert_string_equal(m.clamd_socket, "");
                }
        }
        assert_true(scan_token && plain_token);

        /* Clean: the scanner named in the record; the owner hears of it (nothing to do). */
        const struct ledger_record *w = say_file(fd, e, dir, &rows, scanned_message(scan_token, SCAN_RESULT_CLEAN));
        assert_string_equal(w->scanner, "ClamAV 1.4.6/27480/Mon Dec  1 08:27:01 2026");
        assert_string_equal(w->signature, "");
        assert_int_equal(ud.n_scanned, 1);
        assert_int_equal(ud.result, SCAN_RESULT_CLEAN);

        /* Infected: the signature in the record, the owner told which medium. */
        w = say_file(fd, e, dir, &rows, scanned_message(scan_token, SCAN_RESULT_INFECTED));
        assert_string_equal(w->signature, "Eicar-Test-Signature");
        assert_string_equal(w->sha256, SHA);
        assert_int_equal(ud.n_scanned, 2);
        assert_int_equal(ud.result, SCAN_RESULT_INFECTED);
        assert_string_equal(ud.serial, "CARRY-1");

        /* Not scanned: no scanner named; the owner told (it holds the medium). */
        w = say_file(fd, e, dir, &rows, scanned_message(scan_token, SCAN_RESULT_FAULT));
        assert_string_equal(w->scanner, "");
        assert_int_equal(ud.n_scanned, 3);
        assert_int_equal(ud.result, SCAN_RESULT_FAULT);

        /* A "scan" on a medium kyokad did not ask to scan: recorded as a file, not as a scan. */
        w = say_file(fd, e, dir, &rows, scanned_message(plain_token, SCAN_RESULT_INFECTED));
        assert_string_equal(w->serial, "PLAIN-2");
        assert_string_equal(w->signature, "");
        assert_string_equal(w->scanner, "");
        assert_int_equal(ud.n_scanned, 3);
        assert_true(carry_link_connected(l));

        close(fd);
        carry_link_free(l);
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

/* An SD card approved read-write (a medium on another bus, media.c): its file records name it as
 * its media records do (subject media, bus, kernel name, vendor, model, serial), and the record
 * book lists them as files carried out on that card. */
static void test_records_name_a_medium_on_another_bus(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct recorder *r = NULL;
        struct carry_link *l = NULL;
        sd_event *e = NULL;
        int connected = -1;
        struct carry_message m;
        struct rows rows;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        assert_int_equal(carry_link_new(e, r, dir, getuid(), on_state, &connected, &l), 0);
        struct carry_medium_info card = { .verdict = VERDICT_ALLOW, .other_bus = true };
        card.medium.bus = MEDIA_BUS_MMC;
        snprintf(card.medium.name, sizeof card.medium.name, "mmcblk0");
        snprintf(card.medium.path, sizeof card.medium.path, "pci-0000:00:03.0-platform-sdhci");
        snprintf(card.medium.vendor, sizeof card.medium.vendor, "0x0000aa");
        snprintf(card.medium.model, sizeof card.medium.model, "QEMU!");
        snprintf(card.medium.serial, sizeof card.medium.serial, "0xdeadbeef");
        snprintf(card.permit, sizeof card.permit, "P-SD-RW");
        const char *syspath = "/sys/devices/pci0000:00/0000:00:03.0/mmc_host/mmc0/mmc0:4567/block/mmcblk0";
        carry_link_sync_begin(l);
        carry_link_offer(l, syspath, &card);
        carry_link_sync_end(l);

        int fd = connect_to(dir);
        say(fd, &(struct carry_message) { .type = CARRY_MSG_HELLO });
        run(e);
        assert_int_equal(connected, 1);
        assert_int_equal(hear(fd, &m), 0);
        assert_int_equal(m.type, CARRY_MSG_MEDIUM);
        assert_string_equal(m.syspath, syspath);
        uint32_t token = m.token;

        /* The same syspath offered again with the same card: no new token; with another card
         * (another serial): a new one. */
        carry_link_sync_begin(l);
        carry_link_offer(l, syspath, &card);
        carry_link_sync_end(l);
        assert_int_equal(hear(fd, &m), -EAGAIN);

        struct carry_message f = file_message(token);
        snprintf(f.path, sizeof f.path, "mmcblk0p1/報告書.txt");
        say(fd, &f);
        run(e);
        read_ledger(dir, &rows);
        const struct ledger_record *w = last_written(&rows);
        assert_non_null(w);
        assert_int_equal(w->subject, LEDGER_SUBJECT_MEDIA);
        assert_string_equal(w->bus, "mmc");
        assert_string_equal(w->device_name, "mmcblk0");
        assert_string_equal(w->serial, "0xdeadbeef");
        assert_string_equal(w->manufacturer, "0x0000aa");
        assert_string_equal(w->product_name, "QEMU!");
        assert_string_equal(w->bus_path, "");
        assert_string_equal(w->vendor, "");
        assert_string_equal(w->permit, "P-SD-RW");
        assert_string_equal(w->sha256, SHA);
        assert_string_equal(w->file_path, "mmcblk0p1/報告書.txt");
        assert_int_equal(w->uid, 1000);
        assert_int_equal(w->decision, LEDGER_DECISION_ALLOW);
        /* The record book: a file carried out, on the SD card named as its media records are. */
        assert_int_equal(export_media_kind(w), EXPORT_MEDIA_FILE_WRITTEN);
        char name[256];
        export_medium_name(w, EXPORT_LANG_EN, name, sizeof name);
        assert_string_equal(name, "SD card: 0x0000aa QEMU! (mmcblk0)");

        struct carry_medium_info other = card;
        snprintf(other.medium.serial, sizeof other.medium.serial, "0x12345678");
        carry_link_sync_begin(l);
        carry_link_offer(l, syspath, &other);
        carry_link_sync_end(l);
        bool forgot = false, offered = false;
        while (hear(fd, &m) == 0) {
                forgot |= m.type == CARRY_MSG_FORGET && m.token == token;
                offered |= m.type == CARRY_MSG_MEDIUM && m.token != token;
        }
        assert_true(forgot);
        assert_true(offered);

        close(fd);
        carry_link_free(l);
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

static void test_other_users_are_not_heard(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        struct recorder *r = NULL;
        struct carry_link *l = NULL;
        sd_event *e = NULL;
        int connected = -1;
        struct carry_message m;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recorder_new(e, dir, &r), 0);
        assert_int_equal(carry_link_new(e, r, dir, getuid() + 1, on_state, &connected, &l), 0);
        int fd = connect_to(dir);
        (void) send(fd, "KYCO\1\0\1\0", 8, MSG_NOSIGNAL | MSG_DONTWAIT);
        run(e);
        assert_int_equal(connected, -1);
        assert_false(carry_link_connected(l));
        int rc = hear(fd, &m);      /* closed at once: unread data makes it a reset */
        assert_true(rc == -EPIPE || rc == -ECONNRESET);
        close(fd);

        carry_link_free(l);
        recorder_stop(r, 0);
        recorder_free(r);
        sd_event_unref(e);
        test_rmdir_r(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_each_message_round_trips),
                cmocka_unit_test(test_malformed_messages_are_refused),
                cmocka_unit_test(test_records_name_the_medium_kyokad_approved),
                cmocka_unit_test(test_scanned_files_are_recorded_and_reported),
                cmocka_unit_test(test_records_name_a_medium_on_another_bus),
                cmocka_unit_test(test_other_users_are_not_heard),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
