/* SPDX-License-Identifier: MIT */
/* Where a USB uevent enters kyokad: a libudev monitor on the sd-event loop for usb_device
 * events, and the enumeration of devices already present at start. The monitor is listening
 * before the enumeration runs, so a device plugged in between is seen at least once. */
#pragma once

#include <libudev.h>
#include <systemd/sd-event.h>

enum usb_event {
        USB_EVENT_PRESENT,            /* found by enumeration (start, reload, after lost events) */
        USB_EVENT_ADD,                /* the kernel announced it (unauthorised): decide now */
        USB_EVENT_BIND,               /* its generic driver bound: authorise now, decide if not known yet */
        USB_EVENT_REMOVE,
};

typedef void (*usb_watch_handler_t)(struct udev_device *dev, enum usb_event ev, void *userdata);
/* Called when the kernel dropped events (socket overrun): the owner must re-enumerate. */
typedef void (*usb_watch_overrun_t)(void *userdata);

struct usb_watch;

/* SOURCE is "kernel" (uevents straight from the kernel: no dependency on udevd, no delay) or
 * "udev" (after udev rules ran; what umockdev synthesises in tests). */
int usb_watch_new(sd_event *e, struct udev *udev, const char *source, usb_watch_handler_t handler,
                  usb_watch_overrun_t overrun, void *userdata, struct usb_watch **ret);
/* Calls the handler with USB_EVENT_PRESENT for every usb_device present now: all root hubs
 * (controllers) first, then the other devices, parents before children. */
int usb_watch_enumerate(struct usb_watch *w);
struct usb_watch *usb_watch_free(struct usb_watch *w);
