/* SPDX-License-Identifier: MIT */
/* One virus scan of one medium, off the event loop: kyokad starts itself as the scan worker
 * (`kyokad --scan-worker`, scan-worker.h) and reads what it says on a pipe (scan-protocol.h) as
 * an io source; a timer bounds it. The owner (usb-devices.c, media.c) gets one outcome through
 * its callback and decides what follows; nothing here records or enforces. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "scan-protocol.h"

#define SCAN_GRACE_SECONDS 10         /* beyond max_seconds before kyokad kills the worker itself */

struct scan_params {
        const char *syspath;          /* the USB device's or the disk's sysfs directory */
        const char *clamd_socket;
        const char *workdir;          /* kyokad's runtime directory (covered by a tmpfs in the worker) */
        uint64_t max_seconds;
        uint64_t max_bytes;
        uint64_t max_database_age;    /* seconds, 0: not checked */
};

struct scan_outcome {
        enum scan_result result;
        enum scan_fault fault;        /* NONE unless FAULT */
        int error;                    /* positive errno or 0 */
        uint64_t files, bytes, duration_ms;
        char scanner[SCAN_TEXT_MAX];
        char signature[SCAN_SIGNATURE_MAX];
        char path[SCAN_PATH_MAX];
};

struct scan_job;
/* Called once, on the loop; JOB may be freed in it (and must not be used after it returns). */
typedef void (*scan_done_t)(struct scan_job *job, const struct scan_outcome *o, void *userdata);

/* Starts the worker. EXE_FD: an O_PATH fd of kyokad's own binary (/proc/self/exe opened at
 * start), or -1 to use WORKER_PATH (tests). 0 or a negative errno (nothing started). */
int scan_job_start(sd_event *e, int exe_fd, const char *worker_path, const struct scan_params *p, scan_done_t done,
                   void *userdata, struct scan_job **ret);
void scan_job_progress(const struct scan_job *j, uint64_t *ret_files, uint64_t *ret_bytes);
/* Kills a worker still running (no callback). NULL-safe. */
struct scan_job *scan_job_free(struct scan_job *j);
