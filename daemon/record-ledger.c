/* SPDX-License-Identifier: MIT */
/* kyokad's ledger: opening it, group commit, retries on a failing disk, the "running" marker,
 * and what `policyctl status` shows of it (record-ledger.h). */
#include "record-ledger.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "policy-sign.h"
#include "record.h"
#include "timeutil.h"

#define MARKER_MAX 512

static struct {
        sd_event *event;              /* NULL: not started, records are reported at once */
        char *state_dir, *db_path, *marker_path;
        struct ledger *ledger;        /* NULL while it cannot be opened */

        sd_event_source *commit;      /* defer: enabled (oneshot) when a record waits */
        sd_event_source *retry;       /* monotonic timer: armed only while the ledger fails */
        uint64_t retry_usec;

        /* Records made while the database could not even be opened: they wait here, bounded
         * like the ledger's own queue, and go into it (in order) once it opens. */
        struct ledger_record **pending;
        size_t n_pending;
        uint64_t pending_lost;
        int64_t pending_since, pending_lost_since, pending_lost_until;

        bool failing;                 /* the last open or commit failed */
        int error;                    /* its negative errno */
        int64_t error_since, error_last;
        bool warned_lost;             /* logged the first record the full queue refused */

        int64_t last_seq, first_seq;
        int64_t last_commit;          /* realtime of the last successful commit, 0: none */
        uint64_t committed;           /* records (and ledger faults) written since start */
} L = { .retry_usec = 0 };

bool record_ledger_active(void) {
        return L.event;
}

static int64_t now_realtime(void) {
        return (int64_t) time(NULL);
}

static void format_time(int64_t t, char buf[static ISO8601_MAX]) {
        if (time_format_iso8601(t, buf, ISO8601_MAX) < 0)
                snprintf(buf, ISO8601_MAX, "@%" PRIi64, t);
}

static void pending_drop(void) {
        for (size_t i = 0; i < L.n_pending; i++)
                free(L.pending[i]);
        L.pending = mfree(L.pending);
        L.n_pending = 0;
}

void record_ledger_append(const struct ledger_record *r) {
        int k;

        if (L.ledger) {
                k = ledger_append(L.ledger, r);
                /* The ledger counts the loss and records it at the next commit; the record
                 * itself is in the journal already. Say so once per episode. */
                if (k == -ENOBUFS && !L.warned_lost) {
                        L.warned_lost = true;
                        log_error("The ledger's queue is full: records from now on are only in the journal "
                                  "until it can be written (their number will be recorded)");
                } else if (k < 0 && k != -ENOBUFS)
                        log_error_errno(k, "A record was refused by the ledger: %m");
                return;
        }
        if (!L.event)
                return;

        struct ledger_record *copy = NULL;
        if (L.n_pending < LEDGER_QUEUE_DEFAULT) {
                if (!L.pending)
                        L.pending = calloc(LEDGER_QUEUE_DEFAULT, sizeof *L.pending);
                if (L.pending)
                        copy = malloc(sizeof *copy);
        }
        if (!copy) {
                if (L.pending_lost++ == 0)
                        L.pending_lost_since = r->time;
                L.pending_lost_until = r->time;
                return;
        }
        *copy = *r;
        if (L.n_pending == 0)
                L.pending_since = r->time;
        L.pending[L.n_pending++] = copy;
}

/* The records that waited for the database to open go into its queue, followed by a fault
 * saying how long they waited and how many did not fit (nothing else would). */
static void pending_move(void) {
        struct ledger_record f;
        char from[ISO8601_MAX], to[ISO8601_MAX];
        size_t n = L.n_pending;

        if (n == 0 && L.pending_lost == 0)
                return;
        for (size_t i = 0; i < n; i++)
                (void) ledger_append(L.ledger, L.pending[i]);
        if (n > 0) {
                record_ledger_fill(&f, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_DELAYED);
                format_time(L.pending_since, from);
                format_time(now_realtime(), to);
                f.outcome = LEDGER_OUTCOME_FAILED;
                f.error_number = L.error < 0 ? -L.error : 0;
                snprintf(f.message, sizeof f.message,
                         "%zu records waited in memory from %s to %s: the ledger could not be opened (%s)", n, from,
                         to, L.error < 0 ? strerrorname_np(-L.error) ?: "unknown error" : "-");
                (void) ledger_append(L.ledger, &f);
        }
        if (L.pending_lost > 0) {
                record_ledger_fill(&f, LEDGER_SUBJECT_LEDGER, LEDGER_EVENT_LEDGER_LOST);
                format_time(L.pending_lost_since, from);
                format_time(L.pending_lost_until, to);
                f.outcome = LEDGER_OUTCOME_FAILED;
                f.error_number = ENOBUFS;
                snprintf(f.message, sizeof f.message,
                         "records lost: %" PRIu64 " (only in the journal: the ledger could not be opened and "
                         "%d records waited already, from %s to %s)",
                         L.pending_lost, LEDGER_QUEUE_DEFAULT, from, to);
                (void) ledger_append(L.ledger, &f);
        }
        pending_drop();
        L.pending_lost = 0;
}

