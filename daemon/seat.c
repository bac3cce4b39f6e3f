/* SPDX-License-Identifier: MIT */
/* Seats (seat.h). */
#include "seat.h"

#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

#define SEAT_DB_MAX (64 * 1024)     /* a udev database entry, at most (they are a few hundred bytes) */
#define SEAT_PARENTS_MAX 16           /* a USB tree is at most 7 tiers deep, plus PCI */

bool seat_name_valid(const char *name) {
        size_t n;

        if (!name || strncmp(name, "seat", 4) != 0)
                return false;
        n = strlen(name);
        if (n <= 4 || n >= USB_SEAT_MAX)
                return false;
        for (size_t i = 4; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                        return false;
        }
        return true;
}

bool seat_set_contains(const struct seat_set *s, const char *name) {
        if (!s || !name || !name[0])
                return false;
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->names[i], name))
                        return true;
        return false;
}

int seat_lookup(uid_t uid, struct seat_set *ret) {
        char **seats = NULL;
        struct seat_set set = {};
        int r;

        r = sd_uid_get_seats(uid, 1, &seats);
        /* No record of this uid: logged in nowhere (or no logind at all). */
        if (r == -ENOENT || r == -ENXIO || r == -ENODATA)
                r = 0;
        if (r < 0)
                return r;
        for (char **s = seats; s && *s; s++) {
                if (set.n < SEATS_MAX && seat_name_valid(*s))
                        snprintf(set.names[set.n++], USB_SEAT_MAX, "%s", *s);
                free(*s);
        }
        free(seats);
        *ret = set;
        return 0;
}

void seat_of_udev_device(struct udev_device *dev, char ret[static USB_SEAT_MAX]) {
        unsigned depth = 0;

        for (struct udev_device *d = dev; d && depth < SEAT_PARENTS_MAX; d = udev_device_get_parent(d), depth++) {
                const char *s = udev_device_get_property_value(d, "ID_SEAT");
                if (s && s[0]) {
                        if (seat_name_valid(s))
                                snprintf(ret, USB_SEAT_MAX, "%s", s);
                        else
                                ret[0] = 0;
                        return;
                }
        }
        snprintf(ret, USB_SEAT_MAX, "%s", SEAT_DEFAULT);
}

/* The name of DIR's entry in udev's database, or -ENOENT for a directory that is no device. */
static int udev_db_id(const char *dir, char *ret, size_t size) {
        char path[PATH_MAX], target[PATH_MAX], dev[32];

        if ((size_t) snprintf(path, sizeof path, "%s/subsystem", dir) >= sizeof path)
                return -ENAMETOOLONG;
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
                return -ENOENT;
        target[n] = 0;
        const char *subsystem = strrchr(target, '/'), *sysname = strrchr(dir, '/');
        subsystem = subsystem ? subsystem + 1 : target;
        sysname = sysname ? sysname + 1 : dir;

        unsigned major, minor;
        if ((size_t) snprintf(path, sizeof path, "%s/dev", dir) >= sizeof path)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t k = fd < 0 ? -1 : read_fd_prefix(fd, dev, sizeof dev - 1);
        if (k > 0) {
                dev[k] = 0;
                if (sscanf(dev, "%u:%u", &major, &minor) == 2)
                        return snprintf(ret, size, "%c%u:%u", streq(subsystem, "block") ? 'b' : 'c', major, minor) <
                               (int) size ? 0 : -ENAMETOOLONG;
        }
        return snprintf(ret, size, "+%s:%s", subsystem, sysname) < (int) size ? 0 : -ENAMETOOLONG;
}

int seat_from_udev_db(const char *text, size_t len, char ret[static USB_SEAT_MAX]) {
        static const char key[] = "E:ID_SEAT=";

        for (const char *line = text, *end = text + len; line < end;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                size_t n = nl ? (size_t) (nl - line) : (size_t) (end - line);

                if (n >= sizeof key - 1 && memcmp(line, key, sizeof key - 1) == 0) {
                        const char *value = line + sizeof key - 1;
                        size_t vlen = n - (sizeof key - 1);
                        char name[USB_SEAT_MAX];

                        if (vlen == 0)
                                return 0;       /* as libudev: an empty property is no property */
                        if (vlen < sizeof name && !memchr(value, 0, vlen)) {
                                memcpy(name, value, vlen);
                                name[vlen] = 0;
                                if (seat_name_valid(name)) {
                                        memcpy(ret, name, vlen + 1);
                                        return 1;
                                }
                        }
                        ret[0] = 0;
                        return 1;
                }
                line += n + 1;
        }
        return 0;
}

/* ID_SEAT in the database entry ID: 1 (RET set, "" for an invalid name), 0 when it has none. */
static int udev_db_seat(const char *db_dir, const char *id, char ret[static USB_SEAT_MAX]) {
        _cleanup_free_ char *path = path_join(db_dir, id), *text = NULL;
        size_t len;

        if (!path || read_file_bounded(path, SEAT_DB_MAX, &text, &len) < 0)
                return 0;
        return seat_from_udev_db(text, len, ret);
}

int seat_of_syspath(const char *syspath, const char *db_dir, char ret[static USB_SEAT_MAX]) {
        char dir[PATH_MAX], id[PATH_MAX];

        snprintf(ret, USB_SEAT_MAX, "%s", SEAT_DEFAULT);
        if (!syspath || strlen(syspath) >= sizeof dir)
                return -ENAMETOOLONG;
        strcpy(dir, syspath);
        for (unsigned depth = 0; depth < SEAT_PARENTS_MAX; depth++) {
                if (udev_db_id(dir, id, sizeof id) >= 0 && udev_db_seat(db_dir, id, ret) > 0)
                        return 0;
                char *slash = strrchr(dir, '/');
                if (!slash || slash == dir)
                        break;
                *slash = 0;
                size_t n = strlen(dir);
                /* Up to the devices' root: /sys/devices (or a test's tree ending the same way). */
                if ((n >= 12 && streq(dir + n - 12, "/sys/devices")) || (n >= 4 && streq(dir + n - 4, "/sys")))
                        break;
        }
        return 0;
}
