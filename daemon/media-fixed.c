/* SPDX-License-Identifier: MIT */
#include "media-fixed.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "kyoka-names.h"
#include "macro.h"

#define HEADER "kyoka fixed disks 1\n"
#define FIELDS 5
#define LINE_MAX_BYTES (16 + 3 * MEDIA_STRING_MAX + MEDIA_PATH_MAX + 8)
#define FILE_MAX (sizeof(HEADER) + (size_t) MEDIA_FIXED_LIST_MAX * LINE_MAX_BYTES)
#define SYSTEM_FILE_MAX (1u << 20)     /* fstab, crypttab, mountinfo: far less */
#define UDEV_DB_MAX (1u << 16)
#define STACK_DEPTH_MAX 8              /* dm on md on partitions: a few levels */
#define DISKS_MAX 64                   /* disks below one mounted device */

/* ---- the lists ------------------------------------------------------------------------------ */

struct media_fixed_list *media_fixed_list_free(struct media_fixed_list *l) {
        if (!l)
                return NULL;
        free(l->entries);
        return mfree(l);
}

int media_fixed_list_add(struct media_fixed_list *l, const struct media_fixed_entry *entry) {
        if (l->n >= MEDIA_FIXED_LIST_MAX)
                return -E2BIG;
        if (!entry->serial[0] && !entry->path[0])
                return -EINVAL;
        struct media_fixed_entry *more = realloc(l->entries, (l->n + 1) * sizeof *more);
        if (!more)
                return -ENOMEM;
        l->entries = more;
        l->entries[l->n++] = *entry;
        return 0;
}

int media_fixed_list_add_disk(struct media_fixed_list *l, const struct media_identity *id) {
        struct media_fixed_entry e = { .bus = id->bus };

        if (id->serial[0]) {
                snprintf(e.serial, sizeof e.serial, "%s", id->serial);
                snprintf(e.model, sizeof e.model, "%s", id->model);
        } else if (id->path[0])
                snprintf(e.path, sizeof e.path, "%s", id->path);
        else
                return -ENODATA;      /* nothing to know it by again: it is not listed */
        return media_fixed_list_add(l, &e);
}

static bool key_equal(const char *key, const char *value, size_t size) {
        return !key[0] || (strnlen(value, size) < size && streq(key, value));
}

bool media_fixed_list_contains(const struct media_fixed_list *l, const struct media_identity *id) {
        if (!l)
                return false;
        for (size_t i = 0; i < l->n; i++) {
                const struct media_fixed_entry *e = &l->entries[i];
                if (e->bus == id->bus && key_equal(e->vendor, id->vendor, sizeof id->vendor) &&
                    key_equal(e->model, id->model, sizeof id->model) && key_equal(e->serial, id->serial, sizeof id->serial) &&
                    (!e->path[0] || (id->path[0] && key_equal(e->path, id->path, sizeof id->path))) &&
                    (e->serial[0] || e->path[0]))
                        return true;
        }
        return false;
}

