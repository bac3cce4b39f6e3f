/* SPDX-License-Identifier: MIT */
#include "media-sysfs.h"

#include <dirent.h>
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
#include "fileio.h"
#include "macro.h"

#define ATTR_MAX 256                  /* a sysfs attribute kyoka reads: model 40, serial 20, ... */
#define DEPTH_MAX 64

bool media_name_valid(const char *name) {
        size_t n = name ? strnlen(name, MEDIA_NAME_MAX) : 0;
        return n > 0 && n < MEDIA_NAME_MAX && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* DIR/NAME's contents, at most SIZE - 1 bytes, NUL-terminated, the trailing newline and blanks
 * cut. Binary attributes (vpd_pg80) are read with read_raw(). */
static int read_raw(const char *dir, const char *name, void *buf, size_t size, size_t *ret_len) {
        char path[PATH_MAX];

        if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read_fd_prefix(fd, buf, size);
        if (n < 0)
                return (int) n;
        *ret_len = (size_t) n;
        return 0;
}

static int read_attr(const char *dir, const char *name, char *buf, size_t size) {
        size_t n;
        int r = read_raw(dir, name, buf, size - 1, &n);
        if (r < 0)
                return r;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                n--;
        buf[n] = 0;
        return 0;
}

/* An attribute that comes from the device: sanitised into DST, leading blanks cut too (SCSI
 * pads vendor and model, NVMe its serial); "" when it is missing. */
static void read_device_string(const char *dir, const char *name, char *dst, size_t size) {
        char buf[ATTR_MAX];

        dst[0] = 0;
        if (read_attr(dir, name, buf, sizeof buf) < 0)
                return;
        const char *s = buf + strspn(buf, " ");
        identity_sanitize(s, strlen(s), dst, size);
}

static int read_u64(const char *dir, const char *name, uint64_t *ret) {
        char buf[32], *end;
        int r = read_attr(dir, name, buf, sizeof buf);
        if (r < 0)
                return r;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        if (errno || end == buf || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int read_devnum(const char *dir, dev_t *ret) {
        char buf[32];
        unsigned ma, mi;
        int k = 0;
        int r = read_attr(dir, "dev", buf, sizeof buf);
        if (r < 0)
                return r;
        if (sscanf(buf, "%u:%u%n", &ma, &mi, &k) != 2 || buf[k])
                return -EBADMSG;
        *ret = makedev(ma, mi);
        return 0;
}

static bool exists_in(const char *dir, const char *name) {
        char path[PATH_MAX];
        return (size_t) snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path &&
               faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The subsystem of the sysfs directory DIR, "" if none. */
static void subsystem_of(const char *dir, char buf[static 64]) {
        char link[PATH_MAX], target[PATH_MAX];

        buf[0] = 0;
        if ((size_t) snprintf(link, sizeof link, "%s/subsystem", dir) >= sizeof link)
                return;
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
                return;
        target[n] = 0;
        const char *s = strrchr(target, '/');
        s = s ? s + 1 : target;
        if (strlen(s) < 64)
                strcpy(buf, s);
}

static const char *base(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

/* Cuts PATH's last component; false when nothing below SYSFS/devices is left. */
static bool up(char *path, size_t devices_len) {
        char *slash = strrchr(path, '/');
        if (!slash || (size_t) (slash - path) <= devices_len)
                return false;
        *slash = 0;
        return true;
}

/* The canonical path of SYSFS/REL into RET (PATH_MAX). */
static int canonical(const char *sysfs, const char *rel, char *ret) {
        char path[PATH_MAX];
        if ((size_t) snprintf(path, sizeof path, "%s/%s", sysfs, rel) >= sizeof path)
                return -ENAMETOOLONG;
        if (!realpath(path, ret))
                return negative_errno();
        return 0;
}

/* The nearest ancestor of DIR (itself included) whose subsystem is SUB, into RET; -ENOENT. */
static int ancestor_with_subsystem(const char *sysfs, const char *dir, const char *sub, char ret[static PATH_MAX]) {
        char d[PATH_MAX], s[64];
        size_t devices_len = strlen(sysfs) + strlen("/devices");

        if (strlen(dir) >= sizeof d)
                return -ENAMETOOLONG;
        strcpy(d, dir);
        for (unsigned depth = 0; depth < DEPTH_MAX; depth++) {
                subsystem_of(d, s);
                if (streq(s, sub)) {
                        strcpy(ret, d);
                        return 0;
                }
                if (!up(d, devices_len))
                        break;
        }
        return -ENOENT;
}

/* An ancestor component of PATH named PREFIX followed by digits ("ata3", "host2"), into RET
 * (the path up to it); -ENOENT. */
static int ancestor_named(const char *path, const char *prefix, char ret[static PATH_MAX], unsigned *ret_number) {
        size_t np = strlen(prefix);
        int r = -ENOENT;

        for (const char *p = path; (p = strchr(p, '/')); p++) {
                const char *c = p + 1;
                size_t len = strcspn(c, "/");
                if (len > np && len - np < 8 && strncmp(c, prefix, np) == 0 && strspn(c + np, "0123456789") == len - np) {
                        if ((size_t) (c + len - path) >= PATH_MAX)
                                return -ENAMETOOLONG;
                        memcpy(ret, path, (size_t) (c + len - path));
                        ret[c + len - path] = 0;
                        *ret_number = (unsigned) strtoul(c + np, NULL, 10);
                        r = 0;        /* the innermost one wins */
                }
        }
        return r;
}

/* "H:C:T:L" of a SCSI device directory's name. */
static int scsi_address(const char *dir, unsigned a[4]) {
        int k = 0;
        const char *name = base(dir);
        if (sscanf(name, "%u:%u:%u:%u%n", &a[0], &a[1], &a[2], &a[3], &k) != 4 || name[k])
                return -EINVAL;
        return 0;
}

static bool on_usb(const char *sysfs, const char *syspath) {
        char found[PATH_MAX];
        return ancestor_with_subsystem(sysfs, syspath, "usb", found) == 0;
}

/* The port, as udev's path_id spells it where it has a name for it: the PCI function the disk
 * hangs off, then the bus's own part. SD cards get "-mmc" (path_id names none). */
static void disk_path(const char *sysfs, struct media_disk *d) {
        char pci[PATH_MAX], tail[96] = "", anc[PATH_MAX];
        unsigned n, a[4];
        uint64_t nsid;

        d->id.path[0] = 0;
        if (ancestor_with_subsystem(sysfs, d->device, "pci", pci) < 0)
                return;
        switch (d->id.bus) {
        case MEDIA_BUS_NVME:
                if (read_u64(d->syspath, "nsid", &nsid) == 0)
                        snprintf(tail, sizeof tail, "-nvme-%llu", (unsigned long long) nsid);
                break;
        case MEDIA_BUS_ATA:
        case MEDIA_BUS_OPTICAL:
                /* libata's port number (ata_port/ataN/port_no, equal to N on every controller
                 * seen) and the LUN, as path_id's "ata-PORT.LUN". */
                if (ancestor_named(d->device, "ata", anc, &n) == 0 && scsi_address(d->device, a) == 0) {
                        char port_dir[PATH_MAX];
                        uint64_t port = n;
                        if ((size_t) snprintf(port_dir, sizeof port_dir, "%s/ata_port/ata%u", anc, n) < sizeof port_dir)
                                (void) read_u64(port_dir, "port_no", &port);
                        snprintf(tail, sizeof tail, "-ata-%llu.%u", (unsigned long long) port, a[3]);
                } else if (scsi_address(d->device, a) == 0)
                        snprintf(tail, sizeof tail, "-scsi-%u:%u:%u", a[1], a[2], a[3]);
                break;
        case MEDIA_BUS_SCSI:
                if (scsi_address(d->device, a) == 0)
                        snprintf(tail, sizeof tail, "-scsi-%u:%u:%u", a[1], a[2], a[3]);
                break;
        case MEDIA_BUS_MMC:
                snprintf(tail, sizeof tail, "-mmc");
                break;
        case MEDIA_BUS_VIRTIO:
        case _MEDIA_BUS_MAX:
                break;
        }
        char path[MEDIA_PATH_MAX * 2];
        if ((size_t) snprintf(path, sizeof path, "pci-%.64s%s", base(pci), tail) < sizeof path)
                identity_sanitize(path, strlen(path), d->id.path, sizeof d->id.path);
}

/* The unit serial number from VPD page 0x80 as the kernel keeps it: a 4-byte header whose
 * last byte is the length, then the serial, space padded. */
static void read_vpd_serial(const char *dir, char *dst, size_t size) {
        uint8_t buf[260];
        size_t n;

        dst[0] = 0;
        if (read_raw(dir, "vpd_pg80", buf, sizeof buf, &n) < 0 || n < 4 || buf[1] != 0x80)
                return;
        size_t len = MIN((size_t) buf[3], n - 4);
        const char *s = (const char *) buf + 4;
        while (len > 0 && *s == ' ')
                s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == 0))
                len--;
        identity_sanitize(s, len, dst, size);
}

static int classify(const char *sysfs, const char *name, struct media_disk *d) {
        if (startswith(name, "mmcblk"))
                d->id.bus = MEDIA_BUS_MMC;
        else if (startswith(name, "sr"))
                d->id.bus = MEDIA_BUS_OPTICAL;
        else if (startswith(name, "nvme"))
                d->id.bus = MEDIA_BUS_NVME;
        else if (startswith(name, "vd"))
                d->id.bus = MEDIA_BUS_VIRTIO;
        else if (startswith(name, "sd")) {
                char anc[PATH_MAX];
                unsigned n;
                d->id.bus = ancestor_named(d->device, "ata", anc, &n) == 0 ? MEDIA_BUS_ATA : MEDIA_BUS_SCSI;
        } else
                return -EMEDIUMTYPE;  /* loop, dm, md, zram, nbd, ram, ...: no medium of their own */
        return 0;
}

int media_disk_read(const char *sysfs, const char *name, struct media_disk *ret) {
        char rel[64], dev[PATH_MAX], path[PATH_MAX];
        struct media_disk d = {};
        int r;

        if (!media_name_valid(name))
                return -EINVAL;
        snprintf(rel, sizeof rel, "class/block/%s", name);
        r = canonical(sysfs, rel, path);
        if (r < 0)
                return r;
        if (strlen(path) >= sizeof d.syspath)
                return -ENAMETOOLONG;
        strcpy(d.syspath, path);
        if (exists_in(d.syspath, "partition"))
                return -EMEDIUMTYPE;
        if ((size_t) snprintf(dev, sizeof dev, "%s/device", d.syspath) >= sizeof dev)
                return -ENAMETOOLONG;
        if (!realpath(dev, path))
                return errno == ENOENT ? -EMEDIUMTYPE : negative_errno();   /* no device: virtual */
        if (strlen(path) >= sizeof d.device)
                return -ENAMETOOLONG;
        strcpy(d.device, path);
        if (on_usb(sysfs, d.syspath))
                return -EMEDIUMTYPE;
        r = classify(sysfs, name, &d);
        if (r < 0)
                return r;
        strcpy(d.id.name, name);
        r = read_devnum(d.syspath, &d.devnum);
        if (r < 0)
                return r == -ENOENT ? -ENOENT : r;
        if (read_u64(d.syspath, "diskseq", &d.diskseq) < 0)
                d.diskseq = 0;

        switch (d.id.bus) {
        case MEDIA_BUS_MMC:
                /* The card's CID, as mmc_core decoded it when the card was inserted. */
                read_device_string(d.device, "manfid", d.id.vendor, sizeof d.id.vendor);
                read_device_string(d.device, "oemid", d.id.oemid, sizeof d.id.oemid);
                read_device_string(d.device, "name", d.id.model, sizeof d.id.model);
                read_device_string(d.device, "serial", d.id.serial, sizeof d.id.serial);
                read_device_string(d.device, "date", d.id.date, sizeof d.id.date);
                break;
        case MEDIA_BUS_NVME:
                /* The controller's (nvme0): what its identify data said. */
                read_device_string(d.device, "model", d.id.model, sizeof d.id.model);
                read_device_string(d.device, "serial", d.id.serial, sizeof d.id.serial);
                break;
        case MEDIA_BUS_VIRTIO:
                read_device_string(d.syspath, "serial", d.id.serial, sizeof d.id.serial);
                break;
        case MEDIA_BUS_ATA:
        case MEDIA_BUS_SCSI:
        case MEDIA_BUS_OPTICAL:
                read_device_string(d.device, "vendor", d.id.vendor, sizeof d.id.vendor);
                read_device_string(d.device, "model", d.id.model, sizeof d.id.model);
                read_vpd_serial(d.device, d.id.serial, sizeof d.id.serial);
                break;
        case _MEDIA_BUS_MAX:
                break;
        }
        disk_path(sysfs, &d);
        *ret = d;
        return 0;
}

int media_disk_of_node(const char *sysfs, dev_t devnum, bool is_char, char ret_name[static MEDIA_NAME_MAX]) {
        char rel[64], path[PATH_MAX];
        int r;

        snprintf(rel, sizeof rel, "dev/%s/%u:%u", is_char ? "char" : "block", major(devnum), minor(devnum));
        r = canonical(sysfs, rel, path);
        if (r < 0)
                return r;
        if (is_char) {
                /* .../H:C:T:L/scsi_generic/sgN: the disk is what that SCSI device has in block/. */
                char scsi[PATH_MAX];
                if (!startswith(base(path), "sg"))
                        return -EMEDIUMTYPE;
                strcpy(scsi, path);
                char *slash = strrchr(scsi, '/');
                if (!slash)
                        return -ENOENT;
                *slash = 0;
                if (!streq(base(scsi), "scsi_generic"))
                        return -EMEDIUMTYPE;
                slash = strrchr(scsi, '/');
                *slash = 0;
                if ((size_t) snprintf(path, sizeof path, "%s/block", scsi) >= sizeof path)
                        return -ENAMETOOLONG;
                DIR *dir = opendir(path);
                if (!dir)
                        return errno == ENOENT ? -EMEDIUMTYPE : negative_errno();   /* a scanner, a tape: no disk */
                struct dirent *de;
                r = -EMEDIUMTYPE;
                while ((de = readdir(dir)))
                        if (de->d_name[0] != '.') {
                                r = media_name_valid(de->d_name) ? 0 : -EINVAL;
                                if (r == 0)
                                        strcpy(ret_name, de->d_name);
                                break;
                        }
                closedir(dir);
                return r;
        }
        if (exists_in(path, "partition")) {
                char *slash = strrchr(path, '/');
                if (!slash)
                        return -ENOENT;
                *slash = 0;
        }
        if (!media_name_valid(base(path)))
                return -EMEDIUMTYPE;
        strcpy(ret_name, base(path));
        return 0;
}

int media_disk_partitions(const struct media_disk *disk, char (*names)[MEDIA_NAME_MAX], dev_t *devnums, size_t max) {
        DIR *dir = opendir(disk->syspath);
        size_t n = 0;

        if (!dir)
                return negative_errno();
        struct dirent *de;
        while (n < max && (de = readdir(dir))) {
                char sub[PATH_MAX];
                if (de->d_name[0] == '.' || !media_name_valid(de->d_name) ||
                    (size_t) snprintf(sub, sizeof sub, "%s/%s", disk->syspath, de->d_name) >= sizeof sub ||
                    !exists_in(sub, "partition") || read_devnum(sub, &devnums[n]) < 0)
                        continue;
                strcpy(names[n++], de->d_name);
        }
        closedir(dir);
        return (int) n;
}

static int write_attr(const char *dir, const char *name, const char *value) {
        char path[PATH_MAX];
        if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return write_all(fd, value, strlen(value));
}

int media_disk_trigger(const struct media_disk *disk, const char *action) {
        char names[MEDIA_PARTITIONS_MAX][MEDIA_NAME_MAX], sub[PATH_MAX];
        dev_t devnums[MEDIA_PARTITIONS_MAX];
        int r, k;

        /* The disk first: udev handles a partition's event after its disk's. */
        r = write_attr(disk->syspath, "uevent", action);
        int n = media_disk_partitions(disk, names, devnums, MEDIA_PARTITIONS_MAX);
        if (n < 0 && r >= 0)
                r = n;
        for (int i = 0; i < n; i++) {
                k = (size_t) snprintf(sub, sizeof sub, "%s/%s", disk->syspath, names[i]) >= sizeof sub ? -ENAMETOOLONG
                                                                                                    : write_attr(sub, "uevent", action);
                if (k < 0 && r >= 0)
                        r = k;
        }
        /* The SCSI generic node of the same device (sd, sr): its rule asks about this disk. */
        if ((size_t) snprintf(sub, sizeof sub, "%s/scsi_generic", disk->device) < sizeof sub) {
                DIR *dir = opendir(sub);
                struct dirent *de;
                while (dir && (de = readdir(dir))) {
                        char sg[PATH_MAX];
                        if (strncmp(de->d_name, "sg", 2) != 0 ||
                            (size_t) snprintf(sg, sizeof sg, "%s/%s", sub, de->d_name) >= sizeof sg)
                                continue;
                        k = write_attr(sg, "uevent", action);
                        if (k < 0 && r >= 0)
                                r = k;
                }
                if (dir)
                        closedir(dir);
        }
        return r;
}

/* Every disk under DIR (a path prefix) other than SELF, through KEEP. */
static bool others_kept(const char *sysfs, const char *dir, const char *self, media_keep_t keep, void *userdata) {
        char cls[PATH_MAX];
        size_t n = strlen(dir);
        bool kept = false;

        snprintf(cls, sizeof cls, "%s/class/block", sysfs);
        DIR *d = opendir(cls);
        if (!d)
                return true;           /* cannot tell: keep */
        struct dirent *de;
        while (!kept && (de = readdir(d))) {
                char rel[64 + MEDIA_NAME_MAX], path[PATH_MAX];
                if (de->d_name[0] == '.' || streq(de->d_name, self) || strlen(de->d_name) >= MEDIA_NAME_MAX)
                        continue;
                snprintf(rel, sizeof rel, "class/block/%.*s", MEDIA_NAME_MAX, de->d_name);
                if (canonical(sysfs, rel, path) < 0 || strncmp(path, dir, n) != 0 || path[n] != '/')
                        continue;
                /* Partitions go with their disk. */
                if (exists_in(path, "partition"))
                        continue;
                kept = keep && keep(de->d_name, userdata);
        }
        closedir(d);
        return kept;
}

int media_disk_reattach(const char *sysfs, const struct media_disk *disk, media_keep_t keep, void *userdata) {
        char devices[PATH_MAX], target[PATH_MAX], rescan[PATH_MAX], value[64];
        unsigned a[4], h;
        int r;

        if ((size_t) snprintf(devices, sizeof devices, "%s/devices/", sysfs) >= sizeof devices)
                return -ENAMETOOLONG;
        switch (disk->id.bus) {
        case MEDIA_BUS_ATA:
        case MEDIA_BUS_SCSI:
        case MEDIA_BUS_OPTICAL:
                /* One SCSI device is one disk: delete it, then scan its address again. */
                if (scsi_address(disk->device, a) < 0 || ancestor_named(disk->device, "host", target, &h) < 0)
                        return -EINVAL;
                if ((size_t) snprintf(rescan, sizeof rescan, "%s/scsi_host/host%u", target, h) >= sizeof rescan)
                        return -ENAMETOOLONG;
                snprintf(value, sizeof value, "%u %u %u", a[1], a[2], a[3]);
                if (strncmp(disk->device, devices, strlen(devices)) != 0)
                        return -EPERM;
                r = write_attr(disk->device, "delete", "1");
                if (r < 0)
                        return r;
                return write_attr(rescan, "scan", value);
        case MEDIA_BUS_NVME:
        case MEDIA_BUS_MMC:
        case MEDIA_BUS_VIRTIO: {
                /* The PCI function: an NVMe controller, an SD host controller, a virtio disk. */
                r = ancestor_with_subsystem(sysfs, disk->device, "pci", target);
                if (r < 0)
                        return r;
                if (strncmp(target, devices, strlen(devices)) != 0)
                        return -EPERM;
                if (others_kept(sysfs, target, disk->id.name, keep, userdata))
                        return -EBUSY;
                /* Its bus, "DDDD:BB" of "DDDD:BB:DD.F", is rescanned through its parent. */
                const char *fn = base(target);
                if (strlen(fn) < 7)
                        return -EINVAL;
                char parent[PATH_MAX];
                strcpy(parent, target);
                *strrchr(parent, '/') = 0;
                if ((size_t) snprintf(rescan, sizeof rescan, "%s/pci_bus/%.7s", parent, fn) >= sizeof rescan)
                        return -ENAMETOOLONG;
                if (!exists_in(rescan, "rescan"))
                        return -ENOENT;
                r = write_attr(target, "remove", "1");
                if (r < 0)
                        return r;
                return write_attr(rescan, "rescan", "1");
        }
        case _MEDIA_BUS_MAX:
                break;
        }
        return -EINVAL;
}

static int set_node_read_only(const char *node_dir, const char *name, dev_t devnum, bool read_only) {
        char path[PATH_MAX];
        struct stat st;

        if ((size_t) snprintf(path, sizeof path, "%s/%s", node_dir, name) >= sizeof path)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode) || st.st_rdev != devnum)
                return -ESTALE;        /* not the node of this disk (any more) */
        return block_device_set_read_only(fd, read_only);
}

int media_disk_set_read_only(const struct media_disk *disk, const char *node_dir, bool read_only) {
        char names[MEDIA_PARTITIONS_MAX][MEDIA_NAME_MAX];
        dev_t devnums[MEDIA_PARTITIONS_MAX];
        int r, k;

        r = set_node_read_only(node_dir, disk->id.name, disk->devnum, read_only);
        int n = media_disk_partitions(disk, names, devnums, MEDIA_PARTITIONS_MAX);
        if (n < 0 && r >= 0)
                r = n;
        for (int i = 0; i < n; i++) {
                k = set_node_read_only(node_dir, names[i], devnums[i], read_only);
                if (k < 0 && r >= 0)
                        r = k;
        }
        return r;
}
