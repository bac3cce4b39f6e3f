/* SPDX-License-Identifier: MIT */
/* Media on other buses: what media-sysfs.c reads of a disk (on a sysfs tree laid out as the
 * real kernel's, recorded in tests/vm: an SD card in a PCI reader, an NVMe drive on a root
 * port, a SATA disk and an optical drive on AHCI, a virtio disk, a USB stick, a loop device),
 * the fixed-disk rule of media-fixed.c (its lists, the root file system through device-mapper,
 * fstab and crypttab by UUID, label and path, udev's database and environment), and the media
 * access file of block-access.c. Block nodes are made with mknod (the tests run as root; the
 * cases that need one are skipped otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "block-access.h"
#include "media.h"
#include "media-fixed.h"
#include "media-sysfs.h"
#include "test-util.h"

struct tree {
        char *dir;                    /* the test's directory */
        char *sys;                    /* DIR/sys */
        char *root;                   /* DIR/root: /etc, /proc, /dev, /run/udev */
        bool nodes;                   /* mknod works */
};

static void mkdir_p(const char *path) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        (void) mkdir(buf, 0755);
                        *p = '/';
                }
        (void) mkdir(buf, 0755);
}

_printf_(2, 3) static char *at(const struct tree *t, const char *fmt, ...) {
        char rel[PATH_MAX], *p;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rel, sizeof rel, fmt, ap);
        va_end(ap);
        assert_true(asprintf(&p, "%s/%s", t->dir, rel) > 0);
        return p;
}