int media_fixed_list_format(const struct media_fixed_list *l, char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        fputs(HEADER, f);
        for (size_t i = 0; i < l->n; i++) {
                const struct media_fixed_entry *e = &l->entries[i];
                fprintf(f, "%s\t%.*s\t%.*s\t%.*s\t%.*s\n", media_bus_to_string(e->bus) ?: "?",
                        (int) sizeof e->vendor, e->vendor, (int) sizeof e->model, e->model,
                        (int) sizeof e->serial, e->serial, (int) sizeof e->path, e->path);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

/* A field that sanitising leaves unchanged (no tab, newline, control character or invalid
 * UTF-8), shorter than SIZE: what the writer's fields always are. */
static int parse_line(const char *s, size_t len, struct media_fixed_entry *ret) {
        const char *field[FIELDS];
        size_t flen[FIELDS];
        const char *p = s, *end = s + len;

        for (size_t k = 0; k < FIELDS; k++) {
                const char *tab = k + 1 < FIELDS ? memchr(p, '\t', (size_t) (end - p)) : end;
                if (!tab || (k + 1 == FIELDS && memchr(p, '\t', (size_t) (end - p))))
                        return -EBADMSG;
                field[k] = p;
                flen[k] = (size_t) (tab - p);
                p = tab + 1;
        }
        struct media_fixed_entry e = {};
        if (media_bus_from_string(field[0], flen[0], &e.bus) < 0 ||
            identity_take_clean(field[1], flen[1], e.vendor, sizeof e.vendor) < 0 ||
            identity_take_clean(field[2], flen[2], e.model, sizeof e.model) < 0 ||
            identity_take_clean(field[3], flen[3], e.serial, sizeof e.serial) < 0 ||
            identity_take_clean(field[4], flen[4], e.path, sizeof e.path) < 0 ||
            (!e.serial[0] && !e.path[0]))
                return -EBADMSG;
        *ret = e;
        return 0;
}

int media_fixed_list_parse(const char *text, size_t size, struct media_fixed_list **ret) {
        _cleanup_(media_fixed_list_freep) struct media_fixed_list *l = calloc(1, sizeof *l);
        int r = 0;

        if (!l)
                return -ENOMEM;
        if (size < strlen(HEADER) || memcmp(text, HEADER, strlen(HEADER)) != 0 || text[size - 1] != '\n')
                return -EBADMSG;
        for (const char *p = text + strlen(HEADER), *end = text + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                struct media_fixed_entry e;
                r = parse_line(p, (size_t) (nl - p), &e);
                if (r < 0)
                        return r;
                r = media_fixed_list_add(l, &e);
                if (r < 0)
                        return r == -ENOMEM ? r : -EBADMSG;
                p = nl + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int media_fixed_list_read(const char *state_dir, const char *name, struct media_fixed_list **ret) {
        _cleanup_free_ char *path = path_join(state_dir, name), *text = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_file_bounded(path, FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return media_fixed_list_parse(text, size, ret);
}

int media_fixed_list_write(const char *state_dir, const char *name, const struct media_fixed_list *l, bool exclusive) {
        _cleanup_free_ char *path = path_join(state_dir, name), *text = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = media_fixed_list_format(l, &text, &size);
        if (r < 0)
                return r;
        return exclusive ? write_file_exclusive(path, text, size, 0644) : write_file_atomic(path, text, size, 0644);
}

bool media_bus_removable(enum media_bus bus) {
        return bus == MEDIA_BUS_MMC || bus == MEDIA_BUS_OPTICAL;
}

const char *media_fixed_reason_to_string(enum media_fixed_reason r) {
        switch (r) {
        case MEDIA_NOT_FIXED:      return "not fixed";
        case MEDIA_FIXED_ROOT:     return "holds the root file system";
        case MEDIA_FIXED_FSTAB:    return "named in /etc/fstab";
        case MEDIA_FIXED_CRYPTTAB: return "named in /etc/crypttab";
        case MEDIA_FIXED_POLICY:   return KYOKA_FIXED_BY_POLICY;
        case MEDIA_FIXED_INSTALL:  return "present at installation";
        case MEDIA_FIXED_NO_LIST:  return "no list of the disks present at installation yet";
        case _MEDIA_FIXED_MAX:     break;
        }
        return "?";
}

/* ---- the system's own disks ------------------------------------------------------------------ */

/* The disks (canonical sysfs paths) and their hardware devices that DEVNUM stands on: itself if
 * it is a disk, its disk if a partition, and down through "slaves" (device-mapper, md, loop's
 * backing is a file: not followed) to every disk below it. */
struct disks {
        size_t n;
        char syspath[DISKS_MAX][MEDIA_SYSPATH_MAX];
        char device[DISKS_MAX][MEDIA_SYSPATH_MAX];
};

static void disks_add_dir(const char *sysfs, const char *dir, unsigned depth, struct disks *out);

static void disks_add_devnum(const char *sysfs, dev_t devnum, unsigned depth, struct disks *out) {
        char link[PATH_MAX], path[PATH_MAX];

        if ((size_t) snprintf(link, sizeof link, "%s/dev/block/%u:%u", sysfs, major(devnum), minor(devnum)) >= sizeof link ||
            !realpath(link, path))
                return;
        disks_add_dir(sysfs, path, depth, out);
}

static void disks_add_dir(const char *sysfs, const char *dir, unsigned depth, struct disks *out) {
        char path[PATH_MAX], sub[PATH_MAX], dev[PATH_MAX];

        if (depth > STACK_DEPTH_MAX || out->n >= DISKS_MAX || strlen(dir) >= sizeof path)
                return;
        strcpy(path, dir);
        if ((size_t) snprintf(sub, sizeof sub, "%s/partition", path) < sizeof sub &&
            faccessat(AT_FDCWD, sub, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                char *slash = strrchr(path, '/');
                if (slash)
                        *slash = 0;
        }
        /* A stacked device (dm, md): the disks below it. */
        if ((size_t) snprintf(sub, sizeof sub, "%s/slaves", path) < sizeof sub) {
                DIR *d = opendir(sub);
                bool any = false;
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        char s[PATH_MAX], real[PATH_MAX];
                        if (de->d_name[0] == '.' ||
                            (size_t) snprintf(s, sizeof s, "%s/%s", sub, de->d_name) >= sizeof s || !realpath(s, real))
                                continue;
                        any = true;
                        disks_add_dir(sysfs, real, depth + 1, out);
                }
                if (d)
                        closedir(d);
                if (any)
                        return;
        }
        if (strlen(path) >= MEDIA_SYSPATH_MAX)
                return;
        strcpy(out->syspath[out->n], path);
        out->device[out->n][0] = 0;
        if ((size_t) snprintf(sub, sizeof sub, "%s/device", path) < sizeof sub && realpath(sub, dev) &&
            strlen(dev) < MEDIA_SYSPATH_MAX)
                strcpy(out->device[out->n], dev);
        out->n++;
}

/* Whether one of DISKS is DISK, or another disk of the same hardware. */
static bool disks_have(const struct disks *disks, const struct media_disk *disk) {
        for (size_t i = 0; i < disks->n; i++)
                if (streq(disks->syspath[i], disk->syspath) || (disks->device[i][0] && streq(disks->device[i], disk->device)))
                        return true;
        return false;
}

static int read_system_file(const struct media_env *env, const char *rel, char **ret, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s%s", env->root ?: "", rel) < 0)
                return -ENOMEM;
        return read_file_bounded(path, SYSTEM_FILE_MAX, ret, ret_size);
}

/* The device number of the block node PATH (below ROOT), following symlinks (by-uuid/...). */
static int node_devnum(const struct media_env *env, const char *path, dev_t *ret) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        if (asprintf(&p, "%s%s", env->root ?: "", path) < 0)
                return -ENOMEM;
        if (stat(p, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        *ret = st.st_rdev;
        return 0;
}

/* Mountinfo's octal escapes (\040 for a blank) undone in place. */
static void unescape_octal(char *s) {
        char *o = s;
        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
                        *o++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *o++ = *p;
        }
        *o = 0;
}

/* The disks under "/" as the kernel has it mounted (the last mount on "/" wins). */
static void root_disks(const struct media_env *env, struct disks *out) {
        _cleanup_free_ char *text = NULL;
        char source[PATH_MAX] = "";
        unsigned ma = 0, mi = 0;
        bool found = false;
        size_t size;

        if (read_system_file(env, "/proc/self/mountinfo", &text, &size) < 0)
                return;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
                unsigned a, b;
                char mp[8];
                int k = 0;
                if (sscanf(line, "%*u %*u %u:%u %*s %7s%n", &a, &b, mp, &k) != 3 || !streq(mp, "/"))
                        continue;
                const char *dash = strstr(line + k, " - ");
                char fstype[64] = "", src[PATH_MAX] = "";
                if (dash && sscanf(dash + 3, "%63s %4095s", fstype, src) >= 1) {
                        unescape_octal(src);
                        snprintf(source, sizeof source, "%s", src);
                } else
                        source[0] = 0;
                ma = a;
                mi = b;
                found = true;
        }
        if (!found)
                return;
        /* Btrfs and others show an anonymous device number: the source names the disk then. */
        dev_t devnum;
        if (ma != 0)
                disks_add_devnum(env->sysfs, makedev(ma, mi), 0, out);
        else if (startswith(source, "/dev/") && node_devnum(env, source, &devnum) == 0)
                disks_add_devnum(env->sysfs, devnum, 0, out);
}

enum spec_kind { SPEC_PATH, SPEC_UUID, SPEC_LABEL, SPEC_PARTUUID, SPEC_PARTLABEL };

static const struct {
        const char *prefix, *dir;
} spec_kinds[] = {
        [SPEC_UUID] = { "UUID=", "by-uuid" },
        [SPEC_LABEL] = { "LABEL=", "by-label" },
        [SPEC_PARTUUID] = { "PARTUUID=", "by-partuuid" },
        [SPEC_PARTLABEL] = { "PARTLABEL=", "by-partlabel" },
};

/* udev's spelling of a name in /dev/disk/by-*: what is not alphanumeric or "#+-.:=@_" (or
 * UTF-8 beyond ASCII) becomes \xHH. */
static void udev_encode(const char *s, char *buf, size_t size) {
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p && o + 5 < size; p++) {
                if (isalnum(*p) || strchr("#+-.:=@_", *p) || *p >= 0x80)
                        buf[o++] = (char) *p;
                else
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", *p);
        }
        buf[o] = 0;
}

/* \xHH undone in place (udev's *_ENC properties). */
static void udev_decode(char *s) {
        char *o = s;
        for (char *p = s; *p; p++) {
                unsigned v;
                if (p[0] == '\\' && p[1] == 'x' && isxdigit((unsigned char) p[2]) && isxdigit((unsigned char) p[3]) &&
                    sscanf(p + 2, "%2x", &v) == 1) {
                        *o++ = (char) v;
                        p += 3;
                } else
                        *o++ = *p;
        }
        *o = 0;
}

/* Whether a property block (udev's database "E:KEY=value" lines, or an environment
 * "KEY=value") names the value VALUE under one of the keys of KIND. */
static bool props_name(const char *const *props, size_t n, enum spec_kind kind, const char *value) {
        static const char *const keys[][3] = {
                [SPEC_UUID] = { "ID_FS_UUID", "ID_FS_UUID_ENC", NULL },
                [SPEC_LABEL] = { "ID_FS_LABEL", "ID_FS_LABEL_ENC", NULL },
                [SPEC_PARTUUID] = { "ID_PART_ENTRY_UUID", NULL, NULL },
                [SPEC_PARTLABEL] = { "ID_PART_ENTRY_NAME", NULL, NULL },
        };
        if (kind == SPEC_PATH)
                return false;
        for (size_t i = 0; i < n; i++) {
                const char *p = props[i];
                if (startswith(p, "E:"))
                        p += 2;
                for (size_t k = 0; keys[kind][k]; k++) {
                        size_t kl = strlen(keys[kind][k]);
                        if (strncmp(p, keys[kind][k], kl) != 0 || p[kl] != '=')
                                continue;
                        char v[PATH_MAX];
                        snprintf(v, sizeof v, "%s", p + kl + 1);
                        udev_decode(v);
                        /* UUIDs are written in either case. */
                        if (kind == SPEC_UUID || kind == SPEC_PARTUUID ? strcasecmp(v, value) == 0 : streq(v, value))
                                return true;
                }
        }
        return false;
}

/* The properties of the node DEVNUM in udev's database, split into lines in TEXT. */
#define PROPS_MAX 256
static size_t udev_props(const struct media_env *env, dev_t devnum, char **text, const char *props[static PROPS_MAX]) {
        char rel[64];
        size_t size, n = 0;

        snprintf(rel, sizeof rel, "/run/udev/data/b%u:%u", major(devnum), minor(devnum));
        if (read_system_file(env, rel, text, &size) < 0)
                return 0;
        for (char *line = *text, *next; line && *line && n < PROPS_MAX; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (startswith(line, "E:"))
                        props[n++] = line;
        }
        return n;
}

/* Whether the fstab/crypttab device SPEC names DISK (or one of its partitions, or a device
 * stacked on them). */
static bool spec_names_disk(const struct media_env *env, const char *spec, const struct media_disk *disk) {
        enum spec_kind kind = SPEC_PATH;
        const char *value = spec;
        char path[PATH_MAX], enc[PATH_MAX];
        dev_t devnum;

        for (size_t k = SPEC_UUID; k < ELEMENTSOF(spec_kinds); k++)
                if (startswith(spec, spec_kinds[k].prefix)) {
                        kind = (enum spec_kind) k;
                        value = spec + strlen(spec_kinds[k].prefix);
                }
        if (!*value)
                return false;
        if (kind == SPEC_PATH) {
                if (!startswith(value, "/dev/"))
                        return false;  /* proc, tmpfs, a network share, a swap file */
                snprintf(path, sizeof path, "%s", value);
        } else {
                udev_encode(value, enc, sizeof enc);
                if ((size_t) snprintf(path, sizeof path, "/dev/disk/%s/%s", spec_kinds[kind].dir, enc) >= sizeof path)
                        return false;
        }
        /* The node, where udev made it already (at boot: from the initramfs's run). */
        if (node_devnum(env, path, &devnum) == 0) {
                struct disks d = {};
                disks_add_devnum(env->sysfs, devnum, 0, &d);
                if (disks_have(&d, disk))
                        return true;
        }
        if (kind == SPEC_PATH)
                return false;
        /* What udev knows of the disk and its partitions, and of the device it is processing
         * now (not in its database yet). */
        if (env->env) {
                size_t n = 0;
                while (env->env[n] && n < PROPS_MAX)
                        n++;
                if (props_name((const char *const *) env->env, n, kind, value))
                        return true;
        }
        char names[MEDIA_PARTITIONS_MAX][MEDIA_NAME_MAX];
        dev_t devnums[MEDIA_PARTITIONS_MAX + 1];
        int np = media_disk_partitions(disk, names, devnums, MEDIA_PARTITIONS_MAX);
        devnums[np < 0 ? 0 : np] = disk->devnum;
        for (int i = 0; i <= MAX(np, 0); i++) {
                _cleanup_free_ char *text = NULL;
                const char *props[PROPS_MAX];
                size_t n = udev_props(env, devnums[i], &text, props);
                if (props_name(props, n, kind, value))
                        return true;
        }
        return false;
}

/* Whether a device named in the table REL (column COLUMN, from 0) names DISK. */
static bool table_names_disk(const struct media_env *env, const char *rel, unsigned column, const struct media_disk *disk) {
        _cleanup_free_ char *text = NULL;
        size_t size;

        if (read_system_file(env, rel, &text, &size) < 0)
                return false;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *save = NULL, *field = strtok_r(line, " \t", &save);
                if (!field || field[0] == '#')
                        continue;
                for (unsigned c = 0; c < column && field; c++)
                        field = strtok_r(NULL, " \t", &save);
                if (!field)
                        continue;
                unescape_octal(field);
                if (spec_names_disk(env, field, disk))
                        return true;
        }
        return false;
}

enum media_fixed_reason media_disk_system_reason(const struct media_env *env, const struct media_disk *disk) {
        struct disks *root = calloc(1, sizeof *root);

        if (root) {
                root_disks(env, root);
                bool have = disks_have(root, disk);
                free(root);
                if (have)
                        return MEDIA_FIXED_ROOT;
        }
        if (table_names_disk(env, "/etc/fstab", 0, disk))
                return MEDIA_FIXED_FSTAB;
        if (table_names_disk(env, "/etc/crypttab", 1, disk))
                return MEDIA_FIXED_CRYPTTAB;
        return MEDIA_NOT_FIXED;
}

enum media_fixed_reason media_fixed_from(enum media_fixed_reason system, const struct media_identity *id,
                                         const struct media_fixed_list *install,
                                         const struct media_fixed_list *policy) {
        if (system != MEDIA_NOT_FIXED)
                return system;
        if (media_fixed_list_contains(policy, id))
                return MEDIA_FIXED_POLICY;
        if (media_bus_removable(id->bus))
                return MEDIA_NOT_FIXED;
        if (!install)
                return MEDIA_FIXED_NO_LIST;
        return media_fixed_list_contains(install, id) ? MEDIA_FIXED_INSTALL : MEDIA_NOT_FIXED;
}

enum media_fixed_reason media_disk_fixed(const struct media_env *env, const struct media_disk *disk,
                                         const struct media_fixed_list *install,
                                         const struct media_fixed_list *policy) {
        return media_fixed_from(media_disk_system_reason(env, disk), &disk->id, install, policy);
}
