/* SPDX-License-Identifier: MIT */
/* One scan (scan.h). */
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kyoka-names.h"
#include "macro.h"
#include "scan-worker.h"

extern char **environ;

struct scan_job {
        sd_event_source *io, *timer;
        pid_t pid;
        int fd;
        char buf[SCAN_LINE_MAX + 1];
        size_t n;                     /* bytes in buf */
        size_t total;                 /* all the worker said */
        uint64_t start_usec;
        bool got_result;
        struct scan_outcome out;
        scan_done_t done;
        void *userdata;
};

static void reap(struct scan_job *j) {
        if (j->pid <= 0)
                return;
        (void) kill(j->pid, SIGKILL);
        while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        j->pid = 0;
}

struct scan_job *scan_job_free(struct scan_job *j) {
        if (!j)
                return NULL;
        sd_event_source_disable_unref(j->io);
        sd_event_source_disable_unref(j->timer);
        if (j->fd >= 0)
                close(j->fd);
        reap(j);
        return mfree(j);
}

void scan_job_progress(const struct scan_job *j, uint64_t *ret_files, uint64_t *ret_bytes) {
        *ret_files = j->out.files;
        *ret_bytes = j->out.bytes;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* The end: the worker is stopped, the owner told. */
static void finish(struct scan_job *j, enum scan_fault fault, int error) {
        j->io = sd_event_source_disable_unref(j->io);
        j->timer = sd_event_source_disable_unref(j->timer);
        reap(j);
        if (!j->got_result || fault != SCAN_FAULT_NONE) {
                j->out.result = SCAN_RESULT_FAULT;
                j->out.fault = fault != SCAN_FAULT_NONE ? fault : SCAN_FAULT_WORKER;
                j->out.error = error;
        }
        j->out.duration_ms = (now_usec() - j->start_usec) / 1000;
        struct scan_outcome o = j->out;
        j->done(j, &o, j->userdata);
}

static int on_line(struct scan_job *j, const char *line, size_t n) {
        struct scan_message m;
        if (j->got_result || scan_message_parse(line, n, &m) < 0)
                return -EBADMSG;
        switch (m.kind) {
        case SCAN_MSG_PROGRESS:
                j->out.files = m.files;
                j->out.bytes = m.bytes;
                break;
        case SCAN_MSG_ENGINE:
                memcpy(j->out.scanner, m.text, sizeof j->out.scanner);
                break;
        case SCAN_MSG_INFECTED:
                memcpy(j->out.signature, m.signature, sizeof j->out.signature);
                memcpy(j->out.path, m.path, sizeof j->out.path);
                break;
        case SCAN_MSG_RESULT:
                /* An infection is believed only with the file it was found in. */
                if (m.result == SCAN_RESULT_INFECTED && !j->out.signature[0])
                        return -EBADMSG;
                j->got_result = true;
                j->out.result = m.result;
                j->out.fault = m.fault;
                j->out.error = m.error;
                j->out.files = m.files;
                j->out.bytes = m.bytes;
                break;
        }
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct scan_job *j = userdata;
        ssize_t k = read(fd, j->buf + j->n, sizeof j->buf - j->n);

        if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                finish(j, SCAN_FAULT_WORKER, errno);
                return 0;
        }
        if (k == 0) {
                /* The worker ended (a partial line is nothing). */
                finish(j, SCAN_FAULT_NONE, 0);
                return 0;
        }
        j->n += (size_t) k;
        j->total += (size_t) k;
        if (j->total > SCAN_OUTPUT_MAX) {
                finish(j, SCAN_FAULT_WORKER, EMSGSIZE);
                return 0;
        }
        for (;;) {
                char *nl = memchr(j->buf, '\n', j->n);
                if (!nl) {
                        if (j->n == sizeof j->buf) {
                                finish(j, SCAN_FAULT_WORKER, EMSGSIZE);
                                return 0;
                        }
                        return 0;
                }
                size_t len = (size_t) (nl - j->buf);
                if (on_line(j, j->buf, len) < 0) {
                        finish(j, SCAN_FAULT_WORKER, EBADMSG);
                        return 0;
                }
                memmove(j->buf, nl + 1, j->n - len - 1);
                j->n -= len + 1;
        }
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        finish(userdata, SCAN_FAULT_TIME_EXCEEDED, ETIMEDOUT);
        return 0;
}

/* The scan service (kyoka-names.h KYOKA_SCAN_SOCKET in RUNTIME_DIR): connected, the request sent
 * and the sending side shut. The connection, -ENOENT when there is no service (kyokad run
 * directly: it starts the worker itself), or another negative errno. */
