/* SPDX-License-Identifier: MIT */
/* kyokad's end of the carry-out worker (carry-link.h). */
#include "carry-link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "carry-protocol.h"
#include "fileio.h"
#include "identity.h"
#include "kyoka-names.h"
#include "log.h"
#include "macro.h"
#include "recorder.h"

#define READS_PER_TURN 64             /* packets read before other events get their turn */

struct link_medium {
        uint32_t token;               /* 0: a free slot */
        bool live;                    /* offered in the last sync (else withdrawn, kept for late records) */
        bool seen;
        uint64_t age;                 /* when withdrawn: the oldest goes first */
        char syspath[CARRY_SYSPATH_MAX];
        struct carry_medium_info info;
};

struct carry_link {
        sd_event *event;
        struct recorder *rec;
        char *path;
        uid_t worker_uid;
        int fd, conn_fd;
        sd_event_source *listen_source, *conn_source;
        bool connected;               /* HELLO said */
        uint32_t next_token;
        uint64_t clock;
        carry_link_state_t state;
        carry_link_scanned_t scanned;
        void *userdata;
        struct link_medium media[CARRY_LINK_MEDIA_MAX];
};

bool carry_link_connected(const struct carry_link *l) {
        return l && l->connected;
}

void carry_link_set_scan_listener(struct carry_link *l, carry_link_scanned_t scanned) {
        if (l)
                l->scanned = scanned;
}

