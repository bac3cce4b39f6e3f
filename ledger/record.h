/* SPDX-License-Identifier: MIT */
/* One ledger record: what kyokad decided or what went wrong, with who, where and when, and its
 * canonical encoding (docs/ledger.md, "Canonical encoding"), the bytes the chain hashes.
 *
 * Every text field has a fixed bound and holds sanitised text (valid UTF-8, no control
 * characters, anything else escaped as \xHH: see identity_sanitize()): device strings are
 * attacker-controlled and end up in spreadsheets and reports. ledger_text_set() is the one way
 * in; it is idempotent on text that is already sanitised. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

/* The canonical encoding written for new records. Versions 1 (no count), 2 (no media fields),
 * 3 (no wireless fields) and 4 (no scan and file fields) are still read: records keep the version
 * they were stored in (struct ledger_record.version). */
#define LEDGER_ENCODING_VERSION 5
#define LEDGER_ENCODING_VERSION_MIN 1
#define LEDGER_HASH_SIZE 32
#define LEDGER_HASH_HEX (2 * LEDGER_HASH_SIZE + 1)

/* Bounds in bytes including the NUL. */
#define LEDGER_ID_MAX 33              /* boot id, machine id: 32 hex digits */
#define LEDGER_HOSTNAME_MAX 256
#define LEDGER_HEX4_MAX 5             /* "0781" */
#define LEDGER_INTERFACES_MAX (USB_INTERFACES_MAX * 9 + 1)
#define LEDGER_MAC_MAX 18
#define LEDGER_TEXT_MAX 256           /* reason, permit, signer */
#define LEDGER_USER_MAX 64
#define LEDGER_MESSAGE_MAX 1024
#define LEDGER_WIRELESS_MODE_MAX 16   /* "p2p-client" */
#define LEDGER_SECURITY_MAX 16        /* "wpa2-enterprise" */
#define LEDGER_BUS_MAX 16             /* "optical" */
#define LEDGER_SCANNER_MAX 128        /* "ClamAV 1.4.6/27480/Mon Dec  1 08:27:01 2026" */
#define LEDGER_FILE_PATH_MAX 1024     /* a file on a medium: "sdb1/報告書/2026-11.xlsx" */
#define LEDGER_SHA256_MAX 65          /* 64 hex digits */
#define LEDGER_PROCESS_MAX 16         /* the kernel's comm */
/* The largest canonical encoding: every field at its bound plus its 4-byte length. */
#define LEDGER_ENCODING_MAX 8192
#define ISO8601_MAX_LEDGER 32          /* "2026-11-16T09:15:02+09:00" */

enum ledger_subject {
        LEDGER_SUBJECT_USB,
        LEDGER_SUBJECT_NETWORK,
        LEDGER_SUBJECT_POLICY,
        LEDGER_SUBJECT_DAEMON,
        LEDGER_SUBJECT_LEDGER,        /* the ledger's own faults: delays, losses, pruning */
        LEDGER_SUBJECT_MEDIA,         /* removable storage not on USB: SD cards, discs, NVMe, SATA (version 3) */
        _LEDGER_SUBJECT_MAX,
};