static int scan_service_connect(const struct scan_params *p) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct scan_request q = {
                .max_seconds = p->max_seconds, .max_bytes = p->max_bytes, .max_database_age = p->max_database_age,
        };
        char line[SCAN_REQUEST_MAX + 2];
        struct stat st;

        int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", p->workdir, KYOKA_SCAN_SOCKET);
        if (n < 0 || (size_t) n >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        if (lstat(sa.sun_path, &st) < 0)
                return negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return -ENOENT;
        if (strlen(p->clamd_socket) >= sizeof q.clamd_socket || strlen(p->syspath) >= sizeof q.syspath)
                return -ENAMETOOLONG;
        strcpy(q.clamd_socket, p->clamd_socket);
        strcpy(q.syspath, p->syspath);
        int len = scan_request_format(&q, line, sizeof line);
        if (len < 0)
                return len;

        /* Non-blocking: a service that has stopped accepting (its backlog full) is an error
         * here, never a stall of kyokad's loop. */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return negative_errno();
        /* One short line into an empty socket buffer. */
        ssize_t k = send(fd, line, (size_t) len, MSG_NOSIGNAL);
        if (k != len)
                return k < 0 ? negative_errno() : -EIO;
        (void) shutdown(fd, SHUT_WR);
        return TAKE_FD(fd);
}

int scan_job_start(sd_event *e, int exe_fd, const char *worker_path, const struct scan_params *p, scan_done_t done,
                   void *userdata, struct scan_job **ret) {
        char seconds[24], bytes[24], age[24];
        int pfd[2], r;

        if (p->max_seconds == 0 || p->max_seconds > 86400 || (exe_fd < 0 && !worker_path))
                return -EINVAL;
        snprintf(seconds, sizeof seconds, "%" PRIu64, p->max_seconds);
        snprintf(bytes, sizeof bytes, "%" PRIu64, p->max_bytes);
        snprintf(age, sizeof age, "%" PRIu64, p->max_database_age);
        char *argv[] = {
                (char *) "kyokad-scan", (char *) SCAN_WORKER_ARG, (char *) "--socket", (char *) p->clamd_socket,
                (char *) "--max-seconds", seconds, (char *) "--max-bytes", bytes, (char *) "--max-database-age", age,
                (char *) "--workdir", (char *) p->workdir, (char *) p->syspath, NULL,
        };

        _cleanup_free_ struct scan_job *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->fd = -EBADF;
        /* Under systemd the scan runs in a unit of its own (kyokad's sandbox has neither clamd's
         * socket nor mount(2)); without that service kyokad starts the worker itself. */
        r = scan_service_connect(p);
        if (r >= 0) {
                j->fd = r;
                goto started;
        }
        if (r != -ENOENT)
                return r;
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0) {
                r = negative_errno();
                close(pfd[0]);
                close(pfd[1]);
                return r;
        }
        if (pid == 0) {
                /* kyokad has threads: only async-signal-safe calls until exec. */
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0)
                        _exit(127);
                int exe = exe_fd;
                if (exe >= 0 && exe <= 2 && (exe = fcntl(exe, F_DUPFD_CLOEXEC, 3)) < 0)
                        _exit(127);
                (void) close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* Every signal as by default but SIGHUP, kept blocked until the worker ignores
                 * it (main.c): a reload meant for kyokad must not end a worker. */
                sigset_t hup;
                sigemptyset(&hup);
                sigaddset(&hup, SIGHUP);
                (void) sigprocmask(SIG_SETMASK, &hup, NULL);
                if (exe >= 0)
                        execveat(exe, "", argv, environ, AT_EMPTY_PATH);
                else
                        execve(worker_path, argv, environ);
                _exit(127);
        }
        close(pfd[1]);
        j->fd = pfd[0];
        j->pid = pid;
started:
        j->done = done;
        j->userdata = userdata;
        j->start_usec = now_usec();
        (void) fcntl(j->fd, F_SETFL, O_NONBLOCK);
        r = sd_event_add_io(e, &j->io, j->fd, EPOLLIN, on_io, j);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &j->timer, CLOCK_MONOTONIC,
                                               (p->max_seconds + SCAN_GRACE_SECONDS) * UINT64_C(1000000), 0, on_timeout, j);
        if (r < 0) {
                scan_job_free(TAKE_PTR(j));
                return r;
        }
        (void) sd_event_source_set_description(j->io, "scan-worker");
        *ret = TAKE_PTR(j);
        return 0;
}