/* DIR/PATH (relative to the test's directory) with CONTENT; parents made. */
static void put(const struct tree *t, const char *path, const char *content) {
        _cleanup_free_ char *p = at(t, "%s", path);
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", p);
        *strrchr(parent, '/') = 0;
        mkdir_p(parent);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

static void put_bytes(const struct tree *t, const char *path, const void *data, size_t n) {
        _cleanup_free_ char *p = at(t, "%s", path);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

/* A symlink LINK -> TARGET (both relative to the test's directory; made relative between them
 * is not needed: absolute targets inside the tree resolve as well). */
static void link_to(const struct tree *t, const char *link, const char *target) {
        _cleanup_free_ char *l = at(t, "%s", link), *tg = at(t, "%s", target);
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", l);
        *strrchr(parent, '/') = 0;
        mkdir_p(parent);
        (void) unlink(l);
        assert_int_equal(symlink(tg, l), 0);
}

static void subsystem(const struct tree *t, const char *dir, const char *sub) {
        char l[PATH_MAX], tg[PATH_MAX];
        snprintf(l, sizeof l, "%s/subsystem", dir);
        snprintf(tg, sizeof tg, "sys/bus/%s", sub);
        _cleanup_free_ char *abs = at(t, "%s", tg);
        mkdir_p(abs);
        link_to(t, l, tg);
}

/* A disk NAME at DEVICE/block/NAME with DEV "M:m", registered in class/block and dev/block. */
static void disk(const struct tree *t, const char *device, const char *name, unsigned ma, unsigned mi, unsigned seq) {
        char d[PATH_MAX], f[PATH_MAX + 32], v[32];
        snprintf(d, sizeof d, "%s/block/%s", device, name);
        snprintf(f, sizeof f, "%s/dev", d);
        snprintf(v, sizeof v, "%u:%u\n", ma, mi);
        put(t, f, v);
        snprintf(f, sizeof f, "%s/diskseq", d);
        snprintf(v, sizeof v, "%u\n", seq);
        put(t, f, v);
        put(t, strcat(strcpy(f, d), "/uevent"), "");
        snprintf(f, sizeof f, "%s/device", d);
        link_to(t, f, device);
        snprintf(f, sizeof f, "sys/class/block/%s", name);
        link_to(t, f, d);
        snprintf(f, sizeof f, "sys/dev/block/%u:%u", ma, mi);
        link_to(t, f, d);
}

static void partition(const struct tree *t, const char *device, const char *disk_name, const char *name, unsigned ma,
                      unsigned mi) {
        char d[PATH_MAX], f[PATH_MAX + 32], v[32];
        snprintf(d, sizeof d, "%s/block/%s/%s", device, disk_name, name);
        snprintf(v, sizeof v, "%u:%u\n", ma, mi);
        put(t, strcat(strcpy(f, d), "/dev"), v);
        put(t, strcat(strcpy(f, d), "/partition"), "1\n");
        put(t, strcat(strcpy(f, d), "/uevent"), "");
        snprintf(f, sizeof f, "sys/class/block/%s", name);
        link_to(t, f, d);
        snprintf(f, sizeof f, "sys/dev/block/%u:%u", ma, mi);
        link_to(t, f, d);
}

#define PCI "sys/devices/pci0000:00"
#define MMC PCI "/0000:00:04.0/mmc_host/mmc0/mmc0:4567"
#define NVME PCI "/0000:00:02.0/0000:01:00.0/nvme/nvme0"
#define SATA PCI "/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0"
#define CD PCI "/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0"
#define VIRTIO PCI "/0000:00:05.0/virtio0"
#define USB PCI "/0000:00:14.0/usb2/2-1/2-1:1.0/host5/target5:0:0/5:0:0:0"

static int setup(void **state) {
        struct tree *t = calloc(1, sizeof *t);
        assert_non_null(t);
        t->dir = test_mkdtemp();
        t->sys = at(t, "sys");
        t->root = at(t, "root");

        for (const char *p = PCI "/0000:00:04.0"; p; p = NULL)
                subsystem(t, p, "pci");
        subsystem(t, PCI "/0000:00:02.0", "pci");
        subsystem(t, PCI "/0000:00:02.0/0000:01:00.0", "pci");
        subsystem(t, PCI "/0000:00:1f.2", "pci");
        subsystem(t, PCI "/0000:00:05.0", "pci");
        subsystem(t, PCI "/0000:00:14.0", "pci");
        put(t, PCI "/0000:00:02.0/pci_bus/0000:01/rescan", "");
        put(t, PCI "/0000:00:02.0/0000:01:00.0/remove", "");

        /* The SD card: its CID as mmc_core decoded it. */
        put(t, MMC "/manfid", "0x0000aa\n");
        put(t, MMC "/oemid", "0x5859\n");
        put(t, MMC "/name", "QEMU!\n");
        put(t, MMC "/serial", "0xdeadbeef\n");
        put(t, MMC "/date", "02/2006\n");
        subsystem(t, MMC, "mmc");
        disk(t, MMC, "mmcblk0", 179, 0, 7);
        partition(t, MMC, "mmcblk0", "mmcblk0p1", 179, 1);

        /* NVMe: the controller's identify data, padded with blanks as the kernel shows it. */
        put(t, NVME "/serial", "NVSER123            \n");
        put(t, NVME "/model", "QEMU NVMe Ctrl                          \n");
        put(t, NVME "/nvme0n1/nsid", "1\n");
        put(t, NVME "/nvme0n1/dev", "259:0\n");
        put(t, NVME "/nvme0n1/diskseq", "9\n");
        put(t, NVME "/nvme0n1/uevent", "");
        link_to(t, NVME "/nvme0n1/device", NVME);
        link_to(t, "sys/class/block/nvme0n1", NVME "/nvme0n1");
        link_to(t, "sys/dev/block/259:0", NVME "/nvme0n1");

        /* SATA: INQUIRY vendor and model, VPD page 0x80 (header, length 20, the serial padded). */
        put(t, SATA "/vendor", "ATA     \n");
        put(t, SATA "/model", "SATA-MODEL      \n");
        static const uint8_t vpd[] = { 0, 0x80, 0, 20, 'S', 'A', 'T', 'A', 'S', 'E', 'R', '1', ' ', ' ', ' ', ' ',
                                       ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ' };
        put(t, SATA "/delete", "");
        put_bytes(t, SATA "/vpd_pg80", vpd, sizeof vpd);
        put(t, PCI "/0000:00:1f.2/ata1/ata_port/ata1/port_no", "1\n");
        put(t, PCI "/0000:00:1f.2/ata1/host0/scsi_host/host0/scan", "");
        disk(t, SATA, "sda", 8, 0, 1);
        partition(t, SATA, "sda", "sda1", 8, 1);
        partition(t, SATA, "sda", "sda2", 8, 2);
        put(t, SATA "/scsi_generic/sg0/uevent", "");

        /* An optical drive: no VPD serial (QEMU's ATAPI has none), its SG node. */
        put(t, CD "/vendor", "QEMU    \n");
        put(t, CD "/model", "QEMU DVD-ROM    \n");
        put(t, PCI "/0000:00:1f.2/ata3/ata_port/ata3/port_no", "3\n");
        disk(t, CD, "sr0", 11, 0, 3);
        put(t, CD "/scsi_generic/sg1/uevent", "");
        link_to(t, "sys/dev/char/21:1", CD "/scsi_generic/sg1");

        /* virtio: the serial is the disk's own attribute. */
        subsystem(t, VIRTIO, "virtio");
        disk(t, VIRTIO, "vda", 254, 0, 5);
        put(t, VIRTIO "/block/vda/serial", "VIRTSER1");

        /* A USB stick (usb-devices.c's) and a loop device (nobody's). */
        subsystem(t, PCI "/0000:00:14.0/usb2", "usb");
        subsystem(t, PCI "/0000:00:14.0/usb2/2-1", "usb");
        disk(t, USB, "sdb", 8, 16, 11);
        put(t, "sys/devices/virtual/block/loop0/dev", "7:0\n");
        link_to(t, "sys/class/block/loop0", "sys/devices/virtual/block/loop0");

        mkdir_p(t->root);
        _cleanup_free_ char *probe = at(t, "root/probe");
        t->nodes = getuid() == 0 && mknod(probe, S_IFBLK | 0600, makedev(8, 2)) == 0;
        (void) unlink(probe);
        *state = t;
        return 0;
}

static int teardown(void **state) {
        struct tree *t = *state;
        test_rmdir_r(t->dir);
        free(t->dir);
        free(t->sys);
        free(t->root);
        free(t);
        return 0;
}

/* ---- media-sysfs ---------------------------------------------------------------------------- */

static void test_reads_an_sd_card(void **state) {
        struct tree *t = *state;
        struct media_disk d;

        assert_int_equal(media_disk_read(t->sys, "mmcblk0", &d), 0);
        assert_int_equal(d.id.bus, MEDIA_BUS_MMC);
        assert_string_equal(d.id.name, "mmcblk0");
        assert_string_equal(d.id.vendor, "0x0000aa");
        assert_string_equal(d.id.oemid, "0x5859");
        assert_string_equal(d.id.model, "QEMU!");
        assert_string_equal(d.id.serial, "0xdeadbeef");
        assert_string_equal(d.id.date, "02/2006");
        assert_string_equal(d.id.path, "pci-0000:00:04.0-mmc");
        assert_int_equal(d.diskseq, 7);
        assert_int_equal(major(d.devnum), 179);
        assert_true(strstr(d.device, "mmc0:4567") != NULL);
}

static void test_reads_nvme_sata_optical_virtio(void **state) {
        struct tree *t = *state;
        struct media_disk d;

        assert_int_equal(media_disk_read(t->sys, "nvme0n1", &d), 0);
        assert_int_equal(d.id.bus, MEDIA_BUS_NVME);
        assert_string_equal(d.id.serial, "NVSER123");
        assert_string_equal(d.id.model, "QEMU NVMe Ctrl");
        assert_string_equal(d.id.path, "pci-0000:01:00.0-nvme-1");
        assert_int_equal(d.diskseq, 9);

        assert_int_equal(media_disk_read(t->sys, "sda", &d), 0);
        assert_int_equal(d.id.bus, MEDIA_BUS_ATA);
        assert_string_equal(d.id.vendor, "ATA");
        assert_string_equal(d.id.model, "SATA-MODEL");
        assert_string_equal(d.id.serial, "SATASER1");
        assert_string_equal(d.id.path, "pci-0000:00:1f.2-ata-1.0");   /* udev's ID_PATH, measured */

        assert_int_equal(media_disk_read(t->sys, "sr0", &d), 0);
        assert_int_equal(d.id.bus, MEDIA_BUS_OPTICAL);
        assert_string_equal(d.id.vendor, "QEMU");
        assert_string_equal(d.id.model, "QEMU DVD-ROM");
        assert_string_equal(d.id.serial, "");
        assert_string_equal(d.id.path, "pci-0000:00:1f.2-ata-3.0");

        assert_int_equal(media_disk_read(t->sys, "vda", &d), 0);
        assert_int_equal(d.id.bus, MEDIA_BUS_VIRTIO);
        assert_string_equal(d.id.serial, "VIRTSER1");
        assert_string_equal(d.id.path, "pci-0000:00:05.0");
}

static void test_not_ours_usb_loop_partition_bad_name(void **state) {
        struct tree *t = *state;
        struct media_disk d;

        assert_int_equal(media_disk_read(t->sys, "sdb", &d), -EMEDIUMTYPE);       /* on USB */
        assert_int_equal(media_disk_read(t->sys, "loop0", &d), -EMEDIUMTYPE);     /* virtual */
        assert_int_equal(media_disk_read(t->sys, "mmcblk0p1", &d), -EMEDIUMTYPE); /* a partition */
        assert_int_equal(media_disk_read(t->sys, "nvme9n9", &d), -ENOENT);
        assert_int_equal(media_disk_read(t->sys, "../sda", &d), -EINVAL);
        assert_int_equal(media_disk_read(t->sys, "SDA", &d), -EINVAL);
        assert_int_equal(media_disk_read(t->sys, "", &d), -EINVAL);
        assert_false(media_name_valid("0123456789012345678901234567890123"));
        assert_true(media_name_valid("nvme0n1"));
}

/* What a device controls is sanitised: an escape sequence in a card's name stays visible. */
static void test_device_strings_are_sanitised(void **state) {
        struct tree *t = *state;
        struct media_disk d;

        put(t, MMC "/name", "A\x1b[2JB\n");
        put(t, NVME "/serial", "  X\x07Y  \n");
        assert_int_equal(media_disk_read(t->sys, "mmcblk0", &d), 0);
        assert_string_equal(d.id.model, "A\\x1b[2JB");
        assert_int_equal(media_disk_read(t->sys, "nvme0n1", &d), 0);
        assert_string_equal(d.id.serial, "X\\x07Y");
}

static void test_disk_of_node(void **state) {
        struct tree *t = *state;
        char name[MEDIA_NAME_MAX];

        assert_int_equal(media_disk_of_node(t->sys, makedev(179, 1), false, name), 0);
        assert_string_equal(name, "mmcblk0");
        assert_int_equal(media_disk_of_node(t->sys, makedev(8, 0), false, name), 0);
        assert_string_equal(name, "sda");
        assert_int_equal(media_disk_of_node(t->sys, makedev(21, 1), true, name), 0);   /* sg1 -> sr0 */
        assert_string_equal(name, "sr0");
        assert_int_equal(media_disk_of_node(t->sys, makedev(8, 99), false, name), -ENOENT);
}

static void test_partitions_and_trigger(void **state) {
        struct tree *t = *state;
        struct media_disk d;
        char names[4][MEDIA_NAME_MAX];
        dev_t devnums[4];
        size_t n;

        assert_int_equal(media_disk_read(t->sys, "sda", &d), 0);
        assert_int_equal(media_disk_partitions(&d, names, devnums, 4), 2);
        assert_true(devnums[0] == makedev(8, 1) || devnums[0] == makedev(8, 2));
        assert_int_equal(media_disk_trigger(&d, "add"), 0);
        for (const char *f = SATA "/block/sda/uevent"; f; f = NULL) {
                _cleanup_free_ char *p = at(t, "%s", f), *s = NULL;
                assert_int_equal(read_file_bounded(p, 64, &s, &n), 0);
                assert_string_equal(s, "add");
        }
        _cleanup_free_ char *p1 = at(t, SATA "/block/sda/sda2/uevent"), *sg = at(t, SATA "/scsi_generic/sg0/uevent"), *s = NULL;
        assert_int_equal(read_file_bounded(p1, 64, &s, &n), 0);
        assert_string_equal(s, "add");
        s = mfree(s);
        assert_int_equal(read_file_bounded(sg, 64, &s, &n), 0);
        assert_string_equal(s, "add");
}

static bool keep_all(const char *name, void *userdata) {
        (*(int *) userdata)++;
        return true;
}

static bool keep_none(const char *name, void *userdata) {
        return false;
}

/* Re-attaching: SCSI delete and a scan of its address; the PCI function removed and its bus
 * rescanned, never while another disk on it must be kept. */
static void test_reattach(void **state) {
        struct tree *t = *state;
        struct media_disk d;
        size_t n;
        int asked = 0;

        assert_int_equal(media_disk_read(t->sys, "sda", &d), 0);
        assert_int_equal(media_disk_reattach(t->sys, &d, keep_all, &asked), 0);
        _cleanup_free_ char *del = at(t, SATA "/delete"), *scan = at(t, PCI "/0000:00:1f.2/ata1/host0/scsi_host/host0/scan"),
                            *s = NULL;
        assert_int_equal(read_file_bounded(del, 64, &s, &n), 0);
        assert_string_equal(s, "1");
        s = mfree(s);
        assert_int_equal(read_file_bounded(scan, 64, &s, &n), 0);
        assert_string_equal(s, "0 0 0");
        s = mfree(s);

        /* A second namespace of the same controller, which must be kept: nothing removed. */
        put(t, NVME "/nvme0n2/dev", "259:5\n");
        link_to(t, NVME "/nvme0n2/device", NVME);
        link_to(t, "sys/class/block/nvme0n2", NVME "/nvme0n2");
        assert_int_equal(media_disk_read(t->sys, "nvme0n1", &d), 0);
        asked = 0;
        assert_int_equal(media_disk_reattach(t->sys, &d, keep_all, &asked), -EBUSY);
        assert_int_equal(asked, 1);
        _cleanup_free_ char *rm = at(t, PCI "/0000:00:02.0/0000:01:00.0/remove"),
                            *rescan = at(t, PCI "/0000:00:02.0/pci_bus/0000:01/rescan");
        assert_int_equal(read_file_bounded(rm, 64, &s, &n), 0);
        assert_string_equal(s, "");
        s = mfree(s);
        assert_int_equal(media_disk_reattach(t->sys, &d, keep_none, NULL), 0);
        assert_int_equal(read_file_bounded(rm, 64, &s, &n), 0);
        assert_string_equal(s, "1");
        s = mfree(s);
        assert_int_equal(read_file_bounded(rescan, 64, &s, &n), 0);
        assert_string_equal(s, "1");
}

/* ---- the fixed-disk lists -------------------------------------------------------------------- */

static void test_list_round_trip_and_match(void **state) {
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *l = calloc(1, sizeof *l), *back = NULL;
        _cleanup_free_ char *text = NULL;
        struct media_identity sata = { .bus = MEDIA_BUS_ATA, .vendor = "ATA", .model = "SATA-MODEL", .serial = "SATASER1",
                                       .path = "pci-0000:00:1f.2-ata-1.0" };
        struct media_identity vd = { .bus = MEDIA_BUS_VIRTIO, .path = "pci-0000:00:05.0" };
        size_t n;

        assert_non_null(l);
        assert_int_equal(media_fixed_list_add_disk(l, &sata), 0);
        assert_int_equal(media_fixed_list_add_disk(l, &vd), 0);
        assert_int_equal(media_fixed_list_add_disk(l, &(struct media_identity) { .bus = MEDIA_BUS_SCSI }), -ENODATA);
        assert_int_equal(media_fixed_list_format(l, &text, &n), 0);
        assert_string_equal(text, "kyoka fixed disks 1\nata\t\tSATA-MODEL\tSATASER1\t\nvirtio\t\t\t\tpci-0000:00:05.0\n");
        assert_int_equal(media_fixed_list_parse(text, n, &back), 0);
        assert_int_equal(back->n, 2);

        /* Keyed by serial and model: the same disk on another port is still the same disk. */
        struct media_identity moved = sata;
        strcpy(moved.path, "pci-0000:00:17.0-ata-2.0");
        assert_true(media_fixed_list_contains(back, &moved));
        struct media_identity other = sata;
        strcpy(other.serial, "SATASER2");
        assert_false(media_fixed_list_contains(back, &other));
        other = sata;
        other.bus = MEDIA_BUS_NVME;
        assert_false(media_fixed_list_contains(back, &other));
        /* Serial-less: by its port only. */
        assert_true(media_fixed_list_contains(back, &vd));
        struct media_identity vd2 = vd;
        strcpy(vd2.path, "pci-0000:00:06.0");
        assert_false(media_fixed_list_contains(back, &vd2));
        vd2.path[0] = 0;
        assert_false(media_fixed_list_contains(back, &vd2));
        assert_false(media_fixed_list_contains(NULL, &vd));
}

static void test_list_refuses_what_it_did_not_write(void **state) {
        static const char *const bad[] = {
                "",
                "kyoka fixed disks 2\n",
                "kyoka fixed disks 1",                                      /* no newline */
                "kyoka fixed disks 1\nata\t\t\t\t\n",                       /* neither serial nor path */
                "kyoka fixed disks 1\nusb\t\t\tS\t\n",                      /* unknown bus */
                "kyoka fixed disks 1\nata\t\t\tS\n",                        /* four fields */
                "kyoka fixed disks 1\nata\t\t\tS\t\t\n",                    /* six */
                "kyoka fixed disks 1\nata\t\t\tS\x1b\t\n",                  /* not sanitised */
                "kyoka fixed disks 1\nata\t\t\tS\\\t\n",                    /* a lone backslash */
                "kyoka fixed disks 1\nata\t\t\tS\t\n\n",                    /* an empty line */
        };
        struct media_fixed_list *l = NULL;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (media_fixed_list_parse(bad[i], strlen(bad[i]), &l) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
        assert_int_equal(media_fixed_list_parse("kyoka fixed disks 1\n", 20, &l), 0);
        assert_int_equal(l->n, 0);
        media_fixed_list_free(l);
}

static void test_list_files(void **state) {
        struct tree *t = *state;
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *l = calloc(1, sizeof *l), *back = NULL;
        struct media_identity nv = { .bus = MEDIA_BUS_NVME, .model = "M", .serial = "S" };

        assert_int_equal(media_fixed_list_read(t->dir, KYOKA_DISKS_AT_INSTALL_FILE, &back), -ENOENT);
        assert_int_equal(media_fixed_list_add_disk(l, &nv), 0);
        assert_int_equal(media_fixed_list_write(t->dir, KYOKA_DISKS_AT_INSTALL_FILE, l, true), 0);
        assert_int_equal(media_fixed_list_write(t->dir, KYOKA_DISKS_AT_INSTALL_FILE, l, true), -EEXIST);
        assert_int_equal(media_fixed_list_read(t->dir, KYOKA_DISKS_AT_INSTALL_FILE, &back), 0);
        assert_true(media_fixed_list_contains(back, &nv));
        put(t, KYOKA_DISKS_AT_INSTALL_FILE, "garbage\n");
        back = media_fixed_list_free(back);
        assert_int_equal(media_fixed_list_read(t->dir, KYOKA_DISKS_AT_INSTALL_FILE, &back), -EBADMSG);
}

/* The rule as a table: the system first, then the policy's list, then the installation's, and
 * without a list only SD cards and discs are media. */
static void test_fixed_rule_table(void **state) {
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *install = calloc(1, sizeof *install),
                                                                   *policy = calloc(1, sizeof *policy);
        struct media_identity nv = { .bus = MEDIA_BUS_NVME, .model = "M", .serial = "S1" },
                              nv2 = { .bus = MEDIA_BUS_NVME, .model = "M", .serial = "S2" },
                              card = { .bus = MEDIA_BUS_MMC, .serial = "0x1" },
                              cd = { .bus = MEDIA_BUS_OPTICAL, .path = "p" };

        assert_int_equal(media_fixed_list_add_disk(install, &nv), 0);
        assert_int_equal(media_fixed_list_add_disk(policy, &card), 0);
        assert_int_equal(media_fixed_from(MEDIA_FIXED_ROOT, &nv2, install, policy), MEDIA_FIXED_ROOT);
        assert_int_equal(media_fixed_from(MEDIA_FIXED_FSTAB, &card, NULL, NULL), MEDIA_FIXED_FSTAB);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &nv, install, policy), MEDIA_FIXED_INSTALL);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &nv2, install, policy), MEDIA_NOT_FIXED);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &card, install, policy), MEDIA_FIXED_POLICY);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &card, install, NULL), MEDIA_NOT_FIXED);
        /* No list yet (kyokad never ran, /var not mounted): disks that may be the machine's own are
         * left alone; cards and discs are media by nature. */
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &nv2, NULL, NULL), MEDIA_FIXED_NO_LIST);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &card, NULL, NULL), MEDIA_NOT_FIXED);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &cd, NULL, NULL), MEDIA_NOT_FIXED);
        /* Even listed at installation, a card is not fixed (only the root/fstab rule or the
         * policy make one). */
        struct media_fixed_list *both = calloc(1, sizeof *both);
        assert_int_equal(media_fixed_list_add_disk(both, &card), 0);
        assert_int_equal(media_fixed_from(MEDIA_NOT_FIXED, &card, both, NULL), MEDIA_NOT_FIXED);
        media_fixed_list_free(both);
        for (int r = 0; r < _MEDIA_FIXED_MAX; r++)
                assert_string_not_equal(media_fixed_reason_to_string((enum media_fixed_reason) r), "?");
}

