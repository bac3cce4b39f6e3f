/* SPDX-License-Identifier: MIT */
/* The recorder: the one way kyokad records what it decided and what went wrong. The manager owns
 * it and hands it to the modules that decide (usb-devices.c, net-links.c); nothing below it
 * records, and it calls nothing above it.
 *
 * Events are typed: a USB or network event (which ledger event it becomes follows from the
 * decision, never from message text), a policy event, a fault (enum record_fault: its name is
 * kept as the record's reason, its ledger subject and event come from one table), or one of
 * kyokad's own events. One field table per subject (a USB device, a network link) gives the
 * journal fields and the watchers' JSON; the ledger record takes the same identity.
 *
 * Each record goes
 *  1. at once to the journal: one structured entry with a stable MESSAGE_ID per kind of event
 *     (an independent copy, written before anything can go wrong with the ledger);
 *  2. to the ledger (ledger-sink.c): appended now and committed with everything else this turn
 *     of the loop recorded, by a deferred event source that runs before the loop takes new work
 *     (group commit: a storm of events is one transaction);
 *  3. after that commit, to the log (one line; stderr off systemd) and, as JSON, to the
 *     listener (the control socket's watchers): a decision is reported only once its record is
 *     on disk.
 * A failing ledger delays nothing: the reports go out anyway, a ledger-failing fault is recorded
 * once per episode, and a retry timer (1 s doubling to 30 s; none while healthy) commits again;
 * the first commit that succeeds writes everything with its original times. Main thread only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "identity.h"
#include "ledger.h"
#include "macro.h"
#include "policy-load.h"
#include "policy-match.h"
#include "scan-protocol.h"

/* journalctl MESSAGE_ID=... selects one kind of event; `journalctl -x` explains each from
 * catalog/kyoka.catalog (English) and kyoka.ja.catalog (Japanese), which name the same IDs
 * (tests/integration/test-catalog.sh). Made by `systemd-id128 new`; the ledger's records do not
 * carry them, so the hand-picked IDs of before (6b796f6b6101...) need no mapping there. */
#define KYOKA_MESSAGE_USB_DECISION  "600e48a098cf489b9e8ef701cf5e680b"
#define KYOKA_MESSAGE_USB_REMOVED   "bda76b89c21640b2b65dac569d875938"
#define KYOKA_MESSAGE_NET_DECISION  "2d67d216837b4ce79d1b4664372b9d76"
#define KYOKA_MESSAGE_NET_REMOVED   "1ff7b0f6e933443eb349c44a7bf23500"
#define KYOKA_MESSAGE_NET_VIOLATION "79e53049b90b47d5b0a68a4e9a5edd07"
#define KYOKA_MESSAGE_WIRELESS_JOINED "34224e0b4e7b4274964a9d248157de90"
#define KYOKA_MESSAGE_WIRELESS_LEFT "8960c34201724b8383ff30c02a59cad8"
#define KYOKA_MESSAGE_MEDIA_DECISION "1410e0f885bd4387bd7927073f9c681c"
#define KYOKA_MESSAGE_MEDIA_REMOVED "e42d1fc4adbc43e48190fb0d66323efc"
#define KYOKA_MESSAGE_MEDIA_FIXED   "d616470f433f46fe91fa74bdb57b97ff"
#define KYOKA_MESSAGE_SCAN          "a37976ff91534a5dba71a6a6567553a6"
#define KYOKA_MESSAGE_FILE          "0b54d56c3dd84d92ac43ea1ee79ab22b"
#define KYOKA_MESSAGE_POLICY        "5f9730e6b8684493b8c5f7bd3fdcc9e0"
#define KYOKA_MESSAGE_FAULT         "76acde0f90b442c79ab7192405d6b506"
#define KYOKA_MESSAGE_DAEMON        "c2269000c0cc4104a04d72b083020947"

#define RECORDER_RETRY_MIN_USEC (1ULL * 1000000ULL)
#define RECORDER_RETRY_MAX_USEC (30ULL * 1000000ULL)
/* The last faults kept in memory for `policyctl status`. */
#define RECORDER_FAULTS_KEPT 20
#define RECORD_REASON_MAX 640

enum usb_record_event {
        USB_RECORD_CONNECTED,         /* first decision for a device */
        USB_RECORD_REEVALUATED,       /* decision again after a policy change or a time boundary */
        USB_RECORD_REMOVED,
};

