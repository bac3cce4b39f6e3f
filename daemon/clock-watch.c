/* SPDX-License-Identifier: MIT */
#include "clock-watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

#define TIME_T_MAX ((time_t) ((UINT64_C(1) << (sizeof(time_t) * 8 - 1)) - 1))

struct clock_watch {
        sd_event_source *source;
        int64_t offset_nsec;          /* CLOCK_REALTIME - CLOCK_MONOTONIC when last armed */
        clock_watch_handler_t handler;
        void *userdata;
};

static int64_t clock_nsec(clockid_t id) {
        struct timespec ts;
        (void) clock_gettime(id, &ts);
        return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int arm(struct clock_watch *w, int fd) {
        /* Never expires; only a set of the realtime clock cancels it (read() -> ECANCELED). */
        struct itimerspec its = { .it_value.tv_sec = TIME_T_MAX };

        if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
                return negative_errno();
        w->offset_nsec = clock_nsec(CLOCK_REALTIME) - clock_nsec(CLOCK_MONOTONIC);
        return 0;
}

static int on_clock(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct clock_watch *w = userdata;
        int64_t before = w->offset_nsec;
        uint64_t expirations;

        if (read(fd, &expirations, sizeof expirations) >= 0 || errno != ECANCELED)
                return 0;
        /* Armed again before the handler runs: a second set while it runs is not missed. If
         * arming fails the jump is still reported, and the source goes off. */
        if (arm(w, fd) < 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        w->handler(w->offset_nsec - before, w->userdata);
        return 0;
}

int clock_watch_new(sd_event *e, clock_watch_handler_t handler, void *userdata, struct clock_watch **ret) {
        struct clock_watch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->handler = handler;
        w->userdata = userdata;
        _cleanup_close_ int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
        r = fd < 0 ? negative_errno() : arm(w, fd);
        if (r >= 0)
                r = sd_event_add_io(e, &w->source, fd, EPOLLIN, on_clock, w);
        if (r >= 0)
                r = sd_event_source_set_io_fd_own(w->source, true);
        if (r < 0) {
                clock_watch_free(w);
                return r;
        }
        TAKE_FD(fd);
        (void) sd_event_source_set_description(w->source, "clock-watch");
        *ret = w;
        return 0;
}

struct clock_watch *clock_watch_free(struct clock_watch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        return mfree(w);
}
