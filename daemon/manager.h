/* SPDX-License-Identifier: MIT */
/* The manager owns kyokad's state and its sd-event loop: the policy in force, the recorder, the
 * USB devices (usb-devices.h) and network links (net-links.h) it has decided, the clock watch and
 * the timer for the next time-window boundary; it wires them together. Media on other buses
 * are media.h's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "media.h"
#include "net-links.h"
#include "usb-devices.h"
#include "policy-match.h"

struct manager_config {
        const char *config_dir;       /* policy.conf, policy.conf.sig, keys.d/ */
        const char *state_dir;        /* anti-rollback state, the ledger (ledger.db) */
        const char *runtime_dir;      /* control socket */
        const char *udev_events;      /* "kernel" (default) or "udev" (umockdev tests) */
        bool no_network;              /* --network off: links neither kept down nor firewalled */
        const char *clamd_socket;     /* the virus scanner (scan.h); NULL: KYOKA_CLAMD_SOCKET */
        enum carry_mode {
                CARRY_MODE_ON,        /* --carry-out on: fanotify in kyokad itself (carry.c) */
                CARRY_MODE_OFF,       /* off: files written to approved media are not recorded */
                CARRY_MODE_WORKER,    /* worker: kyoka-carry.service's worker records (carry-link.c);
                                       * read-write media are read-only while it is not connected */
        } carry_mode;
};

struct manager;

int manager_new(const struct manager_config *cfg, struct manager **ret);
/* Closes every controller, loads the policy, starts watching, decides present devices. */
int manager_start(struct manager *m);
int manager_run(struct manager *m);
/* Lets the sysfs workers deliver what they finished, then records "stopped" (ERROR: why
 * kyokad stops, 0 normally), commits and closes the ledger. Before manager_free(). */
void manager_stop(struct manager *m, int error);
struct manager *manager_free(struct manager *m);
/* Loads the policy again and re-evaluates every present device (what SIGHUP does). Returns 0,
 * or the negative errno of the refusal: the policy in force stays. manager_get_policy_info()
 * says what the load said. */
int manager_reload(struct manager *m);

/* ---- What the control socket (control.c) reads; pointers are valid until the loop runs on. */
struct manager_policy_info {
        const struct policy *policy;  /* NULL: the built-in lockdown */
        const char *signer_name;      /* the trusted key's file name */
        const char *signer_fingerprint;
        int64_t loaded_at;
        bool fallback;                /* in force from the accepted copy: CONFIG_DIR's was refused */
        bool load_ok;                 /* the last load accepted CONFIG_DIR's policy */
        const char *load_message;     /* what the last load said (acceptance or refusal) */
};
void manager_get_policy_info(const struct manager *m, struct manager_policy_info *ret);

/* Visits every USB device kyokad tracks (usb_devices_foreach). */
void manager_foreach_device(const struct manager *m, usb_device_visitor_t visit, void *userdata);
/* Visits every disk kyokad knows on other buses than USB, fixed ones included (media_foreach). */
void manager_foreach_medium(const struct manager *m, media_visitor_t visit, void *userdata);
/* Visits every network link kyokad tracks (net_foreach_link). Returns false, visiting nothing,
 * when kyokad does not watch links (--network off). */
bool manager_foreach_link(const struct manager *m, net_link_visitor_t visit, void *userdata);
/* The kernel's scan results on wireless link IFINDEX for one SSID (net_wireless_scan); -ENODEV
 * with --network off. */
int manager_wireless_scan(const struct manager *m, int ifindex, const uint8_t *ssid, size_t len,
                          struct wireless_request *ret);
void manager_get_host(const struct manager *m, const char **ret_hostname, const char **ret_machine_id);
/* The recorder: the control socket listens to it and shows its faults and ledger. */
struct recorder *manager_get_recorder(const struct manager *m);
/* Whether kyokad enforces network links (false with --network off); if so, *RET_PROBLEM is why
 * its nftables tables are not (all) in force, or NULL when they are. */
bool manager_get_firewall(const struct manager *m, const char **ret_problem);
