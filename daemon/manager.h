/* SPDX-License-Identifier: MIT */
/* The manager owns kyokad's state and its sd-event loop: the policy in force, the USB devices
 * it has decided, and the timer for the next time-window boundary. It wires the watchers'
 * events to decisions (policy_match_*) and decisions to enforcement (usb-enforce). */
#pragma once

struct manager_config {
        const char *config_dir;       /* policy.conf, policy.conf.sig, keys.d/ */
        const char *state_dir;        /* anti-rollback state, later the ledger */
        const char *runtime_dir;      /* control socket */
        const char *udev_events;      /* "kernel" (default) or "udev" (umockdev tests) */
};

struct manager;

int manager_new(const struct manager_config *cfg, struct manager **ret);
/* Closes every controller, loads the policy, starts watching, decides present devices. */
int manager_start(struct manager *m);
int manager_run(struct manager *m);
struct manager *manager_free(struct manager *m);
