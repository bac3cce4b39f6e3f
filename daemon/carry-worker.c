/* SPDX-License-Identifier: MIT */
/* The carry-out worker (carry-worker.h). */
#include "carry-worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "carry.h"
#include "carry-protocol.h"
#include "kyoka-names.h"
#include "log.h"
#include "macro.h"

#define WORKER_MEDIA_MAX 256
#define CONNECT_TRIES 120             /* x CONNECT_WAIT_USEC: a minute for kyokad to come up */
#define CONNECT_WAIT_USEC 500000

struct worker {
        sd_event *event;
        int fd;
        struct carry *carry;
        size_t n_media;
        struct {
                uint32_t token;
                char syspath[CARRY_SYSPATH_MAX];
                struct carry_scan scan;
        } media[WORKER_MEDIA_MAX];
};

static void worker_send(struct worker *w, const struct carry_message *m) {
        uint8_t buf[CARRY_MESSAGE_MAX];
        int n = carry_message_format(m, buf, sizeof buf);

        if (n < 0) {
                log_error("Carry-out worker: a record that cannot be said (type %d): dropped", (int) m->type);
                return;
        }
        /* Blocking: if kyokad is slow, so is the worker, and the kernel's queue takes the burst. */
        for (;;) {
                ssize_t k = send(w->fd, buf, (size_t) n, MSG_NOSIGNAL);
                if (k == n)
                        return;
                if (k < 0 && errno == EINTR)
                        continue;
                log_error_errno(k < 0 ? errno : EIO, "Carry-out worker: cannot send to kyokad: %m");
                (void) sd_event_exit(w->event, 1);
                return;
        }
}

static void out_file(void *userdata, const struct carry_medium_info *medium, const struct record_file *f) {
        struct worker *w = userdata;
        struct carry_message m = {
                .type = CARRY_MSG_FILE,
                .token = medium ? medium->token : 0,
                .ev = f->ev == FILE_RECORD_WRITTEN ? CARRY_FILE_WRITTEN :
                      f->ev == FILE_RECORD_READ ? CARRY_FILE_READ : CARRY_FILE_LOST,
                .error = f->error > 0 && f->error < 4096 ? (uint32_t) f->error : 0,
                .size = MAX(f->size, (int64_t) 0),
                .count = MAX(f->count, (uint64_t) 1),
                .time_usec = MAX(f->time_usec, (int64_t) 0),
                .pid = MAX(f->pid, (int64_t) 0),
                .uid = MAX(f->uid, (int64_t) -1),
        };
        if (carry_reason_from_string(f->reason, &m.reason) < 0)
                m.reason = CARRY_REASON_NONE;
        snprintf(m.path, sizeof m.path, "%s", f->path ?: "");
        if (m.ev == CARRY_FILE_WRITTEN)
                snprintf(m.sha256, sizeof m.sha256, "%s", f->sha256 ?: "");
        snprintf(m.process, sizeof m.process, "%s", f->process ?: "");
        snprintf(m.user, sizeof m.user, "%s", f->user ?: "");
        if (m.ev == CARRY_FILE_WRITTEN && f->scan_asked) {
                m.scan = (uint8_t) (1 + f->scan_result);
                m.scan_fault = f->scan_result == SCAN_RESULT_FAULT ? f->scan_fault : SCAN_FAULT_NONE;
                if (m.scan_fault == SCAN_FAULT_NONE && f->scan_result == SCAN_RESULT_FAULT)
                        m.scan_fault = SCAN_FAULT_SCANNER_ERROR;
                m.scan_error = f->scan_result == SCAN_RESULT_FAULT && f->scan_error > 0 && f->scan_error < 4096
                                       ? (uint32_t) f->scan_error : 0;
                snprintf(m.scanner, sizeof m.scanner, "%s", f->scanner ?: "");
                if (f->scan_result == SCAN_RESULT_INFECTED)
                        snprintf(m.signature, sizeof m.signature, "%s", f->signature && f->signature[0] ? f->signature : "?");
        }
        worker_send(w, &m);
}

static void out_fault(void *userdata, const struct carry_medium_info *medium, enum record_fault fault, int error,
                      const char *message) {
        struct worker *w = userdata;
        log_warning("Carry-out worker: %s", message);
        worker_send(w, &(struct carry_message) {
                .type = CARRY_MSG_FAULT,
                .token = medium ? medium->token : 0,
                .fault = fault == FAULT_OOM ? CARRY_FAULT_OOM : CARRY_FAULT_WATCH,
                .error = error < 0 && error > -4096 ? (uint32_t) -error : 0,
        });
}

static const struct carry_output output = { .file = out_file, .fault = out_fault };

/* A block device below a USB device kyokad named: the longest such path. */
static int lookup(const char *block_syspath, struct carry_medium_info *ret, void *userdata) {
        struct worker *w = userdata;
        size_t best = 0, found = 0;
        uint32_t token = 0;

        for (size_t i = 0; i < w->n_media; i++) {
                size_t n = strlen(w->media[i].syspath);
                if (n > best && strncmp(block_syspath, w->media[i].syspath, n) == 0 && block_syspath[n] == '/') {
                        best = n;
                        token = w->media[i].token;
                        found = i;
                }
        }
        if (!token)
                return -ENOENT;
        *ret = (struct carry_medium_info) { .token = token, .scan = w->media[found].scan };
        return 0;
}

