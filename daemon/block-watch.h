/* SPDX-License-Identifier: MIT */
/* Block devices as they appear (kernel uevents, subsystem `block`, action "add"): kyokad's own
 * second line for read-only media, behind the udev rule (docs/ARCHITECTURE.md "Read-only
 * media"). The handler only looks the device up and queues work; no I/O on the loop. */
#pragma once

#include <libudev.h>
#include <systemd/sd-event.h>

typedef void (*block_watch_handler_t)(struct udev_device *dev, void *userdata);

struct block_watch;

/* SOURCE: "kernel" or "udev", as for usb_watch_new(). */
int block_watch_new(sd_event *e, struct udev *udev, const char *source, block_watch_handler_t handler,
                    void *userdata, struct block_watch **ret);
struct block_watch *block_watch_free(struct block_watch *w);
