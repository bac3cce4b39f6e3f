/* SPDX-License-Identifier: MIT */
/* The ledger database: group commit and seqs, the chain, every kind of tampering found by
 * ledger_verify at the right seq, the bounded queue and its "records lost" fault, a failed
 * commit keeping its records and recording the delay, the exported marker and pruning; the
 * record count, and a ledger.db written before it (tests/data/export/v1/ledger.db, made by that
 * code) read as it is, migrated on open and continued with version 2 records. */
#include <sqlite3.h>

#include "test-util.h"

#include "ledger.h"
#include "ledger-fixture.h"

struct fixture {
        char *dir, *db;
        struct ledger *l;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);
        f->dir = test_mkdtemp();
        f->db = path_join(f->dir, "ledger.db");
        assert_int_equal(ledger_open(f->db, 0, 64, &f->l), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        ledger_close(f->l);
        test_rmdir_r(f->dir);
        free(f->dir);
        free(f->db);
        free(f);
        return 0;
}

static struct ledger_record rec(int64_t t) {
        struct ledger_record r = fixture_record(t, LEDGER_SUBJECT_USB, LEDGER_EVENT_CONNECTED);
        fixture_usb(&r, "0781", "5581", "SanDisk", "Ultra", "S1", "08:06:50");
        return r;
}

/* Appends N records at times T, T+1, ... and commits them. */
static void fill(struct ledger *l, int n, int64_t t) {
        for (int i = 0; i < n; i++) {
                struct ledger_record r = rec(t + i);
                assert_int_equal(ledger_append(l, &r), 0);
        }
        assert_int_equal(ledger_commit(l, NULL), n);
}

/* Runs SQL on the database behind the ledger's back, as someone editing it would. */
static void tamper(struct fixture *f, const char *sql) {
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

static void expect_break(struct fixture *f, enum ledger_break kind, int64_t seq) {
        struct ledger_verify_report rep;
        assert_int_equal(ledger_verify(f->l, &rep), -EBADMSG);
        if (rep.kind != kind || rep.bad_seq != seq)
                fail_msg("expected %s at %lld, got %s at %lld (%s)", ledger_break_to_string(kind), (long long) seq,
                         ledger_break_to_string(rep.kind), (long long) rep.bad_seq, rep.detail);
}

static void test_commit_assigns_consecutive_seqs_and_verifies(void **state) {
        struct fixture *f = *state;
        struct ledger_record r = rec(1000);
        struct ledger_verify_report rep;
        int64_t last;

        assert_int_equal(ledger_commit(f->l, &last), 0);       /* nothing queued */
        for (int i = 0; i < 3; i++)
                assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_queued(f->l), 3);
        assert_int_equal(ledger_commit(f->l, &last), 3);
        assert_int_equal(last, 3);
        assert_int_equal(ledger_queued(f->l), 0);
        fill(f->l, 2, 2000);
        assert_int_equal(ledger_verify(f->l, &rep), 0);
        assert_int_equal(rep.count, 5);
        assert_int_equal(rep.first_seq, 1);
        assert_int_equal(rep.last_seq, 5);
}

/* The first schema's columns (the fields of version 1, then the blobs), then each column a
 * migration added, in the order of the fields: a new database has the shape of a migrated one. */
static void test_columns_mirror_field_table(void **state) {
        struct fixture *f = *state;
        const char *blobs[] = { "encoding", "prev_hash", "hash" };
        sqlite3 *db;
        sqlite3_stmt *s;
        int col = 0;
        fill(f->l, 1, 1000);
        assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM records", -1, &s, NULL), SQLITE_OK);
        for (size_t i = 0; i < ledger_fields_count; i++)
                if (ledger_fields[i].since == 1)
                        assert_string_equal(sqlite3_column_name(s, col++), ledger_fields[i].name);
        for (size_t i = 0; i < ELEMENTSOF(blobs); i++)
                assert_string_equal(sqlite3_column_name(s, col++), blobs[i]);
        for (size_t i = 0; i < ledger_fields_count; i++)
                if (ledger_fields[i].since > 1)
                        assert_string_equal(sqlite3_column_name(s, col++), ledger_fields[i].name);
        assert_int_equal(sqlite3_column_count(s), col);
        sqlite3_finalize(s);
        sqlite3_close(db);
}

static void test_stored_text_is_sanitised(void **state) {
        struct fixture *f = *state;
        struct ledger_record r = rec(1000), back;
        strcpy(r.serial, "=cmd\x1b\xff");
        assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_commit(f->l, NULL), 1);
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_CONNECTED, 2, &back), 0);
        assert_string_equal(back.serial, "=cmd\\x1b\\xff");
}

