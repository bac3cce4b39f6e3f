/* SPDX-License-Identifier: MIT */
/* A client of clamd (clamd.h). */
#include "clamd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "macro.h"

int64_t clamd_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int set_timeout(int fd, int64_t deadline_ns) {
        int64_t left = deadline_ns - clamd_now_ns();
        if (left <= 0)
                return -ETIMEDOUT;
        struct timeval tv = { .tv_sec = left / 1000000000, .tv_usec = (left % 1000000000) / 1000 };
        if (tv.tv_sec == 0 && tv.tv_usec == 0)
                tv.tv_usec = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
                return negative_errno();
        return 0;
}

int clamd_connect(const char *path, int64_t deadline_ns, int *ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        int r = set_timeout(fd, deadline_ns);
        if (r < 0)
                return r;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return negative_errno();
        *ret = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const void *buf, size_t n) {
        const char *p = buf;
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int clamd_send(int fd, const char *command) {
        return send_all(fd, command, strlen(command) + 1);
}

/* One reply: up to its NUL. -ETIMEDOUT, -EPIPE (closed), -EMSGSIZE. */
static int recv_reply(int fd, char *buf, size_t size) {
        size_t n = 0;
        while (n < size - 1) {
                ssize_t k = recv(fd, buf + n, 1, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
                }
                if (k == 0)
                        return -EPIPE;
                if (buf[n] == 0)
                        return 0;
                n++;
        }
        return -EMSGSIZE;
}

enum scan_fault clamd_fault(int r) {
        if (r == -ETIMEDOUT)
                return SCAN_FAULT_SCANNER_TIMEOUT;
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTSOCK || r == -EACCES)
                return SCAN_FAULT_SCANNER_MISSING;
        return SCAN_FAULT_SCANNER_ERROR;
}

int clamd_version_parse(const char *s, int64_t *ret_database_time) {
        static const char prefix[] = "ClamAV ";
        if (strncmp(s, prefix, strlen(prefix)) != 0 || !s[strlen(prefix)])
                return -EBADMSG;
        const char *slash = strchr(s, '/');
        if (!slash) {
                *ret_database_time = 0;
                return 0;
        }
        const char *date = strchr(slash + 1, '/');
        if (!date)
                return -EBADMSG;
        struct tm tm = {};
        const char *end = strptime(date + 1, "%a %b %e %H:%M:%S %Y", &tm);
        if (!end || *end)
                return -EBADMSG;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        if (t == (time_t) -1 || t <= 0)
                return -EBADMSG;
        *ret_database_time = (int64_t) t;
        return 0;
}

int clamd_reply_parse(const char *s, unsigned id, char *signature, size_t size) {
        char want[16];
        snprintf(want, sizeof want, "%u: ", id);
        if (strncmp(s, want, strlen(want)) != 0)
                return -EPROTO;
        s += strlen(want);
        /* "fd[11]: ..." */
        if (strncmp(s, "fd[", 3) != 0)
                return -EPROTO;
        const char *rest = strstr(s, "]: ");
        if (!rest)
                return -EPROTO;
        rest += 3;
        if (streq(rest, "OK"))
                return 0;
        size_t n = strlen(rest);
        static const char found[] = " FOUND";
        if (n > strlen(found) && streq(rest + n - strlen(found), found)) {
                size_t m = n - strlen(found);
                if (m >= size)
                        m = size - 1;
                memcpy(signature, rest, m);
                signature[m] = 0;
                return 1;
        }
        return -EPROTO;
}

int clamd_version(const char *path, int64_t deadline_ns, char *text, size_t size, int64_t *ret_database_time) {
        _cleanup_close_ int fd = -EBADF;
        char reply[CLAMD_REPLY_MAX];
        int64_t t;
        int r = clamd_connect(path, deadline_ns, &fd);
        if (r < 0)
                return r;
        r = clamd_send(fd, "zVERSION");
        if (r < 0)
                return r;
        r = recv_reply(fd, reply, sizeof reply);
        if (r < 0)
                return r;
        if (clamd_version_parse(reply, &t) < 0)
                return -EPROTO;
        identity_sanitize(reply, strlen(reply), text, size);
        *ret_database_time = t;
        return 0;
}

enum scan_fault clamd_database_check(int64_t database_time, uint64_t max_age, int64_t now) {
        if (max_age == 0)
                return SCAN_FAULT_NONE;
        if (database_time == 0)
                return SCAN_FAULT_DATABASE_UNKNOWN;
        if (now - database_time > (int64_t) max_age)
                return SCAN_FAULT_DATABASE_OLD;
        return SCAN_FAULT_NONE;
}

int clamd_scan_fd(int session, int64_t deadline_ns, unsigned request, int fd, char *signature, size_t size) {
        char reply[CLAMD_REPLY_MAX], sig[SCAN_SIGNATURE_MAX], dummy = 0;
        char control[CMSG_SPACE(sizeof(int))] = {};
        struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        int r;

        r = set_timeout(session, deadline_ns);
        if (r < 0)
                return r;
        r = clamd_send(session, "zFILDES");
        if (r < 0)
                return r;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        if (sendmsg(session, &mh, MSG_NOSIGNAL) < 0)
                return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
        r = recv_reply(session, reply, sizeof reply);
        if (r < 0)
                return r;
        r = clamd_reply_parse(reply, request, sig, sizeof sig);
        if (r <= 0)
                return r;
        /* A signature name is one word; anything else in it is escaped. */
        for (char *p = sig; *p; p++)
                if (*p == ' ')
                        *p = '_';
        identity_sanitize(sig, strlen(sig), signature, size);
        return 1;
}

void clamd_scan_file(const char *path, int fd, int64_t deadline_ns, uint64_t max_age, struct clamd_file_result *ret) {
        int64_t database_time = 0;
        _cleanup_close_ int session = -EBADF;
        int r;

        *ret = (struct clamd_file_result) { .result = SCAN_RESULT_FAULT };
        r = clamd_version(path, deadline_ns, ret->scanner, sizeof ret->scanner, &database_time);
        if (r < 0)
                goto fault;
        ret->fault = clamd_database_check(database_time, max_age, (int64_t) time(NULL));
        if (ret->fault != SCAN_FAULT_NONE)
                return;
        /* clamd reads through the descriptor from where it stands. */
        if (lseek(fd, 0, SEEK_SET) < 0) {
                ret->fault = SCAN_FAULT_UNREADABLE;
                ret->error = errno;
                return;
        }
        r = clamd_connect(path, deadline_ns, &session);
        if (r >= 0)
                r = clamd_send(session, "zIDSESSION");
        if (r >= 0)
                r = clamd_scan_fd(session, deadline_ns, 1, fd, ret->signature, sizeof ret->signature);
        if (r < 0)
                goto fault;
        (void) clamd_send(session, "zEND");
        ret->result = r > 0 ? SCAN_RESULT_INFECTED : SCAN_RESULT_CLEAN;
        return;
fault:
        ret->fault = clamd_fault(r);
        ret->error = -r;
}