/* Stable names (they are hashed): never renumber, never rename, only add. */
enum ledger_event {
        LEDGER_EVENT_CONNECTED,           /* usb: first decision for a device */
        LEDGER_EVENT_REEVALUATED,         /* usb/network: decided again (policy change, time boundary) */
        LEDGER_EVENT_REMOVED,             /* usb/network */
        LEDGER_EVENT_APPEARED,            /* network: first decision for a link */
        LEDGER_EVENT_VIOLATION,           /* network: a blocked link was set up, forced down */
        LEDGER_EVENT_POLICY_LOADED,       /* policy: a policy (with its approvals) took effect */
        LEDGER_EVENT_POLICY_REFUSED,      /* policy: bad signature, rollback, expired, other host */
        LEDGER_EVENT_PERMIT_EXPIRED,      /* policy: a permit's validity ended */
        LEDGER_EVENT_STARTED,             /* daemon */
        LEDGER_EVENT_STOPPED,             /* daemon */
        LEDGER_EVENT_UNCLEAN_SHUTDOWN,    /* daemon: found at start: the last run did not stop */
        LEDGER_EVENT_ENFORCEMENT_FAILED,  /* daemon: a decision could not be enforced */
        LEDGER_EVENT_CLOCK_JUMP,          /* daemon */
        LEDGER_EVENT_FAULT,               /* daemon: any other fault */
        LEDGER_EVENT_LEDGER_DELAYED,      /* ledger: records waited in memory while the database failed */
        LEDGER_EVENT_LEDGER_LOST,         /* ledger: records dropped because the queue was full */
        LEDGER_EVENT_LEDGER_PRUNED,       /* ledger: records past retention (and exported) deleted */
        LEDGER_EVENT_MEDIUM_INSERTED,     /* media: a disc went into an optical drive, decided */
        LEDGER_EVENT_MEDIUM_REMOVED,      /* media: the disc came out */
        LEDGER_EVENT_FIXED_DISK,          /* media: a disk of the workstation itself, never touched (at start) */
        LEDGER_EVENT_WIRELESS_JOINED,     /* network: a wireless link joined a network, decided (block: cut off) (version 4) */
        LEDGER_EVENT_WIRELESS_LEFT,       /* network: an approved association ended (version 4) */
        LEDGER_EVENT_SCAN_PASSED,         /* usb/media: the virus scan found nothing: the permitted access is given (version 5) */
        LEDGER_EVENT_SCAN_INFECTED,       /* usb/media: the scan found a virus: de-authorised (signature, file_path) */
        LEDGER_EVENT_SCAN_HELD,           /* usb/media: the scan could not finish: held (read-only, root's), reason the fault */
        LEDGER_EVENT_FILE_WRITTEN,        /* usb/media: a file closed after writing on an approved medium (carry-out) */
        LEDGER_EVENT_FILE_READ,           /* usb/media: a file read from it (carry-in) */
        LEDGER_EVENT_FILES_LOST,          /* usb/media: file events the kernel or kyokad dropped (count) */
        _LEDGER_EVENT_MAX,
};

/* The reason codes of records that are not decisions: kyokad writes them, the export reads them,
 * nothing reads the message to tell records apart. Stable (hashed): only add.
 *   policy-loaded:     how the policy came into force */
#define LEDGER_REASON_POLICY_ACCEPTED "accepted"          /* a new policy from the configuration */
#define LEDGER_REASON_POLICY_UNCHANGED "unchanged"        /* the one in force, read again */
#define LEDGER_REASON_POLICY_ACCEPTED_COPY "accepted-copy" /* the one offered refused: the last accepted copy */
/*   permit-expired (subject policy): the policy in force ended */
#define LEDGER_REASON_POLICY_EXPIRED "expired"
/*   unclean-shutdown: what the last run's end looks like */
#define LEDGER_REASON_KILLED "killed"                     /* same boot: killed or crashed */
#define LEDGER_REASON_MACHINE_DOWN "machine-down"         /* another boot: power cut, crash, reset */
#define LEDGER_REASON_UNKNOWN_END "unknown"               /* the last run's boot is not known */
/*   a fault: the fault's name (daemon/recorder.h, enum record_fault), and for the refusal of a
 *   policy the cause after a colon, "policy-refused:bad-signature" (policy_load_error_to_string) */
#define LEDGER_REASON_CAUSE_SEPARATOR ':'

enum ledger_decision {
        LEDGER_DECISION_NONE,
        LEDGER_DECISION_ALLOW,
        LEDGER_DECISION_READ_ONLY,
        LEDGER_DECISION_BLOCK,
        _LEDGER_DECISION_MAX,
};

enum ledger_outcome {
        LEDGER_OUTCOME_DONE,
        LEDGER_OUTCOME_FAILED,            /* with error_number */
        _LEDGER_OUTCOME_MAX,
};