static void test_verify_finds_modified_field(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        tamper(f, "UPDATE records SET serial = 'OTHER' WHERE seq = 3");
        expect_break(f, LEDGER_BREAK_COLUMN, 3);
}

static void test_verify_finds_modified_encoding(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        /* Column and canonical bytes changed together: only the hash can tell. */
        tamper(f, "UPDATE records SET serial = 'S2', encoding = CAST(replace(CAST(encoding AS TEXT), 'S1', 'S2') AS BLOB)"
                  " WHERE seq = 4");
        expect_break(f, LEDGER_BREAK_HASH, 4);
}

static void test_verify_finds_deleted_row(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        tamper(f, "DELETE FROM records WHERE seq = 3");
        expect_break(f, LEDGER_BREAK_GAP, 4);
}

static void test_verify_finds_deleted_head(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        tamper(f, "DELETE FROM records WHERE seq <= 2");
        expect_break(f, LEDGER_BREAK_ANCHOR, 3);
}

static void test_verify_finds_inserted_row(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        /* Make room after 2 and copy record 5 there, renumbering: the copy's own seq differs. */
        tamper(f, "UPDATE records SET seq = seq + 100 WHERE seq >= 3;"
                  "UPDATE records SET seq = seq - 99 WHERE seq >= 103;"
                  "INSERT INTO records SELECT 3, time, time_nsec, utc_offset, boot_id, hostname, machine_id, subject,"
                  " event, vendor, product, serial, manufacturer, product_name, bus_path, interfaces, ifname, mac,"
                  " link_kind, link_path, driver, policy_serial, signer, decision, reason, permit, uid, user, outcome,"
                  " error_number, message, encoding, prev_hash, hash, count, bus, device_name, device_path, oemid,"
                  " manufacture_date, wireless_mode, ssid, bssid, security, files, bytes, duration_ms, scanner, signature,"
                  " file_path, sha256, pid, process FROM records WHERE seq = 6");
        expect_break(f, LEDGER_BREAK_SEQ, 3);
}

static void test_verify_finds_reordered_rows(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        tamper(f, "UPDATE records SET seq = 100 WHERE seq = 2; UPDATE records SET seq = 2 WHERE seq = 4;"
                  "UPDATE records SET seq = 4 WHERE seq = 100");
        expect_break(f, LEDGER_BREAK_SEQ, 2);
}

static void test_verify_finds_changed_seq(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        tamper(f, "UPDATE records SET seq = 9 WHERE seq = 5");
        expect_break(f, LEDGER_BREAK_SEQ, 9);
}

static void test_verify_finds_relinked_prev(void **state) {
        struct fixture *f = *state;
        fill(f->l, 5, 1000);
        tamper(f, "UPDATE records SET prev_hash = (SELECT hash FROM records WHERE seq = 1) WHERE seq = 3");
        expect_break(f, LEDGER_BREAK_PREV, 3);
}

/* Verification reads ahead on a second thread, in batches: a break deep in a long ledger is
 * found where it is, whatever batch it falls in, and the one found first is the first in seq
 * order (a chain break before a row that does not check against itself, and after). */
static void test_verify_finds_breaks_across_batches(void **state) {
        struct fixture *f = *state;
        struct ledger_verify_report rep;
        for (int i = 0; i < 1000; i += 50)
                fill(f->l, 50, 1000 + i);
        assert_int_equal(ledger_verify(f->l, &rep), 0);
        assert_int_equal(rep.count, 1000);
        assert_int_equal(rep.last_seq, 1000);
        tamper(f, "UPDATE records SET user = 'x' WHERE seq = 900");
        expect_break(f, LEDGER_BREAK_COLUMN, 900);
        tamper(f, "UPDATE records SET prev_hash = (SELECT hash FROM records WHERE seq = 1) WHERE seq = 700");
        expect_break(f, LEDGER_BREAK_PREV, 700);
        tamper(f, "DELETE FROM records WHERE seq = 300");
        expect_break(f, LEDGER_BREAK_GAP, 301);
        tamper(f, "UPDATE records SET encoding = x'00' WHERE seq = 129");
        expect_break(f, LEDGER_BREAK_ENCODING, 129);
}

static void test_full_queue_refuses_and_records_the_loss(void **state) {
        struct fixture *f = *state;
        struct ledger_record r = rec(1000), last;
        int64_t seq;

        for (int i = 0; i < 64; i++)
                assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_append(f->l, &r), -ENOBUFS);
        assert_int_equal(ledger_append(f->l, &r), -ENOBUFS);
        assert_int_equal(ledger_lost(f->l), 2);
        assert_int_equal(ledger_commit(f->l, &seq), 65);
        assert_int_equal(seq, 65);
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_LEDGER_LOST, 100, &last), 0);
        assert_int_equal(last.seq, 65);
        assert_non_null(strstr(last.message, "records lost: 2"));
        assert_int_equal(ledger_lost(f->l), 0);
}

