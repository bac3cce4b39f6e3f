/* SPDX-License-Identifier: MIT */
/* uevent-stamp: CLOCK_MONOTONIC timestamps for the USB latency bench (tests/vm/bench-usb.py),
 * built on the host and put into the guest as an overlay.
 *
 *   uevent-stamp            prints every kernel uevent as it arrives:
 *                           "<ns> K <ACTION> <DEVPATH> <SUBSYSTEM> <DEVTYPE>"
 *   uevent-stamp --stdin    prefixes every line read on stdin: "<ns> L <line>"
 *                           (kyokad's stderr is piped through this)
 *
 * Both use the same clock, so a kyokad log line can be set against the uevent that caused
 * it. Both run SCHED_FIFO (when allowed): a stamp is taken when the kernel queues the message,
 * not when a busy vCPU gets round to the stamper; without it, under TCG, kyokad's blocked
 * decision (a few ms) was sometimes stamped before the uevent that caused it.
 * Output is flushed per line. Only for tests: no input is trusted beyond its length. */
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec;
}

static int stamp_stdin(void) {
        char line[8192];

        while (fgets(line, sizeof line, stdin)) {
                unsigned long long t = now_ns();
                line[strcspn(line, "\n")] = 0;
                printf("%llu L %s\n", t, line);
                fflush(stdout);
        }
        return 0;
}

static const char *field(const char *buf, size_t n, const char *key) {
        size_t k = strlen(key);
        for (size_t i = 0; i < n; i += strnlen(buf + i, n - i) + 1)
                if (strncmp(buf + i, key, k) == 0 && buf[i + k] == '=')
                        return buf + i + k + 1;
        return "-";
}

static int stamp_uevents(void) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
        char buf[16384];
        int fd, size = 4 * 1024 * 1024;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                perror("uevent-stamp: netlink");
                return 1;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
        printf("%llu R ready\n", now_ns());
        fflush(stdout);
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
                unsigned long long t = now_ns();
                if (n <= 0)
                        continue;
                buf[n] = 0;
                printf("%llu K %s %s %s %s\n", t, field(buf, (size_t) n, "ACTION"), field(buf, (size_t) n, "DEVPATH"),
                       field(buf, (size_t) n, "SUBSYSTEM"), field(buf, (size_t) n, "DEVTYPE"));
                fflush(stdout);
        }
}

int main(int argc, char *argv[]) {
        struct sched_param sp = { .sched_priority = 50 };
        if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
                perror("uevent-stamp: SCHED_FIFO (stamps may lag)");
        if (argc > 1 && strcmp(argv[1], "--stdin") == 0)
                return stamp_stdin();
        return stamp_uevents();
}
