/* SPDX-License-Identifier: MIT */
/* Writing back the file systems of a device (mount-sync.h). */
#include "mount-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "carry.h"
#include "fileio.h"
#include "macro.h"

static int below(const char *syspath, unsigned major, unsigned minor) {
        char link[64], real[PATH_MAX];
        snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major, minor);
        if (!realpath(link, real))
                return 0;
        size_t n = strlen(syspath);
        return strncmp(real, syspath, n) == 0 && real[n] == '/';
}

int mounts_sync_below(const char *syspath) {
        _cleanup_free_ char *text = NULL;
        char top[PATH_MAX];
        size_t size;
        int n = 0;

        if (!realpath(syspath, top))
                return negative_errno();
        int r = read_file_bounded("/proc/self/mountinfo", CARRY_MOUNTINFO_MAX, &text, &size);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct carry_mount mt;
                if (carry_mountinfo_parse_line(line, &mt) < 0 || mt.major == 0 || !below(top, mt.major, mt.minor))
                        continue;
                /* The mount point is checked to be that file system still (it may have been
                 * unmounted and replaced since the table was read). */
                _cleanup_close_ int fd = open(mt.mount_point, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != makedev(mt.major, mt.minor))
                        continue;
                if (syncfs(fd) == 0)
                        n++;
        }
        return n;
}
