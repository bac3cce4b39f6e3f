/* SPDX-License-Identifier: MIT */
#include "usb-io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "mount-sync.h"
#include "trace.h"
#include "usb-enforce.h"
#include "seat.h"
#include "usb-identity.h"
#include "usb-path.h"

struct job {
        struct job *next;
        bool running;
        struct usb_io_result res;
};

struct usb_io {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        struct job *queue;            /* waiting and running, in submission order */
        struct job *done;             /* finished, newest first */
        unsigned pending;
        bool stopping;
        pthread_t threads[USB_IO_THREADS_MAX];
        unsigned n_threads;
        int efd;
        sd_event_source *source;
        usb_io_done_t done_cb;
        void *userdata;
        bool access_files;
        int access_dirfd;
};

/* The device's `devnum` (1-127, given by the bus at enumeration), or -1. */
static int read_devnum(int dirfd) {
        char buf[8];
        _cleanup_close_ int fd = openat(dirfd, "devnum", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n = fd < 0 ? -1 : read_fd_prefix(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        char *end;
        long v = strtol(buf, &end, 10);
        return end != buf && (*end == '\n' || *end == 0) && v > 0 && v < 1000 ? (int) v : -1;
}

static void job_read_identity(struct usb_io_result *res) {
        _cleanup_close_ int fd = open(res->req.syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        res->ino = 0;
        res->devnum = -1;
        if (res->req.port_and_seat) {
                if (usb_device_id_path(res->req.syspath, res->id_path, sizeof res->id_path) < 0)
                        res->id_path[0] = 0;
                trace_point(res->req.sysname, "identity-port");
                (void) seat_of_syspath(res->req.syspath, SEAT_UDEV_DB, res->seat);
                trace_point(res->req.sysname, "identity-seat");
        }
        if (fd < 0) {
                res->r = negative_errno();
                return;
        }
        if (fstat(fd, &st) == 0)
                res->ino = (uint64_t) st.st_ino;
        res->devnum = read_devnum(fd);
        trace_point(res->req.sysname, "identity-devnum");
        res->r = usb_identity_read(fd, res->req.sysname, &res->id, &res->desc);
}

/* Still the device whose identity was read (see expect_ino in usb-io.h). */
static int same_device(int fd, const struct usb_io_request *req) {
        struct stat st;

        if (req->expect_ino == 0)
                return 0;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if ((uint64_t) st.st_ino != req->expect_ino || read_devnum(fd) != req->expect_devnum)
                return -ENODEV;
        return 0;
}

/* Nothing of it can become a block device: every interface is HID or a hub. */
static bool only_hid_or_hub(const struct usb_descriptors *d) {
        if (d->n_interfaces == 0)
                return false;
        for (size_t i = 0; i < d->n_interfaces; i++)
                if (d->interfaces[i].c.cls != 0x03 && d->interfaces[i].c.cls != 0x09)
                        return false;
        return true;
}

/* A raw HID node of the device that someone other than root may open (or, at the next seat
 * change, will): /dev and udev's database as the system has them. */
static int hidraw_open(int fd, const char *sysname) {
        _cleanup_close_ int dev = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int db = open("/run/udev/data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return dev < 0 ? negative_errno() : usb_device_has_open_hidraw(fd, sysname, dev, db);
}

static void job_apply(struct usb_io *io, struct usb_io_result *res) {
        const struct usb_io_request *req = &res->req;
        _cleanup_close_ int fd = open(req->syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0) {
                res->r = negative_errno();
                return;
        }
        r = same_device(fd, req);
        if (r < 0) {
                res->r = r;
                return;
        }
        r = usb_device_is_authorized(fd);
        if (r < 0) {
                res->r = r;
                return;
        }
        if (!req->authorize) {
                res->r = r ? usb_device_authorize(fd, false) : 0;
                /* Off first, then the file: a block device never outlives a "read-write". */
                if (io->access_files) {
                        int k = io->access_dirfd < 0 ? -EBADF : block_access_remove(io->access_dirfd, req->sysname);
                        if (k < 0 && res->r == 0)
                                res->r = k;
                }
                return;
        }
        struct usb_access a = { .block = req->access, .hidraw = req->hidraw, .bound = req->bound,
                                .n_diskseq = MIN(req->n_diskseq, (uint8_t) USB_ACCESS_DISKSEQ_MAX) };
        memcpy(a.diskseq, req->diskseq, sizeof a.diskseq);
        if (io->access_files) {
                /* Before `authorized`: the udev rule reads it when the block devices appear. */
                int k = usb_access_write(io->access_dirfd, req->sysname, &a);
                if (k < 0 && !only_hid_or_hub(&req->desc)) {
                        if (r)
                                (void) usb_device_authorize(fd, false);
                        res->r = k;
                        return;
                }
        }
        bool in_place = r && req->access_changed && req->open_in_place && req->bound && io->access_files &&
                        req->access != BLOCK_ACCESS_HELD;
        if (in_place) {
                /* Its scan passed: the disks it saw are opened where they are; anything else
                 * (a card swapped in meanwhile) stays held, and its uevent brings a new scan. */
                _cleanup_close_ int dev = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                res->open_error = dev < 0 ? negative_errno() : usb_device_open_bound(fd, req->sysname, &a, dev);
                trace_point(req->sysname, "opened-in-place");
        }
        if (r && ((req->access_changed && !in_place) ||
                  (req->access != BLOCK_ACCESS_READ_WRITE && usb_device_has_writable_block(fd, req->sysname) != 0) ||
                  (req->hidraw == HIDRAW_ACCESS_ROOT && hidraw_open(fd, req->sysname) != 0))) {
                /* Writable (or unknown) block devices of a device that is now read-only, raw HID
                 * nodes open to users of a device that may not have them (both: for example
                 * after kyokad restarted), or the access changed: re-attach the device so that
                 * everything below it is made anew through the udev rules. Narrowed: what was
                 * written to its file systems goes to the device first (the mounts end). */
                if (req->access != BLOCK_ACCESS_READ_WRITE)
                        (void) mounts_sync_below(req->syspath);
                r = usb_device_authorize(fd, false);
                if (r < 0) {
                        res->r = r;
                        return;
                }
                res->reauthorized = true;
                r = 0;
        }
        if (!r) {
                r = usb_device_authorize(fd, true);
                if (r < 0) {
                        res->r = r;
                        return;
                }
                trace_point(req->sysname, "authorized");
        }
        /* Interfaces start unauthorised (interface_authorized_default = 0): name each one. */
        r = usb_interfaces_authorize(fd, req->sysname, &req->desc, req->interface_mask, &res->probe_error);
        trace_point(req->sysname, "interfaces");
        if (r < 0) {
                /* Fail closed: a device whose interfaces could not be set as decided goes off whole. */
                (void) usb_device_authorize(fd, false);
                res->r = r;
                return;
        }
        res->r = 0;
}

static void job_forget(struct usb_io *io, struct usb_io_result *res) {
        res->r = !io->access_files ? 0
               : io->access_dirfd < 0 ? -EBADF
               : block_access_remove(io->access_dirfd, res->req.sysname);
}

static void job_block_read_only(struct usb_io_result *res) {
        _cleanup_close_ int fd = open(res->req.devnode, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        res->r = fd < 0 ? negative_errno() : block_device_set_read_only(fd, true);
}

/* The first queued job whose device has no earlier job in the queue (running or not). */
static struct job *next_runnable(struct usb_io *io) {
        for (struct job *j = io->queue; j; j = j->next) {
                if (j->running)
                        continue;
                bool blocked = false;
                for (struct job *e = io->queue; e != j; e = e->next)
                        if (streq(e->res.req.syspath, j->res.req.syspath)) {
                                blocked = true;
                                break;
                        }
                if (!blocked)
                        return j;
        }
        return NULL;
}

static void *worker(void *arg) {
        struct usb_io *io = arg;

        pthread_mutex_lock(&io->lock);
        for (;;) {
                struct job *j;
                while (!io->stopping && !(j = next_runnable(io)))
                        pthread_cond_wait(&io->wake, &io->lock);
                if (io->stopping)
                        break;

                j->running = true;
                pthread_mutex_unlock(&io->lock);
                switch (j->res.req.op) {
                case USB_IO_READ_IDENTITY:
                        trace_point(j->res.req.sysname, "identity-start");
                        job_read_identity(&j->res);
                        trace_point(j->res.req.sysname, "identity-done");
                        break;
                case USB_IO_APPLY:
                        trace_point(j->res.req.sysname, "apply-start");
                        job_apply(io, &j->res);
                        trace_point(j->res.req.sysname, "apply-done");
                        break;
                case USB_IO_FORGET:
                        job_forget(io, &j->res);
                        break;
                case USB_IO_BLOCK_READ_ONLY:
                        job_block_read_only(&j->res);
                        break;
                case USB_IO_CALL:
                        j->res.r = j->res.req.call ? j->res.req.call(j->res.req.context) : -EINVAL;
                        break;
                }
                pthread_mutex_lock(&io->lock);

                for (struct job **p = &io->queue; *p; p = &(*p)->next)
                        if (*p == j) {
                                *p = j->next;
                                break;
                        }
                j->next = io->done;
                io->done = j;
                uint64_t one = 1;
                (void) !write(io->efd, &one, sizeof one);
                /* Later jobs of the same device may run now. */
                pthread_cond_broadcast(&io->wake);
        }
        pthread_mutex_unlock(&io->lock);
        return NULL;
}

/* Delivers the finished jobs of LIST (newest first) in completion order. */
static void deliver(struct usb_io *io, struct job *list) {
        struct job *ordered = NULL;
        while (list) {
                struct job *j = list;
                list = j->next;
                j->next = ordered;
                ordered = j;
        }
        while (ordered) {
                struct job *j = ordered;
                ordered = j->next;
                pthread_mutex_lock(&io->lock);
                io->pending--;
                pthread_mutex_unlock(&io->lock);
                io->done_cb(&j->res, io->userdata);
                free(j);
        }
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct usb_io *io = userdata;
        uint64_t n;

        (void) !read(io->efd, &n, sizeof n);
        pthread_mutex_lock(&io->lock);
        struct job *list = TAKE_PTR(io->done);
        pthread_mutex_unlock(&io->lock);
        deliver(io, list);
        return 0;
}

int usb_io_new(sd_event *e, unsigned n_threads, usb_io_done_t done, void *userdata, struct usb_io **ret) {
        struct usb_io *io = calloc(1, sizeof *io);
        sigset_t all, old;
        int r;

        if (!io)
                return -ENOMEM;
        io->efd = -EBADF;
        io->access_dirfd = -EBADF;
        pthread_mutex_init(&io->lock, NULL);
        pthread_cond_init(&io->wake, NULL);
        io->done_cb = done;
        io->userdata = userdata;
        io->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (io->efd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = sd_event_add_io(e, &io->source, io->efd, EPOLLIN, on_done, io);
        if (r < 0)
                goto fail;

        /* Workers must never take a signal: the loop reads them through a signalfd. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (unsigned i = 0; i < MIN(MAX(n_threads, 1u), (unsigned) USB_IO_THREADS_MAX); i++) {
                r = -pthread_create(&io->threads[i], NULL, worker, io);
                if (r < 0)
                        break;
                io->n_threads++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (io->n_threads == 0)
                goto fail;

        *ret = io;
        return 0;
fail:
        usb_io_free(io);
        return r;
}

void usb_io_set_access_dir(struct usb_io *io, int dirfd) {
        pthread_mutex_lock(&io->lock);
        io->access_files = true;
        io->access_dirfd = dirfd;
        pthread_mutex_unlock(&io->lock);
}

int usb_io_submit(struct usb_io *io, const struct usb_io_request *req) {
        struct job *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->res.req = *req;

        pthread_mutex_lock(&io->lock);
        struct job **p = &io->queue;
        while (*p)
                p = &(*p)->next;
        *p = j;
        io->pending++;
        pthread_cond_broadcast(&io->wake);
        pthread_mutex_unlock(&io->lock);
        return 0;
}

unsigned usb_io_pending(struct usb_io *io) {
        pthread_mutex_lock(&io->lock);
        unsigned n = io->pending;
        pthread_mutex_unlock(&io->lock);
        return n;
}

struct usb_io *usb_io_free(struct usb_io *io) {
        bool all_joined = true;

        if (!io)
                return NULL;
        pthread_mutex_lock(&io->lock);
        io->stopping = true;
        pthread_cond_broadcast(&io->wake);
        pthread_mutex_unlock(&io->lock);

        /* A worker stuck in I/O on a hung device must not hang kyokad's exit: wait a moment,
         * then leave it (and the state it may still touch) to the process's end. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        for (unsigned i = 0; i < io->n_threads; i++)
                if (pthread_timedjoin_np(io->threads[i], NULL, &deadline) != 0)
                        all_joined = false;
        if (!all_joined)
                return NULL;

        deliver(io, TAKE_PTR(io->done));
        for (struct job *j = TAKE_PTR(io->queue), *next; j; j = next) {
                next = j->next;
                j->res.r = -ECANCELED;
                io->done_cb(&j->res, io->userdata);
                free(j);
        }
        sd_event_source_disable_unref(io->source);
        if (io->efd >= 0)
                close(io->efd);
        pthread_cond_destroy(&io->wake);
        pthread_mutex_destroy(&io->lock);
        return mfree(io);
}