static void test_failed_commit_keeps_records_and_records_the_delay(void **state) {
        struct fixture *f = *state;
        struct ledger_record r = rec(1000), delayed;
        struct ledger_verify_report rep;
        sqlite3 *other;
        int64_t seq;

        fill(f->l, 1, 500);
        /* Another writer holds the database: the commit fails after the busy timeout. */
        assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        for (int i = 0; i < 3; i++)
                assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_commit(f->l, NULL), -EBUSY);
        assert_int_equal(ledger_queued(f->l), 3);
        sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(other);

        assert_int_equal(ledger_commit(f->l, &seq), 4);
        assert_int_equal(seq, 5);
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_LEDGER_DELAYED, 100, &delayed), 0);
        assert_int_equal(delayed.seq, 5);
        assert_int_equal(delayed.error_number, EBUSY);
        assert_non_null(strstr(delayed.message, "3 records waited"));
        assert_int_equal(ledger_verify(f->l, &rep), 0);
        assert_int_equal(rep.count, 5);
}

static void test_two_handles_keep_one_chain(void **state) {
        struct fixture *f = *state;
        struct ledger *second;
        struct ledger_verify_report rep;
        assert_int_equal(ledger_open(f->db, 0, 0, &second), 0);
        fill(f->l, 2, 1000);
        fill(second, 2, 2000);
        fill(f->l, 2, 3000);
        ledger_close(second);
        assert_int_equal(ledger_verify(f->l, &rep), 0);
        assert_int_equal(rep.count, 6);
}

static void test_read_only_refuses_appends(void **state) {
        struct fixture *f = *state;
        struct ledger *ro;
        struct ledger_record r = rec(1);
        fill(f->l, 1, 1);
        assert_int_equal(ledger_open(f->db, LEDGER_OPEN_READ_ONLY, 0, &ro), 0);
        assert_int_equal(ledger_append(ro, &r), -EROFS);
        ledger_close(ro);
}

static void test_seq_at_time_is_first_at_or_after(void **state) {
        struct fixture *f = *state;
        int64_t seq;
        fill(f->l, 5, 1000);           /* times 1000..1004 -> seqs 1..5 */
        assert_int_equal(ledger_seq_at_time(f->l, 1002, &seq), 0);
        assert_int_equal(seq, 3);
        assert_int_equal(ledger_seq_at_time(f->l, 0, &seq), 0);
        assert_int_equal(seq, 1);
        assert_int_equal(ledger_seq_at_time(f->l, 5000, &seq), 0);
        assert_int_equal(seq, 6);
}

static void test_prune_never_deletes_unexported(void **state) {
        struct fixture *f = *state;
        struct ledger_record note = fixture_record(9000, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_PRUNED);
        struct ledger_verify_report rep;
        int64_t through;

        fill(f->l, 10, 1000);
        assert_int_equal(ledger_prune(f->l, 5000, &note), 0);  /* nothing exported yet */
        /* Exporting 5..6 first does not count: 1..4 are still not exported. */
        assert_int_equal(ledger_mark_exported(f->l, 5, 6), 0);
        assert_int_equal(ledger_exported_through(f->l, &through), 0);
        assert_int_equal(through, 0);
        assert_int_equal(ledger_mark_exported(f->l, 1, 4), 0);
        assert_int_equal(ledger_mark_exported(f->l, 5, 6), 0);
        assert_int_equal(ledger_exported_through(f->l, &through), 0);
        assert_int_equal(through, 6);

        /* Older than 1008 and exported: 1..6. */
        assert_int_equal(ledger_prune(f->l, 1008, &note), 6);
        assert_int_equal(ledger_verify(f->l, &rep), 0);
        assert_int_equal(rep.first_seq, 7);
        assert_int_equal(rep.last_seq, 11);    /* the ledger-pruned record */
        struct ledger_record pruned;
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_LEDGER_PRUNED, 100, &pruned), 0);
        assert_non_null(strstr(pruned.message, "records 1..6 deleted"));

        /* Deleting the new head behind the ledger's back is still found. */
        tamper(f, "DELETE FROM records WHERE seq = 7");
        expect_break(f, LEDGER_BREAK_ANCHOR, 8);
}

/* The ledger's first record names it in every export (MANIFEST's ledger-first): pruning deletes
 * the record but keeps its hash, so a pruned ledger is still told from one started afresh. */
