/* SPDX-License-Identifier: MIT */
/* The carry-out worker (`kyokad --carry-worker`, run by kyoka-carry.service as KYOKA_CARRY_USER
 * with CAP_SYS_ADMIN for fanotify and CAP_DAC_READ_SEARCH to reach mount points below
 * /media/USER): carry.c's fanotify watch, apart from kyokad, whose sandbox has no fanotify.
 * It connects to kyokad's RUNTIME_DIR/carry, learns from kyokad which USB devices kyokad gave
 * access to (each under a token), finds their mounts itself (its own /proc/self/mountinfo) and
 * sends every record back (carry-protocol.h). It writes nothing, and records nothing itself:
 * kyokad is the ledger's only writer. It exits when kyokad closes the connection (systemd starts
 * it again, and it reconnects). */
#pragma once

#define CARRY_WORKER_ARG "--carry-worker"

/* ARGV[0] is CARRY_WORKER_ARG; then optionally "--runtime-dir DIR". The process's exit status. */
int carry_worker_main(int argc, char **argv);