enum net_record_event {
        NET_RECORD_APPEARED,          /* first decision for a link (also for links present at start) */
        NET_RECORD_REEVALUATED,       /* decision again: policy change, time boundary, identity change */
        NET_RECORD_VIOLATION,         /* a blocked link was set up: set down again */
        NET_RECORD_REMOVED,
};

enum wireless_record_event {
        WIRELESS_RECORD_JOINED,       /* a client-mode link associated: approved, or refused and cut off */
        WIRELESS_RECORD_LEFT,         /* an approved association ended */
};

enum media_record_event {
        MEDIA_RECORD_CONNECTED,       /* first decision for a medium (also for those present at start) */
        MEDIA_RECORD_REEVALUATED,     /* decided again: policy change, time boundary */
        MEDIA_RECORD_REMOVED,
        MEDIA_RECORD_INSERTED,        /* a disc went into an optical drive: decided */
        MEDIA_RECORD_EJECTED,         /* the disc came out */
        MEDIA_RECORD_FIXED,           /* a disk of the workstation itself: never touched (the decision's
                                       * reason says why; its verdict is not used) */
};

enum policy_record_event {
        POLICY_RECORD_LOADED,         /* a new policy took effect (ledger policy-loaded, reason accepted) */
        POLICY_RECORD_UNCHANGED,      /* the policy in force was read again (policy-loaded, unchanged) */
        POLICY_RECORD_ACCEPTED_COPY,  /* the one offered was refused, the last accepted copy is in force */
        POLICY_RECORD_EXPIRED,        /* the policy in force ended: the lockdown applies (permit-expired) */
        _POLICY_RECORD_MAX,
};

/* Every fault kyokad knows. The name of each is kept as the ledger record's reason and never
 * changes (records are hashed evidence); recorder.c's table gives its ledger subject and event. */
enum record_fault {
        FAULT_ACCESS_FILE,
        FAULT_BLOCK_WATCH,
        FAULT_CLOCK_JUMP,
        FAULT_CLOCK_WATCH,
        FAULT_CONTROL_SOCKET,
        FAULT_CONTROLLER_LOCKDOWN,
        FAULT_DRIVER_BIND,
        FAULT_ENFORCE,
        FAULT_ENUMERATE,
        FAULT_IDENTITY,
        FAULT_LEDGER_FAILING,
        FAULT_MARKER,
        FAULT_NETWORK_ENUMERATE,
        FAULT_NETWORK_FIREWALL,
        FAULT_NETWORK_INSTALL_LIST,
        FAULT_NETWORK_UNENFORCED,
        FAULT_NETWORK_UNTRACKED,
        FAULT_OOM,
        FAULT_POLICY_COPY,
        FAULT_POLICY_COPY_REFUSED,
        FAULT_POLICY_FALLBACK,
        FAULT_POLICY_KEY,
        FAULT_POLICY_REFUSED,
        FAULT_READ_ONLY,
        FAULT_TIMER,
        FAULT_USB_BOOT_DEFAULT,
        FAULT_WIRELESS_WATCH,
        /* Media on other buses (media.c). */
        FAULT_MEDIA_ACCESS_FILE,
        FAULT_MEDIA_ENFORCE,
        FAULT_MEDIA_FIXED_NAMED,
        FAULT_MEDIA_IDENTITY,
        FAULT_MEDIA_INSTALL_LIST,
        FAULT_MEDIA_UNTRACKED,
        FAULT_MEDIA_WATCH,
        FAULT_CARRY_WATCH,            /* the carry-out record cannot watch (carry.c) */
        FAULT_CARRY_WORKER,           /* the carry-out worker is not there or misbehaves (carry-link.c) */
        _FAULT_MAX,
};
const char *record_fault_to_string(enum record_fault f);

/* What a record says of a decision, copied out of the struct policy_decision (whose entries
 * point into a policy that may be gone by the time a failed enforcement is recorded). */
struct record_decision {
        enum policy_verdict verdict;
        char reason[RECORD_REASON_MAX];           /* for humans: policy_decision_describe(), and why */
        char permit[POLICY_STRING_MAX];           /* the permit that decided, or "" */
        char expired_permit[POLICY_STRING_MAX];   /* blocked because this permit's window passed, or "" */
};
/* From DEC (NULL: no decision, e.g. a removal) with the final VERDICT and REASON. */
void record_decision_init(struct record_decision *ret, const struct policy_decision *dec, enum policy_verdict verdict,
                          const char *reason);

