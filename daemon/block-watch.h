/* SPDX-License-Identifier: MIT */
/* Block devices as they come and go (kernel uevents, subsystem `block`): kyokad's own second
 * line for read-only USB media, behind the udev rule (docs/ARCHITECTURE.md "Read-only media"),
 * and the disks of media on other buses (media.c). The handler gets every action ("add",
 * "change", "remove", ...); it only looks the device up and queues work; no I/O on the loop.
 * OVERRUN (may be NULL) is called when uevents were lost. */
#pragma once

#include <libudev.h>
#include <systemd/sd-event.h>

typedef void (*block_watch_handler_t)(struct udev_device *dev, const char *action, void *userdata);
typedef void (*block_watch_overrun_t)(void *userdata);

struct block_watch;

/* SOURCE: "kernel" or "udev", as for usb_watch_new(). */
int block_watch_new(sd_event *e, struct udev *udev, const char *source, block_watch_handler_t handler,
                    block_watch_overrun_t overrun, void *userdata, struct block_watch **ret);
/* Calls the handler with "add" for every block device present now (disks before their
 * partitions, as sysfs lists them). */
int block_watch_enumerate(struct block_watch *w);
struct block_watch *block_watch_free(struct block_watch *w);