/* ---- the system's own disks ------------------------------------------------------------------ */

static void mknod_at(const struct tree *t, const char *rel, unsigned ma, unsigned mi) {
        _cleanup_free_ char *p = at(t, "root/%s", rel);
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", p);
        *strrchr(parent, '/') = 0;
        mkdir_p(parent);
        assert_int_equal(mknod(p, S_IFBLK | 0600, makedev(ma, mi)), 0);
}

static enum media_fixed_reason system_reason(const struct tree *t, const char *name, char *const *env) {
        struct media_env e = { .root = t->root, .sysfs = t->sys, .env = env };
        struct media_disk d;
        assert_int_equal(media_disk_read(t->sys, name, &d), 0);
        return media_disk_system_reason(&e, &d);
}

static void test_root_file_system(void **state) {
        struct tree *t = *state;

        /* Nothing known: nothing fixed (no mountinfo, no fstab). */
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_NOT_FIXED);
        /* "/" on sda2. */
        put(t, "root/proc/self/mountinfo", "22 27 0:21 / /proc rw - proc proc rw\n27 1 8:2 / / rw - ext4 /dev/sda2 rw\n");
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_FIXED_ROOT);
        assert_int_equal(system_reason(t, "nvme0n1", NULL), MEDIA_NOT_FIXED);
        /* "/" on device-mapper (LUKS, LVM) over nvme0n1: its slaves. */
        put(t, "sys/devices/virtual/block/dm-0/dev", "253:0\n");
        link_to(t, "sys/dev/block/253:0", "sys/devices/virtual/block/dm-0");
        link_to(t, "sys/devices/virtual/block/dm-0/slaves/nvme0n1", NVME "/nvme0n1");
        put(t, "root/proc/self/mountinfo", "27 1 253:0 / / rw - ext4 /dev/mapper/root rw\n");
        assert_int_equal(system_reason(t, "nvme0n1", NULL), MEDIA_FIXED_ROOT);
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_NOT_FIXED);
        /* Btrfs: an anonymous device number; the source names the disk. */
        if (t->nodes) {
                mknod_at(t, "dev/mmcblk0p1", 179, 1);
                put(t, "root/proc/self/mountinfo", "27 1 0:35 / / rw - btrfs /dev/mmcblk0p1 rw\n");
                assert_int_equal(system_reason(t, "mmcblk0", NULL), MEDIA_FIXED_ROOT);
        }
        /* The last mount on "/" wins (an overmount). */
        put(t, "root/proc/self/mountinfo", "27 1 8:2 / / rw - ext4 /dev/sda2 rw\n40 27 259:0 / / rw - ext4 /dev/nvme0n1 rw\n");
        assert_int_equal(system_reason(t, "nvme0n1", NULL), MEDIA_FIXED_ROOT);
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_NOT_FIXED);
}