static void test_first_record_outlives_pruning(void **state) {
        struct fixture *f = *state;
        struct ledger_record note = fixture_record(9000, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_PRUNED);
        uint8_t first[LEDGER_HASH_SIZE], after[LEDGER_HASH_SIZE];
        int64_t seq;

        assert_int_equal(ledger_first(f->l, &seq, first), -ENOENT);       /* empty */
        fill(f->l, 10, 1000);
        assert_int_equal(ledger_first(f->l, &seq, first), 0);
        assert_int_equal(seq, 1);
        assert_int_equal(ledger_hash_of(f->l, 1, after), 0);
        assert_memory_equal(first, after, LEDGER_HASH_SIZE);
        assert_int_equal(ledger_mark_exported(f->l, 1, 6), 0);
        assert_int_equal(ledger_prune(f->l, 1008, &note), 6);
        assert_int_equal(ledger_hash_of(f->l, 1, after), -ENOENT);        /* record 1 is gone */
        assert_int_equal(ledger_first(f->l, &seq, after), 0);
        assert_int_equal(seq, 1);
        assert_memory_equal(first, after, LEDGER_HASH_SIZE);
        /* A second pruning keeps it too. */
        assert_int_equal(ledger_mark_exported(f->l, 7, 9), 0);
        assert_true(ledger_prune(f->l, 1010, &note) > 0);
        assert_int_equal(ledger_first(f->l, &seq, after), 0);
        assert_memory_equal(first, after, LEDGER_HASH_SIZE);
}

/* ---- the count, and ledgers written before it --------------------------------------------- */

#define V1_DB TEST_DATA_DIR "/export/v1/ledger.db"
#define V1_RECORDS 16

/* A copy of the version 1 ledger.db in the test's directory; returns its path. */
static char *v1_copy(struct fixture *f) {
        _cleanup_free_ char *data = NULL;
        size_t n;
        assert_int_equal(read_file_bounded(V1_DB, 1 << 20, &data, &n), 0);
        return test_write(f->dir, "v1.db", data, n);
}

static int64_t sql_int(const char *db_path, const char *sql) {
        sqlite3 *db;
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
}

#define HAS_COUNT_COLUMN "SELECT count(*) FROM pragma_table_info('records') WHERE name = 'count'"
#define HAS_SCAN_COLUMNS "SELECT count(*) FROM pragma_table_info('records') WHERE name IN " \
        "('files', 'bytes', 'duration_ms', 'scanner', 'signature', 'file_path', 'sha256', 'pid', 'process')"
/* (user_version 0: a ledger an older kyoka made never had it set; ledger_open() migrates by it.) */
#define DROP_SCAN_COLUMNS "PRAGMA user_version=0; " \
        "ALTER TABLE records DROP COLUMN files; ALTER TABLE records DROP COLUMN bytes;" \
        "ALTER TABLE records DROP COLUMN duration_ms; ALTER TABLE records DROP COLUMN scanner;" \
        "ALTER TABLE records DROP COLUMN signature; ALTER TABLE records DROP COLUMN file_path;" \
        "ALTER TABLE records DROP COLUMN sha256; ALTER TABLE records DROP COLUMN pid; ALTER TABLE records DROP COLUMN process;"
#define HAS_MEDIA_COLUMNS "SELECT count(*) FROM pragma_table_info('records') WHERE name IN " \
        "('bus', 'device_name', 'device_path', 'oemid', 'manufacture_date')"
#define HAS_WIRELESS_COLUMNS "SELECT count(*) FROM pragma_table_info('records') WHERE name IN " \
        "('wireless_mode', 'ssid', 'bssid', 'security')"

static int expect_v1(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                     const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        assert_int_equal(r->version, 1);
        assert_int_equal(r->count, 1);
        (*(int *) userdata)++;
        return 0;
}

/* policyctl reads (verify, show, export) a ledger that kyokad has not migrated yet, read-only:
 * it verifies, and is left as it was. */
