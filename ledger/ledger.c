/* SPDX-License-Identifier: MIT */
/* The ledger's database: the queue, group commit, the chain, verification, markers, pruning
 * (ledger.h). SQL is only ever prepared from the literals below; values are bound. */
#include "ledger.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hexutil.h"

DEFINE_CLEANUP(sqlite3, sqlite3_close_v2);
DEFINE_CLEANUP(sqlite3_stmt, sqlite3_finalize);

#define BUSY_TIMEOUT_MS 5000

/* The first schema, as every ledger.db was created: a column for each field of encoding version 1
 * (ledger_fields[] in record.c), then the blobs. migrate() adds the columns of later fields after
 * them, to a new database as to an old one, so that both have the same columns in the same order
 * (a unit test checks them against ledger_fields[]). */
static const char sql_schema[] =
        "CREATE TABLE IF NOT EXISTS records ("
        " seq INTEGER PRIMARY KEY,"
        " time INTEGER NOT NULL, time_nsec INTEGER NOT NULL, utc_offset INTEGER NOT NULL,"
        " boot_id TEXT NOT NULL, hostname TEXT NOT NULL, machine_id TEXT NOT NULL,"
        " subject TEXT NOT NULL, event TEXT NOT NULL,"
        " vendor TEXT NOT NULL, product TEXT NOT NULL, serial TEXT NOT NULL, manufacturer TEXT NOT NULL,"
        " product_name TEXT NOT NULL, bus_path TEXT NOT NULL, interfaces TEXT NOT NULL,"
        " ifname TEXT NOT NULL, mac TEXT NOT NULL, link_kind TEXT NOT NULL, link_path TEXT NOT NULL,"
        " driver TEXT NOT NULL,"
        " policy_serial INTEGER NOT NULL, signer TEXT NOT NULL,"
        " decision TEXT NOT NULL, reason TEXT NOT NULL, permit TEXT NOT NULL,"
        " uid INTEGER NOT NULL, user TEXT NOT NULL,"
        " outcome TEXT NOT NULL, error_number INTEGER NOT NULL, message TEXT NOT NULL,"
        " encoding BLOB NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);";

/* Since encoding version 2: the record's count. ALTER TABLE appends the column after hash; rows
 * from before it read the default, 1, which is what their version 1 encoding says. */
static const char sql_has_count[] = "SELECT 1 FROM pragma_table_info('records') WHERE name = 'count'";
static const char sql_add_count[] = "ALTER TABLE records ADD COLUMN count INTEGER NOT NULL DEFAULT 1";
/* Since encoding version 3: the media fields, after count; older rows read "", what their
 * encodings (which have no such fields) mean. */
static const char sql_has_media[] = "SELECT 1 FROM pragma_table_info('records') WHERE name = 'bus'";
static const char sql_add_media[] =
        "ALTER TABLE records ADD COLUMN bus TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN device_name TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN device_path TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN oemid TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN manufacture_date TEXT NOT NULL DEFAULT '';";
/* Since encoding version 4: the wireless fields, after the media fields; older rows read "" as
 * well. */
static const char sql_has_wireless[] = "SELECT 1 FROM pragma_table_info('records') WHERE name = 'ssid'";
static const char sql_add_wireless[] =
        "ALTER TABLE records ADD COLUMN wireless_mode TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN ssid TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN bssid TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN security TEXT NOT NULL DEFAULT '';";

/* Since encoding version 5: the scan and file fields, after the wireless fields. */
static const char sql_has_scan[] = "SELECT 1 FROM pragma_table_info('records') WHERE name = 'files'";
static const char sql_add_scan[] =
        "ALTER TABLE records ADD COLUMN files INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE records ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE records ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE records ADD COLUMN scanner TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN signature TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN file_path TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE records ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE records ADD COLUMN process TEXT NOT NULL DEFAULT '';";

#define RECORD_COLUMNS_1 \
        "seq, time, time_nsec, utc_offset, boot_id, hostname, machine_id, subject, event, vendor, product," \
        " serial, manufacturer, product_name, bus_path, interfaces, ifname, mac, link_kind, link_path, driver," \
        " policy_serial, signer, decision, reason, permit, uid, user, outcome, error_number, message"
#define RECORD_COLUMNS_3 "bus, device_name, device_path, oemid, manufacture_date"
#define RECORD_COLUMNS_4 "wireless_mode, ssid, bssid, security"
#define RECORD_COLUMNS_5 "files, bytes, duration_ms, scanner, signature, file_path, sha256, pid, process"
#define RECORD_COLUMNS RECORD_COLUMNS_1 ", count, " RECORD_COLUMNS_3 ", " RECORD_COLUMNS_4 ", " RECORD_COLUMNS_5
/* What the version 5 columns read in a database that does not have them yet. */
#define RECORD_DEFAULTS_5 "0, 0, 0, '', '', '', '', 0, ''"

static const char sql_insert[] =
        "INSERT INTO records (" RECORD_COLUMNS ", encoding, prev_hash, hash) VALUES ("
        "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_select_range[] =
        "SELECT " RECORD_COLUMNS ", encoding, prev_hash, hash FROM records WHERE seq >= ? AND seq <= ? ORDER BY seq";
/* The same from a database not migrated yet, opened read-only (policyctl while kyokad has not
 * restarted since the upgrade): what the missing columns' defaults say. */
static const char sql_select_range_4[] =
        "SELECT " RECORD_COLUMNS_1 ", count, " RECORD_COLUMNS_3 ", " RECORD_COLUMNS_4 ", " RECORD_DEFAULTS_5
        ", encoding, prev_hash, hash FROM records WHERE seq >= ? AND seq <= ? ORDER BY seq";
static const char sql_select_range_3[] =
        "SELECT " RECORD_COLUMNS_1 ", count, " RECORD_COLUMNS_3 ", '', '', '', '', " RECORD_DEFAULTS_5 ", encoding, prev_hash, hash "
        "FROM records WHERE seq >= ? AND seq <= ? ORDER BY seq";
static const char sql_select_range_2[] =
        "SELECT " RECORD_COLUMNS_1 ", count, '', '', '', '', '', '', '', '', '', " RECORD_DEFAULTS_5 ", encoding, prev_hash, hash FROM records "
        "WHERE seq >= ? AND seq <= ? ORDER BY seq";