struct recorder;

/* Opens STATE_DIR's ledger (a ledger that cannot be opened is a fault, not a reason to stop
 * enforcing), records an unclean shutdown if the last run left its marker, records "started"
 * and writes the marker. Returns 0, or a negative errno only for what kyokad cannot run without
 * (memory, event sources). */
int recorder_new(sd_event *e, const char *state_dir, struct recorder **ret);
/* Records "stopped" (ERROR: why kyokad stops, 0 normally), commits once (a stop does not wait
 * for a failing disk), and removes the marker if everything reached the ledger. Nothing is
 * recorded after it. */
void recorder_stop(struct recorder *r, int error);
struct recorder *recorder_free(struct recorder *r);

/* The policy in force, stamped on every record from now on (0 and NULL: the lockdown). */
void recorder_set_policy(struct recorder *r, uint64_t serial, const char *signer);

/* Every record is handed, as a JSON object with the journal entry's fields (lowercase, without
 * KYOKA_: "event", "subject", "bus_path", "decision", ..., plus "message", "message_id",
 * "priority" and "time"), to one listener: the control socket's watchers. The object is
 * borrowed for the call. NULL removes the listener. */
struct json_object;
typedef void (*recorder_listener_t)(struct json_object *record, void *userdata);
void recorder_set_listener(struct recorder *r, recorder_listener_t listener, void *userdata);

/* A USB decision or removal. RESULT: 0, or the negative errno of a failed enforcement (then
 * also a fault). */
void recorder_usb(struct recorder *r, enum usb_record_event ev, const struct usb_identity *id,
                  const struct record_decision *d, int result);
/* A USB decision that enforcement follows: the journal entry and the ledger record now (the
 * ledger commits it before kyokad submits the sysfs writes), the report returned, to be emitted
 * with recorder_report_emit() once the enforcement has completed, or dropped with
 * record_report_free() (a failure is then recorded again with recorder_usb(.., result < 0)).
 * May return NULL (out of memory: the report has gone out at once). */
struct record_report;
struct record_report *recorder_usb_decided(struct recorder *r, enum usb_record_event ev,
                                           const struct usb_identity *id, const struct record_decision *d);
void recorder_report_emit(struct recorder *r, struct record_report *rep);
struct record_report *record_report_free(struct record_report *rep);

/* A network link's decision, removal or violation. COUNT: how many events the record stands
 * for (violations counted in a window; 1 otherwise). */
void recorder_net(struct recorder *r, enum net_record_event ev, const struct net_identity *id,
                  const struct record_decision *d, int result, uint64_t count);

/* A wireless association of LINK with NET: its decision (JOINED; a block was cut off, HOW says
 * how: "disconnected", "link set down") or its end (LEFT). RESULT: 0, or the negative errno of
 * a failed cut (then also a fault). COUNT: refused associations a window counted (1 otherwise).
 * The SSID is written sanitised and as hex, never raw. */
void recorder_wireless(struct recorder *r, enum wireless_record_event ev, const struct net_identity *link,
                       const struct wireless_network *net, const struct record_decision *d, const char *how, int result,
                       uint64_t count);

/* A medium's decision, insertion, removal, or a fixed disk's note. RESULT: 0, or the negative
 * errno of a failed enforcement (then also a fault). */
void recorder_media(struct recorder *r, enum media_record_event ev, const struct media_identity *id,
                    const struct record_decision *d, int result);

/* The virus scan of a medium that had to pass one (scan.c): passed (the permitted access is
 * given now), infected (de-authorised), or held (it could not finish: the medium stays
 * read-only and root's, FAULT names why: a scan_fault's name). One of USB and MEDIA is set. */
