/* SPDX-License-Identifier: MIT */
/* Saving a request file (request-save.h). */
#include "request-save.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-safe.h"
#include "macro.h"

#define WHAT_MAX 64

int request_file_name(const char *what, int64_t now, char *buf, size_t size) {
        char safe[WHAT_MAX + 1], stamp[32];
        time_t t = (time_t) now;
        struct tm tm;
        size_t i;

        for (i = 0; what && what[i] && i < WHAT_MAX; i++) {
                char c = what[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                          c == '_' || c == '-';
                safe[i] = ok ? c : '_';
        }
        safe[i] = 0;
        /* "." or ".." alone would not be a file name of ours. */
        if (i == 0 || streq(safe, ".") || streq(safe, ".."))
                snprintf(safe, sizeof safe, "device");
        if (!localtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm) == 0)
                return -EINVAL;
        if ((size_t) snprintf(buf, size, "kyoka-request-%s-%s.json", safe, stamp) >= size)
                return -ENAMETOOLONG;
        return 0;
}

int request_save(const char *dir, const char *name, const char *text, char **ret_path) {
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        char candidate[256], reason[128];
        size_t n = strlen(name);
        int r;

        if (n <= 5 || n >= sizeof candidate - 3 || !streq(name + n - 5, ".json"))
                return -EINVAL;
        dirfd = dir_make_path(dir, 0700);
        if (dirfd < 0)
                return dirfd;
        /* Another user's, or one they may write to: they could swap the file before it is sent. */
        r = fd_check_trusted(dirfd, geteuid(), 0, reason, sizeof reason);
        if (r < 0)
                return r;
        for (unsigned i = 1; i <= 9; i++) {
                if (i == 1)
                        snprintf(candidate, sizeof candidate, "%s", name);
                else
                        snprintf(candidate, sizeof candidate, "%.*s-%u.json", (int) (n - 5), name, i);
                fd = file_create_at(dirfd, candidate, 0600);
                if (fd != -EEXIST)
                        break;
        }
        if (fd < 0)
                return fd;
        r = write_all(fd, text, strlen(text));
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlinkat(dirfd, candidate, 0);
                return r;
        }
        char *path = path_join(dir, candidate);
        if (!path)
                return -ENOMEM;
        *ret_path = path;
        return 0;
}
