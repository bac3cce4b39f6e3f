/* SPDX-License-Identifier: MIT */
/* Tells when the system clock (CLOCK_REALTIME) is set, and by how much: a timerfd armed with
 * TFD_TIMER_CANCEL_ON_SET, which never expires and is cancelled by every set of the clock. An
 * io source on the loop, no polling. The manager owns it: a clock set back can make a permit
 * not yet valid again, one set forward can end one, so every decision is made again. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

struct clock_watch;

/* Called on the loop after the clock was set; JUMP_NSEC is how far it moved (positive:
 * forward), measured against CLOCK_MONOTONIC. */
typedef void (*clock_watch_handler_t)(int64_t jump_nsec, void *userdata);

/* -EINVAL where the kernel refuses TFD_TIMER_CANCEL_ON_SET (libfaketime's clock). */
int clock_watch_new(sd_event *e, clock_watch_handler_t handler, void *userdata, struct clock_watch **ret);
struct clock_watch *clock_watch_free(struct clock_watch *w);
