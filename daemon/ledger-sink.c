/* SPDX-License-Identifier: MIT */
#include "ledger-sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "timeutil.h"

#define MARKER_MAX 512

struct ledger_sink {
        char *state_dir, *db_path, *marker_path;
        struct ledger *ledger;        /* NULL while it cannot be opened */
        int open_error;               /* why the last open failed, 0 */

        /* Records made while the database could not be opened, oldest first. */
        struct ledger_record **pending;
        size_t n_pending;
        uint64_t pending_lost;
        int64_t pending_since, pending_lost_since, pending_lost_until;

        int64_t last_seq;
        int64_t last_commit;
        uint64_t committed;
};

static void pending_drop(struct ledger_sink *s) {
        for (size_t i = 0; i < s->n_pending; i++)
                free(s->pending[i]);
        s->pending = mfree(s->pending);
        s->n_pending = 0;
}

static void tail_update(struct ledger_sink *s) {
        uint8_t h[LEDGER_HASH_SIZE];
        int64_t seq;

        if (s->ledger && ledger_tail(s->ledger, &seq, h) >= 0)
                s->last_seq = seq;
}

static void format_time(int64_t t, char buf[static ISO8601_MAX]) {
        if (time_format_iso8601(t, buf, ISO8601_MAX) < 0)
                snprintf(buf, ISO8601_MAX, "@%" PRIi64, t);
}

/* A record of the ledger's own, now, with the host, policy and seat fields of TEMPLATE. */
static void ledger_note_init(struct ledger_record *f, const struct ledger_record *template, enum ledger_event ev) {
        ledger_record_init(f, LEDGER_SUBJECT_LEDGER, ev);
        memcpy(f->boot_id, template->boot_id, sizeof f->boot_id);
        memcpy(f->hostname, template->hostname, sizeof f->hostname);
        memcpy(f->machine_id, template->machine_id, sizeof f->machine_id);
        f->policy_serial = template->policy_serial;
        memcpy(f->signer, template->signer, sizeof f->signer);
        f->uid = template->uid;
        memcpy(f->user, template->user, sizeof f->user);
}

/* The records that waited for the database to open go into its queue, followed by a record
 * saying how long they waited and one for those that did not fit (nothing else would). */
static void pending_move(struct ledger_sink *s, const struct ledger_record *template) {
        struct ledger_record f;
        char from[ISO8601_MAX], to[ISO8601_MAX];
        size_t n = s->n_pending;
        int error = s->open_error < 0 ? -s->open_error : 0;

        for (size_t i = 0; i < n; i++)
                (void) ledger_append(s->ledger, s->pending[i]);
        if (n > 0) {
                ledger_note_init(&f, template, LEDGER_EVENT_LEDGER_DELAYED);
                format_time(s->pending_since, from);
                format_time((int64_t) time(NULL), to);
                f.outcome = LEDGER_OUTCOME_FAILED;
                f.error_number = error;
                snprintf(f.message, sizeof f.message,
                         "%zu records waited in memory from %s to %s: the ledger could not be opened (%s)", n, from,
                         to, error ? strerrorname_np(error) ?: "unknown error" : "-");
                (void) ledger_append(s->ledger, &f);
        }
        if (s->pending_lost > 0) {
                ledger_note_init(&f, template, LEDGER_EVENT_LEDGER_LOST);
                format_time(s->pending_lost_since, from);
                format_time(s->pending_lost_until, to);
                f.outcome = LEDGER_OUTCOME_FAILED;
                f.error_number = ENOBUFS;
                snprintf(f.message, sizeof f.message,
                         "records lost: %" PRIu64 " (only in the journal: the ledger could not be opened and "
                         "%d records waited already, from %s to %s)",
                         s->pending_lost, LEDGER_QUEUE_DEFAULT, from, to);
                (void) ledger_append(s->ledger, &f);
        }
        pending_drop(s);
        s->pending_lost = 0;
}

static int try_open(struct ledger_sink *s, const struct ledger_record *template) {
        int r;

        if (s->ledger)
                return 0;
        r = ledger_open(s->db_path, LEDGER_OPEN_APPENDER, 0, &s->ledger);
        if (r < 0) {
                s->open_error = r;
                return r;
        }
        tail_update(s);
        if (template)
                pending_move(s, template);
        s->open_error = 0;
        return 0;
}