static void test_fstab_and_crypttab(void **state) {
        struct tree *t = *state;

        put(t, "root/proc/self/mountinfo", "");
        /* Names that name no disk: comments, pseudo file systems, network shares, a swap file. */
        put(t, "root/etc/fstab", "# UUID=1111 / ext4\nproc /proc proc defaults 0 0\nserver:/x /mnt nfs defaults 0 0\n"
                                 "//srv/share /s cifs 0 0\n/swapfile none swap sw 0 0\n");
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_NOT_FIXED);
        /* By UUID in udev's database (a partition of the disk), in either case. */
        put(t, "root/run/udev/data/b8:1", "S:disk/by-uuid/abcd\nE:ID_FS_TYPE=ext4\nE:ID_FS_UUID=aBcD-1234\n");
        put(t, "root/etc/fstab", "UUID=ABCD-1234 /data ext4 defaults 0 2\n");
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_FIXED_FSTAB);
        assert_int_equal(system_reason(t, "nvme0n1", NULL), MEDIA_NOT_FIXED);
        /* By label, with fstab's octal escape and udev's \x encoding. */
        put(t, "root/run/udev/data/b8:2", "E:ID_FS_LABEL_ENC=my\\x20data\n");
        put(t, "root/etc/fstab", "LABEL=my\\040data /d ext4 defaults 0 2\n");
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_FIXED_FSTAB);
        /* By PARTLABEL, from the environment udev gives the helper for the partition it is
         * processing (not in its database yet). */
        put(t, "root/etc/fstab", "PARTLABEL=cardpart /c vfat defaults 0 0\n");
        char *env[] = { "DEVNAME=/dev/mmcblk0p1", "ID_PART_ENTRY_NAME=cardpart", NULL };
        assert_int_equal(system_reason(t, "mmcblk0", NULL), MEDIA_NOT_FIXED);
        assert_int_equal(system_reason(t, "mmcblk0", env), MEDIA_FIXED_FSTAB);
        /* crypttab's second column: the encrypted device. */
        put(t, "root/etc/fstab", "");
        put(t, "root/run/udev/data/b259:0", "E:ID_FS_UUID=luks-uuid\nE:ID_FS_TYPE=crypto_LUKS\n");
        put(t, "root/etc/crypttab", "# name device key options\ncryptdata UUID=luks-uuid none luks\n");
        assert_int_equal(system_reason(t, "nvme0n1", NULL), MEDIA_FIXED_CRYPTTAB);
        put(t, "root/etc/crypttab", "");
        if (!t->nodes)
                return;
        /* By a /dev path and by a /dev/disk/by-uuid link to a partition node. */
        mknod_at(t, "dev/sda2", 8, 2);
        put(t, "root/etc/fstab", "/dev/sda2 /x ext4 defaults 0 0\n");
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_FIXED_FSTAB);
        mknod_at(t, "dev/mmcblk0p1", 179, 1);
        _cleanup_free_ char *lnk = at(t, "root/dev/disk/by-uuid/5555-6666"), *tg = at(t, "root/dev/mmcblk0p1");
        _cleanup_free_ char *by_uuid = at(t, "root/dev/disk/by-uuid");
        mkdir_p(by_uuid);
        assert_int_equal(symlink(tg, lnk), 0);
        put(t, "root/etc/fstab", "UUID=5555-6666 /card vfat defaults 0 0\n");
        assert_int_equal(system_reason(t, "mmcblk0", NULL), MEDIA_FIXED_FSTAB);
        assert_int_equal(system_reason(t, "sda", NULL), MEDIA_NOT_FIXED);
}

