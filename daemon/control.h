/* SPDX-License-Identifier: MIT */
/* The control socket RUNTIME_DIR/control (docs/control.md): AF_UNIX SOCK_SEQPACKET, one JSON
 * object per message, for `policyctl status|list|request|watch|install`. Readers are group
 * `kyoka`, admins root or group `kyoka-admin`, checked from the peer's credentials; these names,
 * the commands and the bounds of a message are the contract with policyctl (kyoka-names.h). Nothing a
 * client sends changes a decision: the most it can do is make kyokad read the signed policy
 * again. How many may connect, and for how long, is control-message.h's (CONTROL_CLIENTS_*). */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "kyoka-names.h"
#include "manager.h"

struct control;

/* Creates RUNTIME_DIR (0755) if missing, replaces a stale socket, listens, and becomes the
 * listener of every record (recorder.h) for the watchers. */
int control_new(struct manager *m, sd_event *event, const char *runtime_dir, struct control **ret);
struct control *control_free(struct control *c);

/* The idle timeout of clients created later (kyokad's hidden --control-idle-timeout, for tests;
 * default CONTROL_IDLE_TIMEOUT_USEC). -ERANGE outside 1 s .. CONTROL_IDLE_TIMEOUT_MAX_USEC. */
int control_set_idle_timeout(uint64_t usec);
