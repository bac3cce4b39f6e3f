/* SPDX-License-Identifier: MIT */
/* kyokad's end of the carry-out worker (docs/ARCHITECTURE.md "The carry-out record"): the socket
 * RUNTIME_DIR/carry (carry-protocol.h), one worker at a time, accepted only from the uid the
 * worker runs as (KYOKA_CARRY_USER, SO_PEERCRED). kyokad tells it which USB devices it gave
 * access to, each under a token of its own; the worker's records come back naming a token, and
 * kyokad records them with the identity, permit and verdict *it* holds for that token. A token
 * kyokad did not issue, or a malformed message, is a carry-worker fault and ends the connection.
 *
 * The set of media is given as a whole (carry_link_sync_begin, _offer for each, _end); only what
 * changed goes to the worker. Tokens withdrawn stay known for a while (CARRY_LINK_MEDIA_MAX in
 * all): a file written just before the stick left is still recorded with its identity. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "carry.h"

#define CARRY_LINK_MEDIA_MAX 512

struct recorder;
struct carry_link;

/* The worker connected (said HELLO) or went away. */
typedef void (*carry_link_state_t)(bool connected, void *userdata);

/* A file written to MEDIUM was scanned (scan = "in-and-out") and its record F made: infected or
 * not scanned, the owner acts on the medium (the same userdata as the state's). */
typedef void (*carry_link_scanned_t)(const struct carry_medium_info *medium, const struct record_file *f,
                                     void *userdata);

/* Listens on RUNTIME_DIR/KYOKA_CARRY_SOCKET for a worker running as WORKER_UID. */
int carry_link_new(sd_event *e, struct recorder *rec, const char *runtime_dir, uid_t worker_uid,
                   carry_link_state_t state, void *userdata, struct carry_link **ret);
bool carry_link_connected(const struct carry_link *l);
void carry_link_set_scan_listener(struct carry_link *l, carry_link_scanned_t scanned);

void carry_link_sync_begin(struct carry_link *l);
void carry_link_offer(struct carry_link *l, const char *syspath, const struct carry_medium_info *info);
void carry_link_sync_end(struct carry_link *l);

struct carry_link *carry_link_free(struct carry_link *l);

/* ---- exposed for the unit tests ---- */

/* One packet from the worker (connected, HELLO said): recorded or refused. 0, or -EBADMSG /
 * -ESRCH (a token kyokad never issued): the caller ends the connection. */
int carry_link_handle(struct carry_link *l, const void *buf, size_t n);