enum scan_record_event {
        SCAN_RECORD_PASSED,
        SCAN_RECORD_INFECTED,
        SCAN_RECORD_HELD,
        _SCAN_RECORD_MAX,
};
struct record_scan {
        enum scan_record_event ev;
        const struct usb_identity *usb;
        const struct media_identity *media;
        enum policy_verdict verdict;  /* what is enforced after it */
        const char *permit;           /* "" unless a permit decided */
        const char *fault;            /* HELD: the reason code */
        int error;                    /* HELD: an errno (positive) or 0 */
        uint64_t files, bytes, duration_ms;
        const char *scanner;          /* engine and database, "" when not known */
        const char *signature;        /* INFECTED */
        const char *file_path;        /* INFECTED: on the medium; CARRIED_OUT: the file written */
        bool carried_out;             /* about one file written to the medium (scan = "in-and-out") */
};
void recorder_scan(struct recorder *r, const struct record_scan *s);
/* A scan worker's outcome O for the medium BASE names (usb or media, and permit): clean is
 * scan-passed with ALLOWED (the access the permit gives), infected scan-infected with block,
 * anything else scan-held, read-only, with the fault. The counts and engine come from O. */
struct scan_outcome;
void recorder_scan_outcome(struct recorder *r, const struct record_scan *base, enum policy_verdict allowed,
                           const struct scan_outcome *o);
/* How many scans ended each way (enum scan_record_event) since kyokad started, USB and media. */
void recorder_scan_totals(const struct recorder *r, uint64_t ret[static _SCAN_RECORD_MAX]);

/* A file on an approved medium's file system (carry.c): written (carried out: its SHA-256),
 * read (carried in), or events lost (COUNT of them; REASON "queue-overflow": the kernel's
 * queue overflowed, each overflow counted once, the files it stood for not known;
 * "out-of-memory": COUNT files). The ledger's uid and user are the process's, not the seat's. */
enum file_record_event {
        FILE_RECORD_WRITTEN,
        FILE_RECORD_READ,
        FILE_RECORD_LOST,
};
struct record_file {
        enum file_record_event ev;
        const struct usb_identity *usb; /* NULL: not known (a loss no medium could be named for) */
        const struct media_identity *media; /* or a medium on another bus (USB NULL) */
        const char *permit;
        enum policy_verdict verdict;  /* the medium's access */
        const char *path;             /* on the medium, "sdb1/dir/file" (LOST: the file system) */
        int64_t size;
        const char *sha256;           /* WRITTEN: "" when the file could not be read (ERROR) */
        int error;                    /* positive errno */
        int64_t uid;                  /* -1: not known (the process was gone) */
        const char *user;
        int64_t pid;
        const char *process;
        uint64_t count;               /* closes coalesced into this record; LOST: events lost */
        const char *reason;           /* LOST */
        int64_t time_usec;            /* when the close was seen (CLOCK_REALTIME); 0: now */
        /* WRITTEN on a medium whose files are scanned (scan = "in-and-out"): the outcome. The
         * record names the scanner and what it found; what follows for the medium (de-authorised,
         * held) is the owner's, recorded as scan-infected or scan-held. */
        bool scan_asked;
        enum scan_result scan_result;
        enum scan_fault scan_fault;   /* FAULT: why */
        int scan_error;               /* FAULT: positive errno or 0 */
        const char *scanner;          /* engine and database, "" when not known */
        const char *signature;        /* INFECTED */
};
void recorder_file(struct recorder *r, const struct record_file *f);

void recorder_policy(struct recorder *r, enum policy_record_event ev, const char *message);

/* ERROR: an errno (either sign) or 0. */
void recorder_fault(struct recorder *r, enum record_fault f, int error, const char *format, ...) _printf_(4, 5);
/* A fault about a policy that was refused, with policy_load()'s typed CAUSE: the record's reason
 * is "FAULT:CAUSE" (ledger/record.h). */
void recorder_policy_refused(struct recorder *r, enum record_fault f, enum policy_load_error cause, int error,
                             const char *format, ...) _printf_(5, 6);

/* Commits what this turn of the loop recorded (unless the ledger is failing: then its retry
 * timer does), then reports it. Runs from a deferred source after every turn that recorded;
 * call it directly where a step must be durable before it is announced (kyokad ready, a reload
 * done). */
void recorder_flush(struct recorder *r);

/* The last RECORDER_FAULTS_KEPT faults (recorder_fault, and decisions whose enforcement
 * failed), oldest first, as a new JSON array; NULL on OOM. */
struct json_object *recorder_recent_faults(struct recorder *r);
/* The "ledger" object of `policyctl status`: path, records, last_seq, queued, lost, last
 * commit, the current error, and the export key (STATE_DIR/export.pub) if there is one. NULL on
 * OOM. */
struct json_object *recorder_ledger_status(struct recorder *r);