static void send_message(struct carry_link *l, const struct carry_message *m) {
        uint8_t buf[CARRY_MESSAGE_MAX];
        int n = carry_message_format(m, buf, sizeof buf);

        if (n < 0 || l->conn_fd < 0 || !l->connected)
                return;
        /* Blocking is not an option on the loop: a worker that does not read is a dead one. */
        if (send(l->conn_fd, buf, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
                log_warning_errno(errno, "Carry-out worker: cannot send it the media (%s): %m", m->syspath);
}

static void send_medium(struct carry_link *l, const struct link_medium *lm, bool live) {
        struct carry_message m = { .type = live ? CARRY_MSG_MEDIUM : CARRY_MSG_FORGET, .token = lm->token };
        snprintf(m.syspath, sizeof m.syspath, "%s", lm->syspath);
        if (live && lm->info.scan.enabled) {
                const struct carry_scan *s = &lm->info.scan;
                m.scan_enabled = true;
                m.scan_max_seconds = s->max_seconds;
                m.scan_max_bytes = s->max_bytes;
                m.scan_max_database_age = s->max_database_age;
                snprintf(m.clamd_socket, sizeof m.clamd_socket, "%s", s->clamd_socket);
        }
        send_message(l, &m);
}

static void disconnect(struct carry_link *l, const char *why) {
        bool was = l->connected;

        if (l->conn_fd < 0)
                return;
        l->conn_source = sd_event_source_disable_unref(l->conn_source);
        if (l->conn_fd >= 0)
                close(l->conn_fd);
        l->conn_fd = -EBADF;
        l->connected = false;
        if (was) {
                recorder_fault(l->rec, FAULT_CARRY_WORKER, -ENOTCONN, "The carry-out worker went away (%s): files "
                               "written to approved media are not recorded until it is back; read-write media are "
                               "read-only meanwhile", why);
                if (l->state)
                        l->state(false, l->userdata);
        } else
                log_info("Carry-out worker: connection closed before HELLO (%s)", why);
}

static struct link_medium *find_token(struct carry_link *l, uint32_t token) {
        for (size_t i = 0; i < CARRY_LINK_MEDIA_MAX; i++)
                if (token != 0 && l->media[i].token == token)
                        return &l->media[i];
        return NULL;
}

int carry_link_handle(struct carry_link *l, const void *buf, size_t n) {
        struct carry_message m;

        if (carry_message_parse(buf, n, &m) < 0)
                return -EBADMSG;
        if (!l->connected) {
                if (m.type != CARRY_MSG_HELLO)
                        return -EBADMSG;
                l->connected = true;
                log_info("Carry-out worker connected: files written to approved media are recorded");
                for (size_t i = 0; i < CARRY_LINK_MEDIA_MAX; i++)
                        if (l->media[i].token && l->media[i].live)
                                send_medium(l, &l->media[i], true);
                if (l->state)
                        l->state(true, l->userdata);
                return 0;
        }

        struct link_medium *lm = find_token(l, m.token);
        switch (m.type) {
        case CARRY_MSG_FILE: {
                static const enum file_record_event events[_CARRY_FILE_MAX] = {
                        [CARRY_FILE_WRITTEN] = FILE_RECORD_WRITTEN,
                        [CARRY_FILE_READ] = FILE_RECORD_READ,
                        [CARRY_FILE_LOST] = FILE_RECORD_LOST,
                };
                if (m.token != 0 && !lm) {
                        recorder_fault(l->rec, FAULT_CARRY_WORKER, -ESRCH, "The carry-out worker reported a file "
                                       "(\"%s\") on a medium kyokad never named to it (token %u): refused",
                                       m.path, m.token);
                        return -ESRCH;
                }
                /* What clamd said, as the worker passed it on: text from a file's contents. */
                char scanner[SCAN_TEXT_MAX], signature[SCAN_SIGNATURE_MAX];
                identity_sanitize(m.scanner, strlen(m.scanner), scanner, sizeof scanner);
                identity_sanitize(m.signature, strlen(m.signature), signature, sizeof signature);
                struct record_file f = {
                        .ev = events[m.ev],
                        .usb = carry_medium_usb(lm ? &lm->info : NULL),
                        .media = carry_medium_media(lm ? &lm->info : NULL),
                        .permit = lm ? lm->info.permit : "",
                        .verdict = lm ? lm->info.verdict : VERDICT_BLOCK,
                        .path = m.path,
                        .size = m.size,
                        .sha256 = m.sha256,
                        .error = (int) m.error,
                        .uid = m.uid,
                        .user = m.user,
                        .pid = m.pid,
                        .process = m.process,
                        .count = m.count,
                        .reason = carry_reason_to_string(m.reason),
                        .time_usec = m.time_usec,
                        .scan_asked = m.scan != 0,
                        .scan_result = m.scan != 0 ? (enum scan_result) (m.scan - 1) : SCAN_RESULT_CLEAN,
                        .scan_fault = m.scan_fault,
                        .scan_error = (int) m.scan_error,
                        .scanner = scanner,
                        .signature = signature,
                };
                if (f.scan_asked && !(lm && lm->info.scan.enabled)) {
                        /* A scan kyokad did not ask for: not recorded as one. */
                        f.scan_asked = false;
                        f.scanner = f.signature = "";
                }
                recorder_file(l->rec, &f);
                if (f.scan_asked && lm && l->scanned)
                        l->scanned(&lm->info, &f, l->userdata);
                return 0;
        }
        case CARRY_MSG_FAULT: {
                char who[1600] = "approved media";
                if (lm && lm->info.other_bus)
                        snprintf(who, sizeof who, "medium %s (%s) serial \"%s\" (permit \"%s\")", lm->info.medium.name,
                                 media_bus_to_string(lm->info.medium.bus) ?: "?", lm->info.medium.serial, lm->info.permit);
                else if (lm)
                        snprintf(who, sizeof who, "USB device %s (%04x:%04x serial \"%s\", permit \"%s\")",
                                 lm->info.id.bus_path, lm->info.id.vendor, lm->info.id.product,
                                 lm->info.id.has_serial ? lm->info.id.serial : "", lm->info.permit);
                if (m.fault == CARRY_FAULT_OOM)
                        recorder_fault(l->rec, FAULT_OOM, -ENOMEM, "The carry-out worker ran out of memory watching %s", who);
                else
                        recorder_fault(l->rec, FAULT_CARRY_WATCH, -(int) m.error, "The carry-out worker cannot watch "
                                       "the files of %s: %s; files written there are not recorded", who,
                                       strerror((int) m.error));
                return 0;
        }
        default:
                return -EBADMSG;      /* HELLO twice, or what only kyokad says */
        }
}

static int on_packet(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct carry_link *l = userdata;
        uint8_t buf[CARRY_MESSAGE_MAX + 1];

        for (unsigned i = 0; i < READS_PER_TURN; i++) {
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0) {
                        disconnect(l, n == 0 ? "closed" : strerror(errno));
                        return 0;
                }
                int r = (size_t) n > CARRY_MESSAGE_MAX ? -EBADMSG : carry_link_handle(l, buf, (size_t) n);
                if (r == -EBADMSG)
                        recorder_fault(l->rec, FAULT_CARRY_WORKER, r, "The carry-out worker sent a malformed message "
                                       "(%zd bytes): connection closed", n);
                if (r < 0) {
                        disconnect(l, "refused");
                        return 0;
                }
        }
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct carry_link *l = userdata;
        _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct ucred cred;
        socklen_t len = sizeof cred;

        if (cfd < 0)
                return 0;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return 0;
        if (cred.uid != l->worker_uid || l->worker_uid == (uid_t) -1) {
                log_warning("Carry-out worker: refused a connection from uid %u (pid %d): only %s (uid %d) may report "
                            "files", (unsigned) cred.uid, (int) cred.pid, KYOKA_CARRY_USER, (int) l->worker_uid);
                return 0;
        }
        if (l->conn_fd >= 0) {
                log_warning("Carry-out worker: refused a second connection (pid %d)", (int) cred.pid);
                return 0;
        }
        if (sd_event_add_io(l->event, &l->conn_source, cfd, EPOLLIN, on_packet, l) < 0)
                return 0;
        l->conn_fd = TAKE_FD(cfd);
        log_info("Carry-out worker: connection from pid %d", (int) cred.pid);
        return 0;
}

void carry_link_sync_begin(struct carry_link *l) {
        if (!l)
                return;
        for (size_t i = 0; i < CARRY_LINK_MEDIA_MAX; i++)
                l->media[i].seen = false;
}

static bool same_medium(const struct media_identity *a, const struct media_identity *b) {
        return a->bus == b->bus && streq(a->name, b->name) && streq(a->path, b->path) && streq(a->vendor, b->vendor) &&
               streq(a->model, b->model) && streq(a->serial, b->serial) && streq(a->oemid, b->oemid) &&
               streq(a->date, b->date);
}

static bool same_info(const struct carry_medium_info *a, const struct carry_medium_info *b) {
        return a->verdict == b->verdict && streq(a->permit, b->permit) && a->other_bus == b->other_bus &&
               (a->other_bus ? same_medium(&a->medium, &b->medium) : usb_identity_same_unit(&a->id, &b->id)) &&
               a->scan.enabled == b->scan.enabled && a->scan.max_seconds == b->scan.max_seconds &&
               a->scan.max_bytes == b->scan.max_bytes && a->scan.max_database_age == b->scan.max_database_age &&
               streq(a->scan.clamd_socket, b->scan.clamd_socket);
}

void carry_link_offer(struct carry_link *l, const char *syspath, const struct carry_medium_info *info) {
        if (!l || strlen(syspath) >= CARRY_SYSPATH_MAX)
                return;
        for (size_t i = 0; i < CARRY_LINK_MEDIA_MAX; i++) {
                struct link_medium *lm = &l->media[i];
                if (lm->token && lm->live && streq(lm->syspath, syspath) && same_info(&lm->info, info)) {
                        lm->seen = true;
                        return;
                }
        }
        /* A new token: a free slot, or the one withdrawn longest ago. Live ones are never
         * reused (there are fewer USB devices than slots). */
        struct link_medium *slot = NULL;
        for (size_t i = 0; i < CARRY_LINK_MEDIA_MAX; i++) {
                struct link_medium *lm = &l->media[i];
                if (!lm->token) {
                        slot = lm;
                        break;
                }
                if (!lm->live && (!slot || lm->age < slot->age))
                        slot = lm;
        }
        if (!slot) {
                recorder_fault(l->rec, FAULT_CARRY_WORKER, -ENOSPC, "More than %d approved USB devices: files written "
                               "to %s are not recorded", CARRY_LINK_MEDIA_MAX, syspath);
                return;
        }
        if (++l->next_token == 0)
                l->next_token = 1;
        *slot = (struct link_medium) { .token = l->next_token, .live = true, .seen = true, .info = *info };
        snprintf(slot->syspath, sizeof slot->syspath, "%s", syspath);
        slot->info.token = slot->token;
        send_medium(l, slot, true);
}

void carry_link_sync_end(struct carry_link *l) {
        if (!l)
                return;
        for (size_t i = 0; i < CARRY_LINK_MEDIA_MAX; i++) {
                struct link_medium *lm = &l->media[i];
                if (lm->token && lm->live && !lm->seen) {
                        lm->live = false;
                        lm->age = ++l->clock;
                        send_medium(l, lm, false);
                }
        }
}

int carry_link_new(sd_event *e, struct recorder *rec, const char *runtime_dir, uid_t worker_uid,
                   carry_link_state_t state, void *userdata, struct carry_link **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct carry_link *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return -ENOMEM;
        l->event = e;
        l->rec = rec;
        l->worker_uid = worker_uid;
        l->state = state;
        l->userdata = userdata;
        l->fd = l->conn_fd = -EBADF;
        l->path = path_join(runtime_dir, KYOKA_CARRY_SOCKET);
        if (!l->path) {
                r = -ENOMEM;
                goto fail;
        }
        if (strlen(l->path) >= sizeof sa.sun_path) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        strcpy(sa.sun_path, l->path);
        l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (l->fd < 0) {
                r = negative_errno();
                goto fail;
        }
        (void) unlink(l->path);
        /* Open to every local user (as the control socket): kyokad decides at accept, by the
         * peer's uid. Born 0600, opened only once bound. */
        mode_t old = umask(0077);
        r = bind(l->fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0 || chmod(l->path, 0666) < 0 || listen(l->fd, 4) < 0) {
                r = negative_errno();
                goto fail;
        }
        r = sd_event_add_io(e, &l->listen_source, l->fd, EPOLLIN, on_accept, l);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(l->listen_source, "carry-link");
        *ret = l;
        return 0;
fail:
        carry_link_free(l);
        return r;
}

struct carry_link *carry_link_free(struct carry_link *l) {
        if (!l)
                return NULL;
        l->state = NULL;
        l->connected = false;         /* kyokad's stop is recorded as such, not as a lost worker */
        disconnect(l, "kyokad stops");
        l->listen_source = sd_event_source_disable_unref(l->listen_source);
        if (l->fd >= 0)
                close(l->fd);
        free(l->path);
        return mfree(l);
}
