/* SPDX-License-Identifier: MIT */
/* Timestamps of a USB decision's stages, for tests/vm/bench-usb.py (bench/USB.md, "Where the
 * time goes"). Off unless kyokad starts with KYOKAD_TRACE=1 in its environment; then each stage
 * is one line on stderr, written with a single write(2) from whichever thread reaches it:
 *
 *   kyokad-trace <CLOCK_MONOTONIC ns> <name> <stage>
 *
 * The clock is the one the bench's uevent stamper uses, so a stage is set against the kernel's
 * uevent directly. Never a timed assertion anywhere: numbers only. */
#pragma once

#include <stdbool.h>

#define KYOKAD_TRACE_ENV "KYOKAD_TRACE"

extern bool trace_enabled;

void trace_setup(void);                /* reads KYOKAD_TRACE once, at start */
void trace_point_internal(const char *name, const char *stage);

static inline void trace_point(const char *name, const char *stage) {
        if (trace_enabled)
                trace_point_internal(name, stage);
}