struct ledger_record {
        /* The canonical encoding this record is stored in: a record re-encodes in its own version,
         * so records written before version 2 keep their hashes. ledger_record_init() and
         * ledger_append() set LEDGER_ENCODING_VERSION; 0 means that too. */
        uint8_t version;
        int64_t seq;                      /* assigned when committed, from 1 */
        int64_t time;                     /* UTC, seconds since the epoch (CLOCK_REALTIME) */
        int64_t time_nsec;                /* 0..999999999 */
        int64_t utc_offset;               /* local offset then, seconds east of UTC */
        char boot_id[LEDGER_ID_MAX];
        char hostname[LEDGER_HOSTNAME_MAX];
        char machine_id[LEDGER_ID_MAX];
        enum ledger_subject subject;
        enum ledger_event event;
        /* How many events of this kind and subject the record stands for, >= 1: 1 for an
         * ordinary record, N for one that counts N events of a burst (a blocked link set up again
         * and again) instead of one record each. Version 1 records stand for one event. */
        int64_t count;
        /* usb */
        char vendor[LEDGER_HEX4_MAX];
        char product[LEDGER_HEX4_MAX];
        char serial[USB_STRING_MAX];
        char manufacturer[USB_STRING_MAX];
        char product_name[USB_STRING_MAX];
        char bus_path[USB_PATH_MAX];
        char interfaces[LEDGER_INTERFACES_MAX]; /* "08:06:50,03:01:02" */
        /* network */
        char ifname[NET_NAME_MAX];
        char mac[LEDGER_MAC_MAX];
        char link_kind[NET_KIND_MAX];
        char link_path[NET_PATH_MAX];
        char driver[NET_DRIVER_MAX];
        /* policy */
        int64_t policy_serial;            /* 0: none */
        char signer[LEDGER_TEXT_MAX];     /* key name and fingerprint */
        /* decision */
        enum ledger_decision decision;
        char reason[LEDGER_TEXT_MAX];
        char permit[LEDGER_TEXT_MAX];
        /* who was at the active seat: uid -1 and "" for nobody */
        int64_t uid;
        char user[LEDGER_USER_MAX];
        enum ledger_outcome outcome;
        int64_t error_number;             /* errno (positive) when failed, else 0 */
        char message[LEDGER_MESSAGE_MAX];
        /* media (since version 3; "" in every other record). Its vendor, model and serial go
         * into manufacturer, product_name and serial, which mean the same for a USB device. */
        char bus[LEDGER_BUS_MAX];         /* "mmc", "optical", "nvme", "ata", "scsi", "virtio" */
        char device_name[MEDIA_NAME_MAX]; /* the disk's kernel name, "mmcblk0" */
        char device_path[MEDIA_PATH_MAX]; /* its port: udev's ID_PATH form */
        char oemid[MEDIA_SHORT_MAX];      /* an SD card's OEM id */
        char manufacture_date[MEDIA_SHORT_MAX]; /* an SD card's manufacturing date, "02/2006" */
        /* wireless (since version 4; "" in every other record): the link's mode, and the network
         * a wireless-joined/-left record is about. The SSID is sanitised text (any 32 bytes:
         * \xHH for what is not printable UTF-8, a backslash too, so the bytes can be read back). */
        char wireless_mode[LEDGER_WIRELESS_MODE_MAX];
        char ssid[WIRELESS_SSID_TEXT_MAX];
        char bssid[LEDGER_MAC_MAX];
        char security[LEDGER_SECURITY_MAX];
        /* scan and files (since version 5; 0 and "" in every other record) */
        int64_t files;                    /* scan: files scanned */
        int64_t bytes;                    /* scan: bytes scanned; file: its size */
        int64_t duration_ms;              /* scan: how long it took */
        char scanner[LEDGER_SCANNER_MAX]; /* scan: the engine and signature database, as clamd names them */
        char signature[LEDGER_TEXT_MAX];  /* scan-infected: what it found */
        char file_path[LEDGER_FILE_PATH_MAX]; /* scan-infected, file-*: the file, relative to the medium */
        char sha256[LEDGER_SHA256_MAX];   /* file-written: its contents' SHA-256 */
        int64_t pid;                      /* file-*: the process (0: not known) */
        char process[LEDGER_PROCESS_MAX]; /* file-*: its name */
};

