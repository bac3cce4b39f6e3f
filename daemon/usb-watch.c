/* SPDX-License-Identifier: MIT */
#include "usb-watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "trace.h"

/* Large enough that a plug storm does not overrun the socket; an overrun is still handled
 * (by re-enumeration), so nothing is decided on stale state. */
#define MONITOR_BUFFER_SIZE (8 * 1024 * 1024)

struct usb_watch {
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *source;
        usb_watch_handler_t handler;
        usb_watch_overrun_t overrun;
        void *userdata;
        /* The kernel's "add": the device's descriptors and strings are there (unauthorised: no
         * interfaces yet); kyokad reads and decides at once and authorises after the "bind"
         * (usb-devices.c). udev's events (umockdev tests) come from a testbed whose "add" is
         * sent before the device's interface directories are made: there "bind" decides. */
        bool decide_on_add;
};

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct usb_watch *w = userdata;

        /* Drain everything queued: one wake-up per burst, not per event. */
        for (;;) {
                errno = 0;
                struct udev_device *dev = udev_monitor_receive_device(w->monitor);
                if (!dev) {
                        if (errno == ENOBUFS) {
                                log_warning("uevent socket overrun: re-enumerating USB devices");
                                w->overrun(w->userdata);
                                continue;
                        }
                        break;
                }
                const char *action = udev_device_get_action(dev);
                enum usb_event ev;
                if (trace_enabled && action && (streq(action, "add") || streq(action, "bind")))
                        trace_point(udev_device_get_sysname(dev), streq(action, "add") ? "uevent-add" : "uevent-bind");
                if (streq_ptr(action, "add") && w->decide_on_add)
                        ev = USB_EVENT_ADD;
                else if (streq_ptr(action, "bind"))
                        ev = USB_EVENT_BIND;
                else if (streq_ptr(action, "remove"))
                        ev = USB_EVENT_REMOVE;
                else {
                        /* "change" and "unbind" carry nothing new for a decision; udev's "add"
                         * is followed by its "bind". */
                        udev_device_unref(dev);
                        continue;
                }
                w->handler(dev, ev, w->userdata);
                udev_device_unref(dev);
        }
        return 0;
}

int usb_watch_new(sd_event *e, struct udev *udev, const char *source, usb_watch_handler_t handler,
                  usb_watch_overrun_t overrun, void *userdata, struct usb_watch **ret) {
        _cleanup_free_ struct usb_watch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->udev = udev;
        w->handler = handler;
        w->overrun = overrun;
        w->userdata = userdata;
        w->decide_on_add = streq(source, "kernel");

        w->monitor = udev_monitor_new_from_netlink(udev, source);
        if (!w->monitor)
                return -ENOMEM;
        r = udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "usb", "usb_device");
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

int usb_watch_enumerate(struct usb_watch *w) {
        struct udev_enumerate *en = udev_enumerate_new(w->udev);
        struct udev_list_entry *item;
        int r;

        if (!en)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(en, "usb");
        if (r >= 0)
                r = udev_enumerate_add_match_property(en, "DEVTYPE", "usb_device");
        if (r >= 0)
                r = udev_enumerate_scan_devices(en);
        if (r < 0) {
                udev_enumerate_unref(en);
                return r;
        }
        /* libudev sorts by syspath, so a hub comes before the devices behind it; but usb2 comes
         * after every device of usb1. Root hubs (controllers) get a pass of their own, first, so
         * that every controller is closed before any device is decided. */
        for (int pass = 0; pass < 2; pass++)
                udev_list_entry_foreach(item, udev_enumerate_get_list_entry(en)) {
                        const char *syspath = udev_list_entry_get_name(item);
                        const char *slash = strrchr(syspath, '/');
                        bool root_hub = slash && strncmp(slash + 1, "usb", 3) == 0;
                        if (root_hub != (pass == 0))
                                continue;
                        struct udev_device *dev = udev_device_new_from_syspath(w->udev, syspath);
                        if (!dev)
                                continue;
                        w->handler(dev, USB_EVENT_PRESENT, w->userdata);
                        udev_device_unref(dev);
                }
        udev_enumerate_unref(en);
        return 0;
}

struct usb_watch *usb_watch_free(struct usb_watch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        udev_monitor_unref(w->monitor);
        return mfree(w);
}
