/* SPDX-License-Identifier: MIT */
/* Read-only media and raw HID: the names, paths, access files and nodes that kyoka-block-access
 * and kyokad decide on. Every doubt must come out read-only, and root's alone. */
#include "test-util.h"
#include "block-access.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static void test_usb_sysname_valid(void **state) {
        const char *good[] = { "1-2", "2-6", "1-5.2", "10-1.2.3.4.5", "3-10", NULL };
        const char *bad[] = { "", "usb1", "1-2:1.0", "../2-6", "2-6/..", "1-", "-1", "1-2.", "1-2..3", "1-a", "1--2",
                              "1-2 ", " 1-2", "1-2\n", "1-2/3", "1.2-3", "1-222222222222222222222222222222222", NULL };
        for (const char **p = good; *p; p++)
                assert_true(usb_sysname_valid(*p));
        for (const char **p = bad; *p; p++)
                assert_false(usb_sysname_valid(*p));
        assert_false(usb_sysname_valid(NULL));
}

static void test_usb_sysname_from_devpath(void **state) {
        char n[USB_SYSNAME_MAX];

        assert_int_equal(usb_sysname_from_devpath("/sys/devices/pci0000:00/0000:00:01.0/usb2/2-6/2-6:1.0/host0/"
                                                  "target0:0:0/0:0:0:0/block/sdb", n, sizeof n), 0);
        assert_string_equal(n, "2-6");
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/pci0000:00/0000:00:01.0/usb2/2-6/2-6:1.0/host0/"
                                                  "target0:0:0/0:0:0:0/block/sdb/sdb1", n, sizeof n), 0);
        assert_string_equal(n, "2-6");
        /* Behind a hub: the stick, not the hub. */
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/pci0000:00/0000:00:01.0/usb1/1-5/1-5.2/1-5.2:1.0/"
                                                  "host3/target3:0:0/3:0:0:0/scsi_generic/sg1", n, sizeof n), 0);
        assert_string_equal(n, "1-5.2");
        /* A USB device below another USB device's interface: the innermost decides. */
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/x/usb1/1-1/1-1:1.0/y/usb3/3-2/3-2:1.0/host0/"
                                                  "target0:0:0/0:0:0:0/block/sdc", n, sizeof n), 0);
        assert_string_equal(n, "3-2");
        /* Not on USB, or only a root hub's own interface on the path. */
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/virtual/block/loop0", n, sizeof n), -ENOENT);
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/"
                                                  "0:0:0:0/block/sda", n, sizeof n), -ENOENT);
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/pci0000:00/usb2/2-0:1.0/x", n, sizeof n), -ENOENT);
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/usb2/2-6", n, sizeof n), -ENOENT);
        assert_int_equal(usb_sysname_from_devpath("", n, sizeof n), -ENOENT);
        /* A device directory name that only looks like an interface of something else. */
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/2-6/2-7:1.0/block/sdb", n, sizeof n), -ENOENT);
        /* Too small a buffer. */
        char tiny[3];
        assert_int_equal(usb_sysname_from_devpath("/sys/devices/usb1/1-5.2/1-5.2:1.0/x", tiny, sizeof tiny),
                         -ENAMETOOLONG);
        /* Bounded input. */
        char *huge = malloc(8192);
        memset(huge, 'a', 8191);
        huge[8191] = 0;
        assert_int_equal(usb_sysname_from_devpath(huge, n, sizeof n), -ENAMETOOLONG);
        free(huge);
}

