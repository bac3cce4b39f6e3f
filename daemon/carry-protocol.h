/* SPDX-License-Identifier: MIT */
/* What kyokad and the carry-out worker (`kyokad --carry-worker`, kyoka-carry.service) say to each
 * other on RUNTIME_DIR/carry (AF_UNIX, SOCK_SEQPACKET: one message per packet, at most
 * CARRY_MESSAGE_MAX bytes). docs/ARCHITECTURE.md "The carry-out record".
 *
 *     kyokad -> worker   MEDIUM token syspath scan  a USB device kyokad gave access to: record the
 *                                                 file systems of block devices below SYSPATH (and
 *                                                 scan each file written, with SCAN's socket and bounds)
 *                        FORGET token             no longer (mounts marked stay until unmounted)
 *     worker -> kyokad   HELLO                    first, once
 *                        FILE token ...           a file written or read, or files lost
 *                        FAULT token fault error  a medium cannot be watched, memory ran out
 *
 * Binary, little-endian: "KYCO", version (u16), type (u16), then the type's fields in order;
 * strings are a u16 length and that many bytes (no NUL in them), each with its own bound. A
 * message is exactly its fields: anything more or less, an unknown version, type or value is
 * -EBADMSG. kyokad parses what the worker says as untrusted input: the worker reads files an
 * attacker chose and runs with CAP_SYS_ADMIN apart from kyokad. Its names are not trusted
 * either: the medium a record is about is the token kyokad issued, never a name the worker
 * sends. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan-protocol.h"

#define CARRY_PROTOCOL_VERSION 2     /* 2: the scan of files written (scan = "in-and-out") */
#define CARRY_MESSAGE_MAX 2048
#define CARRY_SYSPATH_MAX 512          /* with its NUL */
#define CARRY_PATH_MAX 1024            /* with its NUL: the record's path on the medium */
#define CARRY_PROCESS_MAX 16           /* /proc/PID/comm, with its NUL */
#define CARRY_USER_MAX 64
#define CARRY_SHA256_MAX 65

enum carry_message_type {
        CARRY_MSG_HELLO = 1,
        CARRY_MSG_MEDIUM = 2,
        CARRY_MSG_FORGET = 3,
        CARRY_MSG_FILE = 4,
        CARRY_MSG_FAULT = 5,
};

/* FILE's kind (recorder.h's enum file_record_event, by value). */
enum carry_file_event {
        CARRY_FILE_WRITTEN,
        CARRY_FILE_READ,
        CARRY_FILE_LOST,
        _CARRY_FILE_MAX,
};

/* FILE's reason: typed on the wire, the record's text in kyokad (carry_reason_to_string). */
enum carry_reason {
        CARRY_REASON_NONE,
        CARRY_REASON_PROCESS_GONE,
        CARRY_REASON_QUEUE_OVERFLOW,
        CARRY_REASON_UNREADABLE_EVENT,
        CARRY_REASON_OUT_OF_MEMORY,
        _CARRY_REASON_MAX,
};
const char *carry_reason_to_string(enum carry_reason r);   /* "", "process-gone", ... */
int carry_reason_from_string(const char *s, enum carry_reason *ret);

/* FAULT's kind. */
enum carry_fault {
        CARRY_FAULT_WATCH,            /* fanotify_mark refused */
        CARRY_FAULT_OOM,
        _CARRY_FAULT_MAX,
};

struct carry_message {
        enum carry_message_type type;
        uint32_t token;                         /* MEDIUM, FORGET, FILE, FAULT; 0 in FILE/FAULT: no medium */
        char syspath[CARRY_SYSPATH_MAX];        /* MEDIUM: "/sys/devices/..." */
        /* FILE */
        enum carry_file_event ev;
        enum carry_reason reason;
        uint32_t error;                         /* FILE, FAULT: a positive errno or 0 (< 4096) */
        int64_t size;                           /* >= 0 */
        uint64_t count;                         /* >= 1 */
        int64_t time_usec;                      /* >= 0 */
        int64_t pid;                            /* >= 0 */
        int64_t uid;                            /* >= -1 */
        char path[CARRY_PATH_MAX];
        char sha256[CARRY_SHA256_MAX];          /* "" or 64 lowercase hex digits */
        char process[CARRY_PROCESS_MAX];
        char user[CARRY_USER_MAX];
        /* FILE written on a medium whose files are scanned: SCAN is 0 (not asked) or 1 + enum
         * scan_result; SCAN_FAULT (FAULT only) and SCAN_ERROR (< 4096); SCANNER and SIGNATURE
         * (INFECTED only, not empty) as clamd said them. */
        uint8_t scan;
        enum scan_fault scan_fault;
        uint32_t scan_error;
        char scanner[SCAN_TEXT_MAX];
        char signature[SCAN_SIGNATURE_MAX];
        /* MEDIUM: whether and how files written there are scanned (SCAN_ENABLED: the bounds are
         * > 0 but the database age, and the socket an absolute path) */
        bool scan_enabled;
        uint32_t scan_max_seconds;
        uint64_t scan_max_bytes;
        uint32_t scan_max_database_age;
        char clamd_socket[108];
        /* FAULT */
        enum carry_fault fault;
};

/* N bytes of one packet into RET (zeroed first): 0 or -EBADMSG. */
int carry_message_parse(const void *buf, size_t n, struct carry_message *ret);
/* M into BUF (CARRY_MESSAGE_MAX bytes): its length, or -EINVAL if M is not something
 * carry_message_parse() accepts (a string too long, a NUL missing, a value out of range). */
int carry_message_format(const struct carry_message *m, void *buf, size_t size);
