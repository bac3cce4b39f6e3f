/* SPDX-License-Identifier: MIT */
/* The carry-out record (carry.h). */
#include "carry.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "clamd.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "recorder.h"

#define MOUNTS_PER_MEDIUM 8           /* mounts of one file system kept for naming its files */
#define EVENT_BUFFER 65536
#define HASH_CHUNK (1U << 20)
#define DEVNAME_MAX 64

/* One mounted file system of an approved medium, from its first mount to its last unmount
 * (and until every event of it has been read). Owned by the loop; items point to it. */
struct medium {
        struct medium *next;
        unsigned refs;                /* the list (while not pruned) + items */
        dev_t dev;
        bool gone;                    /* no longer mounted: pruned once fanotify is drained */
        bool marked;
        char devname[DEVNAME_MAX];    /* "sdb1" */
        struct carry_medium_info info;
        size_t n_mounts;
        char *roots[MOUNTS_PER_MEDIUM];
        char *mount_points[MOUNTS_PER_MEDIUM];
};

/* One file to record: queued for the worker, then back to the loop. */
struct item {
        struct item *next;
        struct medium *m;             /* loop's reference */
        int fd;                       /* the kernel's descriptor of the file; closed by the worker */
        bool written;
        dev_t dev;
        ino_t ino;
        uint64_t count;               /* closes coalesced into this record */
        int64_t size;
        int64_t time_usec;            /* CLOCK_REALTIME when the (first) event was read */
        int64_t pid;
        int64_t uid;
        char process[16];
        bool process_gone;            /* exited before kyokad looked: uid is the file's owner */
        char path[1024];
        struct carry_scan scan;       /* the medium's, when the file was queued */
        /* the worker's */
        int error;
        char sha256[65];
        char user[64];
        struct clamd_file_result scanned; /* when scan.enabled */
};

struct carry {
        sd_event *event;
        const struct carry_output *out;
        carry_lookup_t lookup;
        void *userdata;
        int fan_fd;
        int mountinfo_fd;
        int done_fd;                  /* eventfd: the worker finished items */
        sd_event_source *fan_source, *mountinfo_source, *done_source;
        struct medium *media;
        size_t live;                  /* items queued, hashing or done but not recorded (loop only) */
        size_t max_live;              /* CARRY_QUEUE_MAX, less where the descriptor limit is low */
        bool paused;                  /* fanotify not read until the queue drains */
        bool stopping;
        /* the pending list and the done list, shared with the worker */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct item *pending, **pending_tail;
        struct item *done, **done_tail;
        bool quit;
        bool thread_started;
        pthread_t thread;
        /* one process looked up per batch of events */
        int64_t cached_pid, cached_uid;
        char cached_process[16];
};

static int64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- mountinfo ------------------------------------------------------------------------------ */

/* Decodes the kernel's octal escapes (\040 space, \011, \012, \134) in place. */
static void unescape(char *s) {
        char *o = s;
        for (char *p = s; *p;) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
                        *o++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 4;
                } else
                        *o++ = *p++;
        }
        *o = 0;
}

int carry_mountinfo_parse_line(char *line, struct carry_mount *ret) {
        char *fields[5], *save = NULL, *tok = strtok_r(line, " ", &save);
        size_t n = 0;

        /* id, parent, major:minor, root, mount point (the rest is not needed) */
        for (; tok && n < 5; tok = strtok_r(NULL, " ", &save))
                fields[n++] = tok;
        if (n < 5)
                return -EBADMSG;
        unsigned major, minor;
        int used = 0;
        if (sscanf(fields[2], "%u:%u%n", &major, &minor, &used) != 2 || fields[2][used] != 0)
                return -EBADMSG;
        if (fields[3][0] != '/' || fields[4][0] != '/')
                return -EBADMSG;
        unescape(fields[3]);
        unescape(fields[4]);
        *ret = (struct carry_mount) { .major = major, .minor = minor, .root = fields[3], .mount_point = fields[4] };
        return 0;
}

