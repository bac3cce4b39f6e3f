/* SPDX-License-Identifier: MIT */
#include "usb-path.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "block-access.h"
#include "macro.h"

#define DEPTH_MAX 64                  /* sysfs is not that deep; a loop guard */

/* The subsystem of the sysfs directory DIR (the last component of its `subsystem` link), or
 * "" when it has none. */
static int subsystem_of(const char *dir, char buf[static 64]) {
        char link[PATH_MAX], target[PATH_MAX];

        if ((size_t) snprintf(link, sizeof link, "%s/subsystem", dir) >= sizeof link)
                return -ENAMETOOLONG;
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0) {
                buf[0] = 0;
                return errno == ENOENT ? 0 : negative_errno();
        }
        target[n] = 0;
        const char *s = strrchr(target, '/');
        s = s ? s + 1 : target;
        if (strlen(s) >= 64)
                return -ENAMETOOLONG;
        strcpy(buf, s);
        return 0;
}

/* Cuts DIR's last component off in place; false at "/sys/devices" or above. */
static bool parent(char *dir) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return false;
        *slash = 0;
        return !streq(dir, "/sys/devices") && !streq(dir, "/sys");
}

static const char *base(const char *dir) {
        const char *s = strrchr(dir, '/');
        return s ? s + 1 : dir;
}

/* Kernel device names in a path: what path_id would copy (no '/', no blanks). */
static bool name_ok(const char *s) {
        return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-+") == strlen(s);
}

/* Prepends "PREFIX-NAME-" ("PREFIXNAME-" when PREFIX ends in ':') to the path being built
 * backwards in BUF, which starts at *POS. */
static int prepend(char *buf, size_t *pos, const char *prefix, const char *name) {
        size_t np = strlen(prefix), nn = strlen(name);
        bool dash = np > 0 && prefix[np - 1] != ':';
        size_t need = np + dash + nn + 1;

        if (!name_ok(name))
                return -EINVAL;
        if (need > *pos)
                return -ENAMETOOLONG;
        *pos -= need;
        memcpy(buf + *pos, prefix, np);
        if (dash)
                buf[*pos + np] = '-';
        memcpy(buf + *pos + np + dash, name, nn);
        buf[*pos + np + dash + nn] = '-';
        return 0;
}

int usb_device_id_path(const char *syspath, char *ret, size_t size) {
        char dir[PATH_MAX], sub[64], kind[64], buf[256];
        size_t pos = sizeof buf - 1;
        bool supported = false, more = true;
        unsigned depth = 0;
        int r;

        if (!syspath || strnlen(syspath, sizeof dir) >= sizeof dir)
                return -ENAMETOOLONG;
        strcpy(dir, syspath);
        const char *name = base(dir);
        if (!usb_sysname_valid(name))
                return -EINVAL;
        buf[pos] = 0;
        /* "usb-0:" and the port chain after the bus number: a USB 2 and a USB 3 device in one
         * connector (buses 1 and 2 of one controller) have one path. */
        r = prepend(buf, &pos, "usb-0:", strchr(name, '-') + 1);
        if (r < 0)
                return r;

        /* Up through the hubs to the root hub: all subsystem "usb". */
        do {
                if (!parent(dir) || ++depth > DEPTH_MAX)
                        return -ENOENT;
                r = subsystem_of(dir, sub);
                if (r < 0)
                        return r;
        } while (streq(sub, "usb"));

        /* Then what path_id knows of a controller's parents; others are passed over. */
        while (more && depth <= DEPTH_MAX) {
                if (streq(sub, "usb"))
                        return -EOPNOTSUPP;
                bool named = streq(sub, "pci") || streq(sub, "platform") || streq(sub, "acpi");
                if (named) {
                        r = prepend(buf, &pos, sub, base(dir));
                        if (r < 0)
                                return r;
                        supported = true;
                }
                /* A named device's own kind above it is skipped. */
                strcpy(kind, sub);
                do {
                        more = parent(dir) && ++depth <= DEPTH_MAX;
                        if (more && (r = subsystem_of(dir, sub)) < 0)
                                return r;
                } while (more && named && streq(sub, kind));
        }
        if (!supported)
                return -ENOENT;
        /* Without the trailing '-'. */
        size_t len = sizeof buf - 1 - pos - 1;
        if (len >= size)
                return -ENAMETOOLONG;
        memcpy(ret, buf + pos, len);
        ret[len] = 0;
        return 0;
}
