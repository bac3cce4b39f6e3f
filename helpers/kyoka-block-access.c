/* SPDX-License-Identifier: MIT */
/* kyoka-block-access: udev's PROGRAM for the block devices (and SCSI generic nodes) of USB
 * devices (udev-rules/70-kyoka.rules), and for their raw HID nodes
 * (udev-rules/73-kyoka-hidraw.rules). It runs while udev processes the device's event, before
 * udev applies the node's permissions and before the device is announced to anyone (udisks,
 * desktop): it looks up kyokad's decision for the USB device the node belongs to
 * (daemon/block-access.h).
 *
 *   kyoka-block-access [--runtime-dir DIR] DEVNODE [USB-SYSNAME]
 *   kyoka-block-access --hidraw [--runtime-dir DIR] DEVNODE [USB-SYSNAME]
 *
 * Prints one word on stdout, which the rule matches. For block and sg nodes:
 *   read-write   kyokad's access file for the device says so; nothing was changed
 *   read-only    anything else: the block device is now read-only (a character device such
 *                as /dev/sgN cannot be; the rule makes its node unwritable for non-root)
 *   held         kyokad's access file says "held" (its storage awaits a virus scan), or it is
 *                bound to the disks whose scan passed (a diskseq line) and the node is not one
 *                of them or their partitions (a card swapped in since, an SG node): read-only
 *                as above, and the rule makes the node root's alone
 *   failed       read-only was wanted but BLKROSET failed
 * With --hidraw (hidraw and hiddev nodes; nothing is changed here, the rule does it):
 *   user         kyokad's access file says hidraw=user: udev's rules decide who may open it
 *   root         anything else: the rule makes the node root's alone
 * --hidraw-revoke DEVNODE is that rule's RUN: it removes any access ACL from the node.
 *
 *   kyoka-block-access --media [--runtime-dir DIR] [--state-dir DIR] DEVNODE
 *
 * For a disk, partition or SCSI generic node that is not on USB (udev-rules/73-kyoka-media.rules;
 * docs/ARCHITECTURE.md "Media on other buses"):
 *   fixed        a disk of the workstation itself (daemon/media-fixed.h): nothing was changed,
 *                and the rule changes nothing
 *   read-write   kyokad approved this very disk (its access file, same diskseq)
 *   read-only    kyokad approved it read-only: the block device is now read-only
 *   closed       anything else: the block device is now read-only, the rule makes it root's
 *   failed       closed, but BLKROSET failed
 *   none         not a medium kyoka governs (loop, device-mapper, ...): nothing was changed
 *   unknown      the node's disk could not be found: the rule decides by the kernel name
 *                (closed for SD cards and discs, left alone for disks that may be fixed)
 * --revoke-acl DEVNODE is that rule's RUN for a closed or read-only node: it removes the
 * access ACL the seat's user may have (70-uaccess.rules tags optical drives).
 * Exit 0 whenever a word was printed, 2 on a usage error. The rules treat every outcome but
 * "read-write" or "user" (including a missing helper, a crash or a timeout) as read-only or
 * root's alone.
 *
 * The USB device is found from the node itself (its major:minor -> /sys/dev/... -> the
 * innermost USB device with an interface on the path), never from the name alone; a
 * USB-SYSNAME given by udev must agree with it. Input is bounded; no shell, no allocation
 * beyond realpath's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "block-access.h"
#include "kyoka-names.h"
#include "macro.h"
#include "media-fixed.h"
#include "media-sysfs.h"

extern char **environ;

#define ARG_MAX_LEN 256

static int usage(void) {
        fprintf(stderr, "usage: kyoka-block-access [--hidraw] [--runtime-dir DIR] DEVNODE [USB-SYSNAME]\n"
                        "       kyoka-block-access --media [--runtime-dir DIR] [--state-dir DIR] DEVNODE\n"
                        "       kyoka-block-access --hidraw-revoke DEVNODE\n"
                        "       kyoka-block-access --revoke-acl DEVNODE\n");
        return 2;
}

/* --hidraw-revoke: the rule's only RUN for a raw HID node that is root's alone (RUN:= also
 * keeps 73-seat-late.rules' uaccess builtin off it). Removes any access ACL. Exit 0, or 1 when
 * an ACL could not be removed (udev logs it). */