static int ledger_try_open(void) {
        int r;

        if (L.ledger)
                return 0;
        r = ledger_open(L.db_path, 0, 0, &L.ledger);
        if (r < 0)
                return r;
        pending_move();
        return 0;
}

static void tail_update(void) {
        uint8_t h[LEDGER_HASH_SIZE];
        int64_t seq;

        if (L.ledger && ledger_tail(L.ledger, &seq, h) >= 0)
                L.last_seq = seq;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) record_ledger_commit(true);
        record_flush();
        return 0;
}

/* Exponential backoff while failing; the timer is off otherwise. */
static void retry_arm(void) {
        uint64_t now;
        int r;

        L.retry_usec = L.retry_usec ? MIN(L.retry_usec * 2, RECORD_LEDGER_RETRY_MAX_USEC) : RECORD_LEDGER_RETRY_MIN_USEC;
        r = sd_event_now(L.event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                goto fail;
        if (L.retry) {
                r = sd_event_source_set_time(L.retry, now + L.retry_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(L.retry, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(L.event, &L.retry, CLOCK_MONOTONIC, now + L.retry_usec, 0, on_retry, NULL);
        if (r >= 0)
                return;
fail:
        /* Without a timer, the next record retries (its commit is scheduled anyway). */
        log_error_errno(r, "Failed to arm the ledger's retry timer: %m");
}

static void note_failure(int r) {
        L.error_last = now_realtime();
        if (!L.failing) {
                L.failing = true;
                L.error = r;
                L.error_since = L.error_last;
                /* Recorded once per episode; it waits in the queue with the others, and the
                 * commit that ends the episode adds the ledger-delayed fault. */
                record_fault("ledger-failing", r,
                             "The ledger %s cannot be %s: %s; enforcement goes on, records wait in memory (at most %d) "
                             "and are in the journal",
                             L.db_path, L.ledger ? "written" : "opened", strerror(-r), LEDGER_QUEUE_DEFAULT);
        } else if (r != L.error) {
                log_warning_errno(r, "The ledger still cannot be written, now: %m");
                L.error = r;
        } else
                log_debug("The ledger still cannot be written: %s (next try in %llu s)", strerror(-r),
                          MIN(L.retry_usec * 2, RECORD_LEDGER_RETRY_MAX_USEC) / 1000000);
        retry_arm();
}

int record_ledger_commit(bool force) {
        int64_t seq;
        int r;

        if (!L.event)
                return 0;
        if (L.failing && !force)
                return -EAGAIN;
        r = ledger_try_open();
        if (r >= 0)
                r = ledger_commit(L.ledger, &seq);
        if (r < 0) {
                note_failure(r);
                return r;
        }
        if (r > 0) {
                L.last_seq = seq;
                L.last_commit = now_realtime();
                L.committed += (uint64_t) r;
        }
        if (L.failing) {
                char since[ISO8601_MAX];
                format_time(L.error_since, since);
                log_notice("The ledger is written again (it failed from %s: %s); %d records committed through seq %" PRIi64,
                           since, strerror(-L.error), r, L.last_seq);
                L.failing = false;
                L.error = 0;
                L.retry_usec = 0;
                (void) sd_event_source_set_enabled(L.retry, SD_EVENT_OFF);
        }
        L.warned_lost = false;
        return r;
}

static int on_commit(sd_event_source *s, void *userdata) {
        record_flush();
        return 0;
}

bool record_ledger_schedule(void) {
        if (!L.event || !L.commit)
                return false;
        return sd_event_source_set_enabled(L.commit, SD_EVENT_ONESHOT) >= 0;
}

/* ---- start and stop ----------------------------------------------------------------------- */

struct last_record {
        int64_t seq, time;
};

static int last_record_cb(const struct ledger_record *r, const uint8_t prev[static LEDGER_HASH_SIZE],
                          const uint8_t hash[static LEDGER_HASH_SIZE], void *userdata) {
        struct last_record *last = userdata;
        last->seq = r->seq;
        last->time = r->time;
        return 0;
}

/* The last run left its marker: it never recorded its stop. Say who it was, whether the machine
 * went down since (another boot id), and where its records end. */
static void unclean_shutdown_record(const char *marker, const char *boot_id) {
        char pid[32] = "?", boot[LEDGER_ID_MAX] = "", started[ISO8601_MAX] = "?", ends[160] = "";
        long long t;
        const char *p;

        if ((p = strstr(marker, "pid=")))
                (void) sscanf(p, "pid=%31[0-9]", pid);
        if ((p = strstr(marker, "boot_id=")))
                (void) sscanf(p, "boot_id=%32[0-9a-f]", boot);
        if ((p = strstr(marker, "started=")) && sscanf(p, "started=%lld", &t) == 1)
                format_time(t, started);

        if (L.ledger && L.last_seq > 0) {
                struct last_record last = {};
                if (ledger_foreach(L.ledger, L.last_seq, L.last_seq, last_record_cb, &last) >= 0 && last.seq > 0) {
                        char when[ISO8601_MAX];
                        format_time(last.time, when);
                        snprintf(ends, sizeof ends, "; the last record before this is seq %" PRIi64 " at %s", last.seq,
                                 when);
                }
        }
        record_daemon(LEDGER_EVENT_UNCLEAN_SHUTDOWN, 0,
                      "kyokad did not stop cleanly last time (pid %s, started %s): %s%s", pid, started,
                      !boot[0] || !boot_id[0] ? "killed, crashed or the machine went down" :
                      streq(boot, boot_id) ? "it was killed or crashed (same boot)" :
                                             "the machine went down without stopping it (power cut, crash or reset)",
                      ends);
}

int record_ledger_start(sd_event *e, const char *state_dir) {
        _cleanup_free_ char *marker = NULL;
        struct ledger_record host;
        char buf[MARKER_MAX];
        int r;

        if (L.event)
                return -EBUSY;
        L.state_dir = strdup(state_dir);
        L.db_path = path_join(state_dir, RECORD_LEDGER_FILE);
        L.marker_path = path_join(state_dir, RECORD_LEDGER_MARKER);
        if (!L.state_dir || !L.db_path || !L.marker_path)
                goto oom;
        r = sd_event_add_defer(e, &L.commit, on_commit, NULL);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(L.commit, "ledger-commit");
        r = sd_event_source_set_enabled(L.commit, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        L.event = sd_event_ref(e);

        r = ledger_try_open();
        if (r < 0)
                note_failure(r);
        tail_update();
        L.first_seq = L.last_seq + 1;

        record_ledger_fill(&host, LEDGER_SUBJECT_DAEMON, LEDGER_EVENT_STARTED);
        r = read_file_bounded(L.marker_path, MARKER_MAX, &marker, NULL);
        if (r >= 0)
                unclean_shutdown_record(marker, host.boot_id);
        else if (r != -ENOENT)
                record_fault("marker", r, "Failed to read %s: %s; an unclean shutdown may go unrecorded", L.marker_path,
                             strerror(-r));

        record_daemon(LEDGER_EVENT_STARTED, 0, "kyokad started (pid %d)", (int) getpid());

        /* Written after "started" is queued: a marker always belongs to a run the ledger knows. */
        snprintf(buf, sizeof buf, "pid=%d\nboot_id=%s\nstarted=%" PRIi64 "\n", (int) getpid(), host.boot_id,
                 now_realtime());
        r = write_file_atomic(L.marker_path, buf, strlen(buf), 0644);
        if (r < 0)
                record_fault("marker", r, "Failed to write %s: %s; an unclean shutdown of this run may go unrecorded",
                             L.marker_path, strerror(-r));
        (void) record_ledger_schedule();
        return 0;

oom:
        r = -ENOMEM;
fail:
        L.commit = sd_event_source_disable_unref(L.commit);
        L.event = sd_event_unref(L.event);
        L.state_dir = mfree(L.state_dir);
        L.db_path = mfree(L.db_path);
        L.marker_path = mfree(L.marker_path);
        return r;
}

void record_ledger_stop(int error) {
        int r;

        if (!L.event)
                return;
        record_daemon(LEDGER_EVENT_STOPPED, error, error < 0 ? "kyokad stopped after an error: %s" : "kyokad stopped%s",
                      error < 0 ? strerror(-error) : "");
        /* One try, even while failing: a stop must not wait for a disk. */
        r = record_ledger_commit(true);
        record_flush();
        size_t left = (L.ledger ? ledger_queued(L.ledger) : 0) + L.n_pending;
        if (r >= 0 && L.ledger && left == 0) {
                if (unlink(L.marker_path) < 0 && errno != ENOENT)
                        log_warning_errno(-errno, "Failed to remove %s: %m; the next start will record an unclean shutdown",
                                          L.marker_path);
        } else
                /* The marker stays: the next start records that this run's end is missing. */
                log_error("%zu records could not be written to the ledger before exiting (%s); they are in the journal",
                          left, r < 0 ? strerror(-r) : "no ledger");

        L.retry = sd_event_source_disable_unref(L.retry);
        L.commit = sd_event_source_disable_unref(L.commit);
        L.ledger = ledger_close(L.ledger);
        pending_drop();
        L.event = sd_event_unref(L.event);
        L.state_dir = mfree(L.state_dir);
        L.db_path = mfree(L.db_path);
        L.marker_path = mfree(L.marker_path);
        L.failing = false;
}

/* ---- status ------------------------------------------------------------------------------- */

static int add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* JSON null is a NULL object in json-c: these add a value that may rightly be null. */
static int add_time(struct json_object *o, const char *key, int64_t t) {
        char buf[ISO8601_MAX];

        if (t <= 0)
                return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
        format_time(t, buf);
        return add(o, key, json_object_new_string(buf));
}

static int add_error(struct json_object *parent) {
        struct json_object *o;

        if (!L.failing)
                return json_object_object_add(parent, "error", NULL) < 0 ? -ENOMEM : 0;
        o = json_object_new_object();
        if (!o || add(o, "errno", json_object_new_int(-L.error)) < 0 ||
            add(o, "name", json_object_new_string(strerrorname_np(-L.error) ?: "?")) < 0 ||
            add(o, "message", json_object_new_string(strerror(-L.error))) < 0 ||
            add_time(o, "since", L.error_since) < 0 || add_time(o, "last_try", L.error_last) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        return add(parent, "error", o);
}

/* STATE_DIR/export.pub and its fingerprint, or null: the export key is made at install or by
 * the first export, and may not exist yet. */
static int add_export_key(struct json_object *parent) {
        _cleanup_free_ char *path = L.state_dir ? path_join(L.state_dir, "export.pub") : NULL;
        struct trusted_key *k = NULL;
        struct json_object *o;
        int r;

        if (!path || trusted_key_load(path, &k) < 0)
                return json_object_object_add(parent, "export_key", NULL) < 0 ? -ENOMEM : 0;
        o = json_object_new_object();
        r = !o || add(o, "path", json_object_new_string(path)) < 0 ||
                    add(o, "fingerprint", json_object_new_string(trusted_key_fingerprint(k))) < 0
                ? -ENOMEM : add(parent, "export_key", TAKE_PTR(o));
        json_object_put(o);
        trusted_key_free(k);
        return r;
}

struct json_object *record_ledger_status(void) {
        struct json_object *o = json_object_new_object();
        int64_t first = 0;

        if (!o)
                return NULL;
        tail_update();
        /* The first seq left after pruning: records are consecutive from it to the last. */
        if (L.ledger && ledger_seq_at_time(L.ledger, TIME_NEG_INFINITY, &first) < 0)
                first = 0;
        uint64_t records = L.ledger && first > 0 && L.last_seq >= first ? (uint64_t) (L.last_seq - first + 1) : 0;
        if ((L.db_path ? add(o, "path", json_object_new_string(L.db_path)) : json_object_object_add(o, "path", NULL)) < 0 ||
            add(o, "open", json_object_new_boolean(L.ledger != NULL)) < 0 ||
            add(o, "records", json_object_new_uint64(records)) < 0 ||
            add(o, "last_seq", json_object_new_int64(L.last_seq)) < 0 ||
            add(o, "queued", json_object_new_uint64((L.ledger ? ledger_queued(L.ledger) : 0) + L.n_pending)) < 0 ||
            add(o, "lost", json_object_new_uint64((L.ledger ? ledger_lost(L.ledger) : 0) + L.pending_lost)) < 0 ||
            add(o, "committed_since_start", json_object_new_uint64(L.committed)) < 0 ||
            add_time(o, "last_commit", L.last_commit) < 0 || add_error(o) < 0 || add_export_key(o) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
