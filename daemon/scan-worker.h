/* SPDX-License-Identifier: MIT */
/* The scan worker: `kyokad --scan-worker [OPTIONS] SYSPATH`, started by scan.c for one medium
 * that must pass a virus scan before it is usable (docs/ARCHITECTURE.md "Scan before use").
 *
 * It asks clamd (its unix socket) for its version and the date of its signatures, then, in a
 * mount namespace of its own, mounts every file system of the block devices below SYSPATH (a
 * USB device's or a disk's sysfs directory) read-only, nosuid, nodev, noexec, drops every
 * capability but reading files, and hands each regular file to clamd as an open descriptor
 * (FILDES in one IDSESSION: clamd, which runs as its own user outside the namespace, reads the
 * file through the descriptor and needs no access to the mount). It stops at the first file
 * clamd finds something in, or at a bound. It tells kyokad what it does on stdout
 * (scan-protocol.h); the mounts end with its namespace when it exits.
 *
 *   --socket PATH             clamd's LocalSocket
 *   --max-seconds N           the whole scan
 *   --max-bytes N             the sum of the files' sizes
 *   --max-database-age N      seconds; 0: not checked
 *   --workdir DIR             an existing directory, covered in the namespace by a tmpfs on
 *                             which the file systems are mounted (kyokad's runtime directory)
 *   --directory               SYSPATH is a directory to scan as it is, nothing mounted (tests)
 *
 * Exit status 0 when a result line was written, 1 otherwise. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SCAN_WORKER_ARG "--scan-worker"

int scan_worker_main(int argc, char **argv);