static void test_v1_ledger_reads_read_only_without_migrating(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *ro;
        struct ledger_verify_report rep;
        int n = 0;

        assert_int_equal(ledger_open(db, LEDGER_OPEN_READ_ONLY, 0, &ro), 0);
        assert_int_equal(ledger_verify(ro, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS);
        assert_int_equal(ledger_foreach(ro, 1, V1_RECORDS, expect_v1, &n), 0);
        assert_int_equal(n, V1_RECORDS);
        ledger_close(ro);
        assert_int_equal(sql_int(db, HAS_COUNT_COLUMN), 0);
}

/* Opening it to write adds the column, in place, once; the old rows and their bytes stay as
 * they were and verify; new records are version 2 and the chain goes on through them. */
static void test_v1_ledger_migrates_on_open_and_continues_the_chain(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *l, *ro;
        struct ledger_verify_report rep;
        struct ledger_record r = rec(FIXTURE_MONDAY + 8 * 86400), back;
        uint8_t old_hash[LEDGER_HASH_SIZE];
        int64_t seq;
        int n = 0;

        int64_t bytes_before = sql_int(db, "SELECT sum(length(encoding)) FROM records");
        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        assert_int_equal(sql_int(db, HAS_COUNT_COLUMN), 1);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE count = 1"), V1_RECORDS);
        assert_int_equal(sql_int(db, "SELECT sum(length(encoding)) FROM records"), bytes_before);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE substr(encoding, 1, 1) = x'01'"), V1_RECORDS);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS);
        memcpy(old_hash, rep.last_hash, sizeof old_hash);

        r.subject = LEDGER_SUBJECT_NETWORK;
        r.event = LEDGER_EVENT_VIOLATION;
        r.count = 2999;
        assert_int_equal(ledger_append(l, &r), 0);
        r.count = 1;
        r.event = LEDGER_EVENT_REMOVED;
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, &seq), 2);
        assert_int_equal(seq, V1_RECORDS + 2);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS + 2);
        assert_int_equal(ledger_find_last(l, LEDGER_EVENT_VIOLATION, INT64_MAX, &back), 0);
        assert_int_equal(back.seq, V1_RECORDS + 1);
        assert_int_equal(back.version, LEDGER_ENCODING_VERSION);
        assert_int_equal(back.count, 2999);
        assert_int_equal(sql_int(db, "SELECT count FROM records WHERE seq = 17"), 2999);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE substr(encoding, 1, 1) = x'05'"), 2);
        /* Both later versions' columns were added, the old rows read their defaults. */
        assert_int_equal(sql_int(db, HAS_MEDIA_COLUMNS), 5);
        assert_int_equal(sql_int(db, HAS_SCAN_COLUMNS), 9);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE bus = '' AND device_name = ''"), V1_RECORDS + 2);
        assert_int_equal(sql_int(db, HAS_WIRELESS_COLUMNS), 4);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE ssid = '' AND security = ''"), V1_RECORDS + 2);
        /* The first new record continues from the last old one. */
        assert_int_equal(sql_int(db, "SELECT (SELECT prev_hash FROM records WHERE seq = 17) = "
                                     "(SELECT hash FROM records WHERE seq = 16)"), 1);
        ledger_close(l);

        /* Migrated: marked (a start reads that, not the tables). */
        assert_int_equal(sql_int(db, "PRAGMA user_version"), LEDGER_ENCODING_VERSION);

        /* Again: nothing to do, nothing changes. */
        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        assert_int_equal(sql_int(db, HAS_COUNT_COLUMN), 1);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS + 2);
        ledger_close(l);
        assert_int_equal(ledger_open(db, LEDGER_OPEN_READ_ONLY, 0, &ro), 0);
        assert_int_equal(ledger_verify(ro, &rep), 0);
        assert_int_equal(ledger_foreach(ro, 1, V1_RECORDS, expect_v1, &n), 0);
        assert_int_equal(n, V1_RECORDS);
        ledger_close(ro);
}

/* A ledger of the version 2 schema (count, no media or wireless columns; made here from the
 * version 1 fixture by migrating it and dropping the later columns again): read-only it verifies
 * as it is, opened to write it gains the media and the wireless columns, and the chain goes on in
 * the current version. */
static void test_v2_ledger_gains_media_and_wireless_columns(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *l;
        struct ledger_verify_report rep;
        struct ledger_record r = rec(FIXTURE_MONDAY + 8 * 86400), back;
        struct media_identity id = { .bus = MEDIA_BUS_MMC, .name = "mmcblk0", .serial = "0xdeadbeef", .oemid = "0x5859",
                                     .date = "02/2006" };
        sqlite3 *h;
        int n = 0;

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        ledger_close(l);
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, DROP_SCAN_COLUMNS, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, "ALTER TABLE records DROP COLUMN bus; ALTER TABLE records DROP COLUMN device_name;"
                                         "ALTER TABLE records DROP COLUMN device_path; ALTER TABLE records DROP COLUMN oemid;"
                                         "ALTER TABLE records DROP COLUMN manufacture_date;"
                                         "ALTER TABLE records DROP COLUMN wireless_mode; ALTER TABLE records DROP COLUMN ssid;"
                                         "ALTER TABLE records DROP COLUMN bssid; ALTER TABLE records DROP COLUMN security;",
                                      NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(sql_int(db, HAS_COUNT_COLUMN), 1);
        assert_int_equal(sql_int(db, HAS_MEDIA_COLUMNS), 0);
        assert_int_equal(sql_int(db, HAS_WIRELESS_COLUMNS), 0);

        assert_int_equal(ledger_open(db, LEDGER_OPEN_READ_ONLY, 0, &l), 0);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(ledger_foreach(l, 1, V1_RECORDS, expect_v1, &n), 0);
        assert_int_equal(n, V1_RECORDS);
        ledger_close(l);
        assert_int_equal(sql_int(db, HAS_MEDIA_COLUMNS), 0);

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        assert_int_equal(sql_int(db, HAS_MEDIA_COLUMNS), 5);
        assert_int_equal(sql_int(db, HAS_WIRELESS_COLUMNS), 4);
        assert_int_equal(sql_int(db, HAS_SCAN_COLUMNS), 9);
        r.subject = LEDGER_SUBJECT_MEDIA;
        r.event = LEDGER_EVENT_CONNECTED;
        ledger_record_set_media(&r, &id);
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, NULL), 1);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS + 1);
        assert_int_equal(ledger_find_last(l, LEDGER_EVENT_CONNECTED, INT64_MAX, &back), 0);
        assert_int_equal(back.version, LEDGER_ENCODING_VERSION);
        assert_string_equal(back.bus, "mmc");
        assert_string_equal(back.device_name, "mmcblk0");
        assert_string_equal(back.serial, "0xdeadbeef");
        assert_string_equal(back.manufacture_date, "02/2006");
        ledger_close(l);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE bus = 'mmc' AND oemid = '0x5859'"), 1);
}