static int open_dir(const char *d) {
        int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static enum block_access read_with(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = test_write(dir, name, content, strlen(content));
        assert_int_equal(chmod(p, 0644), 0);
        _cleanup_close_ int fd = open_dir(dir);
        return block_access_read(fd, name);
}

static void test_access_file_contents(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        assert_int_equal(chmod(d, 0755), 0);

        assert_int_equal(read_with(d, "2-6", "read-write\n"), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(read_with(d, "2-6", "read-write"), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(read_with(d, "2-6", "read-only\n"), BLOCK_ACCESS_READ_ONLY);
        /* Held for its virus scan: the helper says so, and the rule makes it root's alone. */
        assert_int_equal(read_with(d, "2-6", "held\nhidraw=root\n"), BLOCK_ACCESS_HELD);
        assert_int_equal(read_with(d, "2-6", "held-x\n"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", ""), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", "read-write\n\n"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", "READ-WRITE\n"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", "read-writeX"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", " read-write"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", "read-write\0\n"), BLOCK_ACCESS_READ_WRITE); /* strlen: same file */
        assert_int_equal(read_with(d, "2-6", "read-write\nhidraw=root\n"), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(read_with(d, "2-6", "read-write\nhidraw=user"), BLOCK_ACCESS_READ_WRITE);
        /* A bad second line spoils the whole file. */
        assert_int_equal(read_with(d, "2-6", "read-write\nhidraw=admin\n"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", "read-write\nhidraw=user\n\n"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(read_with(d, "2-6", "hidraw=user\nread-write\n"), BLOCK_ACCESS_READ_ONLY);
        char big[4096];
        memset(big, '\n', sizeof big - 1);
        memcpy(big, "read-write", 10);
        big[sizeof big - 1] = 0;
        assert_int_equal(read_with(d, "2-6", big), BLOCK_ACCESS_READ_ONLY);
        test_rmdir_r(d);
}

static enum hidraw_access hidraw_with(const char *dir, const char *name, const void *content, size_t len) {
        _cleanup_free_ char *p = test_write(dir, name, content, len);
        assert_int_equal(chmod(p, 0644), 0);
        _cleanup_close_ int fd = open_dir(dir);
        return hidraw_access_read(fd, name);
}

#define HIDRAW_WITH(d, s) hidraw_with(d, "1-4", s, sizeof(s) - 1)

/* Only the exact second line grants raw HID; anything else about the file takes it away. */
static void test_access_file_hidraw(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        assert_int_equal(chmod(d, 0755), 0);

        assert_int_equal(HIDRAW_WITH(d, "read-write\nhidraw=user\n"), HIDRAW_ACCESS_USER);
        assert_int_equal(HIDRAW_WITH(d, "read-only\nhidraw=user\n"), HIDRAW_ACCESS_USER);
        assert_int_equal(HIDRAW_WITH(d, "read-only\nhidraw=user"), HIDRAW_ACCESS_USER);
        assert_int_equal(HIDRAW_WITH(d, "read-write\nhidraw=root\n"), HIDRAW_ACCESS_ROOT);
        /* The format before raw HID: one line. */
        assert_int_equal(HIDRAW_WITH(d, "read-write\n"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(HIDRAW_WITH(d, "read-write"), HIDRAW_ACCESS_ROOT);
        /* Malformed: every one root's alone. */
        static const char *const bad[] = {
                "", "\n", "hidraw=user\n", "hidraw=user\nread-write\n", "read-write\nhidraw=user\n\n",
                "read-write\nhidraw=user\nhidraw=user\n", "read-write\nhidraw=users\n", "read-write\nhidraw=USER\n",
                "read-write\n hidraw=user\n", "read-write\r\nhidraw=user\n", "read-write\nhidraw=user\r\n",
                "read-write\n\nhidraw=user\n", "read-writ\nhidraw=user\n", "read-write hidraw=user\n", NULL,
        };
        for (const char *const *b = bad; *b; b++)
                assert_int_equal(hidraw_with(d, "1-4", *b, strlen(*b)), HIDRAW_ACCESS_ROOT);
        /* A NUL is no line end, and what follows it counts. */
        assert_int_equal(HIDRAW_WITH(d, "read-write\nhidraw=user\0"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(HIDRAW_WITH(d, "read-write\0\nhidraw=user\n"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(hidraw_with(d, "1-4", "read-write\0", 11), HIDRAW_ACCESS_ROOT);
        _cleanup_close_ int dfd = open_dir(d);
        assert_int_equal(block_access_read(dfd, "1-4"), BLOCK_ACCESS_READ_ONLY);
        /* Longer than any valid file, valid at the start. */
        char big[64];
        memset(big, '\n', sizeof big);
        memcpy(big, "read-write\nhidraw=user\n", 23);
        assert_int_equal(hidraw_with(d, "1-4", big, sizeof big), HIDRAW_ACCESS_ROOT);
        /* Not kyokad's: writable by others, owned by someone else, a symlink, not a USB name. */
        _cleanup_free_ char *f = test_write(d, "1-4", "read-write\nhidraw=user\n", 23);
        _cleanup_close_ int fd = open_dir(d);
        assert_int_equal(chmod(f, 0644), 0);
        assert_int_equal(hidraw_access_read(fd, "1-4"), HIDRAW_ACCESS_USER);
        assert_int_equal(chmod(f, 0664), 0);
        assert_int_equal(hidraw_access_read(fd, "1-4"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(chmod(f, 0644), 0);
        assert_int_equal(chmod(d, 0775), 0);
        assert_int_equal(hidraw_access_read(fd, "1-4"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(chmod(d, 0755), 0);
        if (geteuid() == 0) {
                assert_int_equal(chown(f, 1000, 0), 0);
                assert_int_equal(hidraw_access_read(fd, "1-4"), HIDRAW_ACCESS_ROOT);
                assert_int_equal(chown(f, 0, 0), 0);
        }
        assert_int_equal(renameat(fd, "1-4", fd, "target"), 0);
        assert_int_equal(symlinkat("target", fd, "1-4"), 0);
        assert_int_equal(hidraw_access_read(fd, "1-4"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(hidraw_access_read(fd, "target"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(hidraw_access_read(fd, "../1-4"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(hidraw_access_read(-EBADF, "1-4"), HIDRAW_ACCESS_ROOT);
        test_rmdir_r(d);
}

static void test_access_file_not_trusted(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        assert_int_equal(chmod(d, 0755), 0);
        _cleanup_close_ int fd = open_dir(d);
        _cleanup_free_ char *target = test_write(d, "target", "read-write\n", 11);
        assert_int_equal(chmod(target, 0644), 0);

        /* Missing, invalid names, no directory. */
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(block_access_read(fd, "target"), BLOCK_ACCESS_READ_ONLY);   /* not a USB name */
        assert_int_equal(block_access_read(fd, "../2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(block_access_read(-1, "2-6"), BLOCK_ACCESS_READ_ONLY);
        /* A symlink to a read-write file is not followed. */
        assert_int_equal(symlinkat("target", fd, "2-6"), 0);
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(unlinkat(fd, "2-6", 0), 0);
        /* A directory, a FIFO (must not hang). */
        assert_int_equal(mkdirat(fd, "2-6", 0755), 0);
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(unlinkat(fd, "2-6", AT_REMOVEDIR), 0);
        assert_int_equal(mkfifoat(fd, "2-6", 0644), 0);
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(unlinkat(fd, "2-6", 0), 0);
        /* Writable by others: the file, then the directory. */
        _cleanup_free_ char *f = test_write(d, "2-6", "read-write\n", 11);
        assert_int_equal(chmod(f, 0666), 0);
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(chmod(f, 0644), 0);
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(chmod(d, 0777), 0);
        assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(chmod(d, 0755), 0);
        /* Owned by someone else (only testable as root). */
        if (geteuid() == 0) {
                assert_int_equal(chown(f, 1000, 1000), 0);
                assert_int_equal(block_access_read(fd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        }
        /* Not a directory fd at all. */
        _cleanup_close_ int ffd = open(target, O_RDONLY | O_CLOEXEC);
        assert_int_equal(block_access_read(ffd, "2-6"), BLOCK_ACCESS_READ_ONLY);
        test_rmdir_r(d);
}

static void test_access_file_write_remove_clear(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        assert_int_equal(chmod(d, 0755), 0);
        _cleanup_close_ int fd = open_dir(d);
        _cleanup_free_ char *p = path_join(d, "1-5.2"), *text = NULL;
        struct stat st;

        assert_int_equal(block_access_write(fd, "1-5.2", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_ROOT), 0);
        assert_int_equal(read_file_bounded(p, 64, &text, NULL), 0);
        assert_string_equal(text, "read-write\nhidraw=root\n");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(block_access_read(fd, "1-5.2"), BLOCK_ACCESS_READ_WRITE);
        /* Replaced, never appended; no temporary file left. */
        assert_int_equal(hidraw_access_read(fd, "1-5.2"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(block_access_write(fd, "1-5.2", BLOCK_ACCESS_READ_ONLY, HIDRAW_ACCESS_USER), 0);
        free(text);
        text = NULL;
        assert_int_equal(read_file_bounded(p, 64, &text, NULL), 0);
        assert_string_equal(text, "read-only\nhidraw=user\n");
        assert_int_equal(faccessat(fd, ".1-5.2.tmp", F_OK, 0), -1);
        assert_int_equal(block_access_read(fd, "1-5.2"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(hidraw_access_read(fd, "1-5.2"), HIDRAW_ACCESS_USER);
        /* Refused: names that are not a USB device's, a bad directory. */
        assert_int_equal(block_access_write(fd, "../x", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_USER), -EINVAL);
        assert_int_equal(block_access_write(fd, "usb1", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_USER), -EINVAL);
        assert_int_equal(block_access_write(-EBADF, "1-1", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_USER), -EBADF);
        /* Remove: gone, and again without error. */
        assert_int_equal(block_access_remove(fd, "1-5.2"), 0);
        assert_int_equal(block_access_remove(fd, "1-5.2"), 0);
        assert_int_equal(block_access_read(fd, "1-5.2"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(hidraw_access_read(fd, "1-5.2"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(block_access_remove(fd, "../x"), -EINVAL);
        /* Clear: everything, whatever it is called. */
        assert_int_equal(block_access_write(fd, "1-1", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_USER), 0);
        assert_int_equal(block_access_write(fd, "2-1", BLOCK_ACCESS_READ_WRITE, HIDRAW_ACCESS_ROOT), 0);
        free(test_write(d, ".2-1.tmp", "read-write\n", 11));
        assert_int_equal(block_access_clear(fd), 0);
        assert_int_equal(block_access_read(fd, "1-1"), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(hidraw_access_read(fd, "1-1"), HIDRAW_ACCESS_ROOT);
        assert_int_equal(faccessat(fd, "2-1", F_OK, 0), -1);
        assert_int_equal(faccessat(fd, ".2-1.tmp", F_OK, 0), -1);
        test_rmdir_r(d);
}

static void test_set_read_only_needs_a_block_device(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        _cleanup_free_ char *f = test_write(d, "file", "x", 1);
        _cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
        assert_int_equal(block_device_set_read_only(fd, true), -ENOTBLK);
        assert_int_equal(block_device_set_read_only(-1, true), -EBADF);
        test_rmdir_r(d);
}

/* A fake sysfs device directory: 2-6 with a disk and a partition, and a hub child 2-6.1. */
static void mk(const char *base, const char *rel) {
        _cleanup_free_ char *cmd = NULL;
        assert_true(asprintf(&cmd, "mkdir -p '%s/%s'", base, rel) > 0);
        assert_int_equal(system(cmd), 0);
}

static void put(const char *base, const char *rel, const char *text) {
        _cleanup_free_ char *p = path_join(base, rel);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* The third line binds the file to the disks whose virus scan passed (issue 15: a card swapped
 * in a reader since is another medium, and held). Only the exact form kyokad writes parses. */
static void test_access_file_diskseq(void **state) {
        struct usb_access a;

        assert_int_equal(usb_access_parse("read-write\nhidraw=root\ndiskseq=7\n", 33, &a), 0);
        assert_true(a.bound);
        assert_int_equal(a.block, BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(a.n_diskseq, 1);
        assert_true(a.diskseq[0] == 7);
        static const char three[] = "read-only\nhidraw=user\ndiskseq=12 3 18446744073709551615";
        assert_int_equal(usb_access_parse(three, sizeof three - 1, &a), 0);
        assert_true(a.bound && a.n_diskseq == 3 && a.diskseq[2] == UINT64_MAX && a.hidraw == HIDRAW_ACCESS_USER);
        /* Bound to none: every disk held. */
        assert_int_equal(usb_access_parse("read-write\nhidraw=root\ndiskseq=\n", 32, &a), 0);
        assert_true(a.bound && a.n_diskseq == 0);
        /* The old forms: not bound. */
        assert_int_equal(usb_access_parse("read-write\nhidraw=root\n", 23, &a), 0);
        assert_false(a.bound);
        assert_int_equal(usb_access_parse("read-write\n", 11, &a), 0);
        assert_false(a.bound);
        static const char *const bad[] = {
                "read-write\ndiskseq=7\n",                     /* the hidraw line first */
                "read-write\nhidraw=root\ndiskseq=0\n",       /* no disk has diskseq 0 */
                "read-write\nhidraw=root\ndiskseq=07\n",
                "read-write\nhidraw=root\ndiskseq=-7\n",
                "read-write\nhidraw=root\ndiskseq=+7\n",
                "read-write\nhidraw=root\ndiskseq=7 \n",
                "read-write\nhidraw=root\ndiskseq= 7\n",
                "read-write\nhidraw=root\ndiskseq=7  8\n",
                "read-write\nhidraw=root\ndiskseq=7,8\n",
                "read-write\nhidraw=root\ndiskseq=7\n\n",
                "read-write\nhidraw=root\ndiskseq=7\ndiskseq=8\n",
                "read-write\nhidraw=root\ndiskseq=18446744073709551616\n",   /* overflows */
                "read-write\nhidraw=root\nDISKSEQ=7\n",
                "read-write\nhidraw=root\ndiskseq7\n",
                "read-write\nhidraw=root\ndiskseq=7\r\n",
                "read-write\nhidraw=root\ndisk",
                "read-write\nhidraw=root\n\n",
                "read-write\nhidraw=root\ndiskseq=1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",   /* more than 16 */
                NULL,
        };
        for (const char *const *b = bad; *b; b++) {
                a.bound = false;
                assert_int_equal(usb_access_parse(*b, strlen(*b), &a), -EBADMSG);
                assert_false(a.bound);     /* RET untouched */
        }
        /* A NUL is no separator. */
        assert_int_equal(usb_access_parse("read-write\nhidraw=root\ndiskseq=7\0\n", 34, &a), -EBADMSG);
        static const char sixteen[] = "held\nhidraw=root\ndiskseq=1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        assert_int_equal(usb_access_parse(sixteen, sizeof sixteen - 1, &a), 0);
        assert_int_equal(a.n_diskseq, 16);
}

/* What each node gets: only a block device of a disk the file names; sg nodes, unknown or other
 * diskseqs are held. Unbound files are as before. */
static void test_access_file_bound_nodes(void **state) {
        struct usb_access a = { .block = BLOCK_ACCESS_READ_WRITE, .bound = true, .n_diskseq = 2, .diskseq = { 5, 9 } };

        assert_int_equal(usb_access_of_node(&a, true, 5), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(usb_access_of_node(&a, true, 9), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(usb_access_of_node(&a, true, 6), BLOCK_ACCESS_HELD);      /* a card swapped in */
        assert_int_equal(usb_access_of_node(&a, true, 0), BLOCK_ACCESS_HELD);      /* unknown */
        assert_int_equal(usb_access_of_node(&a, false, 5), BLOCK_ACCESS_HELD);     /* an sg node */
        a.block = BLOCK_ACCESS_READ_ONLY;
        assert_int_equal(usb_access_of_node(&a, true, 9), BLOCK_ACCESS_READ_ONLY);
        assert_int_equal(usb_access_of_node(&a, true, 10), BLOCK_ACCESS_HELD);
        a.n_diskseq = 0;
        assert_int_equal(usb_access_of_node(&a, true, 5), BLOCK_ACCESS_HELD);
        a = (struct usb_access) { .block = BLOCK_ACCESS_READ_WRITE };
        assert_int_equal(usb_access_of_node(&a, true, 0), BLOCK_ACCESS_READ_WRITE);
        assert_int_equal(usb_access_of_node(&a, false, 0), BLOCK_ACCESS_READ_WRITE);
}

static void test_access_file_bound_write_read(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        assert_int_equal(chmod(d, 0755), 0);
        _cleanup_close_ int fd = open_dir(d);
        struct usb_access a = { .block = BLOCK_ACCESS_READ_WRITE, .hidraw = HIDRAW_ACCESS_ROOT, .bound = true,
                                .n_diskseq = USB_ACCESS_DISKSEQ_MAX }, b;
        for (size_t i = 0; i < USB_ACCESS_DISKSEQ_MAX; i++)
                a.diskseq[i] = UINT64_MAX - i;   /* the longest file */
        assert_int_equal(usb_access_write(fd, "1-5.2", &a), 0);
        usb_access_read(fd, "1-5.2", &b);
        assert_true(b.bound && b.block == BLOCK_ACCESS_READ_WRITE && b.n_diskseq == USB_ACCESS_DISKSEQ_MAX);
        assert_memory_equal(a.diskseq, b.diskseq, sizeof a.diskseq);
        assert_int_equal(block_access_read(fd, "1-5.2"), BLOCK_ACCESS_READ_WRITE);
        a.diskseq[3] = 0;
        assert_int_equal(usb_access_write(fd, "1-5.2", &a), -EINVAL);
        a.n_diskseq = USB_ACCESS_DISKSEQ_MAX + 1;
        assert_int_equal(usb_access_write(fd, "1-5.2", &a), -EINVAL);
        a = (struct usb_access) { .block = BLOCK_ACCESS_READ_WRITE, .bound = true };
        assert_int_equal(usb_access_write(fd, "1-5.2", &a), 0);
        usb_access_read(fd, "1-5.2", &b);
        assert_true(b.bound && b.n_diskseq == 0);
        /* Not trusted (group-writable): closed, not bound, whatever it says. */
        _cleanup_free_ char *p = path_join(d, "1-5.2");
        assert_int_equal(chmod(p, 0664), 0);
        usb_access_read(fd, "1-5.2", &b);
        assert_true(!b.bound && b.block == BLOCK_ACCESS_READ_ONLY);
        test_rmdir_r(d);
}

static char *get(const char *base, const char *rel) {
        _cleanup_free_ char *p = path_join(base, rel);
        FILE *f = fopen(p, "re");
        char *line = NULL;
        size_t n = 0;
        if (!f)
                return strdup("");
        if (getline(&line, &n, f) < 0) {
                free(line);
                line = strdup("");
        }
        fclose(f);
        return line;
}

/* A fake device: two LUNs (sdb with a partition, sdc), and an sg node. */
static void bound_tree(const char *d) {
        const char *lun0 = "2-6/2-6:1.0/host0/target0:0:0/0:0:0:0", *lun1 = "2-6/2-6:1.0/host0/target0:0:0/0:0:0:1";
        char rel[256];

        snprintf(rel, sizeof rel, "%s/block/sdb/sdb1", lun0);
        mk(d, rel);
        snprintf(rel, sizeof rel, "%s/block/sdb/queue", lun0);
        mk(d, rel);
        snprintf(rel, sizeof rel, "%s/block/sdc", lun1);
        mk(d, rel);
        snprintf(rel, sizeof rel, "%s/scsi_generic/sg2", lun0);
        mk(d, rel);
        const char *files[][2] = {
                { "block/sdb/dev", "8:16\n" }, { "block/sdb/diskseq", "5\n" }, { "block/sdb/uevent", "" },
                { "block/sdb/sdb1/dev", "8:17\n" }, { "block/sdb/sdb1/partition", "1\n" }, { "block/sdb/sdb1/uevent", "" },
                { "scsi_generic/sg2/dev", "21:2\n" }, { "scsi_generic/sg2/uevent", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(rel, sizeof rel, "%s/%s", lun0, files[i][0]);
                put(d, rel, files[i][1]);
        }
        snprintf(rel, sizeof rel, "%s/block/sdc/dev", lun1);
        put(d, rel, "8:32\n");
        snprintf(rel, sizeof rel, "%s/block/sdc/diskseq", lun1);
        put(d, rel, "6\n");
        snprintf(rel, sizeof rel, "%s/block/sdc/uevent", lun1);
        put(d, rel, "");
}

#define LUN0 "2-6/2-6:1.0/host0/target0:0:0/0:0:0:0"
#define LUN1 "2-6/2-6:1.0/host0/target0:0:0/0:0:0:1"

/* The diskseq of a node's disk: a disk's own, a partition's parent's. */
static void test_devpath_diskseq(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        uint64_t seq = 0;

        bound_tree(d);
        _cleanup_free_ char *disk = path_join(d, LUN0 "/block/sdb"), *part = path_join(d, LUN0 "/block/sdb/sdb1"),
                            *sg = path_join(d, LUN0 "/scsi_generic/sg2");
        assert_int_equal(block_devpath_diskseq(disk, &seq), 0);
        assert_true(seq == 5);
        seq = 0;
        assert_int_equal(block_devpath_diskseq(part, &seq), 0);
        assert_true(seq == 5);
        assert_int_equal(block_devpath_diskseq(sg, &seq), -ENOENT);
        put(d, LUN0 "/block/sdb/diskseq", "05\n");
        assert_int_equal(block_devpath_diskseq(part, &seq), -EIO);
        put(d, LUN0 "/block/sdb/diskseq", "0\n");
        assert_int_equal(block_devpath_diskseq(disk, &seq), -EIO);
        put(d, LUN0 "/block/sdb/diskseq", "5x\n");
        assert_int_equal(block_devpath_diskseq(disk, &seq), -EIO);
        test_rmdir_r(d);
}

/* A pass opens in place only the disks the scan saw: an "add" uevent for sdb and sdb1 (diskseq
 * 5), nothing for sdc (another medium) or the sg node. Read-write needs each node to be the
 * device (its BLKROSET): without it nothing is announced, and the error is said. */
static void test_open_bound_walk(void **state) {
        _cleanup_free_ char *d = test_mkdtemp(), *nodes = test_mkdtemp();
        struct usb_access a = { .block = BLOCK_ACCESS_READ_ONLY, .bound = true, .n_diskseq = 1, .diskseq = { 5 } };

        bound_tree(d);
        _cleanup_free_ char *dev = path_join(d, "2-6");
        _cleanup_close_ int fd = open_dir(dev), nfd = open_dir(nodes);
        assert_int_equal(usb_device_open_bound(fd, "2-6", &a, nfd), 0);
        _cleanup_free_ char *u1 = get(d, LUN0 "/block/sdb/uevent"), *u2 = get(d, LUN0 "/block/sdb/sdb1/uevent"),
                            *u3 = get(d, LUN1 "/block/sdc/uevent"), *u4 = get(d, LUN0 "/scsi_generic/sg2/uevent");
        assert_string_equal(u1, "add");
        assert_string_equal(u2, "add");
        assert_string_equal(u3, "");
        assert_string_equal(u4, "");

        put(d, LUN0 "/block/sdb/uevent", "");
        put(d, LUN0 "/block/sdb/sdb1/uevent", "");
        a.block = BLOCK_ACCESS_READ_WRITE;
        assert_int_equal(usb_device_open_bound(fd, "2-6", &a, nfd), -ENOENT);   /* no node to open */
        _cleanup_free_ char *v1 = get(d, LUN0 "/block/sdb/uevent");
        assert_string_equal(v1, "");
        /* Held or unbound: nothing to open. */
        a.block = BLOCK_ACCESS_HELD;
        assert_int_equal(usb_device_open_bound(fd, "2-6", &a, nfd), -EINVAL);
        a = (struct usb_access) { .block = BLOCK_ACCESS_READ_ONLY };
        assert_int_equal(usb_device_open_bound(fd, "2-6", &a, nfd), -EINVAL);
        test_rmdir_r(d);
        test_rmdir_r(nodes);
}

static void test_writable_block_walk(void **state) {
        _cleanup_free_ char *d = test_mkdtemp();
        const char *disk = "2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb";
        char rel[256];

        mk(d, "2-6/power");
        mk(d, "2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb/sdb1");
        mk(d, "2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb/queue");
        snprintf(rel, sizeof rel, "%s/dev", disk);
        put(d, rel, "8:16\n");
        snprintf(rel, sizeof rel, "%s/ro", disk);
        put(d, rel, "1\n");
        snprintf(rel, sizeof rel, "%s/sdb1/dev", disk);
        put(d, rel, "8:17\n");
        snprintf(rel, sizeof rel, "%s/sdb1/partition", disk);
        put(d, rel, "1\n");
        snprintf(rel, sizeof rel, "%s/sdb1/ro", disk);
        put(d, rel, "1\n");
        /* A writable disk of a device behind this one (a hub's child) is not this device's. */
        mk(d, "2-6/2-6.1/2-6.1:1.0/host1/target1:0:0/1:0:0:0/block/sdc");
        put(d, "2-6/2-6.1/2-6.1:1.0/host1/target1:0:0/1:0:0:0/block/sdc/dev", "8:32\n");
        put(d, "2-6/2-6.1/2-6.1:1.0/host1/target1:0:0/1:0:0:0/block/sdc/ro", "0\n");
        /* A symlink back up must not be followed (sysfs is full of them). */
        _cleanup_free_ char *link = NULL;
        assert_true(asprintf(&link, "%s/2-6/2-6:1.0/host0/up", d) > 0);
        assert_int_equal(symlink("../..", link), 0);

        _cleanup_free_ char *dev = path_join(d, "2-6");
        _cleanup_close_ int fd = open_dir(dev);
        assert_int_equal(usb_device_has_writable_block(fd, "2-6"), 0);
        snprintf(rel, sizeof rel, "%s/sdb1/ro", disk);
        put(d, rel, "0\n");
        assert_int_equal(usb_device_has_writable_block(fd, "2-6"), 1);
        put(d, rel, "1\n");
        snprintf(rel, sizeof rel, "%s/ro", disk);
        put(d, rel, "0\n");
        assert_int_equal(usb_device_has_writable_block(fd, "2-6"), 1);
        /* An unreadable ro is an error, never read-only. */
        put(d, rel, "");
        assert_int_equal(usb_device_has_writable_block(fd, "2-6"), -EIO);
        assert_int_equal(usb_device_has_writable_block(fd, "bad/name"), -EINVAL);
        /* No block device at all. */
        _cleanup_free_ char *hub = path_join(d, "2-6/2-6.1");
        _cleanup_close_ int hfd = open_dir(hub);
        mk(d, "2-7/2-7:1.0");
        _cleanup_free_ char *other = path_join(d, "2-7");
        _cleanup_close_ int ofd = open_dir(other);
        assert_int_equal(usb_device_has_writable_block(ofd, "2-7"), 0);
        assert_int_equal(usb_device_has_writable_block(hfd, "2-6.1"), 1);
        test_rmdir_r(d);
}

/* A char device node at DIR/REL. */
static void mknode(const char *dir, const char *rel, unsigned ma, unsigned mi, mode_t mode, gid_t gid) {
        _cleanup_free_ char *p = path_join(dir, rel);
        (void) unlink(p);
        assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(ma, mi)), 0);
        assert_int_equal(chown(p, 0, gid), 0);
        assert_int_equal(chmod(p, mode), 0);
}

/* An access ACL granting uid 1000 read-write, as the uaccess builtin would (the xattr's
 * format: version 2, then {tag, perm, id} entries). */
static int set_user_acl(const char *path) {
        struct { uint32_t version; struct { uint16_t tag, perm; uint32_t id; } e[5]; } __attribute__((packed)) acl = {
                .version = 2,
                .e = { { 0x01, 6, UINT32_MAX }, { 0x02, 6, 1000 }, { 0x04, 0, UINT32_MAX }, { 0x10, 6, UINT32_MAX },
                       { 0x20, 0, UINT32_MAX } },
        };
        return setxattr(path, "system.posix_acl_access", &acl, sizeof acl, 0);
}

/* kyokad's check of the raw HID nodes of a device it found authorised: mode, owner, ACL and
 * udev's current tag of each /dev node, on a fake sysfs, /dev and /run/udev/data. */
static void test_open_hidraw_walk(void **state) {
        if (geteuid() != 0)
                skip();   /* mknod */
        _cleanup_free_ char *d = test_mkdtemp();
        _cleanup_free_ char *sys = path_join(d, "sys"), *dev = path_join(d, "dev"), *db = path_join(d, "db");
        _cleanup_free_ char *node = path_join(dev, "hidraw0"), *rec = path_join(db, "c241:0");

        mk(sys, "1-4/power");
        mk(sys, "1-4/1-4:1.0/0003:0627:0001.0001/hidraw/hidraw0");
        put(sys, "1-4/1-4:1.0/0003:0627:0001.0001/hidraw/hidraw0/dev", "241:0\n");
        mk(sys, "1-4/1-4:1.0/usbmisc/hiddev0");
        put(sys, "1-4/1-4:1.0/usbmisc/hiddev0/dev", "180:0\n");
        /* A device behind it (a hub's child) has its own decision. */
        mk(sys, "1-4/1-4.1/1-4.1:1.0/0003:0627:0001.0002/hidraw/hidraw1");
        put(sys, "1-4/1-4.1/1-4.1:1.0/0003:0627:0001.0002/hidraw/hidraw1/dev", "241:1\n");
        mk(d, "dev/usb");
        mk(d, "db");
        mknode(dev, "hidraw0", 241, 0, 0600, 0);
        mknode(dev, "usb/hiddev0", 180, 0, 0600, 0);
        mknode(dev, "hidraw1", 241, 1, 0666, 0);

        _cleanup_free_ char *devpath = path_join(sys, "1-4");
        _cleanup_close_ int fd = open_dir(devpath), devfd = open_dir(dev), dbfd = open_dir(db);

        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, -EBADF), 0);
        /* Mode, group, owner. */
        assert_int_equal(chmod(node, 0660), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(chmod(node, 0600), 0);
        assert_int_equal(chown(node, 0, 46), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(chown(node, 1000, 0), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(chown(node, 0, 0), 0);
        /* The hiddev node counts too. */
        _cleanup_free_ char *hiddev = path_join(dev, "usb/hiddev0");
        assert_int_equal(chmod(hiddev, 0604), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(chmod(hiddev, 0600), 0);
        /* An ACL for the seat's user (where the file system keeps ACLs). */
        if (set_user_acl(node) == 0) {
                assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
                /* The ACL's mask became the group bits: the ACL alone, with them back at 0. */
                assert_int_equal(chmod(node, 0600), 0);
                assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
                assert_int_equal(removexattr(node, "system.posix_acl_access"), 0);
                assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 0);
        } else
                print_message("# no ACLs on %s (%s): that case is not checked\n", dev, strerror(errno));
        /* Not the device's node: another device number, a regular file. */
        mknode(dev, "hidraw0", 241, 7, 0600, 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(unlink(node), 0);
        free(test_write(dev, "hidraw0", "", 0));
        assert_int_equal(chmod(node, 0600), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        /* No node at all: nothing to open. */
        assert_int_equal(unlink(node), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 0);
        mknode(dev, "hidraw0", 241, 0, 0600, 0);
        /* udev's database: only a current "uaccess" tag counts (a removed one stays in G:). */
        put(db, "c241:0", "I:123\nE:ID_SECURITY_TOKEN=1\nG:uaccess\nG:seat\nQ:seat\nV:1\n");
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 0);
        put(db, "c241:0", "I:123\nQ:uaccessx\nQ:xuaccess\nE:TAG=Q:uaccess\n");
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 0);
        put(db, "c241:0", "Q:uaccess\n");
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, -EBADF), 0);
        put(db, "c241:0", "G:uaccess\nQ:seat\nQ:uaccess");
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        /* The line wherever it falls in the pieces the file is read in. */
        for (size_t pad = 1000; pad < 1060; pad++) {
                FILE *f = fopen(rec, "we");
                assert_non_null(f);
                for (size_t i = 0; i < pad; i++)
                        fputc(i % 40 == 39 ? '\n' : 'x', f);
                fputs("\nQ:uaccess\n", f);
                assert_int_equal(fclose(f), 0);
                assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        }
        /* Larger than any udev database file: taken as tagged. */
        FILE *f = fopen(rec, "we");
        assert_non_null(f);
        for (size_t i = 0; i < (2u << 20) / 8; i++)
                fputs("E:X=yyy\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 1);
        assert_int_equal(unlink(rec), 0);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), 0);
        /* The hub's child is judged on its own. */
        _cleanup_free_ char *child = path_join(sys, "1-4/1-4.1");
        _cleanup_close_ int cfd = open_dir(child);
        assert_int_equal(usb_device_has_open_hidraw(cfd, "1-4.1", devfd, dbfd), 1);
        /* Bad arguments. */
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4/..", devfd, dbfd), -EINVAL);
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", -EBADF, dbfd), -EBADF);
        /* A malformed dev attribute is an error, never "closed". */
        put(sys, "1-4/1-4:1.0/0003:0627:0001.0001/hidraw/hidraw0/dev", "241\n");
        assert_int_equal(usb_device_has_open_hidraw(fd, "1-4", devfd, dbfd), -EIO);
        test_rmdir_r(d);
}

/* The RUN of a root-only raw HID node: any access ACL goes, nothing else changes. */
static void test_hidraw_node_revoke(void **state) {
        if (geteuid() != 0)
                skip();   /* mknod */
        _cleanup_free_ char *d = test_mkdtemp(), *node = path_join(d, "hidraw0");
        _cleanup_free_ char *file = test_write(d, "file", "", 0);
        struct stat st;
        char v[64];

        mknode(d, "hidraw0", 241, 0, 0600, 0);
        _cleanup_close_ int fd = open(node, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(hidraw_node_revoke(fd), 0);              /* no ACL: nothing to do */
        if (set_user_acl(node) < 0) {
                print_message("# no ACLs on %s (%s): the removal is not checked\n", d, strerror(errno));
                test_rmdir_r(d);
                return;
        }
        assert_true(getxattr(node, "system.posix_acl_access", v, sizeof v) > 0);
        assert_int_equal(hidraw_node_revoke(fd), 0);
        assert_int_equal(getxattr(node, "system.posix_acl_access", v, sizeof v), -1);
        assert_int_equal(errno, ENODATA);
        assert_int_equal(stat(node, &st), 0);
        assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(241, 0));
        /* Not a character device: refused, the file's ACL left alone. */
        assert_int_equal(set_user_acl(file), 0);
        _cleanup_close_ int ffd = open(file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        assert_int_equal(hidraw_node_revoke(ffd), -ENODEV);
        assert_true(getxattr(file, "system.posix_acl_access", v, sizeof v) > 0);
        test_rmdir_r(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_usb_sysname_valid),
                cmocka_unit_test(test_usb_sysname_from_devpath),
                cmocka_unit_test(test_access_file_contents),
                cmocka_unit_test(test_access_file_hidraw),
                cmocka_unit_test(test_access_file_not_trusted),
                cmocka_unit_test(test_access_file_write_remove_clear),
                cmocka_unit_test(test_set_read_only_needs_a_block_device),
                cmocka_unit_test(test_writable_block_walk),
                cmocka_unit_test(test_access_file_diskseq),
                cmocka_unit_test(test_access_file_bound_nodes),
                cmocka_unit_test(test_access_file_bound_write_read),
                cmocka_unit_test(test_devpath_diskseq),
                cmocka_unit_test(test_open_bound_walk),
                cmocka_unit_test(test_open_hidraw_walk),
                cmocka_unit_test(test_hidraw_node_revoke),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
