/* SPDX-License-Identifier: MIT */
/* The ledger: an append-only sequence of records in SQLite (STATE_DIR/ledger.db, WAL,
 * synchronous=FULL), each chained to the one before by SHA-256 over its canonical encoding
 * (record.h), so that a changed, deleted, inserted or reordered record shows (docs/ledger.md).
 *
 * Writing is two steps, so that a storm of events costs one fsync, not one each:
 *   ledger_append()  queues a record in memory (bounded; never blocks, never does I/O);
 *   ledger_commit()  writes everything queued in one transaction. A record is committed, and
 *                    only then, when ledger_commit() returned its seq.
 * When the database cannot be written (a full disk, an I/O error), ledger_commit() returns the
 * error and keeps the records queued; the next successful commit writes them and adds a
 * "ledger-delayed" fault saying how many waited and from when to when. When the queue is full,
 * ledger_append() refuses with -ENOBUFS and counts the loss; the next successful commit adds a
 * "ledger-lost" fault with the count. Nothing goes missing without a record saying so.
 *
 * Not thread-safe: one thread uses a handle at a time. Several processes may write the same
 * database (kyokad appends, policyctl prunes): each commit reads the chain's tail inside its
 * own write transaction. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "record.h"

#define LEDGER_QUEUE_DEFAULT 4096          /* records waiting in memory, at most */
/* An append touches the rightmost path of the records table's B-tree (rowid = seq: no other
 * index) and the tail query reads the same pages: a few dozen pages are plenty. SQLite's default
 * (2 MiB) fills up as the ledger grows and is never given back: kyokad's memory grew with every
 * plug until it was full. */
#define LEDGER_APPENDER_CACHE_KIB 128
/* Read-only and one-off handles map the database (up to SQLite's own limit, 2 GiB in Debian's
 * build) instead of copying every page they read. */
#define LEDGER_MMAP_MAX 2147418112
#define LEDGER_RETENTION_DEFAULT_DAYS 1827 /* five years, leap days included */

struct ledger;

enum {
        LEDGER_OPEN_READ_ONLY = 1 << 0,    /* verify, show, export: never creates or writes */
        LEDGER_OPEN_APPENDER = 1 << 1,     /* a long-lived appender (kyokad): a page cache of
                                            * LEDGER_APPENDER_CACHE_KIB, however long the ledger grows */
};

/* Opens (creating it unless read-only) the database at PATH. QUEUE_MAX bounds the records
 * ledger_append() keeps (0: LEDGER_QUEUE_DEFAULT). */
int ledger_open(const char *path, unsigned flags, size_t queue_max, struct ledger **ret);
/* Closes without committing: the caller commits first (records still queued are dropped). */
struct ledger *ledger_close(struct ledger *l);
static inline void ledger_closep(struct ledger **l) {
        if (*l)
                ledger_close(*l);
}

/* Queues a copy of R (normalised: text sanitised and bounded). -ENOBUFS when the queue is full
 * (the record is dropped and counted, see above), -EINVAL for an invalid record, -EROFS on a
 * read-only handle. */
int ledger_append(struct ledger *l, const struct ledger_record *r);

/* Writes every queued record (and any pending ledger fault) in one transaction. Returns the
 * number of records written (0 if nothing was queued) and, when RET_LAST_SEQ is not NULL, the
 * seq of the last one; every seq up to it is durable. On failure the records stay queued and a
 * negative errno tells why (-ENOSPC for a full disk, -EIO, -EBUSY when another writer held the
 * database too long, ...). */
int ledger_commit(struct ledger *l, int64_t *ret_last_seq);

/* Records queued and not yet committed; records lost to a full queue since the last commit. */
size_t ledger_queued(const struct ledger *l);
uint64_t ledger_lost(const struct ledger *l);

/* The last committed record's seq (0 if none) and hash (the chain's anchor if none). */
int ledger_tail(struct ledger *l, int64_t *ret_seq, uint8_t ret_hash[static LEDGER_HASH_SIZE]);

/* Why a chain does not verify. */
enum ledger_break {
        LEDGER_OK,
        LEDGER_BREAK_ENCODING,      /* the canonical bytes are not a record */
        LEDGER_BREAK_COLUMN,        /* a column differs from the canonical bytes (edited in SQL) */
        LEDGER_BREAK_SEQ,           /* the record's own seq differs from its row's (renumbered, moved) */
        LEDGER_BREAK_GAP,           /* seqs missing before this one (deleted) */
        LEDGER_BREAK_PREV,          /* prev_hash is not the previous record's hash (inserted, reordered) */
        LEDGER_BREAK_HASH,          /* hash is not SHA-256(prev_hash || encoding) (modified) */
        LEDGER_BREAK_ANCHOR,        /* the first record does not continue from the start (or the pruned head) */
};
const char *ledger_break_to_string(enum ledger_break b);