static int hidraw_revoke_main(const char *devnode, bool any_node) {
        _cleanup_close_ int fd = open(devnode, O_NOFOLLOW | O_CLOEXEC | O_PATH);
        int r = fd < 0 ? -errno : any_node ? device_node_revoke(fd) : hidraw_node_revoke(fd);
        if (r < 0 && r != -ENOENT && r != -ENODEV) {
                fprintf(stderr, "kyoka-block-access: %s: cannot remove its ACL: %s\n", devnode, strerror(-r));
                return 1;
        }
        return 0;
}

/* The access directory and the name of the USB device that the node ST (DEVNODE) belongs to;
 * -1 after saying why on stderr. RET_DISKSEQ (may be NULL): the diskseq of a block node's disk,
 * 0 if there is none to read. */
static int lookup(const char *runtime_dir, const char *devnode, const char *devpath_override, const char *expected,
                  const struct stat *st, char sysname[static USB_SYSNAME_MAX], int *ret_dirfd, uint64_t *ret_diskseq) {
        char link[64], dir[ARG_MAX_LEN + 16];
        _cleanup_free_ char *devpath = NULL;
        int r;

        if (devpath_override)
                devpath = strdup(devpath_override);
        else {
                snprintf(link, sizeof link, "/sys/dev/%s/%u:%u", S_ISBLK(st->st_mode) ? "block" : "char",
                         major(st->st_rdev), minor(st->st_rdev));
                devpath = realpath(link, NULL);
        }
        if (!devpath) {
                fprintf(stderr, "kyoka-block-access: %s: no sysfs device: %m\n", devnode);
                return -1;
        }
        r = usb_sysname_from_devpath(devpath, sysname, USB_SYSNAME_MAX);
        if (r < 0) {
                fprintf(stderr, "kyoka-block-access: %s: no USB device above %s\n", devnode, devpath);
                return -1;
        }
        if (expected && !streq(expected, sysname)) {
                fprintf(stderr, "kyoka-block-access: %s: udev named USB device %s, sysfs %s\n", devnode, expected,
                        sysname);
                return -1;
        }
        if (ret_diskseq && (!S_ISBLK(st->st_mode) || block_devpath_diskseq(devpath, ret_diskseq) < 0))
                *ret_diskseq = 0;
        snprintf(dir, sizeof dir, "%s/%s", runtime_dir, KYOKA_BLOCK_ACCESS_DIR);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) {
                fprintf(stderr, "kyoka-block-access: %s: %s: %m\n", devnode, dir);
                return -1;
        }
        *ret_dirfd = dfd;
        return 0;
}

/* --hidraw: only the decision; the rule strips `uaccess` and sets the mode. */
static int hidraw_main(const char *runtime_dir, const char *devnode, const char *devpath, const char *expected) {
        char sysname[USB_SYSNAME_MAX];
        struct stat st;
        int dfd = -EBADF;

        _cleanup_close_ int fd = open(devnode, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_PATH);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
                fprintf(stderr, "kyoka-block-access: %s: not a character device node: root\n", devnode);
                puts("root");
                return 0;
        }
        enum hidraw_access h = HIDRAW_ACCESS_ROOT;
        if (lookup(runtime_dir, devnode, devpath, expected, &st, sysname, &dfd, NULL) >= 0) {
                h = hidraw_access_read(dfd, sysname);
                close(dfd);
        }
        puts(hidraw_access_to_string(h));
        return 0;
}