static void forget(struct worker *w, uint32_t token) {
        for (size_t i = 0; i < w->n_media; i++)
                if (w->media[i].token == token) {
                        w->media[i] = w->media[--w->n_media];
                        return;
                }
}

static int on_kyokad(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct worker *w = userdata;
        uint8_t buf[CARRY_MESSAGE_MAX + 1];
        bool changed = false;

        for (;;) {
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        log_info("Carry-out worker: kyokad closed the connection");
                        (void) sd_event_exit(w->event, 0);
                        return 0;
                }
                struct carry_message m;
                if ((size_t) n > CARRY_MESSAGE_MAX || carry_message_parse(buf, (size_t) n, &m) < 0 ||
                    (m.type != CARRY_MSG_MEDIUM && m.type != CARRY_MSG_FORGET)) {
                        log_error("Carry-out worker: a malformed message from kyokad (%zd bytes)", n);
                        (void) sd_event_exit(w->event, 1);
                        return 0;
                }
                forget(w, m.token);
                if (m.type == CARRY_MSG_MEDIUM) {
                        if (w->n_media == WORKER_MEDIA_MAX) {
                                struct carry_medium_info info = { .token = m.token };
                                out_fault(w, &info, FAULT_CARRY_WATCH, -ENOSPC, "too many approved media");
                                continue;
                        }
                        w->media[w->n_media].token = m.token;
                        snprintf(w->media[w->n_media].syspath, CARRY_SYSPATH_MAX, "%s", m.syspath);
                        w->media[w->n_media].scan = (struct carry_scan) {
                                .enabled = m.scan_enabled,
                                .max_seconds = m.scan_max_seconds,
                                .max_bytes = m.scan_max_bytes,
                                .max_database_age = m.scan_max_database_age,
                        };
                        snprintf(w->media[w->n_media].scan.clamd_socket, CARRY_SOCKET_MAX, "%s", m.clamd_socket);
                        w->n_media++;
                        log_debug("Carry-out worker: medium %u is %s", m.token, m.syspath);
                }
                changed = true;
        }
        /* A mount seen before kyokad named its device is marked now. */
        if (changed)
                carry_refresh(w->carry);
        return 0;
}

static int connect_kyokad(const char *runtime_dir) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int k = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", runtime_dir, KYOKA_CARRY_SOCKET);
        if (k < 0 || (size_t) k >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

int carry_worker_main(int argc, char **argv) {
        const char *runtime_dir = KYOKA_RUNTIME_DIR;
        struct worker *w = NULL;
        int r;

        if (argc == 3 && streq(argv[1], "--runtime-dir"))
                runtime_dir = argv[2];
        else if (argc != 1) {
                fprintf(stderr, "kyokad: usage: kyokad %s [--runtime-dir DIR]\n", CARRY_WORKER_ARG);
                return 2;
        }
        log_setup();
        w = calloc(1, sizeof *w);
        if (!w)
                return 1;
        /* systemd may start the worker while kyokad is still starting (a restart of both, as a
         * package upgrade does, does not always wait for kyokad's READY): kyokad's socket is
         * then missing or not accepting yet. Wait for it a while (bounded) rather than fail the
         * start; Type=notify keeps the unit activating meanwhile. */
        for (unsigned i = 0; i < CONNECT_TRIES; i++) {
                w->fd = connect_kyokad(runtime_dir);
                if (w->fd >= 0 || (w->fd != -ECONNREFUSED && w->fd != -ENOENT))
                        break;
                (void) usleep(CONNECT_WAIT_USEC);
        }
        if (w->fd < 0) {
                log_error_errno(w->fd, "Carry-out worker: cannot connect to kyokad at %s/%s: %m", runtime_dir,
                                KYOKA_CARRY_SOCKET);
                free(w);
                return 1;
        }
        r = sd_event_default(&w->event);
        if (r >= 0)
                r = sd_event_add_signal(w->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(w->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_io(w->event, NULL, w->fd, EPOLLIN, on_kyokad, w);
        /* fanotify first: kyokad counts on the worker (opens read-write media) from HELLO on. */
        if (r >= 0) {
                r = carry_new(w->event, &output, lookup, w, &w->carry);
                if (r < 0)
                        log_error_errno(r, "Carry-out worker: cannot watch files (fanotify): %m");
        }
        if (r >= 0)
                worker_send(w, &(struct carry_message) { .type = CARRY_MSG_HELLO });
        if (r >= 0) {
                (void) sd_notify(false, "READY=1");
                log_info("Carry-out worker: connected to kyokad, recording files on the media it names");
                r = sd_event_loop(w->event);
        }
        /* What the hashing thread holds is sent before the connection goes. */
        carry_stop(w->carry);
        carry_free(w->carry);
        close(w->fd);
        sd_event_unref(w->event);
        free(w);
        return r < 0 ? 1 : r;
}
