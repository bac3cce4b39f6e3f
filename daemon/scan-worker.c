/* SPDX-License-Identifier: MIT */
/* The scan worker (scan-worker.h). */
#include "scan-worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clamd.h"
#include "fileio.h"
#include "identity.h"
#include "macro.h"
#include "scan-protocol.h"

DEFINE_CLEANUP(DIR, closedir);

#define DEVICES_MAX 64                /* block devices below one medium */
#define DEPTH_MAX 64                  /* directories deep */
#define PROGRESS_EVERY_FILES 200
/* The file systems a medium may carry, tried in this order: nothing else is mounted (every
 * driver is kernel code that parses what the medium holds). */
static const char *const fs_types[] = { "ext4", "vfat", "exfat", "ntfs3", "iso9660", "udf", NULL };

struct ctx {
        int clamd;                    /* the IDSESSION connection */
        unsigned request;             /* its last request's number */
        int64_t deadline_ns;          /* CLOCK_MONOTONIC */
        uint64_t max_bytes;
        uint64_t files, bytes;
        int64_t last_progress_ns;
        struct scan_message found;    /* kind INFECTED once something was found */
        enum scan_fault fault;
        int error;
};

static int64_t now_ns(void) {
        return clamd_now_ns();
}

static void say(const struct scan_message *m) {
        char buf[SCAN_LINE_MAX + 1];
        int n = scan_message_format(m, buf, sizeof buf);
        if (n > 0)
                (void) !write(STDOUT_FILENO, buf, (size_t) n);
}

static int fail(struct ctx *c, enum scan_fault f, int error) {
        if (c->fault == SCAN_FAULT_NONE) {
                c->fault = f;
                c->error = error < 0 ? -error : error;
        }
        return -ECANCELED;
}

static void progress(struct ctx *c, bool force) {
        int64_t t = now_ns();
        if (!force && c->files % PROGRESS_EVERY_FILES != 0 && t - c->last_progress_ns < 1000000000)
                return;
        c->last_progress_ns = t;
        say(&(struct scan_message) { .kind = SCAN_MSG_PROGRESS, .files = c->files, .bytes = c->bytes });
}

/* ---- clamd ---- */

/* FD to clamd in the session; 0 clean, 1 found (c->found filled), or a negative errno. */
static int scan_fd(struct ctx *c, int fd, const char *path) {
        char sig[SCAN_SIGNATURE_MAX];
        int r = clamd_scan_fd(c->clamd, c->deadline_ns, ++c->request, fd, sig, sizeof sig);
        if (r <= 0)
                return r;
        c->found = (struct scan_message) { .kind = SCAN_MSG_INFECTED };
        snprintf(c->found.signature, sizeof c->found.signature, "%s", sig);
        identity_sanitize(path, strlen(path), c->found.path, sizeof c->found.path);
        return 1;
}

/* ---- the medium ---- */

struct block_dev {
        char name[NAME_MAX + 1];
        char real[PATH_MAX];
        dev_t dev;
        uint64_t sectors;
        bool partition;
        bool has_partitions;
};

static int read_small(int dirfd, const char *name, char *buf, size_t size) {
        _cleanup_free_ char *s = NULL;
        size_t n;
        int r = read_file_at(dirfd, name, size - 1, &s, &n);
        if (r < 0)
                return r;
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                n--;
        memcpy(buf, s, n);
        buf[n] = 0;
        return 0;
}

