/* SPDX-License-Identifier: MIT */
/* The workstation's own disks, which kyoka never touches (docs/ARCHITECTURE.md "Fixed disks").
 * A mistake here makes a workstation unusable, so the rule is one function that kyokad and the
 * udev helper both call, and in doubt it leaves a disk alone. A disk is fixed when
 *
 *  1. it holds the root file system (what /proc/self/mountinfo says "/" is mounted from, down
 *     through device-mapper and md to the disks), or a file system or device that /etc/fstab or
 *     /etc/crypttab names (UUID=, LABEL=, PARTUUID=, PARTLABEL= or a /dev path), or
 *  2. the signed policy lists it (fixed_disks; kyokad keeps the list in STATE_DIR/fixed-disks
 *     so that the helper knows it before kyokad runs), or
 *  3. it was present when kyokad first ran on the machine (STATE_DIR/disks-at-install, written
 *     once), unless it is on a bus whose media are removable by nature (SD cards, optical
 *     discs), or
 *  4. there is no such list (kyokad never ran, the state directory is not mounted yet, the
 *     list is unreadable) and it is not on such a bus: NVMe, SATA, SCSI and virtio disks are
 *     then left alone.
 * Everything else is a medium, decided by the policy. Partitions and the other disks of one
 * device (an eMMC's boot partitions) go with it.
 *
 * Nothing here logs or writes except media_fixed_list_write(); the helper links it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"
#include "kyoka-names.h"
#include "media-sysfs.h"

#define MEDIA_FIXED_LIST_MAX 1024      /* entries in one list file */

/* One line of a list: every key given ("" = not compared) must equal the disk's, and an entry
 * gives a serial or a path. */
struct media_fixed_entry {
        enum media_bus bus;
        char vendor[MEDIA_STRING_MAX];
        char model[MEDIA_STRING_MAX];
        char serial[MEDIA_STRING_MAX];
        char path[MEDIA_PATH_MAX];
};

struct media_fixed_list {
        size_t n;
        struct media_fixed_entry *entries;
};

struct media_fixed_list *media_fixed_list_free(struct media_fixed_list *l);
static inline void media_fixed_list_freep(struct media_fixed_list **l) {
        media_fixed_list_free(*l);
}

/* Adds ENTRY (-E2BIG beyond MEDIA_FIXED_LIST_MAX, -EINVAL without a serial and a path). */
int media_fixed_list_add(struct media_fixed_list *l, const struct media_fixed_entry *entry);
/* Adds the disk ID as the installation list keeps it: by bus, model and serial where it has a
 * serial (the same disk on another port after a BIOS update is still the same disk), by bus and
 * path otherwise. */
int media_fixed_list_add_disk(struct media_fixed_list *l, const struct media_identity *id);
bool media_fixed_list_contains(const struct media_fixed_list *l, const struct media_identity *id);

/* The file's bytes (newly allocated) and back: a header line, then one entry a line, bus,
 * vendor, model, serial and path separated by tabs, each sanitised text. -EBADMSG for anything
 * that is not exactly what media_fixed_list_format writes. */
int media_fixed_list_format(const struct media_fixed_list *l, char **ret, size_t *ret_size);
int media_fixed_list_parse(const char *text, size_t size, struct media_fixed_list **ret);
/* STATE_DIR/NAME: -ENOENT when there is none, -EBADMSG when malformed (or larger than any list). */
int media_fixed_list_read(const char *state_dir, const char *name, struct media_fixed_list **ret);
/* Replaces it atomically, or with EXCLUSIVE creates it (-EEXIST if there is one). Mode 0644:
 * the helper runs as root, but nothing in it is secret. */
int media_fixed_list_write(const char *state_dir, const char *name, const struct media_fixed_list *l, bool exclusive);

/* SD cards and optical discs: media whatever was there at installation. */
bool media_bus_removable(enum media_bus bus);

enum media_fixed_reason {
        MEDIA_NOT_FIXED,
        MEDIA_FIXED_ROOT,              /* holds the root file system */
        MEDIA_FIXED_FSTAB,             /* named in /etc/fstab */
        MEDIA_FIXED_CRYPTTAB,          /* named in /etc/crypttab */
        MEDIA_FIXED_POLICY,            /* listed by the policy (fixed_disks) */
        MEDIA_FIXED_INSTALL,           /* present at installation */
        MEDIA_FIXED_NO_LIST,           /* no installation list to go by: left alone */
        _MEDIA_FIXED_MAX,
};
const char *media_fixed_reason_to_string(enum media_fixed_reason r);   /* "holds the root file system", ... */

/* Where the system's files are: ROOT ("" normally; a test's tree) before /proc/self/mountinfo,
 * /etc/fstab, /etc/crypttab, /dev and /run/udev/data; SYSFS ("/sys"). ENV: the udev properties
 * ("KEY=value", NULL-terminated) of the device udev is processing, or NULL: a partition whose
 * file system udev has only just probed is not in udev's database yet. */
struct media_env {
        const char *root;
        const char *sysfs;
        char *const *env;
};

/* Rule 1 for DISK: MEDIA_FIXED_ROOT, _FSTAB, _CRYPTTAB or MEDIA_NOT_FIXED. Unreadable files
 * count as naming nothing (fstab may be absent); a root that cannot be found is no disk. */
enum media_fixed_reason media_disk_system_reason(const struct media_env *env, const struct media_disk *disk);

/* The whole rule. INSTALL: the installation list, or NULL when there is none to go by (rule 4);
 * POLICY: the policy's list (NULL: none). */
enum media_fixed_reason media_disk_fixed(const struct media_env *env, const struct media_disk *disk,
                                         const struct media_fixed_list *install,
                                         const struct media_fixed_list *policy);
/* The same with rule 1's answer SYSTEM already known (kyokad reads the system's files on its
 * worker and decides on its loop). */
enum media_fixed_reason media_fixed_from(enum media_fixed_reason system, const struct media_identity *id,
                                         const struct media_fixed_list *install,
                                         const struct media_fixed_list *policy);
