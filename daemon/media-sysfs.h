/* SPDX-License-Identifier: MIT */
/* Removable media that are not on USB, as sysfs shows them (docs/ARCHITECTURE.md "Media on
 * other buses"): which disks kyoka governs and on which bus, their identity and port, the
 * partitions and SCSI generic node that go with a disk, and the two things kyokad does to the
 * kernel's view of one (a uevent to make udev apply the rules again, and re-attaching it).
 *
 * Shared by kyokad (daemon/media.c, on its sysfs worker) and the udev helper
 * (helpers/kyoka-block-access.c --media): plain files under a sysfs root ("/sys", or a tree a
 * test made), no libudev, no allocation beyond realpath's, nothing logged. Only cached
 * attributes are read (the card's CID, the controller's identify data, the INQUIRY and VPD
 * pages the kernel kept): nothing here sends a command to the device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"

#define MEDIA_SYSPATH_MAX 512
#define MEDIA_PARTITIONS_MAX 128      /* partitions of one disk considered (GPT allows 128) */

/* A disk (a whole block device, not a partition) that kyoka governs. */
struct media_disk {
        char syspath[MEDIA_SYSPATH_MAX];     /* canonical: SYSFS/devices/.../block/NAME */
        /* The hardware it is on (the card, the SCSI device, the NVMe controller, the virtio
         * device): every disk of one such device is fixed or not together (an eMMC's boot
         * partitions are disks of their own). */
        char device[MEDIA_SYSPATH_MAX];
        dev_t devnum;
        uint64_t diskseq;                    /* 0 when the kernel has none (before 5.15) */
        struct media_identity id;            /* name, bus, path, vendor, model, serial, ... */
};

/* Whether NAME is a disk kernel name kyoka may use in a file name: [a-z0-9], 1 to
 * MEDIA_NAME_MAX - 1 bytes. */
bool media_name_valid(const char *name);

/* Reads the disk SYSFS/class/block/NAME. -ENOENT if it is gone; -EMEDIUMTYPE if it is not a
 * disk kyoka governs here: on USB (usb-devices.c does), virtual (loop, dm, md, zram, nbd, ...),
 * or a partition; -EINVAL for an invalid NAME; -ENAMETOOLONG. Strings are sanitised and cut of
 * the blanks sysfs pads them with. */
int media_disk_read(const char *sysfs, const char *name, struct media_disk *ret);

/* The disk that the node DEVNUM belongs to: a block device (the disk itself or one of its
 * partitions) or, with IS_CHAR, a SCSI generic node (/dev/sgN of an sd or sr disk). 0 with its
 * name; -ENOENT when there is none (or no such node); -EMEDIUMTYPE as media_disk_read says. */
int media_disk_of_node(const char *sysfs, dev_t devnum, bool is_char, char ret_name[static MEDIA_NAME_MAX]);

/* The partitions of DISK (kernel names, up to MEDIA_PARTITIONS_MAX) and their device numbers.
 * Returns how many; a negative errno. */
int media_disk_partitions(const struct media_disk *disk, char (*names)[MEDIA_NAME_MAX], dev_t *devnums, size_t max);

/* Asks the kernel for a uevent ACTION ("add" or "change") on DISK, each partition and its SCSI
 * generic node, so that udev runs its rules for them again: "add" to give a node the
 * permissions udev's rules give (50-udev-default.rules sets GROUP="disk" only on add), "change"
 * to let kyoka's rule close it. 0 or the first negative errno (all are tried). */
int media_disk_trigger(const struct media_disk *disk, const char *action);

/* Takes DISK away from the kernel and lets it find it again, so that everything that had it
 * open or mounted loses it and its nodes are made anew under the udev rules: the SCSI device
 * is deleted and its host rescanned (sd, sr); the PCI function under it is removed and its bus
 * rescanned (NVMe, an SD host controller, virtio). Only within SYSFS/devices (kyokad's sandbox
 * can write nothing else). Refuses (-EBUSY) when KEEP says a disk on the same hardware must be
 * kept (a fixed disk): KEEP is called with each other disk's name below what would be removed.
 * 0 or a negative errno. */
typedef bool (*media_keep_t)(const char *name, void *userdata);
int media_disk_reattach(const char *sysfs, const struct media_disk *disk, media_keep_t keep, void *userdata);

/* BLKROSET on DISK's node and its partitions' (NODE_DIR: "/dev"): each node is checked to be
 * the device it should be (its device number). 0 or the first negative errno (all are tried). */
int media_disk_set_read_only(const struct media_disk *disk, const char *node_dir, bool read_only);