int ledger_sink_new(const char *state_dir, struct ledger_sink **ret) {
        struct ledger_sink *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        s->state_dir = strdup(state_dir);
        s->db_path = path_join(state_dir, KYOKA_LEDGER_FILE);
        s->marker_path = path_join(state_dir, LEDGER_SINK_MARKER);
        if (!s->state_dir || !s->db_path || !s->marker_path) {
                ledger_sink_free(s);
                return -ENOMEM;
        }
        /* Open now, so that the tail is known from the start; nothing waits yet, so no
         * template is needed. A failure is the first commit's to report. */
        (void) try_open(s, NULL);
        *ret = s;
        return 0;
}

struct ledger_sink *ledger_sink_free(struct ledger_sink *s) {
        if (!s)
                return NULL;
        ledger_close(s->ledger);
        pending_drop(s);
        free(s->state_dir);
        free(s->db_path);
        free(s->marker_path);
        return mfree(s);
}

int ledger_sink_append(struct ledger_sink *s, const struct ledger_record *r) {
        if (s->ledger)
                return ledger_append(s->ledger, r);

        struct ledger_record *copy = NULL;
        if (s->n_pending < LEDGER_QUEUE_DEFAULT) {
                if (!s->pending)
                        s->pending = calloc(LEDGER_QUEUE_DEFAULT, sizeof *s->pending);
                if (s->pending)
                        copy = malloc(sizeof *copy);
        }
        if (!copy) {
                if (s->pending_lost++ == 0)
                        s->pending_lost_since = r->time;
                s->pending_lost_until = r->time;
                return -ENOBUFS;
        }
        *copy = *r;
        if (s->n_pending == 0)
                s->pending_since = r->time;
        s->pending[s->n_pending++] = copy;
        return 0;
}

int ledger_sink_commit(struct ledger_sink *s, const struct ledger_record *template) {
        int64_t seq;
        int r;

        r = try_open(s, template);
        if (r < 0)
                return r;
        r = ledger_commit(s->ledger, &seq);
        if (r < 0)
                return r;
        if (r > 0) {
                s->last_seq = seq;
                s->last_commit = (int64_t) time(NULL);
                s->committed += (uint64_t) r;
        }
        return r;
}

void ledger_sink_status(struct ledger_sink *s, struct ledger_sink_status *ret) {
        int64_t first = 0;

        tail_update(s);
        /* The first seq left after pruning: records are consecutive from it to the last. */
        if (s->ledger && ledger_seq_at_time(s->ledger, TIME_NEG_INFINITY, &first) < 0)
                first = 0;
        *ret = (struct ledger_sink_status) {
                .path = s->db_path,
                .open = s->ledger != NULL,
                .records = s->ledger && first > 0 && s->last_seq >= first ? (uint64_t) (s->last_seq - first + 1) : 0,
                .last_seq = s->last_seq,
                .queued = (s->ledger ? ledger_queued(s->ledger) : 0) + s->n_pending,
                .lost = (s->ledger ? ledger_lost(s->ledger) : 0) + s->pending_lost,
                .committed = s->committed,
                .last_commit = s->last_commit,
        };
}

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

int ledger_sink_last(struct ledger_sink *s, int64_t *ret_seq, int64_t *ret_time) {
        struct last_record last = {};

        tail_update(s);
        if (!s->ledger || s->last_seq <= 0)
                return -ENOENT;
        int r = ledger_foreach(s->ledger, s->last_seq, s->last_seq, last_record_cb, &last);
        if (r < 0)
                return r;
        if (last.seq <= 0)
                return -ENOENT;
        *ret_seq = last.seq;
        *ret_time = last.time;
        return 0;
}

int ledger_sink_marker_read(struct ledger_sink *s, char **ret) {
        return read_file_bounded(s->marker_path, MARKER_MAX, ret, NULL);
}

int ledger_sink_marker_write(struct ledger_sink *s, const char *text) {
        return write_file_atomic(s->marker_path, text, strlen(text), 0644);
}

int ledger_sink_marker_remove(struct ledger_sink *s) {
        return unlink(s->marker_path) < 0 && errno != ENOENT ? negative_errno() : 0;
}

char *ledger_sink_path(const struct ledger_sink *s, const char *name) {
        return path_join(s->state_dir, name);
}