/* A ledger of the version 4 schema (wireless, no scan columns): read-only it verifies as it is,
 * opened to write it gains the scan and file columns after the wireless ones, and a scan record
 * (version 5) keeps its fields. */
static void test_v4_ledger_gains_scan_columns(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *l;
        struct ledger_verify_report rep;
        struct ledger_record r = rec(FIXTURE_MONDAY + 8 * 86400), back;
        sqlite3 *h;
        int n = 0;

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        ledger_close(l);
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, DROP_SCAN_COLUMNS, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(sql_int(db, HAS_MEDIA_COLUMNS), 5);
        assert_int_equal(sql_int(db, HAS_SCAN_COLUMNS), 0);

        assert_int_equal(ledger_open(db, LEDGER_OPEN_READ_ONLY, 0, &l), 0);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(ledger_foreach(l, 1, V1_RECORDS, expect_v1, &n), 0);
        assert_int_equal(n, V1_RECORDS);
        ledger_close(l);
        assert_int_equal(sql_int(db, HAS_SCAN_COLUMNS), 0);

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        assert_int_equal(sql_int(db, HAS_SCAN_COLUMNS), 9);
        r.event = LEDGER_EVENT_SCAN_INFECTED;
        r.files = 12;
        r.bytes = 34567;
        r.duration_ms = 890;
        snprintf(r.scanner, sizeof r.scanner, "ClamAV 1.4.6");
        snprintf(r.signature, sizeof r.signature, "eicar.com.UNOFFICIAL");
        snprintf(r.file_path, sizeof r.file_path, "sdb1/資料/eicar.com");
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, NULL), 1);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS + 1);
        assert_int_equal(ledger_find_last(l, LEDGER_EVENT_SCAN_INFECTED, INT64_MAX, &back), 0);
        assert_int_equal(back.version, 5);
        assert_int_equal(back.files, 12);
        assert_int_equal(back.bytes, 34567);
        assert_int_equal(back.duration_ms, 890);
        assert_string_equal(back.signature, "eicar.com.UNOFFICIAL");
        assert_string_equal(back.file_path, "sdb1/資料/eicar.com");
        ledger_close(l);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE files = 12 AND scanner = 'ClamAV 1.4.6'"), 1);
}

/* The count is hashed: changing its column, in an old row or a new one, breaks the chain there. */
static void test_verify_finds_modified_count(void **state) {
        struct fixture *f = *state;
        struct ledger_record r = rec(1000);
        fill(f->l, 2, 1000);
        r.count = 40;
        assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_commit(f->l, NULL), 1);
        tamper(f, "UPDATE records SET count = 4 WHERE seq = 3");
        expect_break(f, LEDGER_BREAK_COLUMN, 3);

        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *l;
        struct ledger_verify_report rep;
        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        sqlite3 *h;
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, "UPDATE records SET count = 2999 WHERE seq = 8", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(ledger_verify(l, &rep), -EBADMSG);
        assert_int_equal(rep.kind, LEDGER_BREAK_COLUMN);
        assert_int_equal(rep.bad_seq, 8);
        assert_string_equal(rep.detail, "column count differs");
        ledger_close(l);
}

/* A record filled in without ledger_record_init() (count 0), or with a counter gone negative,
 * is kept, as one event. */
static void test_append_clamps_count_below_one(void **state) {
        struct fixture *f = *state;
        struct ledger_record r = rec(1000), back;
        r.count = 0;
        assert_int_equal(ledger_append(f->l, &r), 0);
        r.count = -7;
        r.event = LEDGER_EVENT_REMOVED;
        assert_int_equal(ledger_append(f->l, &r), 0);
        assert_int_equal(ledger_commit(f->l, NULL), 2);
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_CONNECTED, 10, &back), 0);
        assert_int_equal(back.count, 1);
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_REMOVED, 10, &back), 0);
        assert_int_equal(back.count, 1);
        assert_int_equal(sql_int(f->db, "SELECT sum(count) FROM records"), 2);
}

