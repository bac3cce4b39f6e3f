/* SPDX-License-Identifier: MIT */
#include "block-watch.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"

#define MONITOR_BUFFER_SIZE (4 * 1024 * 1024)

struct block_watch {
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *source;
        block_watch_handler_t handler;
        block_watch_overrun_t overrun;
        void *userdata;
};

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct block_watch *w = userdata;

        for (;;) {
                errno = 0;
                struct udev_device *dev = udev_monitor_receive_device(w->monitor);
                if (!dev) {
                        /* Lost events: the udev rules still decide every node; the owner
                         * takes stock again. */
                        if (errno == ENOBUFS) {
                                log_warning("block uevent socket overrun");
                                if (w->overrun)
                                        w->overrun(w->userdata);
                                continue;
                        }
                        break;
                }
                const char *action = udev_device_get_action(dev);
                if (action)
                        w->handler(dev, action, w->userdata);
                udev_device_unref(dev);
        }
        return 0;
}

int block_watch_new(sd_event *e, struct udev *udev, const char *source, block_watch_handler_t handler,
                    block_watch_overrun_t overrun, void *userdata, struct block_watch **ret) {
        _cleanup_free_ struct block_watch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->udev = udev;
        w->handler = handler;
        w->overrun = overrun;
        w->userdata = userdata;
        w->monitor = udev_monitor_new_from_netlink(udev, source);
        if (!w->monitor)
                return -ENOMEM;
        r = udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "block", NULL);
        if (r >= 0)
                r = udev_monitor_set_receive_buffer_size(w->monitor, MONITOR_BUFFER_SIZE);
        if (r >= 0)
                r = udev_monitor_enable_receiving(w->monitor);
        if (r >= 0)
                r = sd_event_add_io(e, &w->source, udev_monitor_get_fd(w->monitor), EPOLLIN, on_monitor, w);
        if (r < 0) {
                udev_monitor_unref(w->monitor);
                return r;
        }
        *ret = TAKE_PTR(w);
        return 0;
}

int block_watch_enumerate(struct block_watch *w) {
        struct udev_enumerate *en = udev_enumerate_new(w->udev);
        int r;

        if (!en)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(en, "block");
        if (r >= 0)
                r = udev_enumerate_scan_devices(en);
        if (r < 0) {
                udev_enumerate_unref(en);
                return r;
        }
        struct udev_list_entry *e;
        udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
                struct udev_device *dev = udev_device_new_from_syspath(w->udev, udev_list_entry_get_name(e));
                if (!dev)
                        continue;
                w->handler(dev, "add", w->userdata);
                udev_device_unref(dev);
        }
        udev_enumerate_unref(en);
        return 0;
}

struct block_watch *block_watch_free(struct block_watch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        udev_monitor_unref(w->monitor);
        return mfree(w);
}
