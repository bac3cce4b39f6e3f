/* SPDX-License-Identifier: MIT */
/* Where the recorder's records are kept for good: the ledger STATE_DIR/ledger.db
 * (ledger/ledger.h, docs/ledger.md), and the marker STATE_DIR/running that says a run of kyokad
 * has not recorded its stop yet.
 *
 * Passive: no event source, no logging, and no call back up. It queues what it is given, writes
 * it when asked, and says how that went by return value; the recorder (recorder.h) decides when
 * to commit, when to retry, and what a failure is recorded as.
 *
 * A database that cannot be opened (a missing or read-only STATE_DIR, a corrupt file) is not an
 * error of ledger_sink_new(): records then wait here, bounded like the ledger's own queue
 * (LEDGER_QUEUE_DEFAULT), every commit tries the open again, and the one that succeeds writes
 * them first, followed by a ledger-delayed record (and ledger-lost with the count of those that
 * did not fit). Main thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyoka-names.h"
#include "ledger.h"

#define LEDGER_SINK_MARKER "running"

struct ledger_sink;

/* -ENOMEM only. */
int ledger_sink_new(const char *state_dir, struct ledger_sink **ret);
/* Closes without committing (what is queued is dropped: commit first). */
struct ledger_sink *ledger_sink_free(struct ledger_sink *s);

/* Queues a copy of R for the next commit: 0, or -ENOBUFS when the queue is full (R is counted
 * as lost and the count recorded by the next commit that succeeds), -EINVAL for an invalid
 * record. */
int ledger_sink_append(struct ledger_sink *s, const struct ledger_record *r);

/* Opens the database if it is not open (moving what waited into it), then writes everything
 * queued in one transaction. TEMPLATE gives the host, policy and seat fields of the ledger's own
 * records (delayed, lost). Returns the number of records written, or a negative errno: the
 * records then stay queued. */
int ledger_sink_commit(struct ledger_sink *s, const struct ledger_record *template);

struct ledger_sink_status {
        const char *path;             /* STATE_DIR/ledger.db */
        bool open;
        uint64_t records;             /* in the database (after pruning: from the first seq left) */
        int64_t last_seq;             /* 0: none */
        uint64_t queued;              /* waiting for a commit */
        uint64_t lost;                /* refused by a full queue since the last commit */
        uint64_t committed;           /* written since ledger_sink_new() */
        int64_t last_commit;          /* realtime of the last commit that wrote something, 0: none */
};
void ledger_sink_status(struct ledger_sink *s, struct ledger_sink_status *ret);

/* The seq and time of the last record in the database: -ENOENT if none (or not open). */
int ledger_sink_last(struct ledger_sink *s, int64_t *ret_seq, int64_t *ret_time);

/* The marker: its text as written (-ENOENT: the last run stopped cleanly, or this is the first),
 * written atomically, removed (a missing marker is not an error). */
int ledger_sink_marker_read(struct ledger_sink *s, char **ret);
int ledger_sink_marker_write(struct ledger_sink *s, const char *text);
int ledger_sink_marker_remove(struct ledger_sink *s);
/* STATE_DIR/NAME, newly allocated (NULL on OOM): for messages. */
char *ledger_sink_path(const struct ledger_sink *s, const char *name);