int carry_medium_path(const char *devname, const char *root, const char *mount_point, const char *path, char *buf,
                      size_t size) {
        size_t n = strlen(mount_point);
        const char *rest;

        if (streq(mount_point, "/"))
                rest = path;
        else if (strncmp(path, mount_point, n) == 0 && (path[n] == '/' || path[n] == 0))
                rest = path + n;
        else
                return -ENOENT;
        if (streq(root, "/"))
                root = "";
        if (*rest == '/')
                rest++;
        int k = snprintf(buf, size, "%s%s%s%s", devname, root, *rest ? "/" : "", rest);
        if (k < 0 || (size_t) k >= size)
                return -ENAMETOOLONG;
        return 0;
}

static struct medium *medium_unref(struct medium *m) {
        if (!m || --m->refs > 0)
                return NULL;
        for (size_t i = 0; i < m->n_mounts; i++) {
                free(m->roots[i]);
                free(m->mount_points[i]);
        }
        return mfree(m);
}

static struct medium *medium_find(struct carry *c, dev_t dev, bool include_gone) {
        for (struct medium *m = c->media; m; m = m->next)
                if (m->dev == dev && (include_gone || !m->gone))
                        return m;
        return NULL;
}

static void media_prune_gone(struct carry *c) {
        for (struct medium **p = &c->media; *p;) {
                struct medium *m = *p;
                if (m->gone) {
                        *p = m->next;
                        medium_unref(m);
                } else
                        p = &m->next;
        }
}

/* The block device DEV's sysfs directory and kernel name. */
static int block_device_of(dev_t dev, char *syspath, size_t size, char *devname) {
        char link[64], real[PATH_MAX];
        snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev), minor(dev));
        if (!realpath(link, real))
                return negative_errno();
        if (strlen(real) >= size)
                return -ENAMETOOLONG;
        strcpy(syspath, real);
        const char *base = strrchr(real, '/');
        base = base ? base + 1 : real;
        if (strlen(base) >= DEVNAME_MAX)
                return -ENAMETOOLONG;
        strcpy(devname, base);
        return 0;
}

static void medium_add_mount(struct medium *m, const struct carry_mount *mt) {
        for (size_t i = 0; i < m->n_mounts; i++)
                if (streq(m->mount_points[i], mt->mount_point) && streq(m->roots[i], mt->root))
                        return;
        if (m->n_mounts == MOUNTS_PER_MEDIUM)
                return;
        char *root = strdup(mt->root), *mp = strdup(mt->mount_point);
        if (!root || !mp) {
                free(root);
                free(mp);
                return;
        }
        m->roots[m->n_mounts] = root;
        m->mount_points[m->n_mounts++] = mp;
}

