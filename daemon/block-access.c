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
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

#define ACCESS_FILE_MAX 32            /* what is read of an access file at most */
#define WALK_DEPTH_MAX 10             /* interface/host/target/lun/block/disk/partition is 7 */
#define WALK_ENTRIES_MAX 4096

const char *block_access_to_string(enum block_access a) {
        return a == BLOCK_ACCESS_READ_WRITE ? "read-write" : "read-only";
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

enum block_access block_access_read(int dirfd, const char *sysname) {
        struct stat st;
        char buf[ACCESS_FILE_MAX + 1];

        if (dirfd < 0 || !usb_sysname_valid(sysname))
                return BLOCK_ACCESS_READ_ONLY;
        if (fstat(dirfd, &st) < 0 || !S_ISDIR(st.st_mode) || !trusted_stat(&st))
                return BLOCK_ACCESS_READ_ONLY;
        _cleanup_close_ int fd = openat(dirfd, sysname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return BLOCK_ACCESS_READ_ONLY;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !trusted_stat(&st))
                return BLOCK_ACCESS_READ_ONLY;
        ssize_t n = read_fd_prefix(fd, buf, sizeof buf - 1);
        if (n < 0)
                return BLOCK_ACCESS_READ_ONLY;
        buf[n] = 0;
        if (streq(buf, "read-write") || streq(buf, "read-write\n"))
                return BLOCK_ACCESS_READ_WRITE;
        return BLOCK_ACCESS_READ_ONLY;
}

int block_access_write(int dirfd, const char *sysname, enum block_access a) {
        char tmp[USB_SYSNAME_MAX + 8], text[16];
        int r = 0;

        if (!usb_sysname_valid(sysname))
                return -EINVAL;
        if (dirfd < 0)
                return -EBADF;
        snprintf(tmp, sizeof tmp, ".%s.tmp", sysname);
        int n = snprintf(text, sizeof text, "%s\n", block_access_to_string(a));
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

int block_access_remove(int dirfd, const char *sysname) {
        if (!usb_sysname_valid(sysname))
                return -EINVAL;
        if (unlinkat(dirfd, sysname, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int block_access_clear(int dirfd) {
        int r = 0, dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return negative_errno();
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                r = negative_errno();
                close(dup_fd);
                return r;
        }
        rewinddir(d);
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

/* IN_BLOCK: FD is a disk (a child of a "block" directory) or below one. */
static int walk(int fd, unsigned depth, bool in_block, const char *only_prefix, unsigned *budget) {
        int r = 0, found = 0;

        if (in_block && (faccessat(fd, "dev", F_OK, AT_SYMLINK_NOFOLLOW) == 0) &&
            faccessat(fd, "ro", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                r = read_ro(fd);
                if (r != 0)
                        return r;           /* writable, or unreadable: both end the walk */
        }
        if (depth >= WALK_DEPTH_MAX)
                return 0;

        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return negative_errno();
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                r = negative_errno();
                close(dup_fd);
                return r;
        }
        rewinddir(d);           /* the duplicate shares FD's offset: start at the beginning */
        struct dirent *de;
        while (found == 0 && (de = readdir(d))) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    streq(de->d_name, "power"))
                        continue;
                if (only_prefix && (strncmp(de->d_name, only_prefix, strlen(only_prefix)) != 0 ||
                                    de->d_name[strlen(only_prefix)] != ':'))
                        continue;
                if (*budget == 0) {
                        found = -E2BIG;
                        break;
                }
                (*budget)--;
                int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        if (errno == ENOENT)     /* removed meanwhile */
                                continue;
                        found = negative_errno();
                        break;
                }
                /* A disk is a child of "block"; its partitions are children of the disk. */
                found = walk(sub, depth + 1, in_block || streq(de->d_name, "block"), NULL, budget);
                close(sub);
        }
        closedir(d);
        return found;
}

int usb_device_has_writable_block(int device_dirfd, const char *sysname) {
        unsigned budget = WALK_ENTRIES_MAX;

        if (!usb_sysname_valid(sysname))
                return -EINVAL;
        return walk(device_dirfd, 0, false, sysname, &budget);
}