struct ledger_verify_report {
        int64_t first_seq, last_seq;        /* of the records that verified */
        uint64_t count;
        uint8_t last_hash[LEDGER_HASH_SIZE];
        enum ledger_break kind;             /* LEDGER_OK, or where it broke: */
        int64_t bad_seq;                    /* the first row that does not verify */
        char detail[256];                   /* e.g. "column serial differs" or "seqs 5..7 missing" */
};

/* Walks the whole chain. 0 if it verifies; -EBADMSG if not, with REPORT saying where first;
 * other negative errnos for I/O. REPORT is filled in both cases. */
int ledger_verify(struct ledger *l, struct ledger_verify_report *report);

/* Calls CB for each record with FROM <= seq <= TO in seq order (the record decoded from its
 * canonical bytes, and its chain hashes). A negative return from CB stops and is returned. */
typedef int (*ledger_record_cb)(const struct ledger_record *r, const uint8_t prev_hash[static LEDGER_HASH_SIZE],
                                const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata);
int ledger_foreach(struct ledger *l, int64_t from, int64_t to, ledger_record_cb cb, void *userdata);
/* The same, with the database read and each row checked on a second thread, a batch ahead of
 * CB (the export: reading and writing a million records on two cores). CB sees the same
 * records in the same order and the result is the same; CB must not use L. */
int ledger_foreach_prefetch(struct ledger *l, int64_t from, int64_t to, ledger_record_cb cb, void *userdata);
/* The same with a share of CB's work on the reading thread too: PREPARE (may be NULL) is
 * called there for each record, in seq order, and writes at most LEDGER_PREPARE_MAX bytes into
 * BUF (returning how many: records.jsonl's line, say); CB then gets them with the record, as
 * TEXT and TEXT_LEN (0 without PREPARE). PREPARE sees only the record: it must not touch
 * USERDATA's state that CB changes, nor L. */
#define LEDGER_PREPARE_MAX (64u << 10)
typedef size_t (*ledger_prepare_cb)(const struct ledger_record *r, const uint8_t prev_hash[static LEDGER_HASH_SIZE],
                                    const uint8_t hash[static LEDGER_HASH_SIZE], char *buf, void *userdata);
typedef int (*ledger_prepared_cb)(const struct ledger_record *r, const uint8_t prev_hash[static LEDGER_HASH_SIZE],
                                  const uint8_t hash[static LEDGER_HASH_SIZE], const char *text, size_t text_len,
                                  void *userdata);
int ledger_foreach_prepared(struct ledger *l, int64_t from, int64_t to, ledger_prepare_cb prepare, ledger_prepared_cb cb,
                            void *userdata);

/* The seq of the first record whose time is >= T, or the last seq + 1 if none: records
 * [seq_at(a), seq_at(b)) are "the records from a to b", contiguous even across clock jumps. */
int ledger_seq_at_time(struct ledger *l, int64_t t, int64_t *ret_seq);

/* The ledger's first record, seq 1, and its hash: what tells this ledger from one started
 * afresh. Pruning keeps the hash (meta "first_hash") when it deletes the record. -ENOENT while
 * the ledger is empty, -ENODATA if the record was pruned by a kyoka that did not keep it. */
int ledger_first(struct ledger *l, int64_t *ret_seq, uint8_t ret_hash[static LEDGER_HASH_SIZE]);

/* The hash of record SEQ; for seq 0 or the pruned head, the anchor. -ENOENT if unknown. */
int ledger_hash_of(struct ledger *l, int64_t seq, uint8_t ret[static LEDGER_HASH_SIZE]);

/* The latest record of EVENT with seq < BEFORE_SEQ (for the policy in force at a week's
 * start). -ENOENT if none. */
int ledger_find_last(struct ledger *l, enum ledger_event event, int64_t before_seq, struct ledger_record *ret);

/* "Exported through seq": every record up to it is in an export. Raised by
 * ledger_mark_exported(FIRST, LAST) only when FIRST continues the exported prefix, so a week
 * that was never exported keeps its records from being pruned. */
int ledger_exported_through(struct ledger *l, int64_t *ret_seq);
int ledger_mark_exported(struct ledger *l, int64_t first, int64_t last);

/* Deletes the records older than BEFORE (a time) that are also exported, keeping the hash of
 * the last deleted one as the chain's new anchor, and appends a "ledger-pruned" record saying
 * which seqs went, all in one transaction. Returns the number deleted. */
int ledger_prune(struct ledger *l, int64_t before, const struct ledger_record *host_template);

/* The user at SEAT's active session (sd-login; "seat0" for the console): uid and name, or
 * -ENXIO when nobody is logged in there. NAME is sanitised and bounded by SIZE. */
int seat_active_user(const char *seat, int64_t *ret_uid, char *ret_name, size_t size);
