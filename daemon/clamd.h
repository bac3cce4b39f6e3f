/* SPDX-License-Identifier: MIT */
/* A client of ClamAV's clamd on its unix socket (clamd's own protocol: "z" commands, NUL-ended
 * replies). Every call blocks until DEADLINE_NS (CLOCK_MONOTONIC) at the latest; none logs.
 * Used by the scan worker (a whole medium, scan-worker.c) and by the carry-out record's hashing
 * thread (one file written to a medium, carry.c): both hand clamd open descriptors (FILDES), so
 * clamd needs no access to the files' mounts.
 *
 * Everything clamd says is parsed as untrusted text: bounded by CLAMD_REPLY_MAX, and what is
 * passed on (the engine's name, a signature) sanitised (identity_sanitize). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "scan-protocol.h"

#define CLAMD_REPLY_MAX 1024

int64_t clamd_now_ns(void);

/* A new connection to clamd's socket PATH: 0 and *RET, or a negative errno. */
int clamd_connect(const char *path, int64_t deadline_ns, int *ret);
/* COMMAND with its NUL ("zIDSESSION", "zEND"). */
int clamd_send(int fd, const char *command);

/* VERSION on a connection of its own: the engine and database as clamd names them (sanitised,
 * into TEXT) and the database's date (0: not said). -EPROTO if clamd answered something else. */
int clamd_version(const char *path, int64_t deadline_ns, char *text, size_t size, int64_t *ret_database_time);
/* Whether a database of DATABASE_TIME may be used under MAX_AGE seconds (0: not checked) at NOW:
 * SCAN_FAULT_NONE, SCAN_FAULT_DATABASE_UNKNOWN or SCAN_FAULT_DATABASE_OLD. */
enum scan_fault clamd_database_check(int64_t database_time, uint64_t max_age, int64_t now);

/* FD to clamd as the next request (number REQUEST, from 1) of the IDSESSION on SESSION: 0 clean,
 * 1 found (its name in SIGNATURE, spaces made '_', sanitised), or a negative errno (-EPROTO: an
 * error or an unexpected reply). */
int clamd_scan_fd(int session, int64_t deadline_ns, unsigned request, int fd, char *signature, size_t size);

/* Which scan fault a failed call's R stands for: not there, not answering, anything else. */
enum scan_fault clamd_fault(int r);

/* One descriptor scanned on a session of its own, the database checked first (MAX_AGE seconds,
 * 0: not checked): the carry-out record's check of a file written. */
struct clamd_file_result {
        enum scan_result result;
        enum scan_fault fault;        /* FAULT: why */
        int error;                    /* positive errno or 0 */
        char scanner[SCAN_TEXT_MAX];  /* "" when clamd did not answer VERSION */
        char signature[SCAN_SIGNATURE_MAX];
};
void clamd_scan_file(const char *path, int fd, int64_t deadline_ns, uint64_t max_age, struct clamd_file_result *ret);

/* ---- exposed for the unit tests and the fuzz target ---- */

/* clamd's answer to VERSION: "ClamAV 1.4.6/27480/Mon Dec  1 08:27:01 2026" -> the date of its
 * signature database (local time, as clamd prints it), or 0 when it names none ("ClamAV
 * 1.4.6": a database without a version, as one made by sigtool). -EBADMSG if it is not
 * ClamAV's answer. */
int clamd_version_parse(const char *s, int64_t *ret_database_time);

/* A reply to FILDES inside an IDSESSION, "1: fd[11]: OK" or "1: fd[11]: Eicar-Test FOUND": 0
 * (clean), 1 (found, its name in SIGNATURE, SIZE bytes), -EPROTO for anything else (an ERROR, a
 * reply to another request). */
int clamd_reply_parse(const char *s, unsigned id, char *signature, size_t size);