/* A record copied from a decoded version 1 record is still written as version 2 (with its count). */
static void test_append_writes_the_current_version(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *ro;
        struct ledger_record old, back;
        struct ledger_verify_report rep;

        assert_int_equal(ledger_open(db, LEDGER_OPEN_READ_ONLY, 0, &ro), 0);
        assert_int_equal(ledger_find_last(ro, LEDGER_EVENT_VIOLATION, INT64_MAX, &old), 0);
        ledger_close(ro);
        assert_int_equal(old.version, 1);
        old.count = 3;
        assert_int_equal(ledger_append(f->l, &old), 0);
        assert_int_equal(ledger_commit(f->l, NULL), 1);
        assert_int_equal(ledger_find_last(f->l, LEDGER_EVENT_VIOLATION, INT64_MAX, &back), 0);
        assert_int_equal(back.version, LEDGER_ENCODING_VERSION);
        assert_int_equal(back.count, 3);
        assert_int_equal(ledger_verify(f->l, &rep), 0);
}

/* A ledger of the version 3 schema (count and media, no wireless columns; made here from the
 * version 1 fixture by migrating it and dropping the wireless columns again): read-only it
 * verifies as it is, opened to write it gains the wireless columns only, and the chain goes on in
 * version 4. */
static void test_v3_ledger_gains_wireless_columns(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *db = v1_copy(f);
        struct ledger *l;
        struct ledger_verify_report rep;
        struct ledger_record r = rec(FIXTURE_MONDAY + 8 * 86400), back;
        struct wireless_network n = { .ssid = "hot\x1bspot", .ssid_len = 8, .security = WIRELESS_SECURITY_OPEN };
        sqlite3 *h;
        int k = 0;

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        ledger_close(l);
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, DROP_SCAN_COLUMNS, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, "ALTER TABLE records DROP COLUMN wireless_mode; ALTER TABLE records DROP COLUMN ssid;"
                                         "ALTER TABLE records DROP COLUMN bssid; ALTER TABLE records DROP COLUMN security;",
                                      NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(sql_int(db, HAS_COUNT_COLUMN), 1);
        assert_int_equal(sql_int(db, HAS_MEDIA_COLUMNS), 5);
        assert_int_equal(sql_int(db, HAS_WIRELESS_COLUMNS), 0);

        assert_int_equal(ledger_open(db, LEDGER_OPEN_READ_ONLY, 0, &l), 0);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(ledger_foreach(l, 1, V1_RECORDS, expect_v1, &k), 0);
        assert_int_equal(k, V1_RECORDS);
        ledger_close(l);
        assert_int_equal(sql_int(db, HAS_WIRELESS_COLUMNS), 0);

        assert_int_equal(ledger_open(db, 0, 0, &l), 0);
        assert_int_equal(sql_int(db, HAS_WIRELESS_COLUMNS), 4);
        r.subject = LEDGER_SUBJECT_NETWORK;
        r.event = LEDGER_EVENT_WIRELESS_JOINED;
        r.count = 12;
        ledger_record_set_wireless(&r, &n);
        assert_int_equal(ledger_append(l, &r), 0);
        assert_int_equal(ledger_commit(l, NULL), 1);
        assert_int_equal(ledger_verify(l, &rep), 0);
        assert_int_equal(rep.count, V1_RECORDS + 1);
        assert_int_equal(ledger_find_last(l, LEDGER_EVENT_WIRELESS_JOINED, INT64_MAX, &back), 0);
        assert_int_equal(back.version, LEDGER_ENCODING_VERSION);
        assert_int_equal(back.count, 12);
        assert_string_equal(back.ssid, "hot\\x1bspot");
        assert_string_equal(back.security, "open");
        ledger_close(l);
        assert_int_equal(sql_int(db, "SELECT count(*) FROM records WHERE ssid = 'hot\\x1bspot' AND event = 'wireless-joined'"), 1);
}

/* ledger_foreach_prefetch and ledger_foreach_prepared (the export's reader on a second thread)
 * give the callback what ledger_foreach gives it: the same records in the same order, the rows
 * before a bad one and then -EBADMSG, and stop at the callback's error. */
struct walk {
        int64_t seqs[1100];
        uint8_t hashes[1100][LEDGER_HASH_SIZE];
        size_t n, fail_at;
};

