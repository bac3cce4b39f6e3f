/* SPDX-License-Identifier: MIT */
/* The carry-out record (docs/ARCHITECTURE.md "The carry-out record", issue 15 part 2): every
 * file closed after writing on a mounted file system of an approved medium, and every file read
 * from one, is recorded through the recorder with its path on the medium, size, the user and
 * process, the permit; a written file with its SHA-256.
 *
 * Where the mounts come from: /proc/self/mountinfo, watched with EPOLLPRI (the kernel signals
 * a change of the mount table there; no polling). Each mount whose block device lies under a
 * USB device, or is a medium on another bus (an SD card, an NVMe or SATA disk, media.h), that
 * lookup() calls approved gets one fanotify mark on its file system
 * (FAN_MARK_FILESYSTEM: every mount of it, bind mounts included).
 *
 * Off the loop: hashing (and the user's name, NSS) runs on one worker thread. The queue to it
 * is bounded (CARRY_QUEUE_MAX files, each holding the descriptor the kernel opened); when it is
 * full kyokad stops reading fanotify until it has drained, so the kernel's own queue (16384
 * events) takes the burst. A rewrite of a file still waiting is coalesced into its entry (the
 * record's count). What is dropped all the same (the kernel's queue overflowed, memory ran out)
 * is recorded as files-lost, counted; never silently.
 *
 * Files written to a medium whose permit says scan = "in-and-out" are scanned too, on the same
 * thread after hashing (clamd.h, FILDES: the descriptor the kernel opened for the event): the
 * record says what clamd found, and the owner acts on it (usb-devices.c: infected de-authorises
 * the medium, a scan that cannot be done holds it).
 *
 * Where the records go is the caller's (struct carry_output): kyokad run directly hands them to
 * its recorder; the carry-out worker (`kyokad --carry-worker`, carry-worker.c, kyoka-carry.service)
 * sends them to kyokad over a socket (carry-protocol.h), and kyokad records them (carry-link.c).
 * The fanotify logic is this one file either way. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "identity.h"
#include "policy.h"
#include "policy-match.h"
#include "recorder.h"

#define CARRY_QUEUE_MAX 1024          /* files queued or being hashed (each holds an fd) */
#define CARRY_MOUNTINFO_MAX (8U << 20)

struct carry;

/* The approved medium a block device (its /sys/devices path) belongs to: 0 and RET filled, or
 * -ENOENT (not a medium kyokad gave access to: nothing is recorded there). In the carry-out
 * worker only TOKEN is known (kyokad's name for the approval, carry-protocol.h); kyokad fills in
 * the rest from its own state when the record comes back. */
#define CARRY_SOCKET_MAX 108         /* clamd's socket path, with its NUL (sun_path) */
struct carry_scan {
        bool enabled;                 /* scan = "in-and-out": each file written is scanned */
        uint32_t max_seconds;         /* one file's scan, 1.. */
        uint64_t max_bytes;           /* a larger file is not scanned: size-exceeded */
        uint32_t max_database_age;    /* seconds; 0: not checked */
        char clamd_socket[CARRY_SOCKET_MAX];
};
struct carry_medium_info {
        struct usb_identity id;       /* a USB device; unused when MEDIUM says another bus */
        bool other_bus;               /* a medium on another bus (media.h): MEDIUM names it */
        struct media_identity medium;
        char permit[POLICY_STRING_MAX];
        enum policy_verdict verdict;
        uint32_t token;
        struct carry_scan scan;
};
/* What names INFO's medium in a record_file (NULL INFO: none): its USB identity, or its identity
 * as the media records give it (a medium on another bus). */
static inline const struct usb_identity *carry_medium_usb(const struct carry_medium_info *info) {
        return info && !info->other_bus ? &info->id : NULL;
}
static inline const struct media_identity *carry_medium_media(const struct carry_medium_info *info) {
        return info && info->other_bus ? &info->medium : NULL;
}
/* For the journal: "USB device 1-2" or "medium mmcblk0". */
static inline void carry_medium_describe(const struct carry_medium_info *info, char *buf, size_t size) {
        if (info->other_bus)
                snprintf(buf, size, "medium %s", info->medium.name);
        else
                snprintf(buf, size, "USB device %s", info->id.bus_path);
}
typedef int (*carry_lookup_t)(const char *block_syspath, struct carry_medium_info *ret, void *userdata);

/* Where records go. FILE: a file written or read, or files lost (MEDIUM NULL: no medium could be
 * named; F's usb, permit and verdict are MEDIUM's). FAULT: a medium cannot be watched (or memory
 * ran out); MESSAGE is English for the journal. Both called on the loop. */
struct carry_output {
        void (*file)(void *userdata, const struct carry_medium_info *medium, const struct record_file *f);
        void (*fault)(void *userdata, const struct carry_medium_info *medium, enum record_fault fault, int error,
                      const char *message);
};

/* Starts the hashing thread and the watches and marks what is mounted now. OUT outlives the
 * result; USERDATA goes to LOOKUP and OUT's functions. */
int carry_new(sd_event *e, const struct carry_output *out, carry_lookup_t lookup, void *userdata, struct carry **ret);
/* Decisions changed (a device decided, a policy reloaded): marks the mounts again. */
void carry_refresh(struct carry *c);
/* Stops reading new events, lets the worker finish what is queued and records it. */
void carry_stop(struct carry *c);
struct carry *carry_free(struct carry *c);

/* ---- exposed for the unit tests ---- */

/* One mount of /proc/self/mountinfo: device, root of the mount in its file system, mount point
 * (octal escapes decoded). Pointers into the line, which is modified. -EBADMSG for a malformed
 * line. */
struct carry_mount {
        unsigned major, minor;
        const char *root;
        const char *mount_point;
};
int carry_mountinfo_parse_line(char *line, struct carry_mount *ret);

/* The path of a file on the medium: DEVNAME + the file's path in its file system, from the path
 * kyokad's namespace sees (PATH, readlink of the event's fd) and the mount it lies under:
 * "/media/u/STICK/a/b" under mount point "/media/u/STICK" with root "/" on sdb1 ->
 * "sdb1/a/b". -ENOENT if PATH is not under MOUNT_POINT. */
int carry_medium_path(const char *devname, const char *root, const char *mount_point, const char *path, char *buf,
                      size_t size);
