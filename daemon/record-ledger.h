/* SPDX-License-Identifier: MIT */
/* Where kyokad's records are kept for good: the ledger STATE_DIR/ledger.db (ledger/ledger.h,
 * docs/ledger.md). record.c builds each record; this file owns the database handle and decides
 * when records are committed:
 *
 *  - record.c appends (memory only) and calls record_ledger_schedule(), which enables a
 *    deferred event source: it runs before the loop handles anything else, so everything one
 *    turn of the loop decided is committed in one transaction (group commit) right after its
 *    enforcement, and only then are the decisions reported (log line, watchers): record_flush();
 *  - when a commit fails (full disk, I/O error) enforcement goes on: the records stay queued
 *    (bounded) and are in the journal anyway, a fault is recorded once, and a timer retries
 *    with exponential backoff (1 s doubling to 30 s; nothing runs while the ledger is healthy).
 *    The first commit that succeeds writes them, with the gap as a ledger-delayed fault;
 *  - a marker STATE_DIR/running exists while kyokad runs: found at start, it means the last run
 *    ended without recording its stop (kill -9, crash, power cut): an unclean-shutdown fault.
 *
 * Main thread only, like the ledger handle. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "ledger.h"

#define RECORD_LEDGER_FILE "ledger.db"
#define RECORD_LEDGER_MARKER "running"
#define RECORD_LEDGER_RETRY_MIN_USEC (1ULL * 1000000ULL)
#define RECORD_LEDGER_RETRY_MAX_USEC (30ULL * 1000000ULL)

/* Opens STATE_DIR/ledger.db, records an unclean shutdown if the last run left its marker,
 * records "started" and creates the marker. A ledger that cannot be opened is a fault, not a
 * reason to stop enforcing: records wait in memory and the open is retried. Returns 0, or a
 * negative errno only for what kyokad cannot run without (out of memory, event sources). */
int record_ledger_start(sd_event *e, const char *state_dir);

/* Records "stopped" (ERROR: why kyokad stops, 0 for a normal stop), commits once, and removes
 * the marker if everything reached the ledger; then closes it. A no-op if not started. */
void record_ledger_stop(int error);

/* True between start and stop: records are then reported after their commit. */
bool record_ledger_active(void);

/* Queues a record for the next commit (memory only). */
void record_ledger_append(const struct ledger_record *r);

/* Asks for a commit (and the reports after it) before the loop handles anything else.
 * Returns false when there is no loop to do it (not started): the caller reports at once. */
bool record_ledger_schedule(void);

/* Commits what is queued, unless the ledger is failing and FORCE is false (then the retry
 * timer does it). Returns the number of records written, or a negative errno. */
int record_ledger_commit(bool force);

/* The "ledger" object of `policyctl status`: path, records, last_seq, queued, lost, last
 * commit, the current error, and the export key (STATE_DIR/export.pub) if there is one.
 * NULL on OOM. */
struct json_object *record_ledger_status(void);