static const char sql_select_range_1[] =
        "SELECT " RECORD_COLUMNS_1 ", 1, '', '', '', '', '', '', '', '', '', " RECORD_DEFAULTS_5 ", encoding, prev_hash, hash FROM records "
        "WHERE seq >= ? AND seq <= ? ORDER BY seq";
static const char sql_tail[] = "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1";
static const char sql_hash_of[] = "SELECT hash FROM records WHERE seq = ?";
static const char sql_meta_get[] = "SELECT value FROM meta WHERE key = ?";
static const char sql_meta_set[] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)";
static const char sql_seq_at[] = "SELECT seq FROM records WHERE time >= ? ORDER BY seq LIMIT 1";
static const char sql_find_last[] =
        "SELECT encoding FROM records WHERE event = ? AND seq < ? ORDER BY seq DESC LIMIT 1";
static const char sql_delete_through[] = "DELETE FROM records WHERE seq <= ?";

#define N_RECORD_COLUMNS 50
#define COL_ENCODING N_RECORD_COLUMNS
#define COL_PREV (N_RECORD_COLUMNS + 1)
#define COL_HASH (N_RECORD_COLUMNS + 2)

struct ledger {
        sqlite3 *db;
        bool read_only;
        sqlite3_stmt *insert;           /* prepared once: appends are the hot path */

        struct ledger_record **queue;   /* FIFO: queue[0] is the oldest */
        size_t n_queued, queue_max;

        /* Since the first failed commit that still has records waiting. */
        bool failing;
        int64_t failing_since;
        int fail_error;
        /* Records refused by a full queue since the last successful commit. */
        uint64_t lost;
        int64_t lost_since, lost_until;
};

/* SQLite's result as a negative errno: what the caller (kyokad) logs and acts on. */
static int sqlite_errno(sqlite3 *db, int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CANTOPEN: {
                int e = db ? sqlite3_system_errno(db) : 0;
                return e > 0 ? -e : -ENOENT;
        }
        case SQLITE_IOERR: {
                int e = db ? sqlite3_system_errno(db) : 0;
                return e > 0 ? -e : -EIO;
        }
        default:
                return -EIO;
        }
}

static int64_t now_realtime(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return ts.tv_sec;
}

static int exec(struct ledger *l, const char *sql) {
        return sqlite_errno(l->db, sqlite3_exec(l->db, sql, NULL, NULL, NULL));
}

static int prepare(struct ledger *l, const char *sql, sqlite3_stmt **ret) {
        int rc = sqlite3_prepare_v2(l->db, sql, -1, ret, NULL);
        return rc == SQLITE_OK ? 0 : sqlite_errno(l->db, rc);
}

/* Whether the records table has the column SQL asks about (1), or not (0). */
static int has_column(struct ledger *l, const char *sql) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = prepare(l, sql, &s);
        if (r < 0)
                return r;
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                return 1;
        return rc == SQLITE_DONE ? 0 : sqlite_errno(l->db, rc);
}

/* The newest encoding version whose columns the table has: 1, 2, 3, 4 or 5. */
static int schema_version(struct ledger *l) {
        int r = has_column(l, sql_has_count);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = has_column(l, sql_has_media);
        if (r <= 0)
                return r < 0 ? r : 2;
        r = has_column(l, sql_has_wireless);
        if (r <= 0)
                return r < 0 ? r : 3;
        r = has_column(l, sql_has_scan);
        if (r < 0)
                return r;
        return r ? 5 : 4;
}

static void rollback(struct ledger *l);

/* PRAGMA user_version: LEDGER_ENCODING_VERSION once a kyoka of this version made the schema
 * or brought it up to date (0 in a new file and in ledgers of kyoka before it). */
static int user_version(struct ledger *l) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = prepare(l, "PRAGMA user_version", &s);
        if (r < 0)
                return r;
        int rc = sqlite3_step(s);
        return rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : sqlite_errno(l->db, rc);
}

/* Makes the schema of a new database, or brings one created by an older kyoka up to the
 * current schema, in one transaction (one fsync on a first start), at most once: the check is
 * repeated under the write lock, so two writers opening the same old database at once migrate
 * it once. The old rows are not touched: their hashed bytes (version 1, 2 or 3) stay as they
 * were, and the new columns' defaults say what they mean. A start of a ledger already up to date
 * reads one pragma, not the tables. */