static int walk_cb(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                   const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        struct walk *w = userdata;
        if (w->fail_at && w->n + 1 == w->fail_at)
                return -ECANCELED;
        assert_true(w->n < ELEMENTSOF(w->seqs));
        w->seqs[w->n] = r->seq;
        memcpy(w->hashes[w->n], hash, LEDGER_HASH_SIZE);
        w->n++;
        return 0;
}

/* ledger_foreach_prepared: what the reading thread prepared for a record comes with it. */
static size_t walk_prepare(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                           const uint8_t hash[static LEDGER_HASH_SIZE], char *buf, void *userdata) {
        return (size_t) sprintf(buf, "seq %lld hash %02x%02x", (long long) r->seq, hash[0], hash[31]);
}

static int walk_prepared_cb(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                            const uint8_t hash[static LEDGER_HASH_SIZE], const char *text, size_t text_len,
                            void *userdata) {
        char want[64];
        int n = sprintf(want, "seq %lld hash %02x%02x", (long long) r->seq, hash[0], hash[31]);
        assert_int_equal(text_len, (size_t) n);
        assert_memory_equal(text, want, text_len);
        return walk_cb(r, prev, hash, userdata);
}

static void expect_same_walk(struct ledger *l, int64_t from, int64_t to, size_t fail_at, int want_r, size_t want_n) {
        static struct walk a, b, c;
        a = (struct walk) { .fail_at = fail_at };
        b = (struct walk) { .fail_at = fail_at };
        c = (struct walk) { .fail_at = fail_at };
        assert_int_equal(ledger_foreach(l, from, to, walk_cb, &a), want_r);
        assert_int_equal(ledger_foreach_prefetch(l, from, to, walk_cb, &b), want_r);
        assert_int_equal(ledger_foreach_prepared(l, from, to, walk_prepare, walk_prepared_cb, &c), want_r);
        assert_int_equal(a.n, want_n);
        assert_int_equal(b.n, want_n);
        assert_int_equal(c.n, want_n);
        assert_memory_equal(a.seqs, b.seqs, want_n * sizeof a.seqs[0]);
        assert_memory_equal(a.hashes, b.hashes, want_n * LEDGER_HASH_SIZE);
        assert_memory_equal(a.seqs, c.seqs, want_n * sizeof a.seqs[0]);
        assert_memory_equal(a.hashes, c.hashes, want_n * LEDGER_HASH_SIZE);
}

static void test_foreach_prefetch_is_foreach(void **state) {
        struct fixture *f = *state;
        for (int i = 0; i < 1000; i += 50)
                fill(f->l, 50, 1000 + i);
        expect_same_walk(f->l, 1, INT64_MAX, 0, 0, 1000);
        expect_same_walk(f->l, 130, 900, 0, 0, 771);
        expect_same_walk(f->l, 2000, 3000, 0, 0, 0);
        expect_same_walk(f->l, 1, INT64_MAX, 300, -ECANCELED, 299);
        expect_same_walk(f->l, 1, INT64_MAX, 1000, -ECANCELED, 999);
        tamper(f, "UPDATE records SET user = 'x' WHERE seq = 700");
        expect_same_walk(f->l, 1, INT64_MAX, 0, -EBADMSG, 699);
        expect_same_walk(f->l, 1, INT64_MAX, 600, -ECANCELED, 599);
        expect_same_walk(f->l, 701, INT64_MAX, 0, 0, 300);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_commit_assigns_consecutive_seqs_and_verifies),
                T(test_foreach_prefetch_is_foreach),
                T(test_columns_mirror_field_table),
                T(test_stored_text_is_sanitised),
                T(test_verify_finds_modified_field),
                T(test_verify_finds_modified_encoding),
                T(test_verify_finds_deleted_row),
                T(test_verify_finds_deleted_head),
                T(test_verify_finds_inserted_row),
                T(test_verify_finds_reordered_rows),
                T(test_verify_finds_changed_seq),
                T(test_verify_finds_relinked_prev),
                T(test_verify_finds_breaks_across_batches),
                T(test_full_queue_refuses_and_records_the_loss),
                T(test_failed_commit_keeps_records_and_records_the_delay),
                T(test_two_handles_keep_one_chain),
                T(test_read_only_refuses_appends),
                T(test_seq_at_time_is_first_at_or_after),
                T(test_prune_never_deletes_unexported),
                T(test_first_record_outlives_pruning),
                T(test_v1_ledger_reads_read_only_without_migrating),
                T(test_v1_ledger_migrates_on_open_and_continues_the_chain),
                T(test_verify_finds_modified_count),
                T(test_append_clamps_count_below_one),
                T(test_append_writes_the_current_version),
                T(test_v2_ledger_gains_media_and_wireless_columns),
                T(test_v3_ledger_gains_wireless_columns),
                T(test_v4_ledger_gains_scan_columns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