/* The fields in canonical order, for the encoding, the database columns, JSON and verification.
 * Exposed so that every writer and reader walks the same table. */
enum ledger_field_type {
        LEDGER_FIELD_INT,                 /* int64_t, encoded as 8 bytes big-endian two's complement */
        LEDGER_FIELD_TEXT,                /* char[size], encoded as its UTF-8 bytes */
        LEDGER_FIELD_ENUM,                /* int, encoded as its name */
};

struct ledger_field {
        const char *name;                 /* JSON key and column name */
        uint8_t since;                    /* the encoding version that added it */
        enum ledger_field_type type;
        size_t offset;
        size_t size;                      /* TEXT: buffer size */
        const char *const *names;         /* ENUM: names, indexed by value */
        size_t n_names;
};

#define LEDGER_FIELDS_COUNT 50             /* ledger_fields_count, for arrays of one entry a field */
extern const struct ledger_field ledger_fields[];
extern const size_t ledger_fields_count;

const char *ledger_subject_to_string(enum ledger_subject s);
const char *ledger_event_to_string(enum ledger_event e);
const char *ledger_decision_to_string(enum ledger_decision d);
const char *ledger_outcome_to_string(enum ledger_outcome o);
/* -EINVAL for an unknown name. */
int ledger_event_from_string(const char *s, enum ledger_event *ret);

/* Whether a record belongs to the fault records (Niigata art. 19-2 "障害記録"): everything about
 * kyokad itself (start, stop, unclean shutdown, clock jumps, faults) and the ledger, refused
 * policies, and any failed enforcement. The rest are usage records (使用記録). */
bool ledger_record_is_fault(const struct ledger_record *r);

/* Copies SRC into DST (SIZE bytes) as sanitised text, truncated at a character boundary.
 * "\xHH" escapes already in SRC are kept as they are, so that text sanitised once (by
 * usb-identity, say) is not escaped twice. Returns the length written. */
size_t ledger_text_set(char *dst, size_t size, const char *src);

/* A new record of SUBJECT/EVENT stamped with the current time and local offset (seq 0, uid -1,
 * count 1, outcome done, the current encoding version). Host fields are the caller's
 * (ledger_host_fill()). */
void ledger_record_init(struct ledger_record *r, enum ledger_subject subject, enum ledger_event event);

/* Sets hostname, machine id and boot id from this machine (/etc/machine-id,
 * /proc/sys/kernel/random/boot_id). Missing files leave the field empty. */
void ledger_host_fill(struct ledger_record *r);

/* Copies a device's or link's identity into R (sanitising again where needed). */
void ledger_record_set_usb(struct ledger_record *r, const struct usb_identity *id);
void ledger_record_set_net(struct ledger_record *r, const struct net_identity *id);
/* The network of a wireless record (ssid, bssid, security). */
void ledger_record_set_wireless(struct ledger_record *r, const struct wireless_network *n);
void ledger_record_set_media(struct ledger_record *r, const struct media_identity *id);

/* Re-sanitises every text field in place and checks enums and numbers: what ledger_append() does
 * with whatever the caller filled in. A count below 1 becomes 1 (the record is there, so it
 * stands for at least its own event; refusing it would lose it), version 0 becomes
 * LEDGER_ENCODING_VERSION. -EINVAL for an invalid enum, a time_nsec or utc_offset out of range,
 * an unknown version, a version 1 record with a count other than 1, or a record with a field set
 * that its version does not have (a media field before version 3, a wireless field before 4, a
 * scan or file field before 5: its version cannot say it). */
int ledger_record_normalise(struct ledger_record *r);

/* Whether ledger_record_normalise() would accept R and leave every byte of it as it is: what a
 * record read back from a file must be (it was written normalised), without a copy. */
bool ledger_record_is_normal(const struct ledger_record *r);

/* The canonical encoding of R, in R's version, into BUF (at least LEDGER_ENCODING_MAX bytes);
 * returns its length. R must be normalised. */
size_t ledger_record_encode(const struct ledger_record *r, uint8_t *buf);