static int migrate(struct ledger *l) {
        int r = user_version(l);
        /* (A newer kyoka's ledger after a downgrade: its schema has this one's columns.) */
        if (r < 0 || r >= LEDGER_ENCODING_VERSION)
                return r < 0 ? r : 0;

        r = exec(l, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = exec(l, sql_schema);
        if (r >= 0)
                r = schema_version(l);
        if (r == 1) {
                r = exec(l, sql_add_count);
                if (r >= 0)
                        r = 2;
        }
        if (r == 2) {
                r = exec(l, sql_add_media);
                if (r >= 0)
                        r = 3;
        }
        if (r == 3) {
                r = exec(l, sql_add_wireless);
                if (r >= 0)
                        r = 4;
        }
        if (r == 4)
                r = exec(l, sql_add_scan);
        if (r >= 0) {
                char sql[48];
                snprintf(sql, sizeof sql, "PRAGMA user_version=%d", LEDGER_ENCODING_VERSION);
                r = exec(l, sql);
        }
        if (r >= 0)
                r = exec(l, "COMMIT");
        if (r < 0) {
                rollback(l);
                return r;
        }
        return 0;
}

/* The range query for this database's schema (see sql_select_range_1). */
static int prepare_select_range(struct ledger *l, sqlite3_stmt **ret) {
        int r = schema_version(l);
        if (r < 0)
                return r;
        return prepare(l, r >= 5 ? sql_select_range : r == 4 ? sql_select_range_4 : r == 3 ? sql_select_range_3 :
                       r == 2 ? sql_select_range_2 : sql_select_range_1, ret);
}

int ledger_open(const char *path, unsigned flags, size_t queue_max, struct ledger **ret) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        bool ro = flags & LEDGER_OPEN_READ_ONLY;
        int rc, r;

        rc = sqlite3_open_v2(path, &db,
                             (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                             SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
        if (rc != SQLITE_OK)
                return sqlite_errno(db, rc);
        (void) sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        (void) sqlite3_extended_result_codes(db, 1);

        _cleanup_(ledger_closep) struct ledger *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->db = TAKE_PTR(db);
        l->read_only = ro;
        l->queue_max = queue_max ?: LEDGER_QUEUE_DEFAULT;

        if (!(flags & LEDGER_OPEN_APPENDER)) {
                /* The walks over a whole ledger (export, verify) read it through a mapping, not a
                 * pread() and a copy per page. Not kyokad's appender: its memory stays small. */
                char sql[64];
                snprintf(sql, sizeof sql, "PRAGMA mmap_size=%lld;", (long long) LEDGER_MMAP_MAX);
                r = exec(l, sql);
                if (r < 0)
                        return r;
        }
        if (!ro) {
                /* WAL: readers (policyctl) never block kyokad's appends. synchronous=FULL: a
                 * transaction that returned survives a power cut, which is the promise. */
                r = exec(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
                if (r < 0)
                        return r;
                if (flags & LEDGER_OPEN_APPENDER) {
                        char sql[64];
                        snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d;", LEDGER_APPENDER_CACHE_KIB);
                        r = exec(l, sql);
                        if (r < 0)
                                return r;
                }
                r = migrate(l);
                if (r < 0)
                        return r;
                r = prepare(l, sql_insert, &l->insert);
                if (r < 0)
                        return r;
        } else {
                /* A read-only open of a file that is not a ledger fails here, not later. */
                sqlite3_stmt *s = NULL;
                r = prepare(l, sql_tail, &s);
                sqlite3_finalize(s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

struct ledger *ledger_close(struct ledger *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_queued; i++)
                free(l->queue[i]);
        free(l->queue);
        sqlite3_finalize(l->insert);
        sqlite3_close_v2(l->db);
        free(l);
        return NULL;
}

size_t ledger_queued(const struct ledger *l) {
        return l->n_queued;
}

uint64_t ledger_lost(const struct ledger *l) {
        return l->lost;
}

int ledger_append(struct ledger *l, const struct ledger_record *r) {
        if (l->read_only)
                return -EROFS;

        _cleanup_free_ struct ledger_record *copy = malloc(sizeof *copy);
        if (copy) {
                *copy = *r;
                copy->seq = 0;
                /* New records are written in the current encoding, even one copied from a
                 * record read back in an older version. */
                copy->version = LEDGER_ENCODING_VERSION;
                if (ledger_record_normalise(copy) < 0)
                        return -EINVAL;
        }

        if (!copy || l->n_queued >= l->queue_max) {
                int64_t t = copy ? copy->time : now_realtime();
                if (l->lost == 0)
                        l->lost_since = t;
                l->lost_until = t;
                l->lost++;
                return -ENOBUFS;
        }
        if (!l->queue) {
                /* Allocated whole at the first append: no allocation can fail later in a storm
                 * except the record's own. */
                l->queue = calloc(l->queue_max, sizeof *l->queue);
                if (!l->queue) {
                        l->lost++;
                        return -ENOBUFS;
                }
        }
        l->queue[l->n_queued++] = TAKE_PTR(copy);
        return 0;
}

/* Steps the meta lookup of KEY to its row: 0 with *ret_stmt on the row, -ENOENT if absent. */
static int meta_lookup(struct ledger *l, const char *key, sqlite3_stmt **ret_stmt) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = prepare(l, sql_meta_get, &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_errno(l->db, rc);
        *ret_stmt = TAKE_PTR(s);
        return 0;
}

static int meta_get_int(struct ledger *l, const char *key, int64_t *ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = meta_lookup(l, key, &s);
        if (r < 0)
                return r;
        *ret = sqlite3_column_int64(s, 0);
        return 0;
}

static int meta_get_hash(struct ledger *l, const char *key, uint8_t ret[static LEDGER_HASH_SIZE]) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = meta_lookup(l, key, &s);
        if (r < 0)
                return r;
        if (sqlite3_column_bytes(s, 0) != LEDGER_HASH_SIZE)
                return -EBADMSG;
        memcpy(ret, sqlite3_column_blob(s, 0), LEDGER_HASH_SIZE);
        return 0;
}

static int meta_set(struct ledger *l, const char *key, int64_t v, const uint8_t *blob) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = prepare(l, sql_meta_set, &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        if (blob)
                sqlite3_bind_blob(s, 2, blob, LEDGER_HASH_SIZE, SQLITE_STATIC);
        else
                sqlite3_bind_int64(s, 2, v);
        int rc = sqlite3_step(s);
        return rc == SQLITE_DONE ? 0 : sqlite_errno(l->db, rc);
}

/* Where the chain starts: after the pruned head if records were pruned, else at seq 0 with
 * an all-zero hash. */
static int chain_anchor(struct ledger *l, int64_t *ret_seq, uint8_t ret_hash[static LEDGER_HASH_SIZE]) {
        int64_t seq = 0;
        uint8_t h[LEDGER_HASH_SIZE] = {};
        int r;

        r = meta_get_int(l, "pruned_through", &seq);
        if (r == -ENOENT)
                seq = 0;
        else if (r < 0)
                return r;
        if (seq > 0) {
                r = meta_get_hash(l, "pruned_hash", h);
                if (r < 0)
                        return r == -ENOENT ? -EBADMSG : r;
        }
        *ret_seq = seq;
        memcpy(ret_hash, h, LEDGER_HASH_SIZE);
        return 0;
}

int ledger_tail(struct ledger *l, int64_t *ret_seq, uint8_t ret_hash[static LEDGER_HASH_SIZE]) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r = prepare(l, sql_tail, &s);
        if (r < 0)
                return r;
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return chain_anchor(l, ret_seq, ret_hash);
        if (rc != SQLITE_ROW)
                return sqlite_errno(l->db, rc);
        if (sqlite3_column_bytes(s, 1) != LEDGER_HASH_SIZE)
                return -EBADMSG;
        *ret_seq = sqlite3_column_int64(s, 0);
        memcpy(ret_hash, sqlite3_column_blob(s, 1), LEDGER_HASH_SIZE);
        return 0;
}

/* Binds the record's fields to columns 1..N_RECORD_COLUMNS (field table order). */
static void bind_fields(sqlite3_stmt *s, const struct ledger_record *r) {
        for (size_t i = 0; i < ledger_fields_count; i++) {
                const struct ledger_field *f = &ledger_fields[i];
                const char *field = (const char *) r + f->offset;
                int col = (int) i + 1;

                if (f->type == LEDGER_FIELD_INT)
                        sqlite3_bind_int64(s, col, *(const int64_t *) field);
                else if (f->type == LEDGER_FIELD_TEXT)
                        sqlite3_bind_text(s, col, field, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_text(s, col, f->names[*(const int *) field], -1, SQLITE_STATIC);
        }
}

/* Inserts R as the record after (*seq, hash), advancing both. Inside a transaction. */
static int insert_one(struct ledger *l, struct ledger_record *r, int64_t *seq, uint8_t hash[static LEDGER_HASH_SIZE]) {
        uint8_t enc[LEDGER_ENCODING_MAX], h[LEDGER_HASH_SIZE];
        size_t n;
        int r2, rc;

        r->seq = *seq + 1;
        /* Whatever R was copied from, a new record is written in the current encoding. */
        r->version = LEDGER_ENCODING_VERSION;
        n = ledger_record_encode(r, enc);
        r2 = ledger_chain_hash(hash, enc, n, h);
        if (r2 < 0)
                return r2;

        sqlite3_reset(l->insert);
        sqlite3_clear_bindings(l->insert);
        bind_fields(l->insert, r);
        sqlite3_bind_blob(l->insert, COL_ENCODING + 1, enc, (int) n, SQLITE_STATIC);
        sqlite3_bind_blob(l->insert, COL_PREV + 1, hash, LEDGER_HASH_SIZE, SQLITE_STATIC);
        sqlite3_bind_blob(l->insert, COL_HASH + 1, h, LEDGER_HASH_SIZE, SQLITE_STATIC);
        rc = sqlite3_step(l->insert);
        sqlite3_reset(l->insert);
        if (rc != SQLITE_DONE)
                return sqlite_errno(l->db, rc);
        *seq = r->seq;
        memcpy(hash, h, LEDGER_HASH_SIZE);
        return 0;
}

static void rollback(struct ledger *l) {
        if (!sqlite3_get_autocommit(l->db))
                (void) sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

static void format_utc(int64_t t, char buf[static 32]) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, 32, "@%lld", (long long) t);
}

/* A ledger fault stamped now, with the host fields of TEMPLATE (a queued record of ours). */
static void ledger_fault_init(struct ledger_record *f, const struct ledger_record *template, enum ledger_event ev) {
        ledger_record_init(f, LEDGER_SUBJECT_LEDGER, ev);
        if (template) {
                memcpy(f->boot_id, template->boot_id, sizeof f->boot_id);
                memcpy(f->hostname, template->hostname, sizeof f->hostname);
                memcpy(f->machine_id, template->machine_id, sizeof f->machine_id);
        } else
                ledger_host_fill(f);
}

int ledger_commit(struct ledger *l, int64_t *ret_last_seq) {
        uint8_t hash[LEDGER_HASH_SIZE];
        int64_t seq;
        size_t n = l->n_queued;
        int r;

        if (l->read_only)
                return -EROFS;
        if (n == 0 && l->lost == 0)
                return 0;

        /* IMMEDIATE: take the write lock before reading the tail, so that no other writer can
         * append between our read and our insert (the chain would fork). */
        r = exec(l, "BEGIN IMMEDIATE");
        if (r < 0)
                goto fail;
        r = ledger_tail(l, &seq, hash);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < n; i++) {
                r = insert_one(l, l->queue[i], &seq, hash);
                if (r < 0)
                        goto fail;
        }

        /* After the records they describe, so that times still rise with seq. */
        struct ledger_record f;
        const struct ledger_record *tmpl = n > 0 ? l->queue[n - 1] : NULL;
        size_t extra = 0;
        if (l->failing) {
                char from[32], to[32];
                int64_t now = now_realtime();
                format_utc(l->failing_since, from);
                format_utc(now, to);
                ledger_fault_init(&f, tmpl, LEDGER_EVENT_LEDGER_DELAYED);
                f.outcome = LEDGER_OUTCOME_FAILED;
                f.error_number = -l->fail_error;
                snprintf(f.message, sizeof f.message,
                         "%zu records waited in memory from %s to %s: the ledger could not be written (%s)",
                         n, from, to, strerrorname_np(-l->fail_error) ?: "unknown error");
                r = insert_one(l, &f, &seq, hash);
                if (r < 0)
                        goto fail;
                extra++;
        }
        if (l->lost > 0) {
                char from[32], to[32];
                format_utc(l->lost_since, from);
                format_utc(l->lost_until, to);
                ledger_fault_init(&f, tmpl, LEDGER_EVENT_LEDGER_LOST);
                f.outcome = LEDGER_OUTCOME_FAILED;
                f.error_number = ENOBUFS;
                snprintf(f.message, sizeof f.message,
                         "records lost: %llu (the queue of %zu records was full from %s to %s)",
                         (unsigned long long) l->lost, l->queue_max, from, to);
                r = insert_one(l, &f, &seq, hash);
                if (r < 0)
                        goto fail;
                extra++;
        }

        r = exec(l, "COMMIT");
        if (r < 0)
                goto fail;

        /* Durable now: forget the queue and the trouble it had. */
        for (size_t i = 0; i < n; i++)
                l->queue[i] = mfree(l->queue[i]);
        l->n_queued = 0;
        l->failing = false;
        l->lost = 0;
        if (ret_last_seq)
                *ret_last_seq = seq;
        return (int) (n + extra);

fail:
        rollback(l);
        if (!l->failing) {
                l->failing = true;
                l->failing_since = n > 0 ? l->queue[0]->time : now_realtime();
        }
        l->fail_error = r;
        return r;
}

const char *ledger_break_to_string(enum ledger_break b) {
        switch (b) {
        case LEDGER_OK: return "ok";
        case LEDGER_BREAK_ENCODING: return "the canonical bytes are not a record";
        case LEDGER_BREAK_COLUMN: return "a column differs from the record's canonical bytes";
        case LEDGER_BREAK_SEQ: return "the record's own seq differs from its row (renumbered or moved)";
        case LEDGER_BREAK_GAP: return "records missing before this one (deleted)";
        case LEDGER_BREAK_PREV: return "prev_hash is not the previous record's hash (inserted, deleted or reordered)";
        case LEDGER_BREAK_HASH: return "the hash does not match the record (modified)";
        case LEDGER_BREAK_ANCHOR: return "the first record does not continue from the start of the chain";
        }
        return "?";
}

/* Compares column COL of S (field table order) with field F of the decoded record, whose text
 * is LEN bytes long (ledger_record_decode_into()). The column's value is read once: the
 * statement is this thread's alone. */
static bool column_matches(sqlite3_stmt *s, const struct ledger_field *f, int col, const struct ledger_record *r,
                           size_t len) {
        const char *field = (const char *) r + f->offset;
        sqlite3_value *v = sqlite3_column_value(s, col);

        if (f->type == LEDGER_FIELD_INT)
                return sqlite3_value_type(v) == SQLITE_INTEGER && sqlite3_value_int64(v) == *(const int64_t *) field;
        if (sqlite3_value_type(v) != SQLITE_TEXT)
                return false;
        const char *want = f->type == LEDGER_FIELD_TEXT ? field : f->names[*(const int *) field];
        const unsigned char *got = sqlite3_value_text(v);
        size_t n = (size_t) sqlite3_value_bytes(v);
        /* The same length and bytes (so no NUL inside GOT either: WANT has none in its LEN). */
        return got && n == len && memcmp(got, want, n) == 0;
}

struct row {
        struct ledger_record rec;
        int64_t row_seq;
        const uint8_t *prev, *hash, *enc;
        size_t enc_size;
        uint16_t lengths[LEDGER_FIELDS_COUNT];
};

/* Reads the current row of a sql_select_range statement, checking it is well-formed and that
 * its columns agree with its canonical bytes. Returns LEDGER_OK or the break, DETAIL set. */
static enum ledger_break row_read(sqlite3_stmt *s, struct row *ret, char *detail, size_t size) {
        /* Filled in place (a record is 5 KiB and a walk a million rows); RET is the caller's
         * scratch row, valid only with LEDGER_OK. */
        struct row *w = ret;

        w->row_seq = sqlite3_column_int64(s, 0);
        w->enc = sqlite3_column_blob(s, COL_ENCODING);
        w->enc_size = (size_t) sqlite3_column_bytes(s, COL_ENCODING);
        w->prev = sqlite3_column_blob(s, COL_PREV);
        w->hash = sqlite3_column_blob(s, COL_HASH);
        if (!w->enc || !w->prev || !w->hash || sqlite3_column_bytes(s, COL_PREV) != LEDGER_HASH_SIZE ||
            sqlite3_column_bytes(s, COL_HASH) != LEDGER_HASH_SIZE ||
            ledger_record_decode_into(w->enc, w->enc_size, &w->rec, w->lengths) < 0) {
                snprintf(detail, size, "encoding, prev_hash or hash malformed");
                return LEDGER_BREAK_ENCODING;
        }
        if (w->rec.seq != w->row_seq) {
                snprintf(detail, size, "row %lld holds record %lld", (long long) w->row_seq, (long long) w->rec.seq);
                return LEDGER_BREAK_SEQ;
        }
        for (size_t i = 1; i < ledger_fields_count; i++)
                if (!column_matches(s, &ledger_fields[i], (int) i, &w->rec, w->lengths[i])) {
                        snprintf(detail, size, "column %s differs", ledger_fields[i].name);
                        return LEDGER_BREAK_COLUMN;
                }
        return LEDGER_OK;
}

/* ---- walks ------------------------------------------------------------------------------- */

/* A walk's callback sees each row checked (row_read()) with what PREPARE made for it; with
 * KEEP_ENCODING, W->enc is valid during the call (the chain's verification hashes it). */
typedef int (*row_cb)(const struct row *w, const char *text, size_t text_len, void *userdata);

/* Where a walk stopped at a row that does not check. */
struct row_break {
        enum ledger_break kind;
        int64_t seq;                    /* the row's */
        char detail[256];
};

static enum ledger_break row_read_or_break(sqlite3_stmt *s, struct row *w, struct row_break *brk) {
        enum ledger_break b = row_read(s, w, brk->detail, sizeof brk->detail);
        if (b != LEDGER_OK) {
                brk->kind = b;
                brk->seq = sqlite3_column_int64(s, 0);
        }
        return b;
}

/* The rows FROM..TO in seq order on this thread. -EBADMSG with BRK for a row that does not
 * check (after CB saw the rows before it). */
static int rows_in_transaction(struct ledger *l, int64_t from, int64_t to, ledger_prepare_cb prep, row_cb cb,
                               void *userdata, struct row_break *brk) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        _cleanup_free_ char *text = NULL;
        int r, rc;

        if (prep && !(text = malloc(LEDGER_PREPARE_MAX)))
                return -ENOMEM;
        r = prepare_select_range(l, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct row w;
                size_t len = 0;
                /* Readers trust only rows whose columns agree with their hashed bytes. */
                if (row_read_or_break(s, &w, brk) != LEDGER_OK)
                        return -EBADMSG;
                if (prep)
                        len = prep(&w.rec, w.prev, w.hash, text, userdata);
                r = cb(&w, text, len, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : sqlite_errno(l->db, rc);
}

/* A ledger_prepared_cb as a row_cb. */
struct record_cb {
        ledger_prepared_cb cb;
        void *userdata;
};

static int record_cb_call(const struct row *w, const char *text, size_t text_len, void *userdata) {
        const struct record_cb *c = userdata;
        return c->cb(&w->rec, w->prev, w->hash, text, text_len, c->userdata);
}

/* ledger_foreach()'s callback as a ledger_prepared_cb. */
struct plain_cb {
        ledger_record_cb cb;
        void *userdata;
};

static int plain_cb_call(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                         const uint8_t hash[static LEDGER_HASH_SIZE], const char *text, size_t text_len, void *userdata) {
        const struct plain_cb *p = userdata;
        return p->cb(r, prev, hash, p->userdata);
}

int ledger_foreach(struct ledger *l, int64_t from, int64_t to, ledger_record_cb cb, void *userdata) {
        bool own = sqlite3_get_autocommit(l->db);
        struct row_break brk;
        int r;

        /* One snapshot for the schema check and the rows (a migration may come in between). */
        if (own && (r = exec(l, "BEGIN")) < 0)
                return r;
        r = rows_in_transaction(l, from, to, NULL, record_cb_call,
                                &(struct record_cb) { plain_cb_call, &(struct plain_cb) { cb, userdata } }, &brk);
        if (own)
                (void) exec(l, "COMMIT");
        return r;
}

/* ---- reading ahead on a second thread ----------------------------------------------------- */

#define PREFETCH_BATCH 128              /* rows a batch */
#define PREFETCH_SLOTS 4                /* batches in flight: 4 x 128 x 5.7 KiB */

struct prefetch_item {
        struct row row;                 /* row.prev, row.hash and row.enc are set to the copies when handed on */
        uint8_t prev[LEDGER_HASH_SIZE], hash[LEDGER_HASH_SIZE];
        size_t text_offset, text_len;   /* what PREPARE wrote, in its batch's text */
        size_t enc_offset;              /* the encoding, kept after the text */
};

struct prefetch {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct ledger *l;
        sqlite3_stmt *s;
        struct prefetch_item *items;    /* PREFETCH_SLOTS x PREFETCH_BATCH */
        ledger_prepare_cb prepare;
        bool keep_encoding;
        void *userdata;
        char *text[PREFETCH_SLOTS];     /* each batch's prepared text and encodings, grown as needed */
        size_t text_size[PREFETCH_SLOTS];
        size_t n[PREFETCH_SLOTS];       /* rows in each batch */
        uint64_t produced, consumed;    /* batches, ever */
        bool done, stop;
        int error;                      /* the reader's, once done */
        struct row_break brk;           /* with error -EBADMSG */
};

/* Room for SIZE more bytes after USED in SLOT's text. */
static int prefetch_reserve(struct prefetch *p, size_t slot, size_t used, size_t size) {
        if (p->text_size[slot] - used >= size)
                return 0;
        size_t want = used + 4 * LEDGER_PREPARE_MAX;
        char *t = realloc(p->text[slot], want);
        if (!t)
                return -ENOMEM;
        p->text[slot] = t;
        p->text_size[slot] = want;
        return 0;
}

/* The reader: fills batches in order until the rows end, a row does not check, or the
 * consumer stops. */
static void *prefetch_run(void *userdata) {
        struct prefetch *p = userdata;

        _Static_assert(LEDGER_ENCODING_MAX <= LEDGER_PREPARE_MAX, "an encoding fits where a prepared text does");
        for (;;) {
                pthread_mutex_lock(&p->lock);
                while (p->produced - p->consumed == PREFETCH_SLOTS && !p->stop)
                        pthread_cond_wait(&p->cond, &p->lock);
                bool stop = p->stop;
                size_t slot = (size_t) (p->produced % PREFETCH_SLOTS);
                pthread_mutex_unlock(&p->lock);
                if (stop)
                        break;

                struct prefetch_item *batch = p->items + slot * PREFETCH_BATCH;
                size_t n = 0, text_used = 0;
                int rc = SQLITE_ROW, error = 0;
                while (n < PREFETCH_BATCH && (rc = sqlite3_step(p->s)) == SQLITE_ROW) {
                        struct prefetch_item *it = &batch[n];
                        /* Readers trust only rows whose columns agree with their hashed bytes. */
                        if (row_read_or_break(p->s, &it->row, &p->brk) != LEDGER_OK) {
                                error = -EBADMSG;
                                break;
                        }
                        memcpy(it->prev, it->row.prev, LEDGER_HASH_SIZE);
                        memcpy(it->hash, it->row.hash, LEDGER_HASH_SIZE);
                        it->text_offset = text_used;
                        it->text_len = 0;
                        if (p->prepare) {
                                error = prefetch_reserve(p, slot, text_used, LEDGER_PREPARE_MAX);
                                if (error < 0)
                                        break;
                                it->text_len = p->prepare(&it->row.rec, it->prev, it->hash, p->text[slot] + text_used,
                                                          p->userdata);
                                text_used += it->text_len;
                        }
                        if (p->keep_encoding) {
                                error = prefetch_reserve(p, slot, text_used, LEDGER_PREPARE_MAX);
                                if (error < 0)
                                        break;
                                it->enc_offset = text_used;
                                memcpy(p->text[slot] + text_used, it->row.enc, it->row.enc_size);
                                text_used += it->row.enc_size;
                        }
                        n++;
                }
                bool done = error < 0 || rc != SQLITE_ROW;
                if (!error && rc != SQLITE_ROW && rc != SQLITE_DONE)
                        error = sqlite_errno(p->l->db, rc);

                pthread_mutex_lock(&p->lock);
                p->n[slot] = n;
                p->produced++;
                p->done = done;
                p->error = error;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
                if (done)
                        break;
        }
        return NULL;
}

/* rows_in_transaction() with the database read and each row checked on a second thread, a
 * batch ahead of CB: the same rows in the same order, the same result. */
static int prefetch_in_transaction(struct ledger *l, int64_t from, int64_t to, ledger_prepare_cb prep,
                                   bool keep_encoding, row_cb cb, void *userdata, struct row_break *brk) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        struct prefetch p = { .l = l, .prepare = prep, .keep_encoding = keep_encoding, .userdata = userdata };
        pthread_t thread;
        int r;

        r = prepare_select_range(l, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
        p.s = s;
        p.items = malloc(sizeof(struct prefetch_item) * PREFETCH_SLOTS * PREFETCH_BATCH);
        if (!p.items)
                return -ENOMEM;
        pthread_mutex_init(&p.lock, NULL);
        pthread_cond_init(&p.cond, NULL);
        if (pthread_create(&thread, NULL, prefetch_run, &p) != 0) {
                /* No second thread: read on this one. */
                pthread_cond_destroy(&p.cond);
                pthread_mutex_destroy(&p.lock);
                free(p.items);
                return rows_in_transaction(l, from, to, prep, cb, userdata, brk);
        }

        r = 0;
        for (;;) {
                pthread_mutex_lock(&p.lock);
                while (p.produced == p.consumed && !p.done)
                        pthread_cond_wait(&p.cond, &p.lock);
                bool empty = p.produced == p.consumed;
                size_t slot = (size_t) (p.consumed % PREFETCH_SLOTS), n = p.n[slot];
                pthread_mutex_unlock(&p.lock);
                if (empty)
                        break;  /* done, every batch seen */

                /* The rows before a bad one are given to CB first, as rows_in_transaction does. */
                struct prefetch_item *batch = p.items + slot * PREFETCH_BATCH;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        struct prefetch_item *it = &batch[i];
                        it->row.prev = it->prev;
                        it->row.hash = it->hash;
                        it->row.enc = keep_encoding ? (const uint8_t *) p.text[slot] + it->enc_offset : NULL;
                        r = cb(&it->row, p.text[slot] ? p.text[slot] + it->text_offset : NULL, it->text_len, userdata);
                }

                pthread_mutex_lock(&p.lock);
                p.consumed++;
                if (r < 0)
                        p.stop = true;
                pthread_cond_broadcast(&p.cond);
                pthread_mutex_unlock(&p.lock);
                if (r < 0)
                        break;
        }
        (void) pthread_join(thread, NULL);
        if (r >= 0) {
                r = p.error;
                if (r == -EBADMSG)
                        *brk = p.brk;
        }
        pthread_cond_destroy(&p.cond);
        pthread_mutex_destroy(&p.lock);
        free(p.items);
        for (size_t i = 0; i < PREFETCH_SLOTS; i++)
                free(p.text[i]);
        return r;
}

int ledger_foreach_prepared(struct ledger *l, int64_t from, int64_t to, ledger_prepare_cb prep, ledger_prepared_cb cb,
                            void *userdata) {
        bool own = sqlite3_get_autocommit(l->db);
        struct row_break brk;
        int r;

        if (own && (r = exec(l, "BEGIN")) < 0)
                return r;
        r = prefetch_in_transaction(l, from, to, prep, false, record_cb_call, &(struct record_cb) { cb, userdata }, &brk);
        if (own)
                (void) exec(l, "COMMIT");
        return r;
}

int ledger_foreach_prefetch(struct ledger *l, int64_t from, int64_t to, ledger_record_cb cb, void *userdata) {
        return ledger_foreach_prepared(l, from, to, NULL, plain_cb_call, &(struct plain_cb) { cb, userdata });
}

/* ---- verification ------------------------------------------------------------------------ */

struct verify_walk {
        struct ledger_verify_report *report;
        struct ledger_hasher *hasher;
        int64_t expect;                 /* the seq due next */
        uint8_t prev[LEDGER_HASH_SIZE]; /* the hash it must continue from */
};

/* One row that checked against itself (row_read): that it continues the chain. */
static int verify_row(const struct row *w, const char *text, size_t text_len, void *userdata) {
        struct verify_walk *v = userdata;
        struct ledger_verify_report *report = v->report;
        enum ledger_break b = LEDGER_OK;
        uint8_t h[LEDGER_HASH_SIZE];

        v->expect++;
        report->bad_seq = w->row_seq;
        if (w->row_seq != v->expect) {
                b = report->count == 0 && w->row_seq > v->expect ? LEDGER_BREAK_ANCHOR : LEDGER_BREAK_GAP;
                snprintf(report->detail, sizeof report->detail, "seq %lld..%lld missing", (long long) v->expect,
                         (long long) w->row_seq - 1);
        }
        if (b == LEDGER_OK && memcmp(w->prev, v->prev, LEDGER_HASH_SIZE) != 0) {
                b = report->count == 0 ? LEDGER_BREAK_ANCHOR : LEDGER_BREAK_PREV;
                snprintf(report->detail, sizeof report->detail, "prev_hash differs from the hash of seq %lld",
                         (long long) v->expect - 1);
        }
        if (b == LEDGER_OK) {
                int r = ledger_hasher_chain(v->hasher, w->prev, w->enc, w->enc_size, h);
                if (r < 0)
                        return r;
                if (memcmp(h, w->hash, LEDGER_HASH_SIZE) != 0) {
                        b = LEDGER_BREAK_HASH;
                        snprintf(report->detail, sizeof report->detail, "stored hash differs from the computed one");
                }
        }
        if (b != LEDGER_OK) {
                report->kind = b;
                return -EBADMSG;
        }
        if (report->count == 0)
                report->first_seq = w->row_seq;
        report->count++;
        report->last_seq = w->row_seq;
        memcpy(v->prev, w->hash, LEDGER_HASH_SIZE);
        memcpy(report->last_hash, v->prev, LEDGER_HASH_SIZE);
        return 0;
}

int ledger_verify(struct ledger *l, struct ledger_verify_report *report) {
        _cleanup_(ledger_hasher_freep) struct ledger_hasher *hasher = NULL;
        struct verify_walk v = { .report = report };
        struct row_break brk = {};
        int r;

        *report = (struct ledger_verify_report) {};
        r = ledger_hasher_new(&hasher);
        if (r < 0)
                return r;
        v.hasher = hasher;
        /* One read transaction: a consistent snapshot while kyokad goes on appending. */
        r = exec(l, "BEGIN");
        if (r < 0)
                return r;
        r = chain_anchor(l, &v.expect, v.prev);
        if (r < 0)
                goto finish;
        memcpy(report->last_hash, v.prev, LEDGER_HASH_SIZE);
        report->last_seq = v.expect;
        /* Rows read and checked against themselves on a second thread, the chain on this one. */
        r = prefetch_in_transaction(l, INT64_MIN, INT64_MAX, NULL, true, verify_row, &v, &brk);
        if (r == -EBADMSG && report->kind == LEDGER_OK) {
                /* A row that does not check against itself: the reader's find. */
                report->kind = brk.kind;
                report->bad_seq = brk.seq;
                memcpy(report->detail, brk.detail, sizeof report->detail);
        } else if (r != -EBADMSG)
                report->bad_seq = 0;
finish:
        (void) exec(l, "COMMIT");
        return r;
}

int ledger_seq_at_time(struct ledger *l, int64_t t, int64_t *ret_seq) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        uint8_t h[LEDGER_HASH_SIZE];
        int64_t seq;
        int r, rc;

        r = prepare(l, sql_seq_at, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, t);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *ret_seq = sqlite3_column_int64(s, 0);
                return 0;
        }
        if (rc != SQLITE_DONE)
                return sqlite_errno(l->db, rc);
        r = ledger_tail(l, &seq, h);
        if (r < 0)
                return r;
        *ret_seq = seq + 1;
        return 0;
}