/* --media: a disk (or its partition or SG node) on another bus than USB. The order matters: a
 * fixed disk is left alone before anything else is looked at, and every doubt about whether a
 * disk is fixed leaves it alone too (the rule then decides by name: see "unknown"). */
static int media_main(const char *runtime_dir, const char *state_dir, const char *sysfs, const char *root,
                      const char *devnode) {
        char name[MEDIA_NAME_MAX], dir[ARG_MAX_LEN + 16];
        struct media_disk disk;
        struct stat st;
        int r;

        _cleanup_close_ int fd = open(devnode, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_PATH);
        if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))) {
                fprintf(stderr, "kyoka-block-access: %s: not a device node\n", devnode);
                puts("unknown");
                return 0;
        }
        r = media_disk_of_node(sysfs, st.st_rdev, S_ISCHR(st.st_mode), name);
        if (r >= 0)
                r = media_disk_read(sysfs, name, &disk);
        if (r == -EMEDIUMTYPE) {
                puts("none");
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "kyoka-block-access: %s: no disk found: %s\n", devnode, strerror(-r));
                puts("unknown");
                return 0;
        }

        /* The lists: none to go by (no file yet, /var not mounted, unreadable) is rule 4. */
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *install = NULL, *policy = NULL;
        r = media_fixed_list_read(state_dir, KYOKA_DISKS_AT_INSTALL_FILE, &install);
        if (r < 0 && r != -ENOENT)
                fprintf(stderr, "kyoka-block-access: %s/%s: %s: disks that may be fixed are left alone\n", state_dir,
                        KYOKA_DISKS_AT_INSTALL_FILE, strerror(-r));
        r = media_fixed_list_read(state_dir, KYOKA_FIXED_DISKS_FILE, &policy);
        if (r < 0 && r != -ENOENT)
                fprintf(stderr, "kyoka-block-access: %s/%s: %s\n", state_dir, KYOKA_FIXED_DISKS_FILE, strerror(-r));
        struct media_env env = { .root = root, .sysfs = sysfs, .env = environ };
        enum media_fixed_reason why = media_disk_fixed(&env, &disk, install, policy);
        if (why != MEDIA_NOT_FIXED) {
                fprintf(stderr, "kyoka-block-access: %s: disk %s is fixed: %s\n", devnode, disk.id.name,
                        media_fixed_reason_to_string(why));
                puts("fixed");
                return 0;
        }

        enum media_access a = MEDIA_ACCESS_CLOSED;
        snprintf(dir, sizeof dir, "%s/%s", runtime_dir, KYOKA_MEDIA_ACCESS_DIR);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) {
                a = media_access_read(dfd, disk.id.name, disk.diskseq);
                close(dfd);
        }
        if (a != MEDIA_ACCESS_READ_WRITE && S_ISBLK(st.st_mode)) {
                struct stat st2;
                _cleanup_close_ int bfd = open(devnode, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (bfd >= 0 && (fstat(bfd, &st2) < 0 || !S_ISBLK(st2.st_mode) || st2.st_rdev != st.st_rdev)) {
                        close(bfd);
                        bfd = -1;
                        errno = ESTALE;
                }
                r = bfd < 0 ? -errno : block_device_set_read_only(bfd, true);
                if (r < 0) {
                        fprintf(stderr, "kyoka-block-access: %s: BLKROSET failed: %s\n", devnode, strerror(-r));
                        puts("failed");
                        return 0;
                }
        }
        puts(media_access_to_string(a));
        return 0;
}

