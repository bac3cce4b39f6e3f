/* SPDX-License-Identifier: MIT */
#include "net-firewall.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "nft-protocol.h"

/* A request that takes longer than this is a hung worker: it is killed and started again. */
#define NFT_REPLY_TIMEOUT_MS 10000
/* Starts that fail one after the other before the worker is no longer started: a kernel that
 * lost nf_tables at run time, or a broken libnftables, would otherwise cost a fork per link
 * event. */
#define NFT_STARTS_MAX 3

extern char **environ;

struct net_firewall {
        char *worker;                 /* NULL: this executable (exe_fd) */
        int exe_fd;                   /* /proc/self/exe, opened once: the same binary even after an upgrade */
        pid_t pid;                    /* 0: no worker running */
        int fd;                       /* our end of its socketpair */
        unsigned failed_starts;       /* in a row */
};

static char *error_dup(const char *fmt, ...) _printf_(1, 2);
static char *error_dup(const char *fmt, ...) {
        char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static void set_error(char **ret_error, char *s) {
        if (ret_error) {
                free(*ret_error);
                *ret_error = s;
        } else
                free(s);
}

/* The worker is gone (EOF) or must go (timeout): reap it and say how it ended. */
static char *worker_reap(struct net_firewall *fw, bool kill_it) {
        int status = 0;

        if (fw->fd >= 0)
                fw->fd = (close(fw->fd), -EBADF);
        if (fw->pid <= 0)
                return NULL;
        if (kill_it)
                (void) kill(fw->pid, SIGKILL);
        while (waitpid(fw->pid, &status, 0) < 0 && errno == EINTR)
                ;
        fw->pid = 0;
        if (kill_it)
                return error_dup("nftables worker did not answer within %d s: killed", NFT_REPLY_TIMEOUT_MS / 1000);
        if (WIFSIGNALED(status))
                return error_dup("nftables worker killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        return error_dup("nftables worker exited with status %d", WEXITSTATUS(status));
}

static int worker_spawn(struct net_firewall *fw) {
        char arg0[] = "kyokad-nft", arg1[] = NFT_WORKER_ARG;
        char *argv[] = { arg0, arg1, NULL };
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                /* kyokad has threads: only async-signal-safe calls until exec. */
                int exe = fw->exe_fd;
                if (exe >= 0 && exe <= NFT_WORKER_FD && (exe = fcntl(exe, F_DUPFD_CLOEXEC, NFT_WORKER_FD + 1)) < 0)
                        _exit(127);
                if (sv[1] == NFT_WORKER_FD ? fcntl(sv[1], F_SETFD, 0) < 0 : dup2(sv[1], NFT_WORKER_FD) < 0)
                        _exit(127);
                /* Nothing else of kyokad's (control socket, ledger, netlink) reaches the worker;
                 * CLOEXEC rather than closing, so that exe_fd still works for the exec. */
                (void) close_range(NFT_WORKER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
                /* Every signal as by default but SIGHUP, kept blocked until the worker ignores
                 * it (main.c): a reload meant for kyokad must not end a worker. */
                sigset_t hup;
                sigemptyset(&hup);
                sigaddset(&hup, SIGHUP);
                (void) sigprocmask(SIG_SETMASK, &hup, NULL);
                if (fw->worker)
                        execve(fw->worker, argv, environ);
                else
                        execveat(exe, "", argv, environ, AT_EMPTY_PATH);
                _exit(127);
        }
        close(sv[1]);
        fw->fd = sv[0];
        fw->pid = pid;
        return 0;
}

static int worker_call(struct net_firewall *fw, const struct nft_request *req, char **ret_error);

/* Starts a worker and initialises it (RESET: empty `table netdev kyoka`, only at kyokad's start;
 * a worker started again keeps the chains of the links kyokad blocked meanwhile). */
static int worker_start(struct net_firewall *fw, bool reset, char **ret_error) {
        int r;

        if (fw->failed_starts >= NFT_STARTS_MAX) {
                set_error(ret_error, error_dup("nftables worker failed to start %u times in a row: not started again",
                                               fw->failed_starts));
                return -ECHILD;
        }
        r = worker_spawn(fw);
        if (r < 0) {
                fw->failed_starts++;
                set_error(ret_error, error_dup("nftables worker could not be started: %s", strerror(-r)));
                return r;
        }
        struct nft_request init = { .op = NFT_OP_INIT, .flags = reset ? NFT_FLAG_RESET : 0 };
        r = worker_call(fw, &init, ret_error);
        if (r < 0) {
                fw->failed_starts++;
                /* It answered (nf_tables missing) and ends when its socket closes, or it is
                 * gone already. */
                free(worker_reap(fw, false));
                return r;
        }
        fw->failed_starts = 0;
        return 0;
}

/* One request, one reply. A dead or hung worker fails this request only. */
static int worker_call(struct net_firewall *fw, const struct nft_request *req, char **ret_error) {
        _cleanup_free_ uint8_t *buf = malloc(NFT_REQUEST_MAX);
        struct nft_reply rep;
        int r;

        if (!buf)
                return -ENOMEM;
        ssize_t len = nft_request_encode(req, buf, NFT_REQUEST_MAX);
        if (len < 0)
                return (int) len;
        if (fw->pid <= 0) {
                r = worker_start(fw, false, ret_error);
                if (r < 0)
                        return r;
        }
        if (send(fw->fd, buf, (size_t) len, MSG_NOSIGNAL) != len) {
                set_error(ret_error, worker_reap(fw, false));
                return -ECHILD;
        }
        struct pollfd p = { .fd = fw->fd, .events = POLLIN };
        do
                r = poll(&p, 1, NFT_REPLY_TIMEOUT_MS);
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
                set_error(ret_error, worker_reap(fw, true));
                return -ETIMEDOUT;
        }
        ssize_t n = recv(fw->fd, &rep, sizeof rep, MSG_TRUNC | MSG_DONTWAIT);
        if (n <= 0) {
                /* EOF: libnftables (or anything else) ended the worker during the request. */
                set_error(ret_error, worker_reap(fw, false));
                return -ECHILD;
        }
        if (nft_reply_decode(&rep, (size_t) n, &rep) < 0) {
                set_error(ret_error, error_dup("nftables worker sent a malformed reply"));
                free(worker_reap(fw, true));
                return -EBADMSG;
        }
        if (rep.r < 0)
                set_error(ret_error, strndup(rep.error, sizeof rep.error));
        return rep.r;
}

int net_firewall_new(const char *worker, char **ret_error, struct net_firewall **ret) {
        struct net_firewall *fw = calloc(1, sizeof *fw);
        int r;

        if (!fw)
                return -ENOMEM;
        fw->fd = fw->exe_fd = -EBADF;
        if (worker) {
                fw->worker = strdup(worker);
                if (!fw->worker) {
                        net_firewall_free(fw);
                        return -ENOMEM;
                }
        } else {
                fw->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
                if (fw->exe_fd < 0) {
                        r = negative_errno();
                        set_error(ret_error, error_dup("/proc/self/exe: %s", strerror(-r)));
                        net_firewall_free(fw);
                        return r;
                }
        }
        r = worker_start(fw, true, ret_error);
        if (r < 0) {
                net_firewall_free(fw);
                return r;
        }
        *ret = fw;
        return 0;
}

int net_firewall_apply(struct net_firewall *fw, const int *allowed, size_t n, char **ret_error) {
        _cleanup_free_ int32_t *list = malloc(MAX(n, (size_t) 1) * sizeof *list);

        if (!list)
                return -ENOMEM;
        if (n > NFT_ALLOWED_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                if (allowed[i] <= 0)
                        return -EINVAL;
                list[i] = allowed[i];
        }
        struct nft_request req = { .op = NFT_OP_APPLY, .n_allowed = n, .allowed = list };
        return worker_call(fw, &req, ret_error);
}

int net_firewall_block_egress(struct net_firewall *fw, int ifindex, const char *name, bool replace, char **ret_error) {
        struct nft_request req = { .op = NFT_OP_BLOCK_EGRESS, .ifindex = ifindex, .flags = replace ? NFT_FLAG_REPLACE : 0 };

        if (strnlen(name, sizeof req.name) >= sizeof req.name)
                return -EINVAL;
        strncpy(req.name, name, sizeof req.name - 1);
        return worker_call(fw, &req, ret_error);
}

int net_firewall_unblock_egress(struct net_firewall *fw, int ifindex) {
        struct nft_request req = { .op = NFT_OP_UNBLOCK_EGRESS, .ifindex = ifindex };
        return worker_call(fw, &req, NULL);
}

struct net_firewall *net_firewall_free(struct net_firewall *fw) {
        if (!fw)
                return NULL;
        /* Closing our end ends the worker (it sees EOF); then it is reaped. */
        if (fw->fd >= 0)
                fw->fd = (close(fw->fd), -EBADF);
        if (fw->pid > 0)
                free(worker_reap(fw, false));
        if (fw->exe_fd >= 0)
                close(fw->exe_fd);
        free(fw->worker);
        return mfree(fw);
}