static void medium_mark(struct carry *c, struct medium *m) {
        if (m->marked || m->n_mounts == 0)
                return;
        /* Opened and checked first: the mount point may have been replaced since mountinfo
         * was read; the mark goes on what the descriptor is, not on a path. */
        /* Not O_PATH: fanotify_mark() takes no O_PATH descriptor (EBADF). */
        _cleanup_close_ int fd = open(m->mount_points[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != m->dev) {
                log_warning("Carry-out record: cannot open the mount of %s at %s", m->devname, m->mount_points[0]);
                return;
        }
        if (fanotify_mark(c->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE, fd,
                          NULL) < 0) {
                int r = negative_errno();
                char msg[1024], what[MEDIA_NAME_MAX + USB_PATH_MAX + 16];
                carry_medium_describe(&m->info, what, sizeof what);
                snprintf(msg, sizeof msg, "Cannot watch the files of %s (%s, %s): %s; files written there "
                         "are not recorded", m->devname, m->mount_points[0], what, strerror(-r));
                c->out->fault(c->userdata, &m->info, FAULT_CARRY_WATCH, r, msg);
                return;
        }
        m->marked = true;
        if (m->info.id.bus_path[0] || m->info.medium.name[0]) {
                char what[MEDIA_NAME_MAX + USB_PATH_MAX + 16];
                carry_medium_describe(&m->info, what, sizeof what);
                log_info("Carry-out record: recording files on %s (%s, permit \"%s\") mounted at %s",
                         m->devname, what, m->info.permit, m->mount_points[0]);
        }
        else    /* the worker: kyokad knows the device by the token */
                log_info("Carry-out record: recording files on %s (medium %u of kyokad's) mounted at %s", m->devname,
                         m->info.token, m->mount_points[0]);
}

static void read_events(struct carry *c);

static bool medium_seen(const dev_t *seen, size_t n, dev_t dev) {
        for (size_t i = 0; i < n; i++)
                if (seen[i] == dev)
                        return true;
        return false;
}

/* The mount table changed (or kyokad starts, or decisions changed): every mount of an approved
 * medium's file system is marked; a file system no longer mounted is let go once every event
 * it had is read. */
static void mounts_update(struct carry *c) {
        _cleanup_free_ char *text = NULL;
        size_t size;

        /* What the kernel queued before the unmount is read before the medium is let go. */
        read_events(c);

        if (lseek(c->mountinfo_fd, 0, SEEK_SET) < 0 ||
            read_fd_bounded(c->mountinfo_fd, CARRY_MOUNTINFO_MAX, &text, &size) < 0) {
                log_warning("Carry-out record: cannot read /proc/self/mountinfo");
                return;
        }
        /* Which file systems are mounted now. */
        dev_t seen[256];
        size_t n_seen = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct carry_mount mt;
                if (carry_mountinfo_parse_line(line, &mt) < 0 || mt.major == 0)
                        continue;
                dev_t dev = makedev(mt.major, mt.minor);
                struct medium *m = medium_find(c, dev, false);
                if (!m || !medium_seen(seen, n_seen, dev)) {
                        /* What kyokad says of the file system now (its permit, access, scan,
                         * token): for a new medium, and once per pass for one known already (it
                         * names the files from here on). */
                        char syspath[PATH_MAX], devname[DEVNAME_MAX];
                        struct carry_medium_info info;
                        bool known = block_device_of(dev, syspath, sizeof syspath, devname) >= 0 &&
                                     c->lookup(syspath, &info, c->userdata) >= 0;
                        if (m && known)
                                m->info = info;
                        else if (!m) {
                                if (!known)
                                        continue;
                                m = calloc(1, sizeof *m);
                                if (!m) {
                                        char msg[128];
                                        snprintf(msg, sizeof msg, "Out of memory watching the files of %s", devname);
                                        c->out->fault(c->userdata, &info, FAULT_OOM, -ENOMEM, msg);
                                        continue;
                                }
                                m->refs = 1;
                                m->dev = dev;
                                m->info = info;
                                snprintf(m->devname, sizeof m->devname, "%s", devname);
                                m->next = c->media;
                                c->media = m;
                        }
                }
                medium_add_mount(m, &mt);
                if (n_seen < ELEMENTSOF(seen) && !medium_seen(seen, n_seen, dev))
                        seen[n_seen++] = dev;
        }
        for (struct medium *m = c->media; m; m = m->next) {
                bool mounted = medium_seen(seen, n_seen, m->dev);
                if (!mounted && !m->gone) {
                        m->gone = true;
                        char what[MEDIA_NAME_MAX + USB_PATH_MAX + 16];
                        carry_medium_describe(&m->info, what, sizeof what);
                        log_info("Carry-out record: %s (%s) is no longer mounted", m->devname, what);
                } else if (mounted)
                        medium_mark(c, m);
        }
}

static int on_mountinfo(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        mounts_update(userdata);
        return 0;
}

void carry_refresh(struct carry *c) {
        if (c && !c->stopping)
                mounts_update(c);
}

/* ---- events --------------------------------------------------------------------------------- */