/* The inverse, for every version from LEDGER_ENCODING_VERSION_MIN (the version is kept in the
 * record; a version 1 record has count 1): -EBADMSG for anything that is not exactly one
 * record's encoding (unknown version, field count, lengths, enum names, unsanitised text, a
 * count below 1). */
int ledger_record_decode(const uint8_t *buf, size_t size, struct ledger_record *ret);
/* The same, filling RET in place (no copy of a 5 KiB record per record of a walk): after a
 * failure RET holds whatever was decoded so far. RET_LENGTHS (NULL, or LEDGER_FIELDS_COUNT
 * entries) gets each text and enum field's length in bytes, as strlen() would give it (0 for a
 * field RET's version does not have). */
int ledger_record_decode_into(const uint8_t *buf, size_t size, struct ledger_record *ret, uint16_t *ret_lengths);

/* SHA-256(PREV_HASH || ENCODING). */
int ledger_chain_hash(const uint8_t prev[static LEDGER_HASH_SIZE], const uint8_t *encoding, size_t size,
                      uint8_t ret[static LEDGER_HASH_SIZE]);

/* The same with a context made once for a whole walk of the chain (verification: a million
 * records; OpenSSL's context and digest lookup are most of a short hash's cost). */
struct ledger_hasher;
int ledger_hasher_new(struct ledger_hasher **ret);
struct ledger_hasher *ledger_hasher_free(struct ledger_hasher *h);
static inline void ledger_hasher_freep(struct ledger_hasher **h) {
        if (*h)
                ledger_hasher_free(*h);
}
int ledger_hasher_chain(struct ledger_hasher *h, const uint8_t prev[static LEDGER_HASH_SIZE], const uint8_t *encoding,
                        size_t size, uint8_t ret[static LEDGER_HASH_SIZE]);

/* The record as one JSON object (json-c), fields in canonical order, plus prev_hash and hash in
 * hex when given (NULL to leave them out). A version 2 record starts with "version": 2 and has
 * "count"; a version 1 record has neither (exactly what was written before version 2). */
struct json_object;
int ledger_record_to_json(const struct ledger_record *r, const uint8_t *prev_hash, const uint8_t *hash,
                          struct json_object **ret);
/* Reads a record back from such an object (every field of its version required, text must be
 * sanitised and fit): no "version" key is version 1 and must have no "count"; "version": 2
 * must have a "count" >= 1. prev_hash/hash are read when the pointers are not NULL. -EBADMSG on
 * any mismatch. */
int ledger_record_from_json(struct json_object *o, struct ledger_record *ret, uint8_t *ret_prev_hash,
                            uint8_t *ret_hash);

/* The same object as ledger_record_to_json() with both hashes, serialised byte for byte as
 * json-c writes it with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (records.jsonl's
 * line, without its LF), into BUF (LEDGER_JSONL_MAX bytes), without building the object; returns
 * its length. The fuzz targets hold the two to the same bytes. */
#define LEDGER_JSONL_MAX (64u << 10)
size_t ledger_record_to_jsonl(const struct ledger_record *r, const uint8_t prev_hash[static LEDGER_HASH_SIZE],
                              const uint8_t hash[static LEDGER_HASH_SIZE], char *buf);
/* Reads LINE (LEN bytes, no LF) back when it is exactly what ledger_record_to_jsonl() writes for
 * the record it holds (checked by writing it again), with the checks ledger_record_from_json()
 * makes: the same record and hashes json-c and ledger_record_from_json() would give. -EBADMSG
 * for any other line, which the caller reads with json-c (another form, or not a record). */
int ledger_record_from_jsonl(const char *line, size_t len, struct ledger_record *ret,
                             uint8_t ret_prev_hash[static LEDGER_HASH_SIZE], uint8_t ret_hash[static LEDGER_HASH_SIZE]);

/* "2026-11-16T09:15:02+09:00" in the record's own offset. -EINVAL for a time or offset out of
 * range (BUF then holds ""). */
int ledger_record_format_time(const struct ledger_record *r, char *buf, size_t size);