int main(int argc, char *argv[]) {
        const char *runtime_dir = KYOKA_RUNTIME_DIR, *devpath = NULL, *state_dir = KYOKA_STATE_DIR, *sysfs = "/sys",
                   *root = "";
        char sysname[USB_SYSNAME_MAX];
        bool hidraw = false, media = false;
        int i = 1, dfd = -EBADF;
        struct stat st;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
                if (streq(argv[i], "--")) {
                        i--;
                        break;
                }
                if (streq(argv[i], "--hidraw") || streq(argv[i], "--media")) {
                        hidraw = hidraw || streq(argv[i], "--hidraw");
                        media = media || streq(argv[i], "--media");
                        i--;
                        continue;
                }
                if (streq(argv[i], "--hidraw-revoke") || streq(argv[i], "--revoke-acl")) {
                        if (argc != i + 2 || strnlen(argv[i + 1], ARG_MAX_LEN) >= ARG_MAX_LEN)
                                return usage();
                        return hidraw_revoke_main(argv[i + 1], streq(argv[i], "--revoke-acl"));
                }
                if (i + 1 >= argc || strnlen(argv[i + 1], ARG_MAX_LEN) >= ARG_MAX_LEN)
                        return usage();
                if (streq(argv[i], "--runtime-dir"))
                        runtime_dir = argv[i + 1];
                else if (streq(argv[i], "--devpath"))   /* tests: the device's sysfs path */
                        devpath = argv[i + 1];
                else if (streq(argv[i], "--state-dir"))
                        state_dir = argv[i + 1];
                else if (streq(argv[i], "--sysfs"))     /* tests: a sysfs tree */
                        sysfs = argv[i + 1];
                else if (streq(argv[i], "--root"))      /* tests: where /etc, /proc, /dev, /run/udev are */
                        root = argv[i + 1];
                else
                        return usage();
        }
        if (i < argc && streq(argv[i], "--"))
                i++;
        if (argc - i < 1 || argc - i > 2)
                return usage();
        const char *devnode = argv[i], *expected = argc - i == 2 ? argv[i + 1] : NULL;
        if (strnlen(devnode, ARG_MAX_LEN) >= ARG_MAX_LEN || (expected && strnlen(expected, ARG_MAX_LEN) >= ARG_MAX_LEN))
                return usage();
        if (hidraw && media)
                return usage();
        if (media)
                return expected ? usage() : media_main(runtime_dir, state_dir, sysfs, root, devnode);
        if (hidraw)
                return hidraw_main(runtime_dir, devnode, devpath, expected);

        /* The node itself, never a symlink to something else. */
        _cleanup_close_ int fd = open(devnode, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_PATH);
        if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))) {
                fprintf(stderr, "kyoka-block-access: %s: not a device node: read-only\n", devnode);
                puts("read-only");
                return 0;
        }

        /* A file bound to the disks whose scan passed: any other disk (a card swapped in the
         * reader since) and the SCSI generic nodes are held. */
        enum block_access a = BLOCK_ACCESS_READ_ONLY;
        uint64_t diskseq = 0;
        if (lookup(runtime_dir, devnode, devpath, expected, &st, sysname, &dfd, &diskseq) >= 0) {
                struct usb_access f;
                usb_access_read(dfd, sysname, &f);
                a = usb_access_of_node(&f, S_ISBLK(st.st_mode), diskseq);
                close(dfd);
        }
        if (a == BLOCK_ACCESS_READ_WRITE) {
                puts("read-write");
                return 0;
        }
        if (S_ISBLK(st.st_mode)) {
                /* The same node again, now openable for the ioctl (an O_PATH fd cannot take one). */
                struct stat st2;
                _cleanup_close_ int bfd = open(devnode, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (bfd >= 0 && (fstat(bfd, &st2) < 0 || !S_ISBLK(st2.st_mode) || st2.st_rdev != st.st_rdev)) {
                        close(bfd);
                        bfd = -1;
                        errno = ESTALE;
                }
                int r = bfd < 0 ? -errno : block_device_set_read_only(bfd, true);
                if (r < 0) {
                        fprintf(stderr, "kyoka-block-access: %s: BLKROSET failed: %s\n", devnode, strerror(-r));
                        puts("failed");
                        return 0;
                }
        }
        puts(a == BLOCK_ACCESS_HELD ? "held" : "read-only");
        return 0;
}
