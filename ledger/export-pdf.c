/* SPDX-License-Identifier: MIT */
/* report.pdf: report.html rendered by a packaged engine (export.h, pdf_render). WeasyPrint
 * (Debian's weasyprint) reads HTML on stdin and writes PDF on stdout, embeds the fonts it uses
 * (subsets), repeats table headers on every page and fills the page-number boxes of the CSS.
 * With SOURCE_DATE_EPOCH set it writes the same bytes for the same HTML (fontTools stamps
 * subset fonts with that time, not the clock), so an export stays reproducible. The engine
 * gets no file name and no path of ours: only the two descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "fileio.h"

extern char **environ;

#define STDERR_KEEP 2048         /* the engine's last words kept for the message */

static int64_t now_monotonic_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The environment as it is, with SOURCE_DATE_EPOCH and a locale that does not change the output
 * set; newly allocated (the strings are not). */
static char **engine_environment(const char *epoch, const char *locale) {
        size_t n = 0, k = 0;
        while (environ && environ[n])
                n++;
        char **env = calloc(n + 3, sizeof *env);
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(environ[i], "SOURCE_DATE_EPOCH=", 18) != 0 && strncmp(environ[i], "LC_ALL=", 7) != 0)
                        env[k++] = environ[i];
        env[k++] = (char *) epoch;
        env[k++] = (char *) locale;
        return env;
}

int pdf_render(const char *engine, int html_fd, int pdf_fd, int64_t epoch, unsigned timeout_sec, char *err,
               size_t err_size) {
        char epoch_var[48], tail[STDERR_KEEP + 1];
        size_t tail_len = 0;
        int pipefd[2], r, status = 0;
        pid_t pid;

        if (err_size > 0)
                err[0] = 0;
        if (!engine)
                engine = EXPORT_PDF_ENGINE;
        if (access(engine, X_OK) < 0) {
                r = negative_errno();
                snprintf(err, err_size, "%s: %s: cannot make report.pdf (install weasyprint, or leave pdf out of --format)",
                         engine, strerror(-r));
                return r;
        }
        snprintf(epoch_var, sizeof epoch_var, "SOURCE_DATE_EPOCH=%lld", (long long) MAX(epoch, (int64_t) 0));
        _cleanup_free_ char **env = engine_environment(epoch_var, "LC_ALL=C.UTF-8");
        if (!env)
                return -ENOMEM;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, html_fd, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pdf_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        char *argv[] = { (char *) engine, (char *) "-", (char *) "-", NULL };
        r = -posix_spawn(&pid, engine, &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r < 0) {
                close(pipefd[0]);
                snprintf(err, err_size, "%s: cannot start it: %s", engine, strerror(-r));
                return r;
        }

        /* Its stderr until it closes (it exits), keeping the tail; no longer than the timeout. */
        int64_t deadline = now_monotonic_ms() + (int64_t) timeout_sec * 1000;
        bool timed_out = false;
        for (;;) {
                int64_t left = deadline - now_monotonic_ms();
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
                int k = poll(&p, 1, (int) MIN(left, (int64_t) 1000));
                if (k < 0 && errno != EINTR)
                        break;
                if (k <= 0)
                        continue;
                char buf[512];
                ssize_t n = read(pipefd[0], buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        if (tail_len == STDERR_KEEP) {
                                memmove(tail, tail + STDERR_KEEP / 2, STDERR_KEEP / 2);
                                tail_len = STDERR_KEEP / 2;
                        }
                        tail[tail_len++] = buf[i];
                }
        }
        close(pipefd[0]);
        if (timed_out)
                (void) kill(pid, SIGKILL);
        /* Its stderr closed: it is exiting, or closed it and goes on; the deadline still holds. */
        for (;;) {
                pid_t k = waitpid(pid, &status, timed_out ? 0 : WNOHANG);
                if (k == pid)
                        break;
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k == 0 && now_monotonic_ms() >= deadline) {
                        timed_out = true;
                        (void) kill(pid, SIGKILL);
                } else if (k == 0)
                        (void) poll(NULL, 0, 20);
        }
        if (timed_out) {
                snprintf(err, err_size, "%s: no PDF after %u s: stopped", engine, timeout_sec);
                return -ETIMEDOUT;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                tail[tail_len] = 0;
                /* Its last line, made safe to print. */
                while (tail_len > 0 && (tail[tail_len - 1] == '\n' || tail[tail_len - 1] == '\r'))
                        tail[--tail_len] = 0;
                char *last = strrchr(tail, '\n');
                char clean[512];
                ledger_text_set(clean, sizeof clean, last ? last + 1 : tail);
                snprintf(err, err_size, "%s failed (%s %d): %s", engine, WIFEXITED(status) ? "exit status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), clean);
                return -EPROTO;
        }
        return 0;
}