static void record_lost(struct carry *c, struct medium *m, const char *reason, uint64_t count, int error) {
        c->out->file(c->userdata, m ? &m->info : NULL, &(struct record_file) {
                .ev = FILE_RECORD_LOST,
                .usb = carry_medium_usb(m ? &m->info : NULL),
                .media = carry_medium_media(m ? &m->info : NULL),
                .permit = m ? m->info.permit : "",
                .verdict = m ? m->info.verdict : VERDICT_BLOCK,
                .path = m ? m->devname : "",
                .count = count,
                .reason = reason,
                .error = error,
                .uid = -1,
        });
}

static void process_of(struct carry *c, int64_t pid, struct item *it) {
        if (pid != c->cached_pid) {
                char path[64];
                _cleanup_free_ char *comm = NULL, *status = NULL;
                size_t n;

                c->cached_pid = pid;
                c->cached_uid = -1;
                c->cached_process[0] = 0;
                /* The process may be gone already (a short cp): then its name and user are not known. */
                snprintf(path, sizeof path, "/proc/%" PRIi64 "/comm", pid);
                if (read_file_bounded(path, 64, &comm, &n) >= 0) {
                        comm[strcspn(comm, "\n")] = 0;
                        snprintf(c->cached_process, sizeof c->cached_process, "%s", comm);
                }
                snprintf(path, sizeof path, "/proc/%" PRIi64 "/status", pid);
                if (read_file_bounded(path, 16384, &status, &n) >= 0) {
                        const char *u = strstr(status, "\nUid:");
                        long long uid;
                        if (u && sscanf(u + 5, "%lld", &uid) == 1 && uid >= 0)
                                c->cached_uid = uid;
                }
        }
        it->pid = pid;
        it->uid = c->cached_uid;
        memcpy(it->process, c->cached_process, sizeof it->process);
}

/* The process has exited (a cp that closed its last file and ended before kyokad read the
 * event): the file's owner stands for the user, and the record says so (reason). */
static void process_fallback(struct item *it, const struct stat *st) {
        if (it->uid >= 0)
                return;
        it->uid = st->st_uid;
        it->process_gone = true;
}

static void queue_push(struct carry *c, struct item *it) {
        pthread_mutex_lock(&c->lock);
        it->next = NULL;
        *c->pending_tail = it;
        c->pending_tail = &it->next;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
}

/* A rewrite of a file still waiting joins its entry: 1 if it did. */
static int queue_coalesce(struct carry *c, dev_t dev, ino_t ino, bool written) {
        int found = 0;
        pthread_mutex_lock(&c->lock);
        for (struct item *it = c->pending; it; it = it->next)
                if (it->dev == dev && it->ino == ino && it->written == written) {
                        it->count++;
                        found = 1;
                        break;
                }
        pthread_mutex_unlock(&c->lock);
        return found;
}

