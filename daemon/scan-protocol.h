/* SPDX-License-Identifier: MIT */
/* What the scan worker (`kyokad --scan-worker`, scan-worker.c) tells kyokad (scan.c): one line
 * per message on a pipe, "WORD ARGS\n", each at most SCAN_LINE_MAX bytes:
 *
 *     progress FILES BYTES                        while it scans
 *     engine DBTIME TEXT                          clamd's VERSION answer (DBTIME: its signature
 *                                                 database's date, seconds since the epoch; 0 unknown)
 *     infected PATHLEN SIGNATURE PATH             a file clamd found something in (PATH: PATHLEN
 *                                                 bytes, relative to the medium: "sdb1/dir/file")
 *     result clean|infected|fault FAULT ERRNO FILES BYTES     the last line
 *
 * Numbers are decimal; SIGNATURE is sanitised text without spaces; TEXT and PATH are sanitised
 * text (identity_sanitize: valid UTF-8, no control characters, \xHH for the rest). Everything
 * in it comes from the medium or from clamd, so kyokad parses it as untrusted input: anything
 * else is -EBADMSG, and a scan whose worker said anything malformed has failed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SCAN_LINE_MAX 2048
#define SCAN_OUTPUT_MAX (64u * 1024)  /* all of a worker's output; more is a failure */
#define SCAN_TEXT_MAX 128             /* engine and database version */
#define SCAN_SIGNATURE_MAX 256
#define SCAN_PATH_MAX 1024

enum scan_result {
        SCAN_RESULT_CLEAN,
        SCAN_RESULT_INFECTED,
        SCAN_RESULT_FAULT,
        _SCAN_RESULT_MAX,
};

/* Why a medium stays held. The names are the reason codes of `scan-held` records: stable. */
enum scan_fault {
        SCAN_FAULT_NONE,
        SCAN_FAULT_SCANNER_MISSING,   /* clamd's socket is not there, or refuses connections */
        SCAN_FAULT_SCANNER_ERROR,     /* clamd answered an error, or something else than expected */
        SCAN_FAULT_SCANNER_TIMEOUT,   /* clamd did not answer in time */
        SCAN_FAULT_DATABASE_UNKNOWN,  /* clamd does not say how old its signatures are, and the policy bounds that */
        SCAN_FAULT_DATABASE_OLD,      /* older than the policy's max_database_days */
        SCAN_FAULT_TIME_EXCEEDED,     /* the scan took longer than max_seconds */
        SCAN_FAULT_SIZE_EXCEEDED,     /* the medium's files hold more than max_megabytes */
        SCAN_FAULT_UNMOUNTABLE,       /* a file system kyoka cannot mount read-only (or none at all) */
        SCAN_FAULT_UNREADABLE,        /* a file or directory could not be read */
        SCAN_FAULT_NO_MEDIUM,         /* no block device to scan */
        SCAN_FAULT_WORKER,            /* the worker could not run, crashed or said something malformed */
        _SCAN_FAULT_MAX,
};

const char *scan_result_to_string(enum scan_result r);  /* "clean", "infected", "fault" */
const char *scan_fault_to_string(enum scan_fault f);    /* "none", "scanner-missing", ... */
int scan_fault_from_string(const char *s, size_t n, enum scan_fault *ret);

enum scan_message_kind {
        SCAN_MSG_PROGRESS,
        SCAN_MSG_ENGINE,
        SCAN_MSG_INFECTED,
        SCAN_MSG_RESULT,
};

struct scan_message {
        enum scan_message_kind kind;
        uint64_t files, bytes;                /* PROGRESS, RESULT */
        int64_t database_time;                /* ENGINE */
        char text[SCAN_TEXT_MAX];             /* ENGINE */
        char signature[SCAN_SIGNATURE_MAX];   /* INFECTED */
        char path[SCAN_PATH_MAX];             /* INFECTED */
        enum scan_result result;              /* RESULT */
        enum scan_fault fault;                /* RESULT: NONE unless result is FAULT */
        int error;                            /* RESULT: an errno (positive) or 0 */
};

/* One line, LINE's N bytes without the newline. 0 or -EBADMSG (nothing written to RET). */
int scan_message_parse(const char *line, size_t n, struct scan_message *ret);

/* The line for M, with its newline, into BUF (SCAN_LINE_MAX + 1 bytes): its length, or
 * -EINVAL if M cannot be said (text not sanitised, a space in the signature, too long). */
int scan_message_format(const struct scan_message *m, char *buf, size_t size);

/* The request kyokad sends to the scan service (systemd/kyoka-scan.socket, one connection per
 * scan: `kyokad --scan-worker --request-on-stdin`), one line:
 *   scan MAX_SECONDS MAX_BYTES MAX_DATABASE_AGE CLAMD_SOCKET SYSPATH
 * (decimal numbers without leading zeros, MAX_SECONDS 1..86400; absolute paths without spaces,
 * "//", "/./" or "/../", SYSPATH below /sys/). The socket is root's alone, but the worker
 * parses the line as strictly as the lines it writes are parsed. */
#define SCAN_REQUEST_MAX 1024
struct scan_request {
        uint64_t max_seconds, max_bytes, max_database_age;
        char clamd_socket[108];       /* sun_path */
        char syspath[512];
};
/* LINE's N bytes without the newline. 0 or -EBADMSG (nothing written to RET). */
int scan_request_parse(const char *line, size_t n, struct scan_request *ret);
/* The line for R with its newline into BUF (SCAN_REQUEST_MAX + 1 bytes): its length, or -EINVAL. */
int scan_request_format(const struct scan_request *r, char *buf, size_t size);
