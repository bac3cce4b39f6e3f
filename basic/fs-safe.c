/* SPDX-License-Identifier: MIT */
#include "fs-safe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

#define TMP_SUFFIX_LEN 8
#define TMP_ATTEMPTS 64

int stat_check_trusted(const struct stat *st, uid_t euid, unsigned flags, char *reason, size_t reason_size) {
        char dummy[1];

        if (!reason) {
                reason = dummy;
                reason_size = sizeof dummy;
        }
        if (st->st_uid != 0 && st->st_uid != euid) {
                snprintf(reason, reason_size, "owned by uid %u (neither root nor uid %u)", (unsigned) st->st_uid,
                         (unsigned) euid);
                return -EPERM;
        }
        if ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
                return 0;
        /* /tmp's rule: others add their own entries, but cannot rename or unlink ours. */
        bool sticky_ok = flags & TRUST_STICKY_DIR;
        if (sticky_ok && S_ISDIR(st->st_mode) && st->st_uid == 0 && (st->st_mode & S_ISVTX))
                return 0;
        snprintf(reason, reason_size, "writable by group or others (mode %04o)%s", (unsigned) (st->st_mode & 07777),
                 sticky_ok && S_ISDIR(st->st_mode) ? " and not a root-owned sticky directory" : "");
        return -EPERM;
}

int fd_check_trusted(int fd, uid_t euid, unsigned flags, char *reason, size_t reason_size) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        return stat_check_trusted(&st, euid, flags, reason, reason_size);
}

/* One path component: anything with a '/' would let the kernel follow symlinks in between. */
static int check_component(const char *name) {
        if (!name || !*name || strchr(name, '/'))
                return -EINVAL;
        return 0;
}

int dir_open_at(int dirfd, const char *name) {
        int r = check_component(name);
        if (r < 0)
                return r;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int dir_make_at(int dirfd, const char *name, mode_t mode) {
        int r = check_component(name);
        if (r < 0)
                return r;
        /* EEXIST may be a symlink or a file: dir_open_at refuses both. */
        if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return dir_open_at(dirfd, name);
}

int dir_make_path(const char *path, mode_t mode) {
        if (!path || !*path)
                return -EINVAL;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                return fd;
        if (errno != ENOENT)
                return negative_errno();

        /* Missing: make the parent (the same way), then this one under it. */
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        size_t n = strlen(copy);
        while (n > 1 && copy[n - 1] == '/')
                copy[--n] = 0;
        char *slash = strrchr(copy, '/');
        const char *name = slash ? slash + 1 : copy;
        _cleanup_close_ int parent = -EBADF;
        if (!slash)
                parent = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else if (slash == copy)
                parent = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else {
                *slash = 0;
                parent = dir_make_path(copy, mode);
                if (parent < 0)
                        return parent;
        }
        if (parent < 0)
                return negative_errno();
        return dir_make_at(parent, name, mode);
}

int file_open_regular_at(int dirfd, const char *name) {
        struct stat st;
        int r = check_component(name);
        if (r < 0)
                return r;

        /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        /* Reads from a regular file never block; clear the flag for callers that use stdio. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int file_create_at(int dirfd, const char *name, mode_t mode) {
        int r = check_component(name);
        if (r < 0)
                return r;
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
        return fd < 0 ? negative_errno() : fd;
}

/* Unpredictable enough that no one can plant the name first; O_EXCL makes it safe regardless,
 * so a weak fallback (no getrandom) costs at most a retry. */
static void random_suffix(char buf[static TMP_SUFFIX_LEN + 1]) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        static unsigned counter;
        uint8_t raw[TMP_SUFFIX_LEN];

        if (getrandom(raw, sizeof raw, GRND_INSECURE) != (ssize_t) sizeof raw &&
            getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t) sizeof raw) {
                struct timespec ts;
                (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t x = (uint64_t) ts.tv_nsec ^ ((uint64_t) getpid() << 32) ^ (uint64_t) ++counter * 0x9e3779b97f4a7c15u;
                for (size_t i = 0; i < sizeof raw; i++, x >>= 8)
                        raw[i] = (uint8_t) x;
        }
        for (size_t i = 0; i < TMP_SUFFIX_LEN; i++)
                buf[i] = chars[raw[i] % (sizeof chars - 1)];
        buf[TMP_SUFFIX_LEN] = 0;
}

int file_create_tmp_at(int dirfd, const char *name, mode_t mode, char **ret_tmp_name) {
        int r = check_component(name);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < TMP_ATTEMPTS; i++) {
                _cleanup_free_ char *tmp = NULL;
                char suffix[TMP_SUFFIX_LEN + 1];

                random_suffix(suffix);
                if (asprintf(&tmp, ".%s.tmp-%s", name, suffix) < 0)
                        return -ENOMEM;
                if (strlen(tmp) > NAME_MAX)
                        return -ENAMETOOLONG;
                int fd = file_create_at(dirfd, tmp, mode);
                if (fd == -EEXIST)
                        continue;
                if (fd < 0)
                        return fd;
                *ret_tmp_name = TAKE_PTR(tmp);
                return fd;
        }
        return -EEXIST;
}

bool file_is_tmp_name(const char *name, const char *target) {
        size_t n = strlen(target);
        return name[0] == '.' && strncmp(name + 1, target, n) == 0 && strncmp(name + 1 + n, ".tmp", 4) == 0;
}

int dir_stream_at(int dirfd, DIR **ret) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        *ret = d;
        return 0;
}