static void on_event(struct carry *c, const struct fanotify_event_metadata *ev) {
        _cleanup_close_ int fd = ev->fd;
        struct stat st;

        if (ev->mask & FAN_Q_OVERFLOW) {
                /* The kernel dropped events: how many is not known; every medium watched now may
                 * have lost files. */
                bool any = false;
                for (struct medium *m = c->media; m; m = m->next)
                        if (m->marked) {
                                record_lost(c, m, "queue-overflow", 1, 0);
                                any = true;
                        }
                if (!any)
                        record_lost(c, NULL, "queue-overflow", 1, 0);
                return;
        }
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        struct medium *m = medium_find(c, st.st_dev, false) ?: medium_find(c, st.st_dev, true);
        if (!m)
                return;               /* not a medium kyokad records (a mark left from before) */
        bool written = ev->mask & FAN_CLOSE_WRITE;
        if (queue_coalesce(c, st.st_dev, st.st_ino, written))
                return;

        struct item *it = calloc(1, sizeof *it);
        if (!it) {
                record_lost(c, m, "out-of-memory", 1, ENOMEM);
                return;
        }
        it->m = m;
        m->refs++;
        it->written = written;
        it->dev = st.st_dev;
        it->ino = st.st_ino;
        it->count = 1;
        it->size = st.st_size;
        it->time_usec = now_realtime_usec();
        process_of(c, ev->pid, it);
        process_fallback(it, &st);

        char link[64], path[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%i", fd);
        ssize_t k = readlink(link, path, sizeof path - 1);
        path[k > 0 ? k : 0] = 0;
        int r = -ENOENT;
        for (size_t i = 0; r < 0 && i < m->n_mounts; i++)
                r = carry_medium_path(m->devname, m->roots[i], m->mount_points[i], path, it->path, sizeof it->path);
        if (r < 0) {
                /* Named as kyokad sees it (cut to the record's bound): better than nothing. */
                int k2 = snprintf(it->path, sizeof it->path, "%s:", m->devname);
                size_t room = sizeof it->path - (size_t) MAX(k2, 0) - 1, len = strlen(path);
                if (k2 > 0 && (size_t) k2 < sizeof it->path) {
                        memcpy(it->path + k2, path, MIN(len, room));
                        it->path[k2 + (int) MIN(len, room)] = 0;
                }
        }
        if (written)
                it->scan = m->info.scan;
        it->fd = TAKE_FD(fd);
        c->live++;
        queue_push(c, it);
}

static void set_paused(struct carry *c, bool paused) {
        if (c->paused == paused || !c->fan_source)
                return;
        c->paused = paused;
        (void) sd_event_source_set_enabled(c->fan_source, paused ? SD_EVENT_OFF : SD_EVENT_ON);
}

static void read_events(struct carry *c) {
        _Alignas(struct fanotify_event_metadata) char buf[EVENT_BUFFER];

        c->cached_pid = -1;
        while (!c->paused) {
                if (c->live >= c->max_live) {
                        /* Full: the kernel's queue holds the rest until the worker drains. */
                        set_paused(c, true);
                        return;
                }
                /* Media that went away before this read started have had all their events read
                 * once the kernel's queue is empty. */
                bool prune = false;
                for (struct medium *m = c->media; m; m = m->next)
                        prune = prune || m->gone;
                /* At most what the queue has room for: each event holds a descriptor. */
                size_t room = (c->max_live - c->live) * sizeof(struct fanotify_event_metadata);
                ssize_t n = read(c->fan_fd, buf, MIN(sizeof buf, room));
                if (n < 0) {
                        int r = negative_errno();
                        if (r == -EAGAIN && prune)
                                media_prune_gone(c);
                        if (r == -EAGAIN || r == -EINTR)
                                return;
                        /* The kernel has dequeued and dropped the event it could not hand over (no
                         * descriptor for it: EMFILE, ENFILE, ENOMEM): a counted loss. */
                        log_warning_errno(r, "Carry-out record: reading fanotify: %m");
                        bool any = false;
                        for (struct medium *m = c->media; m; m = m->next)
                                if (m->marked) {
                                        record_lost(c, m, "unreadable-event", 1, -r);
                                        any = true;
                                }
                        if (!any)
                                record_lost(c, NULL, "unreadable-event", 1, -r);
                        continue;
                }
                if (n == 0)
                        return;
                const struct fanotify_event_metadata *ev = (const void *) buf;
                for (; FAN_EVENT_OK(ev, n); ev = FAN_EVENT_NEXT(ev, n)) {
                        if (ev->vers != FANOTIFY_METADATA_VERSION) {
                                if (ev->fd >= 0)
                                        close(ev->fd);
                                continue;
                        }
                        on_event(c, ev);
                }
        }
}

static int on_fanotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        read_events(userdata);
        return 0;
}

/* ---- the worker ----------------------------------------------------------------------------- */