int ledger_hash_of(struct ledger *l, int64_t seq, uint8_t ret[static LEDGER_HASH_SIZE]) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int64_t anchor;
        uint8_t h[LEDGER_HASH_SIZE];
        int r, rc;

        r = chain_anchor(l, &anchor, h);
        if (r < 0)
                return r;
        if (seq == anchor) {
                memcpy(ret, h, LEDGER_HASH_SIZE);
                return 0;
        }
        r = prepare(l, sql_hash_of, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, seq);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_errno(l->db, rc);
        if (sqlite3_column_bytes(s, 0) != LEDGER_HASH_SIZE)
                return -EBADMSG;
        memcpy(ret, sqlite3_column_blob(s, 0), LEDGER_HASH_SIZE);
        return 0;
}

int ledger_first(struct ledger *l, int64_t *ret_seq, uint8_t ret_hash[static LEDGER_HASH_SIZE]) {
        uint8_t h[LEDGER_HASH_SIZE];
        int64_t pruned = 0;
        int r;

        r = ledger_hash_of(l, 1, h);
        if (r == -ENOENT)
                r = meta_get_hash(l, "first_hash", h);
        if (r == -ENOENT) {
                r = meta_get_int(l, "pruned_through", &pruned);
                if (r < 0 && r != -ENOENT)
                        return r;
                return pruned > 0 ? -ENODATA : -ENOENT;
        }
        if (r < 0)
                return r;
        *ret_seq = 1;
        memcpy(ret_hash, h, LEDGER_HASH_SIZE);
        return 0;
}