/* Every block device whose sysfs directory lies below SYSPATH. */
static int find_block_devices(const char *syspath, struct block_dev *devs, size_t *ret_n) {
        char real_top[PATH_MAX];
        size_t n = 0;

        if (!realpath(syspath, real_top))
                return negative_errno();
        size_t top = strlen(real_top);
        _cleanup_(closedirp) DIR *d = opendir("/sys/class/block");
        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                char link[PATH_MAX], buf[64];
                unsigned maj, min;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(link, sizeof link, "/sys/class/block/%s", de->d_name);
                struct block_dev b = {};
                if (!realpath(link, b.real) || strncmp(b.real, real_top, top) != 0 ||
                    (b.real[top] != '/' && b.real[top] != 0))
                        continue;
                if (n == DEVICES_MAX)
                        return -E2BIG;
                snprintf(b.name, sizeof b.name, "%.255s", de->d_name);
                _cleanup_close_ int fd = open(b.real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || read_small(fd, "dev", buf, sizeof buf) < 0 || sscanf(buf, "%u:%u", &maj, &min) != 2)
                        continue;
                b.dev = makedev(maj, min);
                if (read_small(fd, "size", buf, sizeof buf) >= 0)
                        b.sectors = strtoull(buf, NULL, 10);
                b.partition = faccessat(fd, "partition", F_OK, 0) == 0;
                devs[n++] = b;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                        if (devs[j].partition && !devs[i].partition &&
                            strncmp(devs[j].real, devs[i].real, strlen(devs[i].real)) == 0 &&
                            devs[j].real[strlen(devs[i].real)] == '/')
                                devs[i].has_partitions = true;
        *ret_n = n;
        return 0;
}

/* Mounts DEV at WORKDIR/INDEX, read-only, nosuid, nodev, noexec, trying each known type. */
static int mount_device(const struct block_dev *b, const char *workdir, unsigned index, int *ret_dirfd) {
        char node[PATH_MAX], source[64], target[PATH_MAX];
        struct stat st;
        int r = -EINVAL;

        snprintf(node, sizeof node, "/dev/%.255s", b->name);
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        /* The node must be the very device sysfs names (a /dev entry could be anything). */
        if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != b->dev)
                return -ENODEV;
        snprintf(source, sizeof source, "/proc/self/fd/%d", fd);
        snprintf(target, sizeof target, "%s/%u", workdir, index);
        if (mkdir(target, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        for (const char *const *t = fs_types; *t; t++) {
                if (mount(source, target, *t, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME, NULL) == 0) {
                        int dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (dfd < 0)
                                return negative_errno();
                        *ret_dirfd = dfd;
                        return 0;
                }
                /* The first error that is not "not this type" is the telling one. */
                if (r == -EINVAL || r == -ENODEV)
                        r = negative_errno();
        }
        return r;
}

/* Every capability but reading any file goes: the walk needs nothing else. */
static int drop_capabilities(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        d[0].effective = d[0].permitted = UINT32_C(1) << CAP_DAC_READ_SEARCH;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();
        if (syscall(SYS_capset, &h, d) < 0)
                return negative_errno();
        return 0;
}

/* ---- the walk ---- */

static int walk(struct ctx *c, int dirfd, char *path, size_t len, unsigned depth) {
        if (depth > DEPTH_MAX)
                return fail(c, SCAN_FAULT_UNREADABLE, ELOOP);
        int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return fail(c, SCAN_FAULT_UNREADABLE, errno);
        _cleanup_(closedirp) DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return fail(c, SCAN_FAULT_UNREADABLE, errno);
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return fail(c, SCAN_FAULT_UNREADABLE, errno);
                        return 0;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t nl = strlen(de->d_name);
                if (len + 1 + nl >= PATH_MAX)
                        return fail(c, SCAN_FAULT_UNREADABLE, ENAMETOOLONG);
                path[len] = '/';
                memcpy(path + len + 1, de->d_name, nl + 1);

                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return fail(c, SCAN_FAULT_UNREADABLE, errno);
                if (now_ns() > c->deadline_ns)
                        return fail(c, SCAN_FAULT_TIME_EXCEEDED, ETIMEDOUT);
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return fail(c, SCAN_FAULT_UNREADABLE, errno);
                        int r = walk(c, sub, path, len + 1 + nl, depth + 1);
                        if (r != 0)
                                return r;
                        continue;
                }
                /* Symlinks point at nothing on the medium kyoka would not scan anyway (no mount
                 * follows them out of it here); devices and FIFOs cannot exist usefully on nodev. */
                if (!S_ISREG(st.st_mode))
                        continue;
                _cleanup_close_ int fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return fail(c, SCAN_FAULT_UNREADABLE, fd < 0 ? errno : EIO);
                if ((uint64_t) st.st_size > c->max_bytes - MIN(c->bytes, c->max_bytes))
                        return fail(c, SCAN_FAULT_SIZE_EXCEEDED, EFBIG);
                int r = scan_fd(c, fd, path + 1);
                if (r < 0)
                        return fail(c, r == -ETIMEDOUT && now_ns() >= c->deadline_ns ? SCAN_FAULT_TIME_EXCEEDED
                                                                                       : clamd_fault(r), r);
                c->files++;
                c->bytes += (uint64_t) st.st_size;
                if (r > 0)
                        return 1;
                progress(c, false);
        }
}