static int hash_fd(int fd, char ret[65]) {
        _cleanup_free_ uint8_t *buf = malloc(HASH_CHUNK);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t md[32];
        unsigned len = 0;
        int r = 0;
        off_t off = 0;

        if (!buf || !ctx) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                r = -EIO;
        while (r == 0) {
                ssize_t k = pread(fd, buf, HASH_CHUNK, off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        break;
                }
                if (k == 0)
                        break;
                if (EVP_DigestUpdate(ctx, buf, (size_t) k) != 1)
                        r = -EIO;
                off += k;
        }
        if (r == 0 && (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32))
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

/* The file's contents to clamd, within the policy's bounds for one file. */
static void scan_item(struct item *it) {
        if ((uint64_t) it->size > it->scan.max_bytes) {
                it->scanned = (struct clamd_file_result) { .result = SCAN_RESULT_FAULT, .fault = SCAN_FAULT_SIZE_EXCEEDED,
                                                           .error = EFBIG };
                return;
        }
        int64_t deadline = clamd_now_ns() + (int64_t) MAX(it->scan.max_seconds, 1U) * 1000000000;
        clamd_scan_file(it->scan.clamd_socket, it->fd, deadline, it->scan.max_database_age, &it->scanned);
}

static void *worker(void *userdata) {
        struct carry *c = userdata;

        for (;;) {
                pthread_mutex_lock(&c->lock);
                while (!c->pending && !c->quit)
                        pthread_cond_wait(&c->cond, &c->lock);
                struct item *it = c->pending;
                if (!it) {
                        pthread_mutex_unlock(&c->lock);
                        return NULL;
                }
                c->pending = it->next;
                if (!c->pending)
                        c->pending_tail = &c->pending;
                pthread_mutex_unlock(&c->lock);

                if (it->written) {
                        struct stat st;
                        int r = hash_fd(it->fd, it->sha256);
                        if (r < 0)
                                it->error = -r;
                        /* The size the hash is of. */
                        if (fstat(it->fd, &st) == 0)
                                it->size = st.st_size;
                        if (it->scan.enabled)
                                scan_item(it);
                }
                close(it->fd);
                it->fd = -EBADF;
                if (it->uid >= 0) {
                        struct passwd pw, *res = NULL;
                        char pwbuf[4096];
                        if (getpwuid_r((uid_t) it->uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
                                snprintf(it->user, sizeof it->user, "%s", res->pw_name);
                }

                pthread_mutex_lock(&c->lock);
                it->next = NULL;
                *c->done_tail = it;
                c->done_tail = &it->next;
                pthread_mutex_unlock(&c->lock);
                uint64_t one = 1;
                (void) !write(c->done_fd, &one, sizeof one);
        }
}

static void record_done(struct carry *c) {
        pthread_mutex_lock(&c->lock);
        struct item *list = c->done;
        c->done = NULL;
        c->done_tail = &c->done;
        pthread_mutex_unlock(&c->lock);

        while (list) {
                struct item *it = list;
                list = it->next;
                struct medium *m = it->m;
                c->out->file(c->userdata, &m->info, &(struct record_file) {
                        .ev = it->written ? FILE_RECORD_WRITTEN : FILE_RECORD_READ,
                        .usb = carry_medium_usb(&m->info),
                        .media = carry_medium_media(&m->info),
                        .permit = m->info.permit,
                        .verdict = m->info.verdict,
                        .path = it->path,
                        .size = it->size,
                        .sha256 = it->sha256,
                        .error = it->error,
                        .uid = it->uid,
                        .user = it->user,
                        .pid = it->pid,
                        .process = it->process,
                        .count = it->count,
                        .reason = it->process_gone ? "process-gone" : "",
                        .time_usec = it->time_usec,
                        .scan_asked = it->written && it->scan.enabled,
                        .scan_result = it->scanned.result,
                        .scan_fault = it->scanned.fault,
                        .scan_error = it->scanned.error,
                        .scanner = it->scanned.scanner,
                        .signature = it->scanned.signature,
                });
                medium_unref(m);
                free(it);
                c->live--;
        }
        if (c->paused && c->live <= c->max_live / 2 && !c->stopping) {
                set_paused(c, false);
                read_events(c);
        }
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t v;
        (void) !read(fd, &v, sizeof v);
        record_done(userdata);
        return 0;
}

/* ---- life ----------------------------------------------------------------------------------- */

int carry_new(sd_event *e, const struct carry_output *out, carry_lookup_t lookup, void *userdata, struct carry **ret) {
        struct carry *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        c->event = e;
        c->out = out;
        c->lookup = lookup;
        c->userdata = userdata;
        c->fan_fd = c->mountinfo_fd = c->done_fd = -EBADF;
        c->pending_tail = &c->pending;
        c->done_tail = &c->done;
        c->cached_pid = -1;
        pthread_mutex_init(&c->lock, NULL);

        /* Each queued file holds a descriptor, and the kernel fails (and, after the first
         * event of a read, silently drops) an event it cannot open one for: the queue stays
         * well below the descriptor limit, raised to the hard limit where that allows more. */
        struct rlimit rl;
        c->max_live = CARRY_QUEUE_MAX;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rlim_t want = MIN(rl.rlim_max, (rlim_t) 65536);
                if (rl.rlim_cur < want) {
                        rl.rlim_cur = want;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                        (void) getrlimit(RLIMIT_NOFILE, &rl);
                }
                if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < CARRY_QUEUE_MAX + 512)
                        c->max_live = rl.rlim_cur > 512 + 64 ? (size_t) rl.rlim_cur - 512 : 64;
        }
        pthread_cond_init(&c->cond, NULL);

        struct carry *p = c;
        p->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
        if (p->fan_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        p->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->mountinfo_fd < 0 || p->done_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = pthread_create(&p->thread, NULL, worker, p);
        if (r > 0) {
                r = -r;
                goto fail;
        }
        p->thread_started = true;
        r = sd_event_add_io(e, &p->fan_source, p->fan_fd, EPOLLIN, on_fanotify, p);
        if (r >= 0)
                r = sd_event_add_io(e, &p->done_source, p->done_fd, EPOLLIN, on_done, p);
        /* The kernel signals a change of the mount table as an exceptional condition. */
        if (r >= 0)
                r = sd_event_add_io(e, &p->mountinfo_source, p->mountinfo_fd, EPOLLPRI, on_mountinfo, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(p->fan_source, "carry-fanotify");
        (void) sd_event_source_set_description(p->mountinfo_source, "carry-mountinfo");
        mounts_update(p);
        *ret = p;
        return 0;
fail:
        carry_free(p);
        return r;
}

void carry_stop(struct carry *c) {
        if (!c || c->stopping)
                return;
        c->stopping = true;
        c->fan_source = sd_event_source_disable_unref(c->fan_source);
        c->mountinfo_source = sd_event_source_disable_unref(c->mountinfo_source);
        if (c->thread_started) {
                pthread_mutex_lock(&c->lock);
                c->quit = true;
                pthread_cond_signal(&c->cond);
                pthread_mutex_unlock(&c->lock);
                pthread_join(c->thread, NULL);
                c->thread_started = false;
        }
        record_done(c);
}

struct carry *carry_free(struct carry *c) {
        if (!c)
                return NULL;
        carry_stop(c);
        c->done_source = sd_event_source_disable_unref(c->done_source);
        /* Whatever is left unrecorded (the worker stopped before it): close, let go. */
        for (struct item *it = c->pending; it;) {
                struct item *next = it->next;
                if (it->fd >= 0)
                        close(it->fd);
                medium_unref(it->m);
                free(it);
                it = next;
        }
        while (c->media) {
                struct medium *m = c->media;
                c->media = m->next;
                medium_unref(m);
        }
        if (c->fan_fd >= 0)
                close(c->fan_fd);
        if (c->mountinfo_fd >= 0)
                close(c->mountinfo_fd);
        if (c->done_fd >= 0)
                close(c->done_fd);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        return mfree(c);
}
