/* SPDX-License-Identifier: MIT */
#include "block-access.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-safe.h"
#include "macro.h"
#include "media-sysfs.h"

#define ACCESS_FILE_MAX 400           /* what is read of an access file at most (a valid one is <= 368) */
#define WALK_DEPTH_MAX 10             /* interface/host/target/lun/block/disk/partition is 7 */
#define WALK_ENTRIES_MAX 4096
#define UDEV_DB_MAX (1u << 20)        /* a udev database file is a few hundred bytes */

const char *block_access_to_string(enum block_access a) {
        return a == BLOCK_ACCESS_READ_WRITE ? "read-write" : a == BLOCK_ACCESS_HELD ? "held" : "read-only";
}

const char *hidraw_access_to_string(enum hidraw_access h) {
        return h == HIDRAW_ACCESS_USER ? "user" : "root";
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Digits, then '-', then digits, then any number of ".digits". */
static bool usb_sysname_valid_n(const char *s, size_t n) {
        size_t i = 0, run = 0;

        if (n == 0 || n >= USB_SYSNAME_MAX)
                return false;
        while (i < n && is_digit(s[i]))
                i++;
        if (i == 0 || i >= n || s[i] != '-')
                return false;
        i++;
        for (;;) {
                run = 0;
                while (i < n && is_digit(s[i]))
                        i++, run++;
                if (run == 0)
                        return false;
                if (i == n)
                        return true;
                if (s[i] != '.')
                        return false;
                i++;
        }
}

bool usb_sysname_valid(const char *s) {
        return s && usb_sysname_valid_n(s, strnlen(s, USB_SYSNAME_MAX));
}

int usb_sysname_from_devpath(const char *devpath, char *ret, size_t size) {
        const char *prev = NULL, *found = NULL;
        size_t prev_len = 0, found_len = 0;

        if (!devpath || strnlen(devpath, 4096) >= 4096)
                return -ENAMETOOLONG;
        for (const char *p = devpath; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *c = p;
                size_t len = strcspn(c, "/");
                p = c + len;
                /* NAME directly followed by its interface NAME:C.I */
                if (prev && len > prev_len + 1 && memcmp(c, prev, prev_len) == 0 && c[prev_len] == ':' &&
                    usb_sysname_valid_n(prev, prev_len)) {
                        found = prev;
                        found_len = prev_len;
                }
                prev = c;
                prev_len = len;
        }
        if (!found)
                return -ENOENT;
        if (found_len >= size)
                return -ENAMETOOLONG;
        memcpy(ret, found, found_len);
        ret[found_len] = 0;
        return 0;
}

/* Owned by us, not writable by anyone else. */
static bool trusted_stat(const struct stat *st) {
        return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

#define ACCESS_CLOSED ((struct usb_access) { .block = BLOCK_ACCESS_READ_ONLY, .hidraw = HIDRAW_ACCESS_ROOT })

/* The line at *P (up to a newline or END) is WORD; *P moves past it and its newline. */
static bool take_line(const char **p, const char *end, const char *word) {
        size_t len = strlen(word);

        if ((size_t) (end - *p) < len || memcmp(*p, word, len) != 0)
                return false;
        if (*p + len == end) {
                *p = end;
                return true;
        }
        if ((*p)[len] != '\n')
                return false;
        *p += len + 1;
        return true;
}

/* A decimal number at *P: no sign, no leading zero, no overflow; *P moves past it. */
static bool take_number(const char **p, const char *end, uint64_t *ret) {
        const char *digits = *p;
        uint64_t v = 0;

        while (*p < end && is_digit(**p)) {
                uint64_t d = (uint64_t) (**p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
                (*p)++;
        }
        if (*p == digits || (*p - digits > 1 && digits[0] == '0'))
                return false;
        *ret = v;
        return true;
}

/* The whole of BUF: a media line, then optionally a hidraw line, then optionally (after a
 * hidraw line) a diskseq line, each with its newline (the last may lack it). N bytes, NULs
 * included: a NUL is not a line end. */
int usb_access_parse(const char *buf, size_t n, struct usb_access *ret) {
        const char *p = buf, *end = buf + n;
        struct usb_access a = ACCESS_CLOSED;

        if (take_line(&p, end, "read-write"))
                a.block = BLOCK_ACCESS_READ_WRITE;
        else if (take_line(&p, end, "held"))
                a.block = BLOCK_ACCESS_HELD;
        else if (!take_line(&p, end, "read-only"))
                return -EBADMSG;
        if (p < end) {
                if (take_line(&p, end, "hidraw=user"))
                        a.hidraw = HIDRAW_ACCESS_USER;
                else if (!take_line(&p, end, "hidraw=root"))
                        return -EBADMSG;
        }
        if (p < end) {
                if ((size_t) (end - p) < 8 || memcmp(p, "diskseq=", 8) != 0)
                        return -EBADMSG;
                p += 8;
                a.bound = true;
                while (p < end && *p != '\n') {
                        uint64_t seq;
                        if (a.n_diskseq > 0 && *p++ != ' ')
                                return -EBADMSG;
                        if (a.n_diskseq >= USB_ACCESS_DISKSEQ_MAX || !take_number(&p, end, &seq) || seq == 0)
                                return -EBADMSG;
                        a.diskseq[a.n_diskseq++] = seq;
                }
                if (p < end)
                        p++;            /* its newline, the last byte */
        }
        if (p != end)
                return -EBADMSG;
        *ret = a;
        return 0;
}

void usb_access_read(int dirfd, const char *sysname, struct usb_access *ret) {
        struct stat st;
        char buf[ACCESS_FILE_MAX];

        *ret = ACCESS_CLOSED;
        if (dirfd < 0 || !usb_sysname_valid(sysname))
                return;
        if (fstat(dirfd, &st) < 0 || !S_ISDIR(st.st_mode) || !trusted_stat(&st))
                return;
        _cleanup_close_ int fd = openat(dirfd, sysname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !trusted_stat(&st))
                return;
        /* A longer file fills the buffer, and no valid content does. */
        ssize_t n = read_fd_prefix(fd, buf, sizeof buf);
        if (n < 0 || (size_t) n == sizeof buf || usb_access_parse(buf, (size_t) n, ret) < 0)
                *ret = ACCESS_CLOSED;
}

enum block_access block_access_read(int dirfd, const char *sysname) {
        struct usb_access a;
        usb_access_read(dirfd, sysname, &a);
        return a.block;
}

enum hidraw_access hidraw_access_read(int dirfd, const char *sysname) {
        struct usb_access a;
        usb_access_read(dirfd, sysname, &a);
        return a.hidraw;
}

enum block_access usb_access_of_node(const struct usb_access *a, bool is_block, uint64_t diskseq) {
        if (!a->bound)
                return a->block;
        if (is_block && diskseq > 0)
                for (size_t i = 0; i < a->n_diskseq && i < USB_ACCESS_DISKSEQ_MAX; i++)
                        if (a->diskseq[i] == diskseq)
                                return a->block;
        return BLOCK_ACCESS_HELD;
}

int usb_access_write(int dirfd, const char *sysname, const struct usb_access *a) {
        char tmp[USB_SYSNAME_MAX + 8], text[ACCESS_FILE_MAX];
        int r = 0;

        if (!usb_sysname_valid(sysname) || a->n_diskseq > USB_ACCESS_DISKSEQ_MAX || (!a->bound && a->n_diskseq > 0))
                return -EINVAL;
        if (dirfd < 0)
                return -EBADF;
        int n = snprintf(text, sizeof text, "%s\nhidraw=%s\n", block_access_to_string(a->block),
                         hidraw_access_to_string(a->hidraw));
        if (a->bound) {
                n += snprintf(text + n, sizeof text - n, "diskseq=");
                for (size_t i = 0; i < a->n_diskseq; i++) {
                        if (a->diskseq[i] == 0)
                                return -EINVAL;
                        n += snprintf(text + n, sizeof text - n, "%s%llu", i ? " " : "",
                                      (unsigned long long) a->diskseq[i]);
                }
                n += snprintf(text + n, sizeof text - n, "\n");
        }
        snprintf(tmp, sizeof tmp, ".%s.tmp", sysname);
        (void) unlinkat(dirfd, tmp, 0);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        ssize_t k = write(fd, text, n);
        if (k < 0)
                r = negative_errno();
        else if (k != n)
                r = -EIO;
        /* The runtime dir is a tmpfs: no fsync (a reboot forgets the devices anyway). */
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = negative_errno();
        if (r >= 0 && renameat(dirfd, tmp, dirfd, sysname) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

int block_access_write(int dirfd, const char *sysname, enum block_access a, enum hidraw_access h) {
        return usb_access_write(dirfd, sysname, &(struct usb_access) { .block = a, .hidraw = h });
}

int block_access_remove(int dirfd, const char *sysname) {
        if (!usb_sysname_valid(sysname))
                return -EINVAL;
        if (unlinkat(dirfd, sysname, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int block_access_clear(int dirfd) {
        DIR *d;
        int r = dir_stream_at(dirfd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT && r == 0)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

int block_device_set_read_only(int fd, bool read_only) {
        struct stat st;
        int v = read_only;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        if (ioctl(fd, BLKROSET, &v) < 0)
                return negative_errno();
        return 0;
}

/* 1: "ro" reads 0. */
static int read_ro(int fd) {
        char buf[8];
        _cleanup_close_ int ro = openat(fd, "ro", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (ro < 0)
                return negative_errno();
        ssize_t n = read_fd_prefix(ro, buf, sizeof buf - 1);
        if (n < 0)
                return (int) n;
        if (n == 0)
                return -EIO;
        return buf[0] == '0';
}

/* Walks the directories below a USB device: its interfaces (only_prefix at depth 0), and what
 * the kernel made below them, not following symlinks, to a bounded depth and count. VISIT sees
 * each directory; a nonzero result ends the walk with it. */
struct walk {
        const char *only_prefix;
        unsigned budget;
        int (*visit)(struct walk *w, int fd, const char *name, const char *parent, bool in_block);
        int dev_dirfd;                /* usb_device_has_open_hidraw(), usb_device_open_bound(): /dev */
        int udev_dirfd;               /* and udev's database, or -1 */
        const struct usb_access *access;  /* usb_device_open_bound() */
        int error;                    /* its first error */
};

/* IN_BLOCK: FD is a disk (a child of a "block" directory) or below one. */
static int walk(struct walk *w, int fd, unsigned depth, const char *name, const char *parent, bool in_block) {
        int r = 0, found = 0;

        found = w->visit(w, fd, name, parent, in_block);
        if (found != 0)
                return found;
        if (depth >= WALK_DEPTH_MAX)
                return 0;

        DIR *d;
        r = dir_stream_at(fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while (found == 0 && (de = readdir(d))) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    streq(de->d_name, "power"))
                        continue;
                if (depth == 0 && (strncmp(de->d_name, w->only_prefix, strlen(w->only_prefix)) != 0 ||
                                   de->d_name[strlen(w->only_prefix)] != ':'))
                        continue;
                if (w->budget == 0) {
                        found = -E2BIG;
                        break;
                }
                w->budget--;
                int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        if (errno == ENOENT)     /* removed meanwhile */
                                continue;
                        found = negative_errno();
                        break;
                }
                /* A disk is a child of "block"; its partitions are children of the disk. */
                found = walk(w, sub, depth + 1, de->d_name, name, in_block || streq(de->d_name, "block"));
                close(sub);
        }
        closedir(d);
        return found;
}

static int visit_block(struct walk *w, int fd, const char *name, const char *parent, bool in_block) {
        if (in_block && (faccessat(fd, "dev", F_OK, AT_SYMLINK_NOFOLLOW) == 0) &&
            faccessat(fd, "ro", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return read_ro(fd);  /* writable, or unreadable: both end the walk */
        return 0;
}

int usb_device_has_writable_block(int device_dirfd, const char *sysname) {
        struct walk w = { .only_prefix = sysname, .budget = WALK_ENTRIES_MAX, .visit = visit_block };

        if (!usb_sysname_valid(sysname))
                return -EINVAL;
        return walk(&w, device_dirfd, 0, sysname, "", false);
}

/* FD's (a disk's sysfs directory) "diskseq". */
static int read_diskseq_at(int fd, const char *path, uint64_t *ret) {
        char buf[32];
        const char *p = buf;
        uint64_t v;

        _cleanup_close_ int f = openat(fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (f < 0)
                return negative_errno();
        ssize_t n = read_fd_prefix(f, buf, sizeof buf - 1);
        if (n < 0)
                return (int) n;
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (!take_number(&p, buf + n, &v) || p != buf + n || v == 0)
                return -EIO;
        *ret = v;
        return 0;
}

/* FD is a block device's directory: a disk, or a partition (then its parent is the disk). */
static int block_dir_diskseq(int fd, uint64_t *ret) {
        if (faccessat(fd, "partition", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return read_diskseq_at(fd, "../diskseq", ret);
        return read_diskseq_at(fd, "diskseq", ret);
}

int block_devpath_diskseq(const char *devpath, uint64_t *ret) {
        _cleanup_close_ int fd = open(devpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return block_dir_diskseq(fd, ret);
}

static int read_devnum(int fd, dev_t *ret);

/* A disk or partition below the device (a block directory with a "dev"): opened if its disk is
 * one A names. */
static int visit_open_bound(struct walk *w, int fd, const char *name, const char *parent, bool in_block) {
        uint64_t seq;
        dev_t devnum;
        struct stat st;
        int r;

        if (!in_block || faccessat(fd, "dev", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ||
            (faccessat(fd, "diskseq", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
             faccessat(fd, "partition", F_OK, AT_SYMLINK_NOFOLLOW) < 0))
                return 0;
        if (strlen(name) >= 32 || strchr(name, '/'))
                return 0;
        r = block_dir_diskseq(fd, &seq);
        if (r >= 0)
                r = read_devnum(fd, &devnum);
        if (r < 0) {
                if (w->error == 0)
                        w->error = r;
                return 0;
        }
        if (usb_access_of_node(w->access, true, seq) == BLOCK_ACCESS_HELD)
                return 0;               /* another medium than the one scanned: stays held */
        if (w->access->block == BLOCK_ACCESS_READ_WRITE) {
                _cleanup_close_ int bfd = openat(w->dev_dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (bfd < 0)
                        r = negative_errno();
                else if (fstat(bfd, &st) < 0)
                        r = negative_errno();
                else if (!S_ISBLK(st.st_mode) || st.st_rdev != devnum)
                        r = -ESTALE;
                else
                        r = block_device_set_read_only(bfd, false);
                if (r < 0) {
                        if (w->error == 0)
                                w->error = r;
                        return 0;       /* stays read-only: not opened, not announced */
                }
        }
        _cleanup_close_ int ue = openat(fd, "uevent", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (ue < 0 || write(ue, "add", 3) != 3) {
                if (w->error == 0)
                        w->error = ue < 0 ? negative_errno() : -EIO;
        }
        return 0;
}

int usb_device_open_bound(int device_dirfd, const char *sysname, const struct usb_access *a, int dev_dirfd) {
        struct walk w = {
                .only_prefix = sysname,
                .budget = WALK_ENTRIES_MAX,
                .visit = visit_open_bound,
                .dev_dirfd = dev_dirfd,
                .udev_dirfd = -EBADF,
                .access = a,
        };

        if (!usb_sysname_valid(sysname) || !a->bound || a->block == BLOCK_ACCESS_HELD)
                return -EINVAL;
        if (dev_dirfd < 0)
                return -EBADF;
        int r = walk(&w, device_dirfd, 0, sysname, "", false);
        return r < 0 ? r : w.error;
}

/* FD's "dev": "MAJOR:MINOR\n". */
static int read_devnum(int fd, dev_t *ret) {
        char buf[32];
        unsigned ma, mi;
        int k;

        _cleanup_close_ int dev = openat(fd, "dev", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (dev < 0)
                return negative_errno();
        ssize_t n = read_fd_prefix(dev, buf, sizeof buf - 1);
        if (n < 0)
                return (int) n;
        buf[n] = 0;
        if (sscanf(buf, "%u:%u%n", &ma, &mi, &k) != 2 || (buf[k] != 0 && !streq(buf + k, "\n")))
                return -EIO;
        *ret = makedev(ma, mi);
        return 0;
}

/* Whether udev's database file NAME in DIRFD has the line "Q:uaccess" (a current tag). Read
 * in pieces, no allocation; a file too large to be udev's is taken as tagged. */
static int udev_db_has_uaccess(int dirfd, const char *name) {
        static const char line[] = "\nQ:uaccess\n";
        char buf[1024 + sizeof line];
        size_t keep = 1, total = 0;

        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        buf[0] = '\n';               /* the first line has a line before it, as far as the search goes */
        for (;;) {
                ssize_t n = read_fd_prefix(fd, buf + keep, sizeof buf - 1 - keep);
                if (n < 0)
                        return (int) n;
                total += (size_t) n;
                if (total > UDEV_DB_MAX)
                        return 1;
                size_t len = keep + (size_t) n;
                if (n == 0)
                        buf[len++] = '\n';   /* the last line may lack its newline */
                if (memmem(buf, len, line, sizeof line - 1))
                        return 1;
                if (n == 0)
                        return 0;
                /* The end of this piece may hold the start of the line. */
                keep = MIN(len, sizeof line - 2);
                memmove(buf, buf + len - keep, keep);
        }
}

/* A hidraw or hiddev node (the directory FD, NAME, below PARENT), if its node in /dev can be
 * opened by anyone but root, now or at the next seat change. */
static int visit_hidraw(struct walk *w, int fd, const char *name, const char *parent, bool in_block) {
        char rel[64], proc[96], db[48], acl[1];
        struct stat st;
        dev_t devnum;
        int r;

        if (streq(parent, "hidraw") && strncmp(name, "hidraw", 6) == 0)
                snprintf(rel, sizeof rel, "%s", name);
        else if (streq(parent, "usbmisc") && strncmp(name, "hiddev", 6) == 0)
                snprintf(rel, sizeof rel, "usb/%s", name);
        else
                return 0;
        if (strlen(name) > 32)
                return -EINVAL;
        r = read_devnum(fd, &devnum);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (fstatat(w->dev_dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();      /* no node: nothing to open */
        if (!S_ISCHR(st.st_mode) || st.st_rdev != devnum)
                return 1;              /* not the device's node: nothing is known of it */
        if ((st.st_mode & 0077) || st.st_uid != 0 || st.st_gid != 0)
                return 1;
        /* An access ACL (the uaccess builtin's, logind's) is an xattr of the node. */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d/%s", w->dev_dirfd, rel);
        if (lgetxattr(proc, "system.posix_acl_access", acl, 0) >= 0)
                return 1;
        if (errno != ENODATA && errno != ENOTSUP)
                return negative_errno();
        if (w->udev_dirfd < 0)
                return 0;
        snprintf(db, sizeof db, "c%u:%u", major(devnum), minor(devnum));
        return udev_db_has_uaccess(w->udev_dirfd, db);
}

int hidraw_node_revoke(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISCHR(st.st_mode))
                return -ENODEV;
        return device_node_revoke(fd);
}

int device_node_revoke(int fd) {
        char proc[64];
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                return -ENODEV;
        /* An O_PATH fd takes no xattr calls; its /proc/self/fd link names the node itself. */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (removexattr(proc, "system.posix_acl_access") < 0 && errno != ENODATA && errno != ENOTSUP)
                return negative_errno();
        return 0;
}

int usb_device_has_open_hidraw(int device_dirfd, const char *sysname, int dev_dirfd, int udev_data_dirfd) {
        struct walk w = {
                .only_prefix = sysname,
                .budget = WALK_ENTRIES_MAX,
                .visit = visit_hidraw,
                .dev_dirfd = dev_dirfd,
                .udev_dirfd = udev_data_dirfd,
        };

        if (!usb_sysname_valid(sysname))
                return -EINVAL;
        if (dev_dirfd < 0)
                return -EBADF;
        return walk(&w, device_dirfd, 0, sysname, "", false);
}

/* ---- media on other buses ----------------------------------------------------------------- */

#define MEDIA_ACCESS_FILE_MAX 48      /* "read-write\ndiskseq=" and 20 digits */

const char *media_access_to_string(enum media_access a) {
        return a == MEDIA_ACCESS_READ_WRITE ? "read-write" : a == MEDIA_ACCESS_READ_ONLY ? "read-only" : "closed";
}

int media_access_parse(const char *buf, size_t n, enum media_access *ret_access, uint64_t *ret_diskseq) {
        const char *p = buf, *end = buf + n;
        enum media_access a;
        uint64_t seq = 0;

        if (take_line(&p, end, "read-write"))
                a = MEDIA_ACCESS_READ_WRITE;
        else if (take_line(&p, end, "read-only"))
                a = MEDIA_ACCESS_READ_ONLY;
        else
                return -EBADMSG;
        if ((size_t) (end - p) < 9 || memcmp(p, "diskseq=", 8) != 0)
                return -EBADMSG;
        p += 8;
        /* Decimal, no sign, no leading zero, then exactly one newline at the end. */
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9') {
                uint64_t d = (uint64_t) (*p - '0');
                if (seq > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                seq = seq * 10 + d;
                p++;
        }
        if (p == digits || (p - digits > 1 && digits[0] == '0') || p + 1 != end || *p != '\n')
                return -EBADMSG;
        *ret_access = a;
        *ret_diskseq = seq;
        return 0;
}

enum media_access media_access_read(int dirfd, const char *name, uint64_t diskseq) {
        struct stat st;
        char buf[MEDIA_ACCESS_FILE_MAX];
        enum media_access a;
        uint64_t seq;

        if (dirfd < 0 || !media_name_valid(name))
                return MEDIA_ACCESS_CLOSED;
        if (fstat(dirfd, &st) < 0 || !S_ISDIR(st.st_mode) || !trusted_stat(&st))
                return MEDIA_ACCESS_CLOSED;
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return MEDIA_ACCESS_CLOSED;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !trusted_stat(&st))
                return MEDIA_ACCESS_CLOSED;
        ssize_t n = read_fd_prefix(fd, buf, sizeof buf);
        if (n < 0 || (size_t) n == sizeof buf || media_access_parse(buf, (size_t) n, &a, &seq) < 0 || seq != diskseq)
                return MEDIA_ACCESS_CLOSED;
        return a;
}

int media_access_write(int dirfd, const char *name, enum media_access a, uint64_t diskseq) {
        char tmp[MEDIA_NAME_MAX + 8], text[MEDIA_ACCESS_FILE_MAX];
        int r = 0;

        if (!media_name_valid(name) || a == MEDIA_ACCESS_CLOSED)
                return -EINVAL;
        if (dirfd < 0)
                return -EBADF;
        snprintf(tmp, sizeof tmp, ".%s.tmp", name);
        int n = snprintf(text, sizeof text, "%s\ndiskseq=%llu\n", media_access_to_string(a), (unsigned long long) diskseq);
        (void) unlinkat(dirfd, tmp, 0);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        ssize_t k = write(fd, text, n);
        if (k < 0)
                r = negative_errno();
        else if (k != n)
                r = -EIO;
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = negative_errno();
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

int media_access_remove(int dirfd, const char *name) {
        if (!media_name_valid(name))
                return -EINVAL;
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}