static int scan_tree(struct ctx *c, int dirfd, const char *name) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "/%.*s", (int) sizeof path - 2, name);
        return walk(c, dirfd, path, strlen(path), 0);
}

static int finish(struct ctx *c) {
        struct scan_message m = { .kind = SCAN_MSG_RESULT, .files = c->files, .bytes = c->bytes };
        if (c->found.kind == SCAN_MSG_INFECTED) {
                say(&c->found);
                m.result = SCAN_RESULT_INFECTED;
        } else if (c->fault != SCAN_FAULT_NONE) {
                m.result = SCAN_RESULT_FAULT;
                m.fault = c->fault;
                m.error = c->error > 4095 ? EIO : c->error;
        } else
                m.result = SCAN_RESULT_CLEAN;
        progress(c, true);
        say(&m);
        return 0;
}

static int parse_number(const char *s, uint64_t *ret) {
        char *e;
        errno = 0;
        unsigned long long v = strtoull(s, &e, 10);
        if (errno || e == s || *e || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The request of kyokad on stdin (the scan service's connection): one line, read within a few
 * seconds. 0 or a negative errno. */
#define REQUEST_WAIT_MS 10000
static int read_request(struct scan_request *ret) {
        char buf[SCAN_REQUEST_MAX + 1];
        size_t n = 0;

        for (;;) {
                struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
                int k = poll(&p, 1, REQUEST_WAIT_MS);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : -ETIMEDOUT;
                ssize_t m = read(STDIN_FILENO, buf + n, sizeof buf - n);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m <= 0)
                        return m < 0 ? negative_errno() : -EBADMSG;
                n += (size_t) m;
                char *nl = memchr(buf, '\n', n);
                if (nl)
                        return nl == buf + n - 1 ? scan_request_parse(buf, n - 1, ret) : -EBADMSG;
                if (n == sizeof buf)
                        return -EBADMSG;
        }
}

/* One scan: TARGET (a sysfs directory, or with DIRECTORY a directory scanned as it is). */
static int scan_run(const char *sock, uint64_t max_seconds, uint64_t max_bytes, uint64_t max_age,
                    const char *workdir, bool directory, const char *target) {
        struct ctx c = { .clamd = -EBADF, .max_bytes = max_bytes };
        int r;

        int64_t start = now_ns();
        c.deadline_ns = start + (int64_t) max_seconds * 1000000000;
        c.last_progress_ns = start;
        /* The scanner first: without it nothing is mounted. */
        struct scan_message engine = { .kind = SCAN_MSG_ENGINE };
        r = clamd_version(sock, c.deadline_ns, engine.text, sizeof engine.text, &engine.database_time);
        if (r < 0) {
                fail(&c, clamd_fault(r), r);
                return finish(&c);
        }
        say(&engine);
        enum scan_fault f = clamd_database_check(engine.database_time, max_age, (int64_t) time(NULL));
        if (f != SCAN_FAULT_NONE) {
                fail(&c, f, 0);
                return finish(&c);
        }
        r = clamd_connect(sock, c.deadline_ns, &c.clamd);
        if (r >= 0)
                r = clamd_send(c.clamd, "zIDSESSION");
        if (r < 0) {
                fail(&c, clamd_fault(r), r);
                return finish(&c);
        }

        if (directory) {
                _cleanup_close_ int dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        fail(&c, SCAN_FAULT_UNREADABLE, errno);
                else if (drop_capabilities() < 0)
                        fail(&c, SCAN_FAULT_WORKER, errno);
                else
                        (void) scan_tree(&c, dfd, ".");
                return finish(&c);
        }

        struct block_dev devs[DEVICES_MAX];
        size_t n = 0;
        r = find_block_devices(target, devs, &n);
        if (r < 0) {
                fail(&c, SCAN_FAULT_NO_MEDIUM, r);
                return finish(&c);
        }
        /* Our own mounts, seen by nobody else, gone with the process. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=64k") < 0) {
                fail(&c, SCAN_FAULT_WORKER, errno);
                return finish(&c);
        }
        int dirfds[DEVICES_MAX];
        unsigned n_mounted = 0;
        for (size_t i = 0; i < n; i++) {
                /* A disk with partitions is scanned through them; an extended partition's
                 * container (two sectors) and an empty drive hold nothing. */
                if (devs[i].has_partitions || devs[i].sectors < 16)
                        continue;
                r = mount_device(&devs[i], workdir, n_mounted, &dirfds[n_mounted]);
                if (r < 0) {
                        fail(&c, SCAN_FAULT_UNMOUNTABLE, r);
                        return finish(&c);
                }
                n_mounted++;
        }
        if (n_mounted == 0) {
                fail(&c, SCAN_FAULT_NO_MEDIUM, ENOMEDIUM);
                return finish(&c);
        }
        if (drop_capabilities() < 0) {
                fail(&c, SCAN_FAULT_WORKER, errno);
                return finish(&c);
        }
        for (unsigned i = 0, k = 0; i < n && k < n_mounted; i++) {
                if (devs[i].has_partitions || devs[i].sectors < 16)
                        continue;
                r = scan_tree(&c, dirfds[k++], devs[i].name);
                if (r != 0)
                        break;
        }
        return finish(&c);
}

int scan_worker_main(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "max-seconds", required_argument, NULL, 't' },
                { "max-bytes", required_argument, NULL, 'b' },
                { "max-database-age", required_argument, NULL, 'a' },
                { "workdir", required_argument, NULL, 'w' },
                { "directory", no_argument, NULL, 'D' },
                { "request-on-stdin", no_argument, NULL, 'R' },
                {},
        };
        const char *sock = NULL, *workdir = NULL;
        uint64_t max_seconds = 0, max_age = 0;
        uint64_t max_bytes = UINT64_MAX;
        bool directory = false, request = false;
        int o;

        optind = 1;
        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case 's': sock = optarg; break;
                case 't': if (parse_number(optarg, &max_seconds) < 0) return 1; break;
                case 'b': if (parse_number(optarg, &max_bytes) < 0) return 1; break;
                case 'a': if (parse_number(optarg, &max_age) < 0) return 1; break;
                case 'w': workdir = optarg; break;
                case 'D': directory = true; break;
                case 'R': request = true; break;
                default: return 1;
                }
        if (request) {
                /* The scan service (systemd/kyoka-scan@.service): what to scan comes from kyokad on
                 * the connection, the file systems go on this unit's private /tmp. */
                if (sock || directory || workdir || optind != argc) {
                        fprintf(stderr, "kyokad --scan-worker --request-on-stdin: takes no other argument\n");
                        return 1;
                }
                struct scan_request q;
                int r = read_request(&q);
                if (r < 0) {
                        struct ctx c = { .clamd = -EBADF };
                        fail(&c, SCAN_FAULT_WORKER, r);
                        return finish(&c);
                }
                return scan_run(q.clamd_socket, q.max_seconds, q.max_bytes, q.max_database_age, "/tmp", false,
                                q.syspath);
        }
        if (!sock || max_seconds == 0 || max_seconds > 86400 || optind + 1 != argc || (!directory && !workdir)) {
                fprintf(stderr, "kyokad --scan-worker: is kyokad's own, not for use by hand\n");
                return 1;
        }
        return scan_run(sock, max_seconds, max_bytes, max_age, workdir, directory, argv[optind]);
}