/* ---- the media access file ------------------------------------------------------------------- */

static void test_access_parse(void **state) {
        static const struct { const char *text; int r; enum media_access a; uint64_t seq; } cases[] = {
                { "read-write\ndiskseq=7\n", 0, MEDIA_ACCESS_READ_WRITE, 7 },
                { "read-only\ndiskseq=18446744073709551615\n", 0, MEDIA_ACCESS_READ_ONLY, UINT64_MAX },
                { "read-only\ndiskseq=0\n", 0, MEDIA_ACCESS_READ_ONLY, 0 },
                { "read-only\ndiskseq=18446744073709551616\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-only\ndiskseq=07\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-only\ndiskseq=\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-only\ndiskseq=7", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-only\ndiskseq=7\n\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-only\ndiskseq=-7\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-only\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "closed\ndiskseq=7\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "READ-WRITE\ndiskseq=7\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "read-write\nhidraw=user\n", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
                { "", -EBADMSG, MEDIA_ACCESS_CLOSED, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                enum media_access a = MEDIA_ACCESS_CLOSED;
                uint64_t seq = 42;
                int r = media_access_parse(cases[i].text, strlen(cases[i].text), &a, &seq);
                if (r != cases[i].r)
                        fail_msg("\"%s\": %d", cases[i].text, r);
                if (r == 0 && (a != cases[i].a || seq != cases[i].seq))
                        fail_msg("\"%s\": access %d seq %llu", cases[i].text, a, (unsigned long long) seq);
        }
        /* An embedded NUL is not a line end. */
        assert_int_equal(media_access_parse("read-only\0diskseq=7\n", 20, &(enum media_access) { 0 }, &(uint64_t) { 0 }),
                         -EBADMSG);
}

static void test_access_file(void **state) {
        struct tree *t = *state;
        _cleanup_free_ char *dir = at(t, "media");
        mkdir_p(dir);
        assert_int_equal(chmod(dir, 0755), 0);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(dfd >= 0);
        assert_int_equal(media_access_read(dfd, "mmcblk0", 7), MEDIA_ACCESS_CLOSED);
        assert_int_equal(media_access_write(dfd, "mmcblk0", MEDIA_ACCESS_READ_ONLY, 7), 0);
        assert_int_equal(media_access_read(dfd, "mmcblk0", 7), MEDIA_ACCESS_READ_ONLY);
        /* Another medium under the same name: closed until decided. */
        assert_int_equal(media_access_read(dfd, "mmcblk0", 8), MEDIA_ACCESS_CLOSED);
        assert_int_equal(media_access_write(dfd, "mmcblk0", MEDIA_ACCESS_READ_WRITE, 8), 0);
        assert_int_equal(media_access_read(dfd, "mmcblk0", 8), MEDIA_ACCESS_READ_WRITE);
        /* Nothing anyone else could have written counts. */
        _cleanup_free_ char *f = at(t, "media/mmcblk0");
        assert_int_equal(chmod(f, 0666), 0);
        assert_int_equal(media_access_read(dfd, "mmcblk0", 8), MEDIA_ACCESS_CLOSED);
        assert_int_equal(chmod(f, 0644), 0);
        assert_int_equal(chmod(dir, 0775), 0);
        assert_int_equal(media_access_read(dfd, "mmcblk0", 8), MEDIA_ACCESS_CLOSED);
        assert_int_equal(chmod(dir, 0755), 0);
        assert_int_equal(media_access_write(dfd, "../x", MEDIA_ACCESS_READ_WRITE, 1), -EINVAL);
        assert_int_equal(media_access_write(dfd, "sr0", MEDIA_ACCESS_CLOSED, 1), -EINVAL);
        assert_int_equal(media_access_remove(dfd, "mmcblk0"), 0);
        assert_int_equal(media_access_remove(dfd, "mmcblk0"), 0);
        assert_int_equal(media_access_read(dfd, "mmcblk0", 8), MEDIA_ACCESS_CLOSED);
}

/* The carry-out record's lookup (media_medium_of): a block device is the medium's disk or one of
 * its partitions, never a disk whose name merely starts the same. */
static void test_syspath_under(void **state) {
        const char *disk = "/sys/devices/pci0000:00/0000:00:03.0/mmc_host/mmc0/mmc0:4567/block/mmcblk0";
        assert_true(media_syspath_under(disk, disk));
        assert_true(media_syspath_under("/sys/devices/pci0000:00/0000:00:03.0/mmc_host/mmc0/mmc0:4567/block/mmcblk0/"
                                        "mmcblk0p1", disk));
        assert_false(media_syspath_under("/sys/devices/pci0000:00/0000:00:03.0/mmc_host/mmc0/mmc0:4567/block/mmcblk01",
                                         disk));
        assert_false(media_syspath_under("/sys/devices/pci0000:00/0000:00:03.0/mmc_host/mmc0/mmc0:4567/block", disk));
        assert_false(media_syspath_under("/sys/devices/virtual/block/loop0", disk));
        assert_false(media_syspath_under(disk, ""));
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_syspath_under),
                T(test_reads_an_sd_card),
                T(test_reads_nvme_sata_optical_virtio),
                T(test_not_ours_usb_loop_partition_bad_name),
                T(test_device_strings_are_sanitised),
                T(test_disk_of_node),
                T(test_partitions_and_trigger),
                T(test_reattach),
                cmocka_unit_test(test_list_round_trip_and_match),
                cmocka_unit_test(test_list_refuses_what_it_did_not_write),
                T(test_list_files),
                cmocka_unit_test(test_fixed_rule_table),
                T(test_root_file_system),
                T(test_fstab_and_crypttab),
                cmocka_unit_test(test_access_parse),
                T(test_access_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
