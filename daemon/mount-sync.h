/* SPDX-License-Identifier: MIT */
/* Writing back the file systems of a device before it is re-attached. A USB device whose access
 * narrows (read-write to read-only or held) is de-authorised and authorised again (usb-io.c), and
 * its mounts end with it: what a process wrote and closed but the kernel had not written back yet
 * would be lost, as a file written to a stick whose scan of written files failed was in
 * tests/vm/test-kyokad-scan.py. syncfs() on each file system mounted from a block device below
 * the device first.
 *
 * Blocking (as long as the device takes to write): for usb-io's worker threads, never the loop.
 * No logging. */
#pragma once

/* Every file system mounted (in this mount namespace) from a block device whose sysfs directory
 * lies below SYSPATH: synced. Returns how many, or a negative errno if the mount table cannot be
 * read. A mount that cannot be opened, or is no longer what the table said, is skipped. */
int mounts_sync_below(const char *syspath);