int ledger_find_last(struct ledger *l, enum ledger_event event, int64_t before_seq, struct ledger_record *ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        int r, rc;

        r = prepare(l, sql_find_last, &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, ledger_event_to_string(event), -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, before_seq);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_errno(l->db, rc);
        return ledger_record_decode(sqlite3_column_blob(s, 0), (size_t) sqlite3_column_bytes(s, 0), ret);
}

int ledger_exported_through(struct ledger *l, int64_t *ret_seq) {
        int64_t v = 0;
        int r = meta_get_int(l, "exported_through", &v);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret_seq = v;
        return 0;
}

int ledger_mark_exported(struct ledger *l, int64_t first, int64_t last) {
        int64_t cur, anchor;
        uint8_t h[LEDGER_HASH_SIZE];
        int r;

        if (l->read_only)
                return -EROFS;
        r = exec(l, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = ledger_exported_through(l, &cur);
        if (r >= 0)
                r = chain_anchor(l, &anchor, h);
        /* Pruned records were exported before they were pruned. */
        if (r >= 0 && first <= MAX(cur, anchor) + 1 && last > cur)
                r = meta_set(l, "exported_through", last, NULL);
        if (r < 0) {
                rollback(l);
                return r;
        }
        return exec(l, "COMMIT");
}

int ledger_prune(struct ledger *l, int64_t before, const struct ledger_record *note) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *s = NULL;
        uint8_t anchor_hash[LEDGER_HASH_SIZE], tail_hash[LEDGER_HASH_SIZE];
        int64_t exported, old_anchor, first_kept, limit, tail;
        int r, rc;

        if (l->read_only)
                return -EROFS;
        r = exec(l, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = ledger_exported_through(l, &exported);
        if (r < 0)
                goto fail;
        r = chain_anchor(l, &old_anchor, anchor_hash);
        if (r < 0)
                goto fail;
        r = ledger_seq_at_time(l, before, &first_kept);
        if (r < 0)
                goto fail;
        /* Never a record that is not in an export; never the last one (the tail carries the
         * chain on). */
        r = ledger_tail(l, &tail, tail_hash);
        if (r < 0)
                goto fail;
        limit = MIN(MIN(exported, first_kept - 1), tail - 1);
        if (limit <= old_anchor) {
                rollback(l);
                return 0;
        }
        r = ledger_hash_of(l, limit, anchor_hash);
        if (r < 0)
                goto fail;
        /* The first record identifies the ledger in every export (MANIFEST's ledger-first):
         * its hash outlives it. */
        if (old_anchor == 0) {
                uint8_t first[LEDGER_HASH_SIZE];
                r = ledger_hash_of(l, 1, first);
                if (r >= 0)
                        r = meta_set(l, "first_hash", 0, first);
                if (r < 0)
                        goto fail;
        }
        r = prepare(l, sql_delete_through, &s);
        if (r < 0)
                goto fail;
        sqlite3_bind_int64(s, 1, limit);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
                r = sqlite_errno(l->db, rc);
                goto fail;
        }
        r = meta_set(l, "pruned_through", limit, NULL);
        if (r >= 0)
                r = meta_set(l, "pruned_hash", 0, anchor_hash);
        if (r < 0)
                goto fail;

        struct ledger_record rec = *note;
        rec.subject = LEDGER_SUBJECT_LEDGER;
        rec.event = LEDGER_EVENT_LEDGER_PRUNED;
        char hex[LEDGER_HASH_HEX];
        hex_encode(anchor_hash, LEDGER_HASH_SIZE, hex);
        snprintf(rec.message, sizeof rec.message,
                 "records %lld..%lld deleted: past retention and exported; the chain continues from hash %s",
                 (long long) old_anchor + 1, (long long) limit, hex);
        r = ledger_record_normalise(&rec);
        if (r < 0)
                goto fail;
        r = insert_one(l, &rec, &tail, tail_hash);
        if (r < 0)
                goto fail;
        r = exec(l, "COMMIT");
        if (r < 0)
                goto fail;
        return (int) MIN(limit - old_anchor, (int64_t) INT32_MAX);
fail:
        rollback(l);
        return r;
}
